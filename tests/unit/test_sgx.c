// SPDX-License-Identifier: Apache-2.0
/*
 * SGX verifier (DCAP quote v3): Trustee's occlum_quote.dat verifies offline and gives exactly
 * the claims of Trustee's parse_sgx_claims test; wrong report data / init-data, every flipped
 * byte of the signed header+body and of the QE report, flipped keys and signatures, foreign
 * or reordered PCK chains, an expired PCK chain, TDX quotes and truncations are refused with
 * the failed check named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcap_testutil.h"
#include "testdata.h"
#include "common/b64.h"
#include "common/err.h"
#include "server/as/sgx_quote.h"
#include "server/as/tdx_quote.h"
#include "server/as/verifier.h"
#include "server/as/verifier_sgx.h"
#include "server/as/verifier_tdx.h"

#define NOW_2026 ((time_t)1767225600) /* 2026-01-01: inside the sample's PCK validity */
#define NOW_2031 ((time_t)1924992000) /* 2031-01-01: the PCK leaf expired in 2030 */

static uint8_t *sample(size_t *len)
{
	return td_read_file("sgx", "occlum_quote.dat", len);
}

static struct tdx_verifier *verifier_at(time_t now)
{
	struct tdx_verifier_config cfg = {.now = now};
	struct tdx_verifier *v = NULL;
	char why[256];

	assert_int_equal(tdx_verifier_new(&cfg, &v, why, sizeof(why)), KBS_OK);
	return v;
}

static int run(const struct tdx_verifier *v, const uint8_t *q, size_t n, const uint8_t *rd,
	       size_t rdlen, const uint8_t *id, size_t idlen, json_t **claims, char *why,
	       size_t whylen)
{
	char *b = NULL;
	json_t *ev, *c = NULL;
	int rc;

	assert_int_equal(b64_encode_alloc(q, n, B64_STD, &b), KBS_OK);
	ev = json_pack("{s:s}", "quote", b);
	free(b);
	struct as_verify_input in = {.evidence = ev,
				     .report_data = rd,
				     .report_data_len = rdlen,
				     .init_data_digest = id,
				     .init_data_digest_len = idlen};
	why[0] = 0;
	rc = sgx_verifier_verify(v, &in, &c, why, whylen);
	json_decref(ev);
	if (rc == KBS_OK)
		assert_non_null(c);
	else
		assert_true(why[0] != 0);
	if (claims)
		*claims = c;
	else
		json_decref(c);
	return rc;
}

static void expect_fail(const struct tdx_verifier *v, const uint8_t *q, size_t n,
			const char *needle)
{
	char why[256];

	assert_int_not_equal(run(v, q, n, NULL, 0, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
	if (!strstr(why, needle) || strncmp(why, "sgx", 3) != 0) {
		fprintf(stderr, "why='%s' lacks '%s'\n", why, needle);
		fail();
	}
}

static void occlum_quote_claims_equal_trustee_expected(void **state)
{
	struct tdx_verifier *v = verifier_at(NOW_2026);
	size_t n, en;
	uint8_t *q = sample(&n), zero64[64] = {0};
	char *et = td_read_file("sgx", "occlum_quote_claims_expected.json", &en);
	json_t *want = json_loadb(et, en, 0, NULL), *c = NULL;
	char why[256];

	(void)state;
	assert_non_null(want);
	/* Trustee's test enclave put "test" into REPORTDATA; CONFIGID is all zero */
	assert_int_equal(run(v, q, n, (const uint8_t *)"test", 4, zero64, 64, &c, why, sizeof(why)),
			 KBS_OK);
	assert_string_equal(json_string_value(json_object_get(c, "tcb_status")), "Unknown");
	json_object_del(c, "tcb_status");
	if (!json_equal(c, want)) {
		char *got = json_dumps(c, JSON_INDENT(1) | JSON_SORT_KEYS);
		fprintf(stderr, "claims: %s\n", got);
		free(got);
		fail();
	}
	json_decref(c);
	json_decref(want);
	free(et);
	free(q);
	tdx_verifier_free(v);
}

static void wrong_report_and_init_data_refused(void **state)
{
	struct tdx_verifier *v = verifier_at(NOW_2026);
	size_t n;
	uint8_t *q = sample(&n), one[64] = {1};
	char why[256];

	(void)state;
	assert_int_equal(run(v, q, n, (const uint8_t *)"tesT", 4, NULL, 0, NULL, why, sizeof(why)),
			 KBS_ERR_VERIFY);
	assert_string_equal(why, "sgx: REPORTDATA does not match the runtime data digest");
	assert_int_equal(run(v, q, n, (const uint8_t *)"test", 4, one, 32, NULL, why, sizeof(why)),
			 KBS_ERR_VERIFY);
	assert_string_equal(why, "sgx: CONFIGID does not match the init-data digest");
	free(q);
	tdx_verifier_free(v);
}

/* Every byte of the signed header+body, and of the QE report, flipped: refused. */
static void every_signed_byte_flip_refused(void **state)
{
	struct tdx_verifier *v = verifier_at(NOW_2026);
	size_t n, qe_off;
	uint8_t *q = sample(&n);
	struct dcap_quote tq;
	char why[256];

	(void)state;
	assert_int_equal(dcap_quote_parse(q, n, DCAP_TEE_SGX, &tq, why, sizeof(why)), KBS_OK);
	assert_int_equal(tq.signed_len, 48 + SGX_REPORT_BODY_LEN);
	qe_off = (size_t)(tq.qe_report - q);
	for (size_t i = 0; i < tq.signed_len; i++) {
		q[i] ^= 0x01;
		assert_int_not_equal(run(v, q, n, NULL, 0, NULL, 0, NULL, why, sizeof(why)),
				     KBS_OK);
		assert_true(strncmp(why, "sgx", 3) == 0);
		if (i >= 28) /* user data and the enclave report */
			assert_non_null(strstr(why, "quote signature does not verify"));
		else if (i >= 12)
			assert_non_null(strstr(why, "QE vendor id is not Intel's"));
		q[i] ^= 0x01;
	}
	for (size_t i = qe_off; i < qe_off + SGX_REPORT_BODY_LEN; i++) {
		q[i] ^= 0x80;
		expect_fail(v, q, n, "QE report signature");
		q[i] ^= 0x80;
	}
	q[tq.att_key - q] ^= 1;
	expect_fail(v, q, n, "QE report data does not bind the attestation key");
	q[tq.att_key - q] ^= 1;
	q[tq.qe_auth - q] ^= 1;
	expect_fail(v, q, n, "QE report data does not bind the attestation key");
	q[tq.qe_auth - q] ^= 1;
	q[tq.quote_sig - q + 40] ^= 1;
	expect_fail(v, q, n, "quote signature does not verify");
	q[tq.quote_sig - q + 40] ^= 1;
	q[tq.qe_report_sig - q + 3] ^= 1;
	expect_fail(v, q, n, "QE report signature");
	q[tq.qe_report_sig - q + 3] ^= 1;
	assert_int_equal(run(v, q, n, NULL, 0, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
	free(q);
	tdx_verifier_free(v);
}

static void wrong_roots_and_chains_refused(void **state)
{
	struct tdx_verifier *v = verifier_at(NOW_2026);
	size_t n, nn;
	uint8_t *q = sample(&n), *m;
	char *leaf = dcap_test_chain_cert(q, n, DCAP_TEE_SGX, 0);
	char *inter = dcap_test_chain_cert(q, n, DCAP_TEE_SGX, 1);
	char *root = dcap_test_chain_cert(q, n, DCAP_TEE_SGX, 2);
	char *fake = dcap_test_foreign_root(), chain[16384], why[256];

	(void)state;
	/* sanity: the same chain rebuilt keeps the quote valid */
	snprintf(chain, sizeof(chain), "%s%s%s", leaf, inter, root);
	m = dcap_test_with_chain(q, n, DCAP_TEE_SGX, chain, &nn);
	assert_int_equal(run(v, m, nn, NULL, 0, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
	free(m);
	snprintf(chain, sizeof(chain), "%s%s%s", leaf, inter, fake);
	m = dcap_test_with_chain(q, n, DCAP_TEE_SGX, chain, &nn);
	expect_fail(v, m, nn, "sgx: PCK chain root is not the Intel SGX Root CA");
	free(m);
	snprintf(chain, sizeof(chain), "%s%s%s", inter, leaf, root);
	m = dcap_test_with_chain(q, n, DCAP_TEE_SGX, chain, &nn);
	expect_fail(v, m, nn, "not signed by the Intel root");
	free(m);
	snprintf(chain, sizeof(chain), "%s%s", leaf, root);
	m = dcap_test_with_chain(q, n, DCAP_TEE_SGX, chain, &nn);
	expect_fail(v, m, nn, "sgx: PCK chain is not 3 PEM certificates");
	free(m);
	free(leaf);
	free(inter);
	free(root);
	free(fake);
	free(q);
	tdx_verifier_free(v);
}

static void expired_pck_chain_refused(void **state)
{
	struct tdx_verifier *v = verifier_at(NOW_2031);
	size_t n;
	uint8_t *q = sample(&n);

	(void)state;
	expect_fail(v, q, n, "sgx: PCK chain PCK leaf is expired or not yet valid");
	free(q);
	tdx_verifier_free(v);
}

static void tdx_quotes_and_truncations_refused(void **state)
{
	struct tdx_verifier *v = verifier_at(NOW_2026);
	size_t n, tn;
	uint8_t *q = sample(&n), *t = td_read_file("tdx", "tdx_quote_4.dat", &tn);
	struct dcap_quote tq;
	char why[256];

	(void)state;
	expect_fail(v, t, tn, "sgx quote: version 4 is not an SGX v3 quote");
	/* and the other way round: the TDX parser names an SGX quote */
	assert_int_equal(dcap_quote_parse(q, n, DCAP_TEE_TDX, &tq, why, sizeof(why)),
			 KBS_ERR_UNSUPPORTED);
	assert_non_null(strstr(why, "version 3 is an SGX quote"));
	for (size_t len = 0; len < n; len += (len < 1100 ? 1 : 97))
		assert_int_not_equal(dcap_quote_parse(q, len, DCAP_TEE_SGX, &tq, why, sizeof(why)),
				     KBS_OK);
	/* a TDX TEE type in a v3 header */
	q[4] = 0x81;
	assert_int_equal(dcap_quote_parse(q, n, DCAP_TEE_SGX, &tq, why, sizeof(why)),
			 KBS_ERR_UNSUPPORTED);
	assert_non_null(strstr(why, "TEE type 0x81 is not SGX"));
	free(t);
	free(q);
	tdx_verifier_free(v);
}

static void registered_as_cpu_tee(void **state)
{
	const struct as_verifier *a = as_verifier_find("sgx");
	const char *const *names = as_verifier_names();
	json_t *c = NULL, *ev = json_pack("{s:s}", "quote", "");
	struct as_verify_input in = {.evidence = ev};
	char why[256];
	int listed = 0;

	(void)state;
	assert_non_null(a);
	assert_string_equal(a->tee_class, "cpu");
	for (size_t i = 0; names[i]; i++)
		listed |= strcmp(names[i], "sgx") == 0;
	assert_true(listed);
	assert_int_equal(a->verify(&in, &c, why, sizeof(why)), KBS_ERR_PARSE);
	assert_null(c);
	json_decref(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(occlum_quote_claims_equal_trustee_expected),
	    cmocka_unit_test(wrong_report_and_init_data_refused),
	    cmocka_unit_test(every_signed_byte_flip_refused),
	    cmocka_unit_test(wrong_roots_and_chains_refused),
	    cmocka_unit_test(expired_pck_chain_refused),
	    cmocka_unit_test(tdx_quotes_and_truncations_refused),
	    cmocka_unit_test(registered_as_cpu_tee),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
