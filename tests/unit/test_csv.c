// SPDX-License-Identifier: Apache-2.0
/*
 * Hygon CSV verifier. Real data: Trustee's csv_evidence.json (its PEK -> report signature, the
 * built-in HRK self-signature and the report fields verify; its chip's HSK/CEK are not public,
 * so the full verifier refuses it naming the missing HSK/CEK) and csv-rs's real HSK/CEK of
 * another chip (HRK -> HSK -> CEK verify; CEK -> the sample's PEK is refused). Full chain: a
 * Hygon-format chain generated here (root through hrk_path) verifies from the evidence and
 * from the offline store, with Trustee's claims; every byte flip in each signed region and
 * signature, another root, a wrong report data, a v2 event log that does not replay to the
 * RTMRs and malformed evidence are refused with the failed check named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hcsv_testutil.h"
#include "testdata.h"
#include "common/b64.h"
#include "common/err.h"
#include "common/jose/jwk.h"
#include "common/jose/jws.h"
#include "server/as/as.h"
#include "server/as/hygon_csv.h"
#include "server/as/verifier.h"
#include "server/as/verifier_csv.h"

/* RTMR1..3 from replaying the SM3 digests of Trustee's CCEL_data_csv_out.json (Python). */
static const char *const ccel_rtmr_hex[5] = {
    NULL, "d76c4b289abcdf0e904ac02df69d48cdc9047723024a605ecb17ecbcb9fb62e3",
    "0559c2040dc2045fe06015787de4d4b4d8636a99d298046c52700a100f1fdb64",
    "287078930b845b372d7a9504f34d09db7a1ca65c17f59c86fb388bdb4a2bb994",
    "0000000000000000000000000000000000000000000000000000000000000000"};

static void unhex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static json_t *load_sample(void)
{
	size_t n;
	char *t = td_read_file("csv", "csv_evidence.json", &n);
	json_t *j = json_loadb(t, n, 0, NULL);

	free(t);
	assert_non_null(j);
	return j;
}

/* A temporary directory for HRK files and the offline store. */
static void tmpdir(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/kbsfs-test-csv-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void rmtree(const char *dir)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* Puts hsk||cek into <dir>/hsk_cek/<chip>/hsk_cek.cert. */
static void store_put(const char *dir, const char *chip, const uint8_t *hsk, const uint8_t *cek)
{
	char p[1200];
	uint8_t buf[HCSV_HSK_CEK_LEN];

	snprintf(p, sizeof(p), "%s/hsk_cek", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/hsk_cek/%s", dir, chip);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/hsk_cek/%s/hsk_cek.cert", dir, chip);
	memcpy(buf, hsk, HCSV_CA_CERT_LEN);
	memcpy(buf + HCSV_CA_CERT_LEN, cek, HCSV_CERT_LEN);
	write_file(p, buf, sizeof(buf));
}

static int run(const struct csv_verifier *v, const json_t *ev, const uint8_t *rd, size_t rdlen,
	       json_t **claims, char *why, size_t whylen)
{
	struct as_verify_input in = {.evidence = ev, .report_data = rd, .report_data_len = rdlen};
	json_t *c = NULL;
	int rc;

	why[0] = 0;
	rc = csv_verifier_verify(v, &in, &c, why, whylen);
	if (claims)
		*claims = c;
	else
		json_decref(c);
	if (rc == KBS_OK)
		assert_non_null(c);
	else
		assert_null(c);
	return rc;
}

static const char *cstr(const json_t *c, const char *k)
{
	return json_string_value(json_object_get(c, k));
}

/* ---- real sample ---- */

static void test_sample_report_fields_and_pek_signature(void **state)
{
	json_t *ev = load_sample();
	struct hcsv_report r;
	struct hcsv_cert pek;
	struct hcsv_ca_cert hrk;
	char why[256] = "";
	uint8_t measure[32];

	(void)state;
	assert_int_equal(hcsv_report_from_json(json_object_get(ev, "attestation_report"), &r, why,
					       sizeof(why)),
			 KBS_OK);
	assert_int_equal(r.version, 1);
	assert_int_equal(r.anonce, 0x5dc7d726);
	assert_int_equal(r.policy, 0x45); /* nodbg, es, csv3 */
	assert_int_equal(r.sig_usage, HCSV_USAGE_PEK);
	assert_int_equal(r.sig_algo, HCSV_ALGO_SM2_SA);
	unhex("ae2a2cf1f41a485fa37bf9ae92f678783c59fbc79de7b5d237743d58f5538034", measure, 32);
	assert_memory_equal(r.measure, measure, 32);
	assert_int_equal(hcsv_cert_from_json(json_object_get(json_object_get(ev, "cert_chain"),
							     "pek"),
					     &pek, why, sizeof(why)),
			 KBS_OK);
	assert_int_equal(pek.key_usage, HCSV_USAGE_PEK);
	assert_int_equal(pek.uid_size, 13);
	assert_memory_equal(pek.uid, "HYGON-SSD-PEK", 13);
	/* the built-in root is self-signed, the PEK signs the report */
	assert_int_equal(hcsv_ca_cert_parse(hcsv_builtin_hrk, HCSV_CA_CERT_LEN, &hrk, why,
					    sizeof(why)),
			 KBS_OK);
	assert_int_equal(hcsv_verify_ca_by_ca(&hrk, &hrk, why, sizeof(why)), KBS_OK);
	assert_int_equal(hcsv_verify_report(&pek, &r, why, sizeof(why)), KBS_OK);
	/* every byte of the signed region and of the signature matters */
	for (size_t i = 0; i < HCSV_REPORT_V1_SIGNED + 144; i++) {
		struct hcsv_report b;
		uint8_t raw[HCSV_REPORT_LEN];
		static const uint8_t zero[16];
		size_t at = i < HCSV_REPORT_V1_SIGNED ? i : 192 + (i - HCSV_REPORT_V1_SIGNED);

		memcpy(raw, r.raw, sizeof(raw));
		raw[at] ^= 0x01;
		assert_int_equal(hcsv_report_parse(zero, 0, raw, sizeof(raw), &b, why, sizeof(why)),
				 KBS_OK);
		assert_int_equal(hcsv_verify_report(&pek, &b, why, sizeof(why)), KBS_ERR_VERIFY);
	}
	json_decref(ev);
}

static void test_sample_refused_without_its_hsk_cek(void **state)
{
	char dir[64], why[256];
	struct csv_verifier_config cfg = {0};
	struct csv_verifier *v = NULL;
	json_t *ev = load_sample();

	(void)state;
	tmpdir(dir, sizeof(dir));
	cfg.cert_dir = dir;
	assert_int_equal(csv_verifier_new(&cfg, &v, why, sizeof(why)), KBS_OK);
	assert_int_equal(run(v, ev, NULL, 0, NULL, why, sizeof(why)), KBS_ERR_NOTFOUND);
	assert_non_null(strstr(why, "no HSK/CEK for chip KPA64911240507"));
	assert_non_null(strstr(why, "Hygon KDS not configured"));
	csv_verifier_free(v);
	rmtree(dir);
	json_decref(ev);
}

static void test_real_hsk_cek_of_another_chip(void **state)
{
	size_t n;
	uint8_t *hc = td_read_file("csv", "csv-rs_hsk_cek.cert", &n);
	struct hcsv_ca_cert hrk, hsk;
	struct hcsv_cert cek;
	char dir[64], why[256];
	struct csv_verifier_config cfg = {0};
	struct csv_verifier *v = NULL;
	json_t *ev = load_sample();

	(void)state;
	/* Hygon's real HSK and CEK chain to the built-in HRK */
	assert_int_equal(hcsv_hsk_cek_parse(hc, n, &hsk, &cek, why, sizeof(why)), KBS_OK);
	assert_int_equal(hcsv_ca_cert_parse(hcsv_builtin_hrk, HCSV_CA_CERT_LEN, &hrk, why,
					    sizeof(why)),
			 KBS_OK);
	assert_int_equal(hsk.usage, HCSV_USAGE_HSK);
	assert_int_equal(cek.key_usage, HCSV_USAGE_CEK);
	assert_int_equal(hcsv_verify_ca_by_ca(&hrk, &hsk, why, sizeof(why)), KBS_OK);
	assert_int_equal(hcsv_verify_cert_by_ca(&hsk, &cek, why, sizeof(why)), KBS_OK);
	assert_int_equal(hcsv_hsk_cek_parse(hc, n - 1, &hsk, &cek, why, sizeof(why)),
			 KBS_ERR_PARSE);
	/* filed under the sample's chip id: the chain gets as far as the PEK */
	tmpdir(dir, sizeof(dir));
	store_put(dir, "KPA64911240507", hc, hc + HCSV_CA_CERT_LEN);
	cfg.cert_dir = dir;
	assert_int_equal(csv_verifier_new(&cfg, &v, why, sizeof(why)), KBS_OK);
	assert_int_equal(run(v, ev, NULL, 0, NULL, why, sizeof(why)), KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "PEK cert Signature validation failed"));
	csv_verifier_free(v);
	rmtree(dir);
	json_decref(ev);
	free(hc);
}

/* ---- generated chain ---- */

struct fixture {
	struct gen_chain c;
	char dir[64];
	struct csv_verifier *v;
	uint8_t rd[64];
	struct gen_report_fields f;
	uint8_t report[HCSV_REPORT_LEN];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char p[128], why[256];
	struct csv_verifier_config cfg = {0};

	gen_chain_new(&fx->c);
	tmpdir(fx->dir, sizeof(fx->dir));
	snprintf(p, sizeof(p), "%s/hrk.cert", fx->dir);
	write_file(p, fx->c.hrk_raw, HCSV_CA_CERT_LEN);
	cfg.hrk_path = p;
	cfg.cert_dir = fx->dir;
	if (csv_verifier_new(&cfg, &fx->v, why, sizeof(why)) != KBS_OK) {
		fprintf(stderr, "%s\n", why);
		return -1;
	}
	for (int i = 0; i < 48; i++)
		fx->rd[i] = (uint8_t)(0xa0 + i);
	fx->f.version = 1;
	fx->f.anonce = 0x12345678;
	memcpy(fx->f.report_data, fx->rd, 48); /* SHA-384 digest, zero-padded */
	memset(fx->f.mnonce, 0x5a, 16);
	memset(fx->f.measure, 0xcd, 32);
	fx->f.policy = 0x00040341; /* nodbg, csv3, hsk 3, cek 0, api 4.0 */
	gen_report(fx->report, &fx->f, &fx->c.pek);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	csv_verifier_free(fx->v);
	gen_chain_free(&fx->c);
	rmtree(fx->dir);
	free(fx);
	return 0;
}

static void test_generated_chain_verifies_with_trustee_claims(void **state)
{
	struct fixture *fx = *state;
	json_t *ev = gen_evidence(&fx->c, fx->report, 1, true, "TESTCHIP01", NULL), *c = NULL;
	const json_t *pol;
	char why[256];

	assert_int_equal(run(fx->v, ev, fx->rd, 48, &c, why, sizeof(why)), KBS_OK);
	assert_string_equal(cstr(c, "version"), "1");
	assert_string_equal(cstr(c, "serial_number"), "TESTCHIP01");
	assert_string_equal(cstr(c, "anonce"), "78563412");
	assert_string_equal(cstr(c, "sig_usage"), "02100000");
	assert_string_equal(cstr(c, "sig_algo"), "04000000");
	assert_string_equal(cstr(c, "mnonce"), "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a");
	assert_string_equal(cstr(c, "measure"),
			    "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd");
	assert_string_equal(cstr(c, "vm_id"), "22222222222222222222222222222222");
	assert_int_equal(strncmp(cstr(c, "report_data"), "a0a1a2a3", 8), 0);
	assert_string_equal(cstr(c, "report_data") + 96, "00000000000000000000000000000000");
	pol = json_object_get(c, "policy");
	assert_int_equal(json_integer_value(json_object_get(pol, "nodbg")), 1);
	assert_int_equal(json_integer_value(json_object_get(pol, "es")), 0);
	assert_int_equal(json_integer_value(json_object_get(pol, "csv3")), 1);
	assert_int_equal(json_integer_value(json_object_get(pol, "hsk_version")), 3);
	assert_int_equal(json_integer_value(json_object_get(pol, "api_major")), 4);
	assert_null(json_object_get(c, "rtmr0"));
	json_decref(c);
	/* report data not requested: still verifies */
	assert_int_equal(run(fx->v, ev, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
	json_decref(ev);
}

static void test_generated_chain_from_offline_store(void **state)
{
	struct fixture *fx = *state;
	json_t *ev = gen_evidence(&fx->c, fx->report, 1, false, "TESTCHIP02", NULL);
	char why[256];

	assert_int_equal(run(fx->v, ev, fx->rd, 48, NULL, why, sizeof(why)), KBS_ERR_NOTFOUND);
	assert_non_null(strstr(why, "no HSK/CEK for chip TESTCHIP02"));
	store_put(fx->dir, "TESTCHIP02", fx->c.hsk_raw, fx->c.cek_raw);
	assert_int_equal(run(fx->v, ev, fx->rd, 48, NULL, why, sizeof(why)), KBS_OK);
	json_decref(ev);
}

static void test_wrong_report_data_refused(void **state)
{
	struct fixture *fx = *state;
	json_t *ev = gen_evidence(&fx->c, fx->report, 1, true, "TESTCHIP01", NULL);
	uint8_t rd[64];
	char why[256];

	memcpy(rd, fx->rd, 48);
	rd[47] ^= 1;
	assert_int_equal(run(fx->v, ev, rd, 48, NULL, why, sizeof(why)), KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "REPORT_DATA is different"));
	memcpy(rd, fx->rd, 48);
	memset(rd + 48, 0xff, 16); /* 64-byte digest whose tail is not the padding */
	assert_int_equal(run(fx->v, ev, rd, 64, NULL, why, sizeof(why)), KBS_ERR_VERIFY);
	json_decref(ev);
}

/* Every byte of each signed body and signature, flipped, fails its chain step. */
static void test_byte_flips_in_every_signed_region_refused(void **state)
{
	struct fixture *fx = *state;
	struct hcsv_ca_cert hrk, hsk, hsk2;
	struct hcsv_cert cek, pek, c2;
	struct hcsv_report r, r2;
	uint8_t buf[HCSV_REPORT_LEN];
	static const uint8_t zero[16];
	char why[256];

	assert_int_equal(hcsv_ca_cert_parse(fx->c.hrk_raw, HCSV_CA_CERT_LEN, &hrk, why, 256), 0);
	assert_int_equal(hcsv_ca_cert_parse(fx->c.hsk_raw, HCSV_CA_CERT_LEN, &hsk, why, 256), 0);
	assert_int_equal(hcsv_cert_parse(fx->c.cek_raw, HCSV_CERT_LEN, &cek, why, 256), 0);
	assert_int_equal(hcsv_cert_parse(fx->c.pek_raw, HCSV_CERT_LEN, &pek, why, 256), 0);
	assert_int_equal(hcsv_report_parse(zero, 0, fx->report, HCSV_REPORT_LEN, &r, why, 256), 0);
	for (size_t i = 0; i < HCSV_CA_BODY_LEN + 144; i++) {
		memcpy(buf, fx->c.hsk_raw, HCSV_CA_CERT_LEN);
		buf[i] ^= 0x80;
		if (hcsv_ca_cert_parse(buf, HCSV_CA_CERT_LEN, &hsk2, why, 256) == KBS_OK)
			assert_int_equal(hcsv_verify_ca_by_ca(&hrk, &hsk2, why, 256),
					 KBS_ERR_VERIFY);
	}
	for (size_t i = 0; i < HCSV_CERT_BODY_LEN + 152; i++) {
		memcpy(buf, fx->c.cek_raw, HCSV_CERT_LEN);
		buf[i] ^= 0x80;
		if (hcsv_cert_parse(buf, HCSV_CERT_LEN, &c2, why, 256) == KBS_OK)
			assert_int_equal(hcsv_verify_cert_by_ca(&hsk, &c2, why, 256),
					 KBS_ERR_VERIFY);
		memcpy(buf, fx->c.pek_raw, HCSV_CERT_LEN);
		buf[i] ^= 0x80;
		if (hcsv_cert_parse(buf, HCSV_CERT_LEN, &c2, why, 256) == KBS_OK)
			assert_int_equal(hcsv_verify_cert_by_cert(&cek, &c2, why, 256),
					 KBS_ERR_VERIFY);
	}
	for (size_t i = 0; i < HCSV_REPORT_V1_SIGNED + 144; i++) {
		size_t at = i < HCSV_REPORT_V1_SIGNED ? i : 192 + (i - HCSV_REPORT_V1_SIGNED);

		memcpy(buf, fx->report, HCSV_REPORT_LEN);
		buf[at] ^= 0x80;
		assert_int_equal(hcsv_report_parse(zero, 0, buf, HCSV_REPORT_LEN, &r2, why, 256), 0);
		assert_int_equal(hcsv_verify_report(&pek, &r2, why, 256), KBS_ERR_VERIFY);
	}
	/* one flip per link through the whole verifier, each named */
	{
		static const struct {
			int which;
			size_t at;
			const char *named;
		} cases[] = {{0, 100, "HSK cert Signature validation failed"},
			     {1, 300, "CEK cert Signature validation failed"},
			     {2, 500, "PEK cert Signature validation failed"},
			     {3, 70, "Attestation Report Signature validation failed"}};

		for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
			struct gen_chain c = fx->c;
			uint8_t rep[HCSV_REPORT_LEN];
			json_t *ev;

			memcpy(rep, fx->report, sizeof(rep));
			if (cases[k].which == 0)
				c.hsk_raw[cases[k].at] ^= 1;
			else if (cases[k].which == 1)
				c.cek_raw[cases[k].at] ^= 1;
			else if (cases[k].which == 2)
				c.pek_raw[cases[k].at] ^= 1;
			else
				rep[cases[k].at] ^= 1;
			ev = gen_evidence(&c, rep, 1, true, "TESTCHIP01", NULL);
			assert_int_equal(run(fx->v, ev, fx->rd, 48, NULL, why, sizeof(why)),
					 KBS_ERR_VERIFY);
			assert_non_null(strstr(why, cases[k].named));
			json_decref(ev);
		}
	}
}

static void test_wrong_root_refused(void **state)
{
	struct fixture *fx = *state;
	struct csv_verifier_config cfg = {0};
	struct csv_verifier *v = NULL;
	struct gen_chain other;
	json_t *ev = gen_evidence(&fx->c, fx->report, 1, true, "TESTCHIP01", NULL);
	char p[128], why[256];

	/* the built-in Hygon root does not sign the generated HSK */
	assert_int_equal(csv_verifier_new(NULL, &v, why, sizeof(why)), KBS_OK);
	assert_int_equal(run(v, ev, fx->rd, 48, NULL, why, sizeof(why)), KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "HSK cert Signature validation failed"));
	csv_verifier_free(v);
	/* nor does another generated root */
	gen_chain_new(&other);
	snprintf(p, sizeof(p), "%s/other-hrk.cert", fx->dir);
	write_file(p, other.hrk_raw, HCSV_CA_CERT_LEN);
	cfg.hrk_path = p;
	assert_int_equal(csv_verifier_new(&cfg, &v, why, sizeof(why)), KBS_OK);
	assert_int_equal(run(v, ev, fx->rd, 48, NULL, why, sizeof(why)), KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "HSK cert Signature validation failed"));
	csv_verifier_free(v);
	/* a root whose self-signature is broken is not loaded */
	other.hrk_raw[300] ^= 1;
	write_file(p, other.hrk_raw, HCSV_CA_CERT_LEN);
	v = NULL;
	assert_int_equal(csv_verifier_new(&cfg, &v, why, sizeof(why)), KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "HRK cert Signature verification failed"));
	assert_null(v);
	write_file(p, other.hrk_raw, 100);
	assert_int_equal(csv_verifier_new(&cfg, &v, why, sizeof(why)), KBS_ERR_PARSE);
	gen_chain_free(&other);
	json_decref(ev);
}

static char *ccel_b64(void)
{
	size_t n;
	uint8_t *log = td_read_file("csv", "CCEL_data_csv.trimmed", &n);
	char *b64 = NULL;

	assert_int_equal(b64_encode_alloc(log, n, B64_STD, &b64), KBS_OK);
	free(log);
	return b64;
}

static void test_v2_report_with_event_log(void **state)
{
	struct fixture *fx = *state;
	struct gen_report_fields f = fx->f;
	uint8_t rep[HCSV_REPORT_LEN];
	char *b64 = ccel_b64(), why[256];
	json_t *ev, *c = NULL;

	f.version = 2;
	for (int i = 1; i < 5; i++)
		unhex(ccel_rtmr_hex[i], f.rtmr[i], 32);
	memcpy(f.rtmr[0], f.measure, 32);
	gen_report(rep, &f, &fx->c.pek);
	ev = gen_evidence(&fx->c, rep, 2, true, "TESTCHIP01", b64);
	assert_int_equal(run(fx->v, ev, fx->rd, 48, &c, why, sizeof(why)), KBS_OK);
	assert_string_equal(cstr(c, "version"), "2");
	assert_string_equal(cstr(c, "rtmr1"), ccel_rtmr_hex[1]);
	assert_int_equal(json_integer_value(json_object_get(c, "build")), 1234);
	assert_int_equal(json_integer_value(json_object_get(c, "rtmr_version")), 1);
	assert_null(json_object_get(c, "anonce"));
	json_decref(c);
	json_decref(ev);
	/* RTMR2 signed by the PEK but not what the log replays to */
	f.rtmr[2][5] ^= 1;
	gen_report(rep, &f, &fx->c.pek);
	ev = gen_evidence(&fx->c, rep, 2, true, "TESTCHIP01", b64);
	assert_int_equal(run(fx->v, ev, fx->rd, 48, NULL, why, sizeof(why)), KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "[index = 2]"));
	json_decref(ev);
	/* a v2 report flipped in its extended signed region */
	f.rtmr[2][5] ^= 1;
	gen_report(rep, &f, &fx->c.pek);
	rep[900] ^= 1; /* reserved1 */
	ev = gen_evidence(&fx->c, rep, 2, true, "TESTCHIP01", b64);
	assert_int_equal(run(fx->v, ev, fx->rd, 48, NULL, why, sizeof(why)), KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "Attestation Report Signature validation failed"));
	json_decref(ev);
	free(b64);
}

static void test_malformed_evidence_refused(void **state)
{
	struct fixture *fx = *state;
	json_t *ev = gen_evidence(&fx->c, fx->report, 1, true, "TESTCHIP01", NULL), *e2;
	char why[256];

	/* chip ids that could escape the store directory or the KDS query */
	e2 = json_deep_copy(ev);
	json_object_set_new(e2, "serial_number", gen_bytes_json((const uint8_t *)"../etc", 6));
	assert_int_equal(run(fx->v, e2, NULL, 0, NULL, why, sizeof(why)), KBS_ERR_PARSE);
	assert_non_null(strstr(why, "serial_number"));
	json_decref(e2);
	/* a missing member is named */
	e2 = json_deep_copy(ev);
	json_object_del(json_object_get(json_object_get(json_object_get(json_object_get(
							    e2, "cert_chain"),
							"pek"),
					"body"),
			"data"),
			"sid");
	assert_int_equal(run(fx->v, e2, NULL, 0, NULL, why, sizeof(why)), KBS_ERR_PARSE);
	assert_non_null(strstr(why, "body.data.sid"));
	json_decref(e2);
	/* unknown report magic */
	e2 = json_deep_copy(ev);
	json_object_set_new(json_object_get(e2, "attestation_report"), "flags", json_integer(7));
	json_array_set_new(json_object_get(json_object_get(e2, "attestation_report"), "magic"), 0,
			   json_integer('A'));
	assert_int_equal(run(fx->v, e2, NULL, 0, NULL, why, sizeof(why)), KBS_ERR_PARSE);
	json_decref(e2);
	/* short report, byte out of range, bad event log */
	e2 = json_deep_copy(ev);
	json_array_remove(json_object_get(json_object_get(e2, "attestation_report"), "data"), 0);
	assert_int_equal(run(fx->v, e2, NULL, 0, NULL, why, sizeof(why)), KBS_ERR_PARSE);
	json_decref(e2);
	e2 = json_deep_copy(ev);
	json_array_set_new(json_object_get(json_object_get(e2, "attestation_report"), "data"), 5,
			   json_integer(256));
	assert_int_equal(run(fx->v, e2, NULL, 0, NULL, why, sizeof(why)), KBS_ERR_PARSE);
	json_decref(e2);
	e2 = json_deep_copy(ev);
	json_object_set_new(e2, "cc_eventlog", json_string("not base64!"));
	assert_int_equal(run(fx->v, e2, NULL, 0, NULL, why, sizeof(why)), KBS_ERR_PARSE);
	json_decref(e2);
	/* uid_size beyond the field */
	{
		struct hcsv_cert c;
		uint8_t raw[HCSV_CERT_LEN];

		memcpy(raw, fx->c.pek_raw, sizeof(raw));
		raw[164] = 0xff;
		assert_int_equal(hcsv_cert_parse(raw, sizeof(raw), &c, why, sizeof(why)),
				 KBS_ERR_PARSE);
	}
	json_decref(ev);
}

/* Through the attestation service: verifier_config.csv_verifier, runtime data, EAR token. */
static void test_as_evaluates_csv_evidence(void **state)
{
	struct fixture *fx = *state;
	struct gen_report_fields f = fx->f;
	struct as_config cfg;
	struct as_ctx *as = NULL;
	struct as_request r = {0};
	struct as_result res;
	static const uint8_t runtime[] = "csv runtime data";
	uint8_t rep[HCSV_REPORT_LEN];
	char p[128], why[300];
	json_t *ev, *c = NULL, *ae;
	struct jwk *pub = NULL;
	static const char *const algs[] = {"ES256", NULL};
	struct jwt_verify_opts o = {0};

	/* raw runtime data is the report data itself (Trustee), zero-padded to 64 bytes */
	memset(f.report_data, 0, 64);
	memcpy(f.report_data, runtime, sizeof(runtime) - 1);
	gen_report(rep, &f, &fx->c.pek);
	ev = gen_evidence(&fx->c, rep, 1, true, "TESTCHIP01", NULL);
	as_config_init(&cfg);
	snprintf(p, sizeof(p), "%s/hrk.cert", fx->dir);
	cfg.verifier_config = json_pack("{s:{s:s}}", "csv_verifier", "hrk_path", p);
	assert_int_equal(as_new(&cfg, &as), KBS_OK);
	r.tee = "csv";
	r.evidence = ev;
	r.runtime_data_raw = runtime;
	r.runtime_data_raw_len = sizeof(runtime) - 1;
	if (as_evaluate(as, &r, 1, NULL, &res, why, sizeof(why)) != KBS_OK)
		fail_msg("%s", why);
	assert_int_equal(jwk_public(as_token_key(as), &pub), KBS_OK);
	o.allowed_algs = algs;
	o.keys = &pub;
	o.nkeys = 1;
	assert_int_equal(jwt_verify(res.token, strlen(res.token), &o, &c, NULL), KBS_OK);
	ae = json_object_get(json_object_get(json_object_get(c, "submods"), "cpu0"),
			     "ear.veraison.annotated-evidence");
	assert_string_equal(cstr(json_object_get(ae, "csv"), "serial_number"), "TESTCHIP01");
	assert_string_equal(cstr(json_object_get(ae, "csv"), "measure"),
			    "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd");
	as_result_release(&res);
	json_decref(c);
	/* other runtime data: the report data no longer matches */
	r.runtime_data_raw = (const uint8_t *)"csv runtime datA";
	assert_int_not_equal(as_evaluate(as, &r, 1, NULL, &res, why, sizeof(why)), KBS_OK);
	assert_non_null(strstr(why, "REPORT_DATA is different"));
	jwk_free(pub);
	as_free(as);
	as_config_release(&cfg);
	json_decref(ev);
}

static void test_config_sources(void **state)
{
	struct as_verifier_config cfg;
	char why[256];
	json_t *vc = json_pack("{s:{s:[{s:s,s:s},{s:s}],s:s}}", "csv_verifier", "hsk_cek_sources",
			       "type", "OfflineStore", "path", "/var/hygon", "type", "KDS",
			       "hrk_path", "/etc/hrk.cert");

	(void)state;
	assert_int_equal(as_verifier_config_from_json(vc, &cfg, why, sizeof(why)), KBS_OK);
	assert_string_equal(cfg.csv_cert_dir, "/var/hygon");
	assert_string_equal(cfg.csv_kds_url, "https://cert.hygon.cn");
	assert_string_equal(cfg.csv_hrk_path, "/etc/hrk.cert");
	as_verifier_config_release(&cfg);
	json_decref(vc);
	assert_int_equal(as_verifier_config_from_json(NULL, &cfg, why, sizeof(why)), KBS_OK);
	assert_string_equal(cfg.csv_cert_dir, "/opt/hygon/csv");
	assert_null(cfg.csv_kds_url); /* no network unless configured */
	as_verifier_config_release(&cfg);
	vc = json_pack("{s:{s:[{s:s}]}}", "csv_verifier", "hsk_cek_sources", "type", "Cloud");
	assert_int_equal(as_verifier_config_from_json(vc, &cfg, why, sizeof(why)), KBS_ERR_INVAL);
	assert_non_null(strstr(why, "csv_verifier.hsk_cek_sources[0]: unknown type 'Cloud'"));
	json_decref(vc);
	assert_non_null(as_verifier_find("csv"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sample_report_fields_and_pek_signature),
	    cmocka_unit_test(test_sample_refused_without_its_hsk_cek),
	    cmocka_unit_test(test_real_hsk_cek_of_another_chip),
	    cmocka_unit_test_setup_teardown(test_generated_chain_verifies_with_trustee_claims,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_generated_chain_from_offline_store, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_report_data_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_byte_flips_in_every_signed_region_refused, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_root_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_v2_report_with_event_log, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_evidence_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_as_evaluates_csv_evidence, setup, teardown),
	    cmocka_unit_test(test_config_sources),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
