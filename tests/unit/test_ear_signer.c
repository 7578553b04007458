// SPDX-License-Identifier: Apache-2.0
/*
 * EAR token fast path (server/as/ear_signer.c): the compact JSON writer gives exactly
 * json_dumps(JSON_COMPACT)'s bytes on real samples and edge values, the DER -> r||s
 * conversion against OpenSSL's own parser plus malformed encodings, and signed tokens verify
 * with the JOSE module and carry the header bytes they were given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/jose/jwk.h"
#include "common/jose/jws.h"
#include "server/as/ear_signer.h"
#include "testdata.h"

static void assert_same_as_jansson(const json_t *v)
{
	struct buf b = BUF_INIT;
	char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	assert_non_null(want);
	assert_int_equal(ear_json_append(&b, v), KBS_OK);
	assert_string_equal((const char *)b.p, want);
	assert_int_equal(b.len, strlen(want));
	free(want);
	buf_release(&b);
}

static void test_json_writer_real_samples(void **state)
{
	static const struct {
		const char *dir, *file;
	} files[] = {
	    {"kbs/trustee/derived", "ear-token-sample.decoded.json"},
	    {"kbs/trustee/derived", "runtime-data-binding-vector.json"},
	    {"policies", "example.token.json"},
	    {"jcs/input", "arrays.json"},
	    {"jcs/input", "french.json"},
	    {"jcs/input", "structures.json"},
	    {"jcs/input", "unicode.json"},
	    {"jcs/input", "values.json"},
	    {"jcs/input", "weird.json"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t len;
		char *text = td_read_file(files[i].dir, files[i].file, &len);
		json_t *j = json_loadb(text, len, JSON_DECODE_ANY, NULL);

		assert_non_null(j);
		assert_same_as_jansson(j);
		json_decref(j);
		free(text);
	}
}

static void test_json_writer_edge_values(void **state)
{
	static const double reals[] = {0.0,    -0.0,	0.1,
				       1.0,    -2.5,	1e300,
				       1e-300, 2.5e-10, 123456789012345678.0,
				       1e21,   5e-324,	1.7976931348623157e308};
	json_t *o = json_object(), *a = json_array();
	char ctl[40];

	(void)state;
	for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++)
		json_array_append_new(a, json_real(reals[i]));
	json_array_append_new(a, json_integer(INT64_MIN));
	json_array_append_new(a, json_integer(INT64_MAX));
	/* integers are formatted without printf: every digit-count boundary, both signs */
	for (long long p = 1; p > 0 && p <= INT64_MAX / 10; p *= 10) {
		json_array_append_new(a, json_integer(p - 1));
		json_array_append_new(a, json_integer(p));
		json_array_append_new(a, json_integer(-p));
		json_array_append_new(a, json_integer(1 - p));
	}
	json_array_append_new(a, json_integer(INT64_MIN + 1));
	/* strings are scanned 8 bytes at a time: every escaped byte at every offset of a block,
	 * next to bytes that must stay raw (0x7f, the neighbours of the escaped ones) */
	{
		static const char special[] = {'"', '\\', 0x1f, 0x01, '\n', '\t'};
		static const char plain[] = " !#[]\x7f~az";
		char s[40];
		for (size_t k = 0; k < sizeof(special); k++)
			for (size_t pos = 0; pos < 24; pos++) {
				for (size_t j = 0; j < 24; j++)
					s[j] = plain[(j + pos) % (sizeof(plain) - 1)];
				s[pos] = special[k];
				assert_int_equal(json_array_append_new(a, json_stringn(s, 24)), 0);
				assert_int_equal(json_array_append_new(a, json_stringn(s, pos + 1)),
						 0);
			}
	}
	json_array_append_new(a, json_true());
	json_array_append_new(a, json_false());
	json_array_append_new(a, json_null());
	json_array_append_new(a, json_object());
	json_array_append_new(a, json_array());
	for (int c = 1; c < 0x20; c++)
		ctl[c - 1] = (char)c;
	ctl[31] = '\0';
	json_object_set_new(o, "control", json_string(ctl));
	json_object_set_new(o, "quote\"back\\slash/", json_string("\"\\/\x7f"));
	json_object_set_new(o, "utf8 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
			    json_string("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
	json_object_set_new(o, "nul", json_stringn("a\0b", 3));
	json_object_set_new(o, "", json_string(""));
	json_object_set_new(o, "values", a);
	assert_same_as_jansson(o);
	assert_same_as_jansson(a);
	json_t *s = json_string("top-level string");
	assert_same_as_jansson(s);
	json_decref(s);
	json_decref(o);
}

static void test_json_writer_depth_limit(void **state)
{
	json_t *root = json_array(), *cur = root;
	struct buf b = BUF_INIT;

	(void)state;
	assert_int_equal(buf_append_str(&b, "keep"), KBS_OK);
	for (int i = 0; i < 3000; i++) {
		json_t *n = json_array();
		json_array_append_new(cur, n);
		cur = n;
	}
	assert_int_equal(ear_json_append(&b, root), KBS_ERR_RANGE);
	/* nothing of the failed value is left behind */
	assert_string_equal((const char *)b.p, "keep");
	buf_release(&b);
	json_decref(root);
}

static void test_der_to_raw_matches_openssl(void **state)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	uint8_t md[32] = {1, 2, 3}, der[80], raw[64], r2[32], s2[32];

	(void)state;
	assert_non_null(pk);
	/* enough signatures to hit short r / s (leading zero bytes) a few times */
	for (int i = 0; i < 300; i++) {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
		size_t dlen = sizeof(der);
		const unsigned char *p = der;
		ECDSA_SIG *sig;
		const BIGNUM *r, *s;

		md[31] = (uint8_t)i;
		assert_int_equal(EVP_PKEY_sign_init(c), 1);
		assert_int_equal(EVP_PKEY_sign(c, der, &dlen, md, sizeof(md)), 1);
		assert_int_equal(ear_ecdsa_der_to_raw(der, dlen, 32, raw), KBS_OK);
		sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
		assert_non_null(sig);
		ECDSA_SIG_get0(sig, &r, &s);
		assert_int_equal(BN_bn2binpad(r, r2, 32), 32);
		assert_int_equal(BN_bn2binpad(s, s2, 32), 32);
		assert_memory_equal(raw, r2, 32);
		assert_memory_equal(raw + 32, s2, 32);
		ECDSA_SIG_free(sig);
		EVP_PKEY_CTX_free(c);
	}
	EVP_PKEY_free(pk);
}

static void test_der_to_raw_rejects_malformed(void **state)
{
	/* 30 06 02 01 05 02 01 07 = (5, 7) */
	static const uint8_t ok[] = {0x30, 6, 0x02, 1, 5, 0x02, 1, 7};
	static const uint8_t not_seq[] = {0x31, 6, 0x02, 1, 5, 0x02, 1, 7};
	static const uint8_t bad_len[] = {0x30, 7, 0x02, 1, 5, 0x02, 1, 7};
	static const uint8_t trailing[] = {0x30, 7, 0x02, 1, 5, 0x02, 1, 7, 0};
	static const uint8_t negative[] = {0x30, 6, 0x02, 1, 0x85, 0x02, 1, 7};
	static const uint8_t padded[] = {0x30, 7, 0x02, 2, 0, 5, 0x02, 1, 7};
	static const uint8_t empty_int[] = {0x30, 5, 0x02, 0, 0x02, 1, 7};
	static const uint8_t not_int[] = {0x30, 6, 0x04, 1, 5, 0x02, 1, 7};
	static const uint8_t one_int[] = {0x30, 3, 0x02, 1, 5};
	uint8_t wide[2 + 2 + 34 + 3] = {0x30, 2 + 34 + 3, 0x02, 34, 0x00, 0x80};
	uint8_t raw[64];

	(void)state;
	assert_int_equal(ear_ecdsa_der_to_raw(ok, sizeof(ok), 32, raw), KBS_OK);
	assert_int_equal(raw[31], 5);
	assert_int_equal(raw[63], 7);
	assert_int_equal(raw[0], 0);
	assert_int_equal(ear_ecdsa_der_to_raw(not_seq, sizeof(not_seq), 32, raw), KBS_ERR_PARSE);
	assert_int_equal(ear_ecdsa_der_to_raw(bad_len, sizeof(bad_len), 32, raw), KBS_ERR_PARSE);
	assert_int_equal(ear_ecdsa_der_to_raw(trailing, sizeof(trailing), 32, raw), KBS_ERR_PARSE);
	assert_int_equal(ear_ecdsa_der_to_raw(negative, sizeof(negative), 32, raw), KBS_ERR_PARSE);
	assert_int_equal(ear_ecdsa_der_to_raw(padded, sizeof(padded), 32, raw), KBS_ERR_PARSE);
	assert_int_equal(ear_ecdsa_der_to_raw(empty_int, sizeof(empty_int), 32, raw),
			 KBS_ERR_PARSE);
	assert_int_equal(ear_ecdsa_der_to_raw(not_int, sizeof(not_int), 32, raw), KBS_ERR_PARSE);
	assert_int_equal(ear_ecdsa_der_to_raw(one_int, sizeof(one_int), 32, raw), KBS_ERR_PARSE);
	/* a 33-byte r (0x00 then 33 significant bytes) does not fit a P-256 coordinate */
	wide[sizeof(wide) - 3] = 0x02;
	wide[sizeof(wide) - 2] = 1;
	wide[sizeof(wide) - 1] = 1;
	assert_int_equal(ear_ecdsa_der_to_raw(wide, sizeof(wide), 32, raw), KBS_ERR_PARSE);
	assert_int_equal(ear_ecdsa_der_to_raw(ok, 0, 32, raw), KBS_ERR_PARSE);
}

static void test_signed_token_verifies(void **state)
{
	struct jwk *key = NULL, *pub = NULL, *rsa = NULL;
	struct ear_signer *s = NULL;
	json_t *hdr, *pubj = NULL, *got_hdr = NULL;
	struct buf tok = BUF_INIT;
	static const char payload[] = "{\"iss\":\"x\",\"n\":[1,2,3]}";
	static const char *const algs[] = {"ES256", NULL};
	uint8_t *out = NULL;
	size_t outlen = 0;
	char *want_hdr, *dot;
	char hdr_txt[1024];
	size_t hlen;

	(void)state;
	assert_int_equal(jwk_generate(JWK_EC_P256, &key), KBS_OK);
	assert_int_equal(jwk_public(key, &pub), KBS_OK);
	assert_int_equal(jwk_to_json(pub, false, &pubj), KBS_OK);
	hdr = json_pack("{s:s,s:s,s:O}", "typ", "JWT", "alg", "ES256", "jwk", pubj);
	assert_int_equal(ear_signer_new(key, hdr, &s), KBS_OK);
	for (int i = 0; i < 3; i++) { /* pooled contexts are reused */
		/* appends after what the buffer holds */
		buf_reset(&tok);
		assert_int_equal(buf_append_str(&tok, "PFX"), KBS_OK);
		assert_int_equal(
		    ear_signer_sign(s, (const uint8_t *)payload, strlen(payload), &tok), KBS_OK);
		assert_int_equal(strlen((const char *)tok.p), tok.len);
		assert_memory_equal(tok.p, "PFX", 3);
		assert_int_equal(jws_verify((const char *)tok.p + 3, tok.len - 3, pub, algs,
					    &got_hdr, &out, &outlen),
				 KBS_OK);
		assert_int_equal(outlen, strlen(payload));
		assert_memory_equal(out, payload, outlen);
		free(out);
		json_decref(got_hdr);
	}
	/* the protected header is exactly the given object's compact text, in its order */
	want_hdr = json_dumps(hdr, JSON_COMPACT);
	dot = strchr((const char *)tok.p + 3, '.');
	assert_non_null(dot);
	assert_int_equal(b64_decode((const char *)tok.p + 3, (size_t)(dot - (char *)tok.p - 3),
				    (uint8_t *)hdr_txt, sizeof(hdr_txt) - 1, &hlen, B64_URL),
			 KBS_OK);
	hdr_txt[hlen] = '\0';
	assert_string_equal(hdr_txt, want_hdr);
	assert_int_equal(strncmp(hdr_txt, "{\"typ\":\"JWT\",\"alg\":\"ES256\",\"jwk\":", 32), 0);
	free(want_hdr);

	/* only P-256 private keys */
	{
		struct ear_signer *bad = NULL;
		assert_int_equal(ear_signer_new(pub, hdr, &bad), KBS_ERR_INVAL);
		assert_null(bad);
		assert_int_equal(jwk_generate(JWK_RSA_2048, &rsa), KBS_OK);
		assert_int_equal(ear_signer_new(rsa, hdr, &bad), KBS_ERR_INVAL);
		assert_null(bad);
	}
	ear_signer_free(NULL);
	ear_signer_free(s);
	buf_release(&tok);
	json_decref(hdr);
	json_decref(pubj);
	jwk_free(rsa);
	jwk_free(pub);
	jwk_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_writer_real_samples),
	    cmocka_unit_test(test_json_writer_edge_values),
	    cmocka_unit_test(test_json_writer_depth_limit),
	    cmocka_unit_test(test_der_to_raw_matches_openssl),
	    cmocka_unit_test(test_der_to_raw_rejects_malformed),
	    cmocka_unit_test(test_signed_token_verifies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
