/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_TDX_COLLATERAL_H
#define KBS_AS_TDX_COLLATERAL_H

#include <jansson.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <time.h>

#include "server/as/tdx_quote.h"

/*
 * TDX TCB evaluation against Intel collateral kept in a directory (evidence.md §2.7,
 * docs/verifiers.md "Collateral directory"):
 *
 *   <dir>/tcb-signing-chain.pem        TCB-Info-Issuer-Chain (Intel SGX TCB Signing cert [+ root])
 *   <dir>/tcbinfo-<fmspc>.json         PCS /tdx/certification/v4/tcb body (fmspc lowercase hex)
 *   <dir>/qe-identity.json             PCS /tdx/certification/v4/qe/identity body
 *   <dir>/pck-crl-platform.der,
 *   <dir>/pck-crl-processor.der,
 *   <dir>/root-ca-crl.der              optional CRLs (checked when present)
 *
 * Signed JSON is verified over the exact bytes of the "tcbInfo" / "enclaveIdentity" value.
 */

/* Raw text of the value of a top-level member of a JSON object text (for signatures). */
int tdx_json_raw_member(const char *text, size_t len, const char *key, const char **val,
			size_t *vlen);

/*
 * Evaluates the platform, TDX module and QE TCB. root = pinned Intel root, leaf/inter = the
 * verified PCK chain. On success adds tcb_status, tcb_date, advisory_ids,
 * collateral_expiration_status, tcb_eval_num, fmspc, sgx_type to claims. Terminal results
 * (no matching level, Revoked, bad signature, revoked certificate) fail with why.
 */
int tdx_collateral_evaluate(const char *dir, X509 *root, const struct dcap_quote *q, X509 *leaf,
			    X509 *inter, time_t now, json_t *claims, char *why, size_t whylen);

/* Seconds since the epoch of an RFC 3339 UTC time "YYYY-MM-DDThh:mm:ssZ"; -1 if invalid. */
long long tdx_parse_time(const char *s);

#endif
