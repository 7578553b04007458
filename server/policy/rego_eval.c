// SPDX-License-Identifier: Apache-2.0
/*
 * Rego evaluator: top-down, backtracking, in continuation-passing style. Every generator
 * (iteration over a collection, a rule with several solutions) calls its continuation once
 * per solution; a variable is bound just for the duration of that call, so backtracking
 * needs no trail. A continuation returns 0 to ask for more solutions or STOP to end the
 * search early. Errors (type errors, conflicts, limits) longjmp to the evaluation entry
 * point, which frees the evaluation arena in one go.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "server/policy/rego_eval.h"

/* ---------- errors ---------- */

void ev_error(struct ev *ev, int kind, const struct term *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ev->errmsg, sizeof(ev->errmsg), fmt, ap);
	va_end(ap);
	ev->errkind = kind;
	ev->errline = at ? at->line : 0;
	longjmp(ev->jb, 1);
}

struct val *ev_builtin_error(struct ev *ev, const struct term *at, const char *fmt, ...)
{
	if (!ev->strict)
		return NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ev->errmsg, sizeof(ev->errmsg), fmt, ap);
	va_end(ap);
	ev->errkind = EE_BUILTIN;
	ev->errline = at ? at->line : 0;
	longjmp(ev->jb, 1);
}

struct val *ev_type_error(struct ev *ev, const struct term *call, int argno, const char *want,
			  const struct val *got)
{
	if (!ev->strict)
		return NULL;
	ev_error(ev, EE_TYPE, call, "%s: operand %d must be %s but got %s",
		 call && call->fname ? call->fname : "?", argno, want, val_type_name(got));
}

int64_t rego_now_ns(struct ev *ev)
{
	if (!ev->now_ns) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ev->now_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	}
	return ev->now_ns;
}

/* ---------- forward declarations ---------- */

/* ---------- frames ---------- */

/* ---------- simple continuations ---------- */

static int k_stop(struct ev *ev, const struct kont *k, struct val *v)
{
	return STOP;
}

const struct kont stop_k = { k_stop };

int k_collect(struct ev *ev, const struct kont *kk, struct val *v)
{
	const struct collect_k *c = (const void *)kk;

	vec_push(&ev->ar, c->out, v);
	return c->first_only ? STOP : 0;
}

/* ---------- indexing and iteration ---------- */

static struct val *index_val(struct ev *ev, struct val *v, struct val *key)
{
	switch (v->t) {
	case V_ARR:
		if (key->t != V_NUM || !key->isint || key->i < 0 || (uint64_t)key->i >= v->len)
			return NULL;
		return v->items[key->i];
	case V_OBJ:
		return val_obj_get(v, key);
	case V_SET:
		return val_set_has(v, key) ? key : NULL;
	default:
		return NULL;
	}
}

int iterate(struct ev *ev, struct val *coll, iter_fn fn, void *c, const struct term *at)
{
	int r = 0;

	switch (coll->t) {
	case V_ARR:
		for (size_t i = 0; i < coll->len && !r; i++) {
			step(ev, at);
			r = fn(ev, c, val_int(&ev->ar, (int64_t)i), coll->items[i]);
		}
		break;
	case V_OBJ:
		for (size_t i = 0; i < coll->len && !r; i++) {
			step(ev, at);
			r = fn(ev, c, coll->items[i], coll->vals[i]);
		}
		break;
	case V_SET:
		for (size_t i = 0; i < coll->len && !r; i++) {
			step(ev, at);
			r = fn(ev, c, coll->items[i], coll->items[i]);
		}
		break;
	default:
		break;
	}
	return r;
}

/* ---------- references ---------- */

static int eval_path(struct ev *ev, struct term *t, int i, struct val *v, const struct kont *k);

struct path_iter {
	struct term *t;
	int i;
	const struct kont *k;
};

static int path_iter_fn(struct ev *ev, void *c, struct val *key, struct val *val)
{
	struct path_iter *pi = c;
	int slot = pi->t->items[pi->i]->slot;
	int r;

	SLOT(ev, slot) = key;
	r = eval_path(ev, pi->t, pi->i + 1, val, pi->k);
	SLOT(ev, slot) = NULL;
	return r;
}

struct pat_next_k {
	struct kont k;
	struct path_iter *pi;
	struct val *val;
};

static int k_pat_next(struct ev *ev, const struct kont *kk, struct val *unused)
{
	const struct pat_next_k *c = (const void *)kk;

	return eval_path(ev, c->pi->t, c->pi->i + 1, c->val, c->pi->k);
}

/* a key pattern such as x[[1, y]]: unify each key with the pattern */
static int path_pattern_fn(struct ev *ev, void *c, struct val *key, struct val *val)
{
	struct path_iter *pi = c;
	struct pat_next_k nk = { { k_pat_next }, pi, val };

	return unify_tv(ev, pi->t->items[pi->i], key, &nk.k);
}

struct path_key_k {
	struct kont k;
	struct term *t;
	int i;
	struct val *v;
	const struct kont *next;
};

static int k_path_key(struct ev *ev, const struct kont *kk, struct val *key)
{
	const struct path_key_k *c = (const void *)kk;
	struct val *x = index_val(ev, c->v, key);

	return x ? eval_path(ev, c->t, c->i + 1, x, c->next) : 0;
}

bool is_unbound_var(struct ev *ev, const struct term *t)
{
	return t->kind == TM_VAR && t->vflag == VF_LOCAL && SLOT(ev, t->slot) == NULL;
}

static int eval_path(struct ev *ev, struct term *t, int i, struct val *v, const struct kont *k)
{
	if (i == t->n)
		return kcall(ev, k, v);
	struct term *e = t->items[i];

	if (is_unbound_var(ev, e)) {
		struct path_iter pi = { t, i, k };

		return iterate(ev, v, path_iter_fn, &pi, e);
	}
	if ((e->kind == TM_ARR || e->kind == TM_OBJ) && has_unbound(ev, e)) {
		struct path_iter pi = { t, i, k };

		return iterate(ev, v, path_pattern_fn, &pi, e);
	}
	if (e->kind == TM_VAL) {
		struct val *x = index_val(ev, v, e->v);

		return x ? eval_path(ev, t, i + 1, x, k) : 0;
	}
	if (v->t != V_ARR && v->t != V_OBJ && v->t != V_SET)
		return 0;
	struct path_key_k pk = { { k_path_key }, t, i, v, k };

	return eval_term(ev, e, &pk.k);
}

/* data references walk the rule tree and the base document side by side */
static int eval_data(struct ev *ev, struct term *t, int i, struct node *n, struct val *base,
		     const struct kont *k);

/* `with data.x as v`: the override whose path is exactly this node's, if any */
bool node_override(struct ev *ev, const struct node *n, struct val **v)
{
	for (struct override *o = ev->ovr; o; o = o->next) {
		if (o->n != n->depth)
			continue;
		int j;

		for (j = 0; j < o->n; j++)
			if (o->path[j]->t != V_STR || strlen(n->path[j]) != o->path[j]->len ||
			    memcmp(n->path[j], o->path[j]->s, o->path[j]->len) != 0)
				break;
		if (j == o->n) {
			*v = o->v;
			return true;
		}
	}
	return false;
}

struct data_iter {
	struct term *t;
	int i;
	struct node *n;
	struct val *base;
	const struct kont *k;
};

static int data_step(struct ev *ev, struct data_iter *di, struct val *key)
{
	struct node *kid = NULL;
	struct val *b = NULL;

	if (key->t == V_STR && di->n) {
		for (int j = 0; j < di->n->nkids; j++)
			if (strlen(di->n->kids[j]->key) == key->len &&
			    memcmp(di->n->kids[j]->key, key->s, key->len) == 0)
				kid = di->n->kids[j];
	}
	if (di->base)
		b = index_val(ev, di->base, key);
	if (!kid && !b)
		return 0;
	return eval_data(ev, di->t, di->i + 1, kid, b, di->k);
}

static int data_key_k_fn(struct ev *ev, const struct kont *kk, struct val *key);

struct data_key_k {
	struct kont k;
	struct data_iter *di;
};

static int data_key_k_fn(struct ev *ev, const struct kont *kk, struct val *key)
{
	const struct data_key_k *c = (const void *)kk;

	return data_step(ev, c->di, key);
}

static int eval_data(struct ev *ev, struct term *t, int i, struct node *n, struct val *base,
		     const struct kont *k)
{
	struct val *ov;

	if (n && ev->ovr && node_override(ev, n, &ov))
		return eval_path(ev, t, i, ov, k);
	if (n && n->grp && n->grp->kind == RK_FUNC)
		ev_error(ev, EE_TYPE, t, "function %s referenced without a call",
			 n->grp->display);
	if (n && n->grp) {
		struct val *v = node_value(ev, n, base, t);

		return v ? eval_path(ev, t, i, v, k) : 0;
	}
	if (!n)
		return base ? eval_path(ev, t, i, base, k) : 0;
	if (i == t->n) {
		struct val *v = node_value(ev, n, base, t);

		return v ? kcall(ev, k, v) : 0;
	}
	struct term *e = t->items[i];
	struct data_iter di = { t, i, n, base, k };

	if (e->kind == TM_VAL)
		return data_step(ev, &di, e->v);
	if (is_unbound_var(ev, e)) {
		/* iterate over the union of virtual and base keys */
		struct val *full = node_value(ev, n, base, t);
		struct path_iter pi = { t, i, k };

		return full ? iterate(ev, full, path_iter_fn, &pi, e) : 0;
	}
	struct data_key_k dk = { { data_key_k_fn }, &di };

	return eval_term(ev, e, &dk.k);
}

static int k_ref_head(struct ev *ev, const struct kont *kk, struct val *v);

struct ref_k {
	struct kont k;
	struct term *t;
	const struct kont *next;
};

static int k_ref_head(struct ev *ev, const struct kont *kk, struct val *v)
{
	const struct ref_k *c = (const void *)kk;

	return eval_path(ev, c->t, 0, v, c->next);
}

static struct val *full_data(struct ev *ev, const struct term *at)
{
	return node_value(ev, ev->m->root, ev->data, at);
}

static int eval_ref(struct ev *ev, struct term *t, const struct kont *k)
{
	struct term *h = t->head;

	if (h->kind == TM_VAR && h->vflag == VF_DATA)
		return eval_data(ev, t, 0, ev->m->root, ev->data, k);
	if (h->kind == TM_VAR && h->vflag == VF_INPUT)
		return ev->input ? eval_path(ev, t, 0, ev->input, k) : 0;
	struct ref_k rk = { { k_ref_head }, t, k };

	return eval_term(ev, h, &rk.k);
}

/* ---------- composite terms ---------- */

struct items_k {
	struct kont k;
	struct term *t;
	int i;
	struct val **vals;
	const struct kont *next;
};

static int eval_items(struct ev *ev, struct term *t, int i, struct val **vals,
		      const struct kont *k);

static int k_item(struct ev *ev, const struct kont *kk, struct val *v)
{
	const struct items_k *c = (const void *)kk;

	c->vals[c->i] = v;
	return eval_items(ev, c->t, c->i + 1, c->vals, c->next);
}

/* Evaluates t->items[i..] into vals, then calls k (with NULL). */
static int eval_items(struct ev *ev, struct term *t, int i, struct val **vals,
		      const struct kont *k)
{
	if (i == t->n)
		return kcall(ev, k, NULL);
	struct items_k ik = { { k_item }, t, i, vals, k };

	return eval_term(ev, t->items[i], &ik.k);
}

struct build_k {
	struct kont k;
	struct term *t;
	struct val **vals;
	const struct kont *next;
};

static int k_build(struct ev *ev, const struct kont *kk, struct val *unused)
{
	const struct build_k *c = (const void *)kk;
	struct term *t = c->t;
	size_t n = (size_t)t->n;
	struct val *v;

	if (t->kind == TM_ARR) {
		v = val_arr(&ev->ar, c->vals, n);
	} else if (t->kind == TM_SET) {
		struct val **cp = arena_alloc(&ev->ar, (n ? n : 1) * sizeof(*cp));

		memcpy(cp, c->vals, n * sizeof(*cp));
		v = val_set_take(&ev->ar, cp, n);
	} else {
		size_t m = n / 2;
		struct val **ks = arena_alloc(&ev->ar, (m ? m : 1) * sizeof(*ks));
		struct val **vs = arena_alloc(&ev->ar, (m ? m : 1) * sizeof(*vs));
		bool conflict;

		for (size_t j = 0; j < m; j++) {
			ks[j] = c->vals[2 * j];
			vs[j] = c->vals[2 * j + 1];
		}
		v = val_obj_take(&ev->ar, ks, vs, m, &conflict);
		if (!v)
			ev_error(ev, EE_CONFLICT, t, "object keys must be unique");
	}
	return kcall(ev, c->next, v);
}

/* Comprehension heads */
struct comp_k {
	struct kont k;
	struct term *t;
	struct vec *keys, *vals;
};

static int k_comp_val(struct ev *ev, const struct kont *kk, struct val *v)
{
	const struct comp_k *c = (const void *)kk;

	vec_push(&ev->ar, c->vals, v);
	return 0;
}

struct comp_key_k {
	struct kont k;
	const struct comp_k *c;
};

static int k_comp_okey(struct ev *ev, const struct kont *kk, struct val *key)
{
	const struct comp_key_k *ck = (const void *)kk;

	vec_push(&ev->ar, ck->c->keys, key);
	struct collect_k one = { { k_collect }, ck->c->vals, true };
	size_t before = ck->c->vals->n;
	int r = eval_term(ev, ck->c->t->vhead, &one.k);

	if (ck->c->vals->n == before)
		ck->c->keys->n--; /* value undefined: drop the key */
	return r == STOP ? 0 : r;
}

static int k_comp_body(struct ev *ev, const struct kont *kk, struct val *unused)
{
	const struct comp_k *c = (const void *)kk;

	if (c->t->kind == TM_OCOMP) {
		struct comp_key_k ck = { { k_comp_okey }, c };

		return eval_term(ev, c->t->head, &ck.k);
	}
	struct comp_k vk = *c;

	vk.k.fn = k_comp_val;
	return eval_term(ev, c->t->head, &vk.k);
}

static struct val *eval_comprehension(struct ev *ev, struct term *t)
{
	struct vec keys = { 0 }, vals = { 0 };
	struct comp_k c = { { k_comp_body }, t, &keys, &vals };

	eval_body_at(ev, t->body, 0, &c.k, NULL);
	if (t->kind == TM_ACOMP)
		return val_arr(&ev->ar, vals.p, vals.n);
	if (t->kind == TM_SCOMP)
		return val_set_take(&ev->ar, vals.p ? vals.p : arena_alloc(&ev->ar, 8), vals.n);
	bool conflict;
	struct val *o = val_obj_take(&ev->ar, keys.p ? keys.p : arena_alloc(&ev->ar, 8),
				     vals.p ? vals.p : arena_alloc(&ev->ar, 8), keys.n, &conflict);

	if (!o)
		ev_error(ev, EE_CONFLICT, t, "object keys must be unique");
	return o;
}

/* ---------- calls ---------- */

/* A value as JSON for the caller; a big number (which jansson cannot hold exactly) is an
 * evaluation error rather than a rounded result. */
json_t *to_json(struct ev *ev, const struct val *v, const struct term *at)
{
	json_t *j = val_to_json(v);

	if (!j && val_has_big(v))
		ev_error(ev, EE_OTHER, at,
			 "number beyond the 64-bit integer and double range cannot be output as JSON");
	if (!j)
		ev_error(ev, EE_LIMIT, at, "out of memory");
	return j;
}

static struct val *call_host(struct ev *ev, int host, const struct term *t, struct val **args)
{
	const struct rego_host_fn *h = &ev->m->host_fns[host];
	json_t *jargs[16];
	json_t *out = NULL;
	int n = t->n < 16 ? t->n : 16;

	for (int i = 0; i < n; i++) {
		jargs[i] = to_json(ev, args[i], t);
		arena_defer(&ev->ar, (void (*)(void *))json_decref, jargs[i]);
	}
	int rc = h->fn(ev->host_ctx, jargs, (size_t)n, &out);

	if (out)
		arena_defer(&ev->ar, (void (*)(void *))json_decref, out);
	if (rc != 0)
		ev_error(ev, EE_BUILTIN, t, "%s: host function failed (%s)", h->name,
			 kbs_strerror(rc));
	return out ? val_from_json(&ev->ar, out) : NULL;
}

/*
 * A call replaced with `with`: by a value, or by another function evaluated as OPA does,
 * without any function replacement in force (a mock calling the function it replaces
 * reaches the original; `with` inside the mock applies again). Rule values computed then
 * are cached apart from those computed under the replacements.
 */
static struct val *call_mock(struct ev *ev, const struct fmock *mk, const struct term *t,
			     struct val **args)
{
	const struct fnref *rp = &mk->w->rep;
	struct fmock *saved = ev->mocks;
	struct gstate *savedgs = ev->gs;
	struct val *r;

	if (mk->w->kind == WK_FN_VALUE)
		return mk->v;
	ev->mocks = NULL;
	ev->gs = arena_alloc(&ev->ar,
			     (size_t)(ev->m->ngroups ? ev->m->ngroups : 1) * sizeof(*ev->gs));
	if (rp->fn)
		r = call_user(ev, rp->fn, args, t);
	else if (rp->bi)
		r = rp->bi->fn(ev, args, t);
	else
		r = call_host(ev, rp->host, t, args);
	ev->mocks = saved;
	ev->gs = savedgs;
	return r;
}

struct call_k {
	struct kont k;
	struct term *t;
	struct val **vals;
	const struct kont *next;
};

static int k_call(struct ev *ev, const struct kont *kk, struct val *unused)
{
	const struct call_k *c = (const void *)kk;
	struct term *t = c->t;
	struct val *r;

	step(ev, t);
	if (ev->mocks) {
		for (struct fmock *mk = ev->mocks; mk; mk = mk->next) {
			const struct fnref *tg = &mk->w->tgt;

			if ((tg->fn && tg->fn == t->fn) || (tg->bi && tg->bi == t->bi) ||
			    (tg->host >= 0 && tg->host == t->host)) {
				r = call_mock(ev, mk, t, c->vals);
				return r ? kcall(ev, c->next, r) : 0;
			}
		}
	}
	if (t->fn)
		r = call_user(ev, t->fn, c->vals, t);
	else if (t->bi && t->bi->mock_only)
		ev_error(ev, EE_OTHER, t, "built-in %s is not implemented (only replaced with 'with')",
			 t->bi->name);
	else if (t->bi)
		r = t->bi->fn(ev, c->vals, t);
	else
		r = call_host(ev, t->host, t, c->vals);
	return r ? kcall(ev, c->next, r) : 0;
}

/* ---------- terms ---------- */

int eval_term(struct ev *ev, struct term *t, const struct kont *k)
{
	switch (t->kind) {
	case TM_VAL:
		return kcall(ev, k, t->v);
	case TM_VAR:
		if (t->vflag == VF_INPUT)
			return ev->input ? kcall(ev, k, ev->input) : 0;
		if (t->vflag == VF_DATA)
			return kcall(ev, k, full_data(ev, t));
		if (!SLOT(ev, t->slot))
			ev_error(ev, EE_UNSAFE, t, "var %s is unsafe (used before it is bound)",
				 t->name);
		return kcall(ev, k, SLOT(ev, t->slot));
	case TM_REF:
		return eval_ref(ev, t, k);
	case TM_ARR:
	case TM_SET:
	case TM_OBJ: {
		struct val **vals = arena_alloc(&ev->ar, (size_t)(t->n ? t->n : 1) * sizeof(*vals));
		struct build_k bk = { { k_build }, t, vals, k };

		return eval_items(ev, t, 0, vals, &bk.k);
	}
	case TM_ACOMP:
	case TM_SCOMP:
	case TM_OCOMP:
		return kcall(ev, k, eval_comprehension(ev, t));
	case TM_CALL: {
		struct val **vals = arena_alloc(&ev->ar, (size_t)(t->n ? t->n : 1) * sizeof(*vals));
		struct call_k ck = { { k_call }, t, vals, k };

		return eval_items(ev, t, 0, vals, &ck.k);
	}
	}
	return 0;
}
