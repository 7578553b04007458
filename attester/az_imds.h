/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_ATTESTER_AZ_IMDS_H
#define KBS_ATTESTER_AZ_IMDS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/*
 * Azure Instance Metadata Service (IMDS) calls of the Azure vTPM attesters, as the upstream
 * guest libraries make them (Azure/azure-guest-attestation-sdk guest_attest/imds.rs,
 * kinvolk/azure-cvm-tooling az-snp-vtpm/src/imds.rs):
 *
 *   TD quote:  POST <base>/acc/tdquote, headers "Metadata: true",
 *              "Content-Type: application/json"; body {"report":"<base64 of the 1024-byte
 *              TDREPORT>"} (standard, padded); if IMDS answers with a non-2xx status, once
 *              more with unpadded base64url (the older crate's form). Response
 *              {"quote":"<base64>"}, standard or base64url, padded or not.
 *   VCEK:      GET <base>/metadata/THIM/amd/certification, "Metadata: true"; response
 *              {"vcekCert":"<PEM>","certificateChain":"<PEM…>"}; the evidence uses vcekCert.
 *
 * <base> is AA_AZ_IMDS_URL (kbsfs; for tests and proxies), default http://169.254.169.254.
 */

#define AZ_IMDS_URL_DEFAULT "http://169.254.169.254"
#define AZ_TD_REPORT_LEN 1024u
#define AZ_IMDS_RESPONSE_MAX (1u << 20)

struct az_imds_cfg {
	const char *base_url; /* NULL = AZ_IMDS_URL_DEFAULT; a trailing '/' is ignored */
	long timeout_ms;      /* per request; 0 = 30000 */
};

/* base_url from AA_AZ_IMDS_URL, timeout default. */
void az_imds_cfg_from_env(struct az_imds_cfg *cfg);

/*
 * TD quote for a TDREPORT (at least AZ_TD_REPORT_LEN bytes; only the first 1024 are sent).
 * The quote is appended to quote. KBS_ERR_NETWORK/KBS_ERR_TIMEOUT when IMDS is unreachable,
 * KBS_ERR_PROTOCOL when both forms got an HTTP error status, KBS_ERR_PARSE for a malformed
 * answer, KBS_ERR_RANGE for a short report.
 */
int az_imds_td_quote(const struct az_imds_cfg *cfg, const uint8_t *td_report, size_t len,
		     struct buf *quote);

/* VCEK PEM (vcekCert) from IMDS; *pem is malloc'ed and NUL-terminated. Errors as above. */
int az_imds_vcek_pem(const struct az_imds_cfg *cfg, char **pem);

/*
 * Parsers of the two IMDS answers (outside input). The quote must decode to at least one
 * byte; vcekCert must be a non-empty string. KBS_ERR_PARSE otherwise.
 */
int az_imds_parse_quote(const uint8_t *body, size_t len, struct buf *quote);
int az_imds_parse_certs(const uint8_t *body, size_t len, char **vcek_pem);

#endif
