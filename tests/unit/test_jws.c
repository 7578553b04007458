// SPDX-License-Identifier: Apache-2.0
/*
 * JWS/JWT: RFC 7520 / RFC 8037 vectors (verify, and re-create the deterministic ones),
 * sign-then-verify for every algorithm, allow-lists, "none", HMAC confusion, alg/key
 * mismatches, malformed tokens, time claims and EAR tokens with a header jwk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/jose/jwk.h"
#include "common/jose/jws.h"
#include "jose_testutil.h"

static const char *const all_algs[] = {"ES256", "ES384", "ES512", "RS256", "RS384",
				       "PS256", "PS384", "EdDSA", NULL};

static int verify_str(const char *tok, const struct jwk *k, const char *const *allowed)
{
	return jws_verify(tok, strlen(tok), k, allowed, NULL, NULL, NULL);
}

/* Verifies output.compact of a cookbook JWS with its input.key. */
static void cookbook_verifies(const char *file, bool reproduce)
{
	json_t *v = td_json(file);
	json_t *in = json_object_get(v, "input");
	const char *tok = json_string_value(json_object_get(json_object_get(v, "output"),
							    "compact"));
	const char *payload = json_string_value(json_object_get(in, "payload"));
	const char *alg = json_string_value(json_object_get(in, "alg"));
	json_t *prot = json_object_get(json_object_get(v, "signing"), "protected");
	struct jwk *k = NULL, *pub = NULL;
	uint8_t *pl = NULL;
	size_t pl_len = 0;
	json_t *hdr = NULL;
	const char *allowed[] = {alg, NULL};

	assert_int_equal(jwk_from_json(json_object_get(in, "key"), &k), KBS_OK);
	assert_int_equal(jwk_public(k, &pub), KBS_OK);
	assert_int_equal(jws_verify(tok, strlen(tok), pub, allowed, &hdr, &pl, &pl_len), KBS_OK);
	assert_int_equal(pl_len, strlen(payload));
	assert_memory_equal(pl, payload, pl_len);
	assert_string_equal(json_string_value(json_object_get(hdr, "alg")), alg);
	free(pl);
	json_decref(hdr);
	if (reproduce) {
		/* deterministic algorithms: our signer must produce the same bytes */
		char *mine = NULL;
		json_t *extra = json_deep_copy(prot);

		json_object_del(extra, "alg");
		assert_int_equal(jws_sign(k, alg, extra, payload, strlen(payload), &mine), KBS_OK);
		assert_string_equal(mine, tok);
		free(mine);
		json_decref(extra);
	} else {
		/* randomized: sign with the vector key and verify our own output */
		char *mine = NULL;

		assert_int_equal(jws_sign(k, alg, NULL, payload, strlen(payload), &mine), KBS_OK);
		assert_int_equal(verify_str(mine, pub, allowed), KBS_OK);
		free(mine);
	}
	jwk_free(pub);
	jwk_free(k);
	json_decref(v);
}

static void rfc7520_4_1_rs256_verifies_and_reproduces(void **state)
{
	cookbook_verifies("cookbook/4_1.rsa_v15_signature.json", true);
}

static void rfc7520_4_2_ps384_verifies(void **state)
{
	cookbook_verifies("cookbook/4_2.rsa-pss_signature.json", false);
}

static void rfc7520_4_3_es512_verifies(void **state)
{
	cookbook_verifies("cookbook/4_3.ecdsa_signature.json", false);
}

static void rfc8037_eddsa_verifies_and_reproduces(void **state)
{
	cookbook_verifies("cookbook/rfc8037_a4_ed25519_jws.json", true);
}

static void sign_verify(enum jwk_kind kind, const char *alg, size_t raw_sig_len)
{
	static const char msg[] = "{\"hello\":\"world\"}";
	const char *allowed[] = {alg, NULL};
	struct jwk *k = NULL, *pub = NULL;
	char *tok = NULL;
	const char *dot;
	uint8_t sig[1024];
	size_t n;
	uint8_t *pl = NULL;
	size_t pl_len;

	assert_int_equal(jwk_generate(kind, &k), KBS_OK);
	assert_int_equal(jwk_public(k, &pub), KBS_OK);
	assert_int_equal(jws_sign(k, alg, NULL, msg, strlen(msg), &tok), KBS_OK);
	/* signature part length: ECDSA raw R||S, never DER */
	dot = strrchr(tok, '.');
	assert_int_equal(b64_decode(dot + 1, strlen(dot + 1), sig, sizeof(sig), &n, B64_URL),
			 KBS_OK);
	assert_int_equal(n, raw_sig_len);
	assert_int_equal(jws_verify(tok, strlen(tok), pub, allowed, NULL, &pl, &pl_len), KBS_OK);
	assert_int_equal(pl_len, strlen(msg));
	assert_memory_equal(pl, msg, pl_len);
	assert_int_equal(pl[pl_len], 0);
	free(pl);
	/* a public key cannot sign */
	free(tok);
	tok = NULL;
	assert_int_equal(jws_sign(pub, alg, NULL, msg, strlen(msg), &tok), KBS_ERR_INVAL);
	jwk_free(pub);
	jwk_free(k);
}

static void every_algorithm_signs_and_verifies(void **state)
{
	sign_verify(JWK_EC_P256, "ES256", 64);
	sign_verify(JWK_EC_P384, "ES384", 96);
	sign_verify(JWK_EC_P521, "ES512", 132);
	sign_verify(JWK_RSA_2048, "RS256", 256);
	sign_verify(JWK_RSA_2048, "RS384", 256);
	sign_verify(JWK_RSA_2048, "PS256", 256);
	sign_verify(JWK_OKP_ED25519, "EdDSA", 64);
}

/*
 * Raw R||S to DER: R or S with the high bit set needs a 0x00 pad, a leading zero byte must be
 * stripped. Signs until both shapes were seen (each is likely within a few hundred tries).
 */
static void ecdsa_signature_edge_encodings_verify(void **state)
{
	static const char *const es256[] = {"ES256", NULL};
	struct jwk *k = NULL;
	bool seen_zero = false, seen_high = false;

	assert_int_equal(jwk_generate(JWK_EC_P256, &k), KBS_OK);
	for (int i = 0; i < 4000 && !(seen_zero && seen_high); i++) {
		char *tok = NULL;
		uint8_t sig[64];
		size_t n;
		const char *dot;

		assert_int_equal(jws_sign(k, "ES256", NULL, &i, sizeof(i), &tok), KBS_OK);
		dot = strrchr(tok, '.');
		assert_int_equal(b64_decode(dot + 1, strlen(dot + 1), sig, sizeof(sig), &n, B64_URL),
				 KBS_OK);
		assert_int_equal(n, 64);
		if (sig[0] == 0 || sig[32] == 0)
			seen_zero = true;
		if ((sig[0] & 0x80) && (sig[32] & 0x80))
			seen_high = true;
		assert_int_equal(verify_str(tok, k, es256), KBS_OK);
		free(tok);
	}
	assert_true(seen_zero && seen_high);
	jwk_free(k);
}

static void header_extra_members_are_signed(void **state)
{
	struct jwk *k = NULL;
	json_t *extra = json_pack("{s:s,s:s,s:s}", "typ", "JWT", "alg", "RS256", "kid", "k1");
	json_t *hdr = NULL;
	char *tok = NULL;
	static const char *const es256[] = {"ES256", NULL};

	assert_int_equal(jwk_generate(JWK_EC_P256, &k), KBS_OK);
	assert_int_equal(jws_sign(k, "ES256", extra, "x", 1, &tok), KBS_OK);
	/* alg comes first and from the alg argument, never from header_extra */
	assert_int_equal(strncmp(tok, "eyJhbGciOiJFUzI1NiIs", 20), 0);
	assert_int_equal(jws_verify(tok, strlen(tok), k, es256, &hdr, NULL, NULL), KBS_OK);
	assert_string_equal(json_string_value(json_object_get(hdr, "kid")), "k1");
	assert_string_equal(json_string_value(json_object_get(hdr, "typ")), "JWT");
	json_decref(hdr);
	assert_int_equal(jws_peek_header(tok, strlen(tok), &hdr), KBS_OK);
	assert_string_equal(json_string_value(json_object_get(hdr, "alg")), "ES256");
	json_decref(hdr);
	free(tok);
	json_decref(extra);
	jwk_free(k);
}

static char *b64u(const void *p, size_t n)
{
	char *s = NULL;

	assert_int_equal(b64_encode_alloc(p, n, B64_URL, &s), KBS_OK);
	return s;
}

/* Builds header.payload.sig from raw parts. */
static char *make_token(const char *hdr, const char *payload, const void *sig, size_t sig_len)
{
	struct buf b = BUF_INIT;
	char *h = b64u(hdr, strlen(hdr)), *p = b64u(payload, strlen(payload)),
	     *s = b64u(sig, sig_len);

	assert_int_equal(buf_printf(&b, "%s.%s.%s", h, p, s), KBS_OK);
	free(h);
	free(p);
	free(s);
	return buf_steal(&b, NULL);
}

static void none_is_always_rejected(void **state)
{
	static const char *const with_none[] = {"none", "ES256", NULL};
	struct jwk *k = td_pem_key("trustee/as-signing-key.pem");
	char *tok = make_token("{\"alg\":\"none\"}", "{}", "", 0);

	assert_int_equal(verify_str(tok, k, with_none), KBS_ERR_UNSUPPORTED);
	free(tok);
	tok = make_token("{\"alg\":\"none\"}", "{}", "xx", 2);
	assert_int_equal(verify_str(tok, k, with_none), KBS_ERR_UNSUPPORTED);
	free(tok);
	jwk_free(k);
}

/* The classic confusion: HS256 keyed with the verifier's public key bytes. */
static void hmac_with_public_key_is_rejected(void **state)
{
	static const char *const with_hs[] = {"HS256", "RS256", NULL};
	struct jwk *k = td_pem_key("trustee/tee-key-rsa2048-pkcs1.pem");
	char *pem = NULL, *tok, *unsigned_part;
	uint8_t mac[32];
	unsigned int mlen = 0;
	struct buf b = BUF_INIT;
	char *h = b64u("{\"alg\":\"HS256\"}", 15), *p = b64u("{\"a\":1}", 7), *s;
	json_t *v;

	assert_int_equal(jwk_to_pem(k, false, &pem), KBS_OK);
	assert_int_equal(buf_printf(&b, "%s.%s", h, p), KBS_OK);
	unsigned_part = buf_steal(&b, NULL);
	HMAC(EVP_sha256(), pem, (int)strlen(pem), (const uint8_t *)unsigned_part,
	     strlen(unsigned_part), mac, &mlen);
	s = b64u(mac, mlen);
	assert_int_equal(buf_printf(&b, "%s.%s", unsigned_part, s), KBS_OK);
	tok = buf_steal(&b, NULL);
	assert_int_equal(verify_str(tok, k, with_hs), KBS_ERR_UNSUPPORTED);
	free(tok);
	/* the RFC 7520 HS256 example, with an oct key: the key type is refused outright */
	v = td_json("cookbook/4_4.hmac-sha2_integrity_protection.json");
	{
		struct jwk *oct = NULL;
		const char *ct = json_string_value(
			json_object_get(json_object_get(v, "output"), "compact"));

		assert_int_equal(jwk_from_json(json_object_get(json_object_get(v, "input"), "key"),
					       &oct),
				 KBS_ERR_UNSUPPORTED);
		assert_int_equal(verify_str(ct, k, with_hs), KBS_ERR_UNSUPPORTED);
	}
	json_decref(v);
	free(h);
	free(p);
	free(s);
	free(unsigned_part);
	free(pem);
	jwk_free(k);
}

static void alg_key_mismatch_is_rejected(void **state)
{
	struct jwk *p256 = NULL, *p384 = NULL, *rsa = NULL, *ed = NULL, *p256_rs = NULL;
	char *tok = NULL;

	assert_int_equal(jwk_generate(JWK_EC_P256, &p256), KBS_OK);
	assert_int_equal(jwk_generate(JWK_EC_P384, &p384), KBS_OK);
	assert_int_equal(jwk_generate(JWK_OKP_ED25519, &ed), KBS_OK);
	rsa = td_pem_key("trustee/tee-key-rsa2048-pkcs1.pem");
	/* signing refuses a key of the wrong type or curve */
	assert_int_equal(jws_sign(p384, "ES256", NULL, "x", 1, &tok), KBS_ERR_INVAL);
	assert_int_equal(jws_sign(rsa, "ES256", NULL, "x", 1, &tok), KBS_ERR_INVAL);
	assert_int_equal(jws_sign(p256, "RS256", NULL, "x", 1, &tok), KBS_ERR_INVAL);
	assert_int_equal(jws_sign(p256, "HS256", NULL, "x", 1, &tok), KBS_ERR_UNSUPPORTED);
	assert_int_equal(jws_sign(p256, "ES256", NULL, "x", 1, &tok), KBS_OK);
	assert_int_equal(verify_str(tok, p384, all_algs), KBS_ERR_VERIFY);
	assert_int_equal(verify_str(tok, rsa, all_algs), KBS_ERR_VERIFY);
	assert_int_equal(verify_str(tok, ed, all_algs), KBS_ERR_VERIFY);
	/* a key whose own "alg" names another algorithm is not used for ES256 */
	assert_int_equal(jwk_with_alg(p256, "ES384", &p256_rs), KBS_OK);
	assert_int_equal(verify_str(tok, p256_rs, all_algs), KBS_ERR_VERIFY);
	assert_int_equal(verify_str(tok, p256, all_algs), KBS_OK);
	free(tok);
	jwk_free(p256_rs);
	jwk_free(p256);
	jwk_free(p384);
	jwk_free(rsa);
	jwk_free(ed);
}

static void allow_list_is_required_and_enforced(void **state)
{
	static const char *const rs_only[] = {"RS256", NULL};
	static const char *const empty[] = {NULL};
	struct jwk *k = NULL;
	char *tok = NULL;

	assert_int_equal(jwk_generate(JWK_EC_P256, &k), KBS_OK);
	assert_int_equal(jws_sign(k, "ES256", NULL, "x", 1, &tok), KBS_OK);
	assert_int_equal(verify_str(tok, k, rs_only), KBS_ERR_UNSUPPORTED);
	assert_int_equal(verify_str(tok, k, empty), KBS_ERR_UNSUPPORTED);
	assert_int_equal(verify_str(tok, k, NULL), KBS_ERR_UNSUPPORTED);
	free(tok);
	jwk_free(k);
}

static void tampered_and_malformed_tokens_fail(void **state)
{
	struct jwk *k = NULL;
	char *tok = NULL, *t2;
	size_t n;
	json_t *hdr = NULL;

	assert_int_equal(jwk_generate(JWK_EC_P256, &k), KBS_OK);
	assert_int_equal(jws_sign(k, "ES256", NULL, "{\"a\":1}", 7, &tok), KBS_OK);
	n = strlen(tok);
	t2 = strdup(tok);
	/* payload byte changed */
	t2[strchr(t2, '.') - t2 + 2] ^= 1;
	assert_int_equal(verify_str(t2, k, all_algs), KBS_ERR_VERIFY);
	strcpy(t2, tok);
	/* signature truncated by one character / one byte */
	t2[n - 1] = 0;
	assert_int_equal(verify_str(t2, k, all_algs), KBS_ERR_VERIFY);
	t2[n - 3] = 0;
	assert_int_equal(verify_str(t2, k, all_algs), KBS_ERR_VERIFY);
	free(t2);
	/* extra segment, missing segment, empty */
	t2 = malloc(n + 3);
	memcpy(t2, tok, n);
	memcpy(t2 + n, ".x", 3);
	assert_int_equal(verify_str(t2, k, all_algs), KBS_ERR_PARSE);
	free(t2);
	assert_int_equal(verify_str("abc.def", k, all_algs), KBS_ERR_PARSE);
	assert_int_equal(verify_str("", k, all_algs), KBS_ERR_PARSE);
	assert_int_equal(verify_str("..", k, all_algs), KBS_ERR_PARSE);
	assert_int_equal(jws_peek_header("e30.e30.", 8, &hdr), KBS_ERR_PARSE);
	free(tok);
	/* duplicate header member, crit, b64=false, header not an object */
	tok = make_token("{\"alg\":\"ES256\",\"alg\":\"ES256\"}", "{}", "x", 1);
	assert_int_equal(verify_str(tok, k, all_algs), KBS_ERR_PARSE);
	free(tok);
	tok = make_token("{\"alg\":\"ES256\",\"crit\":[\"x\"],\"x\":1}", "{}", "x", 1);
	assert_int_equal(verify_str(tok, k, all_algs), KBS_ERR_UNSUPPORTED);
	free(tok);
	tok = make_token("{\"alg\":\"ES256\",\"b64\":false}", "{}", "x", 1);
	assert_int_equal(verify_str(tok, k, all_algs), KBS_ERR_UNSUPPORTED);
	free(tok);
	tok = make_token("[\"ES256\"]", "{}", "x", 1);
	assert_int_equal(verify_str(tok, k, all_algs), KBS_ERR_PARSE);
	free(tok);
	/* DER-encoded ECDSA signature instead of R||S */
	{
		uint8_t der[72];

		memset(der, 0x30, sizeof(der));
		tok = make_token("{\"alg\":\"ES256\"}", "{}", der, sizeof(der));
		assert_int_equal(verify_str(tok, k, all_algs), KBS_ERR_VERIFY);
		free(tok);
	}
	jwk_free(k);
}

static void oversized_token_is_rejected(void **state)
{
	struct jwk *k = NULL;
	size_t n = JWS_MAX_LEN + 1;
	char *big = malloc(n);

	assert_int_equal(jwk_generate(JWK_EC_P256, &k), KBS_OK);
	memset(big, 'A', n);
	big[10] = '.';
	big[20] = '.';
	assert_int_equal(jws_verify(big, n, k, all_algs, NULL, NULL, NULL), KBS_ERR_RANGE);
	free(big);
	jwk_free(k);
}

/* ---- JWT ------------------------------------------------------------------------------- */

static char *sign_claims(const struct jwk *k, const char *claims_json)
{
	json_t *c = json_loads(claims_json, 0, NULL);
	char *tok = NULL;

	assert_non_null(c);
	assert_int_equal(jwt_sign(k, "ES256", NULL, c, &tok), KBS_OK);
	json_decref(c);
	return tok;
}

static void jwt_time_claims_are_checked(void **state)
{
	static const char *const es256[] = {"ES256", NULL};
	struct jwk *k = NULL;
	struct jwt_verify_opts o = {.allowed_algs = es256, .now = 1000000};
	json_t *claims = NULL;
	char *tok;

	assert_int_equal(jwk_generate(JWK_EC_P256, &k), KBS_OK);
	o.keys = &k;
	o.nkeys = 1;

	tok = sign_claims(k, "{\"exp\":1000001,\"iat\":999999,\"sub\":\"x\"}");
	assert_int_equal(jwt_verify(tok, strlen(tok), &o, &claims, NULL), KBS_OK);
	assert_string_equal(json_string_value(json_object_get(claims, "sub")), "x");
	json_decref(claims);
	free(tok);

	tok = sign_claims(k, "{\"exp\":1000000}");
	assert_int_equal(jwt_verify(tok, strlen(tok), &o, NULL, NULL), KBS_ERR_EXPIRED);
	o.leeway_s = 60;
	assert_int_equal(jwt_verify(tok, strlen(tok), &o, NULL, NULL), KBS_OK);
	free(tok);
	tok = sign_claims(k, "{\"exp\":999940}");
	assert_int_equal(jwt_verify(tok, strlen(tok), &o, NULL, NULL), KBS_ERR_EXPIRED);
	free(tok);
	o.leeway_s = 0;

	tok = sign_claims(k, "{\"nbf\":1000001}");
	assert_int_equal(jwt_verify(tok, strlen(tok), &o, NULL, NULL), KBS_ERR_EXPIRED);
	o.leeway_s = 5;
	assert_int_equal(jwt_verify(tok, strlen(tok), &o, NULL, NULL), KBS_OK);
	free(tok);
	tok = sign_claims(k, "{\"iat\":1000010}");
	assert_int_equal(jwt_verify(tok, strlen(tok), &o, NULL, NULL), KBS_ERR_EXPIRED);
	free(tok);
	o.leeway_s = 0;

	tok = sign_claims(k, "{\"sub\":\"no exp\"}");
	assert_int_equal(jwt_verify(tok, strlen(tok), &o, NULL, NULL), KBS_OK);
	o.require_exp = true;
	assert_int_equal(jwt_verify(tok, strlen(tok), &o, NULL, NULL), KBS_ERR_VERIFY);
	free(tok);
	tok = sign_claims(k, "{\"exp\":\"2100-01-01\"}");
	assert_int_equal(jwt_verify(tok, strlen(tok), &o, NULL, NULL), KBS_ERR_VERIFY);
	free(tok);
	/* claims must be a JSON object without duplicate members */
	assert_int_equal(jws_sign(k, "ES256", NULL, "{\"exp\":1,\"exp\":2000000}", 23, &tok),
			 KBS_OK);
	assert_int_equal(jwt_verify(tok, strlen(tok), &o, NULL, NULL), KBS_ERR_PARSE);
	free(tok);
	jwk_free(k);
}

static void jwt_picks_key_by_kid(void **state)
{
	static const char *const es256[] = {"ES256", NULL};
	struct jwk *a = NULL, *b = NULL, *bk = NULL, *keys[2];
	json_t *extra = json_pack("{s:s}", "kid", "b");
	json_t *c = json_pack("{s:i}", "exp", 2000000);
	struct jwt_verify_opts o = {.allowed_algs = es256, .now = 1000000, .keys = keys,
				    .nkeys = 2};
	char *tok = NULL;
	json_t *jb;

	assert_int_equal(jwk_generate(JWK_EC_P256, &a), KBS_OK);
	assert_int_equal(jwk_generate(JWK_EC_P256, &b), KBS_OK);
	assert_int_equal(jwk_to_json(b, false, &jb), KBS_OK);
	json_object_set_new(jb, "kid", json_string("b"));
	assert_int_equal(jwk_from_json(jb, &bk), KBS_OK);
	assert_string_equal(jwk_kid(bk), "b");
	keys[0] = a;
	keys[1] = bk;
	assert_int_equal(jwt_sign(b, "ES256", extra, c, &tok), KBS_OK);
	assert_int_equal(jwt_verify(tok, strlen(tok), &o, NULL, NULL), KBS_OK);
	o.nkeys = 1;
	assert_int_equal(jwt_verify(tok, strlen(tok), &o, NULL, NULL), KBS_ERR_VERIFY);
	o.nkeys = 0;
	assert_int_equal(jwt_verify(tok, strlen(tok), &o, NULL, NULL), KBS_ERR_VERIFY);
	free(tok);
	json_decref(jb);
	json_decref(extra);
	json_decref(c);
	jwk_free(a);
	jwk_free(b);
	jwk_free(bk);
}

static char *read_token(const char *rel)
{
	size_t n;
	char *t = td_read(rel, &n);

	while (n && (t[n - 1] == '\n' || t[n - 1] == '\r'))
		t[--n] = 0;
	return t;
}

static void ear_token_header_jwk_needs_trust(void **state)
{
	static const char *const es256[] = {"ES256", NULL};
	char *tok = read_token("trustee/ear-token-sample-valid-until-2100.jwt");
	char *old = read_token("trustee/ear-token-sample-expired.jwt");
	struct jwk *signer = td_pem_key("trustee/as-signing-key.pem"), *pub = NULL, *other = NULL;
	struct jwt_verify_opts o = {.allowed_algs = es256, .leeway_s = 60, .require_exp = true};
	json_t *claims = NULL, *hdr = NULL;

	assert_int_equal(jwk_public(signer, &pub), KBS_OK);
	assert_int_equal(jwk_generate(JWK_EC_P256, &other), KBS_OK);
	/* untrusted: no keys, or a different key */
	assert_int_equal(jwt_verify(tok, strlen(tok), &o, NULL, NULL), KBS_ERR_VERIFY);
	o.keys = &other;
	o.nkeys = 1;
	assert_int_equal(jwt_verify(tok, strlen(tok), &o, NULL, NULL), KBS_ERR_VERIFY);
	/* trusted by thumbprint */
	o.keys = &pub;
	assert_int_equal(jwt_verify(tok, strlen(tok), &o, &claims, &hdr), KBS_OK);
	assert_non_null(json_object_get(claims, "submods"));
	assert_true(json_is_object(json_object_get(hdr, "jwk")));
	json_decref(claims);
	json_decref(hdr);
	assert_int_equal(jwt_verify(old, strlen(old), &o, NULL, NULL), KBS_ERR_EXPIRED);
	/* insecure switch: the header key as is */
	o.keys = NULL;
	o.nkeys = 0;
	o.insecure_header_jwk = true;
	assert_int_equal(jwt_verify(tok, strlen(tok), &o, NULL, NULL), KBS_OK);
	free(tok);
	free(old);
	jwk_free(signer);
	jwk_free(pub);
	jwk_free(other);
}

/* An attacker token carrying the attacker's own key in "jwk". */
static void self_signed_header_jwk_is_rejected(void **state)
{
	static const char *const es256[] = {"ES256", NULL};
	struct jwk *evil = NULL, *trusted = td_pem_key("trustee/as-signing-key.pem");
	json_t *ej = NULL, *extra, *c = json_pack("{s:i}", "exp", 4102444800);
	struct jwt_verify_opts o = {.allowed_algs = es256, .keys = &trusted, .nkeys = 1};
	char *tok = NULL;

	assert_int_equal(jwk_generate(JWK_EC_P256, &evil), KBS_OK);
	assert_int_equal(jwk_to_json(evil, false, &ej), KBS_OK);
	extra = json_pack("{s:s,s:O}", "typ", "JWT", "jwk", ej);
	assert_int_equal(jwt_sign(evil, "ES256", extra, c, &tok), KBS_OK);
	assert_int_equal(jwt_verify(tok, strlen(tok), &o, NULL, NULL), KBS_ERR_VERIFY);
	free(tok);
	json_decref(extra);
	/* header names the trusted key but the signature is the attacker's */
	json_decref(ej);
	assert_int_equal(jwk_to_json(trusted, false, &ej), KBS_OK);
	extra = json_pack("{s:O}", "jwk", ej);
	assert_int_equal(jwt_sign(evil, "ES256", extra, c, &tok), KBS_OK);
	assert_int_equal(jwt_verify(tok, strlen(tok), &o, NULL, NULL), KBS_ERR_VERIFY);
	free(tok);
	json_decref(extra);
	json_decref(ej);
	json_decref(c);
	jwk_free(evil);
	jwk_free(trusted);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc7520_4_1_rs256_verifies_and_reproduces),
		cmocka_unit_test(rfc7520_4_2_ps384_verifies),
		cmocka_unit_test(rfc7520_4_3_es512_verifies),
		cmocka_unit_test(rfc8037_eddsa_verifies_and_reproduces),
		cmocka_unit_test(every_algorithm_signs_and_verifies),
		cmocka_unit_test(ecdsa_signature_edge_encodings_verify),
		cmocka_unit_test(header_extra_members_are_signed),
		cmocka_unit_test(none_is_always_rejected),
		cmocka_unit_test(hmac_with_public_key_is_rejected),
		cmocka_unit_test(alg_key_mismatch_is_rejected),
		cmocka_unit_test(allow_list_is_required_and_enforced),
		cmocka_unit_test(tampered_and_malformed_tokens_fail),
		cmocka_unit_test(oversized_token_is_rejected),
		cmocka_unit_test(jwt_time_claims_are_checked),
		cmocka_unit_test(jwt_picks_key_by_kid),
		cmocka_unit_test(ear_token_header_jwk_needs_trust),
		cmocka_unit_test(self_signed_header_jwk_is_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
