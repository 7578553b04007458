/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_DCAP_QUOTE_H
#define KBS_AS_DCAP_QUOTE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Intel DCAP quote reader shared by the SGX (version 3) and TDX (versions 4 and 5) verifiers
 * (evidence.md §2.1-2.4): 48-byte header, the TEE's report body, then the signature data
 * (quote signature, attestation key, and the QE report certification data: QE report, its
 * signature, QE authentication data, PCK certificate chain; v4/v5 wrap the latter in a
 * certification data item of type 6). All pointers point into the caller's buffer, which must
 * outlive the struct. Bytes after the signature data are ignored (some quotes are zero-padded).
 */

#define DCAP_HEADER_LEN 48
#define DCAP_QE_REPORT_LEN 384 /* an SGX report body */
#define DCAP_TEE_SGX 0x00u
#define DCAP_TEE_TDX 0x81u

/* QE report (SGX report body) offsets */
#define DCAP_QE_MISCSELECT 16
#define DCAP_QE_ATTRIBUTES 48
#define DCAP_QE_MRSIGNER 128
#define DCAP_QE_ISVPRODID 256
#define DCAP_QE_ISVSVN 258
#define DCAP_QE_REPORTDATA 320

struct dcap_quote {
	uint16_t version;      /* 3 (SGX), 4 or 5 (TDX) */
	uint16_t att_key_type; /* 2 = ECDSA P-256 */
	uint32_t tee_type;     /* DCAP_TEE_SGX or DCAP_TEE_TDX */
	const uint8_t *header; /* 48 bytes */
	uint16_t body_type;    /* TDX v5: 2 (TDX 1.0) or 3 (TDX 1.5); v4: 2; SGX: 0 */
	uint32_t body_size;
	const uint8_t *body;	      /* body_size bytes */
	size_t signed_len;	      /* bytes [0, signed_len) are signed by the attestation key */
	const uint8_t *quote_sig;     /* 64: r || s big-endian */
	const uint8_t *att_key;	      /* 64: X || Y */
	const uint8_t *qe_report;     /* 384 */
	const uint8_t *qe_report_sig; /* 64 */
	const uint8_t *qe_auth;
	size_t qe_auth_len;
	const uint8_t *pck_chain; /* PEM text (trailing NUL bytes cut off) */
	size_t pck_chain_len;
};

/*
 * Parses and bounds-checks a quote of TEE tee_type (DCAP_TEE_SGX: version 3 with a 384-byte
 * enclave report; DCAP_TEE_TDX: version 4 or 5 with a TDX 1.0 or 1.5 TD report). A quote of
 * the other TEE or version is KBS_ERR_UNSUPPORTED; why names the field, prefixed "sgx quote:"
 * or "tdx quote:".
 */
int dcap_quote_parse(const uint8_t *buf, size_t len, uint32_t tee_type, struct dcap_quote *q,
		     char *why, size_t whylen);

/* Lowercase hex of n <= 64 bytes (byte-reversed if reverse) as a new JSON string; NULL if not. */
json_t *dcap_hex(const uint8_t *p, size_t n, int reverse);

#endif
