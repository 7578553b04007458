// SPDX-License-Identifier: Apache-2.0
/* Rego evaluator: rules (complete, partial set/object, default, else), functions and the
 * values of the data tree, with explanations of the bodies evaluated. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "server/policy/rego_eval.h"

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

struct val *eval_group(struct ev *ev, struct group *g, const struct term *at)
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

struct val *call_user(struct ev *ev, struct group *g, struct val **args,
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
struct val *node_value(struct ev *ev, struct node *n, struct val *base,
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
