// SPDX-License-Identifier: Apache-2.0
/* RFC 8785 JSON Canonicalization Scheme over jansson values. */
#include "common/jcs.h"
#include "common/err.h"
#include "common/json.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

/* Same bound as jansson's parser, so anything json_parse accepts can be canonicalised. */
#define JCS_MAX_DEPTH 2048
/* Largest magnitude an IEEE double holds with every integer below it exact. */
#define JCS_MAX_SAFE_INT (INT64_C(1) << 53)

/*
 * Decodes one UTF-8 sequence at s[*i..len) strictly (no overlongs, no surrogates, <= U+10FFFF).
 * Returns the code point and advances *i, or -1 if the bytes are not valid UTF-8.
 */
static long utf8_next(const unsigned char *s, size_t len, size_t *i)
{
	size_t k = *i, n;
	unsigned long cp;
	unsigned char c = s[k];

	if (c < 0x80) {
		*i = k + 1;
		return c;
	} else if (c >= 0xc2 && c <= 0xdf) {
		n = 1;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		cp = c & 0x07;
	} else {
		return -1;
	}
	if (len - k - 1 < n)
		return -1;
	for (size_t j = 1; j <= n; j++) {
		unsigned char cc = s[k + j];

		if ((cc & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (cc & 0x3f);
	}
	if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i = k + 1 + n;
	return (long)cp;
}

static bool utf8_valid(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len)
		if ((unsigned char)s[i] < 0x80)
			i++;
		else if (utf8_next((const unsigned char *)s, len, &i) < 0)
			return false;
	return true;
}

/* Walks a valid UTF-8 string as UTF-16 code units. */
struct u16it {
	const unsigned char *s;
	size_t len, i;
	unsigned pending; /* low surrogate still to deliver, 0 if none */
};

/* Next UTF-16 code unit, or -1 at the end. */
static long u16_next(struct u16it *it)
{
	long cp;

	if (it->pending) {
		cp = (long)it->pending;
		it->pending = 0;
		return cp;
	}
	if (it->i >= it->len)
		return -1;
	cp = utf8_next(it->s, it->len, &it->i);
	if (cp < 0x10000)
		return cp; /* cp < 0 cannot happen: keys are validated before sorting */
	cp -= 0x10000;
	it->pending = 0xdc00u | ((unsigned)cp & 0x3ffu);
	return 0xd800 | (cp >> 10);
}

struct member {
	const char *key;
	size_t klen;
	json_t *value;
};

static int member_cmp(const void *a, const void *b)
{
	const struct member *ma = a, *mb = b;
	struct u16it ia = {(const unsigned char *)ma->key, ma->klen, 0, 0};
	struct u16it ib = {(const unsigned char *)mb->key, mb->klen, 0, 0};
	const unsigned char *ka = ia.s, *kb = ib.s;
	size_t n = ma->klen < mb->klen ? ma->klen : mb->klen, i = 0;

	/* ASCII up to the first difference: UTF-16 order is byte order, a prefix sorts first */
	while (i < n && ka[i] == kb[i] && ka[i] < 0x80)
		i++;
	if (i == n)
		return ma->klen == mb->klen ? 0 : ma->klen < mb->klen ? -1 : 1;
	if (ka[i] < 0x80 && kb[i] < 0x80)
		return ka[i] < kb[i] ? -1 : 1;
	for (;;) {
		long ua = u16_next(&ia), ub = u16_next(&ib);

		if (ua != ub)
			return ua < ub ? -1 : 1; /* end (-1) sorts before any unit: prefix first */
		if (ua < 0)
			return 0;
	}
}

/*
 * True when none of the 8 bytes at p needs escaping (none < 0x20, '"' or '\\'): the classic
 * "has a byte less than n" / "has a zero byte" word tests, exact for "any byte".
 */
static inline bool block_plain(const char *p)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t x, q, bs;

	memcpy(&x, p, sizeof(x));
	q = x ^ (ones * '"');
	bs = x ^ (ones * '\\');
	return ((((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & highs) == 0;
}

int json_append_escaped(struct buf *b, const char *s, size_t len, bool upper_hex)
{
	const char *hex = upper_hex ? "0123456789ABCDEF" : "0123456789abcdef";
	int rc;
	size_t run = 0;

	if ((rc = buf_reserve(b, len + 2)) || (rc = buf_append_byte(b, '"')))
		return rc;
	for (size_t i = 0; i < len; i++) {
		unsigned char c;
		char esc[7];
		size_t elen = 2;

		while (len - i >= 8 && block_plain(s + i)) /* long plain runs: 8 bytes a step */
			i += 8;
		if (i == len)
			break;
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		esc[0] = '\\';
		switch (c) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			elen = 6;
			break;
		}
		if ((rc = buf_append(b, s + run, i - run)) || (rc = buf_append(b, esc, elen)))
			return rc;
		run = i + 1;
	}
	if ((rc = buf_append(b, s + run, len - run)))
		return rc;
	return buf_append_byte(b, '"');
}

/* RFC 8785 §3.2.2.2: escape only '"', '\\' and C0 controls, with the short forms where JSON has
 * them and lower-case \u00xx otherwise; everything else is emitted as raw UTF-8. */
static int put_string(struct buf *b, const char *s, size_t len)
{
	if (!utf8_valid(s, len))
		return KBS_ERR_INVAL;
	return json_append_escaped(b, s, len, false);
}

/*
 * Writes "<mantissa>e<exp>" for mantissa m at exponent e (value m * 10^e) and checks whether
 * it parses back to exactly d.
 */
static bool roundtrips(double d, unsigned long long m, int e)
{
	char tmp[48];

	snprintf(tmp, sizeof(tmp), "%llue%d", m, e);
	return strtod(tmp, NULL) == d;
}

/*
 * Shortest decimal digits that read back as d (d finite, > 0): d == digits * 10^(*pow10),
 * with no trailing zeros in digits. For each precision p from 1 up, take the correctly
 * rounded p-digit value; if it does not round-trip, its neighbour on the other side of d may
 * (the rounding interval of a power of two is asymmetric), so try both neighbours. Among
 * round-tripping candidates of minimal length the nearest is preferred, as ECMAScript
 * recommends and V8/JCS do. 17 digits always round-trip.
 */
static int shortest_digits(double d, char *digits, size_t dlen, int *pow10)
{
	for (int p = 1; p <= 17; p++) {
		char tmp[48], *e;
		unsigned long long m = 0;
		int exp10, scale, nd = 0;
		unsigned long long cand[3];
		int ncand = 0;

		snprintf(tmp, sizeof(tmp), "%.*e", p - 1, d);
		for (e = tmp; *e && *e != 'e'; e++) {
			if (*e >= '0' && *e <= '9') {
				m = m * 10 + (unsigned long long)(*e - '0');
				nd++;
			}
		}
		if (*e != 'e' || nd != p)
			return KBS_ERR_INTERNAL;
		exp10 = (int)strtol(e + 1, NULL, 10);
		scale = exp10 - (p - 1); /* d ~= m * 10^scale */
		cand[ncand++] = m;
		if (m > 1)
			cand[ncand++] = m - 1;
		cand[ncand++] = m + 1;
		for (int c = 0; c < ncand; c++) {
			unsigned long long v = cand[c];
			int n;

			if (!roundtrips(d, v, scale))
				continue;
			while (v % 10 == 0) {
				v /= 10;
				scale++;
			}
			n = snprintf(digits, dlen, "%llu", v);
			if (n < 0 || (size_t)n >= dlen)
				return KBS_ERR_INTERNAL;
			*pow10 = scale;
			return KBS_OK;
		}
	}
	return KBS_ERR_INTERNAL;
}

int jcs_format_number(double d, char *out, size_t outlen)
{
	char s[24], res[40];
	size_t pos = 0;
	int k, n, pow10, rc;

	if (!out || outlen == 0)
		return KBS_ERR_INVAL;
	out[0] = 0;
	if (!isfinite(d))
		return KBS_ERR_INVAL; /* JSON has no NaN or Infinity; RFC 8785 §3.2.2.3 */
	if (d == 0) {
		/* Covers -0 too: ECMAScript prints both zeros as "0". */
		if (outlen < 2)
			return KBS_ERR_RANGE;
		memcpy(out, "0", 2);
		return KBS_OK;
	}
	if (d < 0) {
		res[pos++] = '-';
		d = -d;
	}
	if ((rc = shortest_digits(d, s, sizeof(s), &pow10)))
		return rc;
	/* ECMAScript Number::toString: value = s * 10^(n-k), k digits, n = decimal point position.
	 */
	k = (int)strlen(s);
	n = pow10 + k;
	if (k <= n && n <= 21) {
		memcpy(res + pos, s, (size_t)k);
		pos += (size_t)k;
		for (int i = 0; i < n - k; i++)
			res[pos++] = '0';
	} else if (0 < n && n <= 21) {
		memcpy(res + pos, s, (size_t)n);
		pos += (size_t)n;
		res[pos++] = '.';
		memcpy(res + pos, s + n, (size_t)(k - n));
		pos += (size_t)(k - n);
	} else if (-6 < n && n <= 0) {
		res[pos++] = '0';
		res[pos++] = '.';
		for (int i = 0; i < -n; i++)
			res[pos++] = '0';
		memcpy(res + pos, s, (size_t)k);
		pos += (size_t)k;
	} else {
		int e = n - 1;

		res[pos++] = s[0];
		if (k > 1) {
			res[pos++] = '.';
			memcpy(res + pos, s + 1, (size_t)(k - 1));
			pos += (size_t)(k - 1);
		}
		pos += (size_t)snprintf(res + pos, sizeof(res) - pos, "e%c%d", e < 0 ? '-' : '+',
					e < 0 ? -e : e);
	}
	if (pos >= outlen)
		return KBS_ERR_RANGE;
	memcpy(out, res, pos);
	out[pos] = 0;
	return KBS_OK;
}

static int put_value(const json_t *v, struct buf *b, int depth);

static int put_object(json_t *obj, struct buf *b, int depth)
{
	size_t n = json_object_size(obj), i = 0;
	struct member *m = NULL;
	void *it;
	int rc = KBS_OK;

	if ((rc = buf_append_byte(b, '{')))
		return rc;
	if (n) {
		m = calloc(n, sizeof(*m));
		if (!m)
			return KBS_ERR_NOMEM;
	}
	for (it = json_object_iter(obj); it && i < n; it = json_object_iter_next(obj, it), i++) {
		m[i].key = json_object_iter_key(it);
		m[i].klen = json_object_iter_key_len(it);
		m[i].value = json_object_iter_value(it);
		/* Keys must be valid before sorting: the comparator cannot report errors. */
		if (!utf8_valid(m[i].key, m[i].klen)) {
			rc = KBS_ERR_INVAL;
			goto out;
		}
	}
	if (i != n || it) {
		rc = KBS_ERR_INTERNAL;
		goto out;
	}
	if (n > 1)
		qsort(m, n, sizeof(*m), member_cmp);
	for (i = 0; i < n; i++) {
		if (i && (rc = buf_append_byte(b, ',')))
			goto out;
		if ((rc = put_string(b, m[i].key, m[i].klen)) || (rc = buf_append_byte(b, ':')) ||
		    (rc = put_value(m[i].value, b, depth + 1)))
			goto out;
	}
	rc = buf_append_byte(b, '}');
out:
	free(m);
	return rc;
}

static int put_value(const json_t *v, struct buf *b, int depth)
{
	char num[40];
	int rc;

	if (!v)
		return KBS_ERR_INVAL;
	if (depth > JCS_MAX_DEPTH)
		return KBS_ERR_RANGE;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return put_object((json_t *)v, b, depth);
	case JSON_ARRAY:
		if ((rc = buf_append_byte(b, '[')))
			return rc;
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i && (rc = buf_append_byte(b, ',')))
				return rc;
			if ((rc = put_value(json_array_get(v, i), b, depth + 1)))
				return rc;
		}
		return buf_append_byte(b, ']');
	case JSON_STRING:
		return put_string(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER: {
		json_int_t x = json_integer_value(v);

		/* I-JSON/RFC 8785: numbers are IEEE doubles; larger integers would change value. */
		if (x > JCS_MAX_SAFE_INT || x < -JCS_MAX_SAFE_INT)
			return KBS_ERR_RANGE;
		/* |x| <= 2^53 < 1e21, so ECMAScript prints the plain integer. */
		snprintf(num, sizeof(num), "%lld", (long long)x);
		return buf_append_str(b, num);
	}
	case JSON_REAL:
		if ((rc = jcs_format_number(json_real_value(v), num, sizeof(num))))
			return rc;
		return buf_append_str(b, num);
	case JSON_TRUE:
		return buf_append_str(b, "true");
	case JSON_FALSE:
		return buf_append_str(b, "false");
	case JSON_NULL:
		return buf_append_str(b, "null");
	}
	return KBS_ERR_INVAL;
}

int jcs_serialize(const json_t *v, struct buf *out)
{
	size_t start;
	int rc;

	if (!v || !out)
		return KBS_ERR_INVAL;
	start = out->len;
	rc = put_value(v, out, 0);
	if (rc) {
		/* Leave the buffer as it was rather than with half a document in it. */
		out->len = start;
		if (out->p)
			out->p[start] = 0;
	}
	return rc;
}

int jcs_canonicalize_text(const char *text, size_t len, struct buf *out)
{
	json_t *v = NULL;
	int rc;

	if (!out)
		return KBS_ERR_INVAL;
	if ((rc = json_parse(text, len, 0, &v, NULL)))
		return rc;
	rc = jcs_serialize(v, out);
	json_decref(v);
	return rc;
}

int jcs_digest(const json_t *v, const char *alg, uint8_t *md, size_t mdsize, size_t *mdlen)
{
	static const struct {
		const char *name, *ossl;
	} algs[] = {
	    {"sha256", "SHA256"}, {"sha384", "SHA384"}, {"sha512", "SHA512"}, {"sm3", "SM3"}};
	const char *ossl = NULL;
	EVP_MD *evp = NULL;
	struct buf b = BUF_INIT;
	unsigned int n = 0;
	int rc;

	if (!v || !alg || !md || !mdlen)
		return KBS_ERR_INVAL;
	*mdlen = 0;
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strcasecmp(alg, algs[i].name) == 0)
			ossl = algs[i].ossl;
	if (!ossl)
		return KBS_ERR_UNSUPPORTED;
	evp = EVP_MD_fetch(NULL, ossl, NULL);
	if (!evp)
		return KBS_ERR_UNSUPPORTED; /* e.g. SM3 not in this OpenSSL build */
	if ((size_t)EVP_MD_get_size(evp) > mdsize) {
		rc = KBS_ERR_RANGE;
		goto out;
	}
	if ((rc = jcs_serialize(v, &b)))
		goto out;
	if (EVP_Digest(b.p ? b.p : (const uint8_t *)"", b.len, md, &n, evp, NULL) != 1) {
		rc = KBS_ERR_CRYPTO;
		goto out;
	}
	*mdlen = n;
	rc = KBS_OK;
out:
	buf_release(&b);
	EVP_MD_free(evp);
	return rc;
}
