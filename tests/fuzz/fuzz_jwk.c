// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes JWK import from JSON and from PEM. Invariant: an accepted key exports to JSON that
 * imports again to a key with the same RFC 7638 thumbprint, public and private alike.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/jose/jwk.h"
#include "common/secmem.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	secmem_init(0, true);
	return 0;
}

static void check_roundtrip(const struct jwk *k)
{
	uint8_t tp[32], tp2[32];
	char b64[64];
	struct jwk *back = NULL;
	json_t *j = NULL;
	char *pem = NULL;

	if (jwk_thumbprint(k, tp, b64, sizeof(b64)) != KBS_OK)
		abort();
	for (int priv = 0; priv <= (int)jwk_is_private(k); priv++) {
		if (jwk_to_json(k, priv, &j) != KBS_OK || jwk_from_json(j, &back) != KBS_OK)
			abort();
		if (jwk_thumbprint(back, tp2, NULL, 0) != KBS_OK || memcmp(tp, tp2, 32) != 0 ||
		    jwk_is_private(back) != (bool)priv)
			abort();
		jwk_free(back);
		json_decref(j);
	}
	if (jwk_to_pem(k, false, &pem) != KBS_OK)
		abort();
	free(pem);
	if (jwk_tee_pubkey_json(k, "ECDH-ES+A256KW", &j) == KBS_OK)
		json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jwk *k = NULL;

	if (jwk_from_json_text((const char *)data, size, &k) == KBS_OK) {
		check_roundtrip(k);
		jwk_free(k);
		k = NULL;
	}
	if (jwk_from_pem((const char *)data, size, &k) == KBS_OK) {
		check_roundtrip(k);
		jwk_free(k);
	}
	return 0;
}
