// SPDX-License-Identifier: Apache-2.0
/* Arena allocator and Rego values (ordering, equality, JSON conversion). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/policy/rego_int.h"

const struct val rv_null = { .t = V_NULL };
const struct val rv_true = { .t = V_BOOL, .b = true };
const struct val rv_false = { .t = V_BOOL, .b = false };

/* ---------- arena ---------- */

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct arena_defer {
	struct arena_defer *next;
	void (*fn)(void *);
	void *p;
};

#define CHUNK_MIN 16384

void arena_init(struct arena *a, size_t limit)
{
	memset(a, 0, sizeof(*a));
	a->limit = limit;
}

void arena_free(struct arena *a)
{
	while (a->defers) {
		struct arena_defer *d = a->defers;

		a->defers = d->next;
		d->fn(d->p);
		free(d);
	}
	while (a->head) {
		struct arena_chunk *c = a->head;

		a->head = c->next;
		free(c);
	}
	a->total = 0;
}

static void *arena_oom(struct arena *a)
{
	if (a->oom) {
		if (a->oom_code)
			*a->oom_code = KBS_ERR_NOMEM;
		longjmp(*a->oom, 1);
	}
	return NULL;
}

void *arena_alloc(struct arena *a, size_t n)
{
	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (n == 0)
		n = sizeof(max_align_t);
	struct arena_chunk *c = a->head;

	if (!c || c->cap - c->used < n) {
		size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;

		if (a->limit && a->total + cap > a->limit)
			return arena_oom(a);
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return arena_oom(a);
		c->used = 0;
		c->cap = cap;
		c->next = a->head;
		a->head = c;
		a->total += cap;
	}
	void *p = (char *)c->data + c->used;

	c->used += n;
	memset(p, 0, n);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	if (p && n)
		memcpy(p, s, n);
	return p;
}

void arena_defer(struct arena *a, void (*fn)(void *), void *p)
{
	struct arena_defer *d = malloc(sizeof(*d));

	if (!d) {
		fn(p);
		arena_oom(a);
		return;
	}
	d->fn = fn;
	d->p = p;
	d->next = a->defers;
	a->defers = d;
}

void vec_push(struct arena *a, struct vec *v, struct val *x)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		struct val **p = arena_alloc(a, cap * sizeof(*p));

		if (v->n)
			memcpy(p, v->p, v->n * sizeof(*p));
		v->p = p;
		v->cap = cap;
	}
	v->p[v->n++] = x;
}

/* ---------- constructors ---------- */

struct val *val_bool(bool b)
{
	return b ? RV_TRUE : RV_FALSE;
}

struct val *val_int(struct arena *a, int64_t i)
{
	struct val *v = arena_alloc(a, sizeof(*v));

	v->t = V_NUM;
	v->isint = true;
	v->i = i;
	v->d = (double)i;
	return v;
}

struct val *val_num(struct arena *a, double d)
{
	if (d == floor(d) && fabs(d) <= 9007199254740992.0)
		return val_int(a, (int64_t)d);
	struct val *v = arena_alloc(a, sizeof(*v));

	v->t = V_NUM;
	v->d = d;
	return v;
}

struct val *val_strn(struct arena *a, const char *s, size_t n)
{
	struct val *v = arena_alloc(a, sizeof(*v));

	v->t = V_STR;
	v->s = arena_strndup(a, s, n);
	v->len = n;
	return v;
}

struct val *val_str(struct arena *a, const char *s)
{
	return val_strn(a, s, strlen(s));
}

struct val *val_arr(struct arena *a, struct val **items, size_t n)
{
	struct val *v = arena_alloc(a, sizeof(*v));

	v->t = V_ARR;
	v->len = n;
	v->items = arena_alloc(a, (n ? n : 1) * sizeof(*items));
	if (n)
		memcpy(v->items, items, n * sizeof(*items));
	return v;
}

static int cmp_ptr(const void *x, const void *y)
{
	return val_cmp(*(struct val *const *)x, *(struct val *const *)y);
}

struct val *val_set_take(struct arena *a, struct val **items, size_t n)
{
	struct val *v = arena_alloc(a, sizeof(*v));
	size_t out = 0;

	if (!items)
		items = arena_alloc(a, sizeof(*items));

	if (n > 1)
		qsort(items, n, sizeof(*items), cmp_ptr);
	for (size_t i = 0; i < n; i++)
		if (out == 0 || !val_eq(items[out - 1], items[i]))
			items[out++] = items[i];
	v->t = V_SET;
	v->items = items;
	v->len = out;
	return v;
}

struct kvp {
	struct val *k, *v;
};

static int cmp_kvp(const void *x, const void *y)
{
	return val_cmp(((const struct kvp *)x)->k, ((const struct kvp *)y)->k);
}

struct val *val_obj_take(struct arena *a, struct val **keys, struct val **vals, size_t n,
			 bool *conflict)
{
	struct val *o = arena_alloc(a, sizeof(*o));
	struct kvp *kv = arena_alloc(a, (n ? n : 1) * sizeof(*kv));
	size_t out = 0;

	if (!keys || !vals) {
		keys = arena_alloc(a, (n ? n : 1) * sizeof(*keys));
		vals = arena_alloc(a, (n ? n : 1) * sizeof(*vals));
		n = 0;
	}

	*conflict = false;
	for (size_t i = 0; i < n; i++) {
		kv[i].k = keys[i];
		kv[i].v = vals[i];
	}
	if (n > 1)
		qsort(kv, n, sizeof(*kv), cmp_kvp);
	o->t = V_OBJ;
	o->items = keys;
	o->vals = vals;
	for (size_t i = 0; i < n; i++) {
		if (out && val_eq(o->items[out - 1], kv[i].k)) {
			if (!val_eq(o->vals[out - 1], kv[i].v)) {
				*conflict = true;
				return NULL;
			}
			continue;
		}
		o->items[out] = kv[i].k;
		o->vals[out] = kv[i].v;
		out++;
	}
	o->len = out;
	return o;
}

/* ---------- ordering ---------- */

static int type_rank(const struct val *v)
{
	return v->t; /* null < bool < number < string < array < object < set */
}

static int num_cmp(const struct val *x, const struct val *y)
{
	if (x->isint && y->isint)
		return x->i < y->i ? -1 : x->i > y->i;
	if (x->big | y->big)
		return num_cmp_big(x, y);
	if (x->isint || y->isint) {
		/* exact comparison of an int64 with a double */
		const struct val *iv = x->isint ? x : y;
		double d = x->isint ? y->d : x->d;
		int sign = x->isint ? 1 : -1;
		int r;

		if (isnan(d))
			r = 1;
		else if (d >= 9223372036854775808.0)
			r = -1;
		else if (d < -9223372036854775808.0)
			r = 1;
		else {
			double fl = floor(d);
			int64_t di = (int64_t)fl;

			if (iv->i < di)
				r = -1;
			else if (iv->i > di)
				r = 1;
			else
				r = fl == d ? 0 : -1;
		}
		return r * sign;
	}
	return x->d < y->d ? -1 : x->d > y->d;
}

int val_cmp(const struct val *x, const struct val *y)
{
	if (x == y)
		return 0;
	int rx = type_rank(x), ry = type_rank(y);

	if (rx != ry)
		return rx < ry ? -1 : 1;
	switch (x->t) {
	case V_NULL:
		return 0;
	case V_BOOL:
		return (int)x->b - (int)y->b;
	case V_NUM:
		return num_cmp(x, y);
	case V_STR: {
		size_t n = x->len < y->len ? x->len : y->len;
		int c = n ? memcmp(x->s, y->s, n) : 0;

		if (c)
			return c < 0 ? -1 : 1;
		return x->len < y->len ? -1 : x->len > y->len;
	}
	case V_ARR:
	case V_SET: {
		size_t n = x->len < y->len ? x->len : y->len;

		for (size_t i = 0; i < n; i++) {
			int c = val_cmp(x->items[i], y->items[i]);

			if (c)
				return c;
		}
		return x->len < y->len ? -1 : x->len > y->len;
	}
	case V_OBJ: {
		size_t n = x->len < y->len ? x->len : y->len;

		for (size_t i = 0; i < n; i++) {
			int c = val_cmp(x->items[i], y->items[i]);

			if (c)
				return c;
			c = val_cmp(x->vals[i], y->vals[i]);
			if (c)
				return c;
		}
		return x->len < y->len ? -1 : x->len > y->len;
	}
	}
	return 0;
}

bool val_eq(const struct val *x, const struct val *y)
{
	if (x == y)
		return true;
	if (x->t != y->t)
		return false;
	if (x->t == V_STR)
		return x->len == y->len && memcmp(x->s, y->s, x->len) == 0;
	if ((x->t == V_ARR || x->t == V_SET || x->t == V_OBJ) && x->len != y->len)
		return false;
	return val_cmp(x, y) == 0;
}

static ssize_t bsearch_items(struct val *const *items, size_t n, const struct val *k)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = val_cmp(items[mid], k);

		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

struct val *val_obj_get(const struct val *o, const struct val *k)
{
	if (!o || o->t != V_OBJ)
		return NULL;
	ssize_t i = bsearch_items(o->items, o->len, k);

	return i < 0 ? NULL : o->vals[i];
}

struct val *val_obj_gets(const struct val *o, const char *k, size_t klen)
{
	struct val key = { .t = V_STR, .s = k, .len = klen };

	return val_obj_get(o, &key);
}

bool val_set_has(const struct val *s, const struct val *k)
{
	return s && s->t == V_SET && bsearch_items(s->items, s->len, k) >= 0;
}

const char *val_type_name(const struct val *v)
{
	static const char *const names[] = { "null",   "boolean", "number", "string",
					     "array",  "object",  "set" };

	return v ? names[v->t] : "undefined";
}

bool val_num_double(const struct val *v, double *d)
{
	if (v->t != V_NUM)
		return false;
	*d = v->isint ? (double)v->i : v->d;
	return true;
}

/* ---------- JSON ---------- */

struct val *val_from_json(struct arena *a, json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_NULL:
		return RV_NULL;
	case JSON_TRUE:
		return RV_TRUE;
	case JSON_FALSE:
		return RV_FALSE;
	case JSON_INTEGER:
		return val_int(a, (int64_t)json_integer_value(j));
	case JSON_REAL:
		return val_num(a, json_real_value(j));
	case JSON_STRING:
		return val_strn(a, json_string_value(j), json_string_length(j));
	case JSON_ARRAY: {
		size_t n = json_array_size(j);
		struct val *v = arena_alloc(a, sizeof(*v));

		v->t = V_ARR;
		v->len = n;
		v->items = arena_alloc(a, (n ? n : 1) * sizeof(*v->items));
		for (size_t i = 0; i < n; i++)
			v->items[i] = val_from_json(a, json_array_get(j, i));
		return v;
	}
	case JSON_OBJECT: {
		size_t n = json_object_size(j), i = 0;
		struct val **k = arena_alloc(a, (n ? n : 1) * sizeof(*k));
		struct val **vs = arena_alloc(a, (n ? n : 1) * sizeof(*vs));
		const char *key;
		json_t *mv;
		bool conflict;

		json_object_foreach(j, key, mv)
		{
			if (i >= n)
				break;
			k[i] = val_str(a, key);
			vs[i] = val_from_json(a, mv);
			i++;
		}
		return val_obj_take(a, k, vs, i, &conflict);
	}
	}
	return RV_NULL;
}

json_t *val_to_json(const struct val *v)
{
	switch (v->t) {
	case V_NULL:
		return json_null();
	case V_BOOL:
		return json_boolean(v->b);
	case V_NUM:
		if (v->big)
			return NULL;
		return v->isint ? json_integer((json_int_t)v->i) : json_real(v->d);
	case V_STR:
		return json_stringn_nocheck(v->s, v->len);
	case V_ARR:
	case V_SET: {
		json_t *a = json_array();

		for (size_t i = 0; a && i < v->len; i++)
			if (json_array_append_new(a, val_to_json(v->items[i])) != 0) {
				json_decref(a);
				return NULL;
			}
		return a;
	}
	case V_OBJ: {
		json_t *o = json_object();

		for (size_t i = 0; o && i < v->len; i++) {
			const struct val *k = v->items[i];
			json_t *jv = val_to_json(v->vals[i]);
			int rc;

			if (k->t == V_STR) {
				rc = json_object_setn_new_nocheck(o, k->s, k->len, jv);
			} else {
				/* OPA encodes non-string keys by their JSON text */
				struct arena tmp;
				struct sbuf sb;

				arena_init(&tmp, 0);
				sb = (struct sbuf){ .a = &tmp };
				val_write(&sb, k, true);
				rc = sb.p ? json_object_setn_new_nocheck(o, sb.p, sb.n, jv) : -1;
				arena_free(&tmp);
			}
			if (rc != 0) {
				json_decref(o);
				return NULL;
			}
		}
		return o;
	}
	}
	return NULL;
}

bool val_has_big(const struct val *v)
{
	if (v->t == V_NUM)
		return v->big != NB_NONE;
	if (v->t != V_ARR && v->t != V_SET && v->t != V_OBJ)
		return false;
	for (size_t i = 0; i < v->len; i++)
		if (val_has_big(v->items[i]) || (v->t == V_OBJ && val_has_big(v->vals[i])))
			return true;
	return false;
}

/* ---------- text output ---------- */

void sb_putn(struct sbuf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;

		while (cap < b->n + n + 1)
			cap *= 2;
		char *p = arena_alloc(b->a, cap);

		if (!p)
			return;
		if (b->n)
			memcpy(p, b->p, b->n);
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

void sb_puts(struct sbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

void sb_putc(struct sbuf *b, char c)
{
	sb_putn(b, &c, 1);
}

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);

	va_end(ap);
	if (n < 0)
		return;
	sb_putn(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void write_num(struct sbuf *b, const struct val *v)
{
	if (v->isint) {
		sb_printf(b, "%lld", (long long)v->i);
		return;
	}
	if (v->big) { /* exact text, as OPA prints a json.Number */
		sb_putn(b, v->s, v->len);
		return;
	}
	if (isinf(v->d) || isnan(v->d)) {
		sb_puts(b, "null");
		return;
	}
	/* shortest representation that round-trips */
	char tmp[40];

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v->d);
		if (strtod(tmp, NULL) == v->d)
			break;
	}
	/* Go prints large exponents as e+21; keep %g output, which is valid JSON */
	sb_puts(b, tmp);
}

static void write_str(struct sbuf *b, const char *s, size_t n)
{
	sb_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"':
			sb_puts(b, "\\\"");
			break;
		case '\\':
			sb_puts(b, "\\\\");
			break;
		case '\n':
			sb_puts(b, "\\n");
			break;
		case '\r':
			sb_puts(b, "\\r");
			break;
		case '\t':
			sb_puts(b, "\\t");
			break;
		default:
			if (c < 0x20)
				sb_printf(b, "\\u%04x", c);
			else
				sb_putc(b, (char)c);
		}
	}
	sb_putc(b, '"');
}

void val_write_key(struct sbuf *b, const struct val *k)
{
	if (k->t == V_STR) {
		write_str(b, k->s, k->len);
	} else {
		struct sbuf kb = { .a = b->a };

		val_write(&kb, k, true);
		write_str(b, kb.p ? kb.p : "", kb.n);
	}
}

void val_write(struct sbuf *b, const struct val *v, bool json)
{
	switch (v->t) {
	case V_NULL:
		sb_puts(b, "null");
		break;
	case V_BOOL:
		sb_puts(b, v->b ? "true" : "false");
		break;
	case V_NUM:
		write_num(b, v);
		break;
	case V_STR:
		write_str(b, v->s, v->len);
		break;
	case V_ARR:
	case V_SET:
		if (v->t == V_SET && !json && v->len == 0) {
			sb_puts(b, "set()");
			break;
		}
		sb_putc(b, v->t == V_SET && !json ? '{' : '[');
		for (size_t i = 0; i < v->len; i++) {
			if (i)
				sb_puts(b, json ? "," : ", ");
			val_write(b, v->items[i], json);
		}
		sb_putc(b, v->t == V_SET && !json ? '}' : ']');
		break;
	case V_OBJ:
		sb_putc(b, '{');
		for (size_t i = 0; i < v->len; i++) {
			if (i)
				sb_puts(b, json ? "," : ", ");
			if (json) {
				val_write_key(b, v->items[i]);
			} else {
				val_write(b, v->items[i], json);
			}
			sb_puts(b, json ? ":" : ": ");
			val_write(b, v->vals[i], json);
		}
		sb_putc(b, '}');
		break;
	}
}
