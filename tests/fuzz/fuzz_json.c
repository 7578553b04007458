// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes strict JSON parsing and the member-path getters. Whatever parses must dump compactly,
 * parse back, and dump to the same bytes; getters must never crash on any document or path.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"

static const char *const paths[] = {
    "",
    "a",
    "a.b",
    "a.b[0]",
    "[0]",
    "[0][1].x",
    "tee-pubkey.kty",
    "runtime-data.nonce",
    "a.b[2].c",
    "x[4294967296]",
    "..",
    "a[",
    "[]",
};

static void exercise_getters(json_t *root, const char *path)
{
	struct json_err e;
	json_t *v;
	const char *s;
	size_t n;
	int64_t x;
	bool b;

	memset(&e, 0, sizeof(e));
	(void)json_get(root, path, &v, &e);
	(void)json_get_object(root, path, &v, &e);
	(void)json_get_array(root, path, &v, &e);
	(void)json_get_string(root, path, &s, &e);
	(void)json_get_stringn(root, path, &s, &n, &e);
	(void)json_get_int(root, path, -5, 1000, &x, &e);
	(void)json_get_bool(root, path, &b, &e);
	(void)json_opt_string(root, path, "d", &s, &e);
	(void)json_opt_int(root, path, INT64_MIN, INT64_MAX, 0, &x, &e);
	(void)json_opt_bool(root, path, false, &b, &e);
	(void)json_has(root, path);
	if (memchr(e.msg, 0, sizeof(e.msg)) == NULL)
		abort(); /* messages are always terminated */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* First byte selects the flags, the rest is the document. */
	unsigned flags = size && (data[0] & 1) ? JSON_P_ALLOW_NUL : 0;
	const char *text = size ? (const char *)data + 1 : "";
	size_t len = size ? size - 1 : 0;
	struct json_err e;
	json_t *root = NULL, *again = NULL;
	char *d1 = NULL, *d2 = NULL;
	size_t l1, l2;

	memset(&e, 0, sizeof(e));
	if (json_parse_flags(text, len, 1 << 16, flags, &root, &e) != KBS_OK) {
		if (root || !memchr(e.msg, 0, sizeof(e.msg)))
			abort();
		return 0;
	}
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		exercise_getters(root, paths[i]);
	/* also use a short prefix of the input as a path */
	if (len) {
		char p[32];
		size_t pl = len < sizeof(p) - 1 ? len : sizeof(p) - 1;

		memcpy(p, text, pl);
		p[pl] = 0;
		exercise_getters(root, p);
	}
	d1 = json_dump_compact(root, &l1);
	if (!d1)
		abort();
	if (json_parse_flags(d1, l1, 0, flags, &again, &e) != KBS_OK)
		abort();
	d2 = json_dump_compact(again, &l2);
	if (!d2 || l1 != l2 || memcmp(d1, d2, l1) != 0)
		abort();
	free(d1);
	free(d2);
	json_decref(again);
	json_decref(root);
	return 0;
}
