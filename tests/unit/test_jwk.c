// SPDX-License-Identifier: Apache-2.0
/*
 * JWK: RFC 7520 keys, RFC 7638 thumbprints, PEM (SPKI, PKCS#8, PKCS#1, SEC1) <-> JWK, the
 * guest's tee-pubkey serialisation, and rejection of invalid keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/jose/jwk.h"
#include "jose_testutil.h"

/* Every member of want (other than use/kid) appears in got with the same value. */
static void assert_members_equal(const json_t *want, const json_t *got)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)want, key, v)
	{
		if (strcmp(key, "use") == 0 || strcmp(key, "kid") == 0)
			continue;
		assert_non_null(json_object_get(got, key));
		assert_true(json_equal(v, json_object_get(got, key)));
	}
}

static void rfc7520_keys_import_and_export(void **state)
{
	static const struct {
		const char *file;
		bool priv;
		const char *kty;
	} keys[] = {
		{"cookbook/3_1.ec_public_key.json", false, "EC"},
		{"cookbook/3_2.ec_private_key.json", true, "EC"},
		{"cookbook/3_3.rsa_public_key.json", false, "RSA"},
		{"cookbook/3_4.rsa_private_key.json", true, "RSA"},
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *j = td_json(keys[i].file), *out = NULL;
		struct jwk *k = NULL;

		assert_int_equal(jwk_from_json(j, &k), KBS_OK);
		assert_int_equal(jwk_is_private(k), keys[i].priv);
		assert_string_equal(jwk_kty(k), keys[i].kty);
		assert_string_equal(jwk_kid(k), json_string_value(json_object_get(j, "kid")));
		assert_int_equal(jwk_to_json(k, keys[i].priv, &out), KBS_OK);
		assert_members_equal(j, out);
		/* nothing added: same members minus the ones we do not keep (use, kid) */
		assert_int_equal(json_object_size(out),
				 json_object_size(j) - (json_object_get(j, "use") ? 1 : 0) -
					 (json_object_get(j, "kid") ? 1 : 0));
		json_decref(out);
		if (keys[i].priv) {
			assert_int_equal(jwk_to_json(k, false, &out), KBS_OK);
			assert_null(json_object_get(out, "d"));
			assert_null(json_object_get(out, "p"));
			json_decref(out);
		} else {
			assert_int_equal(jwk_to_json(k, true, &out), KBS_ERR_INVAL);
		}
		jwk_free(k);
		json_decref(j);
	}
}

/* Thumbprint = SHA-256 of the required members in order, recomputed here from the input. */
static void thumbprints_follow_rfc7638(void **state)
{
	/* RFC 7638 §3.1 example key and its published thumbprint */
	static const char rfc_key[] =
		"{\"kty\":\"RSA\",\"n\":\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbf"
		"AAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9"
		"yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdA"
		"ZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHa"
		"Q-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw\",\"e\":\"AQAB\",\"alg\":\"RS256\","
		"\"kid\":\"2011-04-29\"}";
	struct jwk *k = NULL;
	char b64[64];
	uint8_t raw[32], want[32];
	json_t *j;
	struct buf b = BUF_INIT;

	assert_int_equal(jwk_from_json_text(rfc_key, strlen(rfc_key), &k), KBS_OK);
	assert_int_equal(jwk_thumbprint(k, raw, b64, sizeof(b64)), KBS_OK);
	assert_string_equal(b64, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	assert_int_equal(jwk_thumbprint(k, NULL, b64, 10), KBS_ERR_RANGE);
	jwk_free(k);

	/* EC: {"crv","kty","x","y"} from the AS fixture (x has a leading zero byte) */
	{
		json_t *jwks = td_json("trustee/as-expected-jwks.json");

		j = json_incref(json_array_get(json_object_get(jwks, "keys"), 0));
		json_decref(jwks);
	}
	assert_non_null(j);
	assert_int_equal(jwk_from_json(j, &k), KBS_OK);
	assert_int_equal(buf_printf(&b, "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
				    json_string_value(json_object_get(j, "crv")),
				    json_string_value(json_object_get(j, "x")),
				    json_string_value(json_object_get(j, "y"))),
			 KBS_OK);
	SHA256(b.p, b.len, want);
	assert_int_equal(jwk_thumbprint(k, raw, NULL, 0), KBS_OK);
	assert_memory_equal(raw, want, 32);
	buf_release(&b);
	jwk_free(k);
	json_decref(j);
}

static void trustee_as_key_matches_expected_jwks(void **state)
{
	json_t *jwks = td_json("trustee/as-expected-jwks.json");
	json_t *want = json_array_get(json_object_get(jwks, "keys"), 0), *got = NULL;
	struct jwk *k = td_pem_key("trustee/as-signing-key.pem");

	assert_true(jwk_is_private(k));
	assert_string_equal(jwk_crv(k), "P-256");
	assert_int_equal(jwk_to_json(k, false, &got), KBS_OK);
	/* fixed-length coordinates: the leading 0x00 of x is kept */
	assert_string_equal(json_string_value(json_object_get(got, "x")),
			    json_string_value(json_object_get(want, "x")));
	assert_string_equal(json_string_value(json_object_get(got, "y")),
			    json_string_value(json_object_get(want, "y")));
	json_decref(got);
	json_decref(jwks);
	jwk_free(k);
}

/* jwk_tee_pubkey_json reproduces the guest's bytes, member order included. */
static void tee_pubkey_matches_guest_serialisation(void **state)
{
	static const struct {
		const char *pem, *json, *alg;
	} v[] = {
		{"guest/jwe-ec-p256/tee-key.pem", "guest/jwe-ec-p256/tee-pubkey.json",
		 "ECDH-ES+A256KW"},
		{"guest/jwe-rsa-oaep-256/tee-key.pem", "guest/jwe-rsa-oaep-256/tee-pubkey.json",
		 "RSA-OAEP-256"},
	};

	for (size_t i = 0; i < 2; i++) {
		struct jwk *k = td_pem_key(v[i].pem);
		json_t *want = td_json(v[i].json), *got = NULL;
		char *w = td_dump(want), *g;

		assert_int_equal(jwk_tee_pubkey_json(k, v[i].alg, &got), KBS_OK);
		g = td_dump(got);
		assert_string_equal(g, w);
		free(g);
		json_decref(got);
		assert_int_equal(jwk_tee_pubkey_json(k, "A256KW", &got), KBS_ERR_INVAL);
		free(w);
		json_decref(want);
		jwk_free(k);
	}
}

static char *encode_pem(const struct jwk *k, int selection, const char *structure)
{
	OSSL_ENCODER_CTX *e = OSSL_ENCODER_CTX_new_for_pkey(jwk_pkey(k), selection, "PEM",
							    structure, NULL);
	unsigned char *data = NULL;
	size_t len = 0;
	char *s;

	assert_non_null(e);
	assert_int_equal(OSSL_ENCODER_to_data(e, &data, &len), 1);
	OSSL_ENCODER_CTX_free(e);
	s = malloc(len + 1);
	memcpy(s, data, len);
	s[len] = 0;
	OPENSSL_free(data);
	return s;
}

static void same_key(const struct jwk *a, const struct jwk *b)
{
	uint8_t ta[32], tb[32];

	assert_int_equal(jwk_thumbprint(a, ta, NULL, 0), KBS_OK);
	assert_int_equal(jwk_thumbprint(b, tb, NULL, 0), KBS_OK);
	assert_memory_equal(ta, tb, 32);
}

static void pem_round_trips(void **state)
{
	static const enum jwk_kind kinds[] = {JWK_EC_P256, JWK_EC_P384, JWK_EC_P521,
					      JWK_OKP_ED25519, JWK_RSA_2048};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct jwk *k = NULL, *back = NULL;
		char *pem = NULL;

		assert_int_equal(jwk_generate(kinds[i], &k), KBS_OK);
		assert_int_equal(jwk_to_pem(k, true, &pem), KBS_OK);
		assert_non_null(strstr(pem, "BEGIN PRIVATE KEY"));
		assert_int_equal(jwk_from_pem(pem, strlen(pem), &back), KBS_OK);
		assert_true(jwk_is_private(back));
		same_key(k, back);
		free(pem);
		jwk_free(back);
		assert_int_equal(jwk_to_pem(k, false, &pem), KBS_OK);
		assert_non_null(strstr(pem, "BEGIN PUBLIC KEY"));
		assert_int_equal(jwk_from_pem(pem, strlen(pem), &back), KBS_OK);
		assert_false(jwk_is_private(back));
		same_key(k, back);
		free(pem);
		jwk_free(back);
		if (kinds[i] != JWK_OKP_ED25519) {
			/* SEC1 "EC PRIVATE KEY" / PKCS#1 "RSA PRIVATE KEY" */
			pem = encode_pem(k, EVP_PKEY_KEYPAIR, "type-specific");
			assert_non_null(strstr(pem, kinds[i] == JWK_RSA_2048 ? "RSA PRIVATE"
									    : "EC PRIVATE"));
			assert_int_equal(jwk_from_pem(pem, strlen(pem), &back), KBS_OK);
			assert_true(jwk_is_private(back));
			same_key(k, back);
			free(pem);
			jwk_free(back);
		}
		if (kinds[i] == JWK_RSA_2048) {
			/* PKCS#1 "RSA PUBLIC KEY" */
			pem = encode_pem(k, EVP_PKEY_PUBLIC_KEY, "type-specific");
			assert_non_null(strstr(pem, "RSA PUBLIC KEY"));
			assert_int_equal(jwk_from_pem(pem, strlen(pem), &back), KBS_OK);
			assert_false(jwk_is_private(back));
			same_key(k, back);
			free(pem);
			jwk_free(back);
		}
		jwk_free(k);
	}
}

static void json_round_trips_for_generated_keys(void **state)
{
	static const enum jwk_kind kinds[] = {JWK_EC_P256, JWK_EC_P384, JWK_EC_P521,
					      JWK_OKP_ED25519, JWK_RSA_2048};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct jwk *k = NULL, *back = NULL, *pub = NULL;
		json_t *j = NULL;
		const char *prev = "";
		const char *key;
		json_t *v;

		assert_int_equal(jwk_generate(kinds[i], &k), KBS_OK);
		assert_int_equal(jwk_to_json(k, true, &j), KBS_OK);
		/* lexicographic member order */
		json_object_foreach(j, key, v)
		{
			assert_true(strcmp(prev, key) < 0);
			prev = key;
		}
		assert_int_equal(jwk_from_json(j, &back), KBS_OK);
		assert_true(jwk_is_private(back));
		same_key(k, back);
		assert_int_equal(jwk_public(back, &pub), KBS_OK);
		assert_false(jwk_is_private(pub));
		same_key(k, pub);
		json_decref(j);
		jwk_free(back);
		jwk_free(pub);
		jwk_free(k);
	}
}

static void accessors_and_refcount(void **state)
{
	struct jwk *k = NULL, *a = NULL;

	assert_int_equal(jwk_generate(JWK_EC_P384, &k), KBS_OK);
	assert_null(jwk_alg(k));
	assert_int_equal(jwk_with_alg(k, "ES384", &a), KBS_OK);
	assert_string_equal(jwk_alg(a), "ES384");
	assert_ptr_equal(jwk_pkey(a), jwk_pkey(k));
	assert_ptr_equal(jwk_ref(a), a);
	jwk_free(a);
	assert_string_equal(jwk_crv(a), "P-384");
	jwk_free(a);
	jwk_free(k);
	jwk_free(NULL);
	assert_null(jwk_ref(NULL));
}

static int import(const char *txt)
{
	struct jwk *k = NULL;
	int rc = jwk_from_json_text(txt, strlen(txt), &k);

	if (rc == KBS_OK)
		jwk_free(k);
	else
		assert_null(k);
	return rc;
}

static void invalid_keys_are_rejected(void **state)
{
	json_t *j = td_json("cookbook/3_2.ec_private_key.json");
	char *txt;

	/* malformed JSON, duplicates, wrong types */
	assert_int_equal(import("{"), KBS_ERR_PARSE);
	assert_int_equal(import("[]"), KBS_ERR_PARSE);
	assert_int_equal(import("{\"kty\":\"EC\",\"kty\":\"RSA\"}"), KBS_ERR_PARSE);
	assert_int_equal(import("{}"), KBS_ERR_INVAL);
	assert_int_equal(import("{\"kty\":1}"), KBS_ERR_INVAL);
	assert_int_equal(import("{\"kty\":\"oct\",\"k\":\"AAAA\"}"), KBS_ERR_UNSUPPORTED);
	assert_int_equal(import("{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"AA\",\"y\":\"AA\"}"),
			 KBS_ERR_UNSUPPORTED);
	assert_int_equal(import("{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AA\"}"),
			 KBS_ERR_UNSUPPORTED);
	/* off-curve point, short coordinates */
	assert_int_equal(import("{\"kty\":\"EC\",\"crv\":\"P-256\","
				"\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\","
				"\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\"}"),
			 KBS_ERR_INVAL);
	assert_int_equal(import("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}"),
			 KBS_ERR_INVAL);
	/* d that does not belong to x, y */
	{
		uint8_t d[66] = {0};

		d[65] = 7;
		td_set_b64_member(j, "d", d, sizeof(d));
	}
	txt = td_dump(j);
	assert_int_equal(import(txt), KBS_ERR_INVAL);
	free(txt);
	json_object_set_new(j, "x", json_string("not base64!"));
	txt = td_dump(j);
	assert_int_equal(import(txt), KBS_ERR_PARSE);
	free(txt);
	json_decref(j);
	/* RSA: partial CRT set, too small modulus */
	j = td_json("cookbook/3_4.rsa_private_key.json");
	json_object_del(j, "qi");
	txt = td_dump(j);
	assert_int_equal(import(txt), KBS_ERR_INVAL);
	free(txt);
	json_decref(j);
	assert_int_equal(import("{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}"),
			 KBS_ERR_UNSUPPORTED);
	/* Ed25519: x not matching d */
	assert_int_equal(import("{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
				"\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\","
				"\"d\":\"AWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\"}"),
			 KBS_ERR_INVAL);
	assert_int_equal(import("{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
				"\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\","
				"\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\"}"),
			 KBS_OK);
	/* non-string alg/kid */
	assert_int_equal(import("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":5,"
				"\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}"),
			 KBS_ERR_INVAL);
}

static void invalid_pem_is_rejected(void **state)
{
	static const char garbage[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
	struct jwk *k = NULL;
	char *big;

	assert_int_equal(jwk_from_pem(garbage, strlen(garbage), &k), KBS_ERR_PARSE);
	assert_int_equal(jwk_from_pem("", 0, &k), KBS_ERR_PARSE);
	assert_int_equal(jwk_from_pem_file("/nonexistent/key.pem", &k), KBS_ERR_IO);
	big = calloc(1, 70000);
	assert_int_equal(jwk_from_pem(big, 70000, &k), KBS_ERR_RANGE);
	assert_int_equal(jwk_from_json_text(big, 70000, &k), KBS_ERR_RANGE);
	free(big);
	assert_null(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc7520_keys_import_and_export),
		cmocka_unit_test(thumbprints_follow_rfc7638),
		cmocka_unit_test(trustee_as_key_matches_expected_jwks),
		cmocka_unit_test(tee_pubkey_matches_guest_serialisation),
		cmocka_unit_test(pem_round_trips),
		cmocka_unit_test(json_round_trips_for_generated_keys),
		cmocka_unit_test(accessors_and_refcount),
		cmocka_unit_test(invalid_keys_are_rejected),
		cmocka_unit_test(invalid_pem_is_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
