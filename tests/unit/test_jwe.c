// SPDX-License-Identifier: Apache-2.0
/*
 * JWE: decrypts RFC 7520 and Trustee-format vectors, round trips every key management
 * algorithm, pins Trustee's output layout, and rejects tampered, truncated, duplicated,
 * oversized and mis-keyed inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/jose/jwe.h"
#include "common/jose/jwk.h"
#include "common/secmem.h"
#include "jose_testutil.h"

static const char trustee_pt[] = "this is a test data";

static int decrypt_text(const struct jwk *k, const char *json, const char *const *allowed,
			struct secbuf *pt)
{
	return jwe_decrypt(k, json, strlen(json), allowed, pt);
}

static void decrypt_file_expect(const char *key_pem, const char *jwe, const void *want,
				size_t want_len)
{
	struct jwk *k = td_pem_key(key_pem);
	size_t n;
	char *doc = td_read(jwe, &n);
	struct secbuf pt = {0};

	assert_int_equal(jwe_decrypt(k, doc, n, NULL, &pt), KBS_OK);
	assert_int_equal(pt.len, want_len);
	assert_memory_equal(pt.p, want, want_len);
	assert_true(secmem_contains(pt.p));
	secbuf_free(&pt);
	free(doc);
	jwk_free(k);
}

static void trustee_p256_vector_decrypts(void **state)
{
	decrypt_file_expect("trustee/tee-key-p256.pem", "trustee/jwe-ecdh-es-a256kw-p256.json",
			    trustee_pt, strlen(trustee_pt));
}

static void trustee_p521_vector_decrypts(void **state)
{
	decrypt_file_expect("trustee/tee-key-p521.pem", "trustee/jwe-ecdh-es-a256kw-p521.json",
			    trustee_pt, strlen(trustee_pt));
}

static void trustee_rsa_oaep256_vector_decrypts(void **state)
{
	decrypt_file_expect("trustee/tee-key-rsa2048-pkcs1.pem",
			    "trustee/jwe-rsa-oaep-256-rsa2048.json", trustee_pt, strlen(trustee_pt));
}

static void trustee_rsa1_5_vector_decrypts(void **state)
{
	decrypt_file_expect("trustee/tee-key-rsa2048-pkcs1.pem", "trustee/jwe-rsa1-5-rsa2048.json",
			    trustee_pt, strlen(trustee_pt));
}

static void guest_vectors_decrypt(void **state)
{
	size_t n;
	char *want = td_read("guest/jwe-ec-p256/plaintext.bin", &n);

	decrypt_file_expect("guest/jwe-ec-p256/tee-key.pem", "guest/jwe-ec-p256/response.json",
			    want, n);
	free(want);
	want = td_read("guest/jwe-rsa-oaep-256/plaintext.bin", &n);
	decrypt_file_expect("guest/jwe-rsa-oaep-256/tee-key.pem",
			    "guest/jwe-rsa-oaep-256/response.json", want, n);
	free(want);
}

/* RFC 7520 example: key from input.key, document from output.json_flat. */
static void rfc7520_decrypts(const char *file)
{
	json_t *v = td_json(file);
	struct jwk *k = NULL;
	const char *want = json_string_value(json_object_get(json_object_get(v, "input"),
							     "plaintext"));
	char *doc = td_dump(json_object_get(json_object_get(v, "output"), "json_flat"));
	struct secbuf pt = {0};

	assert_int_equal(jwk_from_json(json_object_get(json_object_get(v, "input"), "key"), &k),
			 KBS_OK);
	assert_int_equal(decrypt_text(k, doc, NULL, &pt), KBS_OK);
	assert_int_equal(pt.len, strlen(want));
	assert_memory_equal(pt.p, want, pt.len);
	secbuf_free(&pt);
	free(doc);
	jwk_free(k);
	json_decref(v);
}

static void rfc7520_5_2_rsa_oaep_a256gcm_decrypts(void **state)
{
	rfc7520_decrypts("cookbook/5_2.key_encryption_using_rsa-oaep_with_aes-gcm.json");
}

static void rfc7520_5_4_ecdh_es_p384_a128kw_decrypts(void **state)
{
	rfc7520_decrypts("cookbook/5_4.key_agreement_with_key_wrapping_using_ecdh-es_and_aes-"
			 "keywrap_with_aes-gcm.json");
}

static void rfc7520_5_1_rsa1_5_a128cbc_hs256_decrypts(void **state)
{
	rfc7520_decrypts("cookbook/5_1.key_encryption_using_rsa_v15_and_aes-hmac-sha2.json");
}

/* CBC-HMAC: the MAC is checked (in constant time) before the padding is looked at. */
static void rfc7520_5_1_tampering_fails(void **state)
{
	json_t *v = td_json("cookbook/5_1.key_encryption_using_rsa_v15_and_aes-hmac-sha2.json");
	json_t *flat = json_object_get(json_object_get(v, "output"), "json_flat");
	struct jwk *k = NULL;
	const char *fields[] = {"tag", "ciphertext", "iv", "encrypted_key"};
	struct secbuf pt = {0};

	assert_int_equal(jwk_from_json(json_object_get(json_object_get(v, "input"), "key"), &k),
			 KBS_OK);
	for (size_t i = 0; i < 4; i++) {
		json_t *d = json_deep_copy(flat);
		char *txt;

		td_flip_b64_member(d, fields[i], 100, 0);
		txt = td_dump(d);
		assert_int_equal(decrypt_text(k, txt, NULL, &pt), KBS_ERR_VERIFY);
		free(txt);
		json_decref(d);
	}
	jwk_free(k);
	json_decref(v);
}

static void roundtrip(enum jwk_kind kind, const char *alg, size_t len)
{
	struct jwk *k = NULL, *pub = NULL;
	struct buf out = BUF_INIT;
	struct secbuf pt = {0};
	uint8_t *msg = malloc(len + 1);

	for (size_t i = 0; i < len; i++)
		msg[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(jwk_generate(kind, &k), KBS_OK);
	assert_int_equal(jwk_public(k, &pub), KBS_OK);
	assert_int_equal(jwe_encrypt(pub, alg, msg, len, &out), KBS_OK);
	assert_int_equal(jwe_decrypt(k, (const char *)out.p, out.len, NULL, &pt), KBS_OK);
	assert_int_equal(pt.len, len);
	if (len)
		assert_memory_equal(pt.p, msg, len);
	secbuf_free(&pt);
	/* the public half cannot decrypt */
	assert_int_equal(jwe_decrypt(pub, (const char *)out.p, out.len, NULL, &pt), KBS_ERR_INVAL);
	buf_release(&out);
	jwk_free(pub);
	jwk_free(k);
	free(msg);
}

static void every_algorithm_round_trips(void **state)
{
	roundtrip(JWK_EC_P256, "ECDH-ES+A256KW", 19);
	roundtrip(JWK_EC_P384, "ECDH-ES+A256KW", 1000);
	roundtrip(JWK_EC_P521, "ECDH-ES+A256KW", 0);
	roundtrip(JWK_RSA_2048, "RSA-OAEP-256", 33);
	roundtrip(JWK_RSA_2048, "RSA-OAEP", 1);
	roundtrip(JWK_RSA_2048, "RSA1_5", 65536);
}

/* Decodes the protected member of an encrypt output. */
static char *protected_json(const struct buf *out, json_t **doc)
{
	const char *p;
	uint8_t *raw;
	size_t n;

	*doc = json_loadb((const char *)out->p, out->len, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(*doc);
	p = json_string_value(json_object_get(*doc, "protected"));
	assert_non_null(p);
	assert_int_equal(b64_decode_alloc(p, strlen(p), B64_URL, &raw, &n), KBS_OK);
	return (char *)raw;
}

static void output_has_trustee_layout(void **state)
{
	struct jwk *k = NULL;
	struct buf out = BUF_INIT;
	json_t *doc, *h;
	const char *key;
	json_t *v;
	static const char *const order[] = {"protected", "encrypted_key", "iv", "ciphertext", "tag"};
	static const char ec_prefix[] =
		"{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\",\"epk\":{\"crv\":\"P-256\","
		"\"kty\":\"EC\",\"x\":\"";
	char *hdr;
	size_t i = 0;

	assert_int_equal(jwk_generate(JWK_EC_P256, &k), KBS_OK);
	assert_int_equal(jwe_encrypt(k, "ECDH-ES+A256KW", (const uint8_t *)"x", 1, &out), KBS_OK);
	assert_int_equal(out.p[0], '{');
	assert_null(strchr((const char *)out.p, ' '));
	hdr = protected_json(&out, &doc);
	json_object_foreach(doc, key, v)
	{
		assert_true(i < 5);
		assert_string_equal(key, order[i++]);
	}
	assert_int_equal(i, 5);
	/* exact compact form: alg, enc, epk{crv,kty,x,y}, 43-char coordinates, no spaces */
	assert_int_equal(strncmp(hdr, ec_prefix, strlen(ec_prefix)), 0);
	assert_int_equal(strlen(hdr), strlen(ec_prefix) + 43 + strlen("\",\"y\":\"") + 43 + 3);
	assert_string_equal(hdr + strlen(hdr) - 3, "\"}}");
	h = json_loads(hdr, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(h);
	assert_int_equal(json_object_size(json_object_get(h, "epk")), 4);
	json_decref(h);
	free(hdr);
	json_decref(doc);
	buf_release(&out);
	jwk_free(k);

	assert_int_equal(jwk_generate(JWK_RSA_2048, &k), KBS_OK);
	assert_int_equal(jwe_encrypt(k, "RSA-OAEP-256", (const uint8_t *)"x", 1, &out), KBS_OK);
	hdr = protected_json(&out, &doc);
	assert_string_equal(hdr, "{\"alg\":\"RSA-OAEP-256\",\"enc\":\"A256GCM\"}");
	free(hdr);
	json_decref(doc);
	buf_release(&out);
	jwk_free(k);
}

static void encrypt_appends_to_buffer(void **state)
{
	struct jwk *k = td_pem_key("trustee/tee-key-p256.pem");
	struct buf out = BUF_INIT;
	struct secbuf pt = {0};

	assert_int_equal(buf_append_str(&out, "prefix"), KBS_OK);
	assert_int_equal(jwe_encrypt(k, "ECDH-ES+A256KW", (const uint8_t *)"abc", 3, &out), KBS_OK);
	assert_int_equal(memcmp(out.p, "prefix{", 7), 0);
	assert_int_equal(jwe_decrypt(k, (const char *)out.p + 6, out.len - 6, NULL, &pt), KBS_OK);
	assert_int_equal(pt.len, 3);
	secbuf_free(&pt);
	buf_release(&out);
	jwk_free(k);
}

/* alg NULL follows Trustee: the key's own alg decides; P-384 and RSA-OAEP are refused. */
static void default_alg_follows_trustee(void **state)
{
	struct jwk *k = NULL, *ka = NULL;
	struct buf out = BUF_INIT;
	json_t *doc;
	char *hdr;

	assert_int_equal(jwk_generate(JWK_EC_P256, &k), KBS_OK);
	assert_int_equal(jwe_encrypt(k, NULL, (const uint8_t *)"x", 1, &out), KBS_ERR_UNSUPPORTED);
	assert_int_equal(jwk_with_alg(k, "ECDH-ES+A256KW", &ka), KBS_OK);
	assert_int_equal(jwe_encrypt(ka, NULL, (const uint8_t *)"x", 1, &out), KBS_OK);
	hdr = protected_json(&out, &doc);
	assert_non_null(strstr(hdr, "\"ECDH-ES+A256KW\""));
	free(hdr);
	json_decref(doc);
	buf_release(&out);
	jwk_free(ka);
	jwk_free(k);

	assert_int_equal(jwk_generate(JWK_EC_P384, &k), KBS_OK);
	assert_int_equal(jwk_with_alg(k, "ECDH-ES+A256KW", &ka), KBS_OK);
	assert_int_equal(jwe_encrypt(ka, NULL, (const uint8_t *)"x", 1, &out), KBS_ERR_UNSUPPORTED);
	jwk_free(ka);
	jwk_free(k);

	k = td_pem_key("trustee/tee-key-rsa2048-pkcs1.pem");
	assert_int_equal(jwk_with_alg(k, "RSA-OAEP", &ka), KBS_OK);
	assert_int_equal(jwe_encrypt(ka, NULL, (const uint8_t *)"x", 1, &out), KBS_ERR_UNSUPPORTED);
	jwk_free(ka);
	assert_int_equal(jwk_with_alg(k, "RSA1_5", &ka), KBS_OK);
	assert_int_equal(jwe_encrypt(ka, NULL, (const uint8_t *)"x", 1, &out), KBS_OK);
	hdr = protected_json(&out, &doc);
	assert_string_equal(hdr, "{\"alg\":\"RSA1_5\",\"enc\":\"A256GCM\"}");
	free(hdr);
	json_decref(doc);
	buf_release(&out);
	jwk_free(ka);
	/* key type and algorithm must agree */
	assert_int_equal(jwe_encrypt(k, "ECDH-ES+A256KW", (const uint8_t *)"x", 1, &out),
			 KBS_ERR_UNSUPPORTED);
	assert_int_equal(jwe_encrypt(k, "dir", (const uint8_t *)"x", 1, &out), KBS_ERR_UNSUPPORTED);
	assert_int_equal(out.len, 0);
	jwk_free(k);
}

/* Applies mutate() to a fresh copy of a vector and expects decryption to fail with want. */
static void expect_mutation(const char *key_pem, const char *file, void (*mutate)(json_t *),
			    int want)
{
	struct jwk *k = td_pem_key(key_pem);
	json_t *doc = td_json(file);
	struct secbuf pt = {0};
	char *txt;

	mutate(doc);
	txt = td_dump(doc);
	assert_int_equal(decrypt_text(k, txt, NULL, &pt), want);
	assert_null(pt.p);
	free(txt);
	json_decref(doc);
	jwk_free(k);
}

static void flip_ct(json_t *d) { td_flip_b64_member(d, "ciphertext", 3, 0); }
static void flip_tag(json_t *d) { td_flip_b64_member(d, "tag", 15, 7); }
static void flip_iv(json_t *d) { td_flip_b64_member(d, "iv", 0, 1); }
static void flip_ek(json_t *d) { td_flip_b64_member(d, "encrypted_key", 5, 2); }
static void flip_ek_first(json_t *d) { td_flip_b64_member(d, "encrypted_key", 0, 7); }
static void trunc_tag(json_t *d)
{
	td_set_b64_member(d, "tag", "0123456789abcde", 15);
}
static void trunc_iv(json_t *d) { td_set_b64_member(d, "iv", "01234567890", 11); }
static void short_ek(json_t *d) { td_set_b64_member(d, "encrypted_key", "0123456789", 10); }
static void drop_tag(json_t *d) { json_object_del(d, "tag"); }
static void drop_ek(json_t *d) { json_object_del(d, "encrypted_key"); }
static void bad_b64(json_t *d) { json_object_set_new(d, "iv", json_string("oKGio6Slpqeoqaq=")); }
static void add_aad(json_t *d) { json_object_set_new(d, "aad", json_string("ZXh0cmE")); }
static void add_unprotected(json_t *d)
{
	json_object_set_new(d, "unprotected", json_pack("{s:s}", "jku", "https://x"));
}

/* Re-encodes the protected header (same JSON meaning, different bytes): AAD changes. */
static void reserialise_header(json_t *d)
{
	const char *p = json_string_value(json_object_get(d, "protected"));
	uint8_t *raw;
	size_t n;
	json_t *h;
	char *txt;

	assert_int_equal(b64_decode_alloc(p, strlen(p), B64_URL, &raw, &n), KBS_OK);
	h = json_loadb((const char *)raw, n, 0, NULL);
	txt = json_dumps(h, JSON_INDENT(1));
	td_set_b64_member(d, "protected", txt, strlen(txt));
	free(txt);
	free(raw);
	json_decref(h);
}

static void set_header(json_t *d, const char *hdr)
{
	td_set_b64_member(d, "protected", hdr, strlen(hdr));
}

static void header_dup_alg(json_t *d)
{
	set_header(d, "{\"alg\":\"RSA-OAEP-256\",\"alg\":\"RSA1_5\",\"enc\":\"A256GCM\"}");
}
static void header_zip(json_t *d)
{
	set_header(d, "{\"alg\":\"RSA-OAEP-256\",\"enc\":\"A256GCM\",\"zip\":\"DEF\"}");
}
static void header_crit(json_t *d)
{
	set_header(d, "{\"alg\":\"RSA-OAEP-256\",\"enc\":\"A256GCM\",\"crit\":[\"exp\"],\"exp\":1}");
}
static void header_unknown_enc(json_t *d)
{
	set_header(d, "{\"alg\":\"RSA-OAEP-256\",\"enc\":\"A128CTR\"}");
}

/* A CBC-HMAC enc with a GCM-sized IV: rejected before any crypto. */
static void header_cbc(json_t *d)
{
	set_header(d, "{\"alg\":\"RSA-OAEP-256\",\"enc\":\"A128CBC-HS256\"}");
}
static void header_dir(json_t *d) { set_header(d, "{\"alg\":\"dir\",\"enc\":\"A256GCM\"}"); }
static void header_not_object(json_t *d) { set_header(d, "[\"alg\"]"); }

static void header_epk_p521(json_t *d)
{
	set_header(d, "{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\",\"epk\":{\"crv\":\"P-521\","
		      "\"kty\":\"EC\",\"x\":\"AA\",\"y\":\"AA\"}}");
}

/* (1, 1) is not on P-256. */
static void header_epk_off_curve(json_t *d)
{
	set_header(d, "{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\",\"epk\":{\"crv\":\"P-256\","
		      "\"kty\":\"EC\",\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\","
		      "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\"}}");
}

static void header_epk_short(json_t *d)
{
	set_header(d, "{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\",\"epk\":{\"crv\":\"P-256\","
		      "\"kty\":\"EC\",\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
		      "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}}");
}

#define EC_KEY_PEM "trustee/tee-key-p256.pem"
#define EC_JWE "trustee/jwe-ecdh-es-a256kw-p256.json"
#define RSA_KEY_PEM "trustee/tee-key-rsa2048-pkcs1.pem"
#define OAEP_JWE "trustee/jwe-rsa-oaep-256-rsa2048.json"
#define RSA15_JWE "trustee/jwe-rsa1-5-rsa2048.json"

static void tampering_fails_authentication(void **state)
{
	const char *files[][2] = {{EC_KEY_PEM, EC_JWE}, {RSA_KEY_PEM, OAEP_JWE},
				  {RSA_KEY_PEM, RSA15_JWE}};

	for (size_t i = 0; i < 3; i++) {
		expect_mutation(files[i][0], files[i][1], flip_ct, KBS_ERR_VERIFY);
		expect_mutation(files[i][0], files[i][1], flip_tag, KBS_ERR_VERIFY);
		expect_mutation(files[i][0], files[i][1], flip_iv, KBS_ERR_VERIFY);
		expect_mutation(files[i][0], files[i][1], flip_ek, KBS_ERR_VERIFY);
		expect_mutation(files[i][0], files[i][1], reserialise_header, KBS_ERR_VERIFY);
		/* an "aad" member is authenticated too (RFC 7516 §5.1 step 14) */
		expect_mutation(files[i][0], files[i][1], add_aad, KBS_ERR_VERIFY);
	}
}

/* Bleichenbacher: a broken PKCS#1 v1.5 block is indistinguishable from a bad tag. */
static void rsa1_5_padding_errors_look_like_tag_errors(void **state)
{
	expect_mutation(RSA_KEY_PEM, RSA15_JWE, flip_ek_first, KBS_ERR_VERIFY);
	expect_mutation(RSA_KEY_PEM, RSA15_JWE, short_ek, KBS_ERR_VERIFY);
	expect_mutation(RSA_KEY_PEM, RSA15_JWE, flip_tag, KBS_ERR_VERIFY);
	expect_mutation(RSA_KEY_PEM, OAEP_JWE, short_ek, KBS_ERR_VERIFY);
}

static void truncated_or_missing_fields_are_rejected(void **state)
{
	expect_mutation(EC_KEY_PEM, EC_JWE, trunc_tag, KBS_ERR_PARSE);
	expect_mutation(EC_KEY_PEM, EC_JWE, trunc_iv, KBS_ERR_PARSE);
	expect_mutation(EC_KEY_PEM, EC_JWE, short_ek, KBS_ERR_PARSE);
	expect_mutation(EC_KEY_PEM, EC_JWE, drop_tag, KBS_ERR_PARSE);
	expect_mutation(EC_KEY_PEM, EC_JWE, drop_ek, KBS_ERR_PARSE);
	expect_mutation(EC_KEY_PEM, EC_JWE, bad_b64, KBS_ERR_PARSE);
	expect_mutation(EC_KEY_PEM, EC_JWE, header_epk_short, KBS_ERR_PARSE);
}

static void bad_headers_are_rejected(void **state)
{
	expect_mutation(RSA_KEY_PEM, OAEP_JWE, header_dup_alg, KBS_ERR_PARSE);
	expect_mutation(RSA_KEY_PEM, OAEP_JWE, header_not_object, KBS_ERR_PARSE);
	expect_mutation(RSA_KEY_PEM, OAEP_JWE, header_zip, KBS_ERR_UNSUPPORTED);
	expect_mutation(RSA_KEY_PEM, OAEP_JWE, header_crit, KBS_ERR_UNSUPPORTED);
	expect_mutation(RSA_KEY_PEM, OAEP_JWE, header_unknown_enc, KBS_ERR_UNSUPPORTED);
	expect_mutation(RSA_KEY_PEM, OAEP_JWE, header_cbc, KBS_ERR_PARSE);
	expect_mutation(RSA_KEY_PEM, OAEP_JWE, header_dir, KBS_ERR_UNSUPPORTED);
	expect_mutation(RSA_KEY_PEM, OAEP_JWE, add_unprotected, KBS_ERR_UNSUPPORTED);
	expect_mutation(EC_KEY_PEM, EC_JWE, header_epk_p521, KBS_ERR_VERIFY);
	expect_mutation(EC_KEY_PEM, EC_JWE, header_epk_off_curve, KBS_ERR_VERIFY);
}

static void duplicate_members_are_rejected(void **state)
{
	struct jwk *k = td_pem_key(EC_KEY_PEM);
	size_t n;
	char *doc = td_read(EC_JWE, &n);
	struct buf b = BUF_INIT;
	struct secbuf pt = {0};

	/* {"tag":"AAAA", + original members: the original tag is a duplicate */
	assert_int_equal(buf_append_str(&b, "{\"tag\":\"AAAAAAAAAAAAAAAAAAAAAA\","), KBS_OK);
	assert_int_equal(buf_append(&b, doc + 1, n - 1), KBS_OK);
	assert_int_equal(jwe_decrypt(k, (const char *)b.p, b.len, NULL, &pt), KBS_ERR_PARSE);
	buf_release(&b);
	free(doc);
	jwk_free(k);
}

static void wrong_key_fails(void **state)
{
	struct jwk *other = NULL, *rsa = td_pem_key(RSA_KEY_PEM);
	size_t n;
	char *doc = td_read(EC_JWE, &n);
	struct secbuf pt = {0};

	assert_int_equal(jwk_generate(JWK_EC_P256, &other), KBS_OK);
	assert_int_equal(jwe_decrypt(other, doc, n, NULL, &pt), KBS_ERR_VERIFY);
	/* RSA key for an ECDH-ES document: refused before any crypto */
	assert_int_equal(jwe_decrypt(rsa, doc, n, NULL, &pt), KBS_ERR_UNSUPPORTED);
	free(doc);
	jwk_free(other);
	jwk_free(rsa);

	/* another RSA key: the OAEP block does not decode, the tag then fails */
	assert_int_equal(jwk_generate(JWK_RSA_2048, &other), KBS_OK);
	doc = td_read(OAEP_JWE, &n);
	assert_int_equal(jwe_decrypt(other, doc, n, NULL, &pt), KBS_ERR_VERIFY);
	free(doc);
	doc = td_read(RSA15_JWE, &n);
	assert_int_equal(jwe_decrypt(other, doc, n, NULL, &pt), KBS_ERR_VERIFY);
	free(doc);
	jwk_free(other);
}

static void allow_list_is_enforced(void **state)
{
	static const char *const only_ecdh[] = {"ECDH-ES+A256KW", NULL};
	static const char *const only_oaep[] = {"RSA-OAEP-256", NULL};
	struct jwk *k = td_pem_key(RSA_KEY_PEM);
	size_t n;
	char *doc = td_read(RSA15_JWE, &n);
	struct secbuf pt = {0};

	assert_int_equal(jwe_decrypt(k, doc, n, only_ecdh, &pt), KBS_ERR_UNSUPPORTED);
	assert_int_equal(jwe_decrypt(k, doc, n, only_oaep, &pt), KBS_ERR_UNSUPPORTED);
	free(doc);
	doc = td_read(OAEP_JWE, &n);
	assert_int_equal(jwe_decrypt(k, doc, n, only_oaep, &pt), KBS_OK);
	secbuf_free(&pt);
	free(doc);
	jwk_free(k);
}

static void malformed_documents_are_rejected(void **state)
{
	static const char *const bad[] = {
		"", "{", "[]", "\"protected\"", "{\"protected\":1}", "{\"protected\":\"\"}",
		"{\"protected\":\"e30\",\"encrypted_key\":\"\",\"iv\":\"\",\"ciphertext\":\"\","
		"\"tag\":\"\"}",
		"{\"protected\":\"!!\"}", "null", "{\"protected\":\"eyJhbGciOiJub25lIn0\"}",
	};
	struct jwk *k = td_pem_key(EC_KEY_PEM);
	struct secbuf pt = {0};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(decrypt_text(k, bad[i], NULL, &pt), KBS_ERR_PARSE);
	jwk_free(k);
}

static void oversized_input_is_rejected(void **state)
{
	struct jwk *k = td_pem_key(EC_KEY_PEM);
	size_t n = JWE_MAX_JSON + 1;
	char *big = malloc(n);
	struct secbuf pt = {0};

	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	assert_int_equal(jwe_decrypt(k, big, n, NULL, &pt), KBS_ERR_RANGE);
	free(big);
	jwk_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(trustee_p256_vector_decrypts),
		cmocka_unit_test(trustee_p521_vector_decrypts),
		cmocka_unit_test(trustee_rsa_oaep256_vector_decrypts),
		cmocka_unit_test(trustee_rsa1_5_vector_decrypts),
		cmocka_unit_test(guest_vectors_decrypt),
		cmocka_unit_test(rfc7520_5_2_rsa_oaep_a256gcm_decrypts),
		cmocka_unit_test(rfc7520_5_4_ecdh_es_p384_a128kw_decrypts),
		cmocka_unit_test(rfc7520_5_1_rsa1_5_a128cbc_hs256_decrypts),
		cmocka_unit_test(rfc7520_5_1_tampering_fails),
		cmocka_unit_test(every_algorithm_round_trips),
		cmocka_unit_test(output_has_trustee_layout),
		cmocka_unit_test(encrypt_appends_to_buffer),
		cmocka_unit_test(default_alg_follows_trustee),
		cmocka_unit_test(tampering_fails_authentication),
		cmocka_unit_test(rsa1_5_padding_errors_look_like_tag_errors),
		cmocka_unit_test(truncated_or_missing_fields_are_rejected),
		cmocka_unit_test(bad_headers_are_rejected),
		cmocka_unit_test(duplicate_members_are_rejected),
		cmocka_unit_test(wrong_key_fails),
		cmocka_unit_test(allow_list_is_enforced),
		cmocka_unit_test(malformed_documents_are_rejected),
		cmocka_unit_test(oversized_input_is_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
