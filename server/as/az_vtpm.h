/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_AZ_VTPM_H
#define KBS_AS_AZ_VTPM_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Azure confidential VM evidence shared by az-snp-vtpm and az-tdx-vtpm (evidence.md §4):
 * the HCL report (hardware report + runtime-claims "variable data"), the vTPM quote signed by
 * the HCLAkPub key from those runtime claims, and the evidence JSON versions 0, 1 and 2.
 */

#define HCL_HEADER_LEN 0x20
#define HCL_HW_REPORT_LEN 1184
#define HCL_VAR_OFF 0x4D4
#define HCL_TYPE_SNP 2u
#define HCL_TYPE_TDX 4u
#define AZ_NPCRS 24

struct hcl_report {
	uint32_t version;
	const uint8_t *hw_report; /* HCL_HW_REPORT_LEN bytes: SNP report or TDREPORT + padding */
	uint32_t report_type;	  /* HCL_TYPE_SNP / HCL_TYPE_TDX */
	uint32_t hash_type;	  /* 1 = SHA-256 */
	const uint8_t *var_data;  /* runtime claims JSON */
	size_t var_len;
};

/*
 * Parses an HCL report (pointers into buf): signature "HCLA", report type 2 or 4, hash type 1
 * (SHA-256), variable data inside the buffer.
 */
int hcl_report_parse(const uint8_t *buf, size_t len, struct hcl_report *h, char *why,
		     size_t whylen);

/* The vTPM attestation key: the "HCLAkPub" RSA JWK of the runtime claims (new reference). */
int hcl_ak_pub(const struct hcl_report *h, EVP_PKEY **ak, char *why, size_t whylen);

/* Evidence of either Azure TEE, decoded (all buffers malloc'ed, see az_evidence_release). */
struct az_evidence {
	int version; /* 0, 1 or 2 */
	uint8_t *tpm_sig, *tpm_msg, *hcl;
	size_t tpm_sig_len, tpm_msg_len, hcl_len;
	uint8_t pcrs[AZ_NPCRS][32];
	uint8_t *vcek; /* az-snp: VCEK DER */
	size_t vcek_len;
	uint8_t *td_quote; /* az-tdx: TD quote */
	size_t td_quote_len;
};

/*
 * Decodes evidence JSON: v1/v2 {"version", "tpm_quote":{hex…}, "hcl_report": b64url,
 * "vcek": b64url DER | "td_quote": b64url}, v0 with byte arrays ("quote"/"report"/"vcek" PEM
 * for SNP, "tpm_quote"/"hcl_report"/"td_quote" for TDX). tdx selects the TEE.
 */
int az_evidence_parse(const json_t *ev, int tdx, struct az_evidence *e, char *why,
		      size_t whylen);
void az_evidence_release(struct az_evidence *e);

/*
 * vTPM quote checks in Trustee's order: RSA PKCS#1 v1.5 / SHA-256 signature by ak over the
 * TPMS_ATTEST; extraData equals report_data exactly; the quote selects PCRs 0-23 of the
 * SHA-256 bank and pcrDigest = SHA-256 of the 24 listed PCRs.
 */
int az_tpm_quote_check(const struct az_evidence *e, EVP_PKEY *ak, const uint8_t *report_data,
		       size_t rdlen, char *why, size_t whylen);

/* Version 2: the runtime claims' "user-data" (hex) starts with report_data. */
int az_user_data_check(const struct hcl_report *h, const uint8_t *report_data, size_t rdlen,
		       char *why, size_t whylen);

/* Init data: PCR 8 = SHA-256(32 zero bytes || digest); digest must be 32 bytes. */
int az_init_data_check(const struct az_evidence *e, const uint8_t *digest, size_t len,
		       char *why, size_t whylen);

/* Adds "tpm" {pcr00..pcr23}, "report_data" (hex nonce) and "init_data" (hex PCR 8). */
int az_add_tpm_claims(json_t *claims, const struct az_evidence *e, const uint8_t *report_data,
		      size_t rdlen);

#endif
