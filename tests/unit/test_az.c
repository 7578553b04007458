// SPDX-License-Identifier: Apache-2.0
/*
 * az-snp-vtpm / az-tdx-vtpm: every Azure evidence sample of Trustee's test data (v0, v1, v2,
 * Genoa; TDX v0, v1) verifies with Trustee's report data and yields Trustee's asserted claims;
 * the hcl-report.bin fixtures with their TPM quotes verify, and each corruption Trustee's tests
 * make (TCB byte, runtime-claims byte, AKpub byte, TPM signature, nonce, PCR, TD quote report
 * data) is refused with the check named; user-data and init-data (PCR 8) bindings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testdata.h"
#include "common/b64.h"
#include "common/err.h"
#include "server/as/az_vtpm.h"
#include "server/as/verifier.h"
#include "server/as/verifier_az.h"

static struct snp_verifier *snp;
static struct tdx_verifier *tdx;

static int setup(void **state)
{
	char why[256];

	(void)state;
	if (snp_verifier_new(&(struct snp_verifier_config){0}, &snp, why, sizeof(why)) ||
	    tdx_verifier_new(&(struct tdx_verifier_config){0}, &tdx, why, sizeof(why)))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	snp_verifier_free(snp);
	tdx_verifier_free(tdx);
	return 0;
}

static json_t *load(const char *rel)
{
	size_t n;
	char *p = td_read_file("az", rel, &n);
	json_t *j = json_loadb(p, n, 0, NULL);

	free(p);
	assert_non_null(j);
	return j;
}

static void unhex(const char *h, uint8_t *out, size_t *n)
{
	assert_int_equal(hex_decode(h, strlen(h), out, 64, n), KBS_OK);
}

static int run(int is_tdx, const json_t *ev, const uint8_t *rd, size_t rdlen, json_t **claims,
	       char *why, size_t whylen)
{
	struct as_verify_input in = {.evidence = ev, .report_data = rd, .report_data_len = rdlen};
	json_t *c = NULL;
	int rc = is_tdx ? az_tdx_verify(tdx, &in, &c, why, whylen)
			: az_snp_verify(snp, &in, &c, why, whylen);

	if (claims)
		*claims = c;
	else
		json_decref(c);
	return rc;
}

static void expect(int is_tdx, const json_t *ev, const uint8_t *rd, size_t rdlen,
		   const char *needle)
{
	char why[256] = "";

	assert_int_not_equal(run(is_tdx, ev, rd, rdlen, NULL, why, sizeof(why)), KBS_OK);
	if (!strstr(why, needle))
		fail_msg("expected '%s' in '%s'", needle, why);
}

static const char *claim(const json_t *c, const char *k)
{
	return json_string_value(json_object_get(c, k));
}

static const char *pcr(const json_t *c, const char *k)
{
	return json_string_value(json_object_get(json_object_get(c, "tpm"), k));
}

static void snp_samples_give_trustee_claims(void **state)
{
	static const struct {
		const char *file, *rd_hex, *pcr00;
	} cases[] = {
	    {"snp/evidence-v0.json", "6368616c6c656e6765",
	     "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced"},
	    {"snp/evidence-v1.json", "6368616c6c656e6765",
	     "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced"},
	    {"snp/evidence-v2.json",
	     "982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338748cd0fd"
	     "9f5f819ef",
	     "84275b2f4312cd4fc6cbe6b152ad3c3683e513d9f1e23c34fca160c8cca7a6a7"},
	    {"snp/evidence-genoa.json",
	     "0218488bae25d2509232bf676f1a66a30d7372add909109b36016ef136f2938ca05475f8b46094de6b642"
	     "70ea35d950f",
	     "afd689d0bb1c5f36f023fbaf574135f555a28a10c1f6b938d2a25e70c7783338"},
	};
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *ev = load(cases[i].file), *c = NULL;
		uint8_t rd[64];
		size_t n;

		unhex(cases[i].rd_hex, rd, &n);
		if (run(0, ev, rd, n, &c, why, sizeof(why)) != KBS_OK)
			fail_msg("%s: %s", cases[i].file, why);
		assert_string_equal(claim(c, "report_data"), cases[i].rd_hex);
		assert_string_equal(pcr(c, "pcr00"), cases[i].pcr00);
		assert_int_equal(json_object_size(json_object_get(c, "tpm")), 24);
		assert_string_equal(claim(c, "init_data"), pcr(c, "pcr08"));
		/* SNP values are strings here (unlike the snp verifier) */
		assert_true(json_is_string(json_object_get(c, "reported_tcb_snp")));
		assert_true(strcmp(claim(c, "policy_debug_allowed"), "false") == 0 ||
			    strcmp(claim(c, "policy_debug_allowed"), "true") == 0);
		assert_int_equal(strlen(claim(c, "measurement")), 64); /* base64 of 48 bytes */
		assert_null(json_object_get(c, "chip_id"));
		json_decref(c);
		/* a reversed nonce */
		for (size_t k = 0; k < n / 2; k++) {
			uint8_t t = rd[k];

			rd[k] = rd[n - 1 - k];
			rd[n - 1 - k] = t;
		}
		expect(0, ev, rd, n, "vTPM quote nonce does not match the report data");
		expect(0, ev, NULL, 0, "report data must be provided");
		json_decref(ev);
	}
}

/* v1 evidence from the separate fixtures: hcl-report.bin + tpm-quote-v1.json (+ vcek.pem). */
static json_t *fixture(int is_tdx, const uint8_t *hcl, size_t hl)
{
	json_t *ev = json_object();
	char *s = NULL;

	json_object_set_new(ev, "version", json_integer(1));
	json_object_set_new(ev, "tpm_quote", load(is_tdx ? "tdx/tpm-quote-v1.json"
							 : "snp/tpm-quote-v1.json"));
	assert_int_equal(b64_encode_alloc(hcl, hl, B64_URL, &s), KBS_OK);
	json_object_set_new(ev, "hcl_report", json_string(s));
	free(s);
	if (is_tdx) {
		size_t n;
		uint8_t *q = td_read_file("az", "tdx/td-quote.bin", &n);

		assert_int_equal(b64_encode_alloc(q, n, B64_URL, &s), KBS_OK);
		json_object_set_new(ev, "td_quote", json_string(s));
		free(s);
		free(q);
	} else {
		size_t n;
		char *pem = td_read_file("az", "snp/vcek.pem", &n);
		BIO *b = BIO_new_mem_buf(pem, (int)n);
		X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
		unsigned char *der = NULL;
		int dl = i2d_X509(x, &der);

		assert_true(dl > 0);
		assert_int_equal(b64_encode_alloc(der, (size_t)dl, B64_URL, &s), KBS_OK);
		json_object_set_new(ev, "vcek", json_string(s));
		free(s);
		OPENSSL_free(der);
		X509_free(x);
		BIO_free(b);
		free(pem);
	}
	return ev;
}

static const uint8_t challenge[] = "challenge";

static void snp_hcl_fixture_and_corruptions(void **state)
{
	size_t n;
	uint8_t *hcl = td_read_file("az", "snp/hcl-report.bin", &n);
	json_t *ev, *c = NULL;
	char why[256];
	static const struct {
		size_t off;
		int set; /* -1: +1 */
		const char *needle;
	} bad[] = {
	    /* REPORTED_TCB.snp: signed, so the signature check (before the TCB one) fails */
	    {0x1A6, 0, "report signature does not verify"},
	    {0x6E0, -1, "HCL variable data digest doesn't match SNP report data"},
	    {0x540, 0, "failed to get AKpub"},
	    {0x0, 'X', "signature is not 'HCLA'"},
	    {0x4C8, 4, "HCL report type 4 is not SNP"},
	    {0x2C0, -1, "report signature does not verify"}, /* SNP signature R */
	};

	(void)state;
	assert_int_equal(n, 2600);
	ev = fixture(0, hcl, n);
	if (run(0, ev, challenge, 9, &c, why, sizeof(why)) != KBS_OK)
		fail_msg("%s", why);
	assert_string_equal(claim(c, "report_data"), "6368616c6c656e6765");
	json_decref(c);
	json_decref(ev);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t keep = hcl[bad[i].off];

		hcl[bad[i].off] = bad[i].set < 0 ? (uint8_t)(keep + 1) : (uint8_t)bad[i].set;
		ev = fixture(0, hcl, n);
		expect(0, ev, challenge, 9, bad[i].needle);
		json_decref(ev);
		hcl[bad[i].off] = keep;
	}
	/* TPM quote: signature, nonce, PCR */
	ev = fixture(0, hcl, n);
	{
		json_t *q = json_object_get(ev, "tpm_quote");
		char *sig = strdup(json_string_value(json_object_get(q, "signature")));
		char *p0 = strdup(json_string_value(json_array_get(json_object_get(q, "pcrs"), 0)));

		char keep = sig[0];

		sig[0] = keep == '0' ? '1' : '0';
		json_object_set_new(q, "signature", json_string(sig));
		expect(0, ev, challenge, 9, "vTPM quote signature does not verify with HCLAkPub");
		sig[0] = keep;
		json_object_set_new(q, "signature", json_string(sig));
		expect(0, ev, (const uint8_t *)"egnellahc", 9, "nonce does not match");
		p0[1] = p0[1] == '0' ? '1' : '0';
		json_array_set_new(json_object_get(q, "pcrs"), 0, json_string(p0));
		expect(0, ev, challenge, 9, "pcrDigest does not match");
		free(sig);
		free(p0);
	}
	json_decref(ev);
	/* a swapped certificate: the Genoa VCEK for this Milan report */
	ev = fixture(0, hcl, n);
	{
		size_t pl;
		char *pem = td_read_file("az", "snp/vcek-genoa.pem", &pl), *s = NULL;
		BIO *b = BIO_new_mem_buf(pem, (int)pl);
		X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
		unsigned char *der = NULL;
		int dl = i2d_X509(x, &der);

		assert_int_equal(b64_encode_alloc(der, (size_t)dl, B64_URL, &s), KBS_OK);
		json_object_set_new(ev, "vcek", json_string(s));
		assert_int_not_equal(run(0, ev, challenge, 9, NULL, why, sizeof(why)), KBS_OK);
		assert_non_null(strstr(why, "snp"));
		free(s);
		OPENSSL_free(der);
		X509_free(x);
		BIO_free(b);
		free(pem);
	}
	json_decref(ev);
	free(hcl);
}

static void user_data_and_init_data(void **state)
{
	json_t *ev = load("snp/evidence-v2.json");
	struct az_evidence e;
	struct hcl_report h;
	uint8_t rd[64], d[32];
	size_t n;
	char why[256];

	(void)state;
	assert_int_equal(az_evidence_parse(ev, 0, &e, why, sizeof(why)), KBS_OK);
	assert_int_equal(e.version, 2);
	assert_int_equal(hcl_report_parse(e.hcl, e.hcl_len, &h, why, sizeof(why)), KBS_OK);
	unhex("982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338748cd"
	      "0fd9f5f819ef",
	      rd, &n);
	assert_int_equal(az_user_data_check(&h, rd, n, why, sizeof(why)), KBS_OK);
	unhex("123abc", rd, &n);
	assert_int_equal(az_user_data_check(&h, rd, n, why, sizeof(why)), KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "User-data in HCL variable data doesn't match report_data"));
	/* Trustee's init-data vector: PCR 8 = SHA-256(0^32 || digest) */
	unhex("bddaccb9c52249e97a31baea61b7d91be8221a16e703d92148d04fb8e9c1dfdd", e.pcrs[8], &n);
	unhex("8505e4e25e50a27c5dc8147af88efbece627fbea55291911eff832d9ee127781", d, &n);
	assert_int_equal(az_init_data_check(&e, d, 32, why, sizeof(why)), KBS_OK);
	d[0] ^= 1;
	assert_int_equal(az_init_data_check(&e, d, 32, why, sizeof(why)), KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "PCR 8 does not match"));
	az_evidence_release(&e);
	/* the full verifier with an init-data digest that PCR 8 does not carry */
	{
		struct as_verify_input in = {.evidence = ev,
					     .report_data = (const uint8_t[48]){0},
					     .report_data_len = 48,
					     .init_data_digest = d,
					     .init_data_digest_len = 32};
		json_t *c = NULL;

		unhex("982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa23387"
		      "48cd0fd9f5f819ef",
		      rd, &n);
		in.report_data = rd;
		assert_int_equal(az_snp_verify(snp, &in, &c, why, sizeof(why)), KBS_ERR_VERIFY);
		assert_non_null(strstr(why, "PCR 8 does not match"));
	}
	json_decref(ev);
}

static void tdx_samples_give_trustee_claims(void **state)
{
	static const char *const files[] = {"tdx/evidence-v0.json", "tdx/evidence-v1.json"};
	char why[256];

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		json_t *ev = load(files[i]), *c = NULL;

		if (run(1, ev, challenge, 9, &c, why, sizeof(why)) != KBS_OK)
			fail_msg("%s: %s", files[i], why);
		assert_string_equal(claim(c, "report_data"), "6368616c6c656e6765");
		assert_string_equal(pcr(c, "pcr00"),
				    "782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273");
		assert_string_equal(claim(c, "init_data"), pcr(c, "pcr08"));
		assert_non_null(json_object_get(json_object_get(c, "quote"), "body"));
		assert_string_equal(claim(c, "tcb_status"), "Unknown");
		json_decref(c);
		expect(1, ev, (const uint8_t *)"egnellahc", 9, "nonce does not match");
		json_decref(ev);
	}
}

static void tdx_hcl_fixture_and_corruptions(void **state)
{
	size_t n;
	uint8_t *hcl = td_read_file("az", "tdx/hcl-report.bin", &n);
	json_t *ev, *c = NULL;
	char why[256];

	(void)state;
	ev = fixture(1, hcl, n);
	if (run(1, ev, challenge, 9, &c, why, sizeof(why)) != KBS_OK)
		fail_msg("%s", why);
	assert_non_null(strstr(json_string_value(json_object_get(
				   json_object_get(json_object_get(c, "quote"), "body"), "mr_td")),
			       "024a32b0"));
	json_decref(c);
	json_decref(ev);
	hcl[0x880]++;
	ev = fixture(1, hcl, n);
	expect(1, ev, challenge, 9, "TDX Quote report data mismatch");
	json_decref(ev);
	hcl[0x880]--;
	hcl[0x4C8] = 2;
	ev = fixture(1, hcl, n);
	expect(1, ev, challenge, 9, "HCL report type 2 is not TDX");
	json_decref(ev);
	hcl[0x4C8] = 4;
	/* a flipped byte of the TD quote body */
	ev = fixture(1, hcl, n);
	{
		size_t ql;
		uint8_t *q = td_read_file("az", "tdx/td-quote.bin", &ql);
		char *s = NULL;

		q[48 + 136] ^= 1; /* MRTD */
		assert_int_equal(b64_encode_alloc(q, ql, B64_URL, &s), KBS_OK);
		json_object_set_new(ev, "td_quote", json_string(s));
		assert_int_not_equal(run(1, ev, challenge, 9, NULL, why, sizeof(why)), KBS_OK);
		assert_non_null(strstr(why, "quote signature"));
		free(s);
		free(q);
	}
	json_decref(ev);
	free(hcl);
}

static void table_entries(void **state)
{
	(void)state;
	assert_non_null(as_verifier_find("az-snp-vtpm"));
	assert_non_null(as_verifier_find("az-tdx-vtpm"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(snp_samples_give_trustee_claims),
	    cmocka_unit_test(snp_hcl_fixture_and_corruptions),
	    cmocka_unit_test(user_data_and_init_data),
	    cmocka_unit_test(tdx_samples_give_trustee_claims),
	    cmocka_unit_test(tdx_hcl_fixture_and_corruptions),
	    cmocka_unit_test(table_entries),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
