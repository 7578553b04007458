/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_TDX_QUOTE_H
#define KBS_AS_TDX_QUOTE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "server/as/dcap_quote.h"

/*
 * Intel TDX quote (versions 4 and 5, read by dcap_quote_parse with DCAP_TEE_TDX): TD report
 * body layout and Trustee's claims.
 */

#define TDX_BODY_V10_LEN 584 /* TDX 1.0 TD report body */
#define TDX_BODY_V15_LEN 648 /* TDX 1.5: + TEE_TCB_SVN2, MRSERVICETD */

/* TD report body offsets (relative to the body) */
#define TDX_BODY_TCB_SVN 0
#define TDX_BODY_MRSEAM 16
#define TDX_BODY_MRSIGNERSEAM 64
#define TDX_BODY_SEAMATTRIBUTES 112
#define TDX_BODY_TDATTRIBUTES 120
#define TDX_BODY_XFAM 128
#define TDX_BODY_MRTD 136
#define TDX_BODY_MRCONFIGID 184
#define TDX_BODY_MROWNER 232
#define TDX_BODY_MROWNERCONFIG 280
#define TDX_BODY_RTMR0 328
#define TDX_BODY_REPORTDATA 520
#define TDX_BODY_TEE_TCB_SVN2 584
#define TDX_BODY_MRSERVICETD 600

/*
 * Trustee's claims for the quote itself: {"quote": {"header", "body"[, "type", "size"]},
 * "td_attributes": {...}, "report_data", "init_data"} (new reference, NULL on allocation
 * failure). All values lowercase hex of the raw bytes.
 */
json_t *tdx_quote_claims(const struct dcap_quote *q);

#endif
