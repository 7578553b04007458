// SPDX-License-Identifier: Apache-2.0
/*
 * Safety ordering of rule bodies (part of the linker, rego_link.c): the evaluation order in
 * which every variable is bound before it is needed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/policy/rego_int.h"

/*
 * OPA evaluates the expressions of a body in an order where every variable is bound before
 * it is needed ("safety"): `x > 1; x := 2` runs as `x := 2; x > 1`. reorder_body() keeps the
 * written order whenever it is already safe and otherwise moves the first expression whose
 * inputs are bound forward, greedily, as OPA does. A body that cannot be ordered keeps its
 * order, and evaluation then fails closed with rego_unsafe_var_error.
 */
#define SET_WORDS (MAX_SLOTS / 64)

struct bits {
	uint64_t w[SET_WORDS];
};

static void bset(struct bits *b, int s)
{
	if (s >= 0 && s < MAX_SLOTS)
		b->w[s / 64] |= (uint64_t)1 << (s % 64);
}

static bool bsubset(const struct bits *a, const struct bits *b)
{
	for (int i = 0; i < SET_WORDS; i++)
		if (a->w[i] & ~b->w[i])
			return false;
	return true;
}

static void bor(struct bits *a, const struct bits *b)
{
	for (int i = 0; i < SET_WORDS; i++)
		a->w[i] |= b->w[i];
}

static void band_not(struct bits *a, const struct bits *b)
{
	for (int i = 0; i < SET_WORDS; i++)
		a->w[i] &= ~b->w[i];
}

static void collect_expr_all(const struct expr *e, struct bits *b, int lo, int hi);

/* every local variable slot referenced by t, except those declared inside [lo, hi) */
static void collect_all(const struct term *t, struct bits *b, int lo, int hi)
{
	if (!t)
		return;
	switch (t->kind) {
	case TM_VAR:
		if (t->vflag == VF_LOCAL && t->slot >= 0 && !(t->slot >= lo && t->slot < hi))
			bset(b, t->slot);
		break;
	case TM_REF:
		collect_all(t->head, b, lo, hi);
		/* fall through */
	case TM_ARR:
	case TM_SET:
	case TM_OBJ:
	case TM_CALL:
		for (int k = 0; k < t->n; k++)
			collect_all(t->items[k], b, lo, hi);
		break;
	case TM_ACOMP:
	case TM_SCOMP:
	case TM_OCOMP: {
		int l2 = lo < hi ? lo : t->lo, h2 = lo < hi ? hi : t->hi;

		collect_all(t->head, b, l2, h2);
		collect_all(t->vhead, b, l2, h2);
		for (int k = 0; k < t->body->n; k++)
			collect_expr_all(t->body->e[k], b, l2, h2);
		break;
	}
	default:
		break;
	}
}

static void collect_expr_all(const struct expr *e, struct bits *b, int lo, int hi)
{
	collect_all(e->a, b, lo, hi);
	if (e->kind == EX_SOME_DECL)
		return; /* e->b lists declared names, not uses */
	collect_all(e->b, b, lo, hi);
	for (int k = 0; k < e->nwith; k++)
		if (e->with[k].kind != WK_FN_FUNC)
			collect_all(e->with[k].value, b, lo, hi);
	collect_all(e->coll, b, lo, hi);
	if (e->kind == EX_EVERY) {
		int l2 = lo < hi ? lo : e->lo, h2 = lo < hi ? hi : e->hi;

		collect_all(e->key, b, l2, h2);
		collect_all(e->val, b, l2, h2);
		for (int k = 0; k < e->body->n; k++)
			collect_expr_all(e->body->e[k], b, l2, h2);
	} else {
		collect_all(e->key, b, lo, hi);
		collect_all(e->val, b, lo, hi);
	}
}

/* slots an expression can bind: patterns and variables iterating in reference paths */
static void collect_out(const struct term *t, struct bits *b, bool pattern)
{
	if (!t)
		return;
	switch (t->kind) {
	case TM_VAR:
		if (pattern && t->vflag == VF_LOCAL)
			bset(b, t->slot);
		break;
	case TM_ARR:
	case TM_SET:
		for (int k = 0; k < t->n; k++)
			collect_out(t->items[k], b, pattern);
		break;
	case TM_OBJ:
		for (int k = 0; k < t->n; k++)
			collect_out(t->items[k], b, pattern && (k % 2) == 1);
		break;
	case TM_REF:
		collect_out(t->head, b, false);
		for (int k = 0; k < t->n; k++)
			collect_out(t->items[k], b, true);
		break;
	case TM_CALL:
		for (int k = 0; k < t->n; k++)
			collect_out(t->items[k], b, false);
		break;
	default:
		break;
	}
}

static void expr_out(const struct expr *e, struct bits *b)
{
	if (e->neg)
		return;
	switch (e->kind) {
	case EX_TERM:
		collect_out(e->a, b, false);
		break;
	case EX_UNIFY:
	case EX_ASSIGN:
		collect_out(e->a, b, true);
		collect_out(e->b, b, true);
		break;
	case EX_SOME_IN:
		collect_out(e->key, b, true);
		collect_out(e->val, b, true);
		collect_out(e->coll, b, false);
		break;
	default:
		break;
	}
}

static void reorder_body(struct body *b, const struct bits *bound0)
{
	int n = b->n;

	if (n < 2 || n > 256)
		return;
	struct bits *all = calloc((size_t)n, sizeof(*all));
	struct bits *need = calloc((size_t)n, sizeof(*need));
	struct bits *need2 = calloc((size_t)n, sizeof(*need2));
	struct bits *out = calloc((size_t)n, sizeof(*out));
	struct bits bound = *bound0;
	struct expr *order[256];
	bool done[256] = { 0 };
	int k = 0;

	if (!all || !need || !need2 || !out)
		goto out;
	for (int i = 0; i < n; i++)
		collect_expr_all(b->e[i], &all[i], 0, 0);
	for (int i = 0; i < n; i++) {
		struct expr *e = b->e[i];

		expr_out(e, &out[i]);
		need[i] = all[i];
		band_not(&need[i], &out[i]);
		need2[i] = need[i];
		if ((e->kind == EX_UNIFY || e->kind == EX_ASSIGN) && !e->neg && !e->nwith &&
		    !(e->a->kind == TM_ARR && e->b->kind == TM_ARR)) {
			/* a = b is ready once either side can be evaluated */
			struct bits it = { 0 };

			memset(&need[i], 0, sizeof(need[i]));
			memset(&need2[i], 0, sizeof(need2[i]));
			collect_all(e->a, &need[i], 0, 0);
			collect_out(e->a, &it, false);
			band_not(&need[i], &it);
			memset(&it, 0, sizeof(it));
			collect_all(e->b, &need2[i], 0, 0);
			collect_out(e->b, &it, false);
			band_not(&need2[i], &it);
		}
		if (b->e[i]->neg) {
			/* a negation needs the variables it shares with the rest of the body */
			struct bits others = { 0 };

			for (int j = 0; j < n; j++)
				if (j != i)
					bor(&others, &all[j]);
			for (int w = 0; w < SET_WORDS; w++)
				need[i].w[w] = all[i].w[w] & others.w[w];
			need2[i] = need[i];
		}
	}
	for (; k < n; k++) {
		int pick = -1;

		for (int i = 0; i < n && pick < 0; i++)
			if (!done[i] && (bsubset(&need[i], &bound) || bsubset(&need2[i], &bound)))
				pick = i;
		if (pick < 0)
			break;
		done[pick] = true;
		order[k] = b->e[pick];
		bor(&bound, &out[pick]);
	}
	for (int i = 0; i < n && k < n; i++)
		if (!done[i])
			order[k++] = b->e[i];
	memcpy(b->e, order, (size_t)n * sizeof(*order));
out:
	free(all);
	free(need);
	free(need2);
	free(out);
}

/* nested bodies: everything declared outside [lo, hi) counts as bound */
void rego_reorder_nested(struct body *b, int lo, int hi)
{
	struct bits bound;

	if (b->n < 2)
		return; /* nothing to order (reorder_body would return too) */
	if (hi > MAX_SLOTS)
		hi = MAX_SLOTS;
	memset(&bound, 0xff, sizeof(bound));
	/* clear [lo, hi): whole words where possible (a query plan clears all 4096 slots on
	 * every evaluation; bit by bit that was half of a resource-policy decision) */
	for (int s = lo; s < hi;) {
		if (s % 64 == 0 && s + 64 <= hi) {
			bound.w[s / 64] = 0;
			s += 64;
		} else {
			bound.w[s / 64] &= ~((uint64_t)1 << (s % 64));
			s++;
		}
	}
	reorder_body(b, &bound);
}
