/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_COMMON_TOML_H
#define KBS_COMMON_TOML_H

#include <jansson.h>
#include <stddef.h>

/*
 * TOML 1.0 parser producing a jansson object.
 *
 * Mapping: tables -> objects, arrays -> arrays, strings -> strings, integers -> integers,
 * finite floats -> reals, booleans -> booleans. Key order is kept (insertion order).
 * Two TOML types have no JSON counterpart and become tagged objects:
 *   - date-times: {"$datetime": "<RFC 3339 text as written, normalised>",
 *     "$type": "offset-datetime" | "local-datetime" | "local-date" | "local-time"};
 *     normalised means the date/time separator is 'T' and a zero offset "z" is 'Z'.
 *   - inf and nan (jansson cannot hold them as reals): {"$float": "inf" | "-inf" | "nan"}.
 * Newlines inside multi-line strings are returned as "\n" (CRLF is normalised).
 *
 * Limits (fail closed with KBS_ERR_RANGE): input larger than TOML_MAX_INPUT bytes, values
 * nested deeper than TOML_MAX_DEPTH (tables, arrays, inline tables and dotted keys all
 * count), more than TOML_MAX_NODES tables/arrays/values in one document.
 *
 * Line/column positions of every key are kept so callers can report type errors at the
 * right place: toml_key_position() looks one up by dotted path ("http_server.sockets").
 * Columns count Unicode characters, both 1-based.
 */
#define TOML_MAX_INPUT (4u << 20)
#define TOML_MAX_DEPTH 128
#define TOML_MAX_NODES (1u << 19)

struct toml_err {
	char msg[256];
	int line;   /* 1-based, 0 if not applicable (I/O error, limit on the input size) */
	int column; /* 1-based, 0 if not applicable */
};

struct toml_doc;

/*
 * Parses text[0..len) (need not be NUL-terminated). On success returns KBS_OK and *doc owns
 * the result; on failure returns KBS_ERR_PARSE (malformed document), KBS_ERR_RANGE (a limit
 * above) or KBS_ERR_NOMEM, and fills err (may be NULL) with a message and position.
 */
int toml_parse(const char *text, size_t len, struct toml_doc **doc, struct toml_err *err);
/* Reads and parses a file; KBS_ERR_IO if it cannot be read (message names the path). */
int toml_parse_file(const char *path, struct toml_doc **doc, struct toml_err *err);
/* Root table (borrowed; lives as long as doc). */
json_t *toml_doc_root(const struct toml_doc *doc);
/*
 * Line/column of the key at a path: keys separated by '.', a key containing '.' or '['
 * written in double quotes ("a.\"b.c\""), array elements as "[n]" ("credentials[1].url").
 * Returns KBS_OK and sets both if known; KBS_ERR_NOTFOUND otherwise. An array element's
 * position is that of its [[header]] or, in an inline array, of the value itself.
 */
int toml_key_position(const struct toml_doc *doc, const char *path, int *line, int *column);
/* Frees the document and drops its reference to the root; NULL is a no-op. */
void toml_doc_free(struct toml_doc *doc);

#endif
