// SPDX-License-Identifier: Apache-2.0
/*
 * Guest-side HCL report checks (attester/az_vtpm.c) on Trustee's recorded SNP and TDX HCL
 * reports, and the parsers of the Azure IMDS answers (attester/az_imds.c) on the recorded TD
 * quote and VCEK.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "attester/az_imds.h"
#include "attester/az_vtpm.h"
#include "common/b64.h"
#include "common/err.h"
#include "testdata.h"

static void recorded_snp_report_is_type_2(void **state)
{
	size_t len;
	uint8_t *b = td_read_file("attester/azure", "snp-hcl-report.bin", &len);
	uint32_t type = 0;

	(void)state;
	assert_int_equal(az_hcl_report_type(b, len, &type), KBS_OK);
	assert_int_equal(type, AZ_HCL_REPORT_TYPE_SNP);
	free(b);
}

static void bad_signature_short_or_overlong_vardata_rejected(void **state)
{
	size_t len;
	uint8_t *b = td_read_file("attester/azure", "snp-hcl-report.bin", &len);
	uint32_t type = 0;

	(void)state;
	assert_int_equal(az_hcl_report_type(b, 0x4D3, &type), KBS_ERR_PARSE);
	/* the declared variable data (1110 bytes) no longer fits */
	assert_int_equal(az_hcl_report_type(b, 0x4D4 + 1109, &type), KBS_ERR_PARSE);
	assert_int_equal(az_hcl_report_type(b, 0x4D4 + 1110, &type), KBS_OK);
	b[0] = 'X';
	assert_int_equal(az_hcl_report_type(b, len, &type), KBS_ERR_PARSE);
	free(b);
}

static void recorded_tdx_report_yields_its_tdreport(void **state)
{
	size_t len, qlen;
	uint8_t *b = td_read_file("az/tdx", "hcl-report.bin", &len);
	uint8_t *q = td_read_file("az/tdx", "td-quote.bin", &qlen);
	const uint8_t *td = NULL;
	uint32_t type = 0;

	(void)state;
	assert_int_equal(az_hcl_report_type(b, len, &type), KBS_OK);
	assert_int_equal(type, AZ_HCL_REPORT_TYPE_TDX);
	assert_int_equal(az_hcl_td_report(b, len, &td), KBS_OK);
	assert_ptr_equal(td, b + 0x20);
	/* the recorded TD quote was made from this TDREPORT: same REPORTDATA (TDREPORT 0x80,
	 * quote v4 header 48 + body offset 520) */
	assert_memory_equal(td + 0x80, q + 48 + 520, 64);
	/* an SNP HCL report or a TDREPORT of another type is refused */
	b[0x4C8] = AZ_HCL_REPORT_TYPE_SNP;
	assert_int_equal(az_hcl_td_report(b, len, &td), KBS_ERR_PARSE);
	assert_null(td);
	b[0x4C8] = AZ_HCL_REPORT_TYPE_TDX;
	b[0x20] = 0x00;
	assert_int_equal(az_hcl_td_report(b, len, &td), KBS_ERR_PARSE);
	b[0x20] = 0x81;
	assert_int_equal(az_hcl_td_report(b, 0x4D3, &td), KBS_ERR_PARSE);
	free(b);
	free(q);
}

/* {"quote":"<quote in the given form>"} */
static char *quote_answer(const uint8_t *q, size_t n, enum b64_variant v, bool pad)
{
	char *b = NULL, *out;
	size_t blen;

	assert_int_equal(b64_encode_alloc(q, n, v, &b), KBS_OK);
	blen = strlen(b);
	out = malloc(blen + 32);
	assert_non_null(out);
	snprintf(out, blen + 32, "{\"quote\":\"%s%s\"}", b, pad && n % 3 ? (n % 3 == 1 ? "==" : "=") : "");
	free(b);
	return out;
}

static void imds_quote_answer_decodes_in_every_upstream_form(void **state)
{
	size_t qlen;
	uint8_t *q = td_read_file("az/tdx", "td-quote.bin", &qlen);
	struct {
		enum b64_variant v;
		bool pad;
	} forms[] = {{B64_STD, false}, {B64_URL, false}, {B64_URL, true}};

	(void)state;
	/* 5006 bytes: 5006 % 3 = 2, so the padded forms end in one '=' */
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		char *a = quote_answer(q, qlen, forms[i].v, forms[i].pad);
		struct buf out = BUF_INIT;

		assert_int_equal(az_imds_parse_quote((uint8_t *)a, strlen(a), &out), KBS_OK);
		assert_int_equal(out.len, qlen);
		assert_memory_equal(out.p, q, qlen);
		buf_release(&out);
		free(a);
	}
	free(q);
}

static void imds_quote_answer_malformed_rejected(void **state)
{
	static const char *const bad[] = {
		"", "null", "[]", "{}", "{\"quote\":1}", "{\"quote\":\"\"}",
		"{\"quote\":\"*not base64*\"}", "{\"quote\":\"AAAA\"", "{\"Quote\":\"AAAA\"}",
		"{\"quote\":\"AAAA\",\"quote\":\"AAAA\"}", "{\"quote\":\"AA=A\"}",
	};
	struct buf out = BUF_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(az_imds_parse_quote((const uint8_t *)bad[i], strlen(bad[i]), &out),
				 KBS_ERR_PARSE);
		assert_int_equal(out.len, 0);
	}
	assert_int_equal(az_imds_parse_quote((const uint8_t *)"{\"quote\":\"AAAA\"}", 16, &out),
			 KBS_OK);
	assert_int_equal(out.len, 3);
	buf_release(&out);
}

static void imds_certs_answer_gives_vcek_pem(void **state)
{
	size_t plen;
	char *pem = td_read_file("attester/azure", "snp-vcek.pem", &plen);
	json_t *o = json_pack("{s:s,s:s}", "vcekCert", pem, "certificateChain", "chain");
	char *body = json_dumps(o, JSON_COMPACT), *got = NULL;
	static const char *const bad[] = {
		"{}", "{\"vcekCert\":\"\"}", "{\"vcekCert\":null}", "[\"vcekCert\"]", "{",
		"{\"vcekcert\":\"x\"}",
	};

	(void)state;
	assert_int_equal(az_imds_parse_certs((uint8_t *)body, strlen(body), &got), KBS_OK);
	assert_string_equal(got, pem);
	free(got);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		got = (char *)1;
		assert_int_equal(az_imds_parse_certs((const uint8_t *)bad[i], strlen(bad[i]), &got),
				 KBS_ERR_PARSE);
		assert_null(got);
	}
	free(body);
	json_decref(o);
	free(pem);
}

static void imds_unreachable_or_short_report_fails_cleanly(void **state)
{
	/* a closed local port: the client fails without an HTTP exchange */
	struct az_imds_cfg cfg = {"http://127.0.0.1:1/", 2000};
	uint8_t rep[AZ_TD_REPORT_LEN] = {0x81};
	struct buf q = BUF_INIT;
	char *pem = NULL;

	(void)state;
	assert_int_equal(az_imds_td_quote(&cfg, rep, sizeof(rep) - 1, &q), KBS_ERR_RANGE);
	assert_int_not_equal(az_imds_td_quote(&cfg, rep, sizeof(rep), &q), KBS_OK);
	assert_int_equal(q.len, 0);
	assert_int_not_equal(az_imds_vcek_pem(&cfg, &pem), KBS_OK);
	assert_null(pem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(recorded_snp_report_is_type_2),
		cmocka_unit_test(bad_signature_short_or_overlong_vardata_rejected),
		cmocka_unit_test(recorded_tdx_report_yields_its_tdreport),
		cmocka_unit_test(imds_quote_answer_decodes_in_every_upstream_form),
		cmocka_unit_test(imds_quote_answer_malformed_rejected),
		cmocka_unit_test(imds_certs_answer_gives_vcek_pem),
		cmocka_unit_test(imds_unreachable_or_short_report_fails_cleanly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
