// SPDX-License-Identifier: Apache-2.0
#include "server/as/tpm_quote.h"

#include <openssl/err.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "server/as/x509util.h"

/* Big-endian cursor over an input that must be consumed exactly. */
struct rd {
	const uint8_t *p;
	size_t len, off;
};

static int rd_u8(struct rd *r, uint8_t *v)
{
	if (r->len - r->off < 1)
		return KBS_ERR_PARSE;
	*v = r->p[r->off++];
	return KBS_OK;
}

static int rd_u16(struct rd *r, uint16_t *v)
{
	if (r->len - r->off < 2)
		return KBS_ERR_PARSE;
	*v = (uint16_t)(r->p[r->off] << 8 | r->p[r->off + 1]);
	r->off += 2;
	return KBS_OK;
}

static int rd_u32(struct rd *r, uint32_t *v)
{
	if (r->len - r->off < 4)
		return KBS_ERR_PARSE;
	*v = (uint32_t)r->p[r->off] << 24 | (uint32_t)r->p[r->off + 1] << 16 |
	     (uint32_t)r->p[r->off + 2] << 8 | r->p[r->off + 3];
	r->off += 4;
	return KBS_OK;
}

static int rd_u64(struct rd *r, uint64_t *v)
{
	uint32_t hi, lo;

	if (rd_u32(r, &hi) || rd_u32(r, &lo))
		return KBS_ERR_PARSE;
	*v = (uint64_t)hi << 32 | lo;
	return KBS_OK;
}

/* TPM2B: u16 size + bytes. */
static int rd_2b(struct rd *r, const uint8_t **p, size_t *n)
{
	uint16_t sz;

	if (rd_u16(r, &sz) || r->len - r->off < sz)
		return KBS_ERR_PARSE;
	*p = r->p + r->off;
	*n = sz;
	r->off += sz;
	return KBS_OK;
}

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		snprintf(why, whylen, __VA_ARGS__);                                                \
		return KBS_ERR_PARSE;                                                              \
	} while (0)

int tpm_attest_parse(const uint8_t *p, size_t len, struct tpm_attest *a, char *why,
		     size_t whylen)
{
	struct rd r = {.p = p, .len = len};

	memset(a, 0, sizeof(*a));
	if (rd_u32(&r, &a->magic) || rd_u16(&r, &a->type))
		FAIL("tpm quote: TPMS_ATTEST truncated in its header");
	if (a->magic != TPM_GENERATED_VALUE)
		FAIL("tpm quote: magic 0x%08x is not TPM_GENERATED_VALUE", a->magic);
	if (a->type != TPM_ST_ATTEST_QUOTE)
		FAIL("tpm quote: type 0x%04x is not TPM_ST_ATTEST_QUOTE", a->type);
	if (rd_2b(&r, &a->signer, &a->signer_len))
		FAIL("tpm quote: qualifiedSigner truncated");
	if (rd_2b(&r, &a->extra, &a->extra_len))
		FAIL("tpm quote: extraData truncated");
	if (rd_u64(&r, &a->clock) || rd_u32(&r, &a->reset_count) ||
	    rd_u32(&r, &a->restart_count) || rd_u8(&r, &a->safe) ||
	    rd_u64(&r, &a->firmware_version))
		FAIL("tpm quote: clockInfo/firmwareVersion truncated");
	if (rd_u32(&r, &a->nbanks))
		FAIL("tpm quote: PCR selection truncated");
	if (a->nbanks == 0 || a->nbanks > TPM_MAX_BANKS)
		FAIL("tpm quote: %u PCR selections (1..%d supported)", a->nbanks, TPM_MAX_BANKS);
	for (uint32_t i = 0; i < a->nbanks; i++) {
		struct tpm_pcr_bank_sel *b = &a->banks[i];

		if (rd_u16(&r, &b->alg) || rd_u8(&r, &b->size))
			FAIL("tpm quote: PCR selection %u truncated", i);
		if (b->size > TPM_PCR_SELECT_MAX)
			FAIL("tpm quote: PCR selection %u has %u bytes", i, b->size);
		if (r.len - r.off < b->size)
			FAIL("tpm quote: PCR selection %u truncated", i);
		memcpy(b->bits, p + r.off, b->size);
		r.off += b->size;
	}
	if (rd_2b(&r, &a->pcr_digest, &a->pcr_digest_len))
		FAIL("tpm quote: pcrDigest truncated");
	if (r.off != len)
		FAIL("tpm quote: %zu bytes after pcrDigest", len - r.off);
	return KBS_OK;
}

int tpm_signature_parse(const uint8_t *p, size_t len, struct tpm_signature *s, char *why,
			size_t whylen)
{
	struct rd r = {.p = p, .len = len};

	memset(s, 0, sizeof(*s));
	if (rd_u16(&r, &s->sig_alg) || rd_u16(&r, &s->hash_alg))
		FAIL("tpm signature: TPMT_SIGNATURE truncated");
	switch (s->sig_alg) {
	case TPM_ALG_RSASSA:
	case TPM_ALG_RSAPSS:
		if (rd_2b(&r, &s->sig, &s->sig_len) || s->sig_len == 0)
			FAIL("tpm signature: RSA signature truncated or empty");
		break;
	case TPM_ALG_ECDSA:
		if (rd_2b(&r, &s->sig, &s->sig_len) || rd_2b(&r, &s->s, &s->s_len) ||
		    s->sig_len == 0 || s->s_len == 0 || s->sig_len > 66 || s->s_len > 66)
			FAIL("tpm signature: ECDSA r/s truncated or out of range");
		break;
	default:
		FAIL("tpm signature: unsupported signature scheme 0x%04x", s->sig_alg);
	}
	if (!tpm_alg_md(s->hash_alg))
		FAIL("tpm signature: unsupported hash algorithm 0x%04x", s->hash_alg);
	if (r.off != len)
		FAIL("tpm signature: %zu bytes after the signature", len - r.off);
	return KBS_OK;
}

const EVP_MD *tpm_alg_md(uint16_t alg)
{
	switch (alg) {
	case TPM_ALG_SHA1:
		return EVP_sha1();
	case TPM_ALG_SHA256:
		return EVP_sha256();
	case TPM_ALG_SHA384:
		return EVP_sha384();
	case TPM_ALG_SHA512:
		return EVP_sha512();
	case TPM_ALG_SM3_256:
		return EVP_sm3();
	default:
		return NULL;
	}
}

size_t tpm_alg_len(uint16_t alg)
{
	switch (alg) {
	case TPM_ALG_SHA1:
		return 20;
	case TPM_ALG_SHA256:
	case 0x0012: /* SM3-256 */
		return 32;
	case TPM_ALG_SHA384:
		return 48;
	case TPM_ALG_SHA512:
		return 64;
	default:
		return 0;
	}
}

unsigned tpm_bank_pcrs(const struct tpm_pcr_bank_sel *b, unsigned idx[32])
{
	unsigned n = 0;

	for (unsigned i = 0; i < 8u * b->size && i < 32; i++)
		if (b->bits[i / 8] & (1u << (i % 8)))
			idx[n++] = i;
	return n;
}

#undef FAIL
#define FAIL(...)                                                                                  \
	do {                                                                                       \
		snprintf(why, whylen, __VA_ARGS__);                                                \
		rc = KBS_ERR_VERIFY;                                                               \
		goto out;                                                                          \
	} while (0)

int tpm_signature_verify(EVP_PKEY *ak, const struct tpm_signature *sig, const uint8_t *msg,
			 size_t len, char *why, size_t whylen)
{
	const EVP_MD *md = tpm_alg_md(sig->hash_alg);
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	uint8_t *der = NULL;
	size_t derlen = 0;
	int rc = KBS_ERR_VERIFY, base = EVP_PKEY_get_base_id(ak);

	if (!md)
		FAIL("tpm quote signature: unsupported hash 0x%04x", sig->hash_alg);
	if (sig->sig_alg == TPM_ALG_ECDSA) {
		uint8_t r[66] = {0}, s[66] = {0};
		size_t n = sig->sig_len > sig->s_len ? sig->sig_len : sig->s_len;

		if (base != EVP_PKEY_EC)
			FAIL("tpm quote signature: ECDSA signature but the AK is not an EC key");
		/* right-align both halves to the same width */
		memcpy(r + n - sig->sig_len, sig->sig, sig->sig_len);
		memcpy(s + n - sig->s_len, sig->s, sig->s_len);
		rc = x509u_ecdsa_raw_to_der(r, s, n, 0, &der, &derlen);
		if (rc)
			goto out;
		rc = x509u_verify_ecdsa(ak, EVP_MD_get0_name(md), msg, len, der, derlen);
		if (rc)
			FAIL("tpm quote signature: ECDSA signature does not verify with the AK");
		goto out;
	}
	if (base != EVP_PKEY_RSA && base != EVP_PKEY_RSA_PSS)
		FAIL("tpm quote signature: RSA signature but the AK is not an RSA key");
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestVerifyInit(ctx, &pctx, md, NULL, ak) != 1) {
		rc = KBS_ERR_CRYPTO;
		snprintf(why, whylen, "tpm quote signature: cannot set up the RSA verification");
		goto out;
	}
	if (sig->sig_alg == TPM_ALG_RSAPSS &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1 ||
	     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1)) {
		rc = KBS_ERR_CRYPTO;
		snprintf(why, whylen, "tpm quote signature: cannot set up RSA-PSS");
		goto out;
	}
	if (EVP_DigestVerify(ctx, sig->sig, sig->sig_len, msg, len) != 1)
		FAIL("tpm quote signature: %s signature does not verify with the AK",
		     sig->sig_alg == TPM_ALG_RSAPSS ? "RSA-PSS" : "RSASSA");
	rc = KBS_OK;
out:
	ERR_clear_error();
	OPENSSL_free(der);
	EVP_MD_CTX_free(ctx);
	return rc;
}
