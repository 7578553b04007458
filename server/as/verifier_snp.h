/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_VERIFIER_SNP_H
#define KBS_AS_VERIFIER_SNP_H

#include <jansson.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/snp_report.h"
#include "server/as/verifier.h"

/*
 * AMD SEV-SNP evidence verifier (evidence.md §1, kbs-protocol §13.2; docs/verifiers.md).
 *
 * as_verifier_snp (the table entry) builds its instance from the AS verifier_config
 * (as_verifier.create); without one, from defaults and the environment fallbacks
 * (as_verifier_config_from_json(NULL), docs/verifiers.md "Configuration").
 */
struct snp_verifier_config {
	const char *vcek_dir; /* NULL = no cache directory */
	const char *kds_url;  /* NULL = never fetch */
	unsigned max_vmpl;    /* reports with a higher VMPL are rejected */
};

struct snp_verifier;

/*
 * Parses the built-in AMD certificates and checks them once (ARK self-signed, ARK signs ASK
 * and ASVK, for Milan, Genoa and Turin). Immutable afterwards: safe to share between threads.
 */
int snp_verifier_new(const struct snp_verifier_config *cfg, struct snp_verifier **out, char *why,
		     size_t whylen);
void snp_verifier_free(struct snp_verifier *v);

/* The whole check (as_verifier.verify contract) with this verifier's configuration. */
int snp_verifier_verify(const struct snp_verifier *v, const struct as_verify_input *in,
			json_t **claims, char *why, size_t whylen);

/*
 * Verifies the ECDSA P-384 report signature (r, s little-endian in the report) over
 * report[0..0x2A0) with the VCEK/VLEK public key. Rejects an all-zero signature.
 */
int snp_verify_report_signature(const uint8_t report[SNP_REPORT_SIZE], EVP_PKEY *vek, char *why,
				size_t whylen);

/*
 * Compares the VCEK/VLEK TCB extensions (blSPL, teeSPL, snpSPL, ucodeSPL, fmcSPL on Turin)
 * with REPORTED_TCB, and for a VCEK its hwID extension (raw or OCTET STRING) with CHIP_ID.
 */
int snp_vek_check_report(X509 *vek, bool is_vlek, const struct snp_report *r, char *why,
			 size_t whylen);

/* hwID extension of a VCEK (raw or OCTET-STRING-wrapped): *len is 64 or 8. */
int snp_vek_hwid(X509 *vek, const uint8_t **hwid, size_t *len);

/* Trustee's VCEK cache file prefix: "bl%02u_tee%02u_snp%02u_ucode%02u[_fmc%02u]". */
int snp_tcb_prefix(const struct snp_tcb *t, bool turin, char *out, size_t outlen);

extern const struct as_verifier as_verifier_snp;

#endif
