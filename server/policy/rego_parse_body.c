// SPDX-License-Identifier: Apache-2.0
/*
 * Rego parser, expressions and bodies: literals (`not`, `some`, `every`, `with`, assignment
 * and unification), queries, braced bodies and rule bodies. Terms come from rego_parse.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/policy/rego_parse.h"

static struct body *parse_body_braced(struct ps *p);

static struct expr *new_expr(struct ps *p, int kind, const struct token *at)
{
	struct expr *e = arena_alloc(p->a, sizeof(*e));

	e->kind = (uint8_t)kind;
	e->line = at->line;
	e->col = at->col;
	e->src = at->p;
	return e;
}

static void parse_withs(struct ps *p, struct expr *e)
{
	int cap = 0;

	/* `with` may continue an expression on the next line (`with.x` there is a ref) */
	while (is_ident(peek(p), "with") &&
	       (infix_ok(p) || (peek2(p)->t != K_DOT && peek2(p)->t != K_LBRACK))) {
		next(p);
		struct withmod w;

		w.target = parse_primary(p);
		if (!is_ident(peek(p), "as"))
			unexpected(p, "'as'");
		next(p);
		w.value = parse_in(p);
		if (e->nwith == cap) {
			cap = cap ? cap * 2 : 2;
			struct withmod *nw = arena_alloc(p->a, (size_t)cap * sizeof(*nw));

			if (e->nwith)
				memcpy(nw, e->with, (size_t)e->nwith * sizeof(*nw));
			e->with = nw;
		}
		e->with[e->nwith++] = w;
	}
}

static struct expr *parse_literal(struct ps *p)
{
	struct token *st = peek(p);
	struct expr *e;

	enter(p);
	if (is_ident(st, "some") && !kw_is_ref(p)) {
		struct tvec vars = { 0 };

		next(p);
		tpush(p, &vars, parse_or(p));
		while (peek(p)->t == K_COMMA) {
			next(p);
			tpush(p, &vars, parse_or(p));
		}
		if (is_ident(peek(p), "in")) {
			next(p);
			if (vars.n > 2)
				rego_fail(p->pe, KBS_ERR_PARSE, st->line, st->col,
					  "'some ... in' takes one or two variables");
			e = new_expr(p, EX_SOME_IN, st);
			e->key = vars.n == 2 ? vars.p[0] : NULL;
			e->val = vars.p[vars.n - 1];
			e->coll = parse_rel(p);
		} else {
			for (int k = 0; k < vars.n; k++)
				if (vars.p[k]->kind != TM_VAR)
					rego_fail(p->pe, KBS_ERR_PARSE, vars.p[k]->line,
						  vars.p[k]->col, "'some' expects variables");
			e = new_expr(p, EX_SOME_DECL, st);
			e->b = arena_alloc(p->a, sizeof(struct term));
			e->b->items = vars.p;
			e->b->n = vars.n;
		}
	} else if (is_ident(st, "every") && !kw_is_ref(p)) {
		struct term *k = NULL, *v;

		next(p);
		v = parse_or(p);
		if (peek(p)->t == K_COMMA) {
			next(p);
			k = v;
			v = parse_or(p);
		}
		if (!is_ident(peek(p), "in"))
			unexpected(p, "'in'");
		next(p);
		e = new_expr(p, EX_EVERY, st);
		e->key = k;
		e->val = v;
		e->coll = parse_rel(p);
		if (peek(p)->t != K_LBRACE)
			unexpected(p, "'{' after every");
		e->body = parse_body_braced(p);
	} else if (is_ident(st, "not") && !kw_is_ref(p)) {
		next(p);
		e = parse_literal(p);
		if (e->neg || e->kind == EX_SOME_DECL || e->kind == EX_SOME_IN ||
		    e->kind == EX_EVERY)
			rego_fail(p->pe, KBS_ERR_UNSUPPORTED, st->line, st->col,
				  "unsupported construct: 'not' before this expression");
		e->neg = true;
		e->line = st->line;
		e->col = st->col;
		e->src = st->p;
		leave(p);
		return e;
	} else {
		struct term *l = parse_in(p);

		if (infix_ok(p) && (peek(p)->t == K_UNIFY || peek(p)->t == K_ASSIGN)) {
			bool assign = next(p)->t == K_ASSIGN;

			e = new_expr(p, assign ? EX_ASSIGN : EX_UNIFY, st);
			e->a = l;
			e->b = parse_in(p);
		} else {
			if (peek(p)->t == K_COMMA && p->nest == 0 && !peek(p)->nl)
				l = parse_member3(p, l);
			e = new_expr(p, EX_TERM, st);
			e->a = l;
		}
	}
	parse_withs(p, e);
	const struct token *last = &p->tk[p->i > 0 ? p->i - 1 : 0];

	e->srclen = (int)(last->p + last->len - e->src);
	leave(p);
	return e;
}

/* Expressions separated by ';' or newlines until endtok (not consumed). */
struct body *parse_query(struct ps *p, int endtok)
{
	struct body *b = arena_alloc(p->a, sizeof(*b));
	int cap = 0;

	while (peek(p)->t != endtok) {
		if (peek(p)->t == K_EOF)
			unexpected(p, "end of body");
		struct expr *e = parse_literal(p);

		if (b->n == MAX_BODY_EXPRS)
			rego_fail(p->pe, KBS_ERR_RANGE, e->line, e->col,
				  "more than %d expressions in one body", MAX_BODY_EXPRS);
		if (b->n == cap) {
			cap = cap ? cap * 2 : 4;
			struct expr **ne = arena_alloc(p->a, (size_t)cap * sizeof(*ne));

			if (b->n)
				memcpy(ne, b->e, (size_t)b->n * sizeof(*ne));
			b->e = ne;
		}
		b->e[b->n++] = e;
		if (peek(p)->t == K_SEMI) {
			next(p);
		} else if (peek(p)->t != endtok && !peek(p)->nl) {
			unexpected(p, "';' or a new line between expressions");
		}
	}
	return b;
}

static struct body *parse_body_braced(struct ps *p)
{
	int saved = p->nest, savedpipe = p->nopipe;

	expect(p, K_LBRACE, "'{'");
	p->nest = 0;
	p->nopipe = -1;
	enter(p);
	struct body *b = parse_query(p, K_RBRACE);

	leave(p);
	expect(p, K_RBRACE, "'}'");
	p->nest = saved;
	p->nopipe = savedpipe;
	return b;
}

/* Does the '{' at the cursor open an object (a ':' at its top level) rather than a body? */
static bool object_follows(struct ps *p)
{
	int depth = 0;

	for (int i = p->i; i < p->n && p->tk[i].t != K_EOF; i++) {
		int t = p->tk[i].t;

		if (t == K_LBRACE || t == K_LBRACK || t == K_LPAREN)
			depth++;
		else if (t == K_RBRACE || t == K_RBRACK || t == K_RPAREN)
			depth--;
		else if (t == K_COLON && depth == 1)
			return true;
		if (depth == 0)
			break;
	}
	return false;
}

/* Body after a rule head: "if {..}", "if expr", or v0 "{..}"; NULL when absent. */
struct body *parse_rule_body(struct ps *p, bool *had_if)
{
	*had_if = false;
	if (is_ident(peek(p), "if") && !kw_is_ref(p)) {
		next(p);
		*had_if = true;
		if (peek(p)->t == K_LBRACE && !object_follows(p))
			return parse_body_braced(p);
		struct body *b = arena_alloc(p->a, sizeof(*b));

		b->e = arena_alloc(p->a, sizeof(*b->e));
		b->e[0] = parse_literal(p);
		b->n = 1;
		return b;
	}
	if (peek(p)->t == K_LBRACE)
		return parse_body_braced(p);
	return NULL;
}
