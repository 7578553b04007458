// SPDX-License-Identifier: Apache-2.0
/*
 * Linker: resolves variable names to frame slots, bare rule names to data references and call
 * names to built-ins, user functions or host functions, after rego_link_tree.c has grouped the
 * rules by path into the `data` tree. Unknown functions fail here, at compile time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/policy/rego_int.h"

struct sym {
	const char *name;
	int slot;
};

struct scope {
	struct scope *up;
	struct sym *syms;
	int n, cap;
};

struct lk {
	struct rego_module *m;
	struct arena *a;
	struct perr *pe;
	struct module *mod; /* module of the rule being linked (NULL for queries) */
	int nslots;
	struct scope *sc;
	/* mock-only built-ins: calls seen, and those some `with` replaces */
	struct term **mo_calls;
	int n_mo_calls, cap_mo_calls;
	const struct builtin **mocked;
	int nmocked, capmocked;
};


/* ---------- scopes ---------- */

static struct scope *push_scope(struct lk *l)
{
	struct scope *s = arena_alloc(l->a, sizeof(*s));

	s->up = l->sc;
	l->sc = s;
	return s;
}

static void pop_scope(struct lk *l)
{
	l->sc = l->sc->up;
}

static int lookup(struct lk *l, const char *name)
{
	for (struct scope *s = l->sc; s; s = s->up)
		for (int k = s->n - 1; k >= 0; k--)
			if (strcmp(s->syms[k].name, name) == 0)
				return s->syms[k].slot;
	return -1;
}

static int declare(struct lk *l, const char *name, const struct term *at)
{
	struct scope *s = l->sc;

	if (l->nslots >= MAX_SLOTS)
		rego_fail(l->pe, KBS_ERR_RANGE, at->line, at->col, "too many variables in one rule");
	if (s->n == s->cap) {
		int cap = s->cap ? s->cap * 2 : 8;
		struct sym *ns = arena_alloc(l->a, (size_t)cap * sizeof(*ns));

		if (s->n)
			memcpy(ns, s->syms, (size_t)s->n * sizeof(*ns));
		s->syms = ns;
		s->cap = cap;
	}
	s->syms[s->n].name = name;
	s->syms[s->n].slot = l->nslots;
	s->n++;
	return l->nslots++;
}

/* Is `name` the first segment of a rule of the current package? */
static bool pkg_has_rule(struct lk *l, const char *name)
{
	if (!l->mod)
		return false;
	struct node *pn = rego_find_node(l->m, l->mod->pkg, l->mod->npkg);

	return pn && rego_node_child(&l->m->ar, pn, name, false);
}

static struct term *pkg_ref(struct lk *l, struct term *var)
{
	/* data.<pkg...>.<name> */
	int n = l->mod->npkg + 1;
	struct term *r = arena_alloc(l->a, sizeof(*r));
	struct term *h = arena_alloc(l->a, sizeof(*h));

	*h = *var;
	h->kind = TM_VAR;
	h->vflag = VF_DATA;
	h->name = "data";
	r->kind = TM_REF;
	r->line = var->line;
	r->col = var->col;
	r->slot = -1;
	r->host = -1;
	r->head = h;
	r->n = n;
	r->items = arena_alloc(l->a, (size_t)n * sizeof(*r->items));
	for (int k = 0; k < n; k++) {
		struct term *s = arena_alloc(l->a, sizeof(*s));

		s->kind = TM_VAL;
		s->line = var->line;
		s->col = var->col;
		s->v = val_str(l->a, k < l->mod->npkg ? l->mod->pkg[k] : var->name);
		r->items[k] = s;
	}
	return r;
}

static void link_body(struct lk *l, struct body *b);
static void link_term(struct lk *l, struct term *t);

static struct alias *find_alias(struct lk *l, const char *name)
{
	if (!l->mod || lookup(l, name) >= 0)
		return NULL;
	for (int k = 0; k < l->mod->naliases; k++)
		if (strcmp(l->mod->aliases[k].name, name) == 0)
			return &l->mod->aliases[k];
	return NULL;
}

/* Replaces an aliased head: `alias.rest` becomes `data.x.y.rest`. */
static void expand_alias(struct lk *l, struct term *t, struct alias *al)
{
	struct term *ar = al->ref;
	int extra = t->kind == TM_REF ? t->n : 0;
	int n = ar->n + extra;
	struct term **items = arena_alloc(l->a, (size_t)n * sizeof(*items));
	struct term *h = arena_alloc(l->a, sizeof(*h));

	*h = *ar->head;
	h->vflag = strcmp(h->name, "data") == 0 ? VF_DATA : VF_INPUT;
	memcpy(items, ar->items, (size_t)ar->n * sizeof(*items));
	if (extra)
		memcpy(items + ar->n, t->items, (size_t)extra * sizeof(*items));
	t->kind = TM_REF;
	t->head = h;
	t->items = items;
	t->n = n;
}

static void link_var(struct lk *l, struct term *t, bool fresh)
{
	if (strcmp(t->name, "_") == 0) {
		t->slot = declare(l, "_", t);
		return;
	}
	if (fresh) {
		/* := and some declare a new variable in the current scope */
		for (int k = 0; k < l->sc->n; k++)
			if (strcmp(l->sc->syms[k].name, t->name) == 0)
				rego_fail(l->pe, KBS_ERR_INVAL, t->line, t->col,
					  "var %s assigned above", t->name);
		if (strcmp(t->name, "input") == 0 || strcmp(t->name, "data") == 0)
			rego_fail(l->pe, KBS_ERR_INVAL, t->line, t->col,
				  "cannot assign to %s", t->name);
		t->slot = declare(l, t->name, t);
		return;
	}
	if (strcmp(t->name, "input") == 0) {
		t->vflag = VF_INPUT;
		return;
	}
	if (strcmp(t->name, "data") == 0) {
		t->vflag = VF_DATA;
		return;
	}
	t->slot = lookup(l, t->name);
	if (t->slot < 0)
		t->slot = declare(l, t->name, t);
}

/* Declares the variables of a := / some pattern as new. */
static void link_pattern(struct lk *l, struct term *t)
{
	switch (t->kind) {
	case TM_VAR:
		link_var(l, t, true);
		break;
	case TM_ARR:
	case TM_SET:
		for (int k = 0; k < t->n; k++)
			link_pattern(l, t->items[k]);
		break;
	case TM_OBJ:
		for (int k = 0; k < t->n; k += 2) {
			link_term(l, t->items[k]);
			link_pattern(l, t->items[k + 1]);
		}
		break;
	case TM_VAL:
		break;
	default:
		rego_fail(l->pe, KBS_ERR_INVAL, t->line, t->col,
			  "cannot assign to this kind of term");
	}
}

/* `some k, v in xs`: variables are new; calls and references are values to compare */
static void link_some_pattern(struct lk *l, struct term *t)
{
	if (t->kind == TM_CALL || t->kind == TM_REF)
		link_term(l, t);
	else
		link_pattern(l, t);
}

/* Finds what a call refers to; returns its arity (-1 = variadic, -2 = unknown). With
 * quiet, a name that is a rule rather than a function is merely unknown. */
static int resolve_call_q(struct lk *l, struct term *t, bool quiet)
{
	const char *f = t->fname;

	if (l->mod && strncmp(f, "data.", 5) != 0) {
		/* a function of this package, possibly with a dotted name (a.b(x)) */
		struct node *pn = rego_find_node(l->m, l->mod->pkg, l->mod->npkg);
		struct node *fnn = pn;
		char *copy = arena_strndup(l->a, f, strlen(f));

		for (char *s = copy; s && fnn;) {
			char *dot = strchr(s, '.');

			if (dot)
				*dot = 0;
			fnn = rego_node_child(&l->m->ar, fnn, s, false);
			s = dot ? dot + 1 : NULL;
		}

		if (fnn && fnn != pn && fnn->grp && fnn->grp->kind == RK_FUNC)
			t->fn = fnn->grp;
		else if (fnn && fnn != pn && fnn->grp && !quiet)
			rego_fail(l->pe, KBS_ERR_INVAL, t->line, t->col,
				  "%s is a rule, not a function", f);
		else if (fnn && fnn != pn && fnn->grp)
			return -2;
	}
	if (!t->fn && strncmp(f, "data.", 5) == 0) {
		const char *segs[64];
		int n = 0;
		char *copy = arena_strndup(l->a, f + 5, strlen(f + 5));

		for (char *s = copy; s && n < 64;) {
			char *dot = strchr(s, '.');

			if (dot)
				*dot = 0;
			segs[n++] = s;
			s = dot ? dot + 1 : NULL;
		}
		struct node *fnn = rego_find_node(l->m, segs, n);

		if (fnn && fnn->grp && fnn->grp->kind == RK_FUNC)
			t->fn = fnn->grp;
	}
	if (!t->fn) {
		t->bi = rego_builtin_find(f, strlen(f));
		if (!t->bi) {
			for (size_t k = 0; k < l->m->n_host_fns; k++)
				if (strcmp(l->m->host_fns[k].name, f) == 0)
					t->host = (int)k;
		}
	}
	return t->fn ? t->fn->arity : t->bi ? t->bi->arity :
		t->host >= 0 ? l->m->host_fns[t->host].arity : -2;
}

static int resolve_call(struct lk *l, struct term *t)
{
	return resolve_call_q(l, t, false);
}

/* The dotted name a term spells ("count", "time.now_ns", "data.p.f"), NULL if none. */
static const char *fn_name_of(struct lk *l, const struct term *t)
{
	struct sbuf sb = { .a = l->a };

	if (t->kind == TM_VAR)
		return t->name;
	if (t->kind != TM_REF || t->head->kind != TM_VAR)
		return NULL;
	sb_puts(&sb, t->head->name);
	for (int k = 0; k < t->n; k++) {
		const struct val *v = t->items[k]->kind == TM_VAL ? t->items[k]->v : NULL;

		if (!v || v->t != V_STR || memchr(v->s, '.', v->len) || v->len == 0)
			return NULL;
		sb_putc(&sb, '.');
		sb_putn(&sb, v->s, v->len);
	}
	return sb.p;
}

/* Resolves a function named by a term (quietly); returns its arity or -2. */
static int resolve_fn_term(struct lk *l, const struct term *t, struct fnref *out)
{
	const char *name = fn_name_of(l, t);
	struct term tmp = { .kind = TM_CALL, .line = t->line, .col = t->col, .host = -1 };
	int arity;

	out->fn = NULL;
	out->bi = NULL;
	out->host = -1;
	if (!name)
		return -2;
	if (t->kind == TM_VAR && lookup(l, name) >= 0)
		return -2; /* a local variable */
	tmp.fname = name;
	arity = resolve_call_q(l, &tmp, true);
	out->fn = tmp.fn;
	out->bi = tmp.bi;
	out->host = tmp.host;
	return arity;
}

static void push_mocked(struct lk *l, const struct builtin *bi)
{
	if (l->nmocked == l->capmocked) {
		int cap = l->capmocked ? l->capmocked * 2 : 8;
		const struct builtin **n = arena_alloc(l->a, (size_t)cap * sizeof(*n));

		if (l->nmocked)
			memcpy(n, l->mocked, (size_t)l->nmocked * sizeof(*n));
		l->mocked = n;
		l->capmocked = cap;
	}
	l->mocked[l->nmocked++] = bi;
}

/* A mock-only built-in called where no `with` replaces it is refused at compile time. */
static void check_mock_only(struct lk *l)
{
	for (int k = 0; k < l->n_mo_calls; k++) {
		struct term *t = l->mo_calls[k];
		int j;

		for (j = 0; j < l->nmocked; j++)
			if (l->mocked[j] == t->bi)
				break;
		if (j == l->nmocked)
			rego_fail(l->pe, KBS_ERR_UNSUPPORTED, t->line, t->col,
				  "unsupported construct: built-in %s is not implemented (it may "
				  "only be replaced with 'with')",
				  t->fname);
	}
}

static void link_call(struct lk *l, struct term *t)
{
	const char *f = t->fname;
	const char *dot = strchr(f, '.');

	if (dot && l->mod) {
		/* alias.f(x) -> data.x.y.f(x) */
		char *first = arena_strndup(l->a, f, (size_t)(dot - f));
		struct alias *al = find_alias(l, first);

		if (al && strcmp(al->ref->head->name, "data") == 0) {
			struct sbuf sb = { .a = l->a };

			sb_puts(&sb, "data");
			for (int k = 0; k < al->ref->n; k++) {
				sb_putc(&sb, '.');
				sb_puts(&sb, al->ref->items[k]->v->s);
			}
			sb_puts(&sb, dot);
			t->fname = f = sb.p;
			t->fn = NULL;
			t->bi = NULL;
		}
	}
	int arity = resolve_call(l, t);

	if (arity == -2)
		rego_fail(l->pe, KBS_ERR_UNSUPPORTED, t->line, t->col,
			  "unsupported construct: unknown function %s", f);
	if (arity >= 0 && arity != t->n)
		rego_fail(l->pe, KBS_ERR_INVAL, t->line, t->col,
			  "function %s takes %d argument%s, called with %d", f, arity,
			  arity == 1 ? "" : "s", t->n);
	if (t->bi && t->bi->mock_only) {
		if (l->n_mo_calls == l->cap_mo_calls) {
			int cap = l->cap_mo_calls ? l->cap_mo_calls * 2 : 8;
			struct term **n = arena_alloc(l->a, (size_t)cap * sizeof(*n));

			if (l->n_mo_calls)
				memcpy(n, l->mo_calls, (size_t)l->n_mo_calls * sizeof(*n));
			l->mo_calls = n;
			l->cap_mo_calls = cap;
		}
		l->mo_calls[l->n_mo_calls++] = t;
	}
	for (int k = 0; k < t->n; k++)
		link_term(l, t->items[k]);
}

static void link_term(struct lk *l, struct term *t)
{
	switch (t->kind) {
	case TM_VAL:
		break;
	case TM_VAR:
		if (find_alias(l, t->name)) {
			expand_alias(l, t, find_alias(l, t->name));
			break;
		}
		if (lookup(l, t->name) < 0 && strcmp(t->name, "_") != 0 &&
		    strcmp(t->name, "input") != 0 && strcmp(t->name, "data") != 0 &&
		    pkg_has_rule(l, t->name)) {
			*t = *pkg_ref(l, t);
			break;
		}
		link_var(l, t, false);
		break;
	case TM_REF:
		if (t->head->kind == TM_VAR && find_alias(l, t->head->name)) {
			expand_alias(l, t, find_alias(l, t->head->name));
			for (int k = 0; k < t->n; k++)
				link_term(l, t->items[k]);
			break;
		}
		if (t->head->kind == TM_VAR && lookup(l, t->head->name) < 0 &&
		    strcmp(t->head->name, "input") != 0 && strcmp(t->head->name, "data") != 0 &&
		    strcmp(t->head->name, "_") != 0 && pkg_has_rule(l, t->head->name)) {
			struct term *pr = pkg_ref(l, t->head);
			int n = pr->n + t->n;
			struct term **items = arena_alloc(l->a, (size_t)n * sizeof(*items));

			memcpy(items, pr->items, (size_t)pr->n * sizeof(*items));
			if (t->n)
				memcpy(items + pr->n, t->items, (size_t)t->n * sizeof(*items));
			t->head = pr->head;
			t->items = items;
			t->n = n;
		} else {
			link_term(l, t->head);
		}
		for (int k = 0; k < t->n; k++)
			link_term(l, t->items[k]);
		break;
	case TM_ARR:
	case TM_SET:
	case TM_OBJ:
		for (int k = 0; k < t->n; k++)
			link_term(l, t->items[k]);
		break;
	case TM_ACOMP:
	case TM_SCOMP:
	case TM_OCOMP:
		t->lo = l->nslots;
		push_scope(l);
		link_body(l, t->body);
		link_term(l, t->head);
		if (t->vhead)
			link_term(l, t->vhead);
		pop_scope(l);
		t->hi = l->nslots;
		rego_reorder_nested(t->body, t->lo, t->hi);
		break;
	case TM_CALL:
		link_call(l, t);
		break;
	}
}

static void link_with(struct lk *l, struct withmod *w)
{
	struct term *t = w->target;
	struct term *h = t->kind == TM_REF ? t->head : t;
	int arity;

	w->tgt.host = w->rep.host = -1;
	if (h->kind == TM_VAR && strcmp(h->name, "input") == 0) {
		w->kind = WK_DOC;
	} else {
		/* a function (built-in, host, or user function, also as data.pkg.f)? */
		arity = resolve_fn_term(l, t, &w->tgt);
		if (arity == -2 && !(h->kind == TM_VAR && strcmp(h->name, "data") == 0))
			rego_fail(l->pe, KBS_ERR_INVAL, t->line, t->col,
				  "'with' target must be input, data or a function");
		w->kind = arity == -2 ? WK_DOC : WK_FN_VALUE;
	}
	if (w->kind == WK_DOC) {
		h->vflag = h->name[0] == 'i' ? VF_INPUT : VF_DATA;
		if (t->kind == TM_REF)
			for (int k = 0; k < t->n; k++)
				if (t->items[k]->kind != TM_VAL)
					rego_fail(l->pe, KBS_ERR_UNSUPPORTED, t->line, t->col,
						  "unsupported construct: 'with' target with "
						  "variables");
		link_term(l, w->value);
		return;
	}
	if (w->tgt.bi && w->tgt.bi->mock_only)
		push_mocked(l, w->tgt.bi);
	int rarity = resolve_fn_term(l, w->value, &w->rep);

	if (rarity == -2) {
		/* replaced by a value: every call returns it */
		link_term(l, w->value);
		return;
	}
	if (arity >= 0 && rarity >= 0 && arity != rarity)
		rego_fail(l->pe, KBS_ERR_INVAL, w->value->line, w->value->col,
			  "'with' replacement of a function with %d argument%s takes %d", arity,
			  arity == 1 ? "" : "s", rarity);
	w->kind = WK_FN_FUNC;
	if (w->rep.bi && w->rep.bi->mock_only)
		rego_fail(l->pe, KBS_ERR_UNSUPPORTED, w->value->line, w->value->col,
			  "unsupported construct: built-in %s is not implemented",
			  w->rep.bi->name);
}

static void link_expr(struct lk *l, struct expr *e)
{
	for (int k = 0; k < e->nwith; k++)
		link_with(l, &e->with[k]);
	if (e->kind == EX_TERM && e->a->kind == TM_CALL) {
		/* f(x, out): a call with one extra argument binds its result to it */
		struct term *c = e->a;
		int arity = resolve_call(l, c);

		if (arity >= 0 && c->n == arity + 1) {
			e->kind = EX_UNIFY;
			e->a = c->items[c->n - 1];
			e->b = c;
			c->n--;
		}
	}
	switch (e->kind) {
	case EX_TERM:
		link_term(l, e->a);
		break;
	case EX_UNIFY:
		link_term(l, e->b);
		link_term(l, e->a);
		break;
	case EX_ASSIGN:
		link_term(l, e->b);
		link_pattern(l, e->a);
		break;
	case EX_SOME_DECL:
		for (int k = 0; k < e->b->n; k++)
			link_var(l, e->b->items[k], true);
		break;
	case EX_SOME_IN:
		link_term(l, e->coll);
		if (e->key)
			link_some_pattern(l, e->key);
		link_some_pattern(l, e->val);
		break;
	case EX_EVERY:
		link_term(l, e->coll);
		e->lo = l->nslots;
		push_scope(l);
		if (e->key)
			link_pattern(l, e->key);
		link_pattern(l, e->val);
		push_scope(l);
		link_body(l, e->body);
		pop_scope(l);
		pop_scope(l);
		e->hi = l->nslots;
		rego_reorder_nested(e->body, e->lo, e->hi);
		break;
	}
}

/* Function arguments: variables are new (a repeated name means equal arguments). */
static void link_arg(struct lk *l, struct term *t)
{
	switch (t->kind) {
	case TM_VAR:
		if (strcmp(t->name, "_") != 0 && lookup(l, t->name) >= 0)
			t->slot = lookup(l, t->name);
		else
			link_var(l, t, true);
		break;
	case TM_ARR:
	case TM_SET:
		for (int k = 0; k < t->n; k++)
			link_arg(l, t->items[k]);
		break;
	case TM_OBJ:
		for (int k = 0; k < t->n; k += 2) {
			link_term(l, t->items[k]);
			link_arg(l, t->items[k + 1]);
		}
		break;
	default:
		link_term(l, t);
	}
}

static void link_body(struct lk *l, struct body *b)
{
	for (int k = 0; k < b->n; k++)
		link_expr(l, b->e[k]);
}

static void link_rule(struct lk *l, struct rule *r)
{
	l->mod = r->mod;
	l->nslots = 0;
	l->sc = NULL;
	struct scope *top = push_scope(l);

	for (int k = 0; k < r->nargs; k++)
		link_arg(l, r->args[k]);
	int nargslots = l->nslots;

	for (struct rule *e = r; e; e = e->els) {
		l->sc = top;
		push_scope(l);
		if (e->body) {
			link_body(l, e->body);
			rego_reorder_nested(e->body, nargslots, MAX_SLOTS);
		}
		for (int k = r->nstatic; k < r->npath && e == r; k++)
			link_term(l, r->path[k]);
		if (e->key && e == r)
			link_term(l, e->key);
		link_term(l, e->value);
		pop_scope(l);
	}
	for (struct rule *e = r; e; e = e->els)
		e->nslots = l->nslots;
}

void rego_link(struct rego_module *m, struct perr *pe)
{
	struct lk l = { .m = m, .a = &m->ar, .pe = pe };

	rego_tree_build(m, pe);
	for (struct module *mod = m->mods; mod; mod = mod->next)
		for (struct rule *r = mod->rules; r; r = r->next_in_module)
			link_rule(&l, r);
	check_mock_only(&l);
}

int rego_link_query(struct rego_module *m, struct arena *a, struct body *b, struct perr *pe,
		    const char ***names, int **slots, int *nnames)
{
	struct lk l = { .m = m, .a = a, .pe = pe };
	struct scope *top = push_scope(&l);

	link_body(&l, b);
	check_mock_only(&l);
	rego_reorder_nested(b, 0, MAX_SLOTS);
	*names = arena_alloc(a, (size_t)(top->n + 1) * sizeof(**names));
	*slots = arena_alloc(a, (size_t)(top->n + 1) * sizeof(**slots));
	*nnames = 0;
	for (int k = 0; k < top->n; k++) {
		if (top->syms[k].name[0] == '_')
			continue;
		(*names)[*nnames] = top->syms[k].name;
		(*slots)[*nnames] = top->syms[k].slot;
		(*nnames)++;
	}
	return l.nslots;
}
