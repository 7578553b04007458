// SPDX-License-Identifier: Apache-2.0
/*
 * SEV-SNP verifier: Trustee's evidence samples (Genoa e2e JSON, Milan v2/v3 and Genoa reports
 * from the Azure fixtures, the VLEK report) verify and give Trustee's claim values; any flip of
 * a signed byte, a swapped certificate, a foreign root, wrong report_data / init-data, a
 * TCB or hwID mismatch is rejected with the failed check named. Also the report codec
 * (binary <-> JSON round trips, Turin TCB layout, v5 vectors) and the VCEK cache directory.
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
#include <sys/stat.h>
#include <unistd.h>

#include "testdata.h"
#include "common/err.h"
#include "common/snp_report.h"
#include "server/as/vendor_certs.h"
#include "server/as/verifier.h"
#include "server/as/verifier_snp.h"
#include "server/as/x509util.h"

static uint8_t *td_read(const char *rel, size_t *len)
{
	return td_read_file("snp", rel, len);
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

static json_t *bytes_array(const uint8_t *p, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer(p[i]));
	return a;
}

/* Evidence JSON in Trustee's shape from a binary report and a DER certificate. */
static json_t *evidence_from(const uint8_t *bin, const char *cert_type, const uint8_t *der,
			     size_t derlen)
{
	struct snp_report r;
	char why[256];
	json_t *ev;

	assert_int_equal(snp_report_decode(bin, SNP_REPORT_SIZE, &r, why, sizeof(why)), KBS_OK);
	ev = json_pack("{s:o}", "attestation_report", snp_report_to_json(&r));
	assert_non_null(ev);
	if (der)
		json_object_set_new(ev, "cert_chain",
				    json_pack("[{s:s,s:o}]", "cert_type", cert_type, "data",
					      bytes_array(der, derlen)));
	else
		json_object_set_new(ev, "cert_chain", json_null());
	return ev;
}

static json_t *evidence_files(const char *report, const char *cert, const char *type)
{
	size_t rl, cl;
	uint8_t *r = td_read(report, &rl), *c = td_read(cert, &cl);
	json_t *ev;

	assert_int_equal(rl, SNP_REPORT_SIZE);
	ev = evidence_from(r, type, c, cl);
	free(r);
	free(c);
	return ev;
}

static struct snp_verifier *verifier(unsigned max_vmpl, const char *dir)
{
	struct snp_verifier_config cfg = {.vcek_dir = dir, .max_vmpl = max_vmpl};
	struct snp_verifier *v = NULL;
	char why[256];

	assert_int_equal(snp_verifier_new(&cfg, &v, why, sizeof(why)), KBS_OK);
	return v;
}

static int run(const struct snp_verifier *v, const json_t *ev, const uint8_t *rd, size_t rdlen,
	       const uint8_t *id, size_t idlen, json_t **claims, char *why, size_t whylen)
{
	struct as_verify_input in = {.evidence = ev,
				     .report_data = rd,
				     .report_data_len = rdlen,
				     .init_data_digest = id,
				     .init_data_digest_len = idlen};
	json_t *c = NULL;
	int rc;

	why[0] = 0;
	rc = snp_verifier_verify(v, &in, &c, why, whylen);
	if (claims)
		*claims = c;
	else
		json_decref(c);
	if (rc == KBS_OK)
		assert_non_null(c);
	else
		assert_true(why[0] != 0);
	return rc;
}

static void expect_fail(const struct snp_verifier *v, const json_t *ev, const uint8_t *rd,
			size_t rdlen, const char *needle)
{
	char why[256];

	assert_int_not_equal(run(v, ev, rd, rdlen, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
	if (!strstr(why, needle)) {
		fprintf(stderr, "why='%s' lacks '%s'\n", why, needle);
		fail();
	}
}

#define E2E_RD                                                                                     \
	"7e7320889600c7ac133aea7b896c51f41026002982292a7369559796999c1bf929eef3ff23c46e858f0b1982" \
	"f9"                                                                                       \
	"a92b17c51b578d958cde6b0c92978f150cf9b0"
#define E2E_MEAS                                                                                   \
	"6a6519d757e68c2e939c9dbbbc1828498e8de35d2766dd05f1a2cca5059d0cf4ae62a36d75c837974dd50b31" \
	"55"                                                                                       \
	"06e73e"
#define E2E_CHIP                                                                                   \
	"371c55d6d15cb50f16dc31d39a24e300caaabff4431e841111429b73ec45ad67ea6e687ffae7bf84b54a5d0e" \
	"6d"                                                                                       \
	"79b3ef6ff0bd8b4cff94c2163af5c5de8718e8"

static json_t *e2e(void)
{
	size_t n;
	uint8_t *t = td_read("e2e-evidence-genoa.json", &n);
	json_t *j = json_loadb((const char *)t, n, 0, NULL);

	free(t);
	assert_non_null(j);
	return j;
}

static void e2e_genoa_evidence_verifies_with_trustee_claims(void **state)
{
	struct snp_verifier *v = verifier(0, NULL);
	json_t *ev = e2e(), *c = NULL;
	uint8_t rd[64], zero32[32] = {0};
	char why[256];

	(void)state;
	unhex(E2E_RD, rd, 64);
	assert_int_equal(run(v, ev, rd, 64, zero32, 32, &c, why, sizeof(why)), KBS_OK);
	assert_int_equal(json_integer_value(json_object_get(c, "policy_abi_major")), 0);
	assert_int_equal(json_integer_value(json_object_get(c, "policy_abi_minor")), 0);
	assert_true(json_is_true(json_object_get(c, "policy_smt_allowed")));
	assert_true(json_is_false(json_object_get(c, "policy_migrate_ma")));
	assert_true(json_is_false(json_object_get(c, "policy_debug_allowed")));
	assert_true(json_is_false(json_object_get(c, "policy_single_socket")));
	assert_int_equal(json_integer_value(json_object_get(c, "reported_tcb_bootloader")), 10);
	assert_int_equal(json_integer_value(json_object_get(c, "reported_tcb_tee")), 0);
	assert_int_equal(json_integer_value(json_object_get(c, "reported_tcb_snp")), 23);
	assert_int_equal(json_integer_value(json_object_get(c, "reported_tcb_microcode")), 25);
	assert_true(json_is_false(json_object_get(c, "platform_tsme_enabled")));
	assert_true(json_is_true(json_object_get(c, "platform_smt_enabled")));
	assert_string_equal(json_string_value(json_object_get(c, "measurement")), E2E_MEAS);
	assert_string_equal(json_string_value(json_object_get(c, "report_data")), E2E_RD);
	assert_string_equal(json_string_value(json_object_get(c, "init_data")),
			    "0000000000000000000000000000000000000000000000000000000000000000");
	assert_string_equal(json_string_value(json_object_get(c, "chip_id")), E2E_CHIP);
	assert_int_equal(json_integer_value(json_object_get(c, "vmpl")), 0);
	json_decref(c);

	/* no expected values: binding checks skipped */
	assert_int_equal(run(v, ev, NULL, 0, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
	json_decref(ev);
	snp_verifier_free(v);
}

static void wrong_report_data_or_init_data_rejected(void **state)
{
	struct snp_verifier *v = verifier(0, NULL);
	json_t *ev = e2e();
	uint8_t rd[64], id[32] = {1};
	char why[256];

	(void)state;
	unhex(E2E_RD, rd, 64);
	rd[63] ^= 1;
	expect_fail(v, ev, rd, 64, "REPORT_DATA");
	/* a 48-byte digest is zero-padded: the sample's non-zero tail then cannot match */
	unhex(E2E_RD, rd, 64);
	expect_fail(v, ev, rd, 48, "REPORT_DATA");
	assert_int_equal(run(v, ev, rd, 64, id, 32, NULL, why, sizeof(why)), KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "HOST_DATA"));
	json_decref(ev);
	snp_verifier_free(v);
}

/* Azure fixtures: v2 Milan (accepted although Trustee refuses v2), v3 Milan, v3 Genoa. */
static void milan_v2_milan_v3_genoa_v3_reports_verify(void **state)
{
	static const struct {
		const char *report, *vcek, *rd32;
		int bl, tee, snp, ucode;
	} s[] = {
	    {"milan-v2-report.bin", "milan-v2-vcek.der",
	     "b3fbad6514c83caeb0380882145e49f794229ef37c421b91fc47ff93556bafac", 3, 0, 8, 115},
	    {"milan-v3-report.bin", "milan-v3-vcek.der",
	     "af2910341dd8108360e485f1b72494255190b9cdd5ccb44b73b883037cf99f21", 4, 0, 24, 219},
	    {"genoa-v3-report.bin", "genoa-v3-vcek.der",
	     "b581f12e29a2d7d64e5e0b738d563879a78b51c644d0fa0cce02b48699f6bf5f", 10, 0, 23, 84},
	};
	struct snp_verifier *v = verifier(0, NULL);

	(void)state;
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		json_t *ev = evidence_files(s[i].report, s[i].vcek, "VCEK"), *c = NULL;
		uint8_t rd[32];
		char why[256];

		unhex(s[i].rd32, rd, 32);
		/* REPORT_DATA = SHA-256(var data) || 32 zeros: a 32-byte digest is padded */
		assert_int_equal(run(v, ev, rd, 32, NULL, 0, &c, why, sizeof(why)), KBS_OK);
		assert_int_equal(json_integer_value(json_object_get(c, "reported_tcb_bootloader")),
				 s[i].bl);
		assert_int_equal(json_integer_value(json_object_get(c, "reported_tcb_tee")),
				 s[i].tee);
		assert_int_equal(json_integer_value(json_object_get(c, "reported_tcb_snp")),
				 s[i].snp);
		assert_int_equal(json_integer_value(json_object_get(c, "reported_tcb_microcode")),
				 s[i].ucode);
		assert_true(json_is_true(json_object_get(c, "policy_smt_allowed")));
		assert_int_equal(json_integer_value(json_object_get(c, "policy_abi_minor")), 31);
		rd[0] ^= 0x80;
		expect_fail(v, ev, rd, 32, "REPORT_DATA");
		json_decref(c);
		json_decref(ev);
	}
	snp_verifier_free(v);
}

/* Trustee's corruptions of the v2 report: byte 42 breaks the signature, 0x180 the TCB. */
static void trustee_corruptions_of_v2_report_rejected(void **state)
{
	struct snp_verifier *v = verifier(0, NULL);
	size_t rl, cl;
	uint8_t *r = td_read("milan-v2-report.bin", &rl), *c = td_read("milan-v2-vcek.der", &cl);
	json_t *ev;

	(void)state;
	r[42] ^= 0xff;
	ev = evidence_from(r, "VCEK", c, cl);
	expect_fail(v, ev, NULL, 0, "signature");
	json_decref(ev);
	r[42] ^= 0xff;
	r[0x180]++;
	ev = evidence_from(r, "VCEK", c, cl);
	expect_fail(v, ev, NULL, 0, "signature"); /* the signature check comes first */
	json_decref(ev);
	{
		X509 *x = x509u_from_der(c, cl);
		struct snp_report rep;
		char why[256];

		assert_int_equal(snp_report_decode(r, rl, &rep, why, sizeof(why)), KBS_OK);
		assert_int_equal(snp_vek_check_report(x, false, &rep, why, sizeof(why)),
				 KBS_ERR_VERIFY);
		assert_non_null(strstr(why, "blSPL 4 does not match the VCEK/VLEK blSPL 3"));
		r[0x180]--;
		assert_int_equal(snp_report_decode(r, rl, &rep, why, sizeof(why)), KBS_OK);
		assert_int_equal(snp_vek_check_report(x, false, &rep, why, sizeof(why)), KBS_OK);
		rep.chip_id[63] ^= 1;
		assert_int_equal(snp_vek_check_report(x, false, &rep, why, sizeof(why)),
				 KBS_ERR_VERIFY);
		assert_non_null(strstr(why, "hwID does not match the report CHIP_ID"));
		X509_free(x);
	}
	free(r);
	free(c);
	snp_verifier_free(v);
}

/*
 * Every byte of the signed region, flipped: the raw signature check fails for all of them;
 * through the JSON evidence, either the verifier rejects or the byte is reserved (the JSON
 * form cannot carry it, so the re-encoded report is the original one).
 */
static void every_signed_byte_flip_rejected(void **state)
{
	struct snp_verifier *v = verifier(0, NULL);
	size_t rl, cl;
	uint8_t *r = td_read("genoa-v3-report.bin", &rl), *c = td_read("genoa-v3-vcek.der", &cl);
	X509 *x = x509u_from_der(c, cl);
	unsigned rejected = 0, reserved = 0;

	(void)state;
	assert_non_null(x);
	for (size_t i = 0; i < 0x2A0 + 144; i++) {
		size_t off = i < 0x2A0 ? i : 0x2A0 + (i - 0x2A0) / 48 * 72 + (i - 0x2A0) % 48;
		struct snp_report rep;
		uint8_t enc[SNP_REPORT_SIZE];
		char why[256];

		if (i >= 0x2A0 && (i - 0x2A0) >= 96)
			break;
		r[off] ^= 0x01;
		assert_int_not_equal(
		    snp_verify_report_signature(r, X509_get0_pubkey(x), why, sizeof(why)), KBS_OK);
		if (snp_report_decode(r, rl, &rep, why, sizeof(why)) != KBS_OK) {
			rejected++; /* e.g. version or CPU model no longer valid */
		} else {
			json_t *ev = evidence_from(r, "VCEK", c, cl);

			if (run(v, ev, NULL, 0, NULL, 0, NULL, why, sizeof(why)) != KBS_OK) {
				rejected++;
			} else {
				r[off] ^= 0x01;
				assert_int_equal(snp_report_encode(&rep, enc), KBS_OK);
				assert_memory_equal(enc, r, SNP_REPORT_SIZE);
				r[off] ^= 0x01;
				reserved++;
			}
			json_decref(ev);
		}
		r[off] ^= 0x01;
	}
	/* reserved: 0x4C..0x50, 0x18B..0x1A0, 0x1EB, 0x1EF, 0x1F8..0x2A0, TCB bytes 2..5 */
	assert_int_equal(reserved, 4 + 21 + 2 + 168 + 4 * 4);
	assert_int_equal(rejected, 0x2A0 + 96 - reserved);
	X509_free(x);
	free(r);
	free(c);
	snp_verifier_free(v);
}

static json_t *with_chain(json_t *ev, json_t *chain)
{
	json_object_set_new(ev, "cert_chain", chain);
	return ev;
}

static json_t *pem_entry(const char *type, const char *pem, int idx)
{
	X509 *c[3];
	size_t n;
	unsigned char *der = NULL;
	int l;
	json_t *e;

	assert_int_equal(x509u_pem_chain(pem, strlen(pem), c, 3, &n), KBS_OK);
	l = i2d_X509(c[idx], &der);
	assert_true(l > 0);
	e = json_pack("{s:s,s:o}", "cert_type", type, "data", bytes_array(der, (size_t)l));
	OPENSSL_free(der);
	for (size_t i = 0; i < n; i++)
		X509_free(c[i]);
	return e;
}

static void swapped_certificates_and_foreign_roots_rejected(void **state)
{
	struct snp_verifier *v = verifier(0, NULL);
	json_t *ev = e2e(),
	       *vcek = json_incref(json_array_get(json_object_get(ev, "cert_chain"), 0));
	size_t cl;
	uint8_t *c;

	(void)state;
	/* a Milan VCEK for a Genoa report: not signed by the Genoa ASK */
	c = td_read("milan-v3-vcek.der", &cl);
	with_chain(ev, json_pack("[{s:s,s:o}]", "cert_type", "VCEK", "data", bytes_array(c, cl)));
	expect_fail(v, ev, NULL, 0, "not signed by the Genoa ASK");
	free(c);
	/* another Genoa chip's VCEK: chain fine, report signature not */
	c = td_read("genoa-v3-vcek.der", &cl);
	with_chain(ev, json_pack("[{s:s,s:o}]", "cert_type", "VCEK", "data", bytes_array(c, cl)));
	expect_fail(v, ev, NULL, 0, "report signature does not verify");
	free(c);
	/* the right VCEK with a foreign ARK (Milan's, or any other root) */
	with_chain(ev, json_pack("[O,o]", vcek, pem_entry("ARK", vendor_amd_milan_pem, 1)));
	expect_fail(v, ev, NULL, 0, "ARK is not the built-in AMD ARK-Genoa");
	/* an ASK that the Genoa ARK did not sign */
	with_chain(ev, json_pack("[O,o]", vcek, pem_entry("ASK", vendor_amd_turin_pem, 0)));
	expect_fail(v, ev, NULL, 0, "not signed by ARK-Genoa");
	/* the real Genoa ARK and ASK supplied explicitly are fine */
	with_chain(ev, json_pack("[o,o,O]", pem_entry("ARK", vendor_amd_genoa_pem, 1),
				 pem_entry("ASK", vendor_amd_genoa_pem, 0), vcek));
	{
		char why[256];

		assert_int_equal(run(v, ev, NULL, 0, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
	}
	/* VCEK presented as a VLEK: the ASVK does not sign it */
	json_object_set_new(vcek, "cert_type", json_string("VLEK"));
	with_chain(ev, json_pack("[O]", vcek));
	expect_fail(v, ev, NULL, 0, "VLEK is not signed by the Genoa ASVK");
	/* no certificate at all, no cache, no KDS */
	with_chain(ev, json_null());
	expect_fail(v, ev, NULL, 0, "no VCEK");
	json_object_del(ev, "cert_chain");
	expect_fail(v, ev, NULL, 0, "KDS fetching not configured");
	json_decref(vcek);
	json_decref(ev);
	snp_verifier_free(v);
}

/* The second verification of a VCEK comes from the verified-VEK cache: same verdicts. */
static void cached_vcek_keeps_every_check(void **state)
{
	struct snp_verifier *v = verifier(0, NULL);
	json_t *ev = e2e(), *vcek = json_array_get(json_object_get(ev, "cert_chain"), 0);
	json_t *r;
	uint8_t rd[64];
	char why[256];

	(void)state;
	unhex(E2E_RD, rd, 64);
	for (int i = 0; i < 3; i++)
		assert_int_equal(run(v, ev, rd, 64, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
	rd[1] ^= 1;
	expect_fail(v, ev, rd, 64, "REPORT_DATA");
	/* the cached VCEK with a foreign ARK, or claimed to be a VLEK */
	json_array_append_new(json_object_get(ev, "cert_chain"),
			      pem_entry("ARK", vendor_amd_milan_pem, 1));
	expect_fail(v, ev, NULL, 0, "ARK is not the built-in AMD ARK-Genoa");
	json_array_remove(json_object_get(ev, "cert_chain"), 1);
	json_object_set_new(vcek, "cert_type", json_string("VLEK"));
	expect_fail(v, ev, NULL, 0, "VLEK is not signed by the Genoa ASVK");
	json_object_set_new(vcek, "cert_type", json_string("VCEK"));
	/* a changed report with the cached VCEK */
	r = json_object_get(ev, "attestation_report");
	json_integer_set(json_object_get(r, "guest_svn"), 1);
	expect_fail(v, ev, NULL, 0, "report signature does not verify");
	json_integer_set(json_object_get(r, "guest_svn"), 0);
	json_integer_set(json_object_get(json_object_get(r, "reported_tcb"), "snp"), 24);
	expect_fail(v, ev, NULL, 0, "signature");
	json_decref(ev);
	snp_verifier_free(v);
}

static void vlek_report_verifies_when_vmpl_allowed(void **state)
{
	struct snp_verifier *strict = verifier(0, NULL), *v1 = verifier(1, NULL);
	json_t *ev = evidence_files("test-vlek-report.bin", "test-vlek.der", "VLEK"), *c = NULL;
	uint8_t rd[64];
	char why[256];

	(void)state;
	unhex(
	    "819770b7e6ea6df8dd8fd4dd146b073c0bf4f3ce5b0977ecac486e3a05ed1bd54e2a7ac1f5d1ca02e7d7d5"
	    "ef9f73b8574fd9359e3a480d741a4478e8a7bc27ca",
	    rd, 64);
	expect_fail(strict, ev, rd, 64, "VMPL 1");
	assert_int_equal(run(v1, ev, rd, 64, NULL, 0, &c, why, sizeof(why)), KBS_OK);
	assert_int_equal(json_integer_value(json_object_get(c, "reported_tcb_microcode")), 217);
	assert_int_equal(json_integer_value(json_object_get(c, "reported_tcb_snp")), 24);
	assert_int_equal(json_integer_value(json_object_get(c, "vmpl")), 1);
	json_decref(c);
	/* the VLEK declared as a VCEK: chain and signing-key kind both refuse */
	json_object_set_new(json_array_get(json_object_get(ev, "cert_chain"), 0), "cert_type",
			    json_string("VCEK"));
	expect_fail(v1, ev, rd, 64, "VCEK is not signed by the Milan ASK");
	json_decref(ev);
	snp_verifier_free(strict);
	snp_verifier_free(v1);
}

static void binary_and_json_forms_round_trip(void **state)
{
	static const char *const files[] = {"milan-v2-report.bin", "milan-v3-report.bin",
					    "genoa-v3-report.bin", "test-vlek-report.bin"};
	struct snp_report r, r2;
	uint8_t enc[SNP_REPORT_SIZE];
	char why[256];
	json_t *e, *a;

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		size_t n;
		uint8_t *b = td_read(files[i], &n);
		json_t *j;

		assert_int_equal(snp_report_decode(b, n, &r, why, sizeof(why)), KBS_OK);
		assert_int_equal(snp_report_encode(&r, enc), KBS_OK);
		assert_memory_equal(enc, b, SNP_REPORT_SIZE);
		j = snp_report_to_json(&r);
		assert_int_equal(snp_report_from_json(j, &r2, why, sizeof(why)), KBS_OK);
		assert_int_equal(snp_report_encode(&r2, enc), KBS_OK);
		assert_memory_equal(enc, b, SNP_REPORT_SIZE);
		json_decref(j);
		free(b);
	}
	assert_int_equal(r.gen, SNP_GEN_MILAN);
	/* Trustee's JSON -> binary -> JSON gives back the same object */
	e = e2e();
	a = json_object_get(e, "attestation_report");
	assert_int_equal(snp_report_from_json(a, &r, why, sizeof(why)), KBS_OK);
	assert_int_equal(r.gen, SNP_GEN_GENOA);
	assert_int_equal(snp_report_encode(&r, enc), KBS_OK);
	assert_int_equal(snp_report_decode(enc, sizeof(enc), &r2, why, sizeof(why)), KBS_OK);
	{
		json_t *back = snp_report_to_json(&r2);

		/* this older serializer omits the (null) v5 mitigation vectors */
		assert_true(json_is_null(json_object_get(back, "launch_mit_vector")));
		json_object_del(back, "launch_mit_vector");
		json_object_del(back, "current_mit_vector");
		assert_true(json_equal(back, a));
		json_decref(back);
	}
	json_decref(e);
}

static void turin_tcb_layout_and_v5_vectors(void **state)
{
	struct snp_tcb t = {.has_fmc = true,
			    .fmc = 5,
			    .bootloader = 3,
			    .tee = 1,
			    .snp = 8,
			    .microcode = 0x15},
		       t2;
	uint8_t b[8], enc[SNP_REPORT_SIZE];
	static const uint8_t turin[8] = {5, 3, 1, 8, 0, 0, 0, 0x15};
	static const uint8_t milan[8] = {3, 1, 0, 0, 0, 0, 8, 0x15};
	struct snp_report r, r2;
	char why[256];
	size_t n;
	uint8_t *bin = td_read("milan-v3-report.bin", &n);

	(void)state;
	snp_tcb_encode(&t, SNP_GEN_TURIN, b);
	assert_memory_equal(b, turin, 8);
	snp_tcb_decode(b, SNP_GEN_TURIN, &t2);
	assert_memory_equal(&t, &t2, sizeof(t));
	snp_tcb_encode(&t, SNP_GEN_GENOA, b);
	assert_memory_equal(b, milan, 8);

	/* v5 Turin (family 0x1A): mitigation vectors at 0x1F8/0x200, TCB in Turin layout */
	assert_int_equal(snp_report_decode(bin, n, &r, why, sizeof(why)), KBS_OK);
	r.version = 5;
	r.cpuid_fam_id = 0x1A;
	r.cpuid_mod_id = 0x02;
	r.gen = snp_report_generation(&r);
	assert_int_equal(r.gen, SNP_GEN_TURIN);
	r.reported_tcb = t;
	r.launch_mit_vector = 0x0102030405060708ull;
	r.current_mit_vector = 0x1112131415161718ull;
	assert_int_equal(snp_report_encode(&r, enc), KBS_OK);
	assert_memory_equal(enc + 0x180, turin, 8);
	assert_int_equal(enc[0x1F8], 0x08);
	assert_int_equal(enc[0x207], 0x11);
	assert_int_equal(snp_report_decode(enc, sizeof(enc), &r2, why, sizeof(why)), KBS_OK);
	assert_true(r2.reported_tcb.has_fmc);
	assert_int_equal(r2.reported_tcb.fmc, 5);
	assert_int_equal(r2.current_mit_vector, r.current_mit_vector);
	{
		json_t *j = snp_report_to_json(&r2);
		struct snp_report r3;
		uint8_t enc2[SNP_REPORT_SIZE];

		assert_int_equal(
		    json_integer_value(json_object_get(json_object_get(j, "reported_tcb"), "fmc")),
		    5);
		assert_int_equal(snp_report_from_json(j, &r3, why, sizeof(why)), KBS_OK);
		assert_int_equal(snp_report_encode(&r3, enc2), KBS_OK);
		assert_memory_equal(enc, enc2, sizeof(enc));
		json_decref(j);
	}
	/* v2 generation heuristic: CHIP_ID beyond byte 8 → Milan/Genoa; only 8 bytes → Turin */
	r.version = 2;
	assert_int_equal(snp_report_generation(&r), SNP_GEN_MILAN_OR_GENOA);
	memset(r.chip_id + 8, 0, 56);
	assert_int_equal(snp_report_generation(&r), SNP_GEN_TURIN);
	memset(r.chip_id, 0, 8);
	assert_int_equal(snp_report_generation(&r), SNP_GEN_UNKNOWN);
	free(bin);
}

static void malformed_reports_rejected_with_named_field(void **state)
{
	json_t *e = e2e(), *a = json_object_get(e, "attestation_report"), *cp;
	struct snp_report r;
	char why[256];
	uint8_t bin[SNP_REPORT_SIZE] = {0};
	static const struct {
		const char *key;
		const char *json;
		const char *needle;
	} bad[] = {
	    {"version", "1", "unsupported version 1"},
	    {"version", "6", "unsupported version 6"},
	    {"measurement", "[1,2,3]", "'measurement' must be an array of 48"},
	    {"policy", "-1", "'policy' out of range"},
	    {"policy", "\"0x30000\"", "'policy' must be an integer"},
	    {"cpuid_mod_id", "48", "unsupported CPU"},
	    {"cpuid_fam_id", "null", "without 'cpuid_fam_id'"},
	    {"reported_tcb", "{\"bootloader\":1}", "reported_tcb.tee"},
	    {"signature", "{\"r\":[]}", "'r' must be an array of 72"},
	    {"current", "{}", "'current' must be"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cp = json_deep_copy(a);
		json_object_set_new(cp, bad[i].key, json_loads(bad[i].json, JSON_DECODE_ANY, NULL));
		assert_int_not_equal(snp_report_from_json(cp, &r, why, sizeof(why)), KBS_OK);
		if (!strstr(why, bad[i].needle)) {
			fprintf(stderr, "case %zu: '%s'\n", i, why);
			fail();
		}
		json_decref(cp);
	}
	cp = json_deep_copy(a);
	json_array_set_new(json_object_get(cp, "chip_id"), 3, json_integer(256));
	assert_int_not_equal(snp_report_from_json(cp, &r, why, sizeof(why)), KBS_OK);
	assert_non_null(strstr(why, "'chip_id'[3] is not a byte"));
	json_decref(cp);
	/* missing optional mitigation vectors are fine */
	cp = json_deep_copy(a);
	json_object_del(cp, "launch_mit_vector");
	assert_int_equal(snp_report_from_json(cp, &r, why, sizeof(why)), KBS_OK);
	json_decref(cp);
	assert_int_not_equal(snp_report_decode(bin, sizeof(bin) - 1, &r, why, sizeof(why)), KBS_OK);
	bin[0] = 3;
	assert_int_not_equal(snp_report_decode(bin, sizeof(bin), &r, why, sizeof(why)), KBS_OK);
	assert_non_null(strstr(why, "unsupported CPU"));
	json_decref(e);
}

static void vcek_extensions_parse_both_hwid_encodings(void **state)
{
	static const char *const files[] = {"test-vcek-invalid-legacy.der",
					    "test-vcek-invalid-new.der"};
	char cn[64];

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		size_t n, hl;
		uint8_t *d = td_read(files[i], &n);
		X509 *x = x509u_from_der(d, n);
		const uint8_t *hw;
		const uint8_t *p;
		size_t l;
		uint32_t v;

		assert_non_null(x);
		assert_int_equal(snp_vek_hwid(x, &hw, &hl), KBS_OK);
		assert_int_equal(hl, 64);
		for (size_t k = 0; k < 64; k++)
			assert_int_equal(hw[k], k);
		assert_int_equal(x509u_ext(x, "1.3.6.1.4.1.3704.1.3.8", &p, &l), KBS_OK);
		assert_int_equal(x509u_der_uint(p, l, &v), KBS_OK);
		assert_int_equal(x509u_subject_cn(x, cn, sizeof(cn)), KBS_OK);
		assert_string_equal(cn, "SEV-VCEK");
		X509_free(x);
		free(d);
	}
}

static void tcb_prefix_matches_trustee_format(void **state)
{
	struct snp_tcb a = {.bootloader = 2, .tee = 0, .snp = 6, .microcode = 21};
	struct snp_tcb b = {
	    .has_fmc = true, .fmc = 5, .bootloader = 3, .tee = 1, .snp = 8, .microcode = 15};
	char s[64];

	(void)state;
	assert_int_equal(snp_tcb_prefix(&a, false, s, sizeof(s)), KBS_OK);
	assert_string_equal(s, "bl02_tee00_snp06_ucode21");
	assert_int_equal(snp_tcb_prefix(&b, true, s, sizeof(s)), KBS_OK);
	assert_string_equal(s, "bl03_tee01_snp08_ucode15_fmc05");
	assert_int_equal(snp_tcb_prefix(&b, true, s, 10), KBS_ERR_RANGE);
}

static void mkdirs(const char *path)
{
	char tmp[1024];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(tmp, 0700);
			*p = '/';
		}
	mkdir(tmp, 0700);
}

static void vcek_found_in_cache_directory(void **state)
{
	char dir[] = "/tmp/kbs-snp-cache-XXXXXX", path[1024], why[256];
	json_t *ev = e2e(), *vcek = json_array_get(json_object_get(ev, "cert_chain"), 0);
	json_t *data = json_object_get(vcek, "data");
	struct snp_verifier *v;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vcek/%s", dir, E2E_CHIP);
	mkdirs(path);
	snprintf(path, sizeof(path), "%s/vcek/%s/bl10_tee00_snp23_ucode25_vcek.der", dir, E2E_CHIP);
	f = fopen(path, "wb");
	assert_non_null(f);
	for (size_t i = 0; i < json_array_size(data); i++)
		fputc((int)json_integer_value(json_array_get(data, i)), f);
	fclose(f);
	json_object_del(ev, "cert_chain");
	v = verifier(0, dir);
	assert_int_equal(run(v, ev, NULL, 0, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
	/* the cached VCEK must still match the report's TCB */
	json_integer_set(json_object_get(json_object_get(json_object_get(ev, "attestation_report"),
							 "reported_tcb"),
					 "microcode"),
			 26);
	expect_fail(v, ev, NULL, 0, "no VCEK");
	unlink(path);
	snprintf(path, sizeof(path), "%s/vcek/%s", dir, E2E_CHIP);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/vcek", dir);
	rmdir(path);
	rmdir(dir);
	snp_verifier_free(v);
	json_decref(ev);
}

static void table_entry_is_registered(void **state)
{
	const struct as_verifier *v = as_verifier_find("snp");

	(void)state;
	assert_non_null(v);
	assert_string_equal(v->tee_class, "cpu");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(e2e_genoa_evidence_verifies_with_trustee_claims),
	    cmocka_unit_test(wrong_report_data_or_init_data_rejected),
	    cmocka_unit_test(milan_v2_milan_v3_genoa_v3_reports_verify),
	    cmocka_unit_test(trustee_corruptions_of_v2_report_rejected),
	    cmocka_unit_test(every_signed_byte_flip_rejected),
	    cmocka_unit_test(swapped_certificates_and_foreign_roots_rejected),
	    cmocka_unit_test(cached_vcek_keeps_every_check),
	    cmocka_unit_test(vlek_report_verifies_when_vmpl_allowed),
	    cmocka_unit_test(binary_and_json_forms_round_trip),
	    cmocka_unit_test(turin_tcb_layout_and_v5_vectors),
	    cmocka_unit_test(malformed_reports_rejected_with_named_field),
	    cmocka_unit_test(vcek_extensions_parse_both_hwid_encodings),
	    cmocka_unit_test(tcb_prefix_matches_trustee_format),
	    cmocka_unit_test(vcek_found_in_cache_directory),
	    cmocka_unit_test(table_entry_is_registered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
