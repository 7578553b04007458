/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_VERIFIER_TPM_H
#define KBS_AS_VERIFIER_TPM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "server/as/verifier.h"

/*
 * TPM 2.0 evidence verifier (evidence.md §3.5, kbs-protocol §13.5; docs/verifiers.md).
 *
 * Evidence (guest-components' TPM attester, plus kbsfs extras):
 *   {"ak_public": "<std b64 DER SubjectPublicKeyInfo>",
 *    "tpm_quote": {"signature": "<std b64 TPMT_SIGNATURE>", "message": "<std b64 TPMS_ATTEST>",
 *                  "pcrs": ["<hex>", ... one per selected PCR, ascending]},
 *    "eventlog": "<std b64 TCG firmware event log>",      optional
 *    "aa_eventlog": "<std b64 AAEL>",                     optional
 *    "ak_cert": "<PEM: AK certificate, then intermediates>"}  optional
 *
 * AK trust: the AK public key is trusted if it is one of the keys in trusted_ak_keys_dir
 * (Trustee's config key), or if ak_cert chains to ak_ca_path and certifies that key. An AK
 * trusted by neither is refused unless allow_unverified_ak is set; then, as in Trustee,
 * only the attestation policy (trusted_aks reference values) decides.
 */
struct tpm_verifier_config {
	const char *trusted_ak_keys_dir; /* AK public keys (PEM or DER SPKI), one per file */
	unsigned max_trusted_ak_keys;	 /* 0 = 100 */
	const char *ak_ca_path;		 /* PEM bundle of CAs issuing AK certificates */
	bool allow_unverified_ak;	 /* Trustee's behaviour: the AK is not checked */
	time_t now;			 /* certificate validity reference; 0 = current time */
};

struct tpm_verifier;

/* Loads the trusted AK keys and the AK CA bundle; errors name the file. */
int tpm_verifier_new(const struct tpm_verifier_config *cfg, struct tpm_verifier **out, char *why,
		     size_t whylen);
void tpm_verifier_free(struct tpm_verifier *v);

/* The whole check (as_verifier.verify contract) with this verifier's configuration. */
int tpm_verifier_verify(const struct tpm_verifier *v, const struct as_verify_input *in,
			json_t **claims, char *why, size_t whylen);

extern const struct as_verifier as_verifier_tpm;

#endif
