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
 * Parsing rejects duplicate object members, trailing garbage and inputs larger than maxlen,
 * and allows NUL only inside strings when allow_nul is set (never by default).
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

/* Parse text[0..len) (need not be NUL-terminated). *out is a new reference. */
int json_parse(const char *text, size_t len, size_t maxlen, json_t **out, struct json_err *err);

/* Path lookups; *out is a borrowed reference / pointer into the JSON value. */
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
/* Optional variants: missing member -> KBS_OK with *out = def; wrong type -> error. */
int json_opt_string(json_t *root, const char *path, const char *def, const char **out,
		    struct json_err *err);
int json_opt_int(json_t *root, const char *path, int64_t min, int64_t max, int64_t def,
		 int64_t *out, struct json_err *err);
int json_opt_bool(json_t *root, const char *path, bool def, bool *out, struct json_err *err);

/* Compact serialisation preserving insertion order (malloc'ed, NUL-terminated). */
char *json_dump_compact(const json_t *v, size_t *len);

/* Type name for messages ("object", "string", ...). */
const char *json_type_name(const json_t *v);

#endif
