// SPDX-License-Identifier: Apache-2.0
/*
 * Rego built-ins: strings (concat, split, replace, indexof, substring, trim*, strings.*) and
 * numbers.range. format_int and sprintf (Go's fmt verbs) are in rego_bi_sprintf.c.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "server/policy/rego_bi.h"

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
	size_t b = utf8_off(args[0]->s, args[0]->len, (size_t)off);
	size_t e = len < 0 || (uint64_t)off + (uint64_t)len >= nchars ?
			   args[0]->len :
			   utf8_off(args[0]->s, args[0]->len, (size_t)(off + len));

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

const struct builtin rego_bi_strings[] = {
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
};
const size_t rego_bi_strings_n = sizeof(rego_bi_strings) / sizeof(rego_bi_strings[0]);
