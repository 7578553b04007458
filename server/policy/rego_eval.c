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
#include "server/policy/rego_int.h"

#define STOP 1
#define MAX_DEPTH 400
#define SLOT(ev, s) ((ev)->stack[(ev)->fbase + (size_t)(s)])

struct kont {
	int (*fn)(struct ev *ev, const struct kont *k, struct val *v);
};

static inline int kcall(struct ev *ev, const struct kont *k, struct val *v)
{
	return k->fn(ev, k, v);
}

struct gstate {
	uint8_t state; /* 0 not evaluated, 1 in progress, 2 done */
	struct val *v;
};

/* Active `with` replacements of data paths (input replacement swaps ev->input). */
struct override {
	const struct val **path; /* string segments below data */
	int n;
	struct val *v;
	struct override *next;
};

/* Active `with` replacements of functions (innermost first). */
struct fmock {
	const struct withmod *w;
	struct val *v; /* WK_FN_VALUE */
	struct fmock *next;
};

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

static void step(struct ev *ev, const struct term *at)
{
	char probe;
	uintptr_t here = (uintptr_t)&probe;
	size_t used = here < ev->stack_base ? ev->stack_base - here : here - ev->stack_base;

	if (++ev->steps > ev->max_steps)
		ev_error(ev, EE_LIMIT, at, "evaluation step limit (%llu) exceeded",
			 (unsigned long long)ev->max_steps);
	/* recursion depth in C follows the policy's nesting; bound it by what it costs */
	if (used > ev->max_stack)
		ev_error(ev, EE_LIMIT, at, "evaluation nested too deeply (stack limit %zu bytes)",
			 ev->max_stack);
}

/* ---------- forward declarations ---------- */

static int eval_term(struct ev *ev, struct term *t, const struct kont *k);
static int eval_body_at(struct ev *ev, struct body *b, int i, const struct kont *k,
			int *furthest);
static int eval_expr(struct ev *ev, struct expr *e, const struct kont *k);
static int unify_tv(struct ev *ev, struct term *t, struct val *v, const struct kont *k);
static struct val *eval_group(struct ev *ev, struct group *g, const struct term *at);
static struct val *node_value(struct ev *ev, struct node *n, struct val *base,
			      const struct term *at);

/* ---------- frames ---------- */

static size_t push_frame(struct ev *ev, int nslots, const struct term *at)
{
	size_t old = ev->fbase;

	if (++ev->depth > MAX_DEPTH)
		ev_error(ev, EE_LIMIT, at, "rule/function call depth limit (%d) exceeded",
			 MAX_DEPTH);
	if (ev->sp + (size_t)nslots > ev->stackcap) {
		size_t cap = ev->stackcap ? ev->stackcap * 2 : 256;

		while (cap < ev->sp + (size_t)nslots)
			cap *= 2;
		struct val **ns = arena_alloc(&ev->ar, cap * sizeof(*ns));

		if (ev->sp)
			memcpy(ns, ev->stack, ev->sp * sizeof(*ns));
		ev->stack = ns;
		ev->stackcap = cap;
	}
	if (nslots)
		memset(ev->stack + ev->sp, 0, (size_t)nslots * sizeof(*ev->stack));
	ev->fbase = ev->sp;
	ev->sp += (size_t)nslots;
	return old;
}

static void pop_frame(struct ev *ev, size_t old, int nslots)
{
	ev->sp -= (size_t)nslots;
	ev->fbase = old;
	ev->depth--;
}

/* ---------- simple continuations ---------- */

static int k_stop(struct ev *ev, const struct kont *k, struct val *v)
{
	return STOP;
}

static const struct kont stop_k = { k_stop };

/* Collects distinct values into a vector. */
struct collect_k {
	struct kont k;
	struct vec *out;
	bool first_only;
};

static int k_collect(struct ev *ev, const struct kont *kk, struct val *v)
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

/* Calls fn(key, value) for every element of a collection. */
typedef int (*iter_fn)(struct ev *ev, void *c, struct val *key, struct val *val);

static int iterate(struct ev *ev, struct val *coll, iter_fn fn, void *c, const struct term *at)
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

static bool has_unbound(struct ev *ev, const struct term *t);

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

static bool is_unbound_var(struct ev *ev, const struct term *t)
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
static bool node_override(struct ev *ev, const struct node *n, struct val **v)
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

static struct val *call_user(struct ev *ev, struct group *g, struct val **args,
			     const struct term *at);

/* A value as JSON for the caller; a big number (which jansson cannot hold exactly) is an
 * evaluation error rather than a rounded result. */
static json_t *to_json(struct ev *ev, const struct val *v, const struct term *at)
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

static int eval_term(struct ev *ev, struct term *t, const struct kont *k)
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

static bool has_unbound(struct ev *ev, const struct term *t)
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

static int unify_tv(struct ev *ev, struct term *t, struct val *v, const struct kont *k)
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

static int eval_expr(struct ev *ev, struct expr *e, const struct kont *k)
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

static int eval_body_at(struct ev *ev, struct body *b, int i, const struct kont *k,
			int *furthest)
{
	if (i == b->n)
		return kcall(ev, k, NULL);
	if (furthest && i > *furthest)
		*furthest = i;
	struct body_k bk = { { k_body }, b, i, k, furthest };

	return eval_expr(ev, b->e[i], &bk.k);
}

/* ---------- rules ---------- */

/*
 * Copies an expression's source text into out on one line: runs of white space become one
 * space. If it does not fit, it is cut at a UTF-8 character boundary and ends in "...".
 */
static void explain_text(char *out, size_t outlen, const char *src, int srclen)
{
	size_t o = 0, keep = outlen - 4; /* room for "..." and NUL */
	bool space = false;

	for (int i = 0; i < srclen && src; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			space = o > 0;
			continue;
		}
		if (o + (space ? 1 : 0) + 1 > outlen - 1) {
			/* does not fit: back off to a character boundary that leaves room */
			o = o < keep ? o : keep;
			while (o > 0 && ((unsigned char)out[o] & 0xc0) == 0x80)
				o--;
			memcpy(out + o, "...", 3);
			out[o + 3] = 0;
			return;
		}
		if (space)
			out[o++] = ' ';
		space = false;
		out[o++] = (char)c;
	}
	out[o] = 0;
}

static void explain(struct ev *ev, struct group *g, struct rule *r, bool matched, int furthest)
{
	struct rego_explain *w = ev->why;

	if (!w)
		return;
	if (w->n >= REGO_EXPLAIN_MAX) {
		w->dropped++;
		return;
	}
	struct rego_explain_entry *x = &w->e[w->n++];

	memset(x, 0, sizeof(*x));
	snprintf(x->rule, sizeof(x->rule), "%s", g->display);
	x->line = r->line;
	x->matched = matched;
	if (!matched && r->body && furthest >= 0 && furthest < r->body->n) {
		struct expr *e = r->body->e[furthest];

		x->fail_line = e->line;
		explain_text(x->fail_expr, sizeof(x->fail_expr), e->src, e->srclen);
	}
}

/* Runs a rule body in a fresh frame; head evaluation happens in `head` (a continuation
 * that sees the body's bindings). Returns whether the body had a solution. */
struct rule_run_k {
	struct kont k;
	bool *matched;
	const struct kont *head;
};

static int k_rule_matched(struct ev *ev, const struct kont *kk, struct val *v)
{
	const struct rule_run_k *c = (const void *)kk;

	*c->matched = true;
	return kcall(ev, c->head, v);
}

static bool run_body(struct ev *ev, struct group *g, struct rule *r, const struct kont *head,
		     bool record)
{
	bool matched = false;
	int furthest = -1;
	struct rule_run_k rk = { { k_rule_matched }, &matched, head };

	if (r->body)
		eval_body_at(ev, r->body, 0, &rk.k, &furthest);
	else
		kcall(ev, &rk.k, NULL);
	if (record)
		explain(ev, g, r, matched, furthest);
	return matched;
}

/* complete rules: all solutions must agree */
struct value_k {
	struct kont k;
	struct rule *r;
	struct group *g;
	struct val **out;
	bool const_value;
};

static int k_value_val(struct ev *ev, const struct kont *kk, struct val *v)
{
	const struct value_k *c = (const void *)kk;

	if (*c->out && !val_eq(*c->out, v))
		ev_error(ev, EE_CONFLICT, c->r->value,
			 c->g->kind == RK_FUNC ?
				 "functions must not produce multiple outputs for same inputs (%s)" :
				 "complete rules must not produce multiple outputs (%s)",
			 c->g->display);
	*c->out = v;
	return c->const_value ? STOP : 0;
}

static int k_value_head(struct ev *ev, const struct kont *kk, struct val *unused)
{
	const struct value_k *c = (const void *)kk;
	struct value_k vk = *c;

	vk.k.fn = k_value_val;
	return eval_term(ev, c->r->value, &vk.k);
}

/* Value of one rule with its else chain (NULL = undefined). Frame already pushed. */
static struct val *rule_chain_value(struct ev *ev, struct group *g, struct rule *r, bool record)
{
	for (struct rule *e = r; e; e = e->els) {
		struct val *out = NULL;
		struct value_k vk = { { k_value_head }, e, g, &out, e->value->kind == TM_VAL };

		if (run_body(ev, g, e, &vk.k, record))
			return out;
	}
	return NULL;
}

/* partial sets */
struct pset_k {
	struct kont k;
	struct rule *r;
	struct vec *out;
};

static int k_pset_val(struct ev *ev, const struct kont *kk, struct val *v)
{
	const struct pset_k *c = (const void *)kk;

	vec_push(&ev->ar, c->out, v);
	return 0;
}

static int k_pset_head(struct ev *ev, const struct kont *kk, struct val *unused)
{
	const struct pset_k *c = (const void *)kk;
	struct pset_k pk = *c;

	pk.k.fn = k_pset_val;
	return eval_term(ev, c->r->key, &pk.k);
}

/* partial objects (possibly with several dynamic key levels) */
struct pobj_entry {
	struct val **keys;
	int nkeys;
	struct val *v;
	const struct term *at;
};

struct pobj_k {
	struct kont k;
	struct rule *r;
	struct pobj_entry **entries;
	size_t *n, *cap;
	struct val **keys;
	int ki;
};

static int k_pobj_key(struct ev *ev, const struct kont *kk, struct val *key);

static int pobj_next(struct ev *ev, const struct pobj_k *c)
{
	struct rule *r = c->r;
	int dyn = r->npath - r->nstatic;

	if (c->ki < dyn) {
		struct pobj_k nk = *c;

		nk.k.fn = k_pobj_key;
		return eval_term(ev, r->path[r->nstatic + c->ki], &nk.k);
	}
	struct pobj_k vk = *c;

	vk.k.fn = k_pobj_key;
	vk.ki = dyn + 1; /* marker: evaluating the value */
	return eval_term(ev, r->value, &vk.k);
}

static int k_pobj_key(struct ev *ev, const struct kont *kk, struct val *x)
{
	const struct pobj_k *c = (const void *)kk;
	struct rule *r = c->r;
	int dyn = r->npath - r->nstatic;

	if (c->ki > dyn) {
		if (*c->n == *c->cap) {
			size_t cap = *c->cap ? *c->cap * 2 : 8;
			struct pobj_entry *ne = arena_alloc(&ev->ar, cap * sizeof(*ne));

			if (*c->n)
				memcpy(ne, *c->entries, *c->n * sizeof(*ne));
			*c->entries = ne;
			*c->cap = cap;
		}
		struct pobj_entry *pe = &(*c->entries)[(*c->n)++];

		pe->keys = arena_alloc(&ev->ar, (size_t)dyn * sizeof(*pe->keys));
		memcpy(pe->keys, c->keys, (size_t)dyn * sizeof(*pe->keys));
		pe->nkeys = dyn;
		pe->v = x;
		pe->at = r->value;
		return 0;
	}
	c->keys[c->ki] = x;
	struct pobj_k nk = *c;

	nk.ki = c->ki + 1;
	return pobj_next(ev, &nk);
}

static int k_pobj_head(struct ev *ev, const struct kont *kk, struct val *unused)
{
	const struct pobj_k *c = (const void *)kk;

	return pobj_next(ev, c);
}

/* Builds a nested object from entries sharing key prefixes; conflicts are errors. */
static struct val *pobj_build(struct ev *ev, struct group *g, struct pobj_entry *es, size_t n,
			      int depth)
{
	struct val **ks = arena_alloc(&ev->ar, (n ? n : 1) * sizeof(*ks));
	struct val **vs = arena_alloc(&ev->ar, (n ? n : 1) * sizeof(*vs));
	bool *used = arena_alloc(&ev->ar, n ? n : 1);
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		if (used[i])
			continue;
		struct val *key = es[i].keys[depth];

		if (es[i].nkeys == depth + 1) {
			/* leaf: all entries with this key must be leaves with equal values, or
			 * (`p[q] contains v`) members of one set */
			struct vec members = { 0 };

			vec_push(&ev->ar, &members, es[i].v);
			for (size_t j = i + 1; j < n; j++) {
				if (used[j] || !val_eq(es[j].keys[depth], key))
					continue;
				if (es[j].nkeys != depth + 1 ||
				    (!g->set_leaf && !val_eq(es[j].v, es[i].v)))
					ev_error(ev, EE_CONFLICT, es[i].at,
						 "object keys must be unique (%s)", g->display);
				if (g->set_leaf)
					vec_push(&ev->ar, &members, es[j].v);
				used[j] = true;
			}
			ks[m] = key;
			vs[m] = g->set_leaf ? val_set_take(&ev->ar, members.p, members.n) : es[i].v;
			m++;
			used[i] = true;
			continue;
		}
		struct pobj_entry *sub = arena_alloc(&ev->ar, n * sizeof(*sub));
		size_t sn = 0;

		for (size_t j = i; j < n; j++) {
			if (used[j] || !val_eq(es[j].keys[depth], key))
				continue;
			if (es[j].nkeys == depth + 1)
				ev_error(ev, EE_CONFLICT, es[j].at,
					 "object keys must be unique (%s)", g->display);
			sub[sn++] = es[j];
			used[j] = true;
		}
		ks[m] = key;
		vs[m] = pobj_build(ev, g, sub, sn, depth + 1);
		m++;
	}
	bool conflict;
	struct val *o = val_obj_take(&ev->ar, ks, vs, m, &conflict);

	if (!o)
		ev_error(ev, EE_CONFLICT, NULL, "object keys must be unique (%s)", g->display);
	return o;
}

/* value of the group's default rule (constants directly, other terms evaluated) */
static struct val *default_value(struct ev *ev, struct group *g, const struct term *at)
{
	struct rule *d = g->dflt;
	struct val *v = NULL;

	if (d->value->kind == TM_VAL)
		return d->value->v;
	size_t old = push_frame(ev, d->nslots, at);
	struct vec out = { 0 };
	struct collect_k ck = { { k_collect }, &out, true };

	eval_term(ev, d->value, &ck.k);
	pop_frame(ev, old, d->nslots);
	if (out.n)
		v = out.p[0];
	return v;
}

static struct val *eval_group(struct ev *ev, struct group *g, const struct term *at)
{
	struct gstate *s = &ev->gs[g->id];

	if (s->state == 2)
		return s->v;
	if (s->state == 1)
		ev_error(ev, EE_OTHER, at, "rule %s is recursive", g->display);
	s->state = 1;
	struct val *result = NULL;

	switch (g->kind) {
	case RK_COMPLETE:
		for (int i = 0; i < g->nrules; i++) {
			struct rule *r = g->rules[i];
			size_t old = push_frame(ev, r->nslots, at);
			struct val *v = rule_chain_value(ev, g, r, true);

			pop_frame(ev, old, r->nslots);
			if (v && result && !val_eq(v, result))
				ev_error(ev, EE_CONFLICT, r->value,
					 "complete rules must not produce multiple outputs (%s)",
					 g->display);
			if (v)
				result = v;
		}
		if (!result && g->dflt)
			result = default_value(ev, g, at);
		break;
	case RK_PSET: {
		struct vec out = { 0 };

		for (int i = 0; i < g->nrules; i++) {
			struct rule *r = g->rules[i];
			size_t old = push_frame(ev, r->nslots, at);
			struct pset_k pk = { { k_pset_head }, r, &out };

			run_body(ev, g, r, &pk.k, true);
			pop_frame(ev, old, r->nslots);
		}
		result = val_set_take(&ev->ar, out.p ? out.p : arena_alloc(&ev->ar, 8), out.n);
		break;
	}
	case RK_POBJ: {
		struct pobj_entry *es = NULL;
		size_t n = 0, cap = 0;

		for (int i = 0; i < g->nrules; i++) {
			struct rule *r = g->rules[i];
			size_t old = push_frame(ev, r->nslots, at);
			struct val **keys = arena_alloc(&ev->ar, (size_t)(r->npath + 1) *
									 sizeof(*keys));
			struct pobj_k pk = { { k_pobj_head }, r, &es, &n, &cap, keys, 0 };

			run_body(ev, g, r, &pk.k, true);
			pop_frame(ev, old, r->nslots);
		}
		result = pobj_build(ev, g, es, n, 0);
		break;
	}
	default:
		ev_error(ev, EE_TYPE, at, "function %s referenced without a call", g->display);
	}
	s = &ev->gs[g->id];
	s->state = 2;
	s->v = result;
	return result;
}

/* function args: unify each argument pattern with its value, then evaluate */
struct fargs_k {
	struct kont k;
	struct rule *r;
	struct val **args;
	int i;
	const struct kont *next;
};

static int fargs_unify(struct ev *ev, struct rule *r, struct val **args, int i,
		       const struct kont *k);

static int k_fargs(struct ev *ev, const struct kont *kk, struct val *unused)
{
	const struct fargs_k *c = (const void *)kk;

	return fargs_unify(ev, c->r, c->args, c->i + 1, c->next);
}

static int fargs_unify(struct ev *ev, struct rule *r, struct val **args, int i,
		       const struct kont *k)
{
	if (i == r->nargs)
		return kcall(ev, k, NULL);
	struct fargs_k fk = { { k_fargs }, r, args, i, k };

	return unify_tv(ev, r->args[i], args[i], &fk.k);
}

struct fbody_k {
	struct kont k;
	struct group *g;
	struct rule *r;
	struct val **out;
	bool *matched;
};

static int k_fbody(struct ev *ev, const struct kont *kk, struct val *unused)
{
	const struct fbody_k *c = (const void *)kk;

	for (struct rule *e = c->r; e; e = e->els) {
		struct val *out = NULL;
		struct value_k vk = { { k_value_head }, e, c->g, &out, e->value->kind == TM_VAL };

		if (run_body(ev, c->g, e, &vk.k, false)) {
			if (!out)
				return 0; /* the body held but the value is undefined */
			if (*c->out && !val_eq(*c->out, out))
				ev_error(ev, EE_CONFLICT, e->value,
					 "functions must not produce multiple outputs for same inputs (%s)",
					 c->g->display);
			*c->out = out;
			*c->matched = true;
			return 0;
		}
	}
	return 0;
}

static struct val *call_user(struct ev *ev, struct group *g, struct val **args,
			     const struct term *at)
{
	struct val *result = NULL;

	for (int i = 0; i < g->nrules; i++) {
		struct rule *r = g->rules[i];
		size_t old = push_frame(ev, r->nslots, at);
		bool matched = false;
		struct fbody_k fk = { { k_fbody }, g, r, &result, &matched };

		fargs_unify(ev, r, args, 0, &fk.k);
		pop_frame(ev, old, r->nslots);
	}
	if (!result && g->dflt)
		result = default_value(ev, g, at);
	return result;
}

/* Merges two values for one path of the data tree: equal values or objects (recursively). */
static struct val *merge_vals(struct ev *ev, struct val *a, struct val *b, const struct term *at,
			      const char *what, int depth, bool sets)
{
	if (val_eq(a, b))
		return a;
	if (sets && depth <= 0 && a->t == V_SET && b->t == V_SET) {
		/* two partial-set contributions to one leaf (`p[q] contains x`, `p.b contains y`) */
		struct val **items = arena_alloc(&ev->ar, (a->len + b->len + 1) * sizeof(*items));

		if (a->len)
			memcpy(items, a->items, a->len * sizeof(*items));
		if (b->len)
			memcpy(items + a->len, b->items, b->len * sizeof(*items));
		return val_set_take(&ev->ar, items, a->len + b->len);
	}
	/* below the rule's own key levels a value is a leaf: nothing may be injected into it */
	if (depth <= 0 || a->t != V_OBJ || b->t != V_OBJ)
		ev_error(ev, EE_CONFLICT, at, "object keys must be unique (%s)", what);
	size_t cap = a->len + b->len + 1, m = 0;
	struct val **ks = arena_alloc(&ev->ar, cap * sizeof(*ks));
	struct val **vs = arena_alloc(&ev->ar, cap * sizeof(*vs));
	bool conflict;

	for (size_t i = 0; i < a->len; i++) {
		struct val *bv = val_obj_get(b, a->items[i]);

		ks[m] = a->items[i];
		vs[m++] = bv ? merge_vals(ev, a->vals[i], bv, at, what, depth - 1, sets) :
			       a->vals[i];
	}
	for (size_t i = 0; i < b->len; i++) {
		if (val_obj_get(a, b->items[i]))
			continue;
		ks[m] = b->items[i];
		vs[m++] = b->vals[i];
	}
	return val_obj_take(&ev->ar, ks, vs, m, &conflict);
}

/* number of key levels every rule of a partial-object group produces */
static int pobj_depth(const struct group *g)
{
	int d = 1 << 20;

	for (int i = 0; i < g->nrules; i++) {
		int k = g->rules[i]->npath - g->rules[i]->nstatic;

		if (k < d)
			d = k;
	}
	return d;
}

/* Full value of the document at node n: rule values merged with base data. */
static struct val *node_value(struct ev *ev, struct node *n, struct val *base,
			      const struct term *at)
{
	struct val *gv = NULL;
	bool virt_base = false;

	if (ev->ovr && node_override(ev, n, &gv))
		return gv;
	if (n->grp) {
		if (n->grp->kind == RK_FUNC)
			return NULL;
		gv = eval_group(ev, n->grp, at);
		if (n->grp->kind != RK_POBJ || n->nkids == 0)
			return gv;
		base = gv;
		virt_base = true;
	}
	size_t blen = base && base->t == V_OBJ ? base->len : 0;
	size_t cap = blen + (size_t)n->nkids;
	struct val **ks = arena_alloc(&ev->ar, (cap ? cap : 1) * sizeof(*ks));
	struct val **vs = arena_alloc(&ev->ar, (cap ? cap : 1) * sizeof(*vs));
	size_t m = 0;
	bool conflict;

	if (base && base->t != V_OBJ && n->nkids == 0)
		return base;
	for (int k = 0; k < n->nkids; k++) {
		struct node *kid = n->kids[k];
		struct val *kb = base ? val_obj_gets(base, kid->key, strlen(kid->key)) : NULL;
		struct val *kv;

		/* where a base document and a rule both give a leaf value, OPA keeps the base one */
		if (kb && !virt_base && kb->t != V_OBJ)
			continue;
		kv = node_value(ev, kid, virt_base ? NULL : kb, at);
		if (!kv)
			continue;
		if (virt_base && kb)
			kv = merge_vals(ev, kb, kv, at, n->grp->display, pobj_depth(n->grp) - 1,
					n->grp->set_leaf);
		ks[m] = val_str(&ev->ar, kid->key);
		vs[m] = kv;
		m++;
	}
	for (size_t i = 0; i < blen; i++) {
		struct val *key = base->items[i];
		bool virt = false;

		for (size_t j = 0; j < m; j++)
			if (val_eq(ks[j], key))
				virt = true;
		if (virt)
			continue;
		ks[m] = key;
		vs[m] = base->vals[i];
		m++;
	}
	struct val *o = val_obj_take(&ev->ar, ks, vs, m, &conflict);

	if (!o)
		ev_error(ev, EE_CONFLICT, at, "conflicting values in data");
	return o;
}

/* ---------- entry points ---------- */

struct rego_query_plan {
	struct body *body;
	int nslots;
	const char **names;
	int *slots;
	int nnames;
};

static void ev_init(struct ev *ev, const struct rego_module *m, const struct rego_eval_opts *o)
{
	memset(ev, 0, sizeof(*ev));
	ev->m = m;
	arena_init(&ev->ar, o && o->max_mem ? o->max_mem : (size_t)64 << 20);
	ev->max_steps = o && o->max_steps ? o->max_steps : 10000000;
	ev->now_ns = o ? o->now_ns : 0;
	ev->strict = !(o && o->lenient_builtin_errors);
	ev->max_stack = o && o->max_stack ? o->max_stack : (size_t)1 << 20;
	ev->host_ctx = o ? o->host_ctx : NULL;
	ev->test_builtins = o && o->test_builtins;
}

static int ev_errcode(const struct ev *ev)
{
	return ev->errkind == EE_LIMIT ? KBS_ERR_RANGE : KBS_ERR_INVAL;
}

static const char *const errkind_names[] = {
	"", "eval_type_error", "eval_conflict_error", "eval_builtin_error",
	"eval_limit_error", "rego_unsafe_var_error", "eval_error",
};

static void ev_report(const struct ev *ev, struct rego_error *err)
{
	if (!err)
		return;
	snprintf(err->msg, sizeof(err->msg), "%.40s: %.200s",
		 errkind_names[ev->errkind < 7 ? ev->errkind : 6], ev->errmsg);
	err->line = ev->errline;
	err->col = 0;
}

struct sol_k {
	struct kont k;
	struct rego_query_plan *qp;
	json_t *out;
};

static int k_solution(struct ev *ev, const struct kont *kk, struct val *unused)
{
	const struct sol_k *c = (const void *)kk;
	json_t *row = json_object();

	if (!row || json_array_append_new(c->out, row) != 0)
		ev_error(ev, EE_LIMIT, NULL, "out of memory");
	for (int i = 0; i < c->qp->nnames; i++) {
		struct val *v = SLOT(ev, c->qp->slots[i]);

		if (v && json_object_set_new(row, c->qp->names[i], to_json(ev, v, NULL)) != 0)
			ev_error(ev, EE_LIMIT, NULL, "out of memory");
	}
	return 0;
}

/* Runs the query in an evaluation whose arena and jump buffer are set up by the caller. */
static void run_query(struct ev *ev, struct rego_query_plan *qp, json_t *input, json_t *data,
		      const struct kont *k)
{
	ev->input = input ? val_from_json(&ev->ar, input) : NULL;
	ev->data = data ? val_from_json(&ev->ar, data) : NULL;
	ev->gs = arena_alloc(&ev->ar, (size_t)(ev->m->ngroups ? ev->m->ngroups : 1) *
					      sizeof(*ev->gs));
	push_frame(ev, qp->nslots, NULL);
	eval_body_at(ev, qp->body, 0, k, NULL);
}

static int plan_query(const struct rego_module *m, struct arena *a, const char *q, size_t qlen,
		      struct rego_query_plan *qp, struct rego_error *err)
{
	struct perr pe = { .err = err };

	a->oom = &pe.jb;
	a->oom_code = &pe.code;
	if (setjmp(pe.jb)) {
		a->oom = NULL;
		return pe.code ? pe.code : KBS_ERR_PARSE;
	}
	qp->body = rego_parse_body(a, q, qlen, &pe);
	qp->nslots = rego_link_query((struct rego_module *)m, a, qp->body, &pe, &qp->names,
				     &qp->slots, &qp->nnames);
	a->oom = NULL;
	return KBS_OK;
}

int rego_query(const struct rego_module *m, const char *body, json_t *input, json_t *data,
	       const struct rego_eval_opts *opts, json_t **solutions, struct rego_error *err)
{
	struct ev *ev;
	struct rego_query_plan qp;
	json_t *volatile out = NULL;
	int rc;

	if (!m || !body || !solutions)
		return KBS_ERR_INVAL;
	*solutions = NULL;
	ev = malloc(sizeof(*ev));
	if (!ev)
		return KBS_ERR_NOMEM;
	ev_init(ev, m, opts);
	ev->stack_base = (uintptr_t)&rc;
	rc = plan_query(m, &ev->ar, body, strlen(body), &qp, err);
	if (rc != KBS_OK)
		goto out;
	out = json_array();
	if (!out) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	ev->ar.oom = &ev->jb;
	if (setjmp(ev->jb)) {
		if (ev->errkind == EE_NONE) {
			ev->errkind = EE_LIMIT;
			snprintf(ev->errmsg, sizeof(ev->errmsg), "evaluation memory limit exceeded");
		}
		ev_report(ev, err);
		rc = ev_errcode(ev);
		json_decref(out);
		out = NULL;
		goto out;
	}
	struct sol_k sk = { { k_solution }, &qp, out };

	run_query(ev, &qp, input, data, &sk.k);
	*solutions = out;
	rc = KBS_OK;
out:
	arena_free(&ev->ar);
	free(ev);
	return rc;
}

/* collects the values of the query's single term */
struct qval_k {
	struct kont k;
	struct val **out;
	struct term *t;
};

static int k_qval(struct ev *ev, const struct kont *kk, struct val *v)
{
	const struct qval_k *c = (const void *)kk;

	if (*c->out && !val_eq(*c->out, v))
		ev_error(ev, EE_CONFLICT, c->t, "query has more than one value");
	*c->out = v;
	return 0;
}

struct qterm_k {
	struct kont k;
	struct term *t;
	struct val **out;
};

int rego_eval_ex(const struct rego_module *m, const char *query, json_t *input, json_t *data,
		 const struct rego_eval_opts *opts, json_t **result, struct rego_explain *why,
		 struct rego_error *err)
{
	struct ev *ev;
	struct rego_query_plan qp;
	int rc;

	if (!m || !query || !result)
		return KBS_ERR_INVAL;
	*result = NULL;
	if (why)
		memset(why, 0, sizeof(*why));
	ev = malloc(sizeof(*ev));
	if (!ev)
		return KBS_ERR_NOMEM;
	ev_init(ev, m, opts);
	ev->why = why;
	ev->stack_base = (uintptr_t)&rc;
	rc = plan_query(m, &ev->ar, query, strlen(query), &qp, err);
	if (rc != KBS_OK)
		goto out;
	if (qp.body->n != 1 || qp.body->e[0]->kind != EX_TERM || qp.body->e[0]->neg ||
	    qp.body->e[0]->nwith) {
		if (err)
			snprintf(err->msg, sizeof(err->msg),
				 "query must be a single reference such as data.policy.allow");
		rc = KBS_ERR_INVAL;
		goto out;
	}
	ev->ar.oom = &ev->jb;
	if (setjmp(ev->jb)) {
		if (ev->errkind == EE_NONE) {
			ev->errkind = EE_LIMIT;
			snprintf(ev->errmsg, sizeof(ev->errmsg), "evaluation memory limit exceeded");
		}
		ev_report(ev, err);
		rc = ev_errcode(ev);
		goto out;
	}
	struct val *v = NULL;
	struct qval_k qk = { { k_qval }, &v, qp.body->e[0]->a };

	ev->input = input ? val_from_json(&ev->ar, input) : NULL;
	ev->data = data ? val_from_json(&ev->ar, data) : NULL;
	ev->gs = arena_alloc(&ev->ar, (size_t)(m->ngroups ? m->ngroups : 1) * sizeof(*ev->gs));
	push_frame(ev, qp.nslots, NULL);
	eval_term(ev, qp.body->e[0]->a, &qk.k);
	if (v)
		*result = to_json(ev, v, NULL);
	rc = KBS_OK;
out:
	arena_free(&ev->ar);
	free(ev);
	return rc;
}

int rego_eval(const struct rego_module *m, const char *query, json_t *input, json_t *data,
	      json_t **result, struct rego_explain *why)
{
	return rego_eval_ex(m, query, input, data, NULL, result, why, NULL);
}
