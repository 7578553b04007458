// SPDX-License-Identifier: Apache-2.0
#include "server/as/dcap_quote.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "server/as/sgx_quote.h"
#include "server/as/tdx_quote.h"

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#define FAIL(code, ...)                                                                            \
	do {                                                                                       \
		snprintf(why, whylen, __VA_ARGS__);                                                \
		return code;                                                                       \
	} while (0)

/* Version and body layout; on success *off is where the body starts. */
static int parse_header(const uint8_t *buf, size_t len, const char *tee, struct dcap_quote *q,
			size_t *off, char *why, size_t whylen)
{
	if (len < DCAP_HEADER_LEN)
		FAIL(KBS_ERR_PARSE, "%s quote: %zu bytes, shorter than the header", tee, len);
	q->header = buf;
	q->version = le16(buf);
	q->att_key_type = le16(buf + 2);
	if (q->tee_type == DCAP_TEE_SGX) {
		if (q->version != 3)
			FAIL(KBS_ERR_UNSUPPORTED, "sgx quote: version %u is not an SGX v3 quote",
			     q->version);
	} else if (q->version == 3) {
		FAIL(KBS_ERR_UNSUPPORTED, "tdx quote: version 3 is an SGX quote");
	} else if (q->version != 4 && q->version != 5) {
		FAIL(KBS_ERR_UNSUPPORTED, "tdx quote: unsupported version %u", q->version);
	}
	if (le32(buf + 4) != q->tee_type)
		FAIL(KBS_ERR_UNSUPPORTED, "%s quote: TEE type 0x%x is not %s", tee, le32(buf + 4),
		     q->tee_type == DCAP_TEE_SGX ? "SGX (0)" : "TDX (0x81)");
	if (q->att_key_type != 2)
		FAIL(KBS_ERR_UNSUPPORTED, "%s quote: attestation key type %u is not ECDSA P-256",
		     tee, q->att_key_type);
	*off = DCAP_HEADER_LEN;
	if (q->version == 3) {
		q->body_size = SGX_REPORT_BODY_LEN;
	} else if (q->version == 4) {
		q->body_type = 2;
		q->body_size = TDX_BODY_V10_LEN;
	} else {
		if (len < DCAP_HEADER_LEN + 6)
			FAIL(KBS_ERR_PARSE, "tdx quote: truncated v5 body descriptor");
		q->body_type = le16(buf + 48);
		q->body_size = le32(buf + 50);
		if (!(q->body_type == 2 && q->body_size == TDX_BODY_V10_LEN) &&
		    !(q->body_type == 3 && q->body_size == TDX_BODY_V15_LEN))
			FAIL(KBS_ERR_UNSUPPORTED, "tdx quote: v5 body type %u size %u unsupported",
			     q->body_type, q->body_size);
		*off += 6;
	}
	return KBS_OK;
}

/*
 * QE report certification data in buf[p, end): QE report, its signature, QE authentication
 * data (2-byte length), then certification data type 5 (PCK chain) with a 4-byte length.
 */
static int parse_qe_cert_data(const uint8_t *buf, size_t p, size_t end, const char *tee,
			      const char *in, struct dcap_quote *q, char *why, size_t whylen)
{
	uint32_t size;

	if (end - p < DCAP_QE_REPORT_LEN + 64 + 2)
		FAIL(KBS_ERR_PARSE, "%s quote: QE report certification data too short", tee);
	q->qe_report = buf + p;
	q->qe_report_sig = buf + p + DCAP_QE_REPORT_LEN;
	p += DCAP_QE_REPORT_LEN + 64;
	q->qe_auth_len = le16(buf + p);
	p += 2;
	if (q->qe_auth_len > end - p || end - p - q->qe_auth_len < 6)
		FAIL(KBS_ERR_PARSE, "%s quote: QE authentication data exceeds %s", tee, in);
	q->qe_auth = buf + p;
	p += q->qe_auth_len;
	if (le16(buf + p) != 5)
		FAIL(KBS_ERR_UNSUPPORTED,
		     "%s quote: %scertification data type %u is not a PCK "
		     "chain (5)",
		     tee, q->version == 3 ? "" : "inner ", le16(buf + p));
	size = le32(buf + p + 2);
	p += 6;
	if (size > end - p)
		FAIL(KBS_ERR_PARSE, "%s quote: PCK chain length exceeds %s", tee, in);
	q->pck_chain = buf + p;
	q->pck_chain_len = size;
	/* trailing NULs after the PEM text are common */
	while (q->pck_chain_len && q->pck_chain[q->pck_chain_len - 1] == 0)
		q->pck_chain_len--;
	return KBS_OK;
}

int dcap_quote_parse(const uint8_t *buf, size_t len, uint32_t tee_type, struct dcap_quote *q,
		     char *why, size_t whylen)
{
	const char *tee = tee_type == DCAP_TEE_SGX ? "sgx" : "tdx";
	size_t off, siglen, sigend;
	uint32_t cert_size;
	int rc;

	memset(q, 0, sizeof(*q));
	q->tee_type = tee_type;
	if ((rc = parse_header(buf, len, tee, q, &off, why, whylen)) != KBS_OK)
		return rc;
	if (len - off < (size_t)q->body_size + 4)
		FAIL(KBS_ERR_PARSE, "%s quote: truncated %sbody", tee,
		     q->version == 3 ? "report " : "");
	q->body = buf + off;
	q->signed_len = off + q->body_size;
	siglen = le32(buf + q->signed_len);
	off = q->signed_len + 4;
	if (siglen > len - off)
		FAIL(KBS_ERR_PARSE, "%s quote: signature data length %zu exceeds the quote", tee,
		     siglen);
	sigend = off + siglen;
	if (siglen < 128 + 6)
		FAIL(KBS_ERR_PARSE, "%s quote: signature data too short", tee);
	q->quote_sig = buf + off;
	q->att_key = buf + off + 64;
	off += 128;
	if (q->version == 3) /* v3: the QE report certification data follows directly */
		return parse_qe_cert_data(buf, off, sigend, tee, "signature data", q, why, whylen);
	if (le16(buf + off) != 6)
		FAIL(KBS_ERR_UNSUPPORTED,
		     "tdx quote: certification data type %u is not QE report data (6)",
		     le16(buf + off));
	cert_size = le32(buf + off + 2);
	off += 6;
	if (cert_size > sigend - off)
		FAIL(KBS_ERR_PARSE, "tdx quote: certification data length exceeds signature data");
	return parse_qe_cert_data(buf, off, off + cert_size, tee, "certification data", q, why,
				  whylen);
}

json_t *dcap_hex(const uint8_t *p, size_t n, int reverse)
{
	char s[2 * 64 + 1];

	if (n > 64)
		return NULL;
	for (size_t i = 0; i < n; i++)
		snprintf(s + 2 * i, 3, "%02x", p[reverse ? n - 1 - i : i]);
	s[2 * n] = 0;
	return json_string(s);
}
