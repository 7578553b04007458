// SPDX-License-Identifier: Apache-2.0
#include "server/as/x509util.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"

#define PEM_CERT_BEGIN "-----BEGIN CERTIFICATE-----"

X509 *x509u_from_der(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x;

	if (!der || len == 0 || len > 64 * 1024)
		return NULL;
	x = d2i_X509(NULL, &p, (long)len);
	if (x && p != der + len) {
		/* trailing bytes: not exactly one certificate */
		X509_free(x);
		return NULL;
	}
	return x;
}

X509 *x509u_from_pem_or_der(const uint8_t *p, size_t len)
{
	size_t bl = strlen(PEM_CERT_BEGIN);
	BIO *bio;
	X509 *x;

	if (len >= bl && memcmp(p, PEM_CERT_BEGIN, bl) == 0) {
		if (len > 64 * 1024)
			return NULL;
		bio = BIO_new_mem_buf(p, (int)len);
		if (!bio)
			return NULL;
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
		return x;
	}
	return x509u_from_der(p, len);
}

int x509u_pem_chain(const char *pem, size_t len, X509 **out, size_t max, size_t *n)
{
	const char *p = pem, *end = pem + len;
	size_t bl = strlen(PEM_CERT_BEGIN);
	int rc = KBS_ERR_PARSE;

	*n = 0;
	for (;;) {
		const char *b = NULL, *e;
		BIO *bio;
		X509 *x;

		for (const char *q = p; q + bl <= end; q++)
			if (memcmp(q, PEM_CERT_BEGIN, bl) == 0) {
				b = q;
				break;
			}
		if (!b)
			break;
		if (*n >= max)
			goto out;
		e = end;
		bio = BIO_new_mem_buf(b, (int)(e - b));
		if (!bio) {
			rc = KBS_ERR_NOMEM;
			goto out;
		}
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
		if (!x)
			goto out;
		out[(*n)++] = x;
		p = b + bl;
	}
	rc = *n > 0 ? KBS_OK : KBS_ERR_PARSE;
out:
	if (rc != KBS_OK) {
		for (size_t i = 0; i < *n; i++)
			X509_free(out[i]);
		*n = 0;
	}
	return rc;
}

int x509u_signed_by_key(X509 *cert, EVP_PKEY *key)
{
	int r;

	if (!cert || !key)
		return KBS_ERR_INVAL;
	r = X509_verify(cert, key);
	ERR_clear_error();
	return r == 1 ? KBS_OK : KBS_ERR_VERIFY;
}

int x509u_signed_by(X509 *cert, X509 *issuer)
{
	EVP_PKEY *k;

	if (!cert || !issuer)
		return KBS_ERR_INVAL;
	k = X509_get0_pubkey(issuer);
	if (!k)
		return KBS_ERR_VERIFY;
	return x509u_signed_by_key(cert, k);
}

int x509u_ext(X509 *cert, const char *oid, const uint8_t **val, size_t *len)
{
	ASN1_OBJECT *want = OBJ_txt2obj(oid, 1);
	int rc = KBS_ERR_NOTFOUND;

	if (!want)
		return KBS_ERR_INVAL;
	for (int i = 0; i < X509_get_ext_count(cert); i++) {
		X509_EXTENSION *e = X509_get_ext(cert, i);
		ASN1_OCTET_STRING *d;

		if (OBJ_cmp(X509_EXTENSION_get_object(e), want) != 0)
			continue;
		d = X509_EXTENSION_get_data(e);
		*val = ASN1_STRING_get0_data(d);
		*len = (size_t)ASN1_STRING_length(d);
		rc = KBS_OK;
		break;
	}
	ASN1_OBJECT_free(want);
	return rc;
}

int x509u_subject_cn(X509 *cert, char *out, size_t outlen)
{
	X509_NAME *nm = X509_get_subject_name(cert);
	int idx = nm ? X509_NAME_get_index_by_NID(nm, NID_commonName, -1) : -1;
	ASN1_STRING *s;
	int l;

	if (idx < 0)
		return KBS_ERR_NOTFOUND;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, idx));
	l = ASN1_STRING_length(s);
	if (l < 0 || (size_t)l >= outlen)
		return KBS_ERR_RANGE;
	memcpy(out, ASN1_STRING_get0_data(s), (size_t)l);
	out[l] = 0;
	if (strlen(out) != (size_t)l)
		return KBS_ERR_PARSE; /* embedded NUL */
	return KBS_OK;
}

int x509u_sha256(X509 *cert, uint8_t out[32])
{
	unsigned int n = 32;

	return X509_digest(cert, EVP_sha256(), out, &n) == 1 ? KBS_OK : KBS_ERR_CRYPTO;
}

int x509u_check_time(X509 *cert, time_t now)
{
	if (X509_cmp_time(X509_get0_notBefore(cert), &now) > 0)
		return KBS_ERR_EXPIRED;
	if (X509_cmp_time(X509_get0_notAfter(cert), &now) < 0)
		return KBS_ERR_EXPIRED;
	return KBS_OK;
}

int x509u_der_next(const uint8_t **p, const uint8_t *end, uint8_t *tag, const uint8_t **val,
		   size_t *len)
{
	const uint8_t *q = *p;
	size_t l;

	if (end - q < 2)
		return KBS_ERR_PARSE;
	*tag = *q++;
	if ((*tag & 0x1f) == 0x1f)
		return KBS_ERR_UNSUPPORTED; /* multi-byte tags do not occur in these structures */
	l = *q++;
	if (l & 0x80) {
		size_t nb = l & 0x7f;

		if (nb == 0 || nb > 4 || (size_t)(end - q) < nb)
			return KBS_ERR_PARSE;
		l = 0;
		for (size_t i = 0; i < nb; i++)
			l = (l << 8) | *q++;
		if (l < 0x80)
			return KBS_ERR_PARSE; /* not minimal: DER forbids */
	}
	if ((size_t)(end - q) < l)
		return KBS_ERR_PARSE;
	*val = q;
	*len = l;
	*p = q + l;
	return KBS_OK;
}

int x509u_int_content(const uint8_t *p, size_t len, uint32_t *out)
{
	uint64_t v = 0;

	if (len == 0 || (p[0] & 0x80))
		return KBS_ERR_RANGE; /* empty or negative */
	if (len > 1 && p[0] == 0 && !(p[1] & 0x80))
		return KBS_ERR_PARSE; /* non-minimal */
	if (len > 5 || (len == 5 && p[0] != 0))
		return KBS_ERR_RANGE;
	for (size_t i = 0; i < len; i++)
		v = (v << 8) | p[i];
	*out = (uint32_t)v;
	return KBS_OK;
}

int x509u_der_uint(const uint8_t *p, size_t len, uint32_t *out)
{
	const uint8_t *q = p, *val;
	uint8_t tag;
	size_t l;
	int rc;

	if ((rc = x509u_der_next(&q, p + len, &tag, &val, &l)) != KBS_OK)
		return rc;
	if (tag != 0x02 || q != p + len)
		return KBS_ERR_PARSE;
	return x509u_int_content(val, l, out);
}

int x509u_oid_text(const uint8_t *p, size_t len, char *out, size_t outlen)
{
	size_t o = 0;
	uint64_t v = 0;
	int first = 1, n;

	if (len == 0 || outlen == 0)
		return KBS_ERR_PARSE;
	for (size_t i = 0; i < len; i++) {
		if (v > (UINT64_MAX >> 8))
			return KBS_ERR_RANGE;
		if (v == 0 && p[i] == 0x80)
			return KBS_ERR_PARSE; /* non-minimal arc */
		v = (v << 7) | (p[i] & 0x7f);
		if (p[i] & 0x80) {
			if (i + 1 == len)
				return KBS_ERR_PARSE;
			continue;
		}
		if (first) {
			unsigned a = v < 40 ? 0 : v < 80 ? 1 : 2;

			n = snprintf(out + o, outlen - o, "%u.%llu", a,
				     (unsigned long long)(v - 40u * a));
			first = 0;
		} else {
			n = snprintf(out + o, outlen - o, ".%llu", (unsigned long long)v);
		}
		if (n < 0 || (size_t)n >= outlen - o)
			return KBS_ERR_RANGE;
		o += (size_t)n;
		v = 0;
	}
	return KBS_OK;
}

int x509u_ecdsa_raw_to_der(const uint8_t *r, const uint8_t *s, size_t n, int little_endian,
			   uint8_t **der, size_t *derlen)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *br, *bs;
	unsigned char *out = NULL;
	int l, rc = KBS_ERR_NOMEM;

	*der = NULL;
	if (!sig)
		return KBS_ERR_NOMEM;
	br = little_endian ? BN_lebin2bn(r, (int)n, NULL) : BN_bin2bn(r, (int)n, NULL);
	bs = little_endian ? BN_lebin2bn(s, (int)n, NULL) : BN_bin2bn(s, (int)n, NULL);
	if (!br || !bs || ECDSA_SIG_set0(sig, br, bs) != 1) {
		BN_free(br);
		BN_free(bs);
		goto out;
	}
	l = i2d_ECDSA_SIG(sig, &out);
	if (l <= 0)
		goto out;
	*der = out;
	*derlen = (size_t)l;
	rc = KBS_OK;
out:
	ECDSA_SIG_free(sig);
	return rc;
}

int x509u_verify_ecdsa(EVP_PKEY *key, const char *md, const uint8_t *data, size_t len,
		       const uint8_t *der, size_t derlen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int r = 0;

	if (!ctx)
		return KBS_ERR_NOMEM;
	if (EVP_DigestVerifyInit_ex(ctx, NULL, md, NULL, NULL, key, NULL) == 1)
		r = EVP_DigestVerify(ctx, der, derlen, data, len);
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return r == 1 ? KBS_OK : KBS_ERR_VERIFY;
}

EVP_PKEY *x509u_p256_from_xy(const uint8_t xy[64])
{
	uint8_t pt[65];
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *k = NULL;

	pt[0] = 0x04;
	memcpy(pt + 1, xy, 64);
	if (!b ||
	    OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt)) != 1)
		goto out;
	params = OSSL_PARAM_BLD_to_param(b);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		EVP_PKEY_free(k);
		k = NULL;
		goto out;
	}
	/* fromdata does not check that the point is on the curve */
	{
		EVP_PKEY_CTX *c2 = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);

		if (!c2 || EVP_PKEY_public_check(c2) != 1) {
			EVP_PKEY_free(k);
			k = NULL;
		}
		EVP_PKEY_CTX_free(c2);
	}
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	return k;
}
