/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the parts of the Rego evaluator: rego_eval.c (terms, references, calls),
 * rego_eval_expr.c (unification, expressions, `with`, bodies), rego_eval_rule.c (rules,
 * functions, the data tree) and rego_eval_api.c (entry points).
 */
#ifndef KBS_POLICY_REGO_EVAL_H
#define KBS_POLICY_REGO_EVAL_H

#include <string.h>

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

/* Collects distinct values into a vector. */
struct collect_k {
	struct kont k;
	struct vec *out;
	bool first_only;
};

/* Calls fn(key, value) for every element of a collection. */
typedef int (*iter_fn)(struct ev *ev, void *c, struct val *key, struct val *val);

/* A continuation that ends the search at the first solution. */
extern const struct kont stop_k;

static inline void step(struct ev *ev, const struct term *at)
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

static inline size_t push_frame(struct ev *ev, int nslots, const struct term *at)
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

static inline void pop_frame(struct ev *ev, size_t old, int nslots)
{
	ev->sp -= (size_t)nslots;
	ev->fbase = old;
	ev->depth--;
}

/* Continuation collecting its values into a struct collect_k's vector. */
int k_collect(struct ev *ev, const struct kont *kk, struct val *v);
/* Calls fn(key, value) for every element of an array, object or set. */
int iterate(struct ev *ev, struct val *coll, iter_fn fn, void *c, const struct term *at);
/* True if t is a variable without a value in the current frame. */
bool is_unbound_var(struct ev *ev, const struct term *t);
/* `with data.x as v`: the override whose path is exactly this node's, if any. */
bool node_override(struct ev *ev, const struct node *n, struct val **v);
/* A value as JSON for the caller; a big number is an evaluation error, never rounded. */
json_t *to_json(struct ev *ev, const struct val *v, const struct term *at);
/* Calls k with every value of term t (references and calls may have several). */
int eval_term(struct ev *ev, struct term *t, const struct kont *k);
/* True if t contains a variable without a value. */
bool has_unbound(struct ev *ev, const struct term *t);
/* Unifies term t with value v, binding t's free variables, and calls k per solution. */
int unify_tv(struct ev *ev, struct term *t, struct val *v, const struct kont *k);
/* Evaluates one expression (with its `not` and `with` modifiers); k per solution. */
int eval_expr(struct ev *ev, struct expr *e, const struct kont *k);
/* Evaluates b from expression i on; *furthest (optional) records the deepest reached. */
int eval_body_at(struct ev *ev, struct body *b, int i, const struct kont *k, int *furthest);
/* The value of the rules at one path (cached per evaluation); NULL = undefined. */
struct val *eval_group(struct ev *ev, struct group *g, const struct term *at);
/* Calls the user function g with evaluated arguments; NULL = undefined. */
struct val *call_user(struct ev *ev, struct group *g, struct val **args, const struct term *at);
/* Full value of the document at node n: rule values merged with base data. */
struct val *node_value(struct ev *ev, struct node *n, struct val *base, const struct term *at);

#endif
