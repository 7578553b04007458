// SPDX-License-Identifier: Apache-2.0
/*
 * Token verification of a KBS without an attestation service (passport mode, §7.2):
 * Trustee's seven x5c endorsement scenarios, x5c base64 leniency, EAR tokens trusted through
 * trusted_certs_paths (valid, expired, wrong anchor, header key != leaf), trusted_jwk_sets by
 * kid (known, unknown, key without alg, no exp), and the start-up refusal without trust.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/jose/jwk.h"
#include "common/jose/jws.h"
#include "server/kbs/kbs_config.h"
#include "server/kbs/tokver.h"
#include "testdata.h"

#define JWK_DIR "kbs/trustee/jwk"

static char *data_path(const char *rel)
{
	const char *root = getenv("KBS_TEST_DATA");
	char p[1024];

	snprintf(p, sizeof(p), "%s/%s", root ? root : "tests/data", rel);
	return strdup(p);
}

static char **strv1(char *s)
{
	char **v = calloc(2, sizeof(*v));

	assert_non_null(v);
	v[0] = s;
	return v;
}

/* cfg with one anchor file and/or one JWK set (either may be NULL) */
static void cfg_with(struct kbs_config *cfg, char *anchor, char *jwks)
{
	kbs_config_init(cfg);
	if (anchor) {
		cfg->trusted_certs_paths = strv1(anchor);
		cfg->ntrusted_certs = 1;
	}
	if (jwks) {
		cfg->trusted_jwk_sets = strv1(jwks);
		cfg->ntrusted_jwk_sets = 1;
	}
}

static struct kbs_tokver *tokver_for(struct kbs_config *cfg)
{
	struct kbs_tokver *t = NULL;
	char err[400] = "";
	int rc = kbs_tokver_new(cfg, NULL, 0, &t, err, sizeof(err));

	if (rc != KBS_OK)
		fprintf(stderr, "kbs_tokver_new: %s\n", err);
	assert_int_equal(rc, KBS_OK);
	return t;
}

static json_t *load_json(const char *rel)
{
	char *text = td_read_file(JWK_DIR, rel, NULL);
	json_t *j = json_loads(text, 0, NULL);

	free(text);
	assert_non_null(j);
	return j;
}

/* Trustee's test_verify_jwk_endorsement_scenarios, with the check each failure names. */
static void test_trustee_endorsement_scenarios(void **state)
{
	static const struct {
		int n;
		const char *fail; /* NULL = endorsed */
	} sc[] = {{1, NULL},
		  {2, "x5c: the leaf certificate's public key does not match"},
		  {3, "x5c: token header jwk has no x5c"},
		  {4, "x5c: certificate chain not trusted"},
		  {5, NULL},
		  {6, NULL},
		  {7, NULL}};

	(void)state;
	for (size_t i = 0; i < sizeof(sc) / sizeof(sc[0]); i++) {
		char rel[128], why[300] = "";
		struct kbs_config cfg;
		snprintf(rel, sizeof(rel), JWK_DIR "/scenario%02d-trust.pem", sc[i].n);
		cfg_with(&cfg, data_path(rel), NULL);
		struct kbs_tokver *t = tokver_for(&cfg);
		snprintf(rel, sizeof(rel), "scenario%02d-jwk.json", sc[i].n);
		json_t *jwk = load_json(rel);
		int rc = kbs_tokver_endorse_jwk(t, jwk, "RS256", why, sizeof(why));
		if (sc[i].fail) {
			assert_int_equal(rc, KBS_ERR_VERIFY);
			if (strncmp(why, sc[i].fail, strlen(sc[i].fail)) != 0)
				fail_msg("scenario %d: '%s' does not start with '%s'", sc[i].n, why,
					 sc[i].fail);
		} else if (rc != KBS_OK) {
			fail_msg("scenario %d refused: %s", sc[i].n, why);
		}
		/* the jwk's alg decides: a token claiming another alg is refused */
		if (!sc[i].fail) {
			assert_int_equal(kbs_tokver_endorse_jwk(t, jwk, "PS256", why, sizeof(why)),
					 KBS_ERR_VERIFY);
			assert_non_null(strstr(why, "alg: token alg PS256 differs"));
		}
		json_decref(jwk);
		kbs_tokver_free(t);
		kbs_config_release(&cfg);
	}
}

/* scenario 1's chain endorses only under its own anchor: an unrelated anchor refuses it */
static void test_endorsement_needs_the_right_anchor(void **state)
{
	struct kbs_config cfg;
	char why[300];

	(void)state;
	cfg_with(&cfg, data_path(JWK_DIR "/scenario05-trust.pem"), NULL);
	struct kbs_tokver *t = tokver_for(&cfg);
	json_t *jwk = load_json("scenario01-jwk.json");
	assert_int_equal(kbs_tokver_endorse_jwk(t, jwk, NULL, why, sizeof(why)), KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "x5c: certificate chain not trusted"));
	json_decref(jwk);
	kbs_tokver_free(t);
	kbs_config_release(&cfg);
}

static void test_x5c_base64_leniency(void **state)
{
	json_t *jwk;
	const char *std;
	uint8_t *ref = NULL, *d = NULL;
	size_t reflen, dlen, n;
	char *v;

	(void)state;
	jwk = load_json("scenario01-jwk.json");
	std = json_string_value(json_array_get(json_object_get(jwk, "x5c"), 0));
	assert_non_null(std);
	assert_int_equal(kbs_tokver_x5c_decode(std, &ref, &reflen), KBS_OK);
	assert_true(reflen > 100 && ref[0] == 0x30);
	n = strlen(std);
	v = malloc(2 * n + 8);
	assert_non_null(v);
	/* no padding, URL-safe alphabet, line breaks every 64 characters */
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (std[i] == '=')
			continue;
		if (i && i % 64 == 0)
			v[m++] = '\n';
		v[m++] = std[i] == '+' ? '-' : std[i] == '/' ? '_' : std[i];
	}
	v[m] = '\0';
	assert_int_equal(kbs_tokver_x5c_decode(v, &d, &dlen), KBS_OK);
	assert_int_equal(dlen, reflen);
	assert_memory_equal(d, ref, reflen);
	free(d);
	assert_int_equal(kbs_tokver_x5c_decode("", &d, &dlen), KBS_ERR_PARSE);
	assert_int_not_equal(kbs_tokver_x5c_decode("!!!!", &d, &dlen), KBS_OK);
	assert_int_not_equal(kbs_tokver_x5c_decode("A", &d, &dlen), KBS_OK);
	free(v);
	free(ref);
	json_decref(jwk);
}

static char *read_token(const char *rel)
{
	char *t = td_read_file("kbs/trustee/derived", rel, NULL);
	size_t n = strlen(t);

	while (n && (t[n - 1] == '\n' || t[n - 1] == '\r'))
		t[--n] = '\0';
	return t;
}

static int verify(struct kbs_tokver *t, const char *tok, char *why, size_t whylen, struct jwk **tk)
{
	json_t *claims = NULL;
	int rc = kbs_tokver_verify(t, tok, strlen(tok), &claims, tk, NULL, why, whylen);

	if (rc == KBS_OK)
		assert_non_null(claims);
	json_decref(claims);
	return rc;
}

/* The AS fixture token (signer key + certificate in x5c) at a KBS with no AS of its own. */
static void test_ear_token_through_trusted_certs(void **state)
{
	struct kbs_config cfg;
	struct jwk *tk = NULL;
	char why[300] = "";
	char *tok = read_token("ear-token-sample-valid-until-2100.jwt");
	char *old = read_token("ear-token-sample-expired.jwt");

	(void)state;
	cfg_with(&cfg, data_path(JWK_DIR "/as-cert-chain.pem"), NULL);
	struct kbs_tokver *t = tokver_for(&cfg);
	if (verify(t, tok, why, sizeof(why), &tk) != KBS_OK)
		fail_msg("fixture token refused: %s", why);
	assert_non_null(tk); /* the TEE key came out of the EAR claims */
	jwk_free(tk);
	assert_int_equal(verify(t, old, why, sizeof(why), NULL), KBS_ERR_EXPIRED);
	assert_non_null(strstr(why, "exp: token expired"));
	kbs_tokver_free(t);
	kbs_config_release(&cfg);

	/* another anchor: the same token is from an untrusted signer */
	cfg_with(&cfg, data_path(JWK_DIR "/scenario01-trust.pem"), NULL);
	t = tokver_for(&cfg);
	assert_int_equal(verify(t, tok, why, sizeof(why), NULL), KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "x5c: certificate chain not trusted"));
	kbs_tokver_free(t);
	kbs_config_release(&cfg);
	free(tok);
	free(old);
}

static struct jwk *fixture_key(void)
{
	char *p = data_path(JWK_DIR "/as-signing-key.pem");
	struct jwk *k = NULL;

	assert_int_equal(jwk_from_pem_file(p, &k), KBS_OK);
	free(p);
	return k;
}

static char *sign_token(const struct jwk *k, json_t *hdr, long exp_in)
{
	json_t *claims = json_pack("{s:s,s:I}", "iss", "unit", "iat", (json_int_t)time(NULL));
	char *tok = NULL;

	if (exp_in)
		json_object_set_new(claims, "exp", json_integer((json_int_t)time(NULL) + exp_in));
	json_object_set_new(claims, "tee-pubkey",
			    json_pack("{s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x",
				      "gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0", "y",
				      "SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps"));
	assert_int_equal(jwt_sign(k, "ES256", hdr, claims, &tok), KBS_OK);
	json_decref(claims);
	json_decref(hdr);
	return tok;
}

/* A header key that signs correctly but is not the x5c leaf's key is refused. */
static void test_header_jwk_must_be_the_leaf(void **state)
{
	struct kbs_config cfg;
	struct jwk *k = fixture_key(), *pub = NULL;
	json_t *hjwk = NULL, *other = load_json("scenario01-jwk.json");
	char why[300];

	(void)state;
	assert_int_equal(jwk_public(k, &pub), KBS_OK);
	assert_int_equal(jwk_to_json(pub, false, &hjwk), KBS_OK);
	json_object_set_new(hjwk, "alg", json_string("ES256"));
	json_object_set(hjwk, "x5c", json_object_get(other, "x5c"));
	char *tok = sign_token(k, json_pack("{s:s,s:o}", "typ", "JWT", "jwk", hjwk), 600);
	cfg_with(&cfg, data_path(JWK_DIR "/scenario01-trust.pem"), NULL);
	struct kbs_tokver *t = tokver_for(&cfg);
	assert_int_equal(verify(t, tok, why, sizeof(why), NULL), KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "x5c: the leaf certificate's public key does not match"));
	kbs_tokver_free(t);
	kbs_config_release(&cfg);
	free(tok);
	json_decref(other);
	jwk_free(pub);
	jwk_free(k);
}

/* writes {"keys":[<fixture public key + kid (+ alg)>]} to a temp file */
static char *write_jwks(const struct jwk *k, const char *kid, const char *alg)
{
	struct jwk *pub = NULL;
	json_t *j = NULL;
	char tmpl[] = "/tmp/kbs-tokver-jwks-XXXXXX";
	int fd = mkstemp(tmpl);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(jwk_public(k, &pub), KBS_OK);
	assert_int_equal(jwk_to_json(pub, false, &j), KBS_OK);
	json_object_set_new(j, "kid", json_string(kid));
	if (alg)
		json_object_set_new(j, "alg", json_string(alg));
	json_t *set = json_pack("{s:[o]}", "keys", j);
	assert_int_equal(json_dump_file(set, tmpl, 0), 0);
	json_decref(set);
	jwk_free(pub);
	return strdup(tmpl);
}

static void test_trusted_jwk_set_by_kid(void **state)
{
	struct kbs_config cfg;
	struct jwk *k = fixture_key();
	char why[300] = "";
	char *path = write_jwks(k, "issuer-1", "ES256");
	char *url = malloc(strlen(path) + 8);

	(void)state;
	snprintf(url, strlen(path) + 8, "file://%s", path);
	cfg_with(&cfg, NULL, url);
	struct kbs_tokver *t = tokver_for(&cfg);
	char *good = sign_token(k, json_pack("{s:s,s:s}", "typ", "JWT", "kid", "issuer-1"), 600);
	char *unknown = sign_token(k, json_pack("{s:s,s:s}", "typ", "JWT", "kid", "issuer-2"), 600);
	char *noexp = sign_token(k, json_pack("{s:s,s:s}", "typ", "JWT", "kid", "issuer-1"), 0);
	char *expired =
	    sign_token(k, json_pack("{s:s,s:s}", "typ", "JWT", "kid", "issuer-1"), -600);
	char *nokid = sign_token(k, json_pack("{s:s}", "typ", "JWT"), 600);
	if (verify(t, good, why, sizeof(why), NULL) != KBS_OK)
		fail_msg("kid token refused: %s", why);
	assert_int_equal(verify(t, unknown, why, sizeof(why), NULL), KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "kid: kid 'issuer-2' is not in any trusted JWK set"));
	assert_int_equal(verify(t, noexp, why, sizeof(why), NULL), KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "exp: token has no exp claim"));
	assert_int_equal(verify(t, expired, why, sizeof(why), NULL), KBS_ERR_EXPIRED);
	assert_non_null(strstr(why, "exp: token expired"));
	/* neither jwk nor kid: nothing to look up at a KBS without an AS */
	assert_int_equal(verify(t, nokid, why, sizeof(why), NULL), KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "header: token header has neither jwk nor kid"));
	kbs_tokver_free(t);
	kbs_config_release(&cfg);
	unlink(path);
	free(path);

	/* a set key without "alg" cannot verify anything (Trustee requires it) */
	path = write_jwks(k, "issuer-1", NULL);
	cfg_with(&cfg, NULL, strdup(path));
	t = tokver_for(&cfg);
	assert_int_equal(verify(t, good, why, sizeof(why), NULL), KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "alg: the JWK set key has no \"alg\" member"));
	kbs_tokver_free(t);
	kbs_config_release(&cfg);
	unlink(path);
	free(path);
	free(good);
	free(unknown);
	free(noexp);
	free(expired);
	free(nokid);
	jwk_free(k);
}

/* jwk-headed tokens at a KBS that only has JWK sets: no chain to check, refused */
static void test_header_jwk_without_anchors(void **state)
{
	struct kbs_config cfg;
	char why[300];
	char *tok = read_token("ear-token-sample-valid-until-2100.jwt");
	struct jwk *k = fixture_key();
	char *path = write_jwks(k, "issuer-1", "ES256");

	(void)state;
	cfg_with(&cfg, NULL, strdup(path));
	struct kbs_tokver *t = tokver_for(&cfg);
	assert_int_equal(verify(t, tok, why, sizeof(why), NULL), KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "x5c: token signer not trusted"));
	kbs_tokver_free(t);
	kbs_config_release(&cfg);
	unlink(path);
	free(path);
	free(tok);
	jwk_free(k);
}

static void test_startup_needs_trust_material(void **state)
{
	struct kbs_config cfg;
	struct kbs_tokver *t = NULL;
	char err[400] = "";

	(void)state;
	kbs_config_init(&cfg);
	assert_int_equal(kbs_tokver_new(&cfg, NULL, 0, &t, err, sizeof(err)), KBS_ERR_INVAL);
	assert_null(t);
	assert_non_null(strstr(err, "no token issuer can be trusted"));
	cfg.insecure_header_jwk = true;
	assert_int_equal(kbs_tokver_new(&cfg, NULL, 0, &t, err, sizeof(err)), KBS_OK);
	kbs_tokver_free(t);
	kbs_config_release(&cfg);
	/* plain http sets and unreadable sets are start-up errors */
	cfg_with(&cfg, NULL, strdup("http://127.0.0.1:1/jwks.json"));
	assert_int_equal(kbs_tokver_new(&cfg, NULL, 0, &t, err, sizeof(err)), KBS_ERR_INVAL);
	assert_non_null(strstr(err, "only https://"));
	kbs_config_release(&cfg);
	cfg_with(&cfg, NULL, strdup("/nonexistent/jwks.json"));
	assert_int_equal(kbs_tokver_new(&cfg, NULL, 0, &t, err, sizeof(err)), KBS_ERR_IO);
	kbs_config_release(&cfg);
	kbs_tokver_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_trustee_endorsement_scenarios),
	    cmocka_unit_test(test_endorsement_needs_the_right_anchor),
	    cmocka_unit_test(test_x5c_base64_leniency),
	    cmocka_unit_test(test_ear_token_through_trusted_certs),
	    cmocka_unit_test(test_header_jwk_must_be_the_leaf),
	    cmocka_unit_test(test_trusted_jwk_set_by_kid),
	    cmocka_unit_test(test_header_jwk_without_anchors),
	    cmocka_unit_test(test_startup_needs_trust_material),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
