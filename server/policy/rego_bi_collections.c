// SPDX-License-Identifier: Apache-2.0
/*
 * Rego built-ins on collections: membership (`in`, internal.member_2/3), object.*, array.*,
 * flatten, union and intersection, and the set operations the |, & and - operators use.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/policy/rego_bi.h"

/* ---------- set operations ---------- */

struct val *rego_set_op(struct ev *ev, struct val *x, struct val *y, char op)
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
		acc = acc ? rego_set_op(ev, acc, s, uni ? '|' : '&') : s;
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

const struct builtin rego_bi_coll[] = {
	{ "internal.member_2", 2, bi_member2, false },
	{ "internal.member_3", 3, bi_member3, false },
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
};
const size_t rego_bi_coll_n = sizeof(rego_bi_coll) / sizeof(rego_bi_coll[0]);
