// SPDX-License-Identifier: Apache-2.0
/*
 * JWS compact serialisation and JWT. Algorithms come from a fixed table of asymmetric
 * signatures; "none" and HMAC are not in it, so no allow-list can enable them. ECDSA
 * signatures are the JOSE fixed-length R || S form, converted to and from DER only at the
 * OpenSSL boundary.
 */
#include "common/jose/jws.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/jose/jose_internal.h"

#define JWS_HEADER_MAX (64u * 1024u)
#define JWS_SIG_MAX 2048

enum sig_kty { SK_EC, SK_RSA, SK_OKP };

struct sig_alg {
	const char *name;
	enum sig_kty kty;
	const char *crv; /* EC/OKP curve */
	const char *md;  /* NULL for EdDSA */
	int pad;         /* RSA padding */
	size_t clen;     /* ECDSA: length of R and of S */
};

static const struct sig_alg sig_algs[] = {
	{"ES256", SK_EC, "P-256", "SHA256", 0, 32},
	{"ES384", SK_EC, "P-384", "SHA384", 0, 48},
	{"ES512", SK_EC, "P-521", "SHA512", 0, 66},
	{"RS256", SK_RSA, NULL, "SHA256", RSA_PKCS1_PADDING, 0},
	{"RS384", SK_RSA, NULL, "SHA384", RSA_PKCS1_PADDING, 0},
	{"RS512", SK_RSA, NULL, "SHA512", RSA_PKCS1_PADDING, 0},
	{"PS256", SK_RSA, NULL, "SHA256", RSA_PKCS1_PSS_PADDING, 0},
	{"PS384", SK_RSA, NULL, "SHA384", RSA_PKCS1_PSS_PADDING, 0},
	{"PS512", SK_RSA, NULL, "SHA512", RSA_PKCS1_PSS_PADDING, 0},
	{"EdDSA", SK_OKP, "Ed25519", NULL, 0, 0},
};

static const struct sig_alg *sig_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(sig_algs) / sizeof(sig_algs[0]); i++)
		if (strcmp(sig_algs[i].name, name) == 0)
			return &sig_algs[i];
	return NULL;
}

/* The key must be of the algorithm's type and curve, and its own "alg" (if any) must agree. */
static bool key_fits(const struct jwk *k, const struct sig_alg *a)
{
	const char *kty = jwk_kty(k), *kalg = jwk_alg(k);

	if (kalg && strcmp(kalg, a->name) != 0)
		return false;
	switch (a->kty) {
	case SK_EC:
		return strcmp(kty, "EC") == 0 && strcmp(jwk_crv(k), a->crv) == 0;
	case SK_RSA:
		return strcmp(kty, "RSA") == 0;
	case SK_OKP:
		return strcmp(kty, "OKP") == 0 && strcmp(jwk_crv(k), a->crv) == 0;
	}
	return false;
}

static int md_init(EVP_MD_CTX *m, const struct sig_alg *a, EVP_PKEY *pkey, bool sign)
{
	EVP_PKEY_CTX *pc = NULL;
	int ok = sign ? EVP_DigestSignInit_ex(m, &pc, a->md, NULL, NULL, pkey, NULL)
		      : EVP_DigestVerifyInit_ex(m, &pc, a->md, NULL, NULL, pkey, NULL);

	if (ok != 1)
		return KBS_ERR_CRYPTO;
	if (a->kty == SK_RSA && EVP_PKEY_CTX_set_rsa_padding(pc, a->pad) != 1)
		return KBS_ERR_CRYPTO;
	/* RFC 7518 §3.5: salt length = hash length */
	if (a->pad == RSA_PKCS1_PSS_PADDING &&
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST) != 1)
		return KBS_ERR_CRYPTO;
	return KBS_OK;
}

/* ---- sign ------------------------------------------------------------------------------ */

static int sign_raw(const struct jwk *key, const struct sig_alg *a, const uint8_t *tbs,
		    size_t tbs_len, uint8_t *sig, size_t *sig_len)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	uint8_t der[JWS_SIG_MAX];
	size_t dlen = sizeof(der);
	ECDSA_SIG *es = NULL;
	const unsigned char *p = der;
	const BIGNUM *r, *s;
	int rc = KBS_ERR_NOMEM;

	if (!m)
		return rc;
	if ((rc = md_init(m, a, jwk_pkey(key), true)))
		goto out;
	rc = KBS_ERR_CRYPTO;
	if (EVP_DigestSign(m, der, &dlen, tbs, tbs_len) != 1)
		goto out;
	if (a->kty != SK_EC) {
		memcpy(sig, der, dlen);
		*sig_len = dlen;
		rc = KBS_OK;
		goto out;
	}
	es = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
	if (!es)
		goto out;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, sig, (int)a->clen) != (int)a->clen ||
	    BN_bn2binpad(s, sig + a->clen, (int)a->clen) != (int)a->clen)
		goto out;
	*sig_len = 2 * a->clen;
	rc = KBS_OK;
out:
	ERR_clear_error();
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(m);
	return rc;
}

int jws_sign(const struct jwk *key, const char *alg, const json_t *header_extra,
	     const void *payload, size_t payload_len, char **out)
{
	const struct sig_alg *a = sig_find(alg);
	json_t *hdr = NULL;
	const char *name;
	json_t *v;
	char *htxt = NULL;
	struct buf b = BUF_INIT;
	uint8_t sig[JWS_SIG_MAX];
	size_t sig_len = 0;
	int rc = KBS_ERR_INVAL;

	if (!key || !out || (!payload && payload_len))
		return rc;
	if (header_extra && !json_is_object(header_extra))
		return rc;
	if (!a)
		return KBS_ERR_UNSUPPORTED;
	if (!jwk_is_private(key) || !key_fits(key, a))
		return KBS_ERR_INVAL;
	rc = KBS_ERR_NOMEM;
	hdr = json_object();
	if (!hdr || json_object_set_new(hdr, "alg", json_string(a->name)))
		goto out;
	json_object_foreach((json_t *)header_extra, name, v)
	{
		if (strcmp(name, "alg") != 0 && json_object_set(hdr, name, v))
			goto out;
	}
	htxt = json_dumps(hdr, JSON_COMPACT);
	if (!htxt)
		goto out;
	if ((rc = jose_buf_append_b64u(&b, (const uint8_t *)htxt, strlen(htxt))) ||
	    (rc = buf_append_byte(&b, '.')) ||
	    (rc = jose_buf_append_b64u(&b, payload, payload_len)))
		goto out;
	if ((rc = sign_raw(key, a, b.p, b.len, sig, &sig_len)))
		goto out;
	if ((rc = buf_append_byte(&b, '.')) || (rc = jose_buf_append_b64u(&b, sig, sig_len)))
		goto out;
	*out = buf_steal(&b, NULL);
	rc = *out ? KBS_OK : KBS_ERR_NOMEM;
out:
	buf_release(&b);
	free(htxt);
	json_decref(hdr);
	return rc;
}

int jwt_sign(const struct jwk *key, const char *alg, const json_t *header_extra,
	     const json_t *claims, char **out)
{
	char *txt;
	int rc;

	if (!json_is_object(claims))
		return KBS_ERR_INVAL;
	txt = json_dumps(claims, JSON_COMPACT);
	if (!txt)
		return KBS_ERR_NOMEM;
	rc = jws_sign(key, alg, header_extra, txt, strlen(txt), out);
	free(txt);
	return rc;
}

/* ---- verify ---------------------------------------------------------------------------- */

struct jws_parts {
	const char *in;
	size_t tbs_len; /* header.payload */
	size_t pay_off, pay_len;
	size_t sig_off, sig_len;
	json_t *header;
	const char *alg;
};

static int jws_parse(const char *in, size_t len, struct jws_parts *p)
{
	const char *d1, *d2;
	uint8_t *h = NULL;
	size_t hlen;
	const json_t *b64;
	int rc = KBS_ERR_PARSE;

	memset(p, 0, sizeof(*p));
	if (!in)
		return KBS_ERR_INVAL;
	if (len > JWS_MAX_LEN)
		return KBS_ERR_RANGE;
	d1 = memchr(in, '.', len);
	if (!d1)
		return rc;
	d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - in));
	if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - in)))
		return rc;
	p->in = in;
	p->pay_off = (size_t)(d1 + 1 - in);
	p->pay_len = (size_t)(d2 - d1 - 1);
	p->tbs_len = (size_t)(d2 - in);
	p->sig_off = p->tbs_len + 1;
	p->sig_len = len - p->sig_off;
	if ((size_t)(d1 - in) > JWS_HEADER_MAX)
		return KBS_ERR_RANGE;
	if (b64_decode_alloc(in, (size_t)(d1 - in), B64_URL, &h, &hlen))
		goto out;
	if ((rc = jose_json_object((const char *)h, hlen, &p->header)))
		goto out;
	rc = KBS_ERR_PARSE;
	p->alg = json_string_value(json_object_get(p->header, "alg"));
	if (!p->alg)
		goto out;
	rc = KBS_ERR_UNSUPPORTED;
	/* no extension is understood (RFC 7515 §4.1.11); unencoded payloads are not supported */
	b64 = json_object_get(p->header, "b64");
	if (json_object_get(p->header, "crit") || (b64 && !json_is_true(b64)))
		goto out;
	rc = KBS_OK;
out:
	free(h);
	if (rc) {
		json_decref(p->header);
		p->header = NULL;
	}
	return rc;
}

/* Checked before any key is tried: independent of the key. */
static int alg_acceptable(const char *alg, const char *const *allowed, const struct sig_alg **a)
{
	*a = NULL;
	if (!allowed || strcmp(alg, "none") == 0)
		return KBS_ERR_UNSUPPORTED;
	*a = sig_find(alg);
	if (!*a || !jose_alg_allowed(allowed, alg))
		return KBS_ERR_UNSUPPORTED;
	return KBS_OK;
}

/* DER INTEGER of an unsigned big-endian value; returns the bytes written. */
static size_t der_uint(uint8_t *out, const uint8_t *v, size_t len)
{
	size_t pad;

	while (len > 1 && v[0] == 0) {
		v++;
		len--;
	}
	pad = (v[0] & 0x80) ? 1 : 0;
	out[0] = 0x02;
	out[1] = (uint8_t)(len + pad);
	out[2] = 0;
	memcpy(out + 2 + pad, v, len);
	return 2 + pad + len;
}

/*
 * Ecdsa-Sig-Value DER from raw R || S (clen <= 66 each) without BIGNUM allocations; out
 * needs 2 * (3 + clen) + 3 bytes.
 */
static size_t rs_to_der(const uint8_t *rs, size_t clen, uint8_t *out)
{
	uint8_t body[2 * (3 + JOSE_EC_COORD_MAX)];
	size_t n = der_uint(body, rs, clen), h = 0;

	n += der_uint(body + n, rs + clen, clen);
	out[h++] = 0x30;
	if (n > 127)
		out[h++] = 0x81;
	out[h++] = (uint8_t)n;
	memcpy(out + h, body, n);
	return h + n;
}

static int verify_sig(const struct jws_parts *p, const struct sig_alg *a, const struct jwk *key)
{
	uint8_t sig[JWS_SIG_MAX], der[JWS_SIG_MAX + 16];
	const uint8_t *vs = sig;
	size_t sig_len, vs_len;
	EVP_MD_CTX *m = NULL;
	int rc = KBS_ERR_VERIFY;

	if (!key_fits(key, a))
		return KBS_ERR_VERIFY;
	if (p->sig_len > b64_encoded_len(JWS_SIG_MAX, B64_URL) ||
	    b64_decode(p->in + p->sig_off, p->sig_len, sig, sizeof(sig), &sig_len, B64_URL))
		return KBS_ERR_VERIFY;
	vs_len = sig_len;
	if (a->kty == SK_EC) {
		/* JOSE ECDSA: exactly R || S, each the curve's length (RFC 7518 §3.4) */
		if (sig_len != 2 * a->clen)
			return KBS_ERR_VERIFY;
		vs_len = rs_to_der(sig, a->clen, der);
		vs = der;
	} else if (a->kty == SK_RSA) {
		if (sig_len != (size_t)EVP_PKEY_get_size(jwk_pkey(key)))
			return KBS_ERR_VERIFY;
	} else if (sig_len != 64) {
		return KBS_ERR_VERIFY;
	}
	rc = KBS_ERR_NOMEM;
	m = EVP_MD_CTX_new();
	if (!m)
		goto out;
	if ((rc = md_init(m, a, jwk_pkey(key), false)))
		goto out;
	rc = EVP_DigestVerify(m, vs, vs_len, (const uint8_t *)p->in, p->tbs_len) == 1
		     ? KBS_OK
		     : KBS_ERR_VERIFY;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(m);
	return rc;
}

static int decode_payload(const struct jws_parts *p, uint8_t **payload, size_t *payload_len)
{
	if (b64_decode_alloc(p->in + p->pay_off, p->pay_len, B64_URL, payload, payload_len))
		return KBS_ERR_PARSE;
	return KBS_OK;
}

int jws_verify(const char *compact, size_t len, const struct jwk *key,
	       const char *const *allowed_algs, json_t **header, uint8_t **payload,
	       size_t *payload_len)
{
	struct jws_parts p;
	const struct sig_alg *a;
	uint8_t *pl = NULL;
	size_t pl_len = 0;
	int rc;

	if (!key)
		return KBS_ERR_INVAL;
	if ((rc = jws_parse(compact, len, &p)))
		return rc;
	if ((rc = alg_acceptable(p.alg, allowed_algs, &a)) || (rc = verify_sig(&p, a, key)))
		goto out;
	if (payload || payload_len) {
		if ((rc = decode_payload(&p, &pl, &pl_len)))
			goto out;
		if (payload_len)
			*payload_len = pl_len;
		if (payload) {
			*payload = pl;
			pl = NULL;
		}
	}
	if (header) {
		*header = p.header;
		p.header = NULL;
	}
out:
	free(pl);
	json_decref(p.header);
	return rc;
}

int jws_peek_header(const char *compact, size_t len, json_t **header)
{
	struct jws_parts p;
	int rc;

	if (!header)
		return KBS_ERR_INVAL;
	if ((rc = jws_parse(compact, len, &p)))
		return rc;
	*header = p.header;
	return KBS_OK;
}

/* ---- JWT ------------------------------------------------------------------------------- */

static bool same_thumbprint(const struct jwk *a, const uint8_t tp[32])
{
	uint8_t t[32];

	return jwk_thumbprint(a, t, NULL, 0) == KBS_OK && CRYPTO_memcmp(t, tp, 32) == 0;
}

/* Verifies the signature against the header jwk (only if trusted) or the caller's keys. */
static int jwt_check_sig(const struct jws_parts *p, const struct sig_alg *a,
			 const struct jwt_verify_opts *o)
{
	const json_t *hjwk = json_object_get(p->header, "jwk");
	const char *kid = json_string_value(json_object_get(p->header, "kid"));
	struct jwk *hk = NULL;
	uint8_t tp[32];
	int rc = KBS_ERR_VERIFY;

	if (hjwk) {
		if (jwk_from_json(hjwk, &hk) || jwk_is_private(hk))
			goto out;
		if (o->insecure_header_jwk) {
			rc = verify_sig(p, a, hk);
			goto out;
		}
		/* the header only names the key; the material used is the caller's */
		if (jwk_thumbprint(hk, tp, NULL, 0))
			goto out;
		for (size_t i = 0; i < o->nkeys; i++)
			if (o->keys[i] && same_thumbprint(o->keys[i], tp)) {
				rc = verify_sig(p, a, o->keys[i]);
				goto out;
			}
		goto out;
	}
	/* kid matches first, then every other key */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < o->nkeys; i++) {
			const char *kk = jwk_kid(o->keys[i]);
			bool match = kid && kk && strcmp(kid, kk) == 0;

			if (!o->keys[i] || match != (pass == 0))
				continue;
			if (verify_sig(p, a, o->keys[i]) == KBS_OK) {
				rc = KBS_OK;
				goto out;
			}
		}
	}
out:
	jwk_free(hk);
	return rc;
}

/* Reads a NumericDate claim; absent = false, present but not a number = error. */
static int numeric_date(const json_t *claims, const char *name, bool *present, double *v)
{
	const json_t *j = json_object_get(claims, name);

	*present = j != NULL;
	if (!j)
		return KBS_OK;
	if (!json_is_number(j))
		return KBS_ERR_VERIFY;
	*v = json_number_value(j);
	return KBS_OK;
}

static int jwt_check_times(const json_t *claims, const struct jwt_verify_opts *o)
{
	double now = (double)(o->now ? o->now : time(NULL)), lw = (double)o->leeway_s, v = 0;
	bool present;
	int rc;

	if (o->leeway_s < 0)
		return KBS_ERR_INVAL;
	if ((rc = numeric_date(claims, "exp", &present, &v)))
		return rc;
	if (!present && o->require_exp)
		return KBS_ERR_VERIFY;
	if (present && now >= v + lw)
		return KBS_ERR_EXPIRED;
	if ((rc = numeric_date(claims, "nbf", &present, &v)))
		return rc;
	if (present && now + lw < v)
		return KBS_ERR_EXPIRED;
	if ((rc = numeric_date(claims, "iat", &present, &v)))
		return rc;
	if (present && v > now + lw)
		return KBS_ERR_EXPIRED;
	return KBS_OK;
}

int jwt_verify(const char *compact, size_t len, const struct jwt_verify_opts *opts,
	       json_t **claims, json_t **header)
{
	struct jws_parts p;
	const struct sig_alg *a;
	uint8_t *pl = NULL;
	size_t pl_len;
	json_t *c = NULL;
	int rc;

	if (!opts || !opts->allowed_algs || (opts->nkeys && !opts->keys))
		return KBS_ERR_INVAL;
	if ((rc = jws_parse(compact, len, &p)))
		return rc;
	if ((rc = alg_acceptable(p.alg, opts->allowed_algs, &a)) ||
	    (rc = jwt_check_sig(&p, a, opts)))
		goto out;
	if ((rc = decode_payload(&p, &pl, &pl_len)) ||
	    (rc = jose_json_object((const char *)pl, pl_len, &c)))
		goto out;
	if ((rc = jwt_check_times(c, opts)))
		goto out;
	if (claims) {
		*claims = c;
		c = NULL;
	}
	if (header) {
		*header = p.header;
		p.header = NULL;
	}
out:
	free(pl);
	json_decref(c);
	json_decref(p.header);
	return rc;
}
