// SPDX-License-Identifier: Apache-2.0
/*
 * CCA verifier: Trustee's example CCA token verifies against Trustee's ta-store and gives the
 * realm/platform claims under Trustee's names; every byte of both signed payloads and of both
 * signatures flipped, another trust anchor, a wrong report data or init-data digest, a missing
 * report data, truncated tokens and trailing bytes are refused with the failed check named
 * (the CBOR reader's own refusals: test_cbor.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testdata.h"
#include "common/err.h"
#include "server/as/cca_token.h"
#include "server/as/verifier.h"
#include "server/as/verifier_cca.h"

static const char challenge_hex[] =
    "57e979ae2618de0c1ab73144c440d741cf9236dc9d52ed190053382a4d190252f9f0370403c35dcb155fb4362d"
    "73c66d5b0494bf939315d3dc52b8cdc8b85a96";

static void unhex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static json_t *evidence(const uint8_t *tok, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer(tok[i]));
	return json_pack("{s:o}", "token", a);
}

static int run(const char *store, const uint8_t *tok, size_t n, const uint8_t *rd, size_t rdlen,
	       const uint8_t *id, size_t idlen, json_t **claims, char *why, size_t whylen)
{
	json_t *ev = evidence(tok, n), *c = NULL;
	struct as_verify_input in = {.evidence = ev,
				     .report_data = rd,
				     .report_data_len = rdlen,
				     .init_data_digest = id,
				     .init_data_digest_len = idlen};
	int rc;

	why[0] = 0;
	rc = cca_verify_with_store(store, strlen(store), &in, &c, why, whylen);
	json_decref(ev);
	if (rc == KBS_OK)
		assert_non_null(c);
	else
		assert_true(strncmp(why, "cca", 3) == 0);
	if (claims)
		*claims = c;
	else
		json_decref(c);
	return rc;
}

static void expect_fail(const char *store, const uint8_t *tok, size_t n, const char *needle)
{
	uint8_t rd[64];
	char why[256];

	unhex(challenge_hex, rd, 64);
	assert_int_not_equal(run(store, tok, n, rd, 64, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
	if (!strstr(why, needle)) {
		fprintf(stderr, "why='%s' lacks '%s'\n", why, needle);
		fail();
	}
}

static void example_token_verifies_with_trustee_claims(void **state)
{
	size_t n;
	uint8_t *tok = td_read_file("cca", "cca-example-token.cbor", &n), rd[64], zero[64] = {0};
	char *store = td_read_file("cca", "tastore.json", NULL), why[256];
	json_t *c = NULL, *realm, *plat;

	(void)state;
	unhex(challenge_hex, rd, 64);
	assert_int_equal(run(store, tok, n, rd, 64, zero, 32, &c, why, sizeof(why)), KBS_OK);
	realm = json_object_get(c, "realm");
	plat = json_object_get(c, "platform");
	assert_string_equal(json_string_value(json_object_get(realm, "cca-realm-hash-algo-id")),
			    "sha-512");
	assert_string_equal(
	    json_string_value(json_object_get(realm, "cca-realm-initial-measurement")),
	    "rof79/EF5xp4J8tvCJaInHPSvq9IMNT5ywXj6Ww/"
	    "x7T6oEyvNqJr0JTPnHtzhhfkwYmq7hhN7dpdegPDnb2sfA==");
	assert_int_equal(
	    json_array_size(json_object_get(realm, "cca-realm-extensible-measurements")), 4);
	assert_string_equal(json_string_value(json_object_get(plat, "cca-platform-instance-id")),
			    "AQcGBQQDAgEADw4NDAsKCQgXFhUUExIREB8eHRwbGhkY");
	assert_string_equal(
	    json_string_value(json_object_get(plat, "cca-platform-implementation-id")),
	    "f0VMRgIBAQAAAAAAAAAAAAMAPgABAAAAUFgAAAAAAAA=");
	assert_string_equal(json_string_value(json_object_get(c, "report_data")), challenge_hex);
	/* Trustee's claim set: realm has these four members, platform these two */
	assert_int_equal(json_object_size(realm), 4);
	assert_int_equal(json_object_size(plat), 2);
	json_decref(c);
	/* evidence as the JSON text guest-components sends works the same */
	{
		json_t *ev = evidence(tok, n);
		char *txt = json_dumps(ev, JSON_COMPACT);
		json_t *sev = json_string(txt);
		struct as_verify_input in = {
		    .evidence = sev, .report_data = rd, .report_data_len = 64};
		assert_int_equal(
		    cca_verify_with_store(store, strlen(store), &in, &c, why, sizeof(why)), KBS_OK);
		json_decref(c);
		json_decref(sev);
		free(txt);
		json_decref(ev);
	}
	free(store);
	free(tok);
}

static void binding_failures_refused(void **state)
{
	size_t n;
	uint8_t *tok = td_read_file("cca", "cca-example-token.cbor", &n), rd[64], one[32] = {1};
	char *store = td_read_file("cca", "tastore.json", NULL), why[256];

	(void)state;
	unhex(challenge_hex, rd, 64);
	rd[63] ^= 1;
	assert_int_equal(run(store, tok, n, rd, 64, NULL, 0, NULL, why, sizeof(why)),
			 KBS_ERR_VERIFY);
	assert_string_equal(why, "cca: realm challenge does not match the runtime data digest");
	rd[63] ^= 1;
	assert_int_equal(run(store, tok, n, rd, 64, one, 32, NULL, why, sizeof(why)),
			 KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "personalization value does not match"));
	assert_int_equal(run(store, tok, n, NULL, 0, NULL, 0, NULL, why, sizeof(why)),
			 KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "report data is required"));
	free(store);
	free(tok);
}

/* Every byte of both signed payloads, protected headers and signatures flipped: refused. */
static void every_signed_byte_flip_refused(void **state)
{
	size_t n;
	uint8_t *tok = td_read_file("cca", "cca-example-token.cbor", &n);
	char *store = td_read_file("cca", "tastore.json", NULL), why[256];
	struct cca_token t;
	struct cca_bytes parts[6];
	uint8_t rd[64];

	(void)state;
	unhex(challenge_hex, rd, 64);
	assert_int_equal(cca_token_parse(tok, n, &t, why, sizeof(why)), KBS_OK);
	parts[0] = t.platform.prot;
	parts[1] = t.platform.payload;
	parts[2] = t.platform.sig;
	parts[3] = t.realm.prot;
	parts[4] = t.realm.payload;
	parts[5] = t.realm.sig;
	for (int k = 0; k < 6; k++) {
		size_t off = (size_t)(parts[k].p - tok);
		for (size_t i = off; i < off + parts[k].len; i++) {
			tok[i] ^= 0x01;
			assert_int_not_equal(
			    run(store, tok, n, rd, 64, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
			tok[i] ^= 0x01;
		}
	}
	/* named checks for a few representative bytes */
	size_t poff = (size_t)(t.p_challenge.p - tok), soff = (size_t)(t.platform.sig.p - tok);
	size_t roff = (size_t)(t.r_rim.p - tok), rsoff = (size_t)(t.realm.sig.p - tok);
	tok[soff + 5] ^= 1;
	expect_fail(store, tok, n, "platform token signature does not verify");
	tok[soff + 5] ^= 1;
	tok[poff] ^= 1;
	expect_fail(store, tok, n, "platform token signature does not verify");
	tok[poff] ^= 1;
	tok[roff] ^= 1;
	expect_fail(store, tok, n, "realm token signature does not verify");
	tok[roff] ^= 1;
	tok[rsoff + 70] ^= 1;
	expect_fail(store, tok, n, "realm token signature does not verify");
	tok[rsoff + 70] ^= 1;
	assert_int_equal(run(store, tok, n, rd, 64, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
	free(store);
	free(tok);
}

static void wrong_trust_anchors_refused(void **state)
{
	size_t n;
	uint8_t *tok = td_read_file("cca", "cca-example-token.cbor", &n);
	char *store = td_read_file("cca", "tastore.json", NULL);
	char other[2048];

	(void)state;
	/* the right instance id with another P-384 key: a foreign root of trust */
	snprintf(other, sizeof(other),
		 "[{\"pkey\":{\"crv\":\"P-384\",\"kty\":\"EC\","
		 "\"x\":\"QMzPhAt_FbFuiWep_DMvTK72E_VJPSqhaJvOcUFiGhQGMMNtqfvzAAPa4zvyZxQ2\","
		 "\"y\":\"SFwzMTAinsPxQTqvBQYN1gEl9Y_7W4n7KE6rbXUblepGpLAFTE9-BS4Yj1jUqrE4\"},"
		 "\"implementation-id\":"
		 "\"7f454c4602010100000000000000000003003e00010000005058000000000000\","
		 "\"instance-id\":"
		 "\"0107060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918\"}]");
	expect_fail(other, tok, n,
		    "cca: platform token signature does not verify with the trust anchor");
	/* no entry for this instance id */
	expect_fail("[]", tok, n, "cca: no trust anchor for platform instance id 0107060504");
	/* the right instance id, another implementation id */
	char *p = strstr(store, "7f454c46");
	assert_non_null(p);
	p[0] = '8';
	expect_fail(store, tok, n, "has another implementation id");
	free(store);
	free(tok);
}

static void malformed_cbor_refused(void **state)
{
	size_t n;
	uint8_t *tok = td_read_file("cca", "cca-example-token.cbor", &n);
	struct cca_token t;
	char why[256];

	(void)state;
	/* the reader's own refusals (indefinite lengths, floats, depth, duplicate keys): test_cbor */
	for (size_t len = 0; len < n; len += (len < 200 ? 1 : 53))
		assert_int_not_equal(cca_token_parse(tok, len, &t, why, sizeof(why)), KBS_OK);
	/* trailing bytes after the token */
	uint8_t *more = malloc(n + 1);
	memcpy(more, tok, n);
	more[n] = 0;
	assert_int_equal(cca_token_parse(more, n + 1, &t, why, sizeof(why)), KBS_ERR_PARSE);
	free(more);
	free(tok);
}

static void registered_and_fails_closed_without_config(void **state)
{
	const struct as_verifier *a = as_verifier_find("cca");
	json_t *ev = json_pack("{s:[i]}", "token", 1), *c = NULL;
	struct as_verify_input in = {.evidence = ev};
	char why[256];

	(void)state;
	assert_non_null(a);
	assert_string_equal(a->tee_class, "cpu");
	unsetenv("CCA_CONFIG_FILE");
	assert_int_not_equal(a->verify(&in, &c, why, sizeof(why)), KBS_OK);
	assert_non_null(strstr(why, "CCA_CONFIG_FILE"));
	assert_null(c);
	json_decref(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(example_token_verifies_with_trustee_claims),
	    cmocka_unit_test(binding_failures_refused),
	    cmocka_unit_test(every_signed_byte_flip_refused),
	    cmocka_unit_test(wrong_trust_anchors_refused),
	    cmocka_unit_test(malformed_cbor_refused),
	    cmocka_unit_test(registered_and_fails_closed_without_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
