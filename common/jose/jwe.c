// SPDX-License-Identifier: Apache-2.0
/*
 * JWE flattened JSON serialisation. The encrypt side writes Trustee's exact byte layout with
 * no JSON library round trip; the decrypt side parses with duplicate members rejected and
 * authenticates the received "protected" string verbatim.
 */
#include "common/jose/jwe.h"

#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/jose/jose_internal.h"

#define JWE_IV_LEN 12
#define JWE_TAG_LEN 16
#define JWE_CEK_MAX 64
#define JWE_RSA_MAX_BYTES 2048 /* 16384-bit modulus */
#define JWE_HEADER_MAX (16u * 1024u)
#define JWE_APU_MAX 1024

enum ka_kind { KA_ECDH, KA_RSA };

struct ka_alg {
	const char *name;
	enum ka_kind kind;
	size_t kw_len;      /* ECDH-ES+AxxxKW: KEK length */
	int pad;            /* RSA padding mode */
	const char *oaep_md;/* RSA-OAEP hash (and MGF1 hash) */
};

static const struct ka_alg ka_algs[] = {
	{"ECDH-ES+A256KW", KA_ECDH, 32, 0, NULL},
	{"ECDH-ES+A192KW", KA_ECDH, 24, 0, NULL},
	{"ECDH-ES+A128KW", KA_ECDH, 16, 0, NULL},
	{"RSA-OAEP-256", KA_RSA, 0, RSA_PKCS1_OAEP_PADDING, "SHA256"},
	{"RSA-OAEP", KA_RSA, 0, RSA_PKCS1_OAEP_PADDING, "SHA1"},
	{"RSA1_5", KA_RSA, 0, RSA_PKCS1_PADDING, NULL},
};

struct enc_alg {
	const char *name;
	size_t key_len; /* CEK length */
	const char *cipher;
	size_t iv_len, tag_len;
	const char *hmac_md; /* AES-CBC + HMAC (RFC 7518 §5.2); NULL for GCM */
};

/* Encryption always uses A256GCM; the others are accepted on decryption (RFC 7520 vectors). */
static const struct enc_alg enc_algs[] = {
	{"A256GCM", 32, "AES-256-GCM", 12, 16, NULL},
	{"A192GCM", 24, "AES-192-GCM", 12, 16, NULL},
	{"A128GCM", 16, "AES-128-GCM", 12, 16, NULL},
	{"A128CBC-HS256", 32, "AES-128-CBC", 16, 16, "SHA256"},
	{"A192CBC-HS384", 48, "AES-192-CBC", 16, 24, "SHA384"},
	{"A256CBC-HS512", 64, "AES-256-CBC", 16, 32, "SHA512"},
};

/* Every secret of one operation in a single locked block, wiped on free. */
struct jwe_secrets {
	uint8_t cek[JWE_CEK_MAX];
	uint8_t rnd_cek[JWE_CEK_MAX];
	uint8_t kek[32];
	uint8_t z[JOSE_EC_COORD_MAX];
	uint8_t rsa_out[JWE_RSA_MAX_BYTES];
};

static const struct ka_alg *ka_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(ka_algs) / sizeof(ka_algs[0]); i++)
		if (strcmp(ka_algs[i].name, name) == 0)
			return &ka_algs[i];
	return NULL;
}

static const struct enc_alg *enc_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(enc_algs) / sizeof(enc_algs[0]); i++)
		if (strcmp(enc_algs[i].name, name) == 0)
			return &enc_algs[i];
	return NULL;
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * Concat KDF (NIST SP 800-56A §5.8.1, RFC 7518 §4.6.2) with SHA-256. keylen <= 32, so one
 * round: SHA256(00000001 || Z || len(alg) alg || len(apu) apu || len(apv) apv || bits).
 */
static int concat_kdf(const uint8_t *z, size_t zlen, const char *alg, const uint8_t *apu,
		      size_t apulen, const uint8_t *apv, size_t apvlen, size_t keylen,
		      uint8_t *kek)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t n[4], out[32];
	size_t alen = strlen(alg);
	int rc = KBS_ERR_CRYPTO;

	if (!md)
		return KBS_ERR_NOMEM;
	if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		goto out;
	be32(n, 1);
	if (!EVP_DigestUpdate(md, n, 4) || !EVP_DigestUpdate(md, z, zlen))
		goto out;
	be32(n, (uint32_t)alen);
	if (!EVP_DigestUpdate(md, n, 4) || !EVP_DigestUpdate(md, alg, alen))
		goto out;
	be32(n, (uint32_t)apulen);
	if (!EVP_DigestUpdate(md, n, 4) || (apulen && !EVP_DigestUpdate(md, apu, apulen)))
		goto out;
	be32(n, (uint32_t)apvlen);
	if (!EVP_DigestUpdate(md, n, 4) || (apvlen && !EVP_DigestUpdate(md, apv, apvlen)))
		goto out;
	be32(n, (uint32_t)(keylen * 8));
	if (!EVP_DigestUpdate(md, n, 4) || !EVP_DigestFinal_ex(md, out, NULL))
		goto out;
	memcpy(kek, out, keylen);
	rc = KBS_OK;
out:
	OPENSSL_cleanse(out, sizeof(out));
	EVP_MD_CTX_free(md);
	return rc;
}

static const EVP_CIPHER *kw_cipher(size_t kw_len)
{
	return kw_len == 32 ? EVP_aes_256_wrap() : kw_len == 24 ? EVP_aes_192_wrap()
								 : EVP_aes_128_wrap();
}

static const EVP_CIPHER *ecb_cipher(size_t kw_len)
{
	return kw_len == 32 ? EVP_aes_256_ecb() : kw_len == 24 ? EVP_aes_192_ecb()
								: EVP_aes_128_ecb();
}

/*
 * RFC 3394 §2.2.1 wrap on AES-ECB. OpenSSL 3.0's "AES-256-WRAP" runs the generic C AES
 * (AES_encrypt, ~2 000 instructions a block: 47 000 per 32-byte CEK, 4% of a resource GET);
 * ECB goes through the AES-NI code where the CPU has it. in: len bytes (a multiple of 8,
 * 16..32), out: len + 8 bytes.
 */
static int aes_kw_wrap_ecb(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t len,
			   uint8_t *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t b[16], a[8], r[32];
	size_t n = len / 8;
	int bl, rc = KBS_ERR_CRYPTO;

	if (!c)
		return KBS_ERR_NOMEM;
	if (len % 8 || n < 2 || n > 4 || !EVP_EncryptInit_ex(c, ecb_cipher(kek_len), NULL, kek, NULL))
		goto out;
	EVP_CIPHER_CTX_set_padding(c, 0);
	memset(a, 0xa6, sizeof(a));
	memcpy(r, in, len);
	for (unsigned j = 0; j < 6; j++) {
		for (size_t i = 0; i < n; i++) {
			uint64_t t = (uint64_t)(n * j + i + 1);

			memcpy(b, a, 8);
			memcpy(b + 8, r + 8 * i, 8);
			if (!EVP_EncryptUpdate(c, b, &bl, b, 16) || bl != 16)
				goto out;
			for (int k = 7; k >= 0; k--, t >>= 8)
				b[k] ^= (uint8_t)t;
			memcpy(a, b, 8);
			memcpy(r + 8 * i, b + 8, 8);
		}
	}
	memcpy(out, a, 8);
	memcpy(out + 8, r, len);
	rc = KBS_OK;
out:
	OPENSSL_cleanse(b, sizeof(b));
	OPENSSL_cleanse(r, sizeof(r));
	ERR_clear_error();
	EVP_CIPHER_CTX_free(c);
	return rc;
}

/* AES Key Wrap (RFC 3394). wrap: in = CEK, out = CEK+8; unwrap: the reverse. */
static int aes_kw(bool wrap, const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t len,
		  uint8_t *out, size_t *outlen)
{
	EVP_CIPHER_CTX *c;
	int n = 0, n2 = 0, rc = KBS_ERR_CRYPTO;

	if (wrap && len % 8 == 0 && len >= 16 && len <= 32) {
		rc = aes_kw_wrap_ecb(kek, kek_len, in, len, out);
		if (rc == KBS_OK)
			*outlen = len + 8;
		return rc;
	}
	c = EVP_CIPHER_CTX_new();
	if (!c)
		return KBS_ERR_NOMEM;
	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (!EVP_CipherInit_ex(c, kw_cipher(kek_len), NULL, kek, NULL, wrap ? 1 : 0))
		goto out;
	if (!EVP_CipherUpdate(c, out, &n, in, (int)len) || !EVP_CipherFinal_ex(c, out + n, &n2)) {
		rc = KBS_ERR_VERIFY;
		goto out;
	}
	*outlen = (size_t)n + (size_t)n2;
	rc = KBS_OK;
out:
	ERR_clear_error();
	EVP_CIPHER_CTX_free(c);
	return rc;
}

/* ECDH x-coordinate, fixed field length (RFC 7518 §4.6.2). */
static int ecdh_z(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t *z, size_t zlen)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
	size_t n = zlen;
	int rc = KBS_ERR_CRYPTO;

	if (!c)
		return KBS_ERR_NOMEM;
	/* both keys were validated when imported (point on curve), no second check here */
	if (EVP_PKEY_derive_init(c) != 1 || EVP_PKEY_derive_set_peer_ex(c, peer, 0) != 1 ||
	    EVP_PKEY_derive(c, z, &n) != 1 || n != zlen)
		goto out;
	rc = KBS_OK;
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(c);
	return rc;
}

static int rsa_ctx_setup(EVP_PKEY_CTX *c, const struct ka_alg *a)
{
	if (EVP_PKEY_CTX_set_rsa_padding(c, a->pad) != 1)
		return KBS_ERR_CRYPTO;
	if (a->oaep_md && (EVP_PKEY_CTX_set_rsa_oaep_md_name(c, a->oaep_md, NULL) != 1 ||
			   EVP_PKEY_CTX_set_rsa_mgf1_md_name(c, a->oaep_md, NULL) != 1))
		return KBS_ERR_CRYPTO;
	return KBS_OK;
}

static int gcm(bool enc, const struct enc_alg *e, const uint8_t *key, const uint8_t *iv,
	       const char *aad1, size_t aad1_len, const char *aad2, size_t aad2_len,
	       const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	EVP_CIPHER *cipher = NULL;
	int n, rc = KBS_ERR_CRYPTO;

	if (!c)
		return KBS_ERR_NOMEM;
	cipher = EVP_CIPHER_fetch(NULL, e->cipher, NULL);
	if (!cipher || !EVP_CipherInit_ex(c, cipher, NULL, key, iv, enc ? 1 : 0))
		goto out;
	if (!EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)aad1, (int)aad1_len))
		goto out;
	if (aad2 && (!EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)".", 1) ||
		     !EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)aad2, (int)aad2_len)))
		goto out;
	/* chunked so that lengths above INT_MAX cannot truncate */
	for (size_t off = 0; off < len;) {
		size_t chunk = len - off > (1u << 30) ? (1u << 30) : len - off;

		if (!EVP_CipherUpdate(c, out + off, &n, in + off, (int)chunk))
			goto out;
		off += chunk;
	}
	if (!enc && !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, JWE_TAG_LEN, tag))
		goto out;
	/* the tag comparison inside OpenSSL's GCM final is constant time (CRYPTO_memcmp) */
	if (!EVP_CipherFinal_ex(c, out + len, &n)) {
		rc = KBS_ERR_VERIFY;
		goto out;
	}
	if (enc && !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, JWE_TAG_LEN, tag))
		goto out;
	rc = KBS_OK;
out:
	ERR_clear_error();
	EVP_CIPHER_free(cipher);
	EVP_CIPHER_CTX_free(c);
	return rc;
}

/*
 * AES-CBC + HMAC-SHA2 decryption (RFC 7518 §5.2.2.2): MAC key = first half of the CEK,
 * M = HMAC(A || IV || C || AL) truncated to the tag length, compared in constant time before
 * anything is decrypted (so there is no padding oracle). *out_len = plaintext length.
 */
static int cbc_hmac_decrypt(const struct enc_alg *e, const uint8_t *cek, const uint8_t *iv,
			    const char *aad1, size_t aad1_len, const char *aad2, size_t aad2_len,
			    const uint8_t *ct, size_t ct_len, const uint8_t *tag, uint8_t *out,
			    size_t *out_len)
{
	size_t half = e->key_len / 2, mlen = 0;
	uint64_t al_bits = (uint64_t)(aad1_len + (aad2 ? 1 + aad2_len : 0)) * 8;
	uint8_t al[8], mac[64];
	OSSL_PARAM params[2];
	EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *mc = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
	EVP_CIPHER_CTX *c = NULL;
	EVP_CIPHER *cipher = NULL;
	int n, n2, rc = KBS_ERR_CRYPTO;

	for (int i = 0; i < 8; i++)
		al[i] = (uint8_t)(al_bits >> (56 - 8 * i));
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)e->hmac_md, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!mc || !EVP_MAC_init(mc, cek, half, params) ||
	    !EVP_MAC_update(mc, (const uint8_t *)aad1, aad1_len) ||
	    (aad2 && (!EVP_MAC_update(mc, (const uint8_t *)".", 1) ||
		      !EVP_MAC_update(mc, (const uint8_t *)aad2, aad2_len))) ||
	    !EVP_MAC_update(mc, iv, e->iv_len) || !EVP_MAC_update(mc, ct, ct_len) ||
	    !EVP_MAC_update(mc, al, sizeof(al)) || !EVP_MAC_final(mc, mac, &mlen, sizeof(mac)) ||
	    mlen < e->tag_len)
		goto out;
	rc = KBS_ERR_VERIFY;
	if (CRYPTO_memcmp(mac, tag, e->tag_len) != 0)
		goto out;
	rc = KBS_ERR_CRYPTO;
	if (ct_len > INT_MAX)
		goto out;
	c = EVP_CIPHER_CTX_new();
	cipher = EVP_CIPHER_fetch(NULL, e->cipher, NULL);
	if (!c || !cipher || !EVP_DecryptInit_ex(c, cipher, NULL, cek + half, iv))
		goto out;
	rc = KBS_ERR_VERIFY;
	if (!EVP_DecryptUpdate(c, out, &n, ct, (int)ct_len) || !EVP_DecryptFinal_ex(c, out + n, &n2))
		goto out;
	*out_len = (size_t)n + (size_t)n2;
	rc = KBS_OK;
out:
	ERR_clear_error();
	OPENSSL_cleanse(mac, sizeof(mac));
	EVP_CIPHER_free(cipher);
	EVP_CIPHER_CTX_free(c);
	EVP_MAC_CTX_free(mc);
	EVP_MAC_free(hmac);
	return rc;
}

/* ---- encrypt --------------------------------------------------------------------------- */

static const struct ka_alg *choose_alg(const struct jwk *k, const char *alg)
{
	const char *kty = jwk_kty(k), *crv = jwk_crv(k), *kalg = jwk_alg(k);
	const struct ka_alg *a;

	if (alg) {
		a = ka_find(alg);
		if (!a || (a->kind == KA_ECDH) != (strcmp(kty, "EC") == 0) ||
		    (a->kind == KA_RSA && strcmp(kty, "RSA") != 0))
			return NULL;
		/* we only produce A256GCM, whose 32-byte CEK needs a 256-bit KEK */
		if (a->kind == KA_ECDH && a->kw_len != 32)
			return NULL;
		return a;
	}
	/* Trustee's choice from the TEE key (kbs-protocol §4.3) */
	if (!kalg)
		return NULL;
	if (strcmp(kty, "RSA") == 0 &&
	    (strcmp(kalg, "RSA1_5") == 0 || strcmp(kalg, "RSA-OAEP-256") == 0))
		return ka_find(kalg);
	if (strcmp(kty, "EC") == 0 && strcmp(kalg, "ECDH-ES+A256KW") == 0 &&
	    (strcmp(crv, "P-256") == 0 || strcmp(crv, "P-521") == 0))
		return ka_find(kalg);
	return NULL;
}

static int ecdh_wrap(const struct jwk *rcpt, const struct ka_alg *a, struct jwe_secrets *s,
		     struct buf *hdr, uint8_t *ek, size_t *ek_len)
{
	EVP_PKEY_CTX *kc = NULL;
	EVP_PKEY *eph = NULL;
	uint8_t pt[1 + 2 * JOSE_EC_COORD_MAX];
	size_t clen = jwk_ec_coords(rcpt, NULL, NULL), ptlen = 0;
	int rc = KBS_ERR_CRYPTO;

	/* ephemeral key on the recipient's curve: the recipient key is the parameter template */
	kc = EVP_PKEY_CTX_new_from_pkey(NULL, jwk_pkey(rcpt), NULL);
	if (!kc || EVP_PKEY_keygen_init(kc) != 1 || EVP_PKEY_keygen(kc, &eph) != 1)
		goto out;
	if (!EVP_PKEY_get_octet_string_param(eph, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt),
					     &ptlen) ||
	    ptlen != 1 + 2 * clen || pt[0] != 0x04)
		goto out;
	if ((rc = ecdh_z(eph, jwk_pkey(rcpt), s->z, clen)))
		goto out;
	if ((rc = concat_kdf(s->z, clen, a->name, NULL, 0, NULL, 0, a->kw_len, s->kek)))
		goto out;
	if ((rc = aes_kw(true, s->kek, a->kw_len, s->cek, 32, ek, ek_len)))
		goto out;
	if ((rc = buf_printf(hdr, "{\"alg\":\"%s\",\"enc\":\"A256GCM\",\"epk\":{\"crv\":\"%s\","
				  "\"kty\":\"EC\",\"x\":\"",
			     a->name, jwk_crv(rcpt))) ||
	    (rc = jose_buf_append_b64u(hdr, pt + 1, clen)) ||
	    (rc = buf_append_str(hdr, "\",\"y\":\"")) ||
	    (rc = jose_buf_append_b64u(hdr, pt + 1 + clen, clen)) ||
	    (rc = buf_append_str(hdr, "\"}}")))
		goto out;
out:
	ERR_clear_error();
	EVP_PKEY_free(eph);
	EVP_PKEY_CTX_free(kc);
	return rc;
}

static int rsa_wrap(const struct jwk *rcpt, const struct ka_alg *a, struct jwe_secrets *s,
		    struct buf *hdr, uint8_t *ek, size_t *ek_len)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, jwk_pkey(rcpt), NULL);
	int rc = KBS_ERR_CRYPTO;

	*ek_len = JWE_RSA_MAX_BYTES;
	if (!c || EVP_PKEY_encrypt_init(c) != 1 || rsa_ctx_setup(c, a) != KBS_OK ||
	    EVP_PKEY_encrypt(c, ek, ek_len, s->cek, 32) != 1)
		goto out;
	rc = buf_printf(hdr, "{\"alg\":\"%s\",\"enc\":\"A256GCM\"}", a->name);
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(c);
	return rc;
}

static int append_member(struct buf *out, const char *prefix, const uint8_t *v, size_t len)
{
	int rc = buf_append_str(out, prefix);

	return rc ? rc : jose_buf_append_b64u(out, v, len);
}

int jwe_encrypt(const struct jwk *recipient, const char *alg, const uint8_t *pt, size_t pt_len,
		struct buf *out)
{
	const struct ka_alg *a;
	struct jwe_secrets *s = NULL;
	struct buf hdr = BUF_INIT;
	uint8_t iv[JWE_IV_LEN], tag[JWE_TAG_LEN], ek[JWE_RSA_MAX_BYTES];
	uint8_t *ct = NULL;
	size_t ek_len = 0, start;
	const struct enc_alg *e = enc_find("A256GCM");
	int rc = KBS_ERR_INVAL;

	if (!recipient || !out || (!pt && pt_len))
		return rc;
	start = out->len;
	a = choose_alg(recipient, alg);
	if (!a)
		return KBS_ERR_UNSUPPORTED;
	rc = KBS_ERR_LOCKMEM;
	s = secmem_alloc(sizeof(*s));
	if (!s)
		goto out;
	rc = KBS_ERR_NOMEM;
	ct = malloc(pt_len ? pt_len : 1);
	if (!ct)
		goto out;
	rc = KBS_ERR_CRYPTO;
	if (RAND_bytes(s->cek, 32) != 1 || RAND_bytes(iv, sizeof(iv)) != 1)
		goto out;
	rc = a->kind == KA_ECDH ? ecdh_wrap(recipient, a, s, &hdr, ek, &ek_len)
				: rsa_wrap(recipient, a, s, &hdr, ek, &ek_len);
	if (rc)
		goto out;
	/* the protected member is written once; its text is also the GCM AAD */
	if ((rc = buf_append_str(out, "{\"protected\":\"")) ||
	    (rc = jose_buf_append_b64u(out, hdr.p, hdr.len)))
		goto out;
	rc = gcm(true, e, s->cek, iv, (const char *)out->p + start + 14, out->len - start - 14,
		 NULL, 0, pt, pt_len, ct, tag);
	if (rc)
		goto out;
	if ((rc = append_member(out, "\",\"encrypted_key\":\"", ek, ek_len)) ||
	    (rc = append_member(out, "\",\"iv\":\"", iv, sizeof(iv))) ||
	    (rc = append_member(out, "\",\"ciphertext\":\"", ct, pt_len)) ||
	    (rc = append_member(out, "\",\"tag\":\"", tag, sizeof(tag))) ||
	    (rc = buf_append_str(out, "\"}")))
		goto out;
	rc = KBS_OK;
out:
	if (rc && out->p) {
		out->len = start;
		out->p[start] = 0;
	}
	secmem_free(s);
	buf_release(&hdr);
	free(ct);
	return rc;
}

/* ---- decrypt --------------------------------------------------------------------------- */

/* Required (or optional) base64url string member decoded into a malloc'ed buffer. */
static int get_b64(const json_t *o, const char *name, bool optional, size_t max, uint8_t **out,
		   size_t *len)
{
	const json_t *v = json_object_get(o, name);
	int rc;

	*out = NULL;
	*len = 0;
	if (!v)
		return optional ? KBS_OK : KBS_ERR_PARSE;
	if (!json_is_string(v))
		return KBS_ERR_PARSE;
	if (json_string_length(v) > max)
		return KBS_ERR_RANGE;
	rc = b64_decode_alloc(json_string_value(v), json_string_length(v), B64_URL, out, len);
	return rc ? KBS_ERR_PARSE : KBS_OK;
}

static int ecdh_unwrap(const struct jwk *k, const struct ka_alg *a, const json_t *hdr,
		       const uint8_t *ek, size_t ek_len, size_t cek_len, struct jwe_secrets *s)
{
	const json_t *epk = json_object_get(hdr, "epk");
	const char *kty, *crv;
	uint8_t *x = NULL, *y = NULL, *apu = NULL, *apv = NULL;
	size_t xl, yl, apul, apvl, n = 0, clen = jwk_ec_coords(k, NULL, NULL);
	EVP_PKEY *peer = NULL;
	int rc = KBS_ERR_PARSE;

	if (!json_is_object(epk))
		goto out;
	kty = json_string_value(json_object_get(epk, "kty"));
	crv = json_string_value(json_object_get(epk, "crv"));
	if (!kty || !crv || strcmp(kty, "EC") != 0)
		goto out;
	rc = KBS_ERR_VERIFY;
	if (strcmp(crv, jwk_crv(k)) != 0)
		goto out;
	if ((rc = get_b64(epk, "x", false, 128, &x, &xl)) ||
	    (rc = get_b64(epk, "y", false, 128, &y, &yl)) ||
	    (rc = get_b64(hdr, "apu", true, JWE_APU_MAX, &apu, &apul)) ||
	    (rc = get_b64(hdr, "apv", true, JWE_APU_MAX, &apv, &apvl)))
		goto out;
	rc = KBS_ERR_PARSE;
	if (xl != clen || yl != clen || ek_len != cek_len + 8)
		goto out;
	rc = jose_ec_pub_from_coords(crv, x, y, clen, &peer);
	if (rc) {
		rc = KBS_ERR_VERIFY;
		goto out;
	}
	if ((rc = ecdh_z(jwk_pkey(k), peer, s->z, clen)) ||
	    (rc = concat_kdf(s->z, clen, a->name, apu, apul, apv, apvl, a->kw_len, s->kek)))
		goto out;
	rc = aes_kw(false, s->kek, a->kw_len, ek, ek_len, s->cek, &n);
	if (rc == KBS_OK && n != cek_len)
		rc = KBS_ERR_VERIFY;
out:
	EVP_PKEY_free(peer);
	free(x);
	free(y);
	free(apu);
	free(apv);
	return rc;
}

/*
 * RSA key transport. Any failure (bad padding, wrong length) is hidden: a random CEK is
 * substituted in constant time and decryption goes on to fail at the GCM tag, so RSA1_5
 * and RSA-OAEP errors take the same path and return the same code as a tag mismatch
 * (RFC 7516 §11.5, Bleichenbacher / Manger).
 */
static int rsa_unwrap(const struct jwk *k, const struct ka_alg *a, const uint8_t *ek,
		      size_t ek_len, size_t cek_len, struct jwe_secrets *s)
{
	EVP_PKEY_CTX *c = NULL;
	size_t n = sizeof(s->rsa_out), good;
	int ok;

	if (RAND_bytes(s->rnd_cek, (int)cek_len) != 1)
		return KBS_ERR_CRYPTO;
	c = EVP_PKEY_CTX_new_from_pkey(NULL, jwk_pkey(k), NULL);
	if (!c)
		return KBS_ERR_NOMEM;
	ok = EVP_PKEY_decrypt_init(c) == 1 && rsa_ctx_setup(c, a) == KBS_OK;
	ok = ok && ek_len <= sizeof(s->rsa_out);
	if (ok)
		ok = EVP_PKEY_decrypt(c, s->rsa_out, &n, ek, ek_len) == 1;
	ERR_clear_error();
	EVP_PKEY_CTX_free(c);
	/* good = all ones iff decryption succeeded with the expected CEK length */
	good = (size_t)0 - (size_t)(ok & (n == cek_len));
	for (size_t i = 0; i < cek_len; i++)
		s->cek[i] = (uint8_t)((s->rsa_out[i] & good) | (s->rnd_cek[i] & ~good));
	return KBS_OK;
}

static bool has_member(const json_t *o, const char *name)
{
	return json_object_get(o, name) != NULL;
}

int jwe_decrypt(const struct jwk *recipient_priv, const char *json, size_t len,
		const char *const *allowed_algs, struct secbuf *pt)
{
	json_t *doc = NULL, *hdr = NULL;
	const json_t *pv, *aadv;
	const char *prot, *alg, *enc, *aad = NULL;
	size_t prot_len, aad_len = 0, hdr_len, ek_len, iv_len, ct_len, tag_len;
	uint8_t *hdr_raw = NULL, *ek = NULL, *iv = NULL, *ct = NULL, *tag = NULL;
	const struct ka_alg *a;
	const struct enc_alg *e;
	struct jwe_secrets *s = NULL;
	struct secbuf out = {0};
	int rc = KBS_ERR_INVAL;

	if (!recipient_priv || !json || !pt || !jwk_is_private(recipient_priv))
		return rc;
	pt->p = NULL;
	pt->len = 0;
	if (len > JWE_MAX_JSON)
		return KBS_ERR_RANGE;
	if ((rc = jose_json_object(json, len, &doc)))
		goto out;
	rc = KBS_ERR_UNSUPPORTED;
	/* unprotected headers and the general serialisation are not used by KBS */
	if (has_member(doc, "unprotected") || has_member(doc, "header") ||
	    has_member(doc, "recipients"))
		goto out;
	rc = KBS_ERR_PARSE;
	pv = json_object_get(doc, "protected");
	if (!json_is_string(pv))
		goto out;
	prot = json_string_value(pv);
	prot_len = json_string_length(pv);
	aadv = json_object_get(doc, "aad");
	if (aadv) {
		if (!json_is_string(aadv))
			goto out;
		aad = json_string_value(aadv);
		aad_len = json_string_length(aadv);
	}
	rc = KBS_ERR_RANGE;
	if (prot_len > JWE_HEADER_MAX)
		goto out;
	rc = KBS_ERR_PARSE;
	if (b64_decode_alloc(prot, prot_len, B64_URL, &hdr_raw, &hdr_len) ||
	    jose_json_object((const char *)hdr_raw, hdr_len, &hdr))
		goto out;
	alg = json_string_value(json_object_get(hdr, "alg"));
	enc = json_string_value(json_object_get(hdr, "enc"));
	if (!alg || !enc)
		goto out;
	rc = KBS_ERR_UNSUPPORTED;
	/* no compression, and no critical extensions are understood */
	if (has_member(hdr, "zip") || has_member(hdr, "crit"))
		goto out;
	a = ka_find(alg);
	e = enc_find(enc);
	if (!a || !e || !jose_alg_allowed(allowed_algs, alg))
		goto out;
	if (strcmp(jwk_kty(recipient_priv), a->kind == KA_ECDH ? "EC" : "RSA") != 0)
		goto out;
	if ((rc = get_b64(doc, "encrypted_key", false, JWE_HEADER_MAX, &ek, &ek_len)) ||
	    (rc = get_b64(doc, "iv", false, 64, &iv, &iv_len)) ||
	    (rc = get_b64(doc, "tag", false, 64, &tag, &tag_len)) ||
	    (rc = get_b64(doc, "ciphertext", false, JWE_MAX_JSON, &ct, &ct_len)))
		goto out;
	rc = KBS_ERR_PARSE;
	if (iv_len != e->iv_len || tag_len != e->tag_len)
		goto out;
	rc = KBS_ERR_LOCKMEM;
	s = secmem_alloc(sizeof(*s));
	if (!s)
		goto out;
	rc = a->kind == KA_ECDH ? ecdh_unwrap(recipient_priv, a, hdr, ek, ek_len, e->key_len, s)
				: rsa_unwrap(recipient_priv, a, ek, ek_len, e->key_len, s);
	if (rc)
		goto out;
	/* CBC decryption may write up to one block more than it finally returns */
	if ((rc = secbuf_alloc(&out, ct_len + (e->hmac_md ? 16 : 0))))
		goto out;
	/* AAD is the received protected text itself, never a re-serialisation */
	if (e->hmac_md) {
		size_t n = 0;

		rc = cbc_hmac_decrypt(e, s->cek, iv, prot, prot_len, aad, aad_len, ct, ct_len, tag,
				      out.p, &n);
		out.len = n;
	} else {
		rc = gcm(false, e, s->cek, iv, prot, prot_len, aad, aad_len, ct, ct_len, out.p,
			 tag);
	}
	if (rc)
		goto out;
	*pt = out;
	out.p = NULL;
out:
	secbuf_free(&out);
	secmem_free(s);
	json_decref(doc);
	json_decref(hdr);
	free(hdr_raw);
	free(ek);
	free(iv);
	free(ct);
	free(tag);
	return rc;
}
