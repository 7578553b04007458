// SPDX-License-Identifier: Apache-2.0
#include "server/as/ear_signer.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/jcs.h"

#define EAR_POOL 16 /* idle signing contexts kept; more threads just create their own */
#define EAR_CLEN 32 /* P-256 coordinate / scalar length */

struct ear_signer {
	EVP_PKEY *pkey; /* borrowed from the jwk */
	EVP_MD *sha256;
	char *hdr; /* "<b64url(header)>." */
	size_t hdr_len;
	pthread_mutex_t lock;
	EVP_PKEY_CTX *idle[EAR_POOL];
	int nidle;
};

int ear_signer_new(const struct jwk *key, const json_t *header, struct ear_signer **out)
{
	struct ear_signer *s = NULL;
	char *txt = NULL;
	size_t tlen;
	int rc = KBS_ERR_INVAL;

	*out = NULL;
	if (!key || !jwk_is_private(key) || strcmp(jwk_kty(key), "EC") != 0 || !jwk_crv(key) ||
	    strcmp(jwk_crv(key), "P-256") != 0 || !json_is_object(header))
		return rc;
	rc = KBS_ERR_NOMEM;
	s = calloc(1, sizeof(*s));
	if (!s)
		return rc;
	pthread_mutex_init(&s->lock, NULL);
	s->pkey = jwk_pkey(key);
	s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	txt = json_dumps(header, JSON_COMPACT);
	if (!s->sha256 || !txt)
		goto out;
	tlen = strlen(txt);
	s->hdr = malloc(b64_encoded_len(tlen, B64_URL) + 2);
	if (!s->hdr)
		goto out;
	if ((rc = b64_encode((const uint8_t *)txt, tlen, s->hdr, b64_encoded_len(tlen, B64_URL) + 1,
			     B64_URL)) != KBS_OK)
		goto out;
	s->hdr_len = strlen(s->hdr);
	s->hdr[s->hdr_len++] = '.';
	s->hdr[s->hdr_len] = '\0';
	*out = s;
	s = NULL;
	rc = KBS_OK;
out:
	free(txt);
	ear_signer_free(s);
	return rc;
}

void ear_signer_free(struct ear_signer *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nidle; i++)
		EVP_PKEY_CTX_free(s->idle[i]);
	EVP_MD_free(s->sha256);
	free(s->hdr);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* An initialised signing context: from the pool, else a new one. */
static EVP_PKEY_CTX *ctx_get(struct ear_signer *s)
{
	EVP_PKEY_CTX *c = NULL;

	pthread_mutex_lock(&s->lock);
	if (s->nidle > 0)
		c = s->idle[--s->nidle];
	pthread_mutex_unlock(&s->lock);
	if (c)
		return c;
	c = EVP_PKEY_CTX_new_from_pkey(NULL, s->pkey, NULL);
	if (c && EVP_PKEY_sign_init(c) != 1) {
		EVP_PKEY_CTX_free(c);
		c = NULL;
	}
	return c;
}

static void ctx_put(struct ear_signer *s, EVP_PKEY_CTX *c)
{
	pthread_mutex_lock(&s->lock);
	if (s->nidle < EAR_POOL) {
		s->idle[s->nidle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	EVP_PKEY_CTX_free(c);
}

/* One DER INTEGER (non-negative, minimally encoded) into out[clen], left-padded. */
static int der_uint(const uint8_t **p, const uint8_t *end, size_t clen, uint8_t *out)
{
	const uint8_t *q = *p;
	size_t n;

	if (end - q < 2 || q[0] != 0x02 || q[1] == 0 || q[1] >= 0x80)
		return KBS_ERR_PARSE;
	n = q[1];
	q += 2;
	if ((size_t)(end - q) < n || (q[0] & 0x80))
		return KBS_ERR_PARSE;
	if (n > 1 && q[0] == 0) {
		if (!(q[1] & 0x80)) /* a leading zero only in front of a high bit */
			return KBS_ERR_PARSE;
		q++;
		n--;
	}
	if (n > clen)
		return KBS_ERR_PARSE;
	memset(out, 0, clen - n);
	memcpy(out + clen - n, q, n);
	*p = q + n;
	return KBS_OK;
}

int ear_ecdsa_der_to_raw(const uint8_t *der, size_t len, size_t clen, uint8_t *out)
{
	const uint8_t *p = der, *end = der + len;

	if (!der || !out || clen == 0 || clen > 66)
		return KBS_ERR_INVAL;
	/* P-256..P-521 signatures stay below 128 content bytes only up to P-384; P-521 uses
	 * the long form 0x81 */
	if (len < 2 || p[0] != 0x30)
		return KBS_ERR_PARSE;
	if (p[1] < 0x80) {
		if ((size_t)p[1] != len - 2)
			return KBS_ERR_PARSE;
		p += 2;
	} else if (p[1] == 0x81 && len >= 3 && p[2] >= 0x80 && (size_t)p[2] == len - 3) {
		p += 3;
	} else {
		return KBS_ERR_PARSE;
	}
	if (der_uint(&p, end, clen, out) != KBS_OK ||
	    der_uint(&p, end, clen, out + clen) != KBS_OK || p != end)
		return KBS_ERR_PARSE;
	return KBS_OK;
}

int ear_signer_sign(struct ear_signer *s, const uint8_t *payload, size_t len, struct buf *out)
{
	size_t start, plen, slen;
	uint8_t md[32], der[80], raw[2 * EAR_CLEN];
	size_t dlen = sizeof(der);
	unsigned int mdlen = 0;
	EVP_PKEY_CTX *c = NULL;
	int rc;

	if (!s || !out || (!payload && len))
		return KBS_ERR_INVAL;
	start = out->len;
	plen = b64_encoded_len(len, B64_URL);
	slen = b64_encoded_len(sizeof(raw), B64_URL);
	if ((rc = buf_reserve(out, s->hdr_len + plen + 1 + slen)) != KBS_OK)
		return rc;
	memcpy(out->p + out->len, s->hdr, s->hdr_len);
	out->len += s->hdr_len;
	if ((rc = b64_encode(payload, len, (char *)out->p + out->len, plen + slen + 2, B64_URL)))
		goto fail;
	out->len += plen;
	rc = KBS_ERR_CRYPTO;
	if (EVP_Digest(out->p + start, out->len - start, md, &mdlen, s->sha256, NULL) != 1 ||
	    mdlen != sizeof(md))
		goto fail;
	c = ctx_get(s);
	if (!c || EVP_PKEY_sign(c, der, &dlen, md, sizeof(md)) != 1)
		goto fail;
	if ((rc = ear_ecdsa_der_to_raw(der, dlen, EAR_CLEN, raw)) != KBS_OK)
		goto fail;
	out->p[out->len++] = '.';
	if ((rc = b64_encode(raw, sizeof(raw), (char *)out->p + out->len, slen + 1, B64_URL)))
		goto fail;
	out->len += slen;
	ctx_put(s, c);
	return KBS_OK;
fail:
	ERR_clear_error();
	/* a context that failed is not trusted again */
	EVP_PKEY_CTX_free(c);
	out->len = start;
	if (out->p)
		out->p[start] = '\0';
	return rc;
}

/* ---- compact JSON writer ---------------------------------------------------------------- */

/* jansson's escaping (upper-case \u00XX), so the bytes match the jansson-built token */
static int put_string(struct buf *b, const char *s, size_t n)
{
	return json_append_escaped(b, s, n, true);
}

/* jansson's jsonp_dtostr: %.17g, ".0" when neither '.' nor 'e', exponent without '+' and
 * leading zeros. */
static int put_real(struct buf *b, double d)
{
	char t[64];
	int n = snprintf(t, sizeof(t), "%.17g", d);
	size_t len;
	char *e;

	if (n < 0 || (size_t)n >= sizeof(t) - 3)
		return KBS_ERR_RANGE;
	len = (size_t)n;
	for (char *p = t; *p; p++)
		if (*p == ',') /* a locale with a decimal comma */
			*p = '.';
	if (!strchr(t, '.') && !strchr(t, 'e')) {
		memcpy(t + len, ".0", 3);
		len += 2;
	}
	e = strchr(t, 'e');
	if (e) {
		char *start = e + 1, *end = e + 2;

		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, len - (size_t)(end - t) + 1);
			len -= (size_t)(end - start);
		}
	}
	return buf_append(b, t, len);
}

static int put_value(struct buf *b, const json_t *v, int depth)
{
	char num[32];
	int rc, n;

	if (depth > 2048)
		return KBS_ERR_RANGE;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *m;
		bool first = true;

		if ((rc = buf_append_byte(b, '{')) != KBS_OK)
			return rc;
		json_object_foreach((json_t *)v, k, m)
		{
			if ((!first && (rc = buf_append_byte(b, ','))) ||
			    (rc = put_string(b, k, strlen(k))) || (rc = buf_append_byte(b, ':')) ||
			    (rc = put_value(b, m, depth + 1)))
				return rc;
			first = false;
		}
		return buf_append_byte(b, '}');
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *m;

		if ((rc = buf_append_byte(b, '[')) != KBS_OK)
			return rc;
		json_array_foreach(v, i, m)
		{
			if ((i > 0 && (rc = buf_append_byte(b, ','))) ||
			    (rc = put_value(b, m, depth + 1)))
				return rc;
		}
		return buf_append_byte(b, ']');
	}
	case JSON_STRING:
		return put_string(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER: {
		/* decimal digits right to left (what "%lld" prints, without printf) */
		json_int_t x = json_integer_value(v);
		unsigned long long u = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
		n = (int)sizeof(num);
		do
			num[--n] = (char)('0' + u % 10);
		while ((u /= 10) != 0);
		if (x < 0)
			num[--n] = '-';
		return buf_append(b, num + n, sizeof(num) - (size_t)n);
	}
	case JSON_REAL:
		return put_real(b, json_real_value(v));
	case JSON_TRUE:
		return buf_append_str(b, "true");
	case JSON_FALSE:
		return buf_append_str(b, "false");
	case JSON_NULL:
		return buf_append_str(b, "null");
	}
	return KBS_ERR_INVAL;
}

int ear_json_append(struct buf *out, const json_t *v)
{
	size_t start;
	int rc;

	if (!out || !v)
		return KBS_ERR_INVAL;
	start = out->len;
	rc = put_value(out, v, 0);
	if (rc != KBS_OK) {
		out->len = start;
		if (out->p)
			out->p[start] = '\0';
	}
	return rc;
}
