// SPDX-License-Identifier: Apache-2.0
/* Rego evaluator: unification, expressions (some, every, not), `with`, bodies. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "server/policy/rego_eval.h"

/* ---------- unification ---------- */

struct eq_k {
	struct kont k;
	struct val *v;
	const struct kont *next;
};

static int k_eq(struct ev *ev, const struct kont *kk, struct val *x)
{
	const struct eq_k *c = (const void *)kk;

	return val_eq(x, c->v) ? kcall(ev, c->next, NULL) : 0;
}

struct uarr_k {
	struct kont k;
	struct term *t;
	struct val *v;
	int i;
	const struct kont *next;
};

static int unify_arr(struct ev *ev, struct term *t, struct val *v, int i, const struct kont *k);
static struct val *ground_key(struct ev *ev, struct term *t);
static int unify_pairs(struct ev *ev, struct term *a, struct term *b, int i,
		       const struct kont *k);

static int k_uarr(struct ev *ev, const struct kont *kk, struct val *unused)
{
	const struct uarr_k *c = (const void *)kk;

	return unify_arr(ev, c->t, c->v, c->i + 1, c->next);
}

static int unify_arr(struct ev *ev, struct term *t, struct val *v, int i, const struct kont *k)
{
	if (i == t->n)
		return kcall(ev, k, NULL);
	struct uarr_k uk = { { k_uarr }, t, v, i, k };
	struct val *target;

	if (t->kind == TM_ARR) {
		target = v->items[i];
	} else {
		/* object: key term at 2i must be ground; unify value term */
		struct term *kt = t->items[2 * i];
		struct val *kv = ground_key(ev, kt);

		if (!kv)
			ev_error(ev, EE_UNSAFE, kt, "object pattern keys must be ground");
		target = val_obj_get(v, kv);
		if (!target)
			return 0;
		return unify_tv(ev, t->items[2 * i + 1], target, &uk.k);
	}
	return unify_tv(ev, t->items[i], target, &uk.k);
}

bool has_unbound(struct ev *ev, const struct term *t)
{
	switch (t->kind) {
	case TM_VAR:
		return is_unbound_var(ev, t);
	case TM_ARR:
		for (int i = 0; i < t->n; i++)
			if (has_unbound(ev, t->items[i]))
				return true;
		return false;
	case TM_OBJ:
		for (int i = 1; i < t->n; i += 2)
			if (has_unbound(ev, t->items[i]))
				return true;
		return false;
	default:
		return false;
	}
}

int unify_tv(struct ev *ev, struct term *t, struct val *v, const struct kont *k)
{
	switch (t->kind) {
	case TM_VAR:
		if (t->vflag == VF_LOCAL) {
			struct val *cur = SLOT(ev, t->slot);

			if (!cur) {
				int r;

				SLOT(ev, t->slot) = v;
				r = kcall(ev, k, NULL);
				SLOT(ev, t->slot) = NULL;
				return r;
			}
			return val_eq(cur, v) ? kcall(ev, k, NULL) : 0;
		}
		break;
	case TM_VAL:
		return val_eq(t->v, v) ? kcall(ev, k, NULL) : 0;
	case TM_ARR:
		if (!has_unbound(ev, t))
			break;
		if (v->t != V_ARR || v->len != (size_t)t->n)
			return 0;
		return unify_arr(ev, t, v, 0, k);
	case TM_OBJ:
		if (!has_unbound(ev, t))
			break;
		if (v->t != V_OBJ || v->len != (size_t)t->n / 2)
			return 0;
		{
			struct term tmp = *t;

			tmp.n = t->n / 2;
			return unify_arr(ev, &tmp, v, 0, k);
		}
	default:
		break;
	}
	struct eq_k ek = { { k_eq }, v, k };

	return eval_term(ev, t, &ek.k);
}

struct utt_k {
	struct kont k;
	struct term *other;
	const struct kont *next;
};

static int k_utt(struct ev *ev, const struct kont *kk, struct val *v)
{
	const struct utt_k *c = (const void *)kk;

	return unify_tv(ev, c->other, v, c->next);
}

static int unify_tt(struct ev *ev, struct term *a, struct term *b, const struct kont *k);

struct upair_k {
	struct kont k;
	struct term *a, *b;
	int i;
	const struct kont *next;
};

static int unify_pairs(struct ev *ev, struct term *a, struct term *b, int i,
		       const struct kont *k);

static int k_upair(struct ev *ev, const struct kont *kk, struct val *unused)
{
	const struct upair_k *c = (const void *)kk;

	return unify_pairs(ev, c->a, c->b, c->i + 1, c->next);
}

static int unify_pairs(struct ev *ev, struct term *a, struct term *b, int i,
		       const struct kont *k)
{
	if (i == a->n)
		return kcall(ev, k, NULL);
	struct upair_k uk = { { k_upair }, a, b, i, k };

	return unify_tt(ev, a->items[i], b->items[i], &uk.k);
}

/* value of a ground key term (constant or bound variable), or NULL */
static struct val *ground_key(struct ev *ev, struct term *t)
{
	if (t->kind == TM_VAL)
		return t->v;
	if (t->kind == TM_VAR && t->vflag == VF_LOCAL)
		return SLOT(ev, t->slot);
	return NULL;
}

/* {k1: p1, ...} = {k1: q1, ...}: keys must match; values unify pairwise */
static int unify_objs(struct ev *ev, struct term *a, struct term *b, const struct kont *k)
{
	int n = a->n / 2;
	struct term la = { .kind = TM_ARR, .n = n }, lb = { .kind = TM_ARR, .n = n };

	if (a->n != b->n)
		return 0;
	la.items = arena_alloc(&ev->ar, (size_t)(n ? n : 1) * sizeof(*la.items));
	lb.items = arena_alloc(&ev->ar, (size_t)(n ? n : 1) * sizeof(*lb.items));
	for (int i = 0; i < n; i++) {
		struct val *ka = ground_key(ev, a->items[2 * i]);
		int j;

		if (!ka)
			ev_error(ev, EE_UNSAFE, a->items[2 * i], "object pattern keys must be ground");
		for (j = 0; j < n; j++) {
			struct val *kb = ground_key(ev, b->items[2 * j]);

			if (!kb)
				ev_error(ev, EE_UNSAFE, b->items[2 * j],
					 "object pattern keys must be ground");
			if (val_eq(ka, kb))
				break;
		}
		if (j == n)
			return 0;
		la.items[i] = a->items[2 * i + 1];
		lb.items[i] = b->items[2 * j + 1];
	}
	return unify_pairs(ev, &la, &lb, 0, k);
}

static int unify_tt(struct ev *ev, struct term *a, struct term *b, const struct kont *k)
{
	bool ua = has_unbound(ev, a), ub = has_unbound(ev, b);

	if (ua && ub && a->kind == TM_ARR && b->kind == TM_ARR) {
		if (a->n != b->n)
			return 0;
		return unify_pairs(ev, a, b, 0, k);
	}
	if (ua && ub && a->kind == TM_OBJ && b->kind == TM_OBJ)
		return unify_objs(ev, a, b, k);
	if (ua && ub && a->kind == TM_VAR && b->kind == TM_VAR)
		ev_error(ev, EE_UNSAFE, a, "var %s is unsafe (unified with unbound %s)", a->name,
			 b->name);
	struct utt_k uk = { { k_utt }, ua ? a : b, k };

	return eval_term(ev, ua ? b : a, &uk.k);
}

/* ---------- expressions ---------- */

struct truthy_k {
	struct kont k;
	const struct kont *next;
};

static int k_truthy(struct ev *ev, const struct kont *kk, struct val *v)
{
	const struct truthy_k *c = (const void *)kk;

	return val_truthy(v) ? kcall(ev, c->next, NULL) : 0;
}

struct somein_k {
	struct kont k;
	struct expr *e;
	const struct kont *next;
};

struct somein_it {
	struct expr *e;
	const struct kont *next;
};

struct kv_k {
	struct kont k;
	struct term *vt;
	struct val *v;
	const struct kont *next;
};

static int k_kv(struct ev *ev, const struct kont *kk, struct val *unused)
{
	const struct kv_k *c = (const void *)kk;

	return unify_tv(ev, c->vt, c->v, c->next);
}

static int somein_fn(struct ev *ev, void *cv, struct val *key, struct val *val)
{
	struct somein_it *c = cv;

	if (c->e->key) {
		struct kv_k kv = { { k_kv }, c->e->val, val, c->next };

		return unify_tv(ev, c->e->key, key, &kv.k);
	}
	return unify_tv(ev, c->e->val, val, c->next);
}

static int k_somein(struct ev *ev, const struct kont *kk, struct val *coll)
{
	const struct somein_k *c = (const void *)kk;
	struct somein_it it = { c->e, c->next };

	return iterate(ev, coll, somein_fn, &it, c->e->coll);
}

/* every: the body must hold for each element (bindings are local to it) */
struct every_body {
	struct kont k;
	struct body *b;
};

static int k_every_body(struct ev *ev, const struct kont *kk, struct val *unused)
{
	const struct every_body *c = (const void *)kk;

	return eval_body_at(ev, c->b, 0, &stop_k, NULL);
}

struct every_it2 {
	struct expr *e;
};

static int every_fn2(struct ev *ev, void *cv, struct val *key, struct val *val)
{
	struct every_it2 *c = cv;
	struct every_body eb = { { k_every_body }, c->e->body };
	int r;

	if (c->e->key) {
		struct kv_k kv = { { k_kv }, c->e->val, val, &eb.k };

		r = unify_tv(ev, c->e->key, key, &kv.k);
	} else {
		r = unify_tv(ev, c->e->val, val, &eb.k);
	}
	/* STOP means this element satisfied the body; anything else ends `every` as false */
	return r == STOP ? 0 : STOP;
}

struct every_k {
	struct kont k;
	struct expr *e;
	const struct kont *next;
};

static int k_every(struct ev *ev, const struct kont *kk, struct val *coll)
{
	const struct every_k *c = (const void *)kk;
	struct every_it2 it = { c->e };

	if (coll->t != V_ARR && coll->t != V_OBJ && coll->t != V_SET)
		return 0;
	if (iterate(ev, coll, every_fn2, &it, c->e->coll) == STOP)
		return 0;
	return kcall(ev, c->next, NULL);
}

static int eval_expr_plain(struct ev *ev, struct expr *e, const struct kont *k)
{
	switch (e->kind) {
	case EX_TERM: {
		struct truthy_k tk = { { k_truthy }, k };

		return eval_term(ev, e->a, &tk.k);
	}
	case EX_UNIFY:
	case EX_ASSIGN:
		return unify_tt(ev, e->a, e->b, k);
	case EX_SOME_DECL:
		return kcall(ev, k, NULL);
	case EX_SOME_IN: {
		struct somein_k sk = { { k_somein }, e, k };

		return eval_term(ev, e->coll, &sk.k);
	}
	case EX_EVERY: {
		struct every_k ek = { { k_every }, e, k };

		return eval_term(ev, e->coll, &ek.k);
	}
	}
	return 0;
}

/* ---------- with ---------- */

struct wstate {
	struct val *input;
	struct val *data;
	struct override *ovr;
	struct gstate *gs;
	struct fmock *mocks;
};

static struct val *set_path(struct ev *ev, struct val *doc, const struct val **path, int n,
			    struct val *v)
{
	if (n == 0)
		return v;
	struct val *cur = doc && doc->t == V_OBJ ? doc : NULL;
	size_t len = cur ? cur->len : 0;
	struct val **ks = arena_alloc(&ev->ar, (len + 1) * sizeof(*ks));
	struct val **vs = arena_alloc(&ev->ar, (len + 1) * sizeof(*vs));
	size_t m = 0;
	struct val *child = NULL;
	bool conflict;

	for (size_t i = 0; i < len; i++) {
		if (val_eq(cur->items[i], path[0])) {
			child = cur->vals[i];
			continue;
		}
		ks[m] = cur->items[i];
		vs[m] = cur->vals[i];
		m++;
	}
	ks[m] = (struct val *)path[0];
	vs[m] = set_path(ev, child, path + 1, n - 1, v);
	return val_obj_take(&ev->ar, ks, vs, m + 1, &conflict);
}

struct with_k {
	struct kont k;
	struct wstate outer, inner;
	const struct kont *next;
};

static void wapply(struct ev *ev, const struct wstate *s)
{
	ev->input = s->input;
	ev->data = s->data;
	ev->ovr = s->ovr;
	ev->gs = s->gs;
	ev->mocks = s->mocks;
}

static int k_with(struct ev *ev, const struct kont *kk, struct val *v)
{
	const struct with_k *c = (const void *)kk;
	int r;

	wapply(ev, &c->outer);
	r = kcall(ev, c->next, v);
	wapply(ev, &c->inner);
	return r;
}

struct wval_k {
	struct kont k;
	struct val **out;
};

static int k_wval(struct ev *ev, const struct kont *kk, struct val *v)
{
	const struct wval_k *c = (const void *)kk;

	*c->out = v;
	return STOP;
}

static int eval_expr_with(struct ev *ev, struct expr *e, const struct kont *k,
			  int (*inner)(struct ev *, struct expr *, const struct kont *))
{
	struct with_k wk = { { k_with }, { ev->input, ev->data, ev->ovr, ev->gs, ev->mocks },
			     { 0 }, k };
	struct wstate st = wk.outer;

	for (int i = 0; i < e->nwith; i++) {
		struct withmod *w = &e->with[i];
		struct val *v = NULL;
		struct wval_k vk = { { k_wval }, &v };
		struct term *tg = w->target;
		struct term *h = tg->kind == TM_REF ? tg->head : tg;
		int n = tg->kind == TM_REF ? tg->n : 0;
		const struct val **path;

		if (w->kind != WK_DOC) {
			struct fmock *mk = arena_alloc(&ev->ar, sizeof(*mk));

			if (w->kind == WK_FN_VALUE) {
				eval_term(ev, w->value, &vk.k);
				if (!v)
					return 0;
			}
			mk->w = w;
			mk->v = v;
			mk->next = st.mocks;
			st.mocks = mk;
			continue;
		}
		path = arena_alloc(&ev->ar, (size_t)(n ? n : 1) * sizeof(*path));
		eval_term(ev, w->value, &vk.k);
		if (!v)
			return 0;
		for (int j = 0; j < n; j++)
			path[j] = tg->items[j]->v;
		if (h->vflag == VF_INPUT) {
			st.input = set_path(ev, n ? st.input : NULL, path, n, v);
		} else {
			struct override *o = arena_alloc(&ev->ar, sizeof(*o));

			st.data = set_path(ev, st.data, path, n, v);
			o->path = path;
			o->n = n;
			o->v = v;
			o->next = st.ovr;
			st.ovr = o;
		}
	}
	st.gs = arena_alloc(&ev->ar, (size_t)(ev->m->ngroups ? ev->m->ngroups : 1) *
					     sizeof(*st.gs));
	wk.inner = st;
	wapply(ev, &st);
	int r = inner(ev, e, &wk.k);

	wapply(ev, &wk.outer);
	return r;
}

static int eval_expr_core(struct ev *ev, struct expr *e, const struct kont *k)
{
	if (!e->neg)
		return eval_expr_plain(ev, e, k);
	int r = eval_expr_plain(ev, e, &stop_k);

	if (r == STOP)
		return 0;
	return kcall(ev, k, NULL);
}

int eval_expr(struct ev *ev, struct expr *e, const struct kont *k)
{
	step(ev, e->a);
	if (e->nwith)
		return eval_expr_with(ev, e, k, eval_expr_core);
	return eval_expr_core(ev, e, k);
}

struct body_k {
	struct kont k;
	struct body *b;
	int i;
	const struct kont *next;
	int *furthest;
};

static int k_body(struct ev *ev, const struct kont *kk, struct val *unused)
{
	const struct body_k *c = (const void *)kk;

	return eval_body_at(ev, c->b, c->i + 1, c->next, c->furthest);
}

int eval_body_at(struct ev *ev, struct body *b, int i, const struct kont *k,
			int *furthest)
{
	if (i == b->n)
		return kcall(ev, k, NULL);
	if (furthest && i > *furthest)
		*furthest = i;
	struct body_k bk = { { k_body }, b, i, k, furthest };

	return eval_expr(ev, b->e[i], &bk.k);
}
