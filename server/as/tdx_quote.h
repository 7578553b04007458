/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_TDX_QUOTE_H
#define KBS_AS_TDX_QUOTE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Intel TDX DCAP quote parser, versions 4 and 5 (evidence.md §2.1-2.4). All pointers point
 * into the caller's buffer, which must outlive the struct. Bytes after the signature data are
 * ignored (some quotes are zero-padded).
 */

#define TDX_HEADER_LEN 48
#define TDX_BODY_V10_LEN 584 /* TDX 1.0 TD report body */
#define TDX_BODY_V15_LEN 648 /* TDX 1.5: + TEE_TCB_SVN2, MRSERVICETD */
#define TDX_QE_REPORT_LEN 384
#define TDX_TEE_TYPE 0x81u

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

/* QE report (SGX report body) offsets */
#define TDX_QE_MISCSELECT 16
#define TDX_QE_ATTRIBUTES 48
#define TDX_QE_MRSIGNER 128
#define TDX_QE_ISVPRODID 256
#define TDX_QE_ISVSVN 258
#define TDX_QE_REPORTDATA 320

struct tdx_quote {
	uint16_t version;      /* 4 or 5 */
	uint16_t att_key_type; /* 2 = ECDSA P-256 */
	uint32_t tee_type;     /* 0x81 */
	const uint8_t *header; /* 48 bytes */
	uint16_t body_type;    /* v5: 2 (TDX 1.0) or 3 (TDX 1.5); v4: 2 */
	uint32_t body_size;
	const uint8_t *body;	      /* body_size bytes */
	size_t signed_len;	      /* bytes [0, signed_len) are signed by the attestation key */
	const uint8_t *quote_sig;     /* 64: r || s big-endian */
	const uint8_t *att_key;	      /* 64: X || Y */
	const uint8_t *qe_report;     /* 384 */
	const uint8_t *qe_report_sig; /* 64 */
	const uint8_t *qe_auth;
	size_t qe_auth_len;
	const uint8_t *pck_chain; /* PEM text (may end with NUL bytes) */
	size_t pck_chain_len;
};

/* Parses and bounds-checks a quote; why names the offending field. */
int tdx_quote_parse(const uint8_t *buf, size_t len, struct tdx_quote *q, char *why, size_t whylen);

/*
 * Trustee's claims for the quote itself: {"quote": {"header", "body"[, "type", "size"]},
 * "td_attributes": {...}, "report_data", "init_data"} (new reference, NULL on allocation
 * failure). All values lowercase hex of the raw bytes.
 */
json_t *tdx_quote_claims(const struct tdx_quote *q);

#endif
