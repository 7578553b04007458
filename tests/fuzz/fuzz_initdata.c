// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes init-data decoding: TOML documents (accepted ones hash exactly their input bytes and
 * have the three members), kata annotations (base64 of gzip) and block images. The first
 * byte selects the decoder.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "attester/initdata.h"
#include "common/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct initdata *d = NULL;
	char why[128];

	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		if (initdata_parse((const char *)data + 1, size - 1, &d, why, sizeof(why)) == KBS_OK) {
			size_t n = 0, dl = 0;
			const char *t = initdata_text(d, &n);
			const uint8_t *dg = initdata_digest(d, &dl);

			if (n != size - 1 || memcmp(t, data + 1, n) != 0 || !initdata_data(d) ||
			    !initdata_version(d) || (dl != 32 && dl != 48 && dl != 64) || !dg)
				abort();
		}
		break;
	case 1:
		(void)initdata_from_annotation((const char *)data + 1, size - 1, &d, why, sizeof(why));
		break;
	default:
		(void)initdata_from_image(data + 1, size - 1, &d, why, sizeof(why));
	}
	initdata_free(d);
	return 0;
}
