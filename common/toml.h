/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_COMMON_TOML_H
#define KBS_COMMON_TOML_H

#include <jansson.h>
#include <stddef.h>

/*
 * TOML 1.0 parser producing a jansson object.
 *
 * Mapping: tables -> objects, arrays -> arrays, strings -> strings, integers -> integers,
 * floats -> reals (inf/nan as reals), booleans -> booleans. Date-times cannot be represented
 * in JSON; they become objects {"$datetime": "<RFC 3339 text as written, normalised>",
 * "$type": "offset-datetime" | "local-datetime" | "local-date" | "local-time"}.
 *
 * Line/column positions of every key are kept so callers can report type errors at the
 * right place: toml_key_position() looks one up by dotted path ("http_server.sockets").
 */
struct toml_err {
	char msg[256];
	int line;   /* 1-based */
	int column; /* 1-based */
};

struct toml_doc;

/* Parses text[0..len). On success *doc owns the result; on failure err is filled. */
int toml_parse(const char *text, size_t len, struct toml_doc **doc, struct toml_err *err);
int toml_parse_file(const char *path, struct toml_doc **doc, struct toml_err *err);
/* Root table (borrowed; lives as long as doc). */
json_t *toml_doc_root(const struct toml_doc *doc);
/* Line/column of the key at a dotted path ("a.b.c"); returns 0 and sets them if known. */
int toml_key_position(const struct toml_doc *doc, const char *path, int *line, int *column);
void toml_doc_free(struct toml_doc *doc);

#endif
