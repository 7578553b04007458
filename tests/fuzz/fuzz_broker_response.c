// SPDX-License-Identifier: Apache-2.0
/*
 * Everything the broker parses from the network: /auth challenge, /attest response, KBS error
 * bodies, the unverified JWT payload (expiry) and the resource JWE. None of it may crash,
 * leak or accept inconsistent input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/rcar.h"
#include "common/err.h"
#include "common/jose/jwe.h"
#include "common/jose/jwk.h"
#include "common/secmem.h"

/* Throw-away test key of tests/data/broker (matches the jwe-p256 seed). */
static const char tee_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgya+p2EW6dRZrXCFX\n"
	"Z7HWk05Qw9s26JsSe4piKxIPZyGhRANCAARg/tS6JVqdMclh63TGNW1owEm4kjth\n"
	"+mzmaWIuYPKftnkD/hAIuLyZpBrp6VYovGTy8bIMLX6fUXejwpTURiKZ\n"
	"-----END PRIVATE KEY-----\n";

static struct jwk *tee_key(void)
{
	static struct jwk *k;

	if (!k && jwk_from_pem(tee_key_pem, sizeof(tee_key_pem) - 1, &k) != KBS_OK)
		abort();
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char *nonce = NULL, *token = NULL;
	char type[64], detail[256];
	enum rcar_hash h;
	enum rcar_action act;
	int64_t exp;

	if (rcar_parse_challenge(s, size, &nonce, &h) == KBS_OK) {
		if (!nonce || !*nonce || (h != RCAR_HASH_SHA256 && h != RCAR_HASH_SHA384 &&
					  h != RCAR_HASH_SHA512))
			abort();
	} else if (nonce) {
		abort();
	}
	free(nonce);

	if (rcar_parse_attest_response(s, size, &token) == KBS_OK) {
		/* only JWT characters may reach an HTTP header */
		if (strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				  "0123456789-_.") != strlen(token))
			abort();
	}
	free(token);

	if (rcar_parse_error(s, size, type, sizeof(type), detail, sizeof(detail)) == KBS_OK) {
		if (strlen(type) >= sizeof(type) || strlen(detail) >= sizeof(detail))
			abort();
		for (const char *p = detail; *p; p++)
			if ((unsigned char)*p < 0x20)
				abort();
		(void)rcar_classify(401, type, &act);
	}

	(void)rcar_token_exp(s, size, &exp);

	/* the resource body, decrypted as the broker does (one allowed alg) */
	{
		static const char *const allowed[] = {"ECDH-ES+A256KW", NULL};
		struct secbuf pt = {NULL, 0};

		if (!secmem_capacity())
			(void)secmem_init(0, true);
		if (jwe_decrypt(tee_key(), s, size, allowed, &pt) == KBS_OK && !pt.p && pt.len)
			abort();
		secbuf_free(&pt);
	}
	return 0;
}
