// SPDX-License-Identifier: Apache-2.0
/*
 * Numbers beyond int64 and double: OPA keeps every number as its decimal text and computes
 * with arbitrary precision where needed. This engine keeps int64 and double as the fast
 * representations and falls back, only where those cannot hold a value exactly, to
 *
 *   NB_INT  an integer outside the int64 range (literal, to_number, or the exact result of
 *           + - * / % on integers), kept as canonical decimal text and computed with
 *           OpenSSL BIGNUMs;
 *   NB_DEC  a literal with a fraction or exponent outside the double range (2e308, 1e-400),
 *           kept as written.
 *
 * Both carry the nearest double in v->d (possibly infinite) for the operations that work on
 * doubles. Comparison across all representations is exact (decimal expansion of each side).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>

#include "server/policy/rego_int.h"

/* ---------- construction ---------- */

static struct val *new_big(struct arena *a, const char *text, size_t n, int kind)
{
	struct val *v = arena_alloc(a, sizeof(*v));

	v->t = V_NUM;
	v->big = (uint8_t)kind;
	v->s = arena_strndup(a, text, n);
	v->len = n;
	v->d = strtod(v->s, NULL);
	return v;
}

struct val *val_num_text(struct arena *a, const char *s, size_t n)
{
	bool isint = true;

	for (size_t k = 0; k < n; k++)
		if (s[k] == '.' || s[k] == 'e' || s[k] == 'E')
			isint = false;
	if (n && s[0] == '+') {
		s++;
		n--;
	}
	char *tmp = arena_strndup(a, s, n);

	if (isint) {
		errno = 0;
		long long v = strtoll(tmp, NULL, 10);

		if (errno == 0)
			return val_int(a, v);
		/* canonical text: sign, no leading zeros (a value this large is never zero) */
		size_t o = 0, k = tmp[0] == '-' ? 1 : 0;

		while (k < n && tmp[k] == '0')
			k++;
		if (tmp[0] == '-')
			tmp[o++] = '-';
		memmove(tmp + o, tmp + k, n - k);
		o += n - k;
		tmp[o] = 0;
		return new_big(a, tmp, o, NB_INT);
	}
	errno = 0;
	double d = strtod(tmp, NULL);

	if (errno != ERANGE && isfinite(d))
		return val_num(a, d);
	return new_big(a, tmp, n, NB_DEC);
}

/* ---------- exact comparison ---------- */

/* A number as sign × 0.d1d2d3... × 10^exp, read from its decimal text. */
struct dec {
	int sign; /* -1, 0 (the value is zero), 1 */
	const char *p, *end; /* mantissa text from the first significant digit ('.' skipped) */
	long long exp;
};

#define EXP_CLAMP (1LL << 40)

static void dec_parse(const char *s, size_t n, struct dec *d)
{
	const char *e = s + n, *m;
	long long ipart = 0, lead = 0, ex = 0;
	bool dot = false, nonzero = false;

	d->sign = 1;
	if (s < e && (*s == '-' || *s == '+')) {
		d->sign = *s == '-' ? -1 : 1;
		s++;
	}
	for (m = s; m < e && *m != 'e' && *m != 'E'; m++) {
		if (*m == '.') {
			dot = true;
			continue;
		}
		if (!nonzero && *m != '0') {
			nonzero = true;
			d->p = m;
		}
		if (!dot)
			ipart++;
		if (!nonzero)
			lead++;
	}
	d->end = m;
	if (m < e) {
		bool neg = false;

		m++;
		if (m < e && (*m == '-' || *m == '+'))
			neg = *m++ == '-';
		for (; m < e && isdigit((unsigned char)*m); m++)
			if (ex < EXP_CLAMP)
				ex = ex * 10 + (*m - '0');
		ex = neg ? -ex : ex;
	}
	if (!nonzero) {
		d->sign = 0;
		return;
	}
	d->exp = ipart - lead + ex;
}

/* Decimal text of any number into buf (big numbers point at their own text). */
static void dec_of(const struct val *v, char *buf, size_t cap, struct dec *d)
{
	if (v->big) {
		dec_parse(v->s, v->len, d);
		return;
	}
	if (v->isint)
		snprintf(buf, cap, "%lld", (long long)v->i);
	else /* glibc prints the exact binary value; 767 significant digits suffice */
		snprintf(buf, cap, "%.770e", v->d);
	dec_parse(buf, strlen(buf), d);
}

static int next_digit(const char **p, const char *end)
{
	while (*p < end && **p == '.')
		(*p)++;
	if (*p >= end)
		return -1;
	return *(*p)++ - '0';
}

int num_cmp_big(const struct val *x, const struct val *y)
{
	char bx[800], by[800];
	struct dec a, b;

	dec_of(x, bx, sizeof(bx), &a);
	dec_of(y, by, sizeof(by), &b);
	if (a.sign != b.sign)
		return a.sign < b.sign ? -1 : 1;
	if (a.sign == 0)
		return 0;
	int mag = 0;

	if (a.exp != b.exp) {
		mag = a.exp < b.exp ? -1 : 1;
	} else {
		const char *pa = a.p, *pb = b.p;

		for (;;) {
			int da = next_digit(&pa, a.end), db = next_digit(&pb, b.end);

			if (da < 0 && db < 0)
				break;
			/* a shorter mantissa continues with zeros */
			if (da != db && !(da <= 0 && db <= 0)) {
				mag = (da < 0 ? 0 : da) < (db < 0 ? 0 : db) ? -1 : 1;
				break;
			}
		}
	}
	return mag * a.sign;
}

/* ---------- integer arithmetic ---------- */

/* Products, sums and results above this size are refused (memory and time bound). */
#define NUM_MAX_BITS 65536

static int to_bn(const struct val *v, BIGNUM **bn)
{
	char buf[32];
	const char *txt = buf;

	if (v->big == NB_INT)
		txt = v->s;
	else
		snprintf(buf, sizeof(buf), "%lld", (long long)v->i);
	return BN_dec2bn(bn, txt) > 0 ? 0 : NUM_ENOMEM;
}

int num_int_arith(struct arena *a, const struct val *x, const struct val *y, char op,
		  struct val **out)
{
	BIGNUM *bx = NULL, *by = NULL, *r = BN_new(), *rem = BN_new();
	BN_CTX *ctx = BN_CTX_new();
	char *txt = NULL;
	int rc = NUM_ENOMEM;

	*out = NULL;
	if (!r || !rem || !ctx || to_bn(x, &bx) || to_bn(y, &by))
		goto out;
	rc = NUM_ETOOBIG;
	if (BN_num_bits(bx) > NUM_MAX_BITS || BN_num_bits(by) > NUM_MAX_BITS)
		goto out;
	if (op == '*' && BN_num_bits(bx) + BN_num_bits(by) > NUM_MAX_BITS)
		goto out;
	if ((op == '/' || op == '%') && BN_is_zero(by)) {
		rc = NUM_EDIVZERO;
		goto out;
	}
	rc = NUM_ENOMEM;
	switch (op) {
	case '+':
		if (!BN_add(r, bx, by))
			goto out;
		break;
	case '-':
		if (!BN_sub(r, bx, by))
			goto out;
		break;
	case '*':
		if (!BN_mul(r, bx, by, ctx))
			goto out;
		break;
	case '/':
		if (!BN_div(r, rem, bx, by, ctx))
			goto out;
		if (!BN_is_zero(rem)) {
			rc = NUM_INEXACT;
			goto out;
		}
		break;
	case '%':
		/* the remainder takes the dividend's sign, as Go's big.Int.Rem */
		if (!BN_div(NULL, r, bx, by, ctx))
			goto out;
		break;
	default:
		goto out;
	}
	rc = NUM_ETOOBIG;
	if (BN_num_bits(r) > NUM_MAX_BITS)
		goto out;
	rc = NUM_ENOMEM;
	txt = BN_bn2dec(r);
	if (!txt)
		goto out;
	*out = val_num_text(a, txt, strlen(txt));
	rc = 0;
out:
	OPENSSL_free(txt);
	BN_free(bx);
	BN_free(by);
	BN_free(r);
	BN_free(rem);
	BN_CTX_free(ctx);
	return rc;
}

const char *num_int_digits(struct arena *a, const struct val *v, int base, bool upper,
			   bool *neg)
{
	const char *alpha = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	BIGNUM *bn = NULL;
	char *txt = NULL, *res = NULL;

	*neg = false;
	if (to_bn(v, &bn))
		goto out;
	*neg = BN_is_negative(bn);
	BN_set_negative(bn, 0);
	if (base == 10) {
		txt = BN_bn2dec(bn);
		if (txt)
			res = arena_strndup(a, txt, strlen(txt));
		goto out;
	}
	/* 2, 8, 16: groups of bits from the most significant digit down */
	int k = base == 2 ? 1 : base == 8 ? 3 : 4;
	int bits = BN_num_bits(bn), nd = bits ? (bits + k - 1) / k : 1;

	res = arena_alloc(a, (size_t)nd + 1);
	for (int i = 0; i < nd; i++) {
		int dv = 0;

		for (int j = k - 1; j >= 0; j--)
			dv = dv * 2 + BN_is_bit_set(bn, (nd - 1 - i) * k + j);
		res[i] = alpha[dv];
	}
out:
	OPENSSL_free(txt);
	BN_free(bn);
	return res;
}

struct val *num_abs_big(struct arena *a, const struct val *v)
{
	if (v->len == 0 || v->s[0] != '-')
		return (struct val *)v;
	return new_big(a, v->s + 1, v->len - 1, v->big);
}
