// SPDX-License-Identifier: Apache-2.0
/*
 * JSON Web Keys on OpenSSL 3 EVP_PKEY. Keys are validated on import (EC points on the curve,
 * private halves matching public halves, RSA >= 2048 bits) so that the signing and encryption
 * code can trust a struct jwk without re-checking it on every call.
 */
#include "common/jose/jwk.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/jose/jose_internal.h"
#include "common/secmem.h"

#define JWK_JSON_MAX (64u * 1024u)
#define JWK_RSA_MIN_BITS 2048
#define JWK_RSA_MAX_BITS 16384
#define JWK_ALG_MAX 64
#define JWK_KID_MAX 512

enum jwk_type { JT_RSA = 1, JT_EC, JT_OKP };

struct jwk {
	atomic_int refs;
	enum jwk_type type;
	bool priv;
	EVP_PKEY *pkey;
	const char *crv;  /* static string: "P-256", ..., "Ed25519"; NULL for RSA */
	size_t clen;      /* EC/OKP coordinate length */
	uint8_t x[JOSE_EC_COORD_MAX];
	uint8_t y[JOSE_EC_COORD_MAX];
	char *alg;
	char *kid;
};

static const struct {
	const char *crv;
	const char *group;
	size_t size;
} curves[] = {
	{"P-256", "prime256v1", 32},
	{"P-384", "secp384r1", 48},
	{"P-521", "secp521r1", 66},
};

size_t jose_curve_size(const char *crv)
{
	for (size_t i = 0; crv && i < sizeof(curves) / sizeof(curves[0]); i++)
		if (strcmp(crv, curves[i].crv) == 0)
			return curves[i].size;
	return 0;
}

const char *jose_curve_group(const char *crv)
{
	for (size_t i = 0; crv && i < sizeof(curves) / sizeof(curves[0]); i++)
		if (strcmp(crv, curves[i].crv) == 0)
			return curves[i].group;
	return NULL;
}

static const char *crv_from_group(const char *group)
{
	static const char *const alias[][2] = {
		{"secp256r1", "P-256"}, {"P-256", "P-256"}, {"P-384", "P-384"}, {"P-521", "P-521"}};

	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		if (strcmp(group, curves[i].group) == 0)
			return curves[i].crv;
	for (size_t i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
		if (strcmp(group, alias[i][0]) == 0)
			return alias[i][1];
	return NULL;
}

int jose_buf_append_b64u(struct buf *b, const uint8_t *in, size_t len)
{
	size_t n = b64_encoded_len(len, B64_URL);
	int rc = buf_reserve(b, n);

	if (rc)
		return rc;
	rc = b64_encode(in, len, (char *)b->p + b->len, b->cap - b->len, B64_URL);
	if (rc)
		return rc;
	b->len += n;
	return KBS_OK;
}

int jose_json_object(const char *text, size_t len, json_t **out)
{
	json_error_t jerr;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);

	if (!j)
		return KBS_ERR_PARSE;
	if (!json_is_object(j)) {
		json_decref(j);
		return KBS_ERR_PARSE;
	}
	*out = j;
	return KBS_OK;
}

bool jose_alg_allowed(const char *const *allowed, const char *alg)
{
	if (!allowed)
		return true;
	for (; *allowed; allowed++)
		if (strcmp(*allowed, alg) == 0)
			return true;
	return false;
}

/* ---- construction ---------------------------------------------------------------------- */

static int bn_param_bytes(EVP_PKEY *pkey, const char *name, uint8_t *out, size_t len)
{
	BIGNUM *bn = NULL;
	int rc = KBS_ERR_CRYPTO;

	if (!EVP_PKEY_get_bn_param(pkey, name, &bn))
		goto out;
	if (BN_bn2binpad(bn, out, (int)len) != (int)len)
		goto out;
	rc = KBS_OK;
out:
	BN_clear_free(bn);
	return rc;
}

static bool pkey_has_bn(EVP_PKEY *pkey, const char *name)
{
	BIGNUM *bn = NULL;
	bool ok = EVP_PKEY_get_bn_param(pkey, name, &bn) == 1;

	BN_clear_free(bn);
	ERR_clear_error();
	return ok;
}

/* Fills type, crv, coordinates and priv from pkey. Takes over the caller's reference. */
static int jwk_wrap(EVP_PKEY *pkey, bool check_pair, struct jwk **out)
{
	struct jwk *k = calloc(1, sizeof(*k));
	int rc = KBS_ERR_NOMEM;

	if (!k) {
		EVP_PKEY_free(pkey);
		return rc;
	}
	atomic_init(&k->refs, 1);
	k->pkey = pkey;
	rc = KBS_ERR_UNSUPPORTED;
	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA: {
		int bits = EVP_PKEY_get_bits(pkey);

		k->type = JT_RSA;
		if (bits < JWK_RSA_MIN_BITS || bits > JWK_RSA_MAX_BITS)
			goto out;
		k->priv = pkey_has_bn(pkey, OSSL_PKEY_PARAM_RSA_D);
		break;
	}
	case EVP_PKEY_EC: {
		char group[64];
		size_t glen;

		k->type = JT_EC;
		if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
						    sizeof(group), &glen))
			goto out;
		k->crv = crv_from_group(group);
		if (!k->crv)
			goto out;
		k->clen = jose_curve_size(k->crv);
		rc = bn_param_bytes(pkey, OSSL_PKEY_PARAM_EC_PUB_X, k->x, k->clen);
		if (rc)
			goto out;
		rc = bn_param_bytes(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, k->y, k->clen);
		if (rc)
			goto out;
		rc = KBS_ERR_UNSUPPORTED;
		k->priv = pkey_has_bn(pkey, OSSL_PKEY_PARAM_PRIV_KEY);
		break;
	}
	case EVP_PKEY_ED25519: {
		size_t n = sizeof(k->x);

		k->type = JT_OKP;
		k->crv = "Ed25519";
		k->clen = 32;
		if (!EVP_PKEY_get_raw_public_key(pkey, k->x, &n) || n != 32) {
			rc = KBS_ERR_CRYPTO;
			goto out;
		}
		n = 0;
		k->priv = EVP_PKEY_get_raw_private_key(pkey, NULL, &n) == 1 && n == 32;
		ERR_clear_error();
		break;
	}
	default:
		goto out;
	}
	if (check_pair && k->priv && k->type != JT_OKP) {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
		int ok = c && EVP_PKEY_pairwise_check(c) == 1;

		EVP_PKEY_CTX_free(c);
		if (!ok) {
			rc = KBS_ERR_INVAL;
			goto out;
		}
	}
	*out = k;
	k = NULL;
	rc = KBS_OK;
out:
	ERR_clear_error();
	jwk_free(k);
	return rc;
}

int jwk_from_pkey(EVP_PKEY *pkey, struct jwk **out)
{
	if (!pkey || !out)
		return KBS_ERR_INVAL;
	if (!EVP_PKEY_up_ref(pkey))
		return KBS_ERR_CRYPTO;
	return jwk_wrap(pkey, false, out);
}

int jwk_generate(enum jwk_kind kind, struct jwk **out)
{
	EVP_PKEY *pkey = NULL;

	if (!out)
		return KBS_ERR_INVAL;
	switch (kind) {
	case JWK_RSA_2048:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case JWK_RSA_3072:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
		break;
	case JWK_RSA_4096:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
		break;
	case JWK_EC_P256:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case JWK_EC_P384:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		break;
	case JWK_EC_P521:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
		break;
	case JWK_OKP_ED25519:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	default:
		return KBS_ERR_INVAL;
	}
	if (!pkey) {
		ERR_clear_error();
		return KBS_ERR_CRYPTO;
	}
	return jwk_wrap(pkey, false, out);
}

/* ---- JSON import ----------------------------------------------------------------------- */

/* Decodes a base64url string member into secret memory; required unless optional. */
static int member_secret(const json_t *obj, const char *name, bool optional, struct secbuf *s)
{
	const json_t *v = json_object_get(obj, name);
	const char *str;
	size_t len, n;
	int rc;

	s->p = NULL;
	s->len = 0;
	if (!v)
		return optional ? KBS_OK : KBS_ERR_INVAL;
	if (!json_is_string(v))
		return KBS_ERR_INVAL;
	str = json_string_value(v);
	len = json_string_length(v);
	if (len == 0 || len > 8192)
		return KBS_ERR_INVAL;
	rc = secbuf_alloc(s, b64_decoded_max(len));
	if (rc)
		return rc;
	rc = b64_decode(str, len, s->p, s->len + 1, &n, B64_URL);
	if (rc) {
		secbuf_free(s);
		return KBS_ERR_PARSE;
	}
	s->len = n;
	return KBS_OK;
}

static BIGNUM *secbuf_bn(const struct secbuf *s, bool secret)
{
	BIGNUM *bn = secret ? BN_secure_new() : BN_new();

	if (bn && !BN_bin2bn(s->p, (int)s->len, bn)) {
		BN_clear_free(bn);
		bn = NULL;
	}
	return bn;
}

static int fromdata(const char *type, OSSL_PARAM_BLD *bld, bool priv, EVP_PKEY **out)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	int rc = KBS_ERR_INVAL;

	*out = NULL;
	if (!params || !ctx) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, out, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	rc = KBS_OK;
out:
	ERR_clear_error();
	OSSL_PARAM_free(params);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

static int ec_from_parts(const char *crv, const uint8_t *x, const uint8_t *y, size_t clen,
			 const struct secbuf *d, EVP_PKEY **out)
{
	const char *group = jose_curve_group(crv);
	uint8_t pt[1 + 2 * JOSE_EC_COORD_MAX];
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *dbn = NULL;
	int rc = KBS_ERR_UNSUPPORTED;

	*out = NULL;
	if (!group)
		goto out;
	rc = KBS_ERR_INVAL;
	if (clen != jose_curve_size(crv) || (d && d->len != clen))
		goto out;
	pt[0] = 0x04;
	memcpy(pt + 1, x, clen);
	memcpy(pt + 1 + clen, y, clen);
	rc = KBS_ERR_NOMEM;
	bld = OSSL_PARAM_BLD_new();
	if (!bld)
		goto out;
	if (d && !(dbn = secbuf_bn(d, true)))
		goto out;
	if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * clen) ||
	    (dbn && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, dbn)))
		goto out;
	/* EC point decoding rejects points that are not on the curve */
	rc = fromdata("EC", bld, d != NULL, out);
out:
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(dbn);
	return rc;
}

int jose_ec_pub_from_coords(const char *crv, const uint8_t *x, const uint8_t *y, size_t clen,
			    EVP_PKEY **out)
{
	return ec_from_parts(crv, x, y, clen, NULL, out);
}

static int import_ec(const json_t *obj, EVP_PKEY **out)
{
	const char *crv = json_string_value(json_object_get(obj, "crv"));
	struct secbuf x = {0}, y = {0}, d = {0};
	size_t clen = jose_curve_size(crv);
	int rc = KBS_ERR_UNSUPPORTED;

	if (!crv) {
		rc = KBS_ERR_INVAL;
		goto out;
	}
	if (!clen)
		goto out;
	if ((rc = member_secret(obj, "x", false, &x)) || (rc = member_secret(obj, "y", false, &y)) ||
	    (rc = member_secret(obj, "d", true, &d)))
		goto out;
	/* RFC 7518 §6.2.1.2/§6.2.2.1: coordinates and d are full length */
	rc = KBS_ERR_INVAL;
	if (x.len != clen || y.len != clen || (d.p && d.len != clen))
		goto out;
	rc = ec_from_parts(crv, x.p, y.p, clen, d.p ? &d : NULL, out);
out:
	secbuf_free(&x);
	secbuf_free(&y);
	secbuf_free(&d);
	return rc;
}

static int import_okp(const json_t *obj, EVP_PKEY **out)
{
	const char *crv = json_string_value(json_object_get(obj, "crv"));
	struct secbuf x = {0}, d = {0};
	uint8_t pub[32];
	size_t n = sizeof(pub);
	int rc = KBS_ERR_UNSUPPORTED;

	*out = NULL;
	if (!crv || strcmp(crv, "Ed25519") != 0)
		goto out;
	if ((rc = member_secret(obj, "x", false, &x)) || (rc = member_secret(obj, "d", true, &d)))
		goto out;
	rc = KBS_ERR_INVAL;
	if (x.len != 32 || (d.p && d.len != 32))
		goto out;
	if (d.p)
		*out = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, d.p, d.len);
	else
		*out = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x.p, x.len);
	if (!*out)
		goto out;
	if (d.p && (!EVP_PKEY_get_raw_public_key(*out, pub, &n) || n != 32 ||
		    memcmp(pub, x.p, 32) != 0)) {
		EVP_PKEY_free(*out);
		*out = NULL;
		goto out;
	}
	rc = KBS_OK;
out:
	ERR_clear_error();
	secbuf_free(&x);
	secbuf_free(&d);
	return rc;
}

static int import_rsa(const json_t *obj, EVP_PKEY **out)
{
	static const char *const crt_json[] = {"p", "q", "dp", "dq", "qi"};
	static const char *const crt_ossl[] = {
		OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
		OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
		OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
	struct secbuf n = {0}, e = {0}, d = {0}, crt[5] = {{0}};
	BIGNUM *bn[8] = {NULL};
	OSSL_PARAM_BLD *bld = NULL;
	size_t ncrt = 0;
	int rc;

	*out = NULL;
	if ((rc = member_secret(obj, "n", false, &n)) || (rc = member_secret(obj, "e", false, &e)) ||
	    (rc = member_secret(obj, "d", true, &d)))
		goto out;
	for (size_t i = 0; i < 5; i++) {
		if ((rc = member_secret(obj, crt_json[i], true, &crt[i])))
			goto out;
		ncrt += crt[i].p != NULL;
	}
	rc = KBS_ERR_INVAL;
	/* CRT parameters: all or none, and only with d (RFC 7518 §6.3.2) */
	if ((ncrt != 0 && ncrt != 5) || (ncrt && !d.p) || json_object_get(obj, "oth"))
		goto out;
	if (n.len * 8 > JWK_RSA_MAX_BITS + 8 || e.len > 8)
		goto out;
	rc = KBS_ERR_NOMEM;
	if (!(bld = OSSL_PARAM_BLD_new()) || !(bn[0] = secbuf_bn(&n, false)) ||
	    !(bn[1] = secbuf_bn(&e, false)))
		goto out;
	if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn[0]) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn[1]))
		goto out;
	if (d.p) {
		if (!(bn[2] = secbuf_bn(&d, true)) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, bn[2]))
			goto out;
		for (size_t i = 0; i < ncrt; i++)
			if (!(bn[3 + i] = secbuf_bn(&crt[i], true)) ||
			    !OSSL_PARAM_BLD_push_BN(bld, crt_ossl[i], bn[3 + i]))
				goto out;
	}
	rc = fromdata("RSA", bld, d.p != NULL, out);
out:
	for (size_t i = 0; i < 8; i++)
		BN_clear_free(bn[i]);
	OSSL_PARAM_BLD_free(bld);
	secbuf_free(&n);
	secbuf_free(&e);
	secbuf_free(&d);
	for (size_t i = 0; i < 5; i++)
		secbuf_free(&crt[i]);
	return rc;
}

static int opt_string(const json_t *obj, const char *name, size_t max, char **out)
{
	const json_t *v = json_object_get(obj, name);

	*out = NULL;
	if (!v)
		return KBS_OK;
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max)
		return KBS_ERR_INVAL;
	*out = strdup(json_string_value(v));
	return *out ? KBS_OK : KBS_ERR_NOMEM;
}

int jwk_from_json(const json_t *obj, struct jwk **out)
{
	const char *kty;
	EVP_PKEY *pkey = NULL;
	char *alg = NULL, *kid = NULL;
	int rc = KBS_ERR_INVAL;

	if (!obj || !out)
		return KBS_ERR_INVAL;
	*out = NULL;
	if (!json_is_object(obj))
		return KBS_ERR_INVAL;
	kty = json_string_value(json_object_get(obj, "kty"));
	if (!kty)
		return KBS_ERR_INVAL;
	if ((rc = opt_string(obj, "alg", JWK_ALG_MAX, &alg)) ||
	    (rc = opt_string(obj, "kid", JWK_KID_MAX, &kid)))
		goto out;
	if (strcmp(kty, "EC") == 0)
		rc = import_ec(obj, &pkey);
	else if (strcmp(kty, "RSA") == 0)
		rc = import_rsa(obj, &pkey);
	else if (strcmp(kty, "OKP") == 0)
		rc = import_okp(obj, &pkey);
	else
		rc = KBS_ERR_UNSUPPORTED; /* "oct" (HMAC) keys are never accepted */
	if (rc)
		goto out;
	rc = jwk_wrap(pkey, true, out);
	pkey = NULL;
	if (rc)
		goto out;
	(*out)->alg = alg;
	(*out)->kid = kid;
	alg = kid = NULL;
out:
	free(alg);
	free(kid);
	return rc;
}

/*
 * The parsed tree is ours: wipe the private members' string storage before jansson frees it,
 * so the key material does not linger in the ordinary heap.
 */
static void wipe_private_members(json_t *obj)
{
	static const char *const names[] = {"d", "p", "q", "dp", "dq", "qi", "k"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		json_t *v = json_object_get(obj, names[i]);

		if (json_is_string(v))
			OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
	}
}

int jwk_from_json_text(const char *text, size_t len, struct jwk **out)
{
	json_t *j = NULL;
	int rc;

	if (!text || !out)
		return KBS_ERR_INVAL;
	if (len > JWK_JSON_MAX)
		return KBS_ERR_RANGE;
	rc = jose_json_object(text, len, &j);
	if (rc == KBS_OK) {
		rc = jwk_from_json(j, out);
		wipe_private_members(j);
	}
	json_decref(j);
	return rc;
}

/* ---- PEM ------------------------------------------------------------------------------- */

static int no_passphrase(char *pass, size_t pass_size, size_t *pass_len,
			 const OSSL_PARAM params[], void *arg)
{
	return 0;
}

int jwk_from_pem(const char *pem, size_t len, struct jwk **out)
{
	OSSL_DECODER_CTX *dctx = NULL;
	EVP_PKEY *pkey = NULL;
	const unsigned char *p = (const unsigned char *)pem;
	size_t left = len;
	int rc = KBS_ERR_NOMEM;

	if (!pem || !out)
		return KBS_ERR_INVAL;
	*out = NULL;
	if (len > JWK_JSON_MAX)
		return KBS_ERR_RANGE;
	dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, NULL, 0, NULL, NULL);
	if (!dctx)
		goto out;
	/* encrypted keys are not supported; never prompt on a terminal */
	OSSL_DECODER_CTX_set_passphrase_cb(dctx, no_passphrase, NULL);
	rc = KBS_ERR_PARSE;
	if (!OSSL_DECODER_from_data(dctx, &p, &left) || !pkey)
		goto out;
	rc = jwk_wrap(pkey, true, out);
	pkey = NULL;
out:
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	OSSL_DECODER_CTX_free(dctx);
	return rc;
}

int jwk_from_pem_file(const char *path, struct jwk **out)
{
	struct secbuf s = {0};
	FILE *f = NULL;
	size_t n;
	int rc = KBS_ERR_IO;

	if (!path || !out)
		return KBS_ERR_INVAL;
	f = fopen(path, "rbe");
	if (!f)
		return rc;
	rc = secbuf_alloc(&s, JWK_JSON_MAX + 1);
	if (rc)
		goto out;
	n = fread(s.p, 1, JWK_JSON_MAX + 1, f);
	if (ferror(f)) {
		rc = KBS_ERR_IO;
		goto out;
	}
	rc = n > JWK_JSON_MAX ? KBS_ERR_RANGE : jwk_from_pem((const char *)s.p, n, out);
out:
	if (f)
		fclose(f);
	secbuf_free(&s);
	return rc;
}

/* ---- export ---------------------------------------------------------------------------- */

static int set_b64u(json_t *o, const char *name, const uint8_t *in, size_t len)
{
	struct buf b = BUF_INIT;
	int rc = jose_buf_append_b64u(&b, in, len);

	if (rc == KBS_OK)
		rc = json_object_set_new(o, name, json_stringn((const char *)b.p, b.len)) ? KBS_ERR_NOMEM
											   : KBS_OK;
	OPENSSL_cleanse(b.p, b.cap);
	buf_release(&b);
	return rc;
}

/* Base64urlUInt (RFC 7518 §2): minimal big-endian, zero as one 0x00 byte. */
static int set_bn_param(json_t *o, const char *name, EVP_PKEY *pkey, const char *param,
			bool fixed, size_t fixed_len)
{
	BIGNUM *bn = NULL;
	struct secbuf s = {0};
	int rc = KBS_ERR_CRYPTO;
	size_t n;

	if (!EVP_PKEY_get_bn_param(pkey, param, &bn))
		goto out;
	n = fixed ? fixed_len : (size_t)BN_num_bytes(bn);
	if (n == 0)
		n = 1;
	rc = secbuf_alloc(&s, n);
	if (rc)
		goto out;
	rc = KBS_ERR_CRYPTO;
	if (BN_bn2binpad(bn, s.p, (int)n) != (int)n)
		goto out;
	rc = set_b64u(o, name, s.p, n);
out:
	ERR_clear_error();
	BN_clear_free(bn);
	secbuf_free(&s);
	return rc;
}

static int set_str(json_t *o, const char *name, const char *v)
{
	return json_object_set_new(o, name, json_string(v)) ? KBS_ERR_NOMEM : KBS_OK;
}

int jwk_to_json(const struct jwk *k, bool include_private, json_t **out)
{
	json_t *o;
	int rc = KBS_ERR_NOMEM;

	if (!k || !out)
		return KBS_ERR_INVAL;
	if (include_private && !k->priv)
		return KBS_ERR_INVAL;
	o = json_object();
	if (!o)
		return rc;
	if (k->alg && (rc = set_str(o, "alg", k->alg)))
		goto out;
	switch (k->type) {
	case JT_RSA:
		if (include_private && (rc = set_bn_param(o, "d", k->pkey, OSSL_PKEY_PARAM_RSA_D,
							  false, 0)))
			goto out;
		if (include_private) {
			/* multi-prime or CRT-less keys export without the optional members */
			if (pkey_has_bn(k->pkey, OSSL_PKEY_PARAM_RSA_FACTOR1) &&
			    ((rc = set_bn_param(o, "dp", k->pkey, OSSL_PKEY_PARAM_RSA_EXPONENT1,
						false, 0)) ||
			     (rc = set_bn_param(o, "dq", k->pkey, OSSL_PKEY_PARAM_RSA_EXPONENT2,
						false, 0))))
				goto out;
		}
		if ((rc = set_bn_param(o, "e", k->pkey, OSSL_PKEY_PARAM_RSA_E, false, 0)) ||
		    (rc = set_str(o, "kty", "RSA")) ||
		    (rc = set_bn_param(o, "n", k->pkey, OSSL_PKEY_PARAM_RSA_N, false, 0)))
			goto out;
		if (include_private && pkey_has_bn(k->pkey, OSSL_PKEY_PARAM_RSA_FACTOR1) &&
		    ((rc = set_bn_param(o, "p", k->pkey, OSSL_PKEY_PARAM_RSA_FACTOR1, false, 0)) ||
		     (rc = set_bn_param(o, "q", k->pkey, OSSL_PKEY_PARAM_RSA_FACTOR2, false, 0)) ||
		     (rc = set_bn_param(o, "qi", k->pkey, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, false,
					0))))
			goto out;
		break;
	case JT_EC:
		if ((rc = set_str(o, "crv", k->crv)))
			goto out;
		if (include_private && (rc = set_bn_param(o, "d", k->pkey, OSSL_PKEY_PARAM_PRIV_KEY,
							  true, k->clen)))
			goto out;
		if ((rc = set_str(o, "kty", "EC")) || (rc = set_b64u(o, "x", k->x, k->clen)) ||
		    (rc = set_b64u(o, "y", k->y, k->clen)))
			goto out;
		break;
	case JT_OKP:
		if ((rc = set_str(o, "crv", k->crv)))
			goto out;
		if (include_private) {
			struct secbuf d = {0};
			size_t n = 32;

			if ((rc = secbuf_alloc(&d, 32)))
				goto out;
			if (!EVP_PKEY_get_raw_private_key(k->pkey, d.p, &n) || n != 32)
				rc = KBS_ERR_CRYPTO;
			else
				rc = set_b64u(o, "d", d.p, 32);
			secbuf_free(&d);
			if (rc)
				goto out;
		}
		if ((rc = set_str(o, "kty", "OKP")) || (rc = set_b64u(o, "x", k->x, 32)))
			goto out;
		break;
	}
	*out = o;
	o = NULL;
	rc = KBS_OK;
out:
	json_decref(o);
	return rc;
}

int jwk_to_pem(const struct jwk *k, bool include_private, char **out)
{
	BIO *bio = NULL;
	char *data, *s = NULL;
	long n;
	int rc = KBS_ERR_INVAL;

	if (!k || !out || (include_private && !k->priv))
		return rc;
	rc = KBS_ERR_NOMEM;
	bio = BIO_new(BIO_s_secmem());
	if (!bio)
		goto out;
	rc = KBS_ERR_CRYPTO;
	if (include_private ? !PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL)
			    : !PEM_write_bio_PUBKEY(bio, k->pkey))
		goto out;
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0)
		goto out;
	rc = KBS_ERR_NOMEM;
	s = malloc((size_t)n + 1);
	if (!s)
		goto out;
	memcpy(s, data, (size_t)n);
	s[n] = 0;
	*out = s;
	rc = KBS_OK;
out:
	ERR_clear_error();
	BIO_free(bio);
	return rc;
}

/* Appends "name":"<b64u>" to b. */
static int tp_member(struct buf *b, const char *name, const uint8_t *v, size_t len, bool comma)
{
	int rc = buf_printf(b, "%s\"%s\":\"", comma ? "," : "", name);

	if (!rc)
		rc = jose_buf_append_b64u(b, v, len);
	if (!rc)
		rc = buf_append_byte(b, '"');
	return rc;
}

static int rsa_bytes(EVP_PKEY *pkey, const char *param, uint8_t **out, size_t *len)
{
	BIGNUM *bn = NULL;
	int rc = KBS_ERR_CRYPTO;

	*out = NULL;
	if (!EVP_PKEY_get_bn_param(pkey, param, &bn))
		goto out;
	*len = (size_t)BN_num_bytes(bn);
	if (*len == 0)
		*len = 1;
	rc = KBS_ERR_NOMEM;
	*out = malloc(*len);
	if (!*out)
		goto out;
	BN_bn2binpad(bn, *out, (int)*len);
	rc = KBS_OK;
out:
	ERR_clear_error();
	BN_free(bn);
	return rc;
}

int jwk_thumbprint(const struct jwk *k, uint8_t raw[32], char *b64, size_t b64len)
{
	struct buf b = BUF_INIT;
	uint8_t md[32], *n = NULL, *e = NULL;
	size_t nlen, elen;
	int rc;

	if (!k)
		return KBS_ERR_INVAL;
	/* RFC 7638 §3.2: required members only, lexicographic order, no whitespace */
	switch (k->type) {
	case JT_RSA:
		if ((rc = rsa_bytes(k->pkey, OSSL_PKEY_PARAM_RSA_E, &e, &elen)) ||
		    (rc = rsa_bytes(k->pkey, OSSL_PKEY_PARAM_RSA_N, &n, &nlen)))
			goto out;
		if ((rc = buf_append_byte(&b, '{')) || (rc = tp_member(&b, "e", e, elen, false)) ||
		    (rc = buf_append_str(&b, ",\"kty\":\"RSA\"")) ||
		    (rc = tp_member(&b, "n", n, nlen, true)) || (rc = buf_append_byte(&b, '}')))
			goto out;
		break;
	case JT_EC:
		if ((rc = buf_printf(&b, "{\"crv\":\"%s\",\"kty\":\"EC\"", k->crv)) ||
		    (rc = tp_member(&b, "x", k->x, k->clen, true)) ||
		    (rc = tp_member(&b, "y", k->y, k->clen, true)) || (rc = buf_append_byte(&b, '}')))
			goto out;
		break;
	case JT_OKP:
		if ((rc = buf_printf(&b, "{\"crv\":\"%s\",\"kty\":\"OKP\"", k->crv)) ||
		    (rc = tp_member(&b, "x", k->x, 32, true)) || (rc = buf_append_byte(&b, '}')))
			goto out;
		break;
	}
	rc = KBS_ERR_CRYPTO;
	if (!EVP_Digest(b.p, b.len, md, NULL, EVP_sha256(), NULL))
		goto out;
	if (raw)
		memcpy(raw, md, 32);
	rc = b64 ? b64_encode(md, 32, b64, b64len, B64_URL) : KBS_OK;
out:
	free(n);
	free(e);
	buf_release(&b);
	return rc;
}

int jwk_tee_pubkey_json(const struct jwk *k, const char *alg, json_t **out)
{
	json_t *o;
	uint8_t *n = NULL, *e = NULL;
	size_t nlen, elen;
	int rc = KBS_ERR_INVAL;

	if (!k || !alg || !out)
		return rc;
	o = json_object();
	if (!o)
		return KBS_ERR_NOMEM;
	/* member order as the guest client serialises its TeeKey (guest-components §8.5) */
	switch (k->type) {
	case JT_EC:
		if (strcmp(alg, "ECDH-ES+A256KW") != 0)
			goto out;
		if ((rc = set_str(o, "kty", "EC")) || (rc = set_str(o, "crv", k->crv)) ||
		    (rc = set_str(o, "alg", alg)) || (rc = set_b64u(o, "x", k->x, k->clen)) ||
		    (rc = set_b64u(o, "y", k->y, k->clen)))
			goto out;
		break;
	case JT_RSA:
		if (strcmp(alg, "RSA-OAEP-256") != 0 && strcmp(alg, "RSA1_5") != 0)
			goto out;
		if ((rc = rsa_bytes(k->pkey, OSSL_PKEY_PARAM_RSA_N, &n, &nlen)) ||
		    (rc = rsa_bytes(k->pkey, OSSL_PKEY_PARAM_RSA_E, &e, &elen)))
			goto out;
		if ((rc = set_str(o, "kty", "RSA")) || (rc = set_str(o, "alg", alg)) ||
		    (rc = set_b64u(o, "n", n, nlen)) || (rc = set_b64u(o, "e", e, elen)))
			goto out;
		break;
	default:
		rc = KBS_ERR_UNSUPPORTED;
		goto out;
	}
	*out = o;
	o = NULL;
	rc = KBS_OK;
out:
	free(n);
	free(e);
	json_decref(o);
	return rc;
}

/* ---- accessors ------------------------------------------------------------------------- */

bool jwk_is_private(const struct jwk *k)
{
	return k && k->priv;
}

const char *jwk_kty(const struct jwk *k)
{
	if (!k)
		return NULL;
	return k->type == JT_RSA ? "RSA" : k->type == JT_EC ? "EC" : "OKP";
}

const char *jwk_crv(const struct jwk *k)
{
	return k ? k->crv : NULL;
}

const char *jwk_alg(const struct jwk *k)
{
	return k ? k->alg : NULL;
}

const char *jwk_kid(const struct jwk *k)
{
	return k ? k->kid : NULL;
}

EVP_PKEY *jwk_pkey(const struct jwk *k)
{
	return k ? k->pkey : NULL;
}

size_t jwk_ec_coords(const struct jwk *k, const uint8_t **x, const uint8_t **y)
{
	if (x)
		*x = k->x;
	if (y)
		*y = k->y;
	return k->clen;
}

static int jwk_clone(const struct jwk *k, EVP_PKEY *pkey, struct jwk **out)
{
	struct jwk *c = calloc(1, sizeof(*c));

	if (!c) {
		EVP_PKEY_free(pkey);
		return KBS_ERR_NOMEM;
	}
	*c = (struct jwk){.type = k->type, .priv = k->priv, .pkey = pkey, .crv = k->crv,
			  .clen = k->clen};
	atomic_init(&c->refs, 1);
	memcpy(c->x, k->x, sizeof(c->x));
	memcpy(c->y, k->y, sizeof(c->y));
	if ((k->alg && !(c->alg = strdup(k->alg))) || (k->kid && !(c->kid = strdup(k->kid)))) {
		jwk_free(c);
		return KBS_ERR_NOMEM;
	}
	*out = c;
	return KBS_OK;
}

int jwk_with_alg(const struct jwk *k, const char *alg, struct jwk **out)
{
	struct jwk *c = NULL;
	char *a = NULL;
	int rc;

	if (!k || !out || (alg && strlen(alg) > JWK_ALG_MAX))
		return KBS_ERR_INVAL;
	if (alg && !(a = strdup(alg)))
		return KBS_ERR_NOMEM;
	if (!EVP_PKEY_up_ref(k->pkey)) {
		free(a);
		return KBS_ERR_CRYPTO;
	}
	rc = jwk_clone(k, k->pkey, &c);
	if (rc) {
		free(a);
		return rc;
	}
	free(c->alg);
	c->alg = a;
	*out = c;
	return KBS_OK;
}

int jwk_public(const struct jwk *k, struct jwk **out)
{
	EVP_PKEY *pub = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	int len, rc;

	if (!k || !out)
		return KBS_ERR_INVAL;
	len = i2d_PUBKEY(k->pkey, &der);
	if (len <= 0)
		return KBS_ERR_CRYPTO;
	p = der;
	pub = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	if (!pub) {
		ERR_clear_error();
		return KBS_ERR_CRYPTO;
	}
	rc = jwk_clone(k, pub, out);
	if (rc == KBS_OK)
		(*out)->priv = false;
	return rc;
}

struct jwk *jwk_ref(struct jwk *k)
{
	if (k)
		atomic_fetch_add(&k->refs, 1);
	return k;
}

void jwk_free(struct jwk *k)
{
	if (!k || atomic_fetch_sub(&k->refs, 1) != 1)
		return;
	EVP_PKEY_free(k->pkey);
	free(k->alg);
	free(k->kid);
	free(k);
}
