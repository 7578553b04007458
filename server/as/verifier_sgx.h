/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_VERIFIER_SGX_H
#define KBS_AS_VERIFIER_SGX_H

#include <jansson.h>

#include "server/as/verifier.h"
#include "server/as/verifier_tdx.h"

/*
 * Intel SGX (DCAP quote v3) verifier (kbs-protocol §13.4; docs/verifiers.md). Evidence
 * {"quote": "<standard base64>"}. The DCAP checks are the TDX verifier's (dcap_verify_quote):
 * PCK chain to the pinned Intel SGX Root CA with validity dates, QE report signed by the PCK
 * key, QE report data = SHA-256(attestation key || QE auth data), QE identity of Intel's SGX
 * quoting enclave, quote signature over header + enclave report. Then REPORTDATA (64 bytes)
 * against the runtime-data digest and CONFIGID (64 bytes) against the init-data digest.
 * TCB collateral is not evaluated: tcb_status "Unknown".
 */

/* The whole check with verifier v (built by tdx_verifier_new; its collateral is not used). */
int sgx_verifier_verify(const struct tdx_verifier *v, const struct as_verify_input *in,
			json_t **claims, char *why, size_t whylen);

extern const struct as_verifier as_verifier_sgx;

#endif
