// SPDX-License-Identifier: Apache-2.0
#include "server/as/sgx_quote.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"

#define SGX_HEADER_LEN 48
/* quote signature, attestation key, QE report, QE report signature, QE auth data length */
#define SGX_SIG_FIXED (64 + 64 + SGX_REPORT_BODY_LEN + 64 + 2)

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

int sgx_quote_parse(const uint8_t *buf, size_t len, struct tdx_quote *q, char *why, size_t whylen)
{
	size_t off, siglen, sigend, p;
	uint32_t cert_size;
	uint16_t cert_type;

	memset(q, 0, sizeof(*q));
	if (len < SGX_HEADER_LEN)
		FAIL(KBS_ERR_PARSE, "sgx quote: %zu bytes, shorter than the header", len);
	q->header = buf;
	q->version = le16(buf);
	q->att_key_type = le16(buf + 2);
	q->tee_type = le32(buf + 4);
	if (q->version != 3)
		FAIL(KBS_ERR_UNSUPPORTED, "sgx quote: version %u is not an SGX v3 quote",
		     q->version);
	if (q->att_key_type != 2)
		FAIL(KBS_ERR_UNSUPPORTED, "sgx quote: attestation key type %u is not ECDSA P-256",
		     q->att_key_type);
	if (q->tee_type != SGX_TEE_TYPE)
		FAIL(KBS_ERR_UNSUPPORTED, "sgx quote: TEE type 0x%x is not SGX (0)", q->tee_type);
	off = SGX_HEADER_LEN;
	if (len - off < SGX_REPORT_BODY_LEN + 4)
		FAIL(KBS_ERR_PARSE, "sgx quote: truncated report body");
	q->body = buf + off;
	q->body_size = SGX_REPORT_BODY_LEN;
	q->signed_len = off + SGX_REPORT_BODY_LEN;
	siglen = le32(buf + q->signed_len);
	off = q->signed_len + 4;
	if (siglen > len - off)
		FAIL(KBS_ERR_PARSE, "sgx quote: signature data length %zu exceeds the quote",
		     siglen);
	sigend = off + siglen;
	if (siglen < SGX_SIG_FIXED)
		FAIL(KBS_ERR_PARSE, "sgx quote: signature data too short");
	q->quote_sig = buf + off;
	q->att_key = buf + off + 64;
	q->qe_report = buf + off + 128;
	q->qe_report_sig = buf + off + 128 + SGX_REPORT_BODY_LEN;
	p = off + SGX_SIG_FIXED;
	q->qe_auth_len = le16(buf + p - 2);
	if (q->qe_auth_len > sigend - p || sigend - p - q->qe_auth_len < 6)
		FAIL(KBS_ERR_PARSE, "sgx quote: QE authentication data exceeds signature data");
	q->qe_auth = buf + p;
	p += q->qe_auth_len;
	cert_type = le16(buf + p);
	cert_size = le32(buf + p + 2);
	p += 6;
	if (cert_type != 5)
		FAIL(KBS_ERR_UNSUPPORTED,
		     "sgx quote: certification data type %u is not a PCK chain (5)", cert_type);
	if (cert_size > sigend - p)
		FAIL(KBS_ERR_PARSE, "sgx quote: PCK chain length exceeds signature data");
	q->pck_chain = buf + p;
	q->pck_chain_len = cert_size;
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

json_t *sgx_quote_claims(const struct tdx_quote *q)
{
	static const struct {
		const char *name;
		size_t off, len;
	} hdr[] = {{"version", 0, 2},	 {"att_key_type", 2, 2}, {"att_key_data_0", 4, 4},
		   {"qe_svn", 8, 2},	 {"pce_svn", 10, 2},	 {"vendor_id", 12, 16},
		   {"user_data", 28, 20}},
	  body[] = {
	      {"cpu_svn", SGX_BODY_CPUSVN, 16},
	      {"misc_select", SGX_BODY_MISCSELECT, 4},
	      {"reserved1", SGX_BODY_RESERVED1, 12},
	      {"isv_ext_prod_id", SGX_BODY_ISVEXTPRODID, 16},
	      {"attributes.flags", SGX_BODY_ATTRIBUTES, 8},
	      {"attributes.xfrm", SGX_BODY_ATTRIBUTES + 8, 8},
	      {"mr_enclave", SGX_BODY_MRENCLAVE, 32},
	      {"reserved2", SGX_BODY_RESERVED2, 32},
	      {"mr_signer", SGX_BODY_MRSIGNER, 32},
	      {"reserved3", SGX_BODY_RESERVED3, 32},
	      {"config_id", SGX_BODY_CONFIGID, 64},
	      {"isv_prod_id", SGX_BODY_ISVPRODID, 2},
	      {"isv_svn", SGX_BODY_ISVSVN, 2},
	      {"config_svn", SGX_BODY_CONFIGSVN, 2},
	      {"reserved4", SGX_BODY_RESERVED4, 42},
	      {"isv_family_id", SGX_BODY_ISVFAMILYID, 16},
	      {"report_data", SGX_BODY_REPORTDATA, 64},
	  };
	json_t *c = json_object(), *jh = json_object(), *jb = json_object();
	int bad = !c || !jh || !jb;

	for (size_t i = 0; !bad && i < sizeof(hdr) / sizeof(hdr[0]); i++)
		bad |=
		    json_object_set_new(jh, hdr[i].name, hex(q->header + hdr[i].off, hdr[i].len));
	for (size_t i = 0; !bad && i < sizeof(body) / sizeof(body[0]); i++)
		bad |=
		    json_object_set_new(jb, body[i].name, hex(q->body + body[i].off, body[i].len));
	if (!bad) {
		bad |=
		    json_object_set(c, "header", jh) | json_object_set(c, "body", jb) |
		    json_object_set_new(c, "report_data", hex(q->body + SGX_BODY_REPORTDATA, 64)) |
		    json_object_set_new(c, "init_data", hex(q->body + SGX_BODY_CONFIGID, 64));
	}
	json_decref(jh);
	json_decref(jb);
	if (bad) {
		json_decref(c);
		return NULL;
	}
	return c;
}
