// SPDX-License-Identifier: Apache-2.0
/*
 * NVIDIA Hopper verifier and SPDM report parser: both of Trustee's reports verify (claims of
 * the first equal Trustee's expected claims file), the four cert-chain cases give Trustee's
 * errors, every flipped byte of the signed region and of the signature, a foreign chain, a
 * wrong or forged root and a wrong nonce are refused with the failed check named; opaque-data
 * encodings and malformed reports; a verified chain is cached by its bytes and a cached chain
 * still has to match the report's signature, FWID and nonce; device lists become one EAR submod per device (gpu0, gpu1)
 * next to cpu0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testdata.h"
#include "common/b64.h"
#include "common/err.h"
#include "server/as/as.h"
#include "server/as/nv_spdm.h"
#include "server/as/verifier.h"
#include "server/as/verifier_nvidia.h"

#define FWID                                                                                       \
	"f5c384aebb579217a2c66b17ed0f28e6a9b8d639041acd7b4721cec004f7275494ba94bb5cdfdb3055ee051762" \
	"b1f75d"
#define NONCE_HOPPER "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb"
#define NONCE_COCO                                                                                 \
	"87d8e24ab336adafe228d49e83d745f6dba4ae505372b6a5704820856b343fece279b616efefc2aae21da80c" \
	"f5581250"
#define UUID "1111-2222-33333-444444-555555"

static char *text(const char *name, size_t *len)
{
	return td_read_file("nvidia", name, len);
}

/* hex text file -> bytes */
static uint8_t *report(const char *name, size_t *len)
{
	size_t n;
	char *t = text(name, &n);
	uint8_t *b = malloc(n / 2 + 1);

	assert_non_null(b);
	assert_int_equal(hex_decode(t, n, b, n / 2 + 1, len), KBS_OK);
	free(t);
	return b;
}

static void unhex(const char *h, uint8_t *out, size_t outcap, size_t *n)
{
	assert_int_equal(hex_decode(h, strlen(h), out, outcap, n), KBS_OK);
}

static struct nv_verifier *builtin(void)
{
	struct nv_verifier *v = NULL;
	char why[256];

	assert_int_equal(nv_verifier_new(NULL, 0, &v, why, sizeof(why)), KBS_OK);
	return v;
}

static int verify(const struct nv_verifier *v, const uint8_t *rep, size_t len, const char *chain,
		  const char *nonce_hex, json_t **claims, char *why, size_t whylen)
{
	size_t pemlen, nl;
	char *pem = text(chain, &pemlen);
	uint8_t nonce[64];
	json_t *c = NULL;
	int rc;

	unhex(nonce_hex, nonce, sizeof(nonce), &nl);
	rc = nv_verify_report(v, rep, len, pem, pemlen, nonce, "Hopper", UUID, &c, why, whylen);
	free(pem);
	if (claims)
		*claims = c;
	else
		json_decref(c);
	return rc;
}

static void test_hopper_claims_equal_trustee(void **state)
{
	struct nv_verifier *v = builtin();
	size_t len;
	uint8_t *rep = report("hopperAttestationReport.txt", &len);
	char *exp_text = text("hopperAttestationReport-claims.txt", NULL);
	json_t *exp = json_loads(exp_text, 0, NULL), *c = NULL;
	char why[512] = "";

	(void)state;
	assert_non_null(exp);
	assert_int_equal(verify(v, rep, len, "hopper_cert_chain_case1.txt", NONCE_HOPPER, &c, why,
				sizeof(why)),
			 KBS_OK);
	assert_true(json_equal(c, exp));
	/* spot checks that the equality is not vacuous */
	assert_int_equal(json_object_size(json_object_get(c, "measurements")), 64);
	assert_string_equal(json_string_value(json_object_get(json_object_get(c, "config"),
							      "vbios_version")),
			    "96.00.9f.00.01");
	json_decref(c);
	json_decref(exp);
	free(exp_text);
	free(rep);
	nv_verifier_free(v);
}

static void test_coco_report_verifies_with_truncated_report_data(void **state)
{
	struct nv_verifier *v = builtin();
	size_t len, pemlen;
	uint8_t *rep = report("hopper_coco_report1.txt", &len);
	char *pem = text("hopper_coco_certs1.txt", &pemlen);
	char why[512] = "", fwid[97];
	json_t *c = NULL;
	X509 *leaf;
	BIO *bio;

	(void)state;
	/* 48-byte report data: the first 32 bytes are the SPDM nonce */
	assert_int_equal(verify(v, rep, len, "hopper_coco_certs1.txt", NONCE_COCO, &c, why,
				sizeof(why)),
			 KBS_OK);
	/* the report's FWID is the one in its own signing certificate */
	bio = BIO_new_mem_buf(pem, (int)pemlen);
	leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	assert_non_null(leaf);
	assert_int_equal(nv_cert_fwid(leaf, fwid, why, sizeof(why)), KBS_OK);
	assert_string_equal(json_string_value(json_object_get(json_object_get(c, "config"), "fwid")),
			    fwid);
	assert_string_not_equal(fwid, FWID);
	assert_string_equal(json_string_value(json_object_get(c, "arch")), "Hopper");
	X509_free(leaf);
	BIO_free(bio);
	json_decref(c);
	free(pem);
	free(rep);
	nv_verifier_free(v);
}

static void test_cert_chain_cases_give_trustee_errors(void **state)
{
	static const struct {
		const char *file;
		const char *err; /* NULL = valid */
	} cases[] = {
	    {"hopper_cert_chain_case1.txt", NULL},
	    {"hopper_cert_chain_case2.txt",
	     "Certificate chain must have at least the root CA and signing certificates"},
	    {"hopper_cert_chain_case3.txt", "Report certificate chain failed to verify"},
	    {"hopper_cert_chain_case4.txt", "FwId oid not found in the NVIDIA signing certificate"},
	};
	struct nv_verifier *v = builtin();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		char *pem = text(cases[i].file, &len), why[256] = "";
		int rc = nv_cert_chain_verify(v, pem, len, FWID, why, sizeof(why));

		if (!cases[i].err) {
			assert_int_equal(rc, KBS_OK);
		} else {
			assert_int_not_equal(rc, KBS_OK);
			assert_string_equal(why, cases[i].err);
		}
		free(pem);
	}
	/* the valid chain with another FWID: the report and the certificate disagree */
	{
		size_t len;
		char *pem = text("hopper_cert_chain_case1.txt", &len), why[400] = "";
		char other[] = FWID;
		other[0] = '0';
		assert_int_equal(nv_cert_chain_verify(v, pem, len, other, why, sizeof(why)),
				 KBS_ERR_VERIFY);
		assert_non_null(strstr(why, "Fwid mismatch: certificate " FWID ", evidence 05c3"));
		free(pem);
	}
	nv_verifier_free(v);
}

static void test_signing_cert_fwid(void **state)
{
	size_t len;
	char *pem = text("hopper_signing_cert.pem", &len), fwid[97], why[256];
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);

	(void)state;
	assert_non_null(x);
	assert_int_equal(nv_cert_fwid(x, fwid, why, sizeof(why)), KBS_OK);
	assert_string_equal(fwid, FWID);
	X509_free(x);
	BIO_free(bio);
	free(pem);
}

static void test_signature_checked_before_chain(void **state)
{
	struct nv_verifier *v = builtin();
	size_t len;
	uint8_t *rep = report("hopperAttestationReport.txt", &len);
	char why[512] = "";

	(void)state;
	/* the signing certificate alone: the signature verifies (Trustee's
	 * test_verify_report_signature), then the chain check refuses */
	assert_int_equal(verify(v, rep, len, "hopper_signing_cert.pem", NONCE_HOPPER, NULL, why,
				sizeof(why)),
			 KBS_ERR_VERIFY);
	assert_string_equal(why,
			    "Certificate chain must have at least the root CA and signing certificates");
	/* another GPU's chain: its leaf key did not sign this report */
	assert_int_equal(verify(v, rep, len, "hopper_coco_certs1.txt", NONCE_HOPPER, NULL, why,
				sizeof(why)),
			 KBS_ERR_VERIFY);
	assert_string_equal(why, "NVIDIA report signature verification failed.");
	/* case 4 (signing certificate missing): the BROM key did not sign it either */
	assert_int_equal(verify(v, rep, len, "hopper_cert_chain_case4.txt", NONCE_HOPPER, NULL, why,
				sizeof(why)),
			 KBS_ERR_VERIFY);
	assert_string_equal(why, "NVIDIA report signature verification failed.");
	/* case 3 (intermediate missing): signature fine, path validation fails */
	assert_int_equal(verify(v, rep, len, "hopper_cert_chain_case3.txt", NONCE_HOPPER, NULL, why,
				sizeof(why)),
			 KBS_ERR_VERIFY);
	assert_string_equal(why, "Report certificate chain failed to verify");
	free(rep);
	nv_verifier_free(v);
}

static void test_repeated_chain_cached_and_still_checked(void **state)
{
	struct nv_verifier *v = builtin();
	size_t len;
	uint8_t *rep = report("hopperAttestationReport.txt", &len);
	char why[512] = "", other[] = NONCE_HOPPER;

	(void)state;
	/* a chain that failed is not remembered */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(verify(v, rep, len, "hopper_cert_chain_case3.txt", NONCE_HOPPER,
					NULL, why, sizeof(why)),
				 KBS_ERR_VERIFY);
		assert_string_equal(why, "Report certificate chain failed to verify");
	}
	/* the second verification of a good chain takes the cached path */
	for (int i = 0; i < 2; i++)
		assert_int_equal(verify(v, rep, len, "hopper_cert_chain_case1.txt", NONCE_HOPPER,
					NULL, why, sizeof(why)),
				 KBS_OK);
	/* the cached chain still has to have signed this report, for this nonce */
	other[0] = '0';
	assert_int_equal(verify(v, rep, len, "hopper_cert_chain_case1.txt", other, NULL, why,
				sizeof(why)),
			 KBS_ERR_VERIFY);
	assert_string_equal(why, "Nvidia report nonce mismatch");
	rep[40] ^= 0x80;
	assert_int_equal(verify(v, rep, len, "hopper_cert_chain_case1.txt", NONCE_HOPPER, NULL, why,
				sizeof(why)),
			 KBS_ERR_VERIFY);
	assert_string_equal(why, "NVIDIA report signature verification failed.");
	free(rep);
	nv_verifier_free(v);
}

static bool named_check(const char *why)
{
	static const char *const checks[] = {
	    "NVIDIA report signature verification failed.",
	    "SPDM version",
	    "MeasurementBlock overflow",
	    "Measurement overflow",
	    "DMTF measurement",
	    "Only measurements encoded in the DMTF layout",
	    "MeasurementRecord overflow",
	    "Nonce overflow",
	    "OpaqueData",
	    "Invalid OpaqueDataType",
	    "Duplicated OpaqueDataType",
	    "Both vbios_version and driver_version",
	    "Signature overflow",
	    "Invalid gpu vbios version",
	    "opaque_data_version",
	    "measurement_count",
	};
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		if (strstr(why, checks[i]))
			return true;
	return false;
}

static void test_flipped_bytes_refused(void **state)
{
	struct nv_verifier *v = builtin();
	size_t len, pemlen, nl, nsig = 0, ntested = 0;
	uint8_t *rep = report("hopperAttestationReport.txt", &len);
	char *pem = text("hopper_cert_chain_case1.txt", &pemlen), why[512];
	uint8_t nonce[32];
	struct nv_spdm_report *r = calloc(1, sizeof(*r));
	size_t signed_len;
	json_t *c;

	(void)state;
	unhex(NONCE_HOPPER, nonce, sizeof(nonce), &nl);
	assert_int_equal(nv_spdm_parse(rep, len, NV_HOPPER_SIG_LEN, r, why, sizeof(why)), KBS_OK);
	signed_len = r->signed_len;
	assert_int_equal(r->report_len, len);
	nv_spdm_report_release(r);
	/* every byte of the headers and the request nonce, then a stride through the rest, and
	 * every 3rd byte of the signature */
	for (size_t i = 0; i < len; i += (i < 80 || i >= signed_len) ? (i >= signed_len ? 3 : 1)
								     : 7) {
		rep[i] ^= 0x01;
		c = NULL;
		why[0] = 0;
		int rc = nv_verify_report(v, rep, len, pem, pemlen, nonce, "Hopper", UUID, &c, why,
					  sizeof(why));
		rep[i] ^= 0x01;
		if (rc == KBS_OK)
			fail_msg("flip at offset %zu accepted", i);
		if (!named_check(why))
			fail_msg("flip at offset %zu: unnamed failure '%s'", i, why);
		/* the request nonce (4..36) is covered by the signature: a changed nonce is a
		 * signature failure, not a nonce mismatch */
		if ((i >= 4 && i < 36) || i >= signed_len)
			assert_string_equal(why, "NVIDIA report signature verification failed.");
		if (strstr(why, "signature verification failed"))
			nsig++;
		ntested++;
		json_decref(c);
	}
	assert_true(ntested > 600);
	assert_true(nsig > ntested / 2);
	free(r);
	free(pem);
	free(rep);
	nv_verifier_free(v);
}

static void test_wrong_nonce_refused(void **state)
{
	struct nv_verifier *v = builtin();
	size_t len;
	uint8_t *rep = report("hopperAttestationReport.txt", &len);
	char why[512], other[] = NONCE_HOPPER;

	(void)state;
	other[63] = other[63] == '0' ? '1' : '0';
	assert_int_equal(verify(v, rep, len, "hopper_cert_chain_case1.txt", other, NULL, why,
				sizeof(why)),
			 KBS_ERR_VERIFY);
	assert_string_equal(why, "Nvidia report nonce mismatch");
	free(rep);
	nv_verifier_free(v);
}

/* A self-signed P-384 CA with the subject of NVIDIA's root (PEM, malloc'ed). */
static char *forged_root(size_t *len, EVP_PKEY **keyout)
{
	EVP_PKEY *k = EVP_EC_gen("P-384");
	X509 *x = X509_new();
	X509_NAME *nm = X509_NAME_new();
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	assert_non_null(k);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
				   (const unsigned char *)"NVIDIA Device Identity CA", -1, -1, 0);
	X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC, (const unsigned char *)"NVIDIA", -1, -1,
				   0);
	X509_set_subject_name(x, nm);
	X509_set_issuer_name(x, nm);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	assert_true(X509_sign(x, k, EVP_sha384()) > 0);
	PEM_write_bio_X509(bio, x);
	n = BIO_get_mem_data(bio, &data);
	out = malloc((size_t)n + 1);
	memcpy(out, data, (size_t)n);
	out[n] = 0;
	*len = (size_t)n;
	BIO_free(bio);
	X509_NAME_free(nm);
	X509_free(x);
	if (keyout)
		*keyout = k;
	else
		EVP_PKEY_free(k);
	return out;
}

static void test_wrong_root_refused(void **state)
{
	size_t len, rlen, pemlen;
	uint8_t *rep = report("hopperAttestationReport.txt", &len);
	char *root = forged_root(&rlen, NULL), why[512];
	char *pem = text("hopper_cert_chain_case1.txt", &pemlen), *swapped, *last;
	struct nv_verifier *v = NULL, *b = builtin();
	uint8_t nonce[32];
	size_t nl;
	json_t *c = NULL;

	(void)state;
	unhex(NONCE_HOPPER, nonce, sizeof(nonce), &nl);
	/* a verifier anchored elsewhere refuses NVIDIA's genuine chain */
	assert_int_equal(nv_verifier_new(root, rlen, &v, why, sizeof(why)), KBS_OK);
	assert_int_equal(verify(v, rep, len, "hopper_cert_chain_case1.txt", NONCE_HOPPER, NULL, why,
				sizeof(why)),
			 KBS_ERR_VERIFY);
	assert_string_equal(why, "Root CA in the certificate chain is not trusted");
	/* the genuine chain whose root is replaced by a look-alike: refused by the built-in one */
	last = strstr(pem, "-----BEGIN CERTIFICATE-----");
	for (char *p = last; (p = strstr(p + 1, "-----BEGIN CERTIFICATE-----"));)
		last = p;
	swapped = calloc(1, (size_t)(last - pem) + rlen + 1);
	memcpy(swapped, pem, (size_t)(last - pem));
	memcpy(swapped + (last - pem), root, rlen);
	assert_int_equal(nv_verify_report(b, rep, len, swapped, strlen(swapped), nonce, "Hopper",
					  UUID, &c, why, sizeof(why)),
			 KBS_ERR_VERIFY);
	assert_string_equal(why, "Root CA in the certificate chain is not trusted");
	assert_null(c);
	free(swapped);
	free(pem);
	free(root);
	free(rep);
	nv_verifier_free(v);
	nv_verifier_free(b);
}

/* Evidence JSON with n copies of one device. */
static json_t *evidence(const char *rep_file, const char *chain_file, const char *arch, int n,
			bool b64_report)
{
	size_t rl, cl;
	char *rep = text(rep_file, &rl), *chain = text(chain_file, &cl), *cb64 = NULL;
	char *ev = rep;
	json_t *list = json_array();

	assert_int_equal(b64_encode_alloc((const uint8_t *)chain, cl, B64_STD, &cb64), KBS_OK);
	if (b64_report) {
		size_t bl;
		uint8_t *bin = report(rep_file, &bl);
		assert_int_equal(b64_encode_alloc(bin, bl, B64_STD, &ev), KBS_OK);
		free(bin);
	}
	for (int i = 0; i < n; i++)
		json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s}", "arch", arch, "uuid",
						      UUID, "evidence", ev, "certificate", cb64));
	if (ev != rep)
		free(ev);
	free(rep);
	free(chain);
	free(cb64);
	return json_pack("{s:o}", "device_evidence_list", list);
}

static int run_verifier(const json_t *ev, const char *nonce_hex, json_t **devices, char *why,
			size_t whylen)
{
	const struct as_verifier *a = as_verifier_find("nvidia");
	uint8_t rd[64];
	size_t rl = 0;
	struct as_verify_input in = {.evidence = ev};

	assert_non_null(a);
	assert_string_equal(a->tee_class, "gpu");
	if (nonce_hex) {
		unhex(nonce_hex, rd, sizeof(rd), &rl);
		in.report_data = rd;
		in.report_data_len = rl;
	}
	return a->verify_devices(&in, devices, why, whylen);
}

static void test_evidence_json_and_device_list(void **state)
{
	char *exp_text = text("hopperAttestationReport-claims.txt", NULL);
	json_t *exp = json_loads(exp_text, 0, NULL), *ev, *d = NULL;
	char why[600];

	(void)state;
	/* hex report, two devices: one claims object each, class gpu */
	ev = evidence("hopperAttestationReport.txt", "hopper_cert_chain_case1.txt", "HOPPER", 2,
		      false);
	assert_int_equal(run_verifier(ev, NONCE_HOPPER, &d, why, sizeof(why)), KBS_OK);
	assert_int_equal(json_array_size(d), 2);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(json_string_value(json_object_get(json_array_get(d, i), "class")),
				    "gpu");
		assert_true(json_equal(json_object_get(json_array_get(d, i), "claims"), exp));
	}
	json_decref(d);
	/* no report data */
	assert_int_equal(run_verifier(ev, NULL, &d, why, sizeof(why)), KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "Nvidia report data not provided"));
	/* wrong report data: named with the device */
	assert_int_equal(run_verifier(ev, NONCE_COCO, &d, why, sizeof(why)), KBS_ERR_VERIFY);
	assert_string_equal(why, "nvidia: device 0 (" UUID "): Nvidia report nonce mismatch");
	json_decref(ev);
	/* base64 report (NVAT's encoding), architecture spelled "Hopper" */
	ev = evidence("hopperAttestationReport.txt", "hopper_cert_chain_case1.txt", "Hopper", 1,
		      true);
	assert_int_equal(run_verifier(ev, NONCE_HOPPER, &d, why, sizeof(why)), KBS_OK);
	assert_true(json_equal(json_object_get(json_array_get(d, 0), "claims"), exp));
	json_decref(d);
	/* no uuid: "unknown" */
	json_object_del(json_array_get(json_object_get(ev, "device_evidence_list"), 0), "uuid");
	assert_int_equal(run_verifier(ev, NONCE_HOPPER, &d, why, sizeof(why)), KBS_OK);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(json_array_get(d, 0), "claims"),
					      "uuid")),
	    "unknown");
	json_decref(d);
	json_decref(ev);
	/* Blackwell and switches are NRAS-only in Trustee */
	ev = evidence("hopperAttestationReport.txt", "hopper_cert_chain_case1.txt", "BLACKWELL", 1,
		      false);
	assert_int_equal(run_verifier(ev, NONCE_HOPPER, &d, why, sizeof(why)),
			 KBS_ERR_UNSUPPORTED);
	assert_non_null(strstr(why, "Device architecture not supported"));
	json_decref(ev);
	ev = evidence("hopperAttestationReport.txt", "hopper_cert_chain_case1.txt", "AMPERE", 1,
		      false);
	assert_int_equal(run_verifier(ev, NONCE_HOPPER, &d, why, sizeof(why)), KBS_ERR_PARSE);
	assert_non_null(strstr(why, "Failed to deserialize the NVIDIA device evidence"));
	json_decref(ev);
	/* shapes */
	ev = json_pack("{s:[]}", "device_evidence_list");
	assert_int_equal(run_verifier(ev, NONCE_HOPPER, &d, why, sizeof(why)), KBS_ERR_PARSE);
	json_decref(ev);
	ev = json_pack("{s:s}", "evidence", "00");
	assert_int_equal(run_verifier(ev, NONCE_HOPPER, &d, why, sizeof(why)), KBS_ERR_PARSE);
	json_decref(ev);
	ev = json_pack("{s:[{s:s,s:s,s:s}]}", "device_evidence_list", "arch", "HOPPER", "evidence",
		       "zz!", "certificate", "AAAA");
	assert_int_equal(run_verifier(ev, NONCE_HOPPER, &d, why, sizeof(why)), KBS_ERR_PARSE);
	assert_non_null(strstr(why, "neither hex nor base64"));
	json_decref(ev);
	json_decref(exp);
	free(exp_text);
}

/* ---- parser: synthetic reports ---- */

struct syn {
	uint8_t b[4096];
	size_t n;
};

static void put(struct syn *s, const void *p, size_t n)
{
	assert_true(s->n + n <= sizeof(s->b));
	memcpy(s->b + s->n, p, n);
	s->n += n;
}

static void put16(struct syn *s, unsigned v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	put(s, b, 2);
}

/* request + response with one block and the given opaque data, signature of zeros */
static void build(struct syn *s, const uint8_t *opaque, size_t oplen)
{
	static const uint8_t blk[] = {7, 1, 3 + 4, 0, 2, 4, 0, 0xde, 0xad, 0xbe, 0xef};
	uint8_t z[96] = {0}, hdr[8] = {0x11, 0x60, 0, 0, 1, sizeof(blk), 0, 0};

	s->n = 0;
	put(s, (const uint8_t[]){0x11, 0xe0, 1, 0xff}, 4);
	put(s, z, 32);
	put(s, (const uint8_t[]){0}, 1);
	put(s, hdr, 8);
	put(s, blk, sizeof(blk));
	put(s, z, 32);
	put16(s, (unsigned)oplen);
	put(s, opaque, oplen);
	put(s, z, 96);
}

static int parse_opaque(const uint8_t *op, size_t oplen, json_t **cfg, char *why, size_t whylen)
{
	struct syn s;
	struct nv_spdm_report *r = calloc(1, sizeof(*r));
	int rc;

	build(&s, op, oplen);
	rc = nv_spdm_parse(s.b, s.n, NV_HOPPER_SIG_LEN, r, why, whylen);
	if (rc == KBS_OK) {
		assert_int_equal(r->nblocks, 1);
		assert_int_equal(r->blocks[0].index, 7);
		assert_int_equal(r->blocks[0].value_len, 4);
		assert_int_equal(r->signed_len, s.n - 96);
		*cfg = json_incref(r->opaque);
	}
	nv_spdm_report_release(r);
	free(r);
	return rc;
}

#define ITEM(t, ...) (t), 0, (uint8_t)sizeof((uint8_t[]){__VA_ARGS__}), 0, __VA_ARGS__
#define BASE ITEM(3, '5', '5', '0', 0, 0), ITEM(6, 0x00, 0x9f, 0x00, 0x96, 0x01, 0, 0, 0)

static void test_opaque_data_encodings(void **state)
{
	static const uint8_t ok[] = {
	    BASE,
	    ITEM(12, 1, 0, 0, 0, 0x82, 0, 0, 0),
	    ITEM(22, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16),
	    ITEM(34, 2, 1),
	    ITEM(36, 2),
	    ITEM(17, 'a', 0xff, 'b', 0xe2, 0x82, 0, 0),
	    ITEM(20, 0xab, 0xcd),
	};
	json_t *c = NULL, *exp;
	char why[256];

	(void)state;
	assert_int_equal(parse_opaque(ok, sizeof(ok), &c, why, sizeof(why)), KBS_OK);
	/* strings lose trailing NULs, invalid UTF-8 becomes U+FFFD per maximal subpart */
	exp = json_pack("{s:s,s:s,s:{s:i,s:i},s:[s,s],s:i,s:s,s:s,s:s}", "driver_version", "550",
			"vbios_version", "96.00.9f.00.01", "measurement_count", "1", 1, "2", 130,
			"switch_pdi", "0102030405060708", "090a0b0c0d0e0f10",
			"opaque_data_version", 0x102, "feature_flag", "PPCIE", "project",
			"a\xef\xbf\xbd"
			"b\xef\xbf\xbd"
			"\0",
			"fwid", "abcd");
	/* json_pack stops the project string at the NUL; rebuild it with its length */
	json_object_set_new(exp, "project", json_stringn("a\xef\xbf\xbd"
							 "b\xef\xbf\xbd",
							 8));
	assert_true(json_equal(c, exp));
	json_decref(exp);
	json_decref(c);
}

static void test_opaque_data_refusals(void **state)
{
#define CASE(err, ...) {{__VA_ARGS__}, sizeof((uint8_t[]){__VA_ARGS__}), err}
	static const struct {
		uint8_t op[48];
		size_t n;
		const char *err;
	} cases[] = {
	    CASE("Both vbios_version and driver_version must be present", ITEM(3, '5', 0)),
	    CASE("Duplicated OpaqueDataType: driver_version", BASE, ITEM(3, '1')),
	    CASE("Invalid OpaqueDataType 99", BASE, ITEM(99, 1)),
	    CASE("OpaqueDataType is not multiple of 4", BASE, ITEM(12, 1, 2, 3)),
	    CASE("OpaqueDataType is not multiple of 8", BASE, ITEM(22, 1, 2, 3)),
	    CASE("integer larger than 8 bytes", BASE, ITEM(34, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
	    CASE("opaque_data_version", BASE, ITEM(34, 0, 0, 0, 0, 0, 0, 0, 0x80)),
	    /* an empty vbios item (one trailing byte so that its header is read) */
	    CASE("Invalid gpu vbios version", ITEM(3, '5'), 6, 0, 0, 0, 0),
	    CASE("OpaqueData overflow: offset", BASE, 20, 0, 9, 0, 1),
	};
#undef CASE
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *c = NULL;
		why[0] = 0;
		assert_int_equal(parse_opaque(cases[i].op, cases[i].n, &c, why, sizeof(why)),
				 KBS_ERR_PARSE);
		if (!strstr(why, cases[i].err))
			fail_msg("case %zu: '%s' does not name '%s'", i, why, cases[i].err);
	}
}

static void test_malformed_reports_refused(void **state)
{
	size_t len;
	uint8_t *rep = report("hopperAttestationReport.txt", &len);
	struct nv_spdm_report *r = calloc(1, sizeof(*r));
	char why[256];

	(void)state;
	/* every truncation fails cleanly */
	for (size_t n = 0; n < len; n++) {
		why[0] = 0;
		assert_int_equal(nv_spdm_parse(rep, n, NV_HOPPER_SIG_LEN, r, why, sizeof(why)),
				 KBS_ERR_PARSE);
		assert_true(why[0] != 0);
		nv_spdm_report_release(r);
	}
	/* trailing bytes behind the signature are ignored (Trustee) */
	assert_int_equal(nv_spdm_parse(rep, len, NV_HOPPER_SIG_LEN, r, why, sizeof(why)), KBS_OK);
	nv_spdm_report_release(r);
	/* versions */
	rep[0] = 0x10;
	assert_int_equal(nv_spdm_parse(rep, len, NV_HOPPER_SIG_LEN, r, why, sizeof(why)),
			 KBS_ERR_PARSE);
	assert_string_equal(why, "SPDM version 0x10 not supported");
	rep[0] = 0x11;
	rep[37] = 0x12;
	assert_int_equal(nv_spdm_parse(rep, len, NV_HOPPER_SIG_LEN, r, why, sizeof(why)),
			 KBS_ERR_PARSE);
	assert_string_equal(why, "SPDM version 0x12 not supported");
	rep[37] = 0x11;
	/* a block that is not DMTF-encoded */
	rep[37 + 8 + 1] = 2;
	assert_int_equal(nv_spdm_parse(rep, len, NV_HOPPER_SIG_LEN, r, why, sizeof(why)),
			 KBS_ERR_PARSE);
	assert_string_equal(why, "Only measurements encoded in the DMTF layout are supported");
	rep[37 + 8 + 1] = 1;
	/* record length beyond the report */
	rep[37 + 7] = 0xff;
	assert_int_equal(nv_spdm_parse(rep, len, NV_HOPPER_SIG_LEN, r, why, sizeof(why)),
			 KBS_ERR_PARSE);
	assert_string_equal(why, "MeasurementRecord overflow");
	rep[37 + 7] = 0;
	/* more blocks than the record holds */
	rep[37 + 4] = 0xff;
	assert_int_equal(nv_spdm_parse(rep, len, NV_HOPPER_SIG_LEN, r, why, sizeof(why)),
			 KBS_ERR_PARSE);
	assert_string_equal(why, "MeasurementBlock overflow");
	free(r);
	free(rep);
}

/* ---- through the attestation service: one submod per device ---- */

static char *payload_of(const char *token)
{
	const char *p1 = strchr(token, '.'), *p2 = p1 ? strchr(p1 + 1, '.') : NULL;
	uint8_t *pl;
	size_t n;

	assert_non_null(p2);
	assert_int_equal(b64_decode_alloc(p1 + 1, (size_t)(p2 - p1 - 1), B64_URL, &pl, &n), KBS_OK);
	pl = realloc(pl, n + 1);
	pl[n] = 0;
	return (char *)pl;
}

static void test_as_token_has_gpu_submods(void **state)
{
	struct as_config cfg;
	struct as_ctx *as = NULL;
	struct as_request r[3];
	struct as_result res = {0};
	uint8_t nonce[32], cpu_rd[48];
	size_t nl;
	char why[600] = "", *rd64 = NULL, *pl;
	char *exp_text = text("hopperAttestationReport-claims.txt", NULL);
	json_t *exp = json_loads(exp_text, 0, NULL), *sample, *dev, *sd, *c, *sm;

	(void)state;
	as_config_init(&cfg);
	assert_int_equal(as_new(&cfg, &as), KBS_OK);
	unhex(NONCE_HOPPER, nonce, sizeof(nonce), &nl);
	memset(cpu_rd, 0x5a, sizeof(cpu_rd));
	assert_int_equal(b64_encode_alloc(cpu_rd, sizeof(cpu_rd), B64_STD, &rd64), KBS_OK);
	sample = json_pack("{s:s,s:s}", "svn", "1", "report_data", rd64);
	dev = evidence("hopperAttestationReport.txt", "hopper_cert_chain_case1.txt", "HOPPER", 2,
		       false);
	sd = json_pack("{s:s}", "svn", "2");
	memset(r, 0, sizeof(r));
	r[0] = (struct as_request){.tee = "sample", .evidence = sample,
				   .runtime_data_raw = cpu_rd, .runtime_data_raw_len = 48};
	r[1] = (struct as_request){.tee = "nvidia", .evidence = dev, .runtime_data_raw = nonce,
				   .runtime_data_raw_len = 32};
	r[2] = (struct as_request){.tee = "sampledevice", .evidence = sd};
	assert_int_equal(as_evaluate(as, r, 3, NULL, &res, why, sizeof(why)), KBS_OK);
	pl = payload_of(res.token);
	c = json_loads(pl, 0, NULL);
	sm = json_object_get(c, "submods");
	/* cpu0 = sample, gpu0/gpu1 = the two GPUs, gpu2 = sampledevice (Trustee's class counter) */
	assert_int_equal(json_object_size(sm), 4);
	for (int i = 0; i < 2; i++) {
		json_t *g = json_object_get(sm, i ? "gpu1" : "gpu0");
		json_t *ae = json_object_get(g, "ear.veraison.annotated-evidence");
		assert_true(json_equal(json_object_get(ae, "nvidia"), exp));
		assert_int_equal(json_object_size(ae), 1);
		/* default_gpu appraised it: local claims are not NRAS claims -> hardware 97 */
		assert_string_equal(json_string_value(json_object_get(g, "ear.appraisal-policy-id")),
				    "default");
		assert_int_equal(json_integer_value(json_object_get(
				     json_object_get(g, "ear.trustworthiness-vector"), "hardware")),
				 97);
		assert_string_equal(json_string_value(json_object_get(g, "ear.status")),
				    "contraindicated");
	}
	assert_non_null(json_object_get(json_object_get(json_object_get(sm, "gpu2"),
							"ear.veraison.annotated-evidence"),
					"sampledevice"));
	assert_non_null(json_object_get(json_object_get(json_object_get(sm, "cpu0"),
							"ear.veraison.annotated-evidence"),
					"sample"));
	json_decref(c);
	free(pl);
	as_result_release(&res);
	/* a GPU with the wrong nonce fails the whole evaluation, naming the device check */
	r[1].runtime_data_raw = cpu_rd;
	assert_int_not_equal(as_evaluate(as, r, 2, NULL, &res, why, sizeof(why)), KBS_OK);
	assert_non_null(strstr(why, "Nvidia report nonce mismatch"));
	as_result_release(&res);
	json_decref(sample);
	json_decref(dev);
	json_decref(sd);
	json_decref(exp);
	free(exp_text);
	free(rd64);
	as_free(as);
	as_config_release(&cfg);
}

static void test_config(void **state)
{
	struct as_verifier_config vc;
	struct as_verify_input in = {0};
	char why[512], path[] = "/tmp/nvroot-XXXXXX", *root;
	uint8_t nonce[32];
	size_t rlen, nl;
	void *st = NULL;
	json_t *j, *ev, *d = NULL;
	FILE *f;

	(void)state;
	j = json_pack("{s:{s:s}}", "nvidia_verifier", "type", "Remote");
	assert_int_equal(as_verifier_config_from_json(j, &vc, why, sizeof(why)), KBS_OK);
	assert_true(vc.nvidia_remote);
	as_verifier_config_release(&vc);
	json_decref(j);
	j = json_pack("{s:{s:s}}", "nvidia_verifier", "type", "Cloud");
	assert_int_equal(as_verifier_config_from_json(j, &vc, why, sizeof(why)), KBS_ERR_INVAL);
	assert_non_null(strstr(why, "nvidia_verifier.type"));
	json_decref(j);
	j = json_pack("{s:{s:s,s:s}}", "nvidia_verifier", "type", "local", "root_cert_path",
		      "/x.pem");
	assert_int_equal(as_verifier_config_from_json(j, &vc, why, sizeof(why)), KBS_OK);
	assert_false(vc.nvidia_remote);
	assert_string_equal(vc.nvidia_root_path, "/x.pem");
	/* an unreadable anchor stops the start */
	assert_int_equal(as_verifier_nvidia.create(&vc, &st, why, sizeof(why)), KBS_ERR_IO);
	assert_non_null(strstr(why, "root_cert_path"));
	as_verifier_config_release(&vc);
	json_decref(j);
	/* a configured anchor replaces NVIDIA's: the genuine device chain is then foreign */
	root = forged_root(&rlen, NULL);
	f = fdopen(mkstemp(path), "w");
	assert_non_null(f);
	fwrite(root, 1, rlen, f);
	fclose(f);
	j = json_pack("{s:{s:s}}", "nvidia_verifier", "root_cert_path", path);
	assert_int_equal(as_verifier_config_from_json(j, &vc, why, sizeof(why)), KBS_OK);
	assert_int_equal(as_verifier_nvidia.create(&vc, &st, why, sizeof(why)), KBS_OK);
	ev = evidence("hopperAttestationReport.txt", "hopper_cert_chain_case1.txt", "HOPPER", 1,
		      false);
	unhex(NONCE_HOPPER, nonce, sizeof(nonce), &nl);
	in.state = st;
	in.evidence = ev;
	in.report_data = nonce;
	in.report_data_len = nl;
	assert_int_equal(as_verifier_nvidia.verify_devices(&in, &d, why, sizeof(why)),
			 KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "Root CA in the certificate chain is not trusted"));
	as_verifier_nvidia.destroy(st);
	as_verifier_config_release(&vc);
	json_decref(j);
	unlink(path);
	free(root);
	/* Trustee's docker-compose AS config: Remote (NRAS) loads, NVIDIA evidence is refused */
	j = json_pack("{s:{s:s}}", "nvidia_verifier", "type", "Remote");
	assert_int_equal(as_verifier_config_from_json(j, &vc, why, sizeof(why)), KBS_OK);
	assert_int_equal(as_verifier_nvidia.create(&vc, &st, why, sizeof(why)), KBS_OK);
	in.state = st;
	assert_int_equal(as_verifier_nvidia.verify_devices(&in, &d, why, sizeof(why)),
			 KBS_ERR_UNSUPPORTED);
	assert_non_null(strstr(why, "NRAS"));
	as_verifier_nvidia.destroy(st);
	as_verifier_config_release(&vc);
	json_decref(j);
	json_decref(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hopper_claims_equal_trustee),
	    cmocka_unit_test(test_coco_report_verifies_with_truncated_report_data),
	    cmocka_unit_test(test_cert_chain_cases_give_trustee_errors),
	    cmocka_unit_test(test_signing_cert_fwid),
	    cmocka_unit_test(test_signature_checked_before_chain),
	    cmocka_unit_test(test_repeated_chain_cached_and_still_checked),
	    cmocka_unit_test(test_flipped_bytes_refused),
	    cmocka_unit_test(test_wrong_nonce_refused),
	    cmocka_unit_test(test_wrong_root_refused),
	    cmocka_unit_test(test_evidence_json_and_device_list),
	    cmocka_unit_test(test_opaque_data_encodings),
	    cmocka_unit_test(test_opaque_data_refusals),
	    cmocka_unit_test(test_malformed_reports_refused),
	    cmocka_unit_test(test_as_token_has_gpu_submods),
	    cmocka_unit_test(test_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
