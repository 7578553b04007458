// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the TOML parser: any input either fails with a positioned error or yields an
 * object whose top-level keys all have a position; parsing is deterministic.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/toml.h"

/* json_equal() looks keys up as C strings; TOML keys may contain NUL. */
static int same(json_t *a, json_t *b)
{
	if (json_typeof(a) != json_typeof(b))
		return 0;
	if (json_is_object(a)) {
		if (json_object_size(a) != json_object_size(b))
			return 0;
		for (void *it = json_object_iter(a); it; it = json_object_iter_next(a, it)) {
			json_t *o = json_object_getn(b, json_object_iter_key(it),
						     json_object_iter_key_len(it));

			if (!o || !same(json_object_iter_value(it), o))
				return 0;
		}
		return 1;
	}
	if (json_is_array(a)) {
		if (json_array_size(a) != json_array_size(b))
			return 0;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!same(json_array_get(a, i), json_array_get(b, i)))
				return 0;
		return 1;
	}
	return json_equal(a, b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toml_doc *doc = NULL, *again = NULL;
	struct toml_err err;
	int rc = toml_parse((const char *)data, size, &doc, &err);

	if (rc != KBS_OK) {
		if (doc || err.msg[0] == '\0')
			abort();
		if (rc == KBS_ERR_PARSE && (err.line < 1 || err.column < 1))
			abort();
		return 0;
	}
	json_t *root = toml_doc_root(doc);
	if (!json_is_object(root))
		abort();
	for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it)) {
		const char *k = json_object_iter_key(it);
		size_t kl = json_object_iter_key_len(it);
		int line, col;

		/* keys the path syntax can spell as they are */
		if (kl == 0 || strlen(k) != kl || strpbrk(k, ".[\""))
			continue;
		if (toml_key_position(doc, k, &line, &col) != KBS_OK || line < 1 || col < 1)
			abort();
	}
	if (toml_parse((const char *)data, size, &again, &err) != KBS_OK ||
	    !same(root, toml_doc_root(again)))
		abort();
	toml_doc_free(again);
	toml_doc_free(doc);
	return 0;
}
