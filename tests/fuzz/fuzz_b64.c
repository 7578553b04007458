// SPDX-License-Identifier: Apache-2.0
/* Fuzzes strict base64/base64url/hex decoding: decode(encode(decode(x))) must be stable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int v = B64_STD; v <= B64_URL; v++) {
		uint8_t *out;
		size_t n;

		if (b64_decode_alloc((const char *)data, size, v, &out, &n) == KBS_OK) {
			char *enc;

			if (b64_encode_alloc(out, n, v, &enc) != KBS_OK)
				abort();
			/* strict decoding accepts only canonical input, so re-encoding matches */
			if (strlen(enc) != size || memcmp(enc, data, size) != 0)
				abort();
			free(enc);
			free(out);
		}
	}
	uint8_t hx[256];
	size_t n;
	if (size <= 512)
		(void)hex_decode((const char *)data, size, hx, sizeof(hx), &n);
	return 0;
}
