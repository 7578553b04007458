// SPDX-License-Identifier: Apache-2.0
/* Rego parser: rules, imports, modules and query bodies (the entry points). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "server/policy/rego_parse.h"

/* ---------- rules and modules ---------- */

static struct term *true_term(struct ps *p, const struct token *at)
{
	return val_term(p, RV_TRUE, at);
}

static void parse_rule(struct ps *p, struct module *m, struct rule ***tail)
{
	struct token *st = peek(p);
	struct rule *r = arena_alloc(p->a, sizeof(*r));
	bool is_default = false;
	struct tvec path = { 0 };

	if (is_ident(st, "default") && !kw_is_ref(p)) {
		next(p);
		is_default = true;
	}
	struct token *id = peek(p);
	struct token *after = peek2(p);
	bool adj = !after->ws && (after->t == K_DOT || after->t == K_LBRACK || after->t == K_LPAREN);

	if (id->t != K_IDENT || (is_keyword(id) && !adj))
		unexpected(p, "a rule name");
	next(p);
	tpush(p, &path, val_term(p, val_strn(p->a, id->p, id->len), id));
	/* head reference */
	for (;;) {
		struct token *t = peek(p);

		if (t->ws)
			break;
		if (t->t == K_DOT) {
			next(p);
			struct token *n2 = expect(p, K_IDENT, "a name after '.'");

			tpush(p, &path, val_term(p, val_strn(p->a, n2->p, n2->len), n2));
		} else if (t->t == K_LBRACK) {
			int saved = p->nest;

			next(p);
			p->nest = saved + 1;
			tpush(p, &path, parse_in(p));
			expect(p, K_RBRACK, "']'");
			p->nest = saved;
		} else {
			break;
		}
	}
	r->line = st->line;
	r->col = st->col;
	r->mod = m;
	r->is_default = is_default;
	r->path = path.p;
	r->npath = path.n;
	while (r->nstatic < r->npath && r->path[r->nstatic]->kind == TM_VAL &&
	       r->path[r->nstatic]->v->t == V_STR)
		r->nstatic++;

	if (peek(p)->t == K_LPAREN && !peek(p)->ws) {
		struct term tmp = { 0 };

		parse_call_args(p, &tmp);
		r->kind = RK_FUNC;
		r->args = tmp.items;
		r->nargs = tmp.n;
		if (r->nstatic != r->npath)
			rego_fail(p->pe, KBS_ERR_UNSUPPORTED, st->line, st->col,
				  "unsupported construct: function with a computed name");
	}
	bool has_value = false;

	if (is_ident(peek(p), "contains") && r->kind != RK_FUNC) {
		next(p);
		r->kind = RK_PSET;
		r->key = parse_in(p);
		if (r->nstatic != r->npath) {
			/* `p[q] contains v`: an object keyed by the ref whose leaves are sets */
			r->kind = RK_POBJ;
			r->set_leaf = true;
			r->value = r->key;
			r->key = NULL;
			has_value = true;
		}
	} else if (peek(p)->t == K_UNIFY || peek(p)->t == K_ASSIGN) {
		next(p);
		r->value = parse_in(p);
		has_value = true;
	}
	if (is_default) {
		if (!has_value || (r->kind != RK_COMPLETE && r->kind != RK_FUNC) ||
		    r->nstatic != r->npath)
			rego_fail(p->pe, KBS_ERR_UNSUPPORTED, st->line, st->col,
				  "unsupported construct: default must be 'default name := value'");
		**tail = r;
		*tail = &r->next_in_module;
		return;
	}
	bool had_if;

	r->body = parse_rule_body(p, &had_if);
	if (r->kind == RK_COMPLETE && r->nstatic != r->npath) {
		/* v0 "p[x] { ... }" is a partial set; otherwise an object keyed by the ref */
		if (!has_value && !had_if && r->npath - r->nstatic == 1 && r->body) {
			r->kind = RK_PSET;
			r->key = r->path[r->npath - 1];
			r->npath--;
		} else {
			r->kind = RK_POBJ;
		}
	}
	if (!r->value)
		r->value = true_term(p, st);
	if (!r->body && !has_value && r->kind != RK_PSET)
		rego_fail(p->pe, KBS_ERR_PARSE, st->line, st->col,
			  "rule '%.*s' needs a value or a body", (int)id->len, id->p);
	if (is_ident(peek(p), "else") && !kw_is_ref(p) && r->kind != RK_COMPLETE && r->kind != RK_FUNC)
		rego_fail(p->pe, KBS_ERR_PARSE, peek(p)->line, peek(p)->col,
			  "'else' is only allowed on complete rules and functions");
	struct rule *prev = r;

	while (is_ident(peek(p), "else") && !kw_is_ref(p)) {
		struct token *et = next(p);
		struct rule *e = arena_alloc(p->a, sizeof(*e));

		*e = *r;
		e->line = et->line;
		e->col = et->col;
		e->els = NULL;
		e->value = true_term(p, et);
		if (peek(p)->t == K_UNIFY || peek(p)->t == K_ASSIGN) {
			next(p);
			e->value = parse_in(p);
		}
		e->body = parse_rule_body(p, &had_if);
		prev->els = e;
		prev = e;
	}
	if (peek(p)->t == K_LBRACE)
		rego_fail(p->pe, KBS_ERR_UNSUPPORTED, peek(p)->line, peek(p)->col,
			  "unsupported construct: several bodies for one rule head");
	**tail = r;
	*tail = &r->next_in_module;
}

static void parse_import(struct ps *p, struct module *m)
{
	struct token *st = next(p);
	struct term *t = parse_primary(p);
	const char *name = ref_name(p, t);
	const char *as = NULL;

	if (is_ident(peek(p), "as")) {
		struct token *a;

		next(p);
		a = expect(p, K_IDENT, "an alias name");
		as = arena_strndup(p->a, a->p, a->len);
	}
	if (name && !as && (strcmp(name, "rego.v1") == 0 || strcmp(name, "future.keywords") == 0 ||
			    strncmp(name, "future.keywords.", 16) == 0))
		return;
	struct term *h = t->kind == TM_REF ? t->head : t;

	if (h->kind == TM_VAR && (strcmp(h->name, "data") == 0 || strcmp(h->name, "input") == 0)) {
		bool ok = true;

		for (int k = 0; t->kind == TM_REF && k < t->n; k++)
			ok = ok && t->items[k]->kind == TM_VAL && t->items[k]->v->t == V_STR;
		if (ok && t->kind == TM_VAR && !as)
			return; /* import data / import input: no-op */
		if (ok && t->kind == TM_REF) {
			struct alias *na = arena_alloc(p->a, (size_t)(m->naliases + 1) * sizeof(*na));

			if (m->naliases)
				memcpy(na, m->aliases, (size_t)m->naliases * sizeof(*na));
			na[m->naliases].name = as ? as : t->items[t->n - 1]->v->s;
			na[m->naliases].ref = t;
			m->aliases = na;
			m->naliases++;
			return;
		}
	}
	rego_fail(p->pe, KBS_ERR_UNSUPPORTED, st->line, st->col,
		  "unsupported construct: import %s", name ? name : "of this form");
}

struct module *rego_parse_module(struct arena *a, const char *src, size_t len, struct perr *pe)
{
	struct ps p = { .a = a, .ta = &pe->scratch, .pe = pe, .src = src, .srclen = len,
			.nopipe = -1 };
	struct module *m = arena_alloc(a, sizeof(*m));
	struct rule **tail = &m->rules;

	if (memchr(src, 0, len))
		rego_fail(pe, KBS_ERR_PARSE, 1, 1, "NUL byte in policy text");
	rego_lex(&p);
	m->src = src;
	m->srclen = len;
	struct token *t = peek(&p);

	if (!is_ident(t, "package"))
		rego_fail(pe, KBS_ERR_PARSE, t->line, t->col, "policy must start with 'package'");
	next(&p);
	struct term *pk = parse_primary(&p);
	int n = pk->kind == TM_REF ? pk->n + 1 : 1;

	if (pk->kind != TM_VAR && (pk->kind != TM_REF || pk->head->kind != TM_VAR))
		rego_fail(pe, KBS_ERR_PARSE, t->line, t->col, "bad package name");
	m->pkg = arena_alloc(a, (size_t)n * sizeof(*m->pkg));
	m->pkg[0] = pk->kind == TM_VAR ? pk->name : pk->head->name;
	for (int k = 1; k < n; k++) {
		struct term *e = pk->items[k - 1];

		if (e->kind != TM_VAL || e->v->t != V_STR)
			rego_fail(pe, KBS_ERR_PARSE, e->line, e->col, "bad package name");
		m->pkg[k] = e->v->s;
	}
	m->npkg = n;
	while (is_ident(peek(&p), "import") && !kw_is_ref(&p))
		parse_import(&p, m);
	while (peek(&p)->t != K_EOF) {
		if (is_ident(peek(&p), "import") && !kw_is_ref(&p))
			rego_fail(pe, KBS_ERR_PARSE, peek(&p)->line, peek(&p)->col,
				  "imports must come before rules");
		parse_rule(&p, m, &tail);
	}
	arena_free(&pe->scratch);
	return m;
}

struct body *rego_parse_body(struct arena *a, const char *src, size_t len, struct perr *pe)
{
	/* queries are short: their tokens stay in the caller's arena */
	struct ps p = { .a = a, .ta = a, .pe = pe, .src = src, .srclen = len, .nopipe = -1 };

	if (memchr(src, 0, len))
		rego_fail(pe, KBS_ERR_PARSE, 1, 1, "NUL byte in query");
	rego_lex(&p);
	struct body *b = parse_query(&p, K_EOF);

	if (b->n == 0)
		rego_fail(pe, KBS_ERR_PARSE, 1, 1, "empty query");
	return b;
}
