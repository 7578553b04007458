/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_TESTS_HCSV_TESTUTIL_H
#define KBS_TESTS_HCSV_TESTUTIL_H

/*
 * Builds Hygon CSV certificate chains and reports in the binary formats of
 * server/as/hygon_csv.h with SM2 keys generated here: HRK (self-signed) -> HSK -> CEK -> PEK
 * -> report. For the CSV unit test and bench_verifier_csv. Aborts on any OpenSSL failure.
 */
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/as/hygon_csv.h"

struct gen_key {
	EVP_PKEY *pk;
	struct hcsv_pubkey pub;
	uint8_t uid[254];
	uint16_t uid_size;
};

struct gen_chain {
	struct gen_key hrk, hsk, cek, pek;
	uint8_t hrk_raw[HCSV_CA_CERT_LEN], hsk_raw[HCSV_CA_CERT_LEN];
	uint8_t cek_raw[HCSV_CERT_LEN], pek_raw[HCSV_CERT_LEN];
};

#define GEN_CHECK(x)                                                                               \
	do {                                                                                       \
		if (!(x)) {                                                                        \
			fprintf(stderr, "hcsv_testutil: %s failed\n", #x);                         \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static inline void gen_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void gen_key_new(struct gen_key *k, const char *uid)
{
	BIGNUM *x = NULL, *y = NULL;

	memset(k, 0, sizeof(*k));
	GEN_CHECK(k->pk = EVP_PKEY_Q_keygen(NULL, NULL, "SM2"));
	GEN_CHECK(EVP_PKEY_get_bn_param(k->pk, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1);
	GEN_CHECK(EVP_PKEY_get_bn_param(k->pk, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1);
	k->pub.group = HCSV_GROUP_SM2_256;
	GEN_CHECK(BN_bn2lebinpad(x, k->pub.x, 32) == 32);
	GEN_CHECK(BN_bn2lebinpad(y, k->pub.y, 32) == 32);
	BN_free(x);
	BN_free(y);
	k->uid_size = (uint16_t)strlen(uid);
	memcpy(k->uid, uid, k->uid_size);
}

static inline void gen_key_free(struct gen_key *k)
{
	EVP_PKEY_free(k->pk);
	k->pk = NULL;
}

/* SM2/SM3 signature of msg by k (k's uid as the distinguishing id) as r||s, LE 72 bytes each. */
static inline void gen_sign(const struct gen_key *k, const uint8_t *msg, size_t len, uint8_t *rs)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *p = EVP_PKEY_CTX_new_from_pkey(NULL, k->pk, NULL);
	uint8_t der[128];
	const uint8_t *dp = der;
	size_t dl = sizeof(der);
	ECDSA_SIG *s;

	GEN_CHECK(m && p && EVP_PKEY_CTX_set1_id(p, k->uid, k->uid_size) == 1);
	EVP_MD_CTX_set_pkey_ctx(m, p);
	GEN_CHECK(EVP_DigestSignInit(m, NULL, EVP_sm3(), NULL, k->pk) == 1);
	GEN_CHECK(EVP_DigestSign(m, der, &dl, msg, len) == 1);
	GEN_CHECK((s = d2i_ECDSA_SIG(NULL, &dp, (long)dl)) != NULL);
	memset(rs, 0, 144);
	GEN_CHECK(BN_bn2lebinpad(ECDSA_SIG_get0_r(s), rs, 72) == 72);
	GEN_CHECK(BN_bn2lebinpad(ECDSA_SIG_get0_s(s), rs + 72, 72) == 72);
	ECDSA_SIG_free(s);
	EVP_MD_CTX_free(m);
	EVP_PKEY_CTX_free(p);
}

/* CA-format certificate for subj signed by signer (kid = key id of subj, sid = signer's kid). */
static inline void gen_ca_cert(uint8_t *raw, const struct gen_key *subj, uint32_t usage,
			       const uint8_t kid[16], const uint8_t sid[16],
			       const struct gen_key *signer)
{
	memset(raw, 0, HCSV_CA_CERT_LEN);
	gen_put32(raw, 1);
	memcpy(raw + 4, kid, 16);
	memcpy(raw + 20, sid, 16);
	gen_put32(raw + 36, usage);
	gen_put32(raw + 64, subj->pub.group);
	memcpy(raw + 68, subj->pub.x, 72);
	memcpy(raw + 140, subj->pub.y, 72);
	raw[212] = (uint8_t)subj->uid_size;
	raw[213] = (uint8_t)(subj->uid_size >> 8);
	memcpy(raw + 214, subj->uid, 254);
	gen_sign(signer, raw, HCSV_CA_BODY_LEN, raw + HCSV_CA_BODY_LEN);
}

/* CSV-format certificate body for subj (no signatures yet). */
static inline void gen_csv_body(uint8_t *raw, const struct gen_key *subj, uint32_t usage)
{
	memset(raw, 0, HCSV_CERT_LEN);
	gen_put32(raw, 1);
	raw[4] = 1;
	raw[5] = 3;
	gen_put32(raw + 8, usage);
	gen_put32(raw + 12, HCSV_ALGO_SM2_SA);
	gen_put32(raw + 16, subj->pub.group);
	memcpy(raw + 20, subj->pub.x, 72);
	memcpy(raw + 92, subj->pub.y, 72);
	raw[164] = (uint8_t)subj->uid_size;
	raw[165] = (uint8_t)(subj->uid_size >> 8);
	memcpy(raw + 166, subj->uid, 254);
}

/* Fills signature slot i of a CSV certificate: signer's usage/algo, SM2 over the body. */
static inline void gen_csv_sign(uint8_t *raw, int slot, const struct gen_key *signer,
				uint32_t usage)
{
	uint8_t *s = raw + HCSV_CERT_BODY_LEN + 520 * slot;

	gen_put32(s, usage);
	gen_put32(s + 4, HCSV_ALGO_SM2_SA);
	gen_sign(signer, raw, HCSV_CERT_BODY_LEN, s + 8);
}

static inline void gen_chain_new(struct gen_chain *c)
{
	static const uint8_t hrk_id[16] = "test-hrk-key-id";
	static const uint8_t hsk_id[16] = "test-hsk-key-id";
	struct gen_key oca;

	gen_key_new(&c->hrk, "HYGON-SSD-HRK");
	gen_key_new(&c->hsk, "HYGON-SSD-HSK");
	gen_key_new(&c->cek, "HYGON-SSD-CEK");
	gen_key_new(&c->pek, "HYGON-SSD-PEK");
	gen_key_new(&oca, "HYGON-SSD-OCA");
	gen_ca_cert(c->hrk_raw, &c->hrk, HCSV_USAGE_HRK, hrk_id, hrk_id, &c->hrk);
	gen_ca_cert(c->hsk_raw, &c->hsk, HCSV_USAGE_HSK, hsk_id, hrk_id, &c->hrk);
	gen_csv_body(c->cek_raw, &c->cek, HCSV_USAGE_CEK);
	gen_csv_sign(c->cek_raw, 0, &c->hsk, HCSV_USAGE_HSK);
	/* like the real PEK: slot 0 by the CEK, slot 1 by the owner (OCA) */
	gen_csv_body(c->pek_raw, &c->pek, HCSV_USAGE_PEK);
	gen_csv_sign(c->pek_raw, 0, &c->cek, HCSV_USAGE_CEK);
	gen_csv_sign(c->pek_raw, 1, &oca, HCSV_USAGE_OCA);
	gen_key_free(&oca);
}

static inline void gen_chain_free(struct gen_chain *c)
{
	gen_key_free(&c->hrk);
	gen_key_free(&c->hsk);
	gen_key_free(&c->cek);
	gen_key_free(&c->pek);
}

struct gen_report_fields {
	unsigned version;    /* 1 or 2 */
	uint32_t anonce;     /* v1 mask */
	uint8_t report_data[64];
	uint8_t mnonce[16];
	uint8_t measure[32];
	uint32_t policy;
	uint8_t rtmr[5][32]; /* v2 */
};

/* A 4096-byte report (plaintext fields masked for v1) signed by the PEK key. */
static inline void gen_report(uint8_t *raw, const struct gen_report_fields *f,
			      const struct gen_key *pek)
{
	uint8_t a[4];
	size_t signed_len = f->version == 1 ? HCSV_REPORT_V1_SIGNED : HCSV_REPORT_V2_SIGNED;

	memset(raw, 0, HCSV_REPORT_LEN);
	memset(raw, 0x11, 32);	     /* user_pubkey_digest */
	memset(raw + 32, 0x22, 16);  /* vm_id */
	memset(raw + 48, 0x33, 16);  /* vm_version */
	memcpy(raw + 64, f->report_data, 64);
	memcpy(raw + 128, f->mnonce, 16);
	memcpy(raw + 144, f->measure, 32);
	gen_put32(raw + 176, f->policy);
	gen_put32(raw + 180, HCSV_USAGE_PEK);
	gen_put32(raw + 184, HCSV_ALGO_SM2_SA);
	if (f->version == 1) {
		gen_put32(a, f->anonce);
		for (size_t i = 0; i < 188; i++)
			raw[i] ^= a[i % 4];
		gen_put32(raw + 188, f->anonce);
		gen_sign(pek, raw, signed_len, raw + 192);
	} else {
		gen_put32(raw + 188, 1234);  /* build */
		raw[192] = 1;		     /* rtmr_version */
		for (int i = 0; i < 5; i++)
			memcpy(raw + 208 + 32 * i, f->rtmr[i], 32);
		gen_sign(pek, raw, signed_len, raw + 1024);
	}
}

static inline json_t *gen_bytes_json(const uint8_t *p, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer(p[i]));
	return a;
}

/*
 * Trustee-shaped evidence JSON for report raw (version from f), the chain's PEK, hsk_cek in
 * the evidence when with_hsk_cek, serial_number chip (NUL-padded to 64), cc_eventlog b64 or NULL.
 */
static inline json_t *gen_evidence(const struct gen_chain *c, const uint8_t *report, unsigned version,
				   bool with_hsk_cek, const char *chip, const char *eventlog_b64)
{
	static const uint8_t ext[16] = "ATTESTATION_EXT";
	static const uint8_t zero[16];
	uint8_t sn[64] = {0};
	struct hcsv_cert pek, cek;
	struct hcsv_ca_cert hsk;
	char why[128];
	json_t *chain, *ev;

	GEN_CHECK(hcsv_cert_parse(c->pek_raw, HCSV_CERT_LEN, &pek, why, sizeof(why)) == 0);
	chain = json_pack("{s:o}", "pek", hcsv_cert_to_json(&pek));
	if (with_hsk_cek) {
		GEN_CHECK(hcsv_ca_cert_parse(c->hsk_raw, HCSV_CA_CERT_LEN, &hsk, why, sizeof(why)) ==
			  0);
		GEN_CHECK(hcsv_cert_parse(c->cek_raw, HCSV_CERT_LEN, &cek, why, sizeof(why)) == 0);
		json_object_set_new(chain, "hsk_cek",
				    json_pack("{s:o,s:o}", "hsk", hcsv_ca_cert_to_json(&hsk), "cek",
					      hcsv_cert_to_json(&cek)));
	}
	memcpy(sn, chip, strlen(chip));
	ev = json_pack("{s:{s:o,s:i,s:o},s:o,s:o}", "attestation_report", "magic",
		       gen_bytes_json(version == 1 ? zero : ext, 16), "flags", version == 1 ? 0 : 1,
		       "data", gen_bytes_json(report, HCSV_REPORT_LEN), "cert_chain", chain,
		       "serial_number", gen_bytes_json(sn, sizeof(sn)));
	GEN_CHECK(ev);
	if (eventlog_b64)
		json_object_set_new(ev, "cc_eventlog", json_string(eventlog_b64));
	return ev;
}

#endif
