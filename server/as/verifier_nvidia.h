/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_VERIFIER_NVIDIA_H
#define KBS_AS_VERIFIER_NVIDIA_H

#include <jansson.h>
#include <openssl/x509.h>
#include <stddef.h>

#include "server/as/nv_spdm.h"
#include "server/as/verifier.h"

/*
 * NVIDIA GPU verifier, local mode (kbs-protocol §13.8; docs/verifiers.md "nvidia"). Evidence
 * (sent as additional device evidence under the TEE name "nvidia"):
 *   {"device_evidence_list":[{"arch":"HOPPER","uuid":"…","evidence":"<hex SPDM report>",
 *                             "certificate":"<base64 std of the PEM device chain>"}, …]}
 * Per device, in Trustee's order: SPDM report parse → PEM chain parse → ECDSA P-384 signature
 * of SHA-384(report[0..signed_len)) with the leaf certificate's key → chain: at least two
 * certificates, the last one is the trusted root (built-in NVIDIA Device Identity CA or the
 * configured one), the leaf's FWID (last 48 bytes of extension 2.23.133.5.4.1) equals the
 * report's opaque "fwid", X.509 path validation to the root → request nonce = expected report
 * data fitted to 32 bytes. Each device gives one claims object (class "gpu", one EAR submod):
 *   {"arch":"Hopper","uuid":…,"measurements":{"<index>":"<hex>"…},"config":{<opaque data>}}
 * Only Hopper is verified locally (Trustee); NVIDIA's remote service (NRAS) is not used.
 */

struct nv_verifier;

/* root_pem = trust anchor PEM (NULL = the built-in NVIDIA Device Identity CA). */
int nv_verifier_new(const char *root_pem, size_t len, struct nv_verifier **out, char *why,
		    size_t whylen);
void nv_verifier_free(struct nv_verifier *v);

/*
 * Trustee's NvidiaCertificateChain::verify on a PEM chain (leaf first, root last), with
 * Trustee's error texts: "Certificate chain must have at least the root CA and signing
 * certificates", "Root CA in the certificate chain is not trusted", "FwId oid not found in the
 * NVIDIA signing certificate", "Fwid mismatch: certificate …, evidence …", "Report
 * certificate chain failed to verify". expected_fwid: lower-case hex.
 */
int nv_cert_chain_verify(const struct nv_verifier *v, const char *pem, size_t len,
			 const char *expected_fwid, char *why, size_t whylen);

/* FWID of a device certificate as lower-case hex (97 bytes incl. NUL). */
int nv_cert_fwid(X509 *cert, char out[97], char *why, size_t whylen);

/*
 * Verifies one device report (binary) against its PEM chain and the 32-byte nonce; on success
 * *claims = the device claims (arch as given, e.g. "Hopper").
 */
int nv_verify_report(const struct nv_verifier *v, const uint8_t *report, size_t len,
		     const char *pem, size_t pemlen, const uint8_t nonce[NV_SPDM_NONCE_LEN],
		     const char *arch, const char *uuid, json_t **claims, char *why,
		     size_t whylen);

/*
 * Whole evidence: *devices = [{"class":"gpu","claims":{…}}, …] in device order. state may be
 * NULL (built-in root).
 */
int nv_verifier_verify(const struct nv_verifier *v, const struct as_verify_input *in,
		       json_t **devices, char *why, size_t whylen);

extern const struct as_verifier as_verifier_nvidia;

#endif
