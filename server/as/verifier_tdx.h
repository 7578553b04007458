/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_VERIFIER_TDX_H
#define KBS_AS_VERIFIER_TDX_H

#include <jansson.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <time.h>

#include "server/as/tdx_quote.h"
#include "server/as/verifier.h"

/*
 * Intel TDX evidence verifier (evidence.md §2, kbs-protocol §13.3; docs/verifiers.md).
 * Offline DCAP checks: PCK chain to the built-in Intel SGX Root CA (key pinned), QE report
 * signed by the PCK key, QE report data binding the attestation key, QE identity (Intel TD QE),
 * quote signature by the attestation key, REPORTDATA and MRCONFIGID binding. Without
 * collateral the TCB status is reported as "Unknown".
 *
 * as_verifier_tdx (the table entry) builds its instance from the AS verifier_config
 * (as_verifier.create); without one, from defaults and the environment fallbacks.
 */
struct tdx_verifier_config {
	const char *collateral_dir; /* NULL = no collateral: tcb_status "Unknown" */
	time_t now;		    /* certificate validity reference; 0 = current time */
};

struct tdx_verifier;

/* Loads and checks the built-in Intel root (self-signed, key equals the pinned key). */
int tdx_verifier_new(const struct tdx_verifier_config *cfg, struct tdx_verifier **out, char *why,
		     size_t whylen);
void tdx_verifier_free(struct tdx_verifier *v);

/* The whole check (as_verifier.verify contract) with this verifier's configuration. */
int tdx_verifier_verify(const struct tdx_verifier *v, const struct as_verify_input *in,
			json_t **claims, char *why, size_t whylen);

/*
 * Cryptographic checks of a parsed quote (chain, QE report, binding, QE identity, quote
 * signature). On success *leaf / *inter (if not NULL) receive the PCK leaf and intermediate
 * (caller frees) and *platform_ca whether the intermediate is the Platform CA.
 */
int tdx_verify_quote(const struct tdx_verifier *v, const struct dcap_quote *q, X509 **leaf,
		     X509 **inter, int *platform_ca, char *why, size_t whylen);

/*
 * Intel quoting-enclave identity a QE report must match (MRSIGNER, ISVPRODID; MISCSELECT and
 * ATTRIBUTES follow Intel's published QE identity, the same for both enclaves). tee prefixes
 * the refusal texts ("tdx: ...", "sgx: ...").
 */
struct dcap_qe_identity {
	const char *tee;
	const char *name;
	const char *mrsigner_hex;
	unsigned isvprodid;
};
extern const struct dcap_qe_identity dcap_td_qe;  /* TDX quoting enclave */
extern const struct dcap_qe_identity dcap_sgx_qe; /* SGX ECDSA quoting enclave (QE3) */

/*
 * tdx_verify_quote for any DCAP quote parsed into struct dcap_quote (TDX v4/v5, SGX v3), with
 * the quoting enclave identity id.
 */
int dcap_verify_quote(const struct tdx_verifier *v, const struct dcap_quote *q,
		      const struct dcap_qe_identity *id, X509 **leaf, X509 **inter,
		      int *platform_ca, char *why, size_t whylen);

/*
 * Finds a member of the PCK certificate's SGX extension (OID 1.2.840.113741.1.13.1) by the
 * last arc (e.g. 4 = FMSPC, 6 = platform instance id); returns its value TLV content.
 */
int tdx_pck_ext(X509 *leaf, unsigned arc, uint8_t *tag, const uint8_t **val, size_t *len);

/*
 * Evidence steps the SGX and TDX verifiers share. dcap_evidence_quote: evidence
 * {"quote": "<standard base64>"} (at most 64 KiB decoded) into *quote (caller frees; NULL on
 * failure) parsed as a quote of tee_type into q. dcap_check_binding: the 64-byte REPORTDATA
 * rd against the runtime-data digest and the init-data field cfg (cfglen bytes, named cfgname
 * in the refusal) against the init-data digest, where the input has them (KBS_ERR_VERIFY).
 * dcap_platform_instance_id: adds "platform_instance_id" (PCK extension arc 6, byte-reversed
 * hex, as Trustee) to claims when the PCK was issued by the Platform CA; KBS_ERR_NOMEM only.
 */
int dcap_evidence_quote(const json_t *ev, uint32_t tee_type, uint8_t **quote, struct dcap_quote *q,
			char *why, size_t whylen);
int dcap_check_binding(const struct as_verify_input *in, const char *tee, const uint8_t *rd,
		       const uint8_t *cfg, size_t cfglen, const char *cfgname, char *why,
		       size_t whylen);
int dcap_platform_instance_id(X509 *leaf, int platform_ca, json_t *claims);

extern const struct as_verifier as_verifier_tdx;

#endif
