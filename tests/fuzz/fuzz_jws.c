// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes compact JWS/JWT parsing and verification: jws_peek_header, jws_verify against fixed
 * P-256 / Ed25519 keys, and jwt_verify with trusted keys and with the insecure header-jwk
 * switch. Invariant: a verified token's payload is returned NUL-terminated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/jose/jwk.h"
#include "common/jose/jws.h"
#include "common/secmem.h"

static const char *const algs[] = {"ES256", "ES384", "ES512", "RS256", "RS384",
				   "PS256", "EdDSA", "none", "HS256", NULL};
static struct jwk *keys[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	secmem_init(0, true);
	if (jwk_generate(JWK_EC_P256, &keys[0]) != KBS_OK ||
	    jwk_generate(JWK_OKP_ED25519, &keys[1]) != KBS_OK)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	json_t *h = NULL, *c = NULL;
	uint8_t *pl = NULL;
	size_t n = 0;
	struct jwt_verify_opts o = {.allowed_algs = algs, .keys = keys, .nkeys = 2,
				    .now = 1700000000, .leeway_s = 60};

	if (jws_peek_header(in, size, &h) == KBS_OK && !json_is_object(h))
		abort();
	json_decref(h);
	h = NULL;
	for (int i = 0; i < 2; i++) {
		if (jws_verify(in, size, keys[i], algs, &h, &pl, &n) == KBS_OK) {
			if (!pl || pl[n] != 0 || !h)
				abort();
		}
		json_decref(h);
		free(pl);
		h = NULL;
		pl = NULL;
	}
	if (jwt_verify(in, size, &o, &c, &h) == KBS_OK && !json_is_object(c))
		abort();
	json_decref(c);
	json_decref(h);
	c = h = NULL;
	o.insecure_header_jwk = true;
	o.nkeys = 0;
	if (jwt_verify(in, size, &o, &c, &h) == KBS_OK && !json_is_object(c))
		abort();
	json_decref(c);
	json_decref(h);
	return 0;
}
