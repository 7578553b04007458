// SPDX-License-Identifier: Apache-2.0
#include "server/as/cca_token.h"

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cbor.h"
#include "common/err.h"
#include "server/as/x509util.h"

#define TAG_CCA_TOKEN 399
#define TAG_COSE_SIGN1 18
#define KEY_PLATFORM 44234
#define KEY_REALM 44241

#define FAIL(code, ...)                                                                            \
	do {                                                                                       \
		snprintf(why, whylen, __VA_ARGS__);                                                \
		return code;                                                                       \
	} while (0)

/* Parses a COSE_Sign1 (tagged) from a byte string's content. */
static int parse_sign1(const uint8_t *p, size_t len, const char *what, struct cca_sign1 *s,
		       char *why, size_t whylen)
{
	struct cbor_cur cur, v;
	struct cbor_item it, m;
	struct cca_bytes *parts[4] = {&s->prot, NULL, &s->payload, &s->sig};

	if (cbor_check(p, len) != KBS_OK)
		FAIL(KBS_ERR_PARSE, "cca: %s token is not well-formed CBOR", what);
	cbor_init(&cur, p, len);
	if (cbor_next(&cur, &it) != KBS_OK || it.major != CBOR_TAG || it.arg != TAG_COSE_SIGN1)
		FAIL(KBS_ERR_PARSE, "cca: %s token is not a tagged COSE_Sign1", what);
	if (cbor_next(&cur, &it) != KBS_OK || it.major != CBOR_ARRAY || it.arg != 4)
		FAIL(KBS_ERR_PARSE, "cca: %s COSE_Sign1 is not a 4-element array", what);
	for (int i = 0; i < 4; i++) {
		if (!parts[i]) { /* unprotected header: a map, contents unused */
			if (cbor_next(&cur, &it) != KBS_OK || it.major != CBOR_MAP ||
			    cbor_skip_rest(&cur, &it) != KBS_OK)
				FAIL(KBS_ERR_PARSE, "cca: %s COSE unprotected header is not a map",
				     what);
			continue;
		}
		if (cbor_next(&cur, &it) != KBS_OK || it.major != CBOR_BYTES)
			FAIL(KBS_ERR_PARSE, "cca: %s COSE_Sign1 element %d is not a byte string",
			     what, i);
		parts[i]->p = it.data;
		parts[i]->len = (size_t)it.arg;
	}
	/* protected header {1: alg} */
	cbor_init(&cur, s->prot.p, s->prot.len);
	if (cbor_check(s->prot.p, s->prot.len) != KBS_OK || cbor_next(&cur, &m) != KBS_OK ||
	    m.major != CBOR_MAP || cbor_map_find(&cur, &m, 1, &v) != KBS_OK ||
	    cbor_next(&v, &it) != KBS_OK || cbor_int(&it, &s->alg) != KBS_OK)
		FAIL(KBS_ERR_PARSE, "cca: %s COSE protected header has no integer alg", what);
	if (s->alg != -7 && s->alg != -35 && s->alg != -36)
		FAIL(KBS_ERR_UNSUPPORTED, "cca: %s COSE alg %lld is not ES256/ES384/ES512", what,
		     (long long)s->alg);
	return KBS_OK;
}

/* Reads claim `key` of the map at (cur, m) as a byte or text string of an allowed length. */
static int get_str(const struct cbor_cur *cur, const struct cbor_item *m, int64_t key,
		   enum cbor_major type, size_t minlen, size_t maxlen, struct cca_bytes *out)
{
	struct cbor_cur v;
	struct cbor_item it;
	int rc;

	if ((rc = cbor_map_find(cur, m, key, &v)) != KBS_OK)
		return rc;
	if (cbor_next(&v, &it) != KBS_OK || it.major != type || it.arg < minlen ||
	    it.arg > maxlen)
		return KBS_ERR_PARSE;
	out->p = it.data;
	out->len = (size_t)it.arg;
	return KBS_OK;
}

#define NEED(call, name)                                                                           \
	do {                                                                                       \
		if ((call) != KBS_OK)                                                              \
			FAIL(KBS_ERR_PARSE, "cca: claim %s missing or malformed", name);           \
	} while (0)

static int parse_platform(struct cca_token *t, char *why, size_t whylen)
{
	struct cbor_cur cur, v;
	struct cbor_item m, it;

	cbor_init(&cur, t->platform.payload.p, t->platform.payload.len);
	if (cbor_check(t->platform.payload.p, t->platform.payload.len) != KBS_OK ||
	    cbor_next(&cur, &m) != KBS_OK || m.major != CBOR_MAP)
		FAIL(KBS_ERR_PARSE, "cca: platform claims are not a CBOR map");
	NEED(get_str(&cur, &m, 265, CBOR_TEXT, 1, 256, &t->p_profile), "platform profile");
	NEED(get_str(&cur, &m, 10, CBOR_BYTES, 32, 64, &t->p_challenge), "platform challenge");
	NEED(get_str(&cur, &m, 2396, CBOR_BYTES, 32, 32, &t->p_impl_id),
	     "platform implementation id");
	NEED(get_str(&cur, &m, 256, CBOR_BYTES, 33, 33, &t->p_inst_id), "platform instance id");
	NEED(get_str(&cur, &m, 2402, CBOR_TEXT, 1, 32, &t->p_hash_alg), "platform hash algo");
	if (get_str(&cur, &m, 2401, CBOR_BYTES, 0, 4096, &t->p_config) == KBS_ERR_PARSE ||
	    get_str(&cur, &m, 2400, CBOR_TEXT, 0, 1024, &t->p_verification_service) ==
		KBS_ERR_PARSE)
		FAIL(KBS_ERR_PARSE, "cca: claim platform config/verification service malformed");
	if (cbor_map_find(&cur, &m, 2395, &v) != KBS_OK || cbor_next(&v, &it) != KBS_OK ||
	    cbor_int(&it, &t->p_lifecycle) != KBS_OK)
		FAIL(KBS_ERR_PARSE, "cca: claim platform lifecycle missing or malformed");
	return KBS_OK;
}

static int parse_realm(struct cca_token *t, char *why, size_t whylen)
{
	struct cbor_cur cur, v;
	struct cbor_item m, it;

	cbor_init(&cur, t->realm.payload.p, t->realm.payload.len);
	if (cbor_check(t->realm.payload.p, t->realm.payload.len) != KBS_OK ||
	    cbor_next(&cur, &m) != KBS_OK || m.major != CBOR_MAP)
		FAIL(KBS_ERR_PARSE, "cca: realm claims are not a CBOR map");
	NEED(get_str(&cur, &m, 10, CBOR_BYTES, 64, 64, &t->r_challenge), "realm challenge");
	NEED(get_str(&cur, &m, 44235, CBOR_BYTES, 64, 64, &t->r_rpv),
	     "realm personalization value");
	NEED(get_str(&cur, &m, 44237, CBOR_BYTES, 65, 133, &t->r_rak), "realm public key");
	NEED(get_str(&cur, &m, 44236, CBOR_TEXT, 1, 32, &t->r_hash_alg), "realm hash algo");
	NEED(get_str(&cur, &m, 44240, CBOR_TEXT, 1, 32, &t->r_rak_hash_alg),
	     "realm public key hash algo");
	NEED(get_str(&cur, &m, 44238, CBOR_BYTES, 32, 64, &t->r_rim),
	     "realm initial measurement");
	if (cbor_map_find(&cur, &m, 44239, &v) != KBS_OK || cbor_next(&v, &it) != KBS_OK ||
	    it.major != CBOR_ARRAY || it.arg != 4)
		FAIL(KBS_ERR_PARSE, "cca: claim realm extensible measurements is not 4 values");
	for (int i = 0; i < 4; i++) {
		if (cbor_next(&v, &it) != KBS_OK || it.major != CBOR_BYTES || it.arg < 32 ||
		    it.arg > 64)
			FAIL(KBS_ERR_PARSE, "cca: realm extensible measurement %d malformed", i);
		t->r_rem[i].p = it.data;
		t->r_rem[i].len = (size_t)it.arg;
	}
	return KBS_OK;
}

int cca_token_parse(const uint8_t *buf, size_t len, struct cca_token *t, char *why, size_t whylen)
{
	struct cbor_cur cur, v;
	struct cbor_item it, m;
	int rc;

	memset(t, 0, sizeof(*t));
	cbor_init(&cur, buf, len);
	if (cbor_check(buf, len) != KBS_OK)
		FAIL(KBS_ERR_PARSE, "cca: token is not one well-formed CBOR item");
	if (cbor_next(&cur, &it) != KBS_OK || it.major != CBOR_TAG || it.arg != TAG_CCA_TOKEN)
		FAIL(KBS_ERR_PARSE, "cca: token is not a CBOR tag 399 collection");
	if (cbor_next(&cur, &m) != KBS_OK || m.major != CBOR_MAP)
		FAIL(KBS_ERR_PARSE, "cca: token collection is not a map");
	if (cbor_map_find(&cur, &m, KEY_PLATFORM, &v) != KBS_OK ||
	    cbor_next(&v, &it) != KBS_OK || it.major != CBOR_BYTES)
		FAIL(KBS_ERR_PARSE, "cca: token has no platform token (44234)");
	if ((rc = parse_sign1(it.data, (size_t)it.arg, "platform", &t->platform, why, whylen)))
		return rc;
	if (cbor_map_find(&cur, &m, KEY_REALM, &v) != KBS_OK ||
	    cbor_next(&v, &it) != KBS_OK || it.major != CBOR_BYTES)
		FAIL(KBS_ERR_PARSE, "cca: token has no realm token (44241)");
	if ((rc = parse_sign1(it.data, (size_t)it.arg, "realm", &t->realm, why, whylen)))
		return rc;
	if ((rc = parse_platform(t, why, whylen)) || (rc = parse_realm(t, why, whylen)))
		return rc;
	return KBS_OK;
}

/* CBOR head for a byte/text string or array of length n into out (max 9 bytes). */
static size_t put_head(uint8_t *out, uint8_t major, uint64_t n)
{
	size_t k = 0, w;

	if (n < 24) {
		out[0] = (uint8_t)(major << 5 | n);
		return 1;
	}
	w = n <= 0xff ? 1 : n <= 0xffff ? 2 : n <= 0xffffffffu ? 4 : 8;
	out[k++] = (uint8_t)(major << 5 | (w == 1 ? 24 : w == 2 ? 25 : w == 4 ? 26 : 27));
	for (size_t i = w; i-- > 0;)
		out[k++] = (uint8_t)(n >> (8 * i));
	return k;
}

int cca_sign1_verify(const struct cca_sign1 *s, EVP_PKEY *key)
{
	static const char ctx[] = "Signature1";
	size_t n = s->alg == -7 ? 32 : s->alg == -35 ? 48 : 66;
	const char *md = s->alg == -7 ? "SHA256" : s->alg == -35 ? "SHA384" : "SHA512";
	size_t cap = 1 + 1 + 10 + 9 + s->prot.len + 1 + 9 + s->payload.len, o = 0;
	uint8_t *tbs, *der = NULL;
	size_t derlen;
	int rc;

	if (s->sig.len != 2 * n || EVP_PKEY_get_bits(key) != (int)(s->alg == -36 ? 521 : 8 * n))
		return KBS_ERR_VERIFY;
	if (!(tbs = malloc(cap)))
		return KBS_ERR_NOMEM;
	tbs[o++] = 0x84;
	o += put_head(tbs + o, 3, sizeof(ctx) - 1);
	memcpy(tbs + o, ctx, sizeof(ctx) - 1);
	o += sizeof(ctx) - 1;
	o += put_head(tbs + o, 2, s->prot.len);
	memcpy(tbs + o, s->prot.p, s->prot.len);
	o += s->prot.len;
	tbs[o++] = 0x40; /* external_aad: empty */
	o += put_head(tbs + o, 2, s->payload.len);
	memcpy(tbs + o, s->payload.p, s->payload.len);
	o += s->payload.len;
	rc = x509u_ecdsa_raw_to_der(s->sig.p, s->sig.p + n, n, 0, &der, &derlen);
	if (rc == KBS_OK)
		rc = x509u_verify_ecdsa(key, md, tbs, o, der, derlen) == KBS_OK ? KBS_OK
										: KBS_ERR_VERIFY;
	OPENSSL_free(der);
	free(tbs);
	return rc;
}

EVP_PKEY *cca_ec_point_key(const uint8_t *p, size_t len)
{
	const char *group = len == 65 ? "P-256" : len == 97 ? "P-384" : len == 133 ? "P-521" : NULL;
	OSSL_PARAM_BLD *b = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *k = NULL;

	if (!group || p[0] != 0x04)
		return NULL;
	if (!(b = OSSL_PARAM_BLD_new()) ||
	    !OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, p, len) ||
	    !(params = OSSL_PARAM_BLD_to_param(b)) ||
	    !(ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
		k = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	if (k) {
		/* fromdata does not check that the point is on the curve */
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
		if (!c || EVP_PKEY_public_check(c) != 1) {
			EVP_PKEY_free(k);
			k = NULL;
		}
		EVP_PKEY_CTX_free(c);
	}
	return k;
}
