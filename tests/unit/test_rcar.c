// SPDX-License-Identifier: Apache-2.0
/*
 * Broker protocol logic without a network: /auth and /attest bodies against the recorded
 * guest-components requests, runtime-data digests against the binding vectors, challenge and
 * attest-response parsing, KBS error-type mapping, token expiry and retry backoff.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attester/attester.h"
#include "broker/rcar.h"
#include "common/b64.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "testdata.h"

/* Reads $KBS_TEST_DATA/<rel> (tests/testdata.h). */
static char *read_data(const char *rel, size_t *len)
{
	return td_read_file(".", rel, len);
}

static json_t *load_json(const char *rel)
{
	size_t n;
	char *t = read_data(rel, &n);
	json_t *j = NULL;

	assert_int_equal(json_parse(t, n, 1 << 20, &j, NULL), KBS_OK);
	free(t);
	return j;
}

/* Strips a trailing newline so recorded one-line files compare byte-exact. */
static size_t chomp(char *s, size_t n)
{
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return n;
}

/* --- auth ------------------------------------------------------------------------------ */

static void auth_body_matches_guest_client_without_sm3(void **state)
{
	struct buf b = BUF_INIT;
	size_t n;
	char *rec = read_data("broker/auth-request-sample.json", &n);
	json_t *j = NULL, *algs;
	char *expect;

	assert_int_equal(rcar_auth_body("sample", &b), KBS_OK);
	/* the recorded request advertises sm3, which we cannot compute: same bytes minus it */
	assert_int_equal(json_parse(rec, chomp(rec, n), 4096, &j, NULL), KBS_OK);
	assert_int_equal(json_get_array(j, "extra-params.supported-hash-algorithms", &algs, NULL),
			 KBS_OK);
	assert_string_equal(json_string_value(json_array_get(algs, 3)), "sm3");
	json_array_remove(algs, 3);
	expect = json_dump_compact(j, &n);
	assert_string_equal((const char *)b.p, expect);
	free(expect);
	json_decref(j);
	free(rec);
	buf_release(&b);
}

/* --- challenge ------------------------------------------------------------------------- */

static void challenge_with_selected_hash(void **state)
{
	size_t n;
	char *t = read_data("broker/challenge-example.json", &n);
	char *nonce = NULL;
	enum rcar_hash h = RCAR_HASH_SHA256;

	assert_int_equal(rcar_parse_challenge(t, n, &nonce, &h), KBS_OK);
	assert_string_equal(nonce, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
	assert_int_equal(h, RCAR_HASH_SHA384);
	free(nonce);
	free(t);
}

static void challenge_cases(void **state)
{
	static const struct {
		const char *body;
		int rc;
		enum rcar_hash h;
	} cases[] = {
		/* Trustee: extra-params is "" for every TEE but se -> default SHA-384 */
		{"{\"nonce\":\"abc\",\"extra-params\":\"\"}", KBS_OK, RCAR_HASH_SHA384},
		{"{\"nonce\":\"abc\"}", KBS_OK, RCAR_HASH_SHA384},
		{"{\"nonce\":\"abc\",\"extra-params\":{\"selected-hash-algorithm\":\"SHA512\"}}",
		 KBS_OK, RCAR_HASH_SHA512},
		{"{\"nonce\":\"abc\",\"extra-params\":{\"selected-hash-algorithm\":\"sha256\"}}",
		 KBS_OK, RCAR_HASH_SHA256},
		{"{\"nonce\":\"abc\",\"extra-params\":{\"selected-hash-algorithm\":\"sm3\"}}",
		 KBS_ERR_UNSUPPORTED, 0},
		{"{\"nonce\":\"abc\",\"extra-params\":{\"selected-hash-algorithm\":\"md5\"}}",
		 KBS_ERR_UNSUPPORTED, 0},
		{"{\"nonce\":\"abc\",\"extra-params\":{\"selected-hash-algorithm\":1}}",
		 KBS_ERR_PROTOCOL, 0},
		{"{\"nonce\":\"\"}", KBS_ERR_PROTOCOL, 0},
		{"{\"nonce\":5}", KBS_ERR_PROTOCOL, 0},
		{"{\"extra-params\":\"\"}", KBS_ERR_PROTOCOL, 0},
		{"[\"nonce\"]", KBS_ERR_PARSE, 0},
		{"{\"nonce\":\"a\",\"nonce\":\"b\"}", KBS_ERR_PARSE, 0},
		{"{\"nonce\":\"abc\"} x", KBS_ERR_PARSE, 0},
		{"", KBS_ERR_PARSE, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *nonce = NULL;
		enum rcar_hash h = 99;
		int rc = rcar_parse_challenge(cases[i].body, strlen(cases[i].body), &nonce, &h);

		if (rc != cases[i].rc)
			fail_msg("case %zu (%s): rc %d, want %d", i, cases[i].body, rc,
				 cases[i].rc);
		if (rc == KBS_OK) {
			assert_int_equal(h, cases[i].h);
			assert_string_equal(nonce, "abc");
		} else {
			assert_null(nonce);
		}
		free(nonce);
	}
}

/* --- runtime data ---------------------------------------------------------------------- */

static void runtime_digest_matches_binding_vector(void **state)
{
	json_t *v = load_json("runtime-data/runtime-data-binding.json"), *key;
	const char *nonce;
	static const struct {
		const char *name;
		enum rcar_hash h;
		size_t len;
	} algs[] = {{"sha256", RCAR_HASH_SHA256, 32},
		    {"sha384", RCAR_HASH_SHA384, 48},
		    {"sha512", RCAR_HASH_SHA512, 64}};

	assert_int_equal(json_get_string(v, "nonce", &nonce, NULL), KBS_OK);
	assert_int_equal(json_get_object(v, "tee_pubkey", &key, NULL), KBS_OK);
	for (size_t i = 0; i < 3; i++) {
		json_t *entry = json_object_get(json_object_get(v, "by_alg"), algs[i].name);
		const char *want = json_string_value(json_object_get(entry, "primary_digest_hex"));
		uint8_t d[64];
		char hex[129];
		size_t n = 0;

		assert_non_null(want);
		assert_int_equal(rcar_runtime_digest(nonce, key, "", algs[i].h, d, &n), KBS_OK);
		assert_int_equal(n, algs[i].len);
		assert_int_equal(hex_encode(d, n, hex, sizeof(hex)), KBS_OK);
		assert_string_equal(hex, want);
	}
	/* the nonce is bound: one changed character changes the digest */
	{
		uint8_t a[64], b[64];
		size_t n;

		assert_int_equal(rcar_runtime_digest(nonce, key, "", RCAR_HASH_SHA384, a, &n), 0);
		assert_int_equal(rcar_runtime_digest("BAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
						     key, "", RCAR_HASH_SHA384, b, &n),
				 0);
		assert_memory_not_equal(a, b, 48);
	}
	json_decref(v);
}

static void attest_body_matches_recorded_request(void **state)
{
	json_t *v = load_json("runtime-data/runtime-data-binding.json"), *key, *ev = NULL;
	const char *nonce;
	struct buf b = BUF_INIT;
	uint8_t d[64];
	size_t n, rn;
	char *rec = read_data("broker/attest-request-sample.json", &rn);

	rn = chomp(rec, rn);
	assert_int_equal(json_get_string(v, "nonce", &nonce, NULL), KBS_OK);
	assert_int_equal(json_get_object(v, "tee_pubkey", &key, NULL), KBS_OK);
	assert_int_equal(rcar_runtime_digest(nonce, key, "", RCAR_HASH_SHA384, d, &n), KBS_OK);
	assert_int_equal(attester_get_evidence(ATTESTER_TEE_SAMPLE, d, n, &ev), KBS_OK);
	assert_int_equal(rcar_attest_body(NULL, nonce, key, ev, "", &b), KBS_OK);
	assert_int_equal(b.len, rn);
	assert_memory_equal(b.p, rec, rn);

	/* with init-data the TOML travels as {"format":"toml","body":...} */
	buf_reset(&b);
	assert_int_equal(rcar_attest_body("version = \"0.1.0\"\n", nonce, key, ev, "", &b), 0);
	assert_non_null(strstr((const char *)b.p, "{\"init-data\":{\"format\":\"toml\",\"body\":"
						  "\"version = \\\"0.1.0\\\"\\n\"},"));
	buf_release(&b);
	json_decref(ev);
	json_decref(v);
	free(rec);
}

/* --- attest response ------------------------------------------------------------------- */

static void attest_response_cases(void **state)
{
	static const struct {
		const char *body;
		int rc;
	} cases[] = {
		{"{\"token\":\"aaa.bbb.ccc\"}", KBS_OK},
		{"{\"token\":\"aaa.bbb.ccc\",\"tee_keypair\":\"x\"}", KBS_OK},
		{"{\"token\":\"\"}", KBS_ERR_PROTOCOL},
		{"{\"token\":null}", KBS_ERR_PROTOCOL},
		{"{\"tok\":\"aaa.bbb.ccc\"}", KBS_ERR_PROTOCOL},
		/* would split the Authorization header: refused */
		{"{\"token\":\"aaa.bbb.ccc\\r\\nX-Evil: 1\"}", KBS_ERR_PROTOCOL},
		{"{\"token\":\"aaa bbb\"}", KBS_ERR_PROTOCOL},
		{"\"aaa.bbb.ccc\"", KBS_ERR_PARSE},
		{"{\"token\":\"a.b.c\"", KBS_ERR_PARSE},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *tok = NULL;
		int rc = rcar_parse_attest_response(cases[i].body, strlen(cases[i].body), &tok);

		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d want %d", i, rc, cases[i].rc);
		if (rc == KBS_OK)
			assert_string_equal(tok, "aaa.bbb.ccc");
		else
			assert_null(tok);
		free(tok);
	}
}

/* --- errors ---------------------------------------------------------------------------- */

#define KBS_ERR_URL "https://github.com/confidential-containers/kbs/errors/"

static void error_body_parsing(void **state)
{
	char type[64], detail[256];
	const char *b = "{\"type\":\"" KBS_ERR_URL "PolicyDeny\",\"detail\":\"Access denied by "
			"policy\"}";
	char big[1200];

	assert_int_equal(rcar_parse_error(b, strlen(b), type, sizeof(type), detail,
					  sizeof(detail)),
			 KBS_OK);
	assert_string_equal(type, "PolicyDeny");
	assert_string_equal(detail, "Access denied by policy");

	/* no detail member is fine; a non-string detail is not */
	b = "{\"type\":\"TokenNotFound\"}";
	assert_int_equal(rcar_parse_error(b, strlen(b), type, sizeof(type), detail,
					  sizeof(detail)),
			 KBS_OK);
	assert_string_equal(type, "TokenNotFound");
	assert_string_equal(detail, "");
	b = "{\"type\":\"x\",\"detail\":3}";
	assert_int_equal(rcar_parse_error(b, strlen(b), type, 64, detail, 256), KBS_ERR_PARSE);
	b = "{\"detail\":\"x\"}";
	assert_int_equal(rcar_parse_error(b, strlen(b), type, 64, detail, 256), KBS_ERR_PARSE);
	b = "Unauthorized";
	assert_int_equal(rcar_parse_error(b, strlen(b), type, 64, detail, 256), KBS_ERR_PARSE);
	assert_string_equal(type, "");

	/* long and control-character details are truncated and neutralised */
	snprintf(big, sizeof(big), "{\"type\":\"%s\",\"detail\":\"line1\\nline2", "T");
	for (size_t i = strlen(big); i < sizeof(big) - 3; i++)
		big[i] = 'a';
	big[sizeof(big) - 3] = '"';
	big[sizeof(big) - 2] = '}';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(rcar_parse_error(big, strlen(big), type, sizeof(type), detail,
					  sizeof(detail)),
			 KBS_OK);
	assert_int_equal(strlen(detail), sizeof(detail) - 1);
	assert_non_null(strstr(detail, "line1 line2"));
}

static void error_type_decides_not_status(void **state)
{
	static const struct {
		long status;
		const char *type;
		int err;
		enum rcar_action act;
	} cases[] = {
		{401, "PolicyDeny", KBS_ERR_DENIED, RCAR_ACT_FAIL},
		/* Trustee's only signal for a missing resource */
		{401, "PluginInternalError", KBS_ERR_NOTFOUND, RCAR_ACT_FAIL},
		{404, "ResourceNotFound", KBS_ERR_NOTFOUND, RCAR_ACT_FAIL},
		{404, "PluginNotFound", KBS_ERR_NOTFOUND, RCAR_ACT_FAIL},
		{401, "TokenNotFound", KBS_ERR_AUTH, RCAR_ACT_REATTEST},
		{401, "TokenVerifierError", KBS_ERR_AUTH, RCAR_ACT_REATTEST},
		{401, "ExpiredCookie", KBS_ERR_AUTH, RCAR_ACT_REATTEST},
		{401, "AttestationError", KBS_ERR_AUTH, RCAR_ACT_FAIL},
		{401, "JweError", KBS_ERR_CRYPTO, RCAR_ACT_FAIL},
		{401, "AdminAuthAccess", KBS_ERR_PERM, RCAR_ACT_FAIL},
		/* a policy denial is a denial whatever the status says */
		{403, "PolicyDeny", KBS_ERR_DENIED, RCAR_ACT_FAIL},
		{200, "PolicyDeny", KBS_ERR_DENIED, RCAR_ACT_FAIL},
		/* unknown types with 401: refused, but not a reason to re-attest */
		{401, "SerdeError", KBS_ERR_AUTH, RCAR_ACT_FAIL},
		/* no KBS body: the status is all there is */
		{401, "", KBS_ERR_AUTH, RCAR_ACT_REATTEST},
		{403, "", KBS_ERR_DENIED, RCAR_ACT_FAIL},
		{404, "", KBS_ERR_NOTFOUND, RCAR_ACT_FAIL},
		{502, "", KBS_ERR_UNAVAILABLE, RCAR_ACT_RETRY},
		{503, "", KBS_ERR_UNAVAILABLE, RCAR_ACT_RETRY},
		{504, "", KBS_ERR_UNAVAILABLE, RCAR_ACT_RETRY},
		{429, "", KBS_ERR_UNAVAILABLE, RCAR_ACT_RETRY},
		{500, "", KBS_ERR_UNAVAILABLE, RCAR_ACT_FAIL},
		{418, "", KBS_ERR_PROTOCOL, RCAR_ACT_FAIL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum rcar_action act = 42;
		int err = rcar_classify(cases[i].status, cases[i].type, &act);

		if (err != cases[i].err || act != cases[i].act)
			fail_msg("%ld/%s: got %s/%d want %s/%d", cases[i].status, cases[i].type,
				 kbs_errname(err), act, kbs_errname(cases[i].err), cases[i].act);
	}
	/* NULL type behaves as "" */
	assert_int_equal(rcar_classify(404, NULL, NULL), KBS_ERR_NOTFOUND);
}

/* --- token expiry ---------------------------------------------------------------------- */

static void token_exp_from_recorded_tokens(void **state)
{
	size_t n;
	char *t = read_data("broker/ear-token-sample-valid-until-2100.jwt", &n);
	int64_t exp = 0;

	n = chomp(t, n);
	assert_int_equal(rcar_token_exp(t, n, &exp), KBS_OK);
	assert_int_equal(exp, 4102444800LL);
	free(t);
	t = read_data("broker/ear-token-sample-expired.jwt", &n);
	n = chomp(t, n);
	assert_int_equal(rcar_token_exp(t, n, &exp), KBS_OK);
	assert_int_equal(exp, 1760426434LL);
	assert_false(rcar_token_fresh(exp, 1760426434LL, 0));
	assert_true(rcar_token_fresh(exp, 1760426434LL - 31, 30));
	free(t);
}

static void token_exp_rejects_non_jwts(void **state)
{
	int64_t exp = 7;
	/* payload {"iat":1} (no exp) and {"exp":"soon"} */
	const char *noexp = "eyJhbGciOiJFUzI1NiJ9.eyJpYXQiOjF9.c2ln";
	const char *strexp = "eyJhbGciOiJFUzI1NiJ9.eyJleHAiOiJzb29uIn0.c2ln";
	const char *padded = "eyJhbGciOiJFUzI1NiJ9.eyJpYXQiOjF9=.c2ln";

	assert_int_equal(rcar_token_exp(noexp, strlen(noexp), &exp), KBS_ERR_NOTFOUND);
	assert_int_equal(rcar_token_exp(strexp, strlen(strexp), &exp), KBS_ERR_NOTFOUND);
	assert_int_equal(rcar_token_exp(padded, strlen(padded), &exp), KBS_ERR_PARSE);
	assert_int_equal(rcar_token_exp("abc", 3, &exp), KBS_ERR_PARSE);
	assert_int_equal(rcar_token_exp("a.b", 3, &exp), KBS_ERR_PARSE);
	assert_int_equal(rcar_token_exp("a.b.c.d", 7, &exp), KBS_ERR_PARSE);
	/* payload "W10" = [] is JSON but not an object */
	assert_int_equal(rcar_token_exp("x.W10.y", 7, &exp), KBS_ERR_PARSE);
	assert_int_equal(exp, 7);
}

static void token_freshness_margin(void **state)
{
	assert_true(rcar_token_fresh(1000, 900, 30));
	assert_true(rcar_token_fresh(1000, 969, 30));
	/* inside the margin: refresh now rather than risk a 401 mid-flight */
	assert_false(rcar_token_fresh(1000, 970, 30));
	assert_false(rcar_token_fresh(1000, 1000, 0));
	assert_false(rcar_token_fresh(1000, 2000, 30));
	/* negative margins count as 0, extreme values do not overflow */
	assert_true(rcar_token_fresh(1000, 999, -5));
	assert_false(rcar_token_fresh(INT64_MAX, INT64_MAX - 1, 30));
	assert_true(rcar_token_fresh(INT64_MAX, 0, 30));
}

/* --- backoff --------------------------------------------------------------------------- */

static void backoff_grows_capped_with_jitter(void **state)
{
	/* rnd 0 gives the lower edge (half the step), UINT32_MAX the upper edge (the step) */
	assert_int_equal(rcar_backoff_ms(0, 200, 5000, 0), 100);
	assert_int_equal(rcar_backoff_ms(0, 200, 5000, UINT32_MAX), 200);
	assert_int_equal(rcar_backoff_ms(1, 200, 5000, 0), 200);
	assert_int_equal(rcar_backoff_ms(1, 200, 5000, UINT32_MAX), 400);
	assert_int_equal(rcar_backoff_ms(3, 200, 5000, UINT32_MAX), 1600);
	assert_int_equal(rcar_backoff_ms(4, 200, 5000, UINT32_MAX), 3200);
	/* capped */
	assert_int_equal(rcar_backoff_ms(5, 200, 5000, UINT32_MAX), 5000);
	assert_int_equal(rcar_backoff_ms(5, 200, 5000, 0), 2500);
	assert_int_equal(rcar_backoff_ms(1000000, 200, 5000, UINT32_MAX), 5000);
	assert_int_equal(rcar_backoff_ms(INT32_MAX, 200, 5000, 0), 2500);
	/* jitter: the middle of the random range lands in the middle of the window */
	{
		long m = rcar_backoff_ms(2, 200, 5000, 0x80000000u);

		assert_true(m > 400 && m < 800);
	}
	/* every delay stays inside [step/2, step] for any random value */
	for (int a = 0; a < 12; a++) {
		for (uint32_t r = 0; r < 0xF0000000u; r += 0x0F000000u) {
			long d = rcar_backoff_ms(a, 100, 3000, r);

			assert_true(d >= 50 && d <= 3000);
		}
	}
	/* degenerate settings still produce a positive delay */
	assert_true(rcar_backoff_ms(0, 0, 0, 0) >= 1);
	assert_int_equal(rcar_backoff_ms(3, 1000, 10, UINT32_MAX), 1000);
}

/* --- resource paths -------------------------------------------------------------------- */

static void resource_path_rules(void **state)
{
	/* Trustee's table (kbs-protocol §8) plus traversal attempts */
	static const struct {
		const char *p;
		bool ok;
	} cases[] = {
		{"default/1/2", true},
		{"repo/type/tag", true},
		{"123--_default/1Abff-_/___-afds44BC", true},
		{"1.ok/2ok./3...", true},
		{"/1/2", false},
		{"/repo/type/tag", false},
		{"1/2", false},
		{".1.ok/2ok./3...", false},
		{"1.ok/.2ok./3...", false},
		{"1.ok/2ok./.3...", false},
		{"a/../b", false},
		{"a/b/..", false},
		{"a/b/c/d", false},
		{"a//b", false},
		{"a/b/c/", false},
		{"a/b/c%2f", false},
		{"a/b/c?x=1", false},
		{"a/b/c d", false},
		{"", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (rcar_resource_path_valid(cases[i].p) != cases[i].ok)
			fail_msg("path '%s' expected %s", cases[i].p, cases[i].ok ? "ok" : "bad");
	assert_false(rcar_resource_path_valid(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(auth_body_matches_guest_client_without_sm3),
		cmocka_unit_test(challenge_with_selected_hash),
		cmocka_unit_test(challenge_cases),
		cmocka_unit_test(runtime_digest_matches_binding_vector),
		cmocka_unit_test(attest_body_matches_recorded_request),
		cmocka_unit_test(attest_response_cases),
		cmocka_unit_test(error_body_parsing),
		cmocka_unit_test(error_type_decides_not_status),
		cmocka_unit_test(token_exp_from_recorded_tokens),
		cmocka_unit_test(token_exp_rejects_non_jwts),
		cmocka_unit_test(token_freshness_margin),
		cmocka_unit_test(backoff_grows_capped_with_jitter),
		cmocka_unit_test(resource_path_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
