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
	    !json_equal(root, toml_doc_root(again)))
		abort();
	toml_doc_free(again);
	toml_doc_free(doc);
	return 0;
}
