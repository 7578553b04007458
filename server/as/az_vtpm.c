// SPDX-License-Identifier: Apache-2.0
#include "server/as/az_vtpm.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "server/as/tpm_quote.h"

#define MAX_BLOB (1u << 20)

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#define FAIL(code, ...)                                                                            \
	do {                                                                                       \
		snprintf(why, whylen, __VA_ARGS__);                                                \
		return (code);                                                                     \
	} while (0)

int hcl_report_parse(const uint8_t *buf, size_t len, struct hcl_report *h, char *why,
		     size_t whylen)
{
	memset(h, 0, sizeof(*h));
	if (len < HCL_VAR_OFF)
		FAIL(KBS_ERR_PARSE, "az: HCL report of %zu bytes is too short", len);
	if (memcmp(buf, "HCLA", 4) != 0)
		FAIL(KBS_ERR_PARSE, "az: HCL report signature is not 'HCLA'");
	h->version = le32(buf + 4);
	h->hw_report = buf + HCL_HEADER_LEN;
	h->report_type = le32(buf + 0x4C8);
	h->hash_type = le32(buf + 0x4CC);
	h->var_len = le32(buf + 0x4D0);
	if (h->report_type != HCL_TYPE_SNP && h->report_type != HCL_TYPE_TDX)
		FAIL(KBS_ERR_PARSE, "az: HCL report type %u is neither SNP (2) nor TDX (4)",
		     h->report_type);
	if (h->hash_type != 1)
		FAIL(KBS_ERR_UNSUPPORTED,
		     "az: HCL runtime claims hash type %u is not SHA-256 (1)", h->hash_type);
	if (h->var_len == 0 || h->var_len > len - HCL_VAR_OFF)
		FAIL(KBS_ERR_PARSE, "az: HCL variable data of %zu bytes does not fit the report",
		     h->var_len);
	h->var_data = buf + HCL_VAR_OFF;
	return KBS_OK;
}

/* base64url, padded or not. */
static int b64url(const char *s, size_t n, uint8_t **out, size_t *len)
{
	while (n && s[n - 1] == '=')
		n--;
	return b64_decode_alloc(s, n, B64_URL, out, len);
}

static EVP_PKEY *rsa_from_ne(const uint8_t *n, size_t nlen, const uint8_t *e, size_t elen)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *k = NULL;
	BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL), *be = BN_bin2bn(e, (int)elen, NULL);

	if (!bld || !bn || !be || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		k = NULL;
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	return k;
}

int hcl_ak_pub(const struct hcl_report *h, EVP_PKEY **ak, char *why, size_t whylen)
{
	json_t *j = json_loadb((const char *)h->var_data, h->var_len, 0, NULL), *keys, *k;
	uint8_t *n = NULL, *e = NULL;
	size_t nl = 0, el = 0, i;
	int rc = KBS_ERR_VERIFY;

	*ak = NULL;
	keys = json_object_get(j, "keys");
	json_array_foreach(keys, i, k) {
		const char *kid = json_string_value(json_object_get(k, "kid"));
		const char *ns = json_string_value(json_object_get(k, "n"));
		const char *es = json_string_value(json_object_get(k, "e"));
		const char *kty = json_string_value(json_object_get(k, "kty"));

		if (!kid || strcmp(kid, "HCLAkPub") != 0)
			continue;
		if (kty && strcmp(kty, "RSA") == 0 && ns && es &&
		    b64url(ns, strlen(ns), &n, &nl) == KBS_OK &&
		    b64url(es, strlen(es), &e, &el) == KBS_OK && nl >= 256 && nl <= 512 &&
		    el >= 1 && el <= 8)
			*ak = rsa_from_ne(n, nl, e, el);
		break;
	}
	if (*ak)
		rc = KBS_OK;
	else
		snprintf(why, whylen,
			 "az: failed to get AKpub (no RSA HCLAkPub key in the HCL runtime claims)");
	free(n);
	free(e);
	json_decref(j);
	return rc;
}

/* Bytes from a JSON array of numbers, a hex string (hex=1) or a base64url string (hex=0). */
static int json_bytes(const json_t *v, int hex, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (json_is_array(v)) {
		size_t n = json_array_size(v), i;
		const json_t *x;

		if (n > MAX_BLOB || !(*out = malloc(n ? n : 1)))
			return KBS_ERR_PARSE;
		json_array_foreach(v, i, x) {
			if (!json_is_integer(x) || json_integer_value(x) < 0 ||
			    json_integer_value(x) > 255) {
				free(*out);
				*out = NULL;
				return KBS_ERR_PARSE;
			}
			(*out)[i] = (uint8_t)json_integer_value(x);
		}
		*len = n;
		return KBS_OK;
	}
	if (!json_is_string(v) || json_string_length(v) > 2 * MAX_BLOB)
		return KBS_ERR_PARSE;
	if (hex) {
		size_t n = json_string_length(v);

		if (!(*out = malloc(n / 2 + 1)))
			return KBS_ERR_NOMEM;
		if (hex_decode(json_string_value(v), n, *out, n / 2 + 1, len) != KBS_OK) {
			free(*out);
			*out = NULL;
			return KBS_ERR_PARSE;
		}
		return KBS_OK;
	}
	return b64url(json_string_value(v), json_string_length(v), out, len) == KBS_OK
		   ? KBS_OK
		   : KBS_ERR_PARSE;
}

/* First certificate of a PEM text as DER. */
static int pem_first_der(const char *pem, size_t len, uint8_t **der, size_t *dlen)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	unsigned char *p = NULL;
	int n = x ? i2d_X509(x, &p) : -1;
	int rc = KBS_ERR_PARSE;

	if (n > 0 && (*der = malloc((size_t)n))) {
		memcpy(*der, p, (size_t)n);
		*dlen = (size_t)n;
		rc = KBS_OK;
	}
	ERR_clear_error();
	OPENSSL_free(p);
	X509_free(x);
	BIO_free(b);
	return rc;
}

void az_evidence_release(struct az_evidence *e)
{
	if (!e)
		return;
	free(e->tpm_sig);
	free(e->tpm_msg);
	free(e->hcl);
	free(e->vcek);
	free(e->td_quote);
	memset(e, 0, sizeof(*e));
}

#undef FAIL
#define FAIL(code, ...)                                                                            \
	do {                                                                                       \
		snprintf(why, whylen, __VA_ARGS__);                                                \
		rc = (code);                                                                       \
		goto out;                                                                          \
	} while (0)

int az_evidence_parse(const json_t *ev, int tdx, struct az_evidence *e, char *why,
		      size_t whylen)
{
	const char *tee = tdx ? "az-tdx-vtpm" : "az-snp-vtpm";
	const json_t *ver, *q, *pcrs;
	int hex, rc = KBS_ERR_PARSE;
	size_t i;

	memset(e, 0, sizeof(*e));
	if (!json_is_object(ev))
		FAIL(KBS_ERR_PARSE, "%s evidence is not a JSON object", tee);
	ver = json_object_get(ev, "version");
	if (ver) {
		if (!json_is_integer(ver) || (json_integer_value(ver) != 1 &&
					      json_integer_value(ver) != 2))
			FAIL(KBS_ERR_PARSE, "%s evidence: unsupported version", tee);
		e->version = (int)json_integer_value(ver);
	}
	hex = e->version != 0;
	q = json_object_get(ev, (tdx || e->version) ? "tpm_quote" : "quote");
	if (!json_is_object(q))
		FAIL(KBS_ERR_PARSE, "%s evidence (v%d): TPM quote missing", tee, e->version);
	if (json_bytes(json_object_get(q, "signature"), hex, &e->tpm_sig, &e->tpm_sig_len) ||
	    json_bytes(json_object_get(q, "message"), hex, &e->tpm_msg, &e->tpm_msg_len) ||
	    !e->tpm_sig_len || !e->tpm_msg_len)
		FAIL(KBS_ERR_PARSE, "%s evidence (v%d): TPM quote signature/message malformed",
		     tee, e->version);
	pcrs = json_object_get(q, "pcrs");
	if (!json_is_array(pcrs) || json_array_size(pcrs) != AZ_NPCRS)
		FAIL(KBS_ERR_PARSE, "%s evidence: the TPM quote must list %d PCRs", tee, AZ_NPCRS);
	for (i = 0; i < AZ_NPCRS; i++) {
		uint8_t *p = NULL;
		size_t n = 0;

		if (json_bytes(json_array_get(pcrs, i), hex, &p, &n) || n != 32) {
			free(p);
			FAIL(KBS_ERR_PARSE, "%s evidence: pcrs[%zu] is not 32 bytes", tee, i);
		}
		memcpy(e->pcrs[i], p, 32);
		free(p);
	}
	if (json_bytes(json_object_get(ev, (tdx || e->version) ? "hcl_report" : "report"), 0,
		       &e->hcl, &e->hcl_len))
		FAIL(KBS_ERR_PARSE, "%s evidence (v%d): HCL report malformed", tee, e->version);
	if (tdx) {
		if (json_bytes(json_object_get(ev, "td_quote"), 0, &e->td_quote,
			       &e->td_quote_len) ||
		    !e->td_quote_len)
			FAIL(KBS_ERR_PARSE, "%s evidence (v%d): td_quote malformed", tee,
			     e->version);
	} else {
		const json_t *vc = json_object_get(ev, "vcek");

		if (!json_is_string(vc))
			FAIL(KBS_ERR_PARSE, "%s evidence: vcek missing", tee);
		if (e->version == 0 ? pem_first_der(json_string_value(vc), json_string_length(vc),
						    &e->vcek, &e->vcek_len)
				    : json_bytes(vc, 0, &e->vcek, &e->vcek_len))
			FAIL(KBS_ERR_PARSE, "%s evidence (v%d): vcek malformed", tee, e->version);
	}
	rc = KBS_OK;
out:
	if (rc)
		az_evidence_release(e);
	return rc;
}

int az_tpm_quote_check(const struct az_evidence *e, EVP_PKEY *ak, const uint8_t *report_data,
		       size_t rdlen, char *why, size_t whylen)
{
	struct tpm_attest a;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t dig[32];
	unsigned idx[32];
	unsigned int dn = 0;
	int rc = KBS_ERR_VERIFY, ok;

	if (!md)
		return KBS_ERR_NOMEM;
	ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, ak) == 1 &&
	     EVP_DigestVerify(md, e->tpm_sig, e->tpm_sig_len, e->tpm_msg, e->tpm_msg_len) == 1;
	ERR_clear_error();
	if (!ok)
		FAIL(KBS_ERR_VERIFY, "az: vTPM quote signature does not verify with HCLAkPub");
	if ((rc = tpm_attest_parse(e->tpm_msg, e->tpm_msg_len, &a, why, whylen)))
		goto out;
	rc = KBS_ERR_VERIFY;
	if (a.extra_len != rdlen || CRYPTO_memcmp(a.extra, report_data, rdlen) != 0)
		FAIL(KBS_ERR_VERIFY, "az: vTPM quote nonce does not match the report data");
	if (a.nbanks != 1 || a.banks[0].alg != TPM_ALG_SHA256 ||
	    tpm_bank_pcrs(&a.banks[0], idx) != AZ_NPCRS || idx[AZ_NPCRS - 1] != AZ_NPCRS - 1)
		FAIL(KBS_ERR_VERIFY, "az: vTPM quote does not select PCRs 0-23 of the SHA-256 bank");
	if (EVP_Digest(e->pcrs, sizeof(e->pcrs), dig, &dn, EVP_sha256(), NULL) != 1)
		FAIL(KBS_ERR_CRYPTO, "az: cannot hash the PCR values");
	if (a.pcr_digest_len != 32 || CRYPTO_memcmp(dig, a.pcr_digest, 32) != 0)
		FAIL(KBS_ERR_VERIFY, "az: vTPM quote pcrDigest does not match the PCR values");
	rc = KBS_OK;
out:
	EVP_MD_CTX_free(md);
	return rc;
}

int az_user_data_check(const struct hcl_report *h, const uint8_t *report_data, size_t rdlen,
		       char *why, size_t whylen)
{
	json_t *j = json_loadb((const char *)h->var_data, h->var_len, 0, NULL);
	const char *ud = json_string_value(json_object_get(j, "user-data"));
	uint8_t buf[64];
	size_t n = 0;
	int rc = KBS_ERR_VERIFY;

	if (!ud || hex_decode(ud, strlen(ud), buf, sizeof(buf), &n) != KBS_OK || n < rdlen ||
	    CRYPTO_memcmp(buf, report_data, rdlen) != 0)
		FAIL(KBS_ERR_VERIFY, "az: User-data in HCL variable data doesn't match report_data");
	rc = KBS_OK;
out:
	json_decref(j);
	return rc;
}

int az_init_data_check(const struct az_evidence *e, const uint8_t *digest, size_t len,
		       char *why, size_t whylen)
{
	uint8_t buf[64] = {0}, want[32];
	unsigned int n = 0;
	int rc = KBS_ERR_VERIFY;

	if (len != 32)
		FAIL(KBS_ERR_VERIFY, "az: init-data digest must be 32 bytes, got %zu", len);
	memcpy(buf + 32, digest, 32);
	if (EVP_Digest(buf, 64, want, &n, EVP_sha256(), NULL) != 1)
		FAIL(KBS_ERR_CRYPTO, "az: cannot hash the init-data digest");
	if (CRYPTO_memcmp(want, e->pcrs[8], 32) != 0)
		FAIL(KBS_ERR_VERIFY, "az: PCR 8 does not match the init-data digest");
	rc = KBS_OK;
out:
	return rc;
}

static json_t *hexj(const uint8_t *p, size_t n)
{
	char buf[257];

	if (n > 128 || hex_encode(p, n, buf, sizeof(buf)) != KBS_OK)
		return NULL;
	return json_string(buf);
}

int az_add_tpm_claims(json_t *claims, const struct az_evidence *e, const uint8_t *report_data,
		      size_t rdlen)
{
	json_t *tpm = json_object();

	if (!tpm)
		return KBS_ERR_NOMEM;
	for (int i = 0; i < AZ_NPCRS; i++) {
		char k[8];

		snprintf(k, sizeof(k), "pcr%02d", i);
		if (json_object_set_new(tpm, k, hexj(e->pcrs[i], 32))) {
			json_decref(tpm);
			return KBS_ERR_NOMEM;
		}
	}
	if (json_object_set_new(claims, "tpm", tpm) ||
	    json_object_set_new(claims, "report_data", hexj(report_data, rdlen)) ||
	    json_object_set_new(claims, "init_data", hexj(e->pcrs[8], 32)))
		return KBS_ERR_NOMEM;
	return KBS_OK;
}
