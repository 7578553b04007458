/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_COMMON_JSON_H
#define KBS_COMMON_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Strict JSON helpers on jansson.
 *
 * Parsing rejects duplicate object members, trailing garbage (anything but whitespace after
 * the value), invalid UTF-8, lone surrogates, nesting deeper than 2048, integers outside int64
 * and inputs larger than maxlen. NUL ("\u0000") is refused in strings unless JSON_P_ALLOW_NUL
 * is passed to json_parse_flags (never by default). Any JSON value is accepted at top level.
 * Objects keep their members in input order (jansson >= 2.8 always preserves insertion order).
 *
 * Typed getters take a member path ("runtime_data.tee-pubkey.kty"; dots separate members,
 * "[3]" indexes arrays) and fail with KBS_ERR_INVAL when the member is missing or has the
 * wrong type. On failure, err (if non-NULL) receives a message naming the path, e.g.
 * "member 'tee-pubkey.x': expected string, got number".
 */
struct json_err {
	char msg[256];
	int line;   /* 1-based, 0 if not applicable */
	int column; /* 1-based, 0 if not applicable */
};

/* Limit applied when maxlen is 0. */
#define JSON_MAXLEN_DEFAULT ((size_t)16 << 20)

/* json_parse_flags() flags. */
#define JSON_P_ALLOW_NUL 0x1u /* accept "\u0000" inside strings (use json_get_stringn) */

/*
 * Parse text[0..len) (need not be NUL-terminated); maxlen 0 means JSON_MAXLEN_DEFAULT.
 * *out is a new reference. Returns KBS_ERR_RANGE if len > maxlen, KBS_ERR_PARSE on any syntax
 * or strictness violation (err gets jansson's message with line/column), KBS_ERR_INVAL on
 * NULL arguments, KBS_ERR_NOMEM (jansson reports some allocation failures inside its lexer as
 * syntax errors, so those come back as KBS_ERR_PARSE).
 */
int json_parse(const char *text, size_t len, size_t maxlen, json_t **out, struct json_err *err);
int json_parse_flags(const char *text, size_t len, size_t maxlen, unsigned flags, json_t **out,
		     struct json_err *err);

/*
 * The fast path json_parse_flags() tries first: a strict parser for well-formed ASCII JSON
 * with integers (no fractions/exponents), simple and BMP \u escapes, depth <= 64. Builds the
 * tree jansson would; KBS_ERR_UNSUPPORTED (nothing allocated) for anything else, including
 * every invalid input, so callers then run jansson for its verdict and message.
 */
int json_parse_fast(const char *text, size_t len, json_t **out);

/*
 * Path lookups; *out is a borrowed reference / pointer into the JSON value.
 * Path grammar: "" is root itself; segments "name" separated by '.', each optionally followed
 * by "[N]" indexes; a path may start with "[N]" for a root array. Member names cannot contain
 * '.' or '[' (look such members up with json_object_get). A malformed path is KBS_ERR_INVAL.
 */
int json_get(json_t *root, const char *path, json_t **out, struct json_err *err);
int json_get_object(json_t *root, const char *path, json_t **out, struct json_err *err);
int json_get_array(json_t *root, const char *path, json_t **out, struct json_err *err);
int json_get_string(json_t *root, const char *path, const char **out, struct json_err *err);
/* String with its length (may contain NUL if parsed with allow_nul). */
int json_get_stringn(json_t *root, const char *path, const char **out, size_t *len,
		     struct json_err *err);
/* Integer (rejects reals and out-of-range values). */
int json_get_int(json_t *root, const char *path, int64_t min, int64_t max, int64_t *out,
		 struct json_err *err);
int json_get_bool(json_t *root, const char *path, bool *out, struct json_err *err);
/*
 * Optional variants: member missing or null, or a parent missing or null (as serde's Option
 * treats null) -> KBS_OK with *out = def; present with the wrong type -> KBS_ERR_INVAL.
 */
int json_opt_string(json_t *root, const char *path, const char *def, const char **out,
		    struct json_err *err);
int json_opt_int(json_t *root, const char *path, int64_t min, int64_t max, int64_t def,
		 int64_t *out, struct json_err *err);
int json_opt_bool(json_t *root, const char *path, bool def, bool *out, struct json_err *err);

/* True if the path resolves to a value (of any type, including null). */
bool json_has(json_t *root, const char *path);

/*
 * Compact serialisation (no whitespace) preserving insertion order; malloc'ed, NUL-terminated,
 * length in *len if non-NULL. Reals use jansson's 17-significant-digit round-trip form
 * ("0.10000000000000001", "1.0") so they stay reals when parsed back; use jcs_serialize for
 * canonical bytes. Any value may be dumped (not only objects). NULL on error.
 */
char *json_dump_compact(const json_t *v, size_t *len);

/* Type name for messages: "object", "array", "string", "number" (integer or real),
 * "boolean", "null"; "nothing" for NULL. */
const char *json_type_name(const json_t *v);

#endif
