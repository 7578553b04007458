// SPDX-License-Identifier: Apache-2.0
/*
 * Differential fuzzing of json_parse_fast() against jansson: whatever the fast path accepts,
 * jansson (json_loadb with the flags json_parse uses) must accept too, with the same tree -
 * same values, same member order (compact dumps compared byte for byte) - and json_parse must
 * return that tree. Whatever the fast path refuses must leave *out NULL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	json_error_t je;
	json_t *fast = (json_t *)1, *ref, *viaparse = NULL;
	char *d1, *d2, *d3;
	int rc = json_parse_fast(text, size, &fast);

	ref = json_loadb(size ? text : "", size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (rc != KBS_OK) {
		if (rc != KBS_ERR_UNSUPPORTED || fast)
			abort();
		json_decref(ref);
		return 0;
	}
	if (!ref || !json_equal(fast, ref))
		abort();
	d1 = json_dumps(fast, JSON_COMPACT | JSON_ENCODE_ANY);
	d2 = json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!d1 || !d2 || strcmp(d1, d2) != 0)
		abort();
	if (json_parse(text, size, 1 << 20, &viaparse, NULL) != KBS_OK)
		abort();
	d3 = json_dumps(viaparse, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!d3 || strcmp(d1, d3) != 0)
		abort();
	free(d1);
	free(d2);
	free(d3);
	json_decref(viaparse);
	json_decref(ref);
	json_decref(fast);
	return 0;
}
