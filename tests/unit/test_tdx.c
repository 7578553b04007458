// SPDX-License-Identifier: Apache-2.0
/*
 * TDX verifier: Trustee's quotes (v4 TDX 1.0, v5 TDX 1.5, v4 with MRCONFIGID) verify offline and
 * give Trustee's claims (parse_tdx_claims_expected.json for tdx_quote_4); a flipped signed
 * byte, a flipped QE report byte, a swapped PCK certificate, a foreign root, wrong
 * report_data / init-data, expired certificates and malformed quotes are rejected with the
 * failed check named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcap_testutil.h"
#include "testdata.h"
#include "common/b64.h"
#include "common/err.h"
#include "server/as/tdx_ccel.h"
#include "server/as/tdx_collateral.h"
#include "server/as/tdx_quote.h"
#include "server/as/verifier.h"
#include "server/as/verifier_tdx.h"
#include "server/as/x509util.h"

#define NOW_2026 ((time_t)1767225600) /* 2026-01-01: inside every sample's PCK validity */

static uint8_t *td_read(const char *rel, size_t *len)
{
	return td_read_file("tdx", rel, len);
}

static void unhex(const char *h, uint8_t *out, size_t n)
{
	assert_int_equal(strlen(h), 2 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static json_t *evidence(const uint8_t *q, size_t n)
{
	char *b = NULL;
	json_t *ev;

	assert_int_equal(b64_encode_alloc(q, n, B64_STD, &b), KBS_OK);
	ev = json_pack("{s:s,s:n}", "quote", b, "cc_eventlog");
	free(b);
	return ev;
}

static struct tdx_verifier *verifier_at(time_t now, const char *coll)
{
	struct tdx_verifier_config cfg = {.now = now, .collateral_dir = coll};
	struct tdx_verifier *v = NULL;
	char why[256];

	assert_int_equal(tdx_verifier_new(&cfg, &v, why, sizeof(why)), KBS_OK);
	return v;
}

static int run(const struct tdx_verifier *v, const uint8_t *q, size_t n, const uint8_t *rd,
	       size_t rdlen, const uint8_t *id, size_t idlen, json_t **claims, char *why,
	       size_t whylen)
{
	json_t *ev = evidence(q, n), *c = NULL;
	struct as_verify_input in = {.evidence = ev,
				     .report_data = rd,
				     .report_data_len = rdlen,
				     .init_data_digest = id,
				     .init_data_digest_len = idlen};
	int rc;

	why[0] = 0;
	rc = tdx_verifier_verify(v, &in, &c, why, whylen);
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

static void expect_fail(const struct tdx_verifier *v, const uint8_t *q, size_t n, const uint8_t *rd,
			size_t rdlen, const char *needle)
{
	char why[256];

	assert_int_not_equal(run(v, q, n, rd, rdlen, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
	if (!strstr(why, needle)) {
		fprintf(stderr, "why='%s' lacks '%s'\n", why, needle);
		fail();
	}
}

static void quote4_claims_equal_trustee_expected(void **state)
{
	struct tdx_verifier *v = verifier_at(NOW_2026, NULL);
	size_t n, en;
	uint8_t *q = td_read("tdx_quote_4.dat", &n), rd[64], zero48[48] = {0};
	char *et = (char *)td_read("parse_tdx_claims_expected.json", &en);
	json_t *want = json_loadb(et, en, 0, NULL), *c = NULL;
	char why[256];

	(void)state;
	assert_non_null(want);
	json_object_del(want, "uefi_event_logs"); /* no event log sent */
	unhex(json_string_value(json_object_get(want, "report_data")), rd, 64);
	assert_int_equal(run(v, q, n, rd, 64, zero48, 48, &c, why, sizeof(why)), KBS_OK);
	assert_string_equal(json_string_value(json_object_get(c, "tcb_status")), "Unknown");
	assert_string_equal(
	    json_string_value(json_object_get(c, "root_key_id")),
	    "46e403bd34f05a3f2817ab9badcaacc7ffc98e0f261008cd30dae936cace18d5dcf58eef"
	    "31463613de1570d516200993");
	json_object_del(c, "tcb_status");
	json_object_del(c, "root_key_id");
	if (!json_equal(c, want)) {
		char *a = json_dumps(c, JSON_SORT_KEYS), *b = json_dumps(want, JSON_SORT_KEYS);

		fprintf(stderr, "got  %s\nwant %s\n", a, b);
		free(a);
		free(b);
		fail();
	}
	json_decref(c);
	/* a 32-byte init-data digest is zero-padded to 48; NULL expected values skip checks */
	assert_int_equal(run(v, q, n, rd, 64, zero48, 32, NULL, why, sizeof(why)), KBS_OK);
	assert_int_equal(run(v, q, n, NULL, 0, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
	json_decref(want);
	free(et);
	free(q);
	tdx_verifier_free(v);
}

static void quote5_v5_tdx15_verifies(void **state)
{
	struct tdx_verifier *v = verifier_at(NOW_2026, NULL);
	size_t n;
	uint8_t *q = td_read("tdx_quote_5.dat", &n);
	json_t *c = NULL, *body;
	char why[256];
	const char *s;

	(void)state;
	assert_int_equal(run(v, q, n, NULL, 0, NULL, 0, &c, why, sizeof(why)), KBS_OK);
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(json_object_get(c, "quote"), "header"), "version")),
			    "0500");
	assert_string_equal(json_string_value(json_object_get(json_object_get(c, "quote"), "type")),
			    "0300");
	assert_string_equal(json_string_value(json_object_get(json_object_get(c, "quote"), "size")),
			    "88020000");
	body = json_object_get(json_object_get(c, "quote"), "body");
	assert_true(strncmp(json_string_value(json_object_get(body, "tcb_svn")), "05010200", 8) ==
		    0);
	s = json_string_value(json_object_get(body, "mr_td"));
	assert_true(strncmp(s, "dfba221b", 8) == 0 && strcmp(s + 88, "3886400a") == 0);
	s = json_string_value(json_object_get(body, "rtmr_0"));
	assert_true(strncmp(s, "9b529f36", 8) == 0 && strcmp(s + 88, "051f5128") == 0);
	s = json_string_value(json_object_get(c, "report_data"));
	assert_true(strncmp(s, "6d6ab13b", 8) == 0 && strcmp(s + 120, "74fd049f") == 0);
	assert_non_null(json_object_get(body, "tee_tcb_svn2"));
	assert_non_null(json_object_get(body, "mr_servicetd"));
	{
		uint8_t rd[64];

		unhex(s, rd, 64);
		assert_int_equal(run(v, q, n, rd, 64, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
		rd[5] ^= 1;
		expect_fail(v, q, n, rd, 64, "REPORTDATA");
	}
	json_decref(c);
	free(q);
	tdx_verifier_free(v);
}

static void quote6_mrconfigid_binds_init_data(void **state)
{
	struct tdx_verifier *v = verifier_at(NOW_2026, NULL);
	size_t n;
	uint8_t *q = td_read("tdx_quote_6.dat", &n), id[48], rd[64];
	json_t *c = NULL;
	char why[256];
	struct dcap_quote tq;
	X509 *leaf = NULL;
	int pca = 0;
	const uint8_t *val;
	size_t len;
	uint8_t tag;

	(void)state;
	assert_int_equal(dcap_quote_parse(q, n, DCAP_TEE_TDX, &tq, why, sizeof(why)), KBS_OK);
	memcpy(id, tq.body + TDX_BODY_MRCONFIGID, 48);
	memcpy(rd, tq.body + TDX_BODY_REPORTDATA, 64);
	assert_int_equal(id[0], 0x88);
	/* report data is a 48-byte digest + 16 zeros: the raw digest fits */
	assert_int_equal(run(v, q, n, rd, 48, id, 48, &c, why, sizeof(why)), KBS_OK);
	assert_true(strncmp(json_string_value(json_object_get(c, "init_data")), "889abf47", 8) ==
		    0);
	json_decref(c);
	id[47] ^= 1;
	assert_int_equal(run(v, q, n, rd, 48, id, 48, NULL, why, sizeof(why)), KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "MRCONFIGID"));
	/* FMSPC from the PCK certificate's SGX extension (same platform as tcbInfo.json) */
	assert_int_equal(tdx_verify_quote(v, &tq, &leaf, NULL, &pca, why, sizeof(why)), KBS_OK);
	assert_true(pca);
	assert_int_equal(tdx_pck_ext(leaf, 4, &tag, &val, &len), KBS_OK);
	assert_int_equal(tag, 0x04);
	assert_int_equal(len, 6);
	{
		static const uint8_t fmspc[6] = {0x00, 0xa0, 0x6d, 0x08, 0x00, 0x00};

		assert_memory_equal(val, fmspc, 6);
	}
	assert_int_equal(tdx_pck_ext(leaf, 99, &tag, &val, &len), KBS_ERR_NOTFOUND);
	X509_free(leaf);
	free(q);
	tdx_verifier_free(v);
}

/* Every byte of the signed header+body, and of the QE report, flipped: rejected. */
static void every_signed_byte_flip_rejected(void **state)
{
	struct tdx_verifier *v = verifier_at(NOW_2026, NULL);
	size_t n;
	uint8_t *q = td_read("tdx_quote_4.dat", &n);
	struct dcap_quote tq;
	char why[256];
	size_t qe_off;

	(void)state;
	assert_int_equal(dcap_quote_parse(q, n, DCAP_TEE_TDX, &tq, why, sizeof(why)), KBS_OK);
	qe_off = (size_t)(tq.qe_report - q);
	for (size_t i = 0; i < tq.signed_len; i++) {
		q[i] ^= 0x01;
		assert_int_not_equal(run(v, q, n, NULL, 0, NULL, 0, NULL, why, sizeof(why)),
				     KBS_OK);
		if (i >= 48)
			assert_non_null(strstr(why, "quote signature does not verify"));
		q[i] ^= 0x01;
	}
	for (size_t i = qe_off; i < qe_off + DCAP_QE_REPORT_LEN; i++) {
		q[i] ^= 0x80;
		expect_fail(v, q, n, NULL, 0, "QE report signature");
		q[i] ^= 0x80;
	}
	/* attestation key, QE auth data, signatures */
	q[tq.att_key - q] ^= 1;
	expect_fail(v, q, n, NULL, 0, "QE report data does not bind the attestation key");
	q[tq.att_key - q] ^= 1;
	q[tq.qe_auth - q] ^= 1;
	expect_fail(v, q, n, NULL, 0, "QE report data does not bind the attestation key");
	q[tq.qe_auth - q] ^= 1;
	q[tq.quote_sig - q + 40] ^= 1;
	expect_fail(v, q, n, NULL, 0, "quote signature does not verify");
	q[tq.quote_sig - q + 40] ^= 1;
	q[tq.qe_report_sig - q + 3] ^= 1;
	expect_fail(v, q, n, NULL, 0, "QE report signature");
	q[tq.qe_report_sig - q + 3] ^= 1;
	assert_int_equal(run(v, q, n, NULL, 0, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
	free(q);
	tdx_verifier_free(v);
}

static void swapped_certificates_and_foreign_root_rejected(void **state)
{
	struct tdx_verifier *v = verifier_at(NOW_2026, NULL);
	size_t n4, n5, nn;
	uint8_t *q4 = td_read("tdx_quote_4.dat", &n4), *q5 = td_read("tdx_quote_5.dat", &n5), *m;
	char *leaf4 = dcap_test_chain_cert(q4, n4, DCAP_TEE_TDX, 0);
	char *inter = dcap_test_chain_cert(q4, n4, DCAP_TEE_TDX, 1);
	char *root = dcap_test_chain_cert(q4, n4, DCAP_TEE_TDX, 2);
	char *leaf5 = dcap_test_chain_cert(q5, n5, DCAP_TEE_TDX, 0);
	char *fake = dcap_test_foreign_root(), chain[16384], why[256];

	(void)state;
	/* sanity: rebuilding with the same chain keeps the quote valid */
	snprintf(chain, sizeof(chain), "%s%s%s", leaf4, inter, root);
	m = dcap_test_with_chain(q4, n4, DCAP_TEE_TDX, chain, &nn);
	assert_int_equal(run(v, m, nn, NULL, 0, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
	free(m);
	/* another platform's PCK certificate (valid chain): the QE report signature fails */
	snprintf(chain, sizeof(chain), "%s%s%s", leaf5, inter, root);
	m = dcap_test_with_chain(q4, n4, DCAP_TEE_TDX, chain, &nn);
	expect_fail(v, m, nn, NULL, 0, "QE report signature does not verify with the PCK key");
	free(m);
	/* a foreign root */
	snprintf(chain, sizeof(chain), "%s%s%s", leaf4, inter, fake);
	m = dcap_test_with_chain(q4, n4, DCAP_TEE_TDX, chain, &nn);
	expect_fail(v, m, nn, NULL, 0, "root is not the Intel SGX Root CA");
	free(m);
	/* leaf and intermediate swapped */
	snprintf(chain, sizeof(chain), "%s%s%s", inter, leaf4, root);
	m = dcap_test_with_chain(q4, n4, DCAP_TEE_TDX, chain, &nn);
	expect_fail(v, m, nn, NULL, 0, "not signed by the Intel root");
	free(m);
	/* missing intermediate */
	snprintf(chain, sizeof(chain), "%s%s", leaf4, root);
	m = dcap_test_with_chain(q4, n4, DCAP_TEE_TDX, chain, &nn);
	expect_fail(v, m, nn, NULL, 0, "not 3 PEM certificates");
	free(m);
	free(leaf4);
	free(inter);
	free(root);
	free(leaf5);
	free(fake);
	free(q4);
	free(q5);
	tdx_verifier_free(v);
}

static void expired_chain_rejected(void **state)
{
	struct tdx_verifier *late = verifier_at((time_t)2240524800, NULL); /* 2041 */
	size_t n;
	uint8_t *q = td_read("tdx_quote_4.dat", &n);

	(void)state;
	expect_fail(late, q, n, NULL, 0, "PCK chain PCK leaf is expired");
	free(q);
	tdx_verifier_free(late);
}

static char *collateral_dir(void)
{
	const char *root = getenv("KBS_TEST_DATA");
	static char dir[1024];

	snprintf(dir, sizeof(dir), "%s/tdx/collateral", root ? root : "tests/data");
	return dir;
}

#define NOW_NOV_2025 ((time_t)1762000000) /* 2025-11-01, inside the TCB info's validity */

/* quote 6 + Trustee's tcbInfo.json / enclaveIdentity.json: PCESVN 11 < 13 → OutOfDate */
static void quote6_tcb_status_from_collateral(void **state)
{
	struct tdx_verifier *v = verifier_at(NOW_NOV_2025, collateral_dir());
	size_t n;
	uint8_t *q = td_read("tdx_quote_6.dat", &n);
	json_t *c = NULL;
	char why[256];

	(void)state;
	assert_int_equal(run(v, q, n, NULL, 0, NULL, 0, &c, why, sizeof(why)), KBS_OK);
	assert_string_equal(json_string_value(json_object_get(c, "tcb_status")), "OutOfDate");
	assert_string_equal(json_string_value(json_object_get(c, "tcb_date")),
			    "2018-01-04T00:00:00Z");
	assert_int_equal(json_integer_value(json_object_get(c, "tcb_eval_num")), 17);
	assert_string_equal(json_string_value(json_object_get(c, "fmspc")), "00A06D080000");
	assert_true(json_is_array(json_object_get(c, "advisory_ids")));
	/* the TCB signing certificate in the test data expired in 2025-05: reported, not fatal */
	assert_string_equal(json_string_value(json_object_get(c, "collateral_expiration_status")),
			    "1");
	json_decref(c);
	free(q);
	/* another platform: no TCB info for its FMSPC */
	q = td_read("tdx_quote_4.dat", &n);
	expect_fail(v, q, n, NULL, 0, "no TCB info for FMSPC 50806f000000");
	free(q);
	tdx_verifier_free(v);
}

static void tampered_or_missing_collateral_rejected(void **state)
{
	char dir[] = "/tmp/kbs-tdx-coll-XXXXXX", path[1200], why[256];
	static const char *const files[] = {"tcb-signing-chain.pem", "tcbinfo-00a06d080000.json",
					    "qe-identity.json"};
	struct tdx_verifier *v;
	size_t n, fl;
	uint8_t *q = td_read("tdx_quote_6.dat", &n);

	(void)state;
	assert_non_null(mkdtemp(dir));
	v = verifier_at(NOW_NOV_2025, dir);
	expect_fail(v, q, n, NULL, 0, "no tcb-signing-chain.pem");
	for (int i = 0; i < 3; i++) {
		char rel[256];
		uint8_t *d;
		FILE *f;

		snprintf(rel, sizeof(rel), "collateral/%s", files[i]);
		d = td_read(rel, &fl);
		if (i == 1) {
			/* the TDX module's "TDX_03" id, inside the signed tcbInfo, becomes "TDX_04"
			 */
			char *m = strstr((char *)d, "\"TDX_03\"");

			assert_non_null(m);
			m[6] = '4';
		}
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(d, 1, fl, f), fl);
		fclose(f);
		free(d);
		if (i == 0)
			expect_fail(v, q, n, NULL, 0, "no TCB info for FMSPC 00a06d080000");
		if (i == 1)
			expect_fail(v, q, n, NULL, 0, "tcbInfo signature does not verify");
	}
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
	(void)why;
	free(q);
	tdx_verifier_free(v);
}

static void raw_member_and_time_helpers(void **state)
{
	static const char t[] =
	    "{\"a\":{\"x\":\"}\"} , \"tcbInfo\" : {\"k\":[1,{\"b\":2}],\"s\":\"{\"},"
	    "\"signature\":\"00\"}";
	const char *v;
	size_t l;

	(void)state;
	assert_int_equal(tdx_json_raw_member(t, strlen(t), "tcbInfo", &v, &l), KBS_OK);
	assert_int_equal(l, strlen("{\"k\":[1,{\"b\":2}],\"s\":\"{\"}"));
	assert_memory_equal(v, "{\"k\":[1,{\"b\":2}],\"s\":\"{\"}", l);
	assert_int_equal(tdx_json_raw_member(t, strlen(t), "x", &v, &l), KBS_ERR_NOTFOUND);
	assert_int_not_equal(tdx_json_raw_member(t, 20, "tcbInfo", &v, &l), KBS_OK);
	assert_true(tdx_parse_time("2025-11-26T13:07:17Z") == 1764162437LL);
	assert_true(tdx_parse_time("1970-01-01T00:00:00Z") == 0);
	assert_true(tdx_parse_time("2025-11-26 13:07:17") == -1);
}

static void malformed_quotes_rejected(void **state)
{
	struct tdx_verifier *v = verifier_at(NOW_2026, NULL);
	size_t n;
	uint8_t *q = td_read("tdx_quote_4.dat", &n);
	struct dcap_quote tq;
	char why[256];
	json_t *ev, *c = NULL;
	struct as_verify_input in = {0};

	(void)state;
	assert_int_equal(dcap_quote_parse(q, n, DCAP_TEE_TDX, &tq, why, sizeof(why)), KBS_OK);
	/* every truncation of the meaningful part fails to parse */
	size_t end = (size_t)(tq.pck_chain - q) + 1;

	for (size_t l = 0; l < end; l += 7)
		assert_int_not_equal(dcap_quote_parse(q, l, DCAP_TEE_TDX, &tq, why, sizeof(why)),
				     KBS_OK);
	q[0] = 3;
	assert_int_equal(dcap_quote_parse(q, n, DCAP_TEE_TDX, &tq, why, sizeof(why)),
			 KBS_ERR_UNSUPPORTED);
	assert_non_null(strstr(why, "SGX"));
	q[0] = 4;
	q[4] = 0;
	assert_int_equal(dcap_quote_parse(q, n, DCAP_TEE_TDX, &tq, why, sizeof(why)),
			 KBS_ERR_UNSUPPORTED);
	assert_non_null(strstr(why, "TEE type"));
	q[4] = 0x81;
	q[636 + 128] = 5;
	assert_int_equal(dcap_quote_parse(q, n, DCAP_TEE_TDX, &tq, why, sizeof(why)),
			 KBS_ERR_UNSUPPORTED);
	assert_non_null(strstr(why, "certification data type 5"));
	q[636 + 128] = 6;
	q[632 + 3] = 0x7f; /* signature data length beyond the quote */
	assert_int_equal(dcap_quote_parse(q, n, DCAP_TEE_TDX, &tq, why, sizeof(why)),
			 KBS_ERR_PARSE);
	q[632 + 3] = 0;
	/* evidence shape */
	in.evidence = ev = json_pack("{s:s}", "quote", "");
	assert_int_equal(tdx_verifier_verify(v, &in, &c, why, sizeof(why)), KBS_ERR_PARSE);
	json_decref(ev);
	in.evidence = ev = json_pack("{s:s}", "quote", "@@@");
	assert_int_equal(tdx_verifier_verify(v, &in, &c, why, sizeof(why)), KBS_ERR_PARSE);
	assert_non_null(strstr(why, "base64"));
	json_decref(ev);
	assert_null(c);
	free(q);
	tdx_verifier_free(v);
}

static void ccel_replay_matches_trustee_rtmrs(void **state)
{
	static const struct {
		const char *file;
		size_t events;
		const char *rtmr[4];
	} logs[] = {
	    {"CCEL_data.trimmed",
	     5,
	     {"2dc712306a963eadb894ad47dbaa17df44814151555aee11cbb843becca88950ffd079664902e6f22c6"
	      "6f7c8213543f4",
	      "0fa3be56af61208bbd179dc7b124988eb929319154663c539d6f46445ecac2fec287075047ff7bd1922"
	      "829fec28cd3cf",
	      NULL, NULL}},
	    {"CCEL_data_grub.trimmed",
	     37,
	     {"cec0a104f691f60da2387fea3c2de00c4ac035e2bb479ff02edcce69039d9e9907f0b3e55031da3dc70"
	      "38f423adebd79",
	      "6c289e0c62182d41ebe97bdbc9872d10998a08eaa86adcdc684001a363207ee72942c7522cdf00a4bbc"
	      "3d784bed7b670",
	      "08919d017ba0e52cd6d966351c7de16fe76c1d3d3d3da4554239e4c7d16cb8b82a94e7eaea3a0e6e18e"
	      "b690b999fd31e",
	      NULL}},
	};
	uint8_t rtmr[4][48], want[48];
	char why[256];

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		size_t n, ev;
		uint8_t *log = td_read(logs[i].file, &n);

		assert_int_equal(tdx_ccel_replay(log, n, rtmr, &ev, why, sizeof(why)), KBS_OK);
		assert_int_equal(ev, logs[i].events);
		for (int k = 0; k < 4; k++) {
			memset(want, 0, sizeof(want));
			if (logs[i].rtmr[k])
				unhex(logs[i].rtmr[k], want, 48);
			assert_memory_equal(rtmr[k], want, 48);
		}
		/* without the end marker the log ends at its length: same result */
		assert_int_equal(tdx_ccel_replay(log, n - 8, rtmr, &ev, why, sizeof(why)), KBS_OK);
		assert_int_equal(ev, logs[i].events);
		/* every cut inside the events is refused, never read past the end */
		for (size_t l = 0; l < n - 8; l += 13) {
			int rc = tdx_ccel_replay(log, l, rtmr, &ev, why, sizeof(why));

			assert_true(rc != KBS_OK || ev < logs[i].events);
		}
		free(log);
	}
}

static void eventlog_must_replay_to_quote_rtmrs(void **state)
{
	struct tdx_verifier *v = verifier_at(NOW_2026, NULL);
	size_t n, ln;
	uint8_t *q = td_read("tdx_quote_4.dat", &n), *log = td_read("CCEL_data.trimmed", &ln);
	char *b64q = NULL, *b64l = NULL, why[256];
	struct as_verify_input in = {0};
	json_t *ev, *c = NULL;

	(void)state;
	assert_int_equal(b64_encode_alloc(q, n, B64_STD, &b64q), KBS_OK);
	assert_int_equal(b64_encode_alloc(log, ln, B64_STD, &b64l), KBS_OK);
	/* Trustee pairs these two only for claim parsing: the log is from another boot */
	in.evidence = ev = json_pack("{s:s,s:s}", "quote", b64q, "cc_eventlog", b64l);
	assert_int_equal(tdx_verifier_verify(v, &in, &c, why, sizeof(why)), KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "event log replay does not match RTMR0"));
	json_object_set_new(ev, "cc_eventlog", json_string("AAAA"));
	assert_int_equal(tdx_verifier_verify(v, &in, &c, why, sizeof(why)), KBS_ERR_PARSE);
	assert_non_null(strstr(why, "event log"));
	json_object_set_new(ev, "cc_eventlog", json_integer(1));
	assert_int_equal(tdx_verifier_verify(v, &in, &c, why, sizeof(why)), KBS_ERR_PARSE);
	json_object_set_new(ev, "cc_eventlog", json_string(""));
	assert_int_equal(tdx_verifier_verify(v, &in, &c, why, sizeof(why)), KBS_OK);
	json_decref(c);
	json_decref(ev);
	free(b64q);
	free(b64l);
	free(q);
	free(log);
	tdx_verifier_free(v);
}

static void table_entry_is_registered(void **state)
{
	const struct as_verifier *v = as_verifier_find("tdx");

	(void)state;
	assert_non_null(v);
	assert_string_equal(v->tee_class, "cpu");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(quote4_claims_equal_trustee_expected),
	    cmocka_unit_test(quote5_v5_tdx15_verifies),
	    cmocka_unit_test(quote6_mrconfigid_binds_init_data),
	    cmocka_unit_test(every_signed_byte_flip_rejected),
	    cmocka_unit_test(swapped_certificates_and_foreign_root_rejected),
	    cmocka_unit_test(expired_chain_rejected),
	    cmocka_unit_test(quote6_tcb_status_from_collateral),
	    cmocka_unit_test(tampered_or_missing_collateral_rejected),
	    cmocka_unit_test(raw_member_and_time_helpers),
	    cmocka_unit_test(malformed_quotes_rejected),
	    cmocka_unit_test(ccel_replay_matches_trustee_rtmrs),
	    cmocka_unit_test(eventlog_must_replay_to_quote_rtmrs),
	    cmocka_unit_test(table_entry_is_registered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
