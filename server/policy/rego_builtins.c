// SPDX-License-Identifier: Apache-2.0
/*
 * Rego built-in functions. Each takes evaluated arguments and returns a value, or NULL for
 * "undefined". Wrong operand types go through ev_type_error(), other failures through
 * ev_builtin_error(); both abort the evaluation unless the caller asked for OPA's lenient
 * mode. This file holds the core groups; encodings, text (regex, semver) and time live in
 * rego_bi_*.c.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/b64.h"
#include "common/err.h"
#include "server/policy/rego_bi.h"

/* ---------- comparison and arithmetic ---------- */

static struct val *bi_equal(struct ev *ev, struct val **args, const struct term *call)
{
	return val_bool(val_eq(args[0], args[1]));
}

static struct val *bi_neq(struct ev *ev, struct val **args, const struct term *call)
{
	return val_bool(!val_eq(args[0], args[1]));
}

static struct val *bi_lt(struct ev *ev, struct val **args, const struct term *call)
{
	return val_bool(val_cmp(args[0], args[1]) < 0);
}

static struct val *bi_lte(struct ev *ev, struct val **args, const struct term *call)
{
	return val_bool(val_cmp(args[0], args[1]) <= 0);
}

static struct val *bi_gt(struct ev *ev, struct val **args, const struct term *call)
{
	return val_bool(val_cmp(args[0], args[1]) > 0);
}

static struct val *bi_gte(struct ev *ev, struct val **args, const struct term *call)
{
	return val_bool(val_cmp(args[0], args[1]) >= 0);
}

static double dbl(const struct val *v)
{
	return v->isint ? (double)v->i : v->d;
}

static struct val *arith(struct ev *ev, struct val **args, const struct term *call, char op)
{
	struct val *x = args[0], *y = args[1];

	if (x->t != V_NUM)
		return TYPE_ERR(0, "number");
	if (y->t != V_NUM)
		return TYPE_ERR(1, "number");
	if (x->isint && y->isint) {
		int64_t r;

		switch (op) {
		case '+':
			if (!__builtin_add_overflow(x->i, y->i, &r))
				return val_int(A, r);
			break;
		case '-':
			if (!__builtin_sub_overflow(x->i, y->i, &r))
				return val_int(A, r);
			break;
		case '*':
			if (!__builtin_mul_overflow(x->i, y->i, &r))
				return val_int(A, r);
			break;
		case '/':
			if (y->i == 0)
				return ev_builtin_error(ev, call, "div: divide by zero");
			if (y->i != -1 && x->i % y->i == 0)
				return val_int(A, x->i / y->i);
			break;
		case '%':
			if (y->i == 0)
				return ev_builtin_error(ev, call, "rem: modulo by zero");
			if (y->i == -1)
				return val_int(A, 0);
			return val_int(A, x->i % y->i);
		}
	}
	/* integers leaving the int64 range, or big integers: exact, as OPA's big.Int */
	if (val_is_integer(x) && val_is_integer(y)) {
		struct val *res;
		int nrc = num_int_arith(A, x, y, op, &res);

		if (nrc == 0)
			return res;
		if (nrc == NUM_EDIVZERO)
			return ev_builtin_error(ev, call, op == '/' ? "div: divide by zero"
								    : "rem: modulo by zero");
		if (nrc == NUM_ETOOBIG)
			return ev_builtin_error(ev, call, "%s: integer beyond %d bits", call->fname,
						65536);
		if (nrc == NUM_ENOMEM)
			ev_error(ev, EE_LIMIT, call, "out of memory");
	}
	double a = dbl(x), b = dbl(y), r = 0;

	switch (op) {
	case '+': r = a + b; break;
	case '-': r = a - b; break;
	case '*': r = a * b; break;
	case '/':
		if (b == 0)
			return ev_builtin_error(ev, call, "div: divide by zero");
		r = a / b;
		break;
	case '%':
		return ev_builtin_error(ev, call, "rem: modulo on floating-point number");
	}
	if (isinf(r) || isnan(r))
		return ev_builtin_error(ev, call, "%s: number out of range", call->fname);
	return val_num(A, r);
}

static struct val *set_op(struct ev *ev, struct val *x, struct val *y, char op)
{
	struct val **items = arena_alloc(A, (x->len + y->len + 1) * sizeof(*items));
	size_t n = 0;

	if (op == '|') {
		if (x->len)
			memcpy(items, x->items, x->len * sizeof(*items));
		if (y->len)
			memcpy(items + x->len, y->items, y->len * sizeof(*items));
		n = x->len + y->len;
	} else {
		for (size_t i = 0; i < x->len; i++) {
			bool in = val_set_has(y, x->items[i]);

			if ((op == '&' && in) || (op == '-' && !in))
				items[n++] = x->items[i];
		}
	}
	return val_set_take(A, items, n);
}

static struct val *bi_plus(struct ev *ev, struct val **args, const struct term *call)
{
	return arith(ev, args, call, '+');
}

static struct val *bi_minus(struct ev *ev, struct val **args, const struct term *call)
{
	if (args[0]->t == V_SET && args[1]->t == V_SET)
		return set_op(ev, args[0], args[1], '-');
	if (args[0]->t == V_SET || args[1]->t == V_SET)
		return ev_type_error(ev, call, args[0]->t == V_SET ? 2 : 1, "set",
				     args[0]->t == V_SET ? args[1] : args[0]);
	return arith(ev, args, call, '-');
}

static struct val *bi_mul(struct ev *ev, struct val **args, const struct term *call)
{
	return arith(ev, args, call, '*');
}

static struct val *bi_div(struct ev *ev, struct val **args, const struct term *call)
{
	return arith(ev, args, call, '/');
}

static struct val *bi_rem(struct ev *ev, struct val **args, const struct term *call)
{
	if (args[0]->t == V_NUM && !val_is_integer(args[0]) && args[1]->t == V_NUM)
		return ev_builtin_error(ev, call, "modulo on floating-point number");
	if (args[1]->t == V_NUM && !val_is_integer(args[1]) && args[0]->t == V_NUM)
		return ev_builtin_error(ev, call, "modulo on floating-point number");
	return arith(ev, args, call, '%');
}

static struct val *bi_or(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_SET, "set");
	NEED(1, V_SET, "set");
	return set_op(ev, args[0], args[1], '|');
}

static struct val *bi_and(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_SET, "set");
	NEED(1, V_SET, "set");
	return set_op(ev, args[0], args[1], '&');
}

static struct val *bi_abs(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_NUM, "number");
	if (args[0]->isint && args[0]->i != INT64_MIN)
		return val_int(A, args[0]->i < 0 ? -args[0]->i : args[0]->i);
	if (args[0]->isint) /* |INT64_MIN| = 2^63 */
		return val_num_text(A, "9223372036854775808", 19);
	if (args[0]->big)
		return num_abs_big(A, args[0]);
	return val_num(A, fabs(dbl(args[0])));
}

static struct val *round_op(struct ev *ev, struct val **args, const struct term *call, int m)
{
	NEED(0, V_NUM, "number");
	/* integers, and big decimals too large to have a fraction, round to themselves */
	if (args[0]->isint || args[0]->big == NB_INT || (args[0]->big && isinf(args[0]->d)))
		return args[0];
	double d = args[0]->d;

	return val_num(A, m == 0 ? round(d) : m == 1 ? ceil(d) : floor(d));
}

static struct val *bi_round(struct ev *ev, struct val **args, const struct term *call)
{
	return round_op(ev, args, call, 0);
}

static struct val *bi_ceil(struct ev *ev, struct val **args, const struct term *call)
{
	return round_op(ev, args, call, 1);
}

static struct val *bi_floor(struct ev *ev, struct val **args, const struct term *call)
{
	return round_op(ev, args, call, 2);
}

/* ---------- membership ---------- */

static bool member(struct val *x, struct val *coll)
{
	switch (coll->t) {
	case V_SET:
		return val_set_has(coll, x);
	case V_ARR:
		for (size_t i = 0; i < coll->len; i++)
			if (val_eq(coll->items[i], x))
				return true;
		return false;
	case V_OBJ:
		for (size_t i = 0; i < coll->len; i++)
			if (val_eq(coll->vals[i], x))
				return true;
		return false;
	default:
		return false;
	}
}

static struct val *bi_member2(struct ev *ev, struct val **args, const struct term *call)
{
	return val_bool(member(args[0], args[1]));
}

static struct val *bi_member3(struct ev *ev, struct val **args, const struct term *call)
{
	struct val *k = args[0], *v = args[1], *coll = args[2];
	struct val *x = NULL;

	if (coll->t == V_ARR) {
		if (k->t == V_NUM && k->isint && k->i >= 0 && (uint64_t)k->i < coll->len)
			x = coll->items[k->i];
	} else if (coll->t == V_OBJ) {
		x = val_obj_get(coll, k);
	} else if (coll->t == V_SET) {
		x = val_set_has(coll, k) ? k : NULL;
	}
	return val_bool(x && val_eq(x, v));
}

/* ---------- aggregates ---------- */

/* Length of the UTF-8 sequence at s[i]; an invalid byte counts as one rune (as in Go). */
static size_t rune_len(const char *s, size_t n, size_t i)
{
	unsigned char c = (unsigned char)s[i];
	size_t need;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4;
		cp = c & 0x07;
	} else {
		return 1;
	}
	if (i + need > n)
		return 1;
	for (size_t k = 1; k < need; k++) {
		unsigned char d = (unsigned char)s[i + k];

		if ((d & 0xC0) != 0x80)
			return 1;
		cp = cp << 6 | (d & 0x3F);
	}
	if ((need == 3 && (cp < 0x800 || (cp >= 0xD800 && cp < 0xE000))) ||
	    (need == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 1;
	return need;
}

static size_t utf8_len(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i += rune_len(s, n, i))
		c++;
	return c;
}

static struct val *bi_count(struct ev *ev, struct val **args, const struct term *call)
{
	struct val *x = args[0];

	switch (x->t) {
	case V_STR:
		return val_int(A, (int64_t)utf8_len(x->s, x->len));
	case V_ARR:
	case V_SET:
	case V_OBJ:
		return val_int(A, (int64_t)x->len);
	default:
		return TYPE_ERR(0, "one of {array, object, set, string}");
	}
}

static struct val *sum_prod(struct ev *ev, struct val **args, const struct term *call, bool sum)
{
	struct val *x = args[0];
	struct val *acc = val_int(A, sum ? 0 : 1);

	if (x->t != V_ARR && x->t != V_SET)
		return TYPE_ERR(0, "one of {array, set}");
	for (size_t i = 0; i < x->len; i++) {
		struct val *pair[2] = { acc, x->items[i] };

		if (x->items[i]->t != V_NUM)
			return ev_type_error(ev, call, 1, "array or set of numbers", x->items[i]);
		acc = arith(ev, pair, call, sum ? '+' : '*');
		if (!acc)
			return NULL;
	}
	return acc;
}

static struct val *bi_sum(struct ev *ev, struct val **args, const struct term *call)
{
	return sum_prod(ev, args, call, true);
}

static struct val *bi_product(struct ev *ev, struct val **args, const struct term *call)
{
	return sum_prod(ev, args, call, false);
}

static struct val *minmax(struct ev *ev, struct val **args, const struct term *call, int dir)
{
	struct val *x = args[0], *best = NULL;

	if (x->t != V_ARR && x->t != V_SET)
		return TYPE_ERR(0, "one of {array, set}");
	for (size_t i = 0; i < x->len; i++)
		if (!best || val_cmp(x->items[i], best) * dir > 0)
			best = x->items[i];
	return best;
}

static struct val *bi_max(struct ev *ev, struct val **args, const struct term *call)
{
	return minmax(ev, args, call, 1);
}

static struct val *bi_min(struct ev *ev, struct val **args, const struct term *call)
{
	return minmax(ev, args, call, -1);
}

static int cmp_vp(const void *a, const void *b)
{
	return val_cmp(*(struct val *const *)a, *(struct val *const *)b);
}

static struct val *bi_sort(struct ev *ev, struct val **args, const struct term *call)
{
	struct val *x = args[0];

	if (x->t != V_ARR && x->t != V_SET)
		return TYPE_ERR(0, "one of {array, set}");
	struct val *r = val_arr(A, x->items, x->len);

	if (r->len > 1)
		qsort(r->items, r->len, sizeof(*r->items), cmp_vp);
	return r;
}

/* ---------- strings ---------- */

static struct val *bi_concat(struct ev *ev, struct val **args, const struct term *call)
{
	struct sbuf b = { .a = A };

	NEED(0, V_STR, "string");
	if (args[1]->t != V_ARR && args[1]->t != V_SET)
		return TYPE_ERR(1, "one of {array, set}");
	sb_putn(&b, "", 0);
	for (size_t i = 0; i < args[1]->len; i++) {
		struct val *s = args[1]->items[i];

		if (s->t != V_STR)
			return ev_type_error(ev, call, 2, "array or set of strings", s);
		if (i)
			sb_putn(&b, args[0]->s, args[0]->len);
		sb_putn(&b, s->s, s->len);
	}
	return val_strn(A, b.p, b.n);
}

static const char *memmem_s(const char *h, size_t hn, const char *n, size_t nn)
{
	if (nn == 0)
		return h;
	return memmem(h, hn, n, nn);
}

static struct val *bi_contains(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_STR, "string");
	NEED(1, V_STR, "string");
	return val_bool(memmem_s(args[0]->s, args[0]->len, args[1]->s, args[1]->len) != NULL);
}

static struct val *bi_startswith(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_STR, "string");
	NEED(1, V_STR, "string");
	return val_bool(args[1]->len <= args[0]->len &&
			memcmp(args[0]->s, args[1]->s, args[1]->len) == 0);
}

static struct val *bi_endswith(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_STR, "string");
	NEED(1, V_STR, "string");
	return val_bool(args[1]->len <= args[0]->len &&
			memcmp(args[0]->s + args[0]->len - args[1]->len, args[1]->s,
			       args[1]->len) == 0);
}

static struct val *case_op(struct ev *ev, struct val **args, const struct term *call, bool up)
{
	NEED(0, V_STR, "string");
	struct val *r = val_strn(A, args[0]->s, args[0]->len);
	char *p = (char *)r->s;

	/* ASCII only; multi-byte UTF-8 sequences are left unchanged */
	for (size_t i = 0; i < r->len; i++)
		if (!((unsigned char)p[i] & 0x80))
			p[i] = (char)(up ? toupper((unsigned char)p[i]) : tolower((unsigned char)p[i]));
	return r;
}

static struct val *bi_lower(struct ev *ev, struct val **args, const struct term *call)
{
	return case_op(ev, args, call, false);
}

static struct val *bi_upper(struct ev *ev, struct val **args, const struct term *call)
{
	return case_op(ev, args, call, true);
}

static struct val *bi_split(struct ev *ev, struct val **args, const struct term *call)
{
	struct vec parts = { 0 };
	const char *s, *end;

	NEED(0, V_STR, "string");
	NEED(1, V_STR, "string");
	s = args[0]->s;
	end = s + args[0]->len;
	if (args[1]->len == 0) {
		/* split into UTF-8 characters */
		while (s < end) {
			const char *c = s++;

			while (s < end && ((unsigned char)*s & 0xC0) == 0x80)
				s++;
			vec_push(A, &parts, val_strn(A, c, (size_t)(s - c)));
		}
		return val_arr(A, parts.p, parts.n);
	}
	for (;;) {
		const char *hit = memmem_s(s, (size_t)(end - s), args[1]->s, args[1]->len);

		if (!hit) {
			vec_push(A, &parts, val_strn(A, s, (size_t)(end - s)));
			break;
		}
		vec_push(A, &parts, val_strn(A, s, (size_t)(hit - s)));
		s = hit + args[1]->len;
	}
	return val_arr(A, parts.p, parts.n);
}

static struct val *replace_n(struct ev *ev, const struct val *s, const struct val *old,
			     const struct val *new, int64_t limit)
{
	struct sbuf b = { .a = A };
	const char *p = s->s, *end = s->s + s->len;
	int64_t done = 0;

	sb_putn(&b, "", 0);
	if (old->len == 0) {
		/* Go: insert `new` before each rune and at the end */
		while (p <= end && (limit < 0 || done < limit)) {
			sb_putn(&b, new->s, new->len);
			done++;
			if (p == end) {
				p++;
				break;
			}
			const char *c = p++;

			while (p < end && ((unsigned char)*p & 0xC0) == 0x80)
				p++;
			sb_putn(&b, c, (size_t)(p - c));
		}
		if (p <= end)
			sb_putn(&b, p, (size_t)(end - p));
		return val_strn(A, b.p, b.n);
	}
	while (limit < 0 || done < limit) {
		const char *hit = memmem_s(p, (size_t)(end - p), old->s, old->len);

		if (!hit)
			break;
		sb_putn(&b, p, (size_t)(hit - p));
		sb_putn(&b, new->s, new->len);
		p = hit + old->len;
		done++;
	}
	sb_putn(&b, p, (size_t)(end - p));
	return val_strn(A, b.p, b.n);
}

static struct val *bi_replace(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_STR, "string");
	NEED(1, V_STR, "string");
	NEED(2, V_STR, "string");
	return replace_n(ev, args[0], args[1], args[2], -1);
}

static struct val *bi_replace_n(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_OBJ, "object");
	NEED(1, V_STR, "string");
	struct val *s = args[1];

	for (size_t i = 0; i < args[0]->len; i++) {
		if (args[0]->items[i]->t != V_STR || args[0]->vals[i]->t != V_STR)
			return ev_type_error(ev, call, 1, "object[string: string]", args[0]);
		s = replace_n(ev, s, args[0]->items[i], args[0]->vals[i], -1);
	}
	return s;
}

/* Offsets of UTF-8 characters: returns the byte offset of character index ci. */
static size_t char_off(const char *s, size_t n, size_t ci)
{
	size_t i = 0;

	while (i < n && ci > 0) {
		i += rune_len(s, n, i);
		ci--;
	}
	return i;
}

static struct val *bi_indexof(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_STR, "string");
	NEED(1, V_STR, "string");
	if (args[1]->len == 0)
		return ev_builtin_error(ev, call, "indexof: empty search character");
	const char *hit = memmem_s(args[0]->s, args[0]->len, args[1]->s, args[1]->len);

	if (!hit)
		return val_int(A, -1);
	return val_int(A, (int64_t)utf8_len(args[0]->s, (size_t)(hit - args[0]->s)));
}

static struct val *bi_substring(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_STR, "string");
	NEED(1, V_NUM, "number");
	NEED(2, V_NUM, "number");
	if (!args[1]->isint)
		return TYPE_ERR(1, "integer");
	if (!args[2]->isint)
		return TYPE_ERR(2, "integer");
	int64_t off = args[1]->i, len = args[2]->i;

	if (off < 0)
		return ev_builtin_error(ev, call, "substring: negative offset");
	size_t nchars = utf8_len(args[0]->s, args[0]->len);

	if ((uint64_t)off >= nchars)
		return val_strn(A, "", 0);
	size_t b = char_off(args[0]->s, args[0]->len, (size_t)off);
	size_t e = len < 0 || (uint64_t)off + (uint64_t)len >= nchars ?
			   args[0]->len :
			   char_off(args[0]->s, args[0]->len, (size_t)(off + len));

	return val_strn(A, args[0]->s + b, e - b);
}

static bool in_cutset(const struct val *cut, const char *p, size_t clen)
{
	/* cutset characters are UTF-8 sequences */
	const char *s = cut->s, *end = cut->s + cut->len;

	while (s < end) {
		const char *c = s++;

		while (s < end && ((unsigned char)*s & 0xC0) == 0x80)
			s++;
		if ((size_t)(s - c) == clen && memcmp(c, p, clen) == 0)
			return true;
	}
	return false;
}

static size_t char_len_at(const char *s, size_t n, size_t i)
{
	return rune_len(s, n, i);
}

static size_t char_start_before(const char *s, size_t e)
{
	size_t i = e - 1;

	while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
		i--;
	return i;
}

static struct val *trim_op(struct ev *ev, struct val **args, const struct term *call, bool l,
			   bool r)
{
	NEED(0, V_STR, "string");
	NEED(1, V_STR, "string");
	const char *s = args[0]->s;
	size_t b = 0, e = args[0]->len;

	while (l && b < e) {
		size_t cl = char_len_at(s, e, b);

		if (!in_cutset(args[1], s + b, cl))
			break;
		b += cl;
	}
	while (r && e > b) {
		size_t st = char_start_before(s, e);

		if (!in_cutset(args[1], s + st, e - st))
			break;
		e = st;
	}
	return val_strn(A, s + b, e - b);
}

static struct val *bi_trim(struct ev *ev, struct val **args, const struct term *call)
{
	return trim_op(ev, args, call, true, true);
}

static struct val *bi_trim_left(struct ev *ev, struct val **args, const struct term *call)
{
	return trim_op(ev, args, call, true, false);
}

static struct val *bi_trim_right(struct ev *ev, struct val **args, const struct term *call)
{
	return trim_op(ev, args, call, false, true);
}

static struct val *bi_trim_prefix(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_STR, "string");
	NEED(1, V_STR, "string");
	if (args[1]->len <= args[0]->len && memcmp(args[0]->s, args[1]->s, args[1]->len) == 0)
		return val_strn(A, args[0]->s + args[1]->len, args[0]->len - args[1]->len);
	return args[0];
}

static struct val *bi_trim_suffix(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_STR, "string");
	NEED(1, V_STR, "string");
	if (args[1]->len <= args[0]->len &&
	    memcmp(args[0]->s + args[0]->len - args[1]->len, args[1]->s, args[1]->len) == 0)
		return val_strn(A, args[0]->s, args[0]->len - args[1]->len);
	return args[0];
}

static struct val *bi_trim_space(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_STR, "string");
	const char *s = args[0]->s;
	size_t b = 0, e = args[0]->len;

	while (b < e && isspace((unsigned char)s[b]))
		b++;
	while (e > b && isspace((unsigned char)s[e - 1]))
		e--;
	return val_strn(A, s + b, e - b);
}

static struct val *bi_strings_reverse(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_STR, "string");
	size_t n = args[0]->len;
	char *out = arena_alloc(A, n + 1);
	const char *s = args[0]->s;
	size_t o = n;

	for (size_t i = 0; i < n;) {
		size_t cl = char_len_at(s, n, i);

		o -= cl;
		memcpy(out + o, s + i, cl);
		i += cl;
	}
	return val_strn(A, out, n);
}

static struct val *bi_format_int(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_NUM, "number");
	NEED(1, V_NUM, "number");
	int64_t base = args[1]->isint ? args[1]->i : 0;

	if (base != 2 && base != 8 && base != 10 && base != 16)
		return TYPE_ERR(1, "one of {2, 8, 10, 16}");
	if (args[0]->big == NB_INT) {
		bool neg;
		const char *dg = num_int_digits(A, args[0], (int)base, false, &neg);

		if (!dg)
			ev_error(ev, EE_LIMIT, call, "out of memory");
		struct sbuf t = { .a = A };

		sb_puts(&t, neg ? "-" : "");
		sb_puts(&t, dg);
		return val_strn(A, t.p, t.n);
	}
	if (args[0]->big && isinf(args[0]->d))
		return ev_builtin_error(ev, call, "format_int: number beyond the double range");
	double d = dbl(args[0]);
	int64_t v = args[0]->isint ? args[0]->i : (int64_t)trunc(d);
	char buf[80];
	size_t o = sizeof(buf);
	bool neg = v < 0;
	uint64_t u = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	buf[--o] = 0;
	do {
		buf[--o] = "0123456789abcdef"[u % (uint64_t)base];
		u /= (uint64_t)base;
	} while (u);
	if (neg)
		buf[--o] = '-';
	return val_str(A, buf + o);
}

/* Go's %v / strconv 'g' -1 formatting of a float64 (exponent form outside [1e-4, 1e21)). */
static void fmt_float(struct sbuf *b, double d)
{
	char tmp[64];
	int prec;

	if (isinf(d)) {
		sb_puts(b, d > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	int exp = atoi(strchr(tmp, 'e') + 1);

	if (exp < -4 || exp >= 21) {
		/* mantissa digits, then e+XX as Go prints it */
		char *e = strchr(tmp, 'e');

		*e = 0;
		sb_puts(b, tmp);
		sb_printf(b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
		return;
	}
	int decimals = prec - 1 - exp;

	snprintf(tmp, sizeof(tmp), "%.*f", decimals > 0 ? decimals : 0, d);
	sb_puts(b, tmp);
}

/* Rego text of a value as OPA's %v prints it (strings unquoted at the top level). */
static void write_v(struct sbuf *b, const struct val *v, bool top)
{
	if (v->t == V_STR && top) {
		sb_putn(b, v->s, v->len);
		return;
	}
	if (v->t == V_NUM && !v->isint && !v->big) {
		fmt_float(b, v->d);
		return;
	}
	if (v->t == V_ARR || v->t == V_SET || v->t == V_OBJ) {
		if (v->t == V_SET && v->len == 0) {
			sb_puts(b, "set()");
			return;
		}
		sb_putc(b, v->t == V_ARR ? '[' : '{');
		for (size_t i = 0; i < v->len; i++) {
			if (i)
				sb_puts(b, ", ");
			write_v(b, v->items[i], false);
			if (v->t == V_OBJ) {
				sb_puts(b, ": ");
				write_v(b, v->vals[i], false);
			}
		}
		sb_putc(b, v->t == V_ARR ? ']' : '}');
		return;
	}
	val_write(b, v, false);
}

struct fspec {
	bool minus, plus, space, zero, sharp;
	int width, prec; /* -1 = absent */
};

/* Pads str per the spec (sign-aware zero padding for numbers). */
static void pad_out(struct sbuf *b, const struct fspec *fs, const char *str, size_t n, bool num)
{
	size_t w = fs->width > 0 ? (size_t)fs->width : 0;
	size_t chars = utf8_len(str, n);

	if (chars >= w) {
		sb_putn(b, str, n);
		return;
	}
	size_t pad = w - chars;

	if (fs->minus) {
		sb_putn(b, str, n);
		while (pad--)
			sb_putc(b, ' ');
		return;
	}
	if (fs->zero && num) {
		if (n && (str[0] == '-' || str[0] == '+' || str[0] == ' ')) {
			sb_putc(b, str[0]);
			str++;
			n--;
		}
		while (pad--)
			sb_putc(b, '0');
		sb_putn(b, str, n);
		return;
	}
	while (pad--)
		sb_putc(b, ' ');
	sb_putn(b, str, n);
}

static void sign_prefix(const struct fspec *fs, bool neg, char *out)
{
	out[0] = neg ? '-' : fs->plus ? '+' : fs->space ? ' ' : 0;
	out[1] = 0;
}

static void fmt_int(struct sbuf *b, const struct fspec *fs, int64_t v, char verb)
{
	char digits[80], tmp[100];
	int base = verb == 'x' || verb == 'X' ? 16 : verb == 'o' ? 8 : verb == 'b' ? 2 : 10;
	const char *alpha = verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	int o = (int)sizeof(digits) - 1;
	char sign[2];

	digits[o] = 0;
	do {
		digits[--o] = alpha[u % (uint64_t)base];
		u /= (uint64_t)base;
	} while (u);
	sign_prefix(fs, v < 0, sign);
	snprintf(tmp, sizeof(tmp), "%s%s", sign, digits + o);
	pad_out(b, fs, tmp, strlen(tmp), true);
}

/* An integer beyond int64 (Go formats a *big.Int the same way as an int). */
static void fmt_bigint(struct sbuf *b, const struct fspec *fs, const struct val *v, char verb)
{
	int base = verb == 'x' || verb == 'X' ? 16 : verb == 'o' ? 8 : verb == 'b' ? 2 : 10;
	bool neg;
	const char *dg = num_int_digits(b->a, v, base, verb == 'X', &neg);
	char sign[2];
	struct sbuf t = { .a = b->a };

	sign_prefix(fs, neg, sign);
	sb_puts(&t, sign);
	sb_puts(&t, dg ? dg : "");
	pad_out(b, fs, t.p ? t.p : "", t.n, true);
}

static void fmt_dbl(struct sbuf *b, const struct fspec *fs, double d, char verb)
{
	char tmp[400];
	int prec = fs->prec >= 0 ? (fs->prec > 100 ? 100 : fs->prec) : 6;

	if ((verb == 'g' || verb == 'G') && fs->prec < 0) {
		struct sbuf t = { .a = b->a };

		fmt_float(&t, d);
		if (fs->plus && d >= 0)
			sb_putc(b, '+');
		pad_out(b, fs, t.p ? t.p : "", t.n, true);
		return;
	}
	switch (verb) {
	case 'e': snprintf(tmp, sizeof(tmp), "%.*e", prec, d); break;
	case 'E': snprintf(tmp, sizeof(tmp), "%.*E", prec, d); break;
	case 'g': snprintf(tmp, sizeof(tmp), "%.*g", prec, d); break;
	case 'G': snprintf(tmp, sizeof(tmp), "%.*G", prec, d); break;
	default: snprintf(tmp, sizeof(tmp), "%.*f", prec, d); break;
	}
	if ((fs->plus || fs->space) && tmp[0] != '-') {
		char t2[402];

		snprintf(t2, sizeof(t2), "%c%s", fs->plus ? '+' : ' ', tmp);
		pad_out(b, fs, t2, strlen(t2), true);
		return;
	}
	pad_out(b, fs, tmp, strlen(tmp), true);
}

static void fmt_bad(struct sbuf *b, char verb, const struct val *x)
{
	sb_printf(b, "%%!%c(", verb);
	write_v(b, x, false);
	sb_putc(b, ')');
}

/* sprintf with Go fmt verbs: v s q t d x X o b f F e E g G and width/precision/flags. */
static struct val *bi_sprintf(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_STR, "string");
	NEED(1, V_ARR, "array");
	const char *f = args[0]->s, *end = f + args[0]->len;
	struct val *av = args[1];
	size_t ai = 0;
	struct sbuf b = { .a = A };

	sb_putn(&b, "", 0);
	while (f < end) {
		if (*f != '%') {
			sb_putc(&b, *f++);
			continue;
		}
		f++;
		if (f < end && *f == '%') {
			sb_putc(&b, '%');
			f++;
			continue;
		}
		struct fspec fs = { .width = -1, .prec = -1 };

		for (; f < end && strchr("-+# 0", *f); f++) {
			fs.minus |= *f == '-';
			fs.plus |= *f == '+';
			fs.space |= *f == ' ';
			fs.zero |= *f == '0';
			fs.sharp |= *f == '#';
		}
		while (f < end && isdigit((unsigned char)*f)) {
			fs.width = (fs.width < 0 ? 0 : fs.width) * 10 + (*f++ - '0');
			if (fs.width > 1000)
				fs.width = 1000;
		}
		if (f < end && *f == '.') {
			f++;
			fs.prec = 0;
			while (f < end && isdigit((unsigned char)*f)) {
				fs.prec = fs.prec * 10 + (*f++ - '0');
				if (fs.prec > 1000)
					fs.prec = 1000;
			}
		}
		if (f >= end) {
			sb_puts(&b, "%!(NOVERB)");
			break;
		}
		char verb = *f++;

		if (ai >= av->len) {
			sb_printf(&b, "%%!%c(MISSING)", verb);
			continue;
		}
		struct val *x = av->items[ai++];
		struct sbuf t = { .a = A };

		switch (verb) {
		case 'v':
		case 's':
		case 't':
			if (x->t == V_NUM && x->isint && verb == 'v') {
				fmt_int(&b, &fs, x->i, 'd');
				break;
			}
			write_v(&t, x, true);
			if (fs.prec >= 0 && x->t == V_STR && (size_t)fs.prec < utf8_len(t.p, t.n))
				t.n = char_off(t.p, t.n, (size_t)fs.prec);
			pad_out(&b, &fs, t.p ? t.p : "", t.n, false);
			break;
		case 'q':
			if (x->t == V_STR)
				val_write(&t, x, false);
			else
				write_v(&t, x, true);
			pad_out(&b, &fs, t.p ? t.p : "", t.n, false);
			break;
		case 'd':
		case 'x':
		case 'X':
		case 'o':
		case 'b':
			if (x->t == V_NUM && x->isint) {
				fmt_int(&b, &fs, x->i, verb);
			} else if (x->t == V_NUM && x->big == NB_INT) {
				fmt_bigint(&b, &fs, x, verb);
			} else if (x->t == V_STR && (verb == 'x' || verb == 'X')) {
				for (size_t i = 0; i < x->len; i++)
					sb_printf(&t, verb == 'x' ? "%02x" : "%02X",
						  (unsigned char)x->s[i]);
				pad_out(&b, &fs, t.p ? t.p : "", t.n, false);
			} else {
				fmt_bad(&b, verb, x);
			}
			break;
		case 'f':
		case 'F':
		case 'e':
		case 'E':
		case 'g':
		case 'G':
			if (x->t == V_NUM)
				fmt_dbl(&b, &fs, dbl(x), verb);
			else
				fmt_bad(&b, verb, x);
			break;
		default:
			fmt_bad(&b, verb, x);
		}
	}
	if (ai < av->len) {
		sb_puts(&b, "%!(EXTRA ");
		for (size_t i = ai; i < av->len; i++) {
			if (i > ai)
				sb_puts(&b, ", ");
			write_v(&b, av->items[i], true);
		}
		sb_putc(&b, ')');
	}
	return val_strn(A, b.p, b.n);
}

/* string or collection of strings -> items (for any_prefix_match & co) */
static bool str_items(struct val *v, struct val ***items, size_t *n, struct val **one)
{
	if (v->t == V_STR) {
		*one = v;
		*items = one;
		*n = 1;
		return true;
	}
	if (v->t != V_ARR && v->t != V_SET)
		return false;
	for (size_t i = 0; i < v->len; i++)
		if (v->items[i]->t != V_STR)
			return false;
	*items = v->items;
	*n = v->len;
	return true;
}

static struct val *any_match(struct ev *ev, struct val **args, const struct term *call,
			     bool prefix)
{
	struct val **a, **b, *oa, *ob;
	size_t na, nb;

	if (!str_items(args[0], &a, &na, &oa))
		return TYPE_ERR(0, "one of {array, set, string}");
	if (!str_items(args[1], &b, &nb, &ob))
		return TYPE_ERR(1, "one of {array, set, string}");
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++) {
			const struct val *s = a[i], *x = b[j];

			if (x->len <= s->len &&
			    memcmp(prefix ? s->s : s->s + s->len - x->len, x->s, x->len) == 0)
				return RV_TRUE;
		}
	return RV_FALSE;
}

static struct val *bi_any_prefix(struct ev *ev, struct val **args, const struct term *call)
{
	return any_match(ev, args, call, true);
}

static struct val *bi_any_suffix(struct ev *ev, struct val **args, const struct term *call)
{
	return any_match(ev, args, call, false);
}

static struct val *bi_strings_count(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_STR, "string");
	NEED(1, V_STR, "string");
	const char *p = args[0]->s, *end = p + args[0]->len;
	int64_t n = 0;

	if (args[1]->len == 0)
		return val_int(A, (int64_t)utf8_len(args[0]->s, args[0]->len) + 1);
	for (;;) {
		const char *hit = memmem_s(p, (size_t)(end - p), args[1]->s, args[1]->len);

		if (!hit)
			break;
		n++;
		p = hit + args[1]->len;
	}
	return val_int(A, n);
}

static struct val *bi_indexof_n(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_STR, "string");
	NEED(1, V_STR, "string");
	struct vec out = { 0 };
	const char *s = args[0]->s;
	size_t n = args[0]->len, m = args[1]->len;

	if (m == 0)
		return ev_builtin_error(ev, call, "indexof_n: empty search character");
	for (size_t i = 0, ci = 0; i < n; i += rune_len(s, n, i), ci++)
		if (i + m <= n && memcmp(s + i, args[1]->s, m) == 0)
			vec_push(A, &out, val_int(A, (int64_t)ci));
	return val_arr(A, out.p, out.n);
}

static struct val *bi_numbers_range(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_NUM, "number");
	NEED(1, V_NUM, "number");
	if (!args[0]->isint)
		return TYPE_ERR(0, "integer");
	if (!args[1]->isint)
		return TYPE_ERR(1, "integer");
	int64_t a = args[0]->i, b = args[1]->i;
	uint64_t n = (a <= b ? (uint64_t)b - (uint64_t)a : (uint64_t)a - (uint64_t)b) + 1;

	if (n > 1000000)
		ev_error(ev, EE_LIMIT, call, "numbers.range: range too large");
	struct val **items = arena_alloc(A, (size_t)n * sizeof(*items));

	for (uint64_t i = 0; i < n; i++)
		items[i] = val_int(A, a <= b ? a + (int64_t)i : a - (int64_t)i);
	struct val *r = arena_alloc(A, sizeof(*r));

	r->t = V_ARR;
	r->items = items;
	r->len = (size_t)n;
	return r;
}

/* ---------- objects, arrays, sets ---------- */

static struct val *bi_object_get(struct ev *ev, struct val **args, const struct term *call)
{
	struct val *o = args[0], *key = args[1];

	NEED(0, V_OBJ, "object");
	if (key->t == V_ARR) {
		struct val *cur = o;

		for (size_t i = 0; i < key->len && cur; i++) {
			if (cur->t == V_OBJ)
				cur = val_obj_get(cur, key->items[i]);
			else if (cur->t == V_ARR || cur->t == V_SET) {
				struct val *k = key->items[i];

				if (cur->t == V_SET)
					cur = val_set_has(cur, k) ? k : NULL;
				else
					cur = k->t == V_NUM && k->isint && k->i >= 0 &&
							      (uint64_t)k->i < cur->len ?
						      cur->items[k->i] :
						      NULL;
			} else {
				cur = NULL;
			}
		}
		return cur ? cur : args[2];
	}
	struct val *v = val_obj_get(o, key);

	return v ? v : args[2];
}

static struct val *bi_object_keys(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_OBJ, "object");
	struct val **ks = arena_alloc(A, (args[0]->len + 1) * sizeof(*ks));

	if (args[0]->len)
		memcpy(ks, args[0]->items, args[0]->len * sizeof(*ks));
	return val_set_take(A, ks, args[0]->len);
}

/* Recursive merge: b wins; nested objects merge. */
static struct val *obj_union(struct ev *ev, struct val *a, struct val *b)
{
	if (a->t != V_OBJ || b->t != V_OBJ)
		return b;
	size_t cap = a->len + b->len + 1, m = 0;
	struct val **ks = arena_alloc(A, cap * sizeof(*ks));
	struct val **vs = arena_alloc(A, cap * sizeof(*vs));
	bool conflict;

	for (size_t i = 0; i < a->len; i++) {
		struct val *bv = val_obj_get(b, a->items[i]);

		ks[m] = a->items[i];
		vs[m] = bv ? obj_union(ev, a->vals[i], bv) : a->vals[i];
		m++;
	}
	for (size_t i = 0; i < b->len; i++) {
		if (val_obj_get(a, b->items[i]))
			continue;
		ks[m] = b->items[i];
		vs[m] = b->vals[i];
		m++;
	}
	return val_obj_take(A, ks, vs, m, &conflict);
}

static struct val *bi_object_union(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_OBJ, "object");
	NEED(1, V_OBJ, "object");
	return obj_union(ev, args[0], args[1]);
}

static struct val *bi_object_union_n(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_ARR, "array");
	bool conflict;
	struct val *acc = val_obj_take(A, arena_alloc(A, 8), arena_alloc(A, 8), 0, &conflict);

	for (size_t i = 0; i < args[0]->len; i++) {
		if (args[0]->items[i]->t != V_OBJ)
			return ev_type_error(ev, call, 1, "array of objects", args[0]->items[i]);
		acc = obj_union(ev, acc, args[0]->items[i]);
	}
	return acc;
}

static struct val *bi_object_remove(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_OBJ, "object");
	struct val *o = args[0], *rm = args[1];

	if (rm->t != V_ARR && rm->t != V_SET && rm->t != V_OBJ)
		return TYPE_ERR(1, "one of {array, object, set}");
	struct val **ks = arena_alloc(A, (o->len + 1) * sizeof(*ks));
	struct val **vs = arena_alloc(A, (o->len + 1) * sizeof(*vs));
	size_t m = 0;
	bool conflict;

	for (size_t i = 0; i < o->len; i++) {
		bool drop = rm->t == V_OBJ ? val_obj_get(rm, o->items[i]) != NULL :
					     member(o->items[i], rm);

		if (!drop) {
			ks[m] = o->items[i];
			vs[m] = o->vals[i];
			m++;
		}
	}
	return val_obj_take(A, ks, vs, m, &conflict);
}

static struct val *bi_array_concat(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_ARR, "array");
	NEED(1, V_ARR, "array");
	size_t n = args[0]->len + args[1]->len;
	struct val **items = arena_alloc(A, (n + 1) * sizeof(*items));

	if (args[0]->len)
		memcpy(items, args[0]->items, args[0]->len * sizeof(*items));
	if (args[1]->len)
		memcpy(items + args[0]->len, args[1]->items, args[1]->len * sizeof(*items));
	return val_arr(A, items, n);
}

static struct val *bi_array_slice(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_ARR, "array");
	NEED(1, V_NUM, "number");
	NEED(2, V_NUM, "number");
	if (!args[1]->isint)
		return TYPE_ERR(1, "integer");
	if (!args[2]->isint)
		return TYPE_ERR(2, "integer");
	int64_t n = (int64_t)args[0]->len, s = args[1]->i, e = args[2]->i;

	if (s < 0)
		s = 0;
	if (e > n)
		e = n;
	if (s >= e)
		return val_arr(A, NULL, 0);
	return val_arr(A, args[0]->items + s, (size_t)(e - s));
}

static struct val *bi_array_reverse(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_ARR, "array");
	struct val *r = val_arr(A, args[0]->items, args[0]->len);

	for (size_t i = 0; i < r->len / 2; i++) {
		struct val *t = r->items[i];

		r->items[i] = r->items[r->len - 1 - i];
		r->items[r->len - 1 - i] = t;
	}
	return r;
}

static void flatten_into(struct ev *ev, struct val *a, struct vec *out)
{
	for (size_t i = 0; i < a->len; i++) {
		if (a->items[i]->t == V_ARR)
			flatten_into(ev, a->items[i], out);
		else
			vec_push(A, out, a->items[i]);
	}
}

static struct val *bi_flatten(struct ev *ev, struct val **args, const struct term *call)
{
	struct vec out = { 0 };

	NEED(0, V_ARR, "array");
	flatten_into(ev, args[0], &out);
	return val_arr(A, out.p, out.n);
}

/* array.flatten(a): array elements of a are spliced in, one level deep (OPA) */
static struct val *bi_array_flatten(struct ev *ev, struct val **args, const struct term *call)
{
	struct vec out = { 0 };
	struct val *a = args[0];

	NEED(0, V_ARR, "array");
	for (size_t i = 0; i < a->len; i++) {
		if (a->items[i]->t != V_ARR) {
			vec_push(A, &out, a->items[i]);
			continue;
		}
		for (size_t j = 0; j < a->items[i]->len; j++)
			vec_push(A, &out, a->items[i]->items[j]);
	}
	return val_arr(A, out.p, out.n);
}

static struct val *setn(struct ev *ev, struct val **args, const struct term *call, bool uni)
{
	NEED(0, V_SET, "set");
	struct val *acc = NULL;

	for (size_t i = 0; i < args[0]->len; i++) {
		struct val *s = args[0]->items[i];

		if (s->t != V_SET)
			return ev_type_error(ev, call, 1, "set of sets", s);
		acc = acc ? set_op(ev, acc, s, uni ? '|' : '&') : s;
	}
	return acc ? acc : val_set_take(A, arena_alloc(A, 8), 0);
}

static struct val *bi_union(struct ev *ev, struct val **args, const struct term *call)
{
	return setn(ev, args, call, true);
}

static struct val *bi_intersection(struct ev *ev, struct val **args, const struct term *call)
{
	return setn(ev, args, call, false);
}

/* ---------- types ---------- */

static struct val *bi_type_name(struct ev *ev, struct val **args, const struct term *call)
{
	return val_str(A, val_type_name(args[0]));
}

#define IS_FN(name, ty)                                                                  \
	static struct val *bi_is_##name(struct ev *ev, struct val **args,                \
					const struct term *call)                         \
	{                                                                                \
		return val_bool(args[0]->t == (ty));                                     \
	}
IS_FN(number, V_NUM)
IS_FN(string, V_STR)
IS_FN(boolean, V_BOOL)
IS_FN(array, V_ARR)
IS_FN(set, V_SET)
IS_FN(object, V_OBJ)
IS_FN(null, V_NULL)

static struct val *bi_to_number(struct ev *ev, struct val **args, const struct term *call)
{
	struct val *x = args[0];

	switch (x->t) {
	case V_NULL:
		return val_int(A, 0);
	case V_BOOL:
		return val_int(A, x->b ? 1 : 0);
	case V_NUM:
		return x;
	case V_STR: {
		/* JSON number syntax only (no hex, no inf/nan words, no spaces) */
		const char *s = x->s;
		size_t i = 0, n = x->len;

		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		if (n - i >= 3 && (strncasecmp(s + i, "nan", 3) == 0 || strncasecmp(s + i, "inf", 3) == 0))
			return ev_type_error(ev, call, 1, "a finite number", x);
		if (i >= n || !isdigit((unsigned char)s[i]))
			return ev_builtin_error(ev, call, "strconv.ParseFloat: parsing \"%.*s\": invalid syntax", (int)(n > 64 ? 64 : n), s);
		while (i < n && isdigit((unsigned char)s[i]))
			i++;
		if (i < n && s[i] == '.') {
			i++;
			if (i >= n || !isdigit((unsigned char)s[i]))
				return ev_builtin_error(ev, call, "invalid number");
			while (i < n && isdigit((unsigned char)s[i]))
				i++;
		}
		if (i < n && (s[i] == 'e' || s[i] == 'E')) {
			i++;
			if (i < n && (s[i] == '+' || s[i] == '-'))
				i++;
			if (i >= n || !isdigit((unsigned char)s[i]))
				return ev_builtin_error(ev, call, "invalid number");
			while (i < n && isdigit((unsigned char)s[i]))
				i++;
		}
		if (i != n)
			return ev_builtin_error(ev, call, "strconv.ParseFloat: parsing \"%.*s\": invalid syntax", (int)(n > 64 ? 64 : n), s);
		/* OPA keeps the text (exact big integers) but refuses what overflows a float64 */
		struct val *r = val_num_text(A, s, n);

		if (r->big == NB_DEC && isinf(r->d))
			return ev_builtin_error(ev, call, "strconv.ParseFloat: parsing \"%.*s\": value out of range", (int)(n > 64 ? 64 : n), s);
		return r;
	}
	default:
		return TYPE_ERR(0, "one of {boolean, null, number, string}");
	}
}

/* ---------- table ---------- */

/* opa.runtime(): OPA's runtime configuration; this engine has none, so an empty object. */
static struct val *bi_opa_runtime(struct ev *ev, struct val **args, const struct term *call)
{
	bool conflict;

	(void)args;
	(void)call;
	return val_obj_take(A, NULL, NULL, 0, &conflict);
}

static const struct builtin builtins[] = {
	{ "equal", 2, bi_equal, false },
	{ "neq", 2, bi_neq, false },
	{ "lt", 2, bi_lt, false },
	{ "lte", 2, bi_lte, false },
	{ "gt", 2, bi_gt, false },
	{ "gte", 2, bi_gte, false },
	{ "plus", 2, bi_plus, false },
	{ "minus", 2, bi_minus, false },
	{ "mul", 2, bi_mul, false },
	{ "div", 2, bi_div, false },
	{ "rem", 2, bi_rem, false },
	{ "or", 2, bi_or, false },
	{ "and", 2, bi_and, false },
	{ "abs", 1, bi_abs, false },
	{ "round", 1, bi_round, false },
	{ "ceil", 1, bi_ceil, false },
	{ "floor", 1, bi_floor, false },
	{ "internal.member_2", 2, bi_member2, false },
	{ "internal.member_3", 3, bi_member3, false },
	{ "count", 1, bi_count, false },
	{ "sum", 1, bi_sum, false },
	{ "product", 1, bi_product, false },
	{ "max", 1, bi_max, false },
	{ "min", 1, bi_min, false },
	{ "sort", 1, bi_sort, false },
	{ "concat", 2, bi_concat, false },
	{ "contains", 2, bi_contains, false },
	{ "startswith", 2, bi_startswith, false },
	{ "endswith", 2, bi_endswith, false },
	{ "lower", 1, bi_lower, false },
	{ "upper", 1, bi_upper, false },
	{ "split", 2, bi_split, false },
	{ "replace", 3, bi_replace, false },
	{ "strings.replace_n", 2, bi_replace_n, false },
	{ "strings.reverse", 1, bi_strings_reverse, false },
	{ "indexof", 2, bi_indexof, false },
	{ "indexof_n", 2, bi_indexof_n, false },
	{ "strings.any_prefix_match", 2, bi_any_prefix, false },
	{ "strings.any_suffix_match", 2, bi_any_suffix, false },
	{ "strings.count", 2, bi_strings_count, false },
	{ "numbers.range", 2, bi_numbers_range, false },
	{ "substring", 3, bi_substring, false },
	{ "trim", 2, bi_trim, false },
	{ "trim_left", 2, bi_trim_left, false },
	{ "trim_right", 2, bi_trim_right, false },
	{ "trim_prefix", 2, bi_trim_prefix, false },
	{ "trim_suffix", 2, bi_trim_suffix, false },
	{ "trim_space", 1, bi_trim_space, false },
	{ "format_int", 2, bi_format_int, false },
	{ "sprintf", 2, bi_sprintf, false },
	{ "object.get", 3, bi_object_get, false },
	{ "object.keys", 1, bi_object_keys, false },
	{ "object.union", 2, bi_object_union, false },
	{ "object.union_n", 1, bi_object_union_n, false },
	{ "object.remove", 2, bi_object_remove, false },
	{ "array.concat", 2, bi_array_concat, false },
	{ "array.slice", 3, bi_array_slice, false },
	{ "array.reverse", 1, bi_array_reverse, false },
	{ "flatten", 1, bi_flatten, false },
	{ "array.flatten", 1, bi_array_flatten, false },
	{ "union", 1, bi_union, false },
	{ "intersection", 1, bi_intersection, false },
	{ "type_name", 1, bi_type_name, false },
	{ "is_number", 1, bi_is_number, false },
	{ "is_string", 1, bi_is_string, false },
	{ "is_boolean", 1, bi_is_boolean, false },
	{ "is_array", 1, bi_is_array, false },
	{ "is_set", 1, bi_is_set, false },
	{ "is_object", 1, bi_is_object, false },
	{ "is_null", 1, bi_is_null, false },
	{ "to_number", 1, bi_to_number, false },
	{ "opa.runtime", 0, bi_opa_runtime, false },
	/* known to OPA, not implemented here: usable only as `with` targets (policy tests) */
	{ "http.send", 1, NULL, true },
	{ "io.jwt.decode_verify", 2, NULL, true },
};

static const struct builtin *find_in(const struct builtin *t, size_t n, const char *name,
				    size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(t[i].name) == len && memcmp(t[i].name, name, len) == 0)
			return &t[i];
	return NULL;
}

const struct builtin *rego_builtin_find(const char *name, size_t len)
{
	const struct builtin *b = find_in(builtins, sizeof(builtins) / sizeof(builtins[0]), name, len);

	if (!b)
		b = find_in(rego_bi_encoding, rego_bi_encoding_n, name, len);
	if (!b)
		b = find_in(rego_bi_text, rego_bi_text_n, name, len);
	if (!b)
		b = find_in(rego_bi_time, rego_bi_time_n, name, len);
	if (!b)
		b = find_in(rego_bi_yaml, rego_bi_yaml_n, name, len);
	return b;
}

const struct builtin *rego_builtin_at(size_t i)
{
	const size_t n0 = sizeof(builtins) / sizeof(builtins[0]);

	if (i < n0)
		return &builtins[i];
	i -= n0;
	if (i < rego_bi_encoding_n)
		return &rego_bi_encoding[i];
	i -= rego_bi_encoding_n;
	if (i < rego_bi_text_n)
		return &rego_bi_text[i];
	i -= rego_bi_text_n;
	if (i < rego_bi_time_n)
		return &rego_bi_time[i];
	i -= rego_bi_time_n;
	return i < rego_bi_yaml_n ? &rego_bi_yaml[i] : NULL;
}
