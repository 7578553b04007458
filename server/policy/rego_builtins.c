// SPDX-License-Identifier: Apache-2.0
/*
 * Rego built-in functions. Each takes evaluated arguments and returns a value, or NULL for
 * "undefined". Wrong operand types go through ev_type_error(), other failures through
 * ev_builtin_error(); both abort the evaluation unless the caller asked for OPA's lenient
 * mode. This file holds comparison, arithmetic, aggregates and types, and the table of
 * tables; membership, objects, arrays and sets, strings, sprintf, encodings, text (regex,
 * semver, units), time and YAML live in rego_bi_*.c.
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

static struct val *bi_plus(struct ev *ev, struct val **args, const struct term *call)
{
	return arith(ev, args, call, '+');
}

static struct val *bi_minus(struct ev *ev, struct val **args, const struct term *call)
{
	if (args[0]->t == V_SET && args[1]->t == V_SET)
		return rego_set_op(ev, args[0], args[1], '-');
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
	return rego_set_op(ev, args[0], args[1], '|');
}

static struct val *bi_and(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_SET, "set");
	NEED(1, V_SET, "set");
	return rego_set_op(ev, args[0], args[1], '&');
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

/* ---------- aggregates ---------- */

/* Length of the UTF-8 sequence at s[i]; an invalid byte counts as one rune (as in Go). */
size_t rune_len(const char *s, size_t n, size_t i)
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

size_t utf8_len(const char *s, size_t n)
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
	{ "count", 1, bi_count, false },
	{ "sum", 1, bi_sum, false },
	{ "product", 1, bi_product, false },
	{ "max", 1, bi_max, false },
	{ "min", 1, bi_min, false },
	{ "sort", 1, bi_sort, false },
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
static const size_t builtins_n = sizeof(builtins) / sizeof(builtins[0]);

static const struct {
	const struct builtin *t;
	const size_t *n;
} tables[] = {
	{ builtins, &builtins_n },
	{ rego_bi_coll, &rego_bi_coll_n },
	{ rego_bi_strings, &rego_bi_strings_n },
	{ rego_bi_sprintf, &rego_bi_sprintf_n },
	{ rego_bi_encoding, &rego_bi_encoding_n },
	{ rego_bi_text, &rego_bi_text_n },
	{ rego_bi_time, &rego_bi_time_n },
	{ rego_bi_yaml, &rego_bi_yaml_n },
};

const struct builtin *rego_builtin_find(const char *name, size_t len)
{
	for (size_t k = 0; k < sizeof(tables) / sizeof(tables[0]); k++)
		for (size_t i = 0; i < *tables[k].n; i++)
			if (strlen(tables[k].t[i].name) == len &&
			    memcmp(tables[k].t[i].name, name, len) == 0)
				return &tables[k].t[i];
	return NULL;
}

const struct builtin *rego_builtin_at(size_t i)
{
	for (size_t k = 0; k < sizeof(tables) / sizeof(tables[0]); k++) {
		if (i < *tables[k].n)
			return &tables[k].t[i];
		i -= *tables[k].n;
	}
	return NULL;
}
