// SPDX-License-Identifier: Apache-2.0
#include "server/as/tdx_quote.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"

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

int tdx_quote_parse(const uint8_t *buf, size_t len, struct tdx_quote *q, char *why, size_t whylen)
{
	size_t off, siglen, sigend, cd, cdlen, p;
	uint32_t cert_size, inner_size;

	memset(q, 0, sizeof(*q));
	if (len < TDX_HEADER_LEN)
		FAIL(KBS_ERR_PARSE, "tdx quote: %zu bytes, shorter than the header", len);
	q->header = buf;
	q->version = le16(buf);
	q->att_key_type = le16(buf + 2);
	q->tee_type = le32(buf + 4);
	if (q->version == 3)
		FAIL(KBS_ERR_UNSUPPORTED, "tdx quote: version 3 is an SGX quote");
	if (q->version != 4 && q->version != 5)
		FAIL(KBS_ERR_UNSUPPORTED, "tdx quote: unsupported version %u", q->version);
	if (q->tee_type != TDX_TEE_TYPE)
		FAIL(KBS_ERR_UNSUPPORTED, "tdx quote: TEE type 0x%x is not TDX (0x81)",
		     q->tee_type);
	if (q->att_key_type != 2)
		FAIL(KBS_ERR_UNSUPPORTED, "tdx quote: attestation key type %u is not ECDSA P-256",
		     q->att_key_type);
	if (q->version == 4) {
		q->body_type = 2;
		q->body_size = TDX_BODY_V10_LEN;
		off = TDX_HEADER_LEN;
	} else {
		if (len < TDX_HEADER_LEN + 6)
			FAIL(KBS_ERR_PARSE, "tdx quote: truncated v5 body descriptor");
		q->body_type = le16(buf + 48);
		q->body_size = le32(buf + 50);
		if (q->body_type == 2 && q->body_size == TDX_BODY_V10_LEN)
			;
		else if (q->body_type == 3 && q->body_size == TDX_BODY_V15_LEN)
			;
		else
			FAIL(KBS_ERR_UNSUPPORTED, "tdx quote: v5 body type %u size %u unsupported",
			     q->body_type, q->body_size);
		off = TDX_HEADER_LEN + 6;
	}
	if (len - off < (size_t)q->body_size + 4)
		FAIL(KBS_ERR_PARSE, "tdx quote: truncated body");
	q->body = buf + off;
	q->signed_len = off + q->body_size;
	siglen = le32(buf + q->signed_len);
	off = q->signed_len + 4;
	if (siglen > len - off)
		FAIL(KBS_ERR_PARSE, "tdx quote: signature data length %zu exceeds the quote",
		     siglen);
	sigend = off + siglen;
	if (siglen < 134)
		FAIL(KBS_ERR_PARSE, "tdx quote: signature data too short");
	q->quote_sig = buf + off;
	q->att_key = buf + off + 64;
	if (le16(buf + off + 128) != 6)
		FAIL(KBS_ERR_UNSUPPORTED,
		     "tdx quote: certification data type %u is not QE report data (6)",
		     le16(buf + off + 128));
	cert_size = le32(buf + off + 130);
	cd = off + 134;
	if (cert_size > sigend - cd)
		FAIL(KBS_ERR_PARSE, "tdx quote: certification data length exceeds signature data");
	cdlen = cert_size;
	if (cdlen < TDX_QE_REPORT_LEN + 64 + 2)
		FAIL(KBS_ERR_PARSE, "tdx quote: QE report certification data too short");
	q->qe_report = buf + cd;
	q->qe_report_sig = buf + cd + TDX_QE_REPORT_LEN;
	q->qe_auth_len = le16(buf + cd + 448);
	p = cd + 450;
	if (q->qe_auth_len > cd + cdlen - p || cd + cdlen - p - q->qe_auth_len < 6)
		FAIL(KBS_ERR_PARSE, "tdx quote: QE authentication data exceeds certification data");
	q->qe_auth = buf + p;
	p += q->qe_auth_len;
	if (le16(buf + p) != 5)
		FAIL(KBS_ERR_UNSUPPORTED,
		     "tdx quote: inner certification data type %u is not a PCK chain (5)",
		     le16(buf + p));
	inner_size = le32(buf + p + 2);
	p += 6;
	if (inner_size > cd + cdlen - p)
		FAIL(KBS_ERR_PARSE, "tdx quote: PCK chain length exceeds certification data");
	q->pck_chain = buf + p;
	q->pck_chain_len = inner_size;
	/* trailing NULs after the PEM text are common */
	while (q->pck_chain_len && q->pck_chain[q->pck_chain_len - 1] == 0)
		q->pck_chain_len--;
	return KBS_OK;
}

static json_t *hex(const uint8_t *p, size_t n)
{
	char s[2 * 64 + 1];

	if (n > 64)
		return NULL;
	for (size_t i = 0; i < n; i++)
		snprintf(s + 2 * i, 3, "%02x", p[i]);
	s[2 * n] = 0;
	return json_string(s);
}

json_t *tdx_quote_claims(const struct tdx_quote *q)
{
	static const struct {
		const char *name;
		size_t off, len;
	} body[] = {
	    {"tcb_svn", TDX_BODY_TCB_SVN, 16},
	    {"mr_seam", TDX_BODY_MRSEAM, 48},
	    {"mrsigner_seam", TDX_BODY_MRSIGNERSEAM, 48},
	    {"seam_attributes", TDX_BODY_SEAMATTRIBUTES, 8},
	    {"td_attributes", TDX_BODY_TDATTRIBUTES, 8},
	    {"xfam", TDX_BODY_XFAM, 8},
	    {"mr_td", TDX_BODY_MRTD, 48},
	    {"mr_config_id", TDX_BODY_MRCONFIGID, 48},
	    {"mr_owner", TDX_BODY_MROWNER, 48},
	    {"mr_owner_config", TDX_BODY_MROWNERCONFIG, 48},
	    {"rtmr_0", TDX_BODY_RTMR0, 48},
	    {"rtmr_1", TDX_BODY_RTMR0 + 48, 48},
	    {"rtmr_2", TDX_BODY_RTMR0 + 96, 48},
	    {"rtmr_3", TDX_BODY_RTMR0 + 144, 48},
	    {"report_data", TDX_BODY_REPORTDATA, 64},
	    {"tee_tcb_svn2", TDX_BODY_TEE_TCB_SVN2, 16},
	    {"mr_servicetd", TDX_BODY_MRSERVICETD, 48},
	};
	size_t nbody = q->body_size == TDX_BODY_V15_LEN ? 17 : 15;
	const uint8_t *h = q->header, *b = q->body;
	uint64_t attr = 0;
	json_t *c, *jb, *quote;
	int bad = 0;

	for (int i = 7; i >= 0; i--)
		attr = attr << 8 | b[TDX_BODY_TDATTRIBUTES + i];
	jb = json_object();
	for (size_t i = 0; jb && i < nbody; i++)
		bad |= json_object_set_new(jb, body[i].name, hex(b + body[i].off, body[i].len));
	quote = json_pack("{s:{s:o,s:o,s:o,s:o,s:o,s:o},s:o}", "header", "version", hex(h, 2),
			  "att_key_type", hex(h + 2, 2), "tee_type", hex(h + 4, 4), "reserved",
			  hex(h + 8, 4), "vendor_id", hex(h + 12, 16), "user_data", hex(h + 28, 20),
			  "body", jb);
	if (quote && q->version == 5)
		bad |= json_object_set_new(quote, "type", hex(h + 48, 2)) |
		       json_object_set_new(quote, "size", hex(h + 50, 4));
	c = json_pack("{s:o,s:{s:b,s:b,s:b,s:b,s:b},s:o,s:o}", "quote", quote, "td_attributes",
		      "debug", !!(attr & 1), "septve_disable", !!(attr >> 28 & 1),
		      "protection_keys", !!(attr >> 30 & 1), "key_locker", !!(attr >> 31 & 1),
		      "perfmon", !!(attr >> 63 & 1), "report_data",
		      hex(b + TDX_BODY_REPORTDATA, 64), "init_data",
		      hex(b + TDX_BODY_MRCONFIGID, 48));
	if (bad) {
		json_decref(c);
		return NULL;
	}
	return c;
}
