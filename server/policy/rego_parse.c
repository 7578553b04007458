// SPDX-License-Identifier: Apache-2.0
/*
 * Rego parser (v1 syntax, plus the v0 forms Trustee's older policies use): terms and their
 * operators; expressions and bodies are in rego_parse_body.c, rules and modules in
 * rego_parse_rule.c, tokens come from rego_lex.c. Produces the AST of rego_int.h; names are
 * resolved later by rego_link().
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "server/policy/rego_parse.h"

/* ---------- parser helpers ---------- */

/* A keyword directly followed by '.' or '[' is the head of a reference (`default.x`). */
bool kw_is_ref(struct ps *p)
{
	struct token *n = peek2(p);

	return !n->ws && (n->t == K_DOT || n->t == K_LBRACK);
}

static const char *tok_desc(const struct token *t, char *buf, size_t n)
{
	if (t->t == K_EOF)
		return "end of input";
	snprintf(buf, n, "'%.*s'", (int)(t->len > 40 ? 40 : t->len), t->p);
	return buf;
}

__attribute__((noreturn)) void unexpected(struct ps *p, const char *what)
{
	struct token *t = peek(p);
	char b[64];

	rego_fail(p->pe, KBS_ERR_PARSE, t->line, t->col, "unexpected %s, expected %s",
		  tok_desc(t, b, sizeof(b)), what);
}

struct token *expect(struct ps *p, int tt, const char *what)
{
	if (peek(p)->t != tt)
		unexpected(p, what);
	return next(p);
}

static const char *const keywords[] = { "if",	  "contains", "else",	"some", "every",
					"not",	  "with",     "as",	"default", "import",
					"package", "in",      NULL };

bool is_keyword(const struct token *t)
{
	for (int k = 0; keywords[k]; k++)
		if (is_ident(t, keywords[k]))
			return true;
	return false;
}

static struct term *new_term(struct ps *p, int kind, const struct token *at)
{
	struct term *t = arena_alloc(p->a, sizeof(*t));

	t->kind = (uint8_t)kind;
	t->line = at->line;
	t->col = at->col;
	t->slot = -1;
	t->host = -1;
	return t;
}

/* Records that child hangs below t; keeps evaluation recursion bounded. */
static void deepen(struct ps *p, struct term *t, const struct term *child)
{
	if (child && child->depth + 1 > t->depth)
		t->depth = child->depth + 1;
	if (t->depth > MAX_TERM_DEPTH)
		rego_fail(p->pe, KBS_ERR_RANGE, t->line, t->col,
			  "expression nested deeper than %d", MAX_TERM_DEPTH);
}

static void deepen_items(struct ps *p, struct term *t)
{
	int nonconst = 0;

	for (int k = 0; k < t->n; k++) {
		deepen(p, t, t->items[k]);
		nonconst += t->items[k]->kind != TM_VAL;
	}
	if (nonconst > MAX_ITEMS)
		rego_fail(p->pe, KBS_ERR_RANGE, t->line, t->col,
			  "more than %d computed elements in one term", MAX_ITEMS);
}

struct term *val_term(struct ps *p, struct val *v, const struct token *at)
{
	struct term *t = new_term(p, TM_VAL, at);

	t->v = v;
	return t;
}

/* Growable array of term pointers. */
void tpush(struct ps *p, struct tvec *v, struct term *t)
{
	if (v->n == v->cap) {
		int cap = v->cap ? v->cap * 2 : 4;
		struct term **np = arena_alloc(p->a, (size_t)cap * sizeof(*np));

		if (v->n)
			memcpy(np, v->p, (size_t)v->n * sizeof(*np));
		v->p = np;
		v->cap = cap;
	}
	v->p[v->n++] = t;
}


/* Folds composite literals whose items are all constants into one constant value. */
static struct term *fold(struct ps *p, struct term *t)
{
	for (int k = 0; k < t->n; k++)
		if (t->items[k]->kind != TM_VAL)
			return t;
	size_t n = (size_t)t->n;
	struct val **items = arena_alloc(p->a, (n ? n : 1) * sizeof(*items));

	for (size_t k = 0; k < n; k++)
		items[k] = t->items[k]->v;
	if (t->kind == TM_ARR) {
		t->v = val_arr(p->a, items, n);
	} else if (t->kind == TM_SET) {
		t->v = val_set_take(p->a, items, n);
	} else {
		size_t m = n / 2;
		struct val **ks = arena_alloc(p->a, (m ? m : 1) * sizeof(*ks));
		struct val **vs = arena_alloc(p->a, (m ? m : 1) * sizeof(*vs));
		bool conflict;

		for (size_t k = 0; k < m; k++) {
			ks[k] = items[2 * k];
			vs[k] = items[2 * k + 1];
		}
		t->v = val_obj_take(p->a, ks, vs, m, &conflict);
		if (!t->v)
			rego_fail(p->pe, KBS_ERR_INVAL, t->line, t->col,
				  "object literal has a duplicate key with different values");
	}
	t->kind = TM_VAL;
	return t;
}

static struct val *parse_number(struct ps *p, const struct token *t, bool neg)
{
	/* 20,000 digits: about the largest integer arithmetic accepts (65,536 bits) */
	if (t->len > 20000)
		rego_fail(p->pe, KBS_ERR_RANGE, t->line, t->col, "number literal too long");
	char *buf = arena_alloc(p->a, t->len + 2);
	size_t o = 0;

	if (neg)
		buf[o++] = '-';
	memcpy(buf + o, t->p, t->len);
	buf[o + t->len] = 0;
	/* beyond int64 / the double range: a big number with the literal's exact text */
	return val_num_text(p->a, buf, o + t->len);
}

/* ---------- terms ---------- */

struct term *parse_call_args(struct ps *p, struct term *call)
{
	struct tvec args = { 0 };
	int saved = p->nest, savedpipe = p->nopipe;

	expect(p, K_LPAREN, "'('");
	p->nest = saved + 1;
	p->nopipe = -1;
	while (peek(p)->t != K_RPAREN) {
		tpush(p, &args, parse_in(p));
		if (peek(p)->t == K_COMMA)
			next(p);
		else if (peek(p)->t != K_RPAREN)
			unexpected(p, "',' or ')'");
	}
	next(p);
	p->nest = saved;
	p->nopipe = savedpipe;
	call->items = args.p;
	call->n = args.n;
	deepen_items(p, call);
	return call;
}

/* Dotted name of a ref made only of a var and constant string segments, or NULL. */
const char *ref_name(struct ps *p, struct term *t)
{
	if (t->kind == TM_VAR)
		return t->name;
	if (t->kind != TM_REF || t->head->kind != TM_VAR)
		return NULL;
	size_t len = strlen(t->head->name) + 1;

	for (int k = 0; k < t->n; k++) {
		struct term *e = t->items[k];

		if (e->kind != TM_VAL || e->v->t != V_STR || memchr(e->v->s, '.', e->v->len))
			return NULL;
		len += e->v->len + 1;
	}
	char *s = arena_alloc(p->a, len);
	size_t o = strlen(t->head->name);

	memcpy(s, t->head->name, o);
	for (int k = 0; k < t->n; k++) {
		s[o++] = '.';
		memcpy(s + o, t->items[k]->v->s, t->items[k]->v->len);
		o += t->items[k]->v->len;
	}
	s[o] = 0;
	return s;
}

/* Reference continuation: .name, [term], and calls, only when adjacent (no whitespace). */
static struct term *parse_postfix(struct ps *p, struct term *head)
{
	struct term *t = head;
	struct tvec path = { 0 };

	for (;;) {
		struct token *tk = peek(p);

		if (tk->ws)
			break;
		if (tk->t == K_DOT) {
			next(p);
			struct token *id = peek(p);

			if (id->t != K_IDENT || id->ws)
				unexpected(p, "a name after '.'");
			next(p);
			tpush(p, &path, val_term(p, val_strn(p->a, id->p, id->len), id));
		} else if (tk->t == K_LBRACK) {
			int saved = p->nest, savedpipe = p->nopipe;

			next(p);
			p->nest = saved + 1;
			p->nopipe = -1;
			tpush(p, &path, parse_in(p));
			expect(p, K_RBRACK, "']'");
			p->nest = saved;
			p->nopipe = savedpipe;
		} else if (tk->t == K_LPAREN) {
			struct term *fn = t;

			if (path.n) {
				fn = new_term(p, TM_REF, tk);
				fn->line = t->line;
				fn->col = t->col;
				fn->head = t;
				fn->items = path.p;
				fn->n = path.n;
			}
			const char *name = ref_name(p, fn);

			if (!name)
				rego_fail(p->pe, KBS_ERR_UNSUPPORTED, tk->line, tk->col,
					  "unsupported construct: call of a computed function");
			struct term *c = new_term(p, TM_CALL, tk);

			c->line = fn->line;
			c->col = fn->col;
			c->fname = name;
			deepen(p, c, t);
			parse_call_args(p, c);
			t = c;
			path = (struct tvec){ 0 };
		} else {
			break;
		}
	}
	if (path.n) {
		struct term *r = new_term(p, TM_REF, &(struct token){ .line = t->line, .col = t->col });

		r->head = t;
		r->items = path.p;
		r->n = path.n;
		deepen(p, r, t);
		deepen_items(p, r);
		t = r;
	}
	return t;
}

static struct term *parse_collection(struct ps *p, bool brace)
{
	struct token *open = next(p);
	int saved = p->nest, savedpipe = p->nopipe;
	int close = brace ? K_RBRACE : K_RBRACK;
	struct term *t;
	struct tvec items = { 0 };

	p->nest = saved + 1;
	if (peek(p)->t == close) {
		next(p);
		t = new_term(p, brace ? TM_OBJ : TM_ARR, open);
		p->nest = saved;
		return fold(p, t);
	}
	p->nopipe = p->nest;
	struct term *first = parse_in(p);
	struct term *fval = NULL;

	if (brace && peek(p)->t == K_COLON) {
		next(p);
		fval = parse_in(p);
	}
	p->nopipe = -1;
	if (peek(p)->t == K_PIPE) {
		next(p);
		t = new_term(p, fval ? TM_OCOMP : (brace ? TM_SCOMP : TM_ACOMP), open);
		t->head = first;
		t->vhead = fval;
		deepen(p, t, first);
		deepen(p, t, fval);
		p->nest = 0; /* the body is newline-separated */
		t->body = parse_query(p, close);
		expect(p, close, brace ? "'}'" : "']'");
		p->nest = saved;
		p->nopipe = savedpipe;
		return t;
	}
	t = new_term(p, brace ? (fval ? TM_OBJ : TM_SET) : TM_ARR, open);
	tpush(p, &items, first);
	if (fval)
		tpush(p, &items, fval);
	while (peek(p)->t == K_COMMA) {
		next(p);
		if (peek(p)->t == close)
			break;
		tpush(p, &items, parse_in(p));
		if (fval) {
			expect(p, K_COLON, "':'");
			tpush(p, &items, parse_in(p));
		}
	}
	expect(p, close, brace ? "'}'" : "']'");
	p->nest = saved;
	p->nopipe = savedpipe;
	t->items = items.p;
	t->n = items.n;
	deepen_items(p, t);
	return fold(p, t);
}

struct term *parse_primary(struct ps *p)
{
	struct token *t = peek(p);
	struct term *r;

	enter(p);
	switch (t->t) {
	case K_NUMBER:
		next(p);
		r = val_term(p, parse_number(p, t, false), t);
		break;
	case K_STRING:
		next(p);
		r = val_term(p, val_strn(p->a, t->str, t->slen), t);
		break;
	case K_MINUS: {
		next(p);
		struct token *nt = peek(p);

		if (nt->t == K_NUMBER && !nt->ws) {
			next(p);
			r = val_term(p, parse_number(p, nt, true), nt);
		} else {
			struct term *x = parse_primary(p);

			r = new_term(p, TM_CALL, t);
			r->fname = "minus";
			r->items = arena_alloc(p->a, 2 * sizeof(*r->items));
			r->items[0] = val_term(p, val_int(p->a, 0), t);
			r->items[1] = x;
			r->n = 2;
			deepen_items(p, r);
		}
		leave(p);
		return r;
	}
	case K_LBRACK:
		r = parse_collection(p, false);
		break;
	case K_LBRACE:
		r = parse_collection(p, true);
		break;
	case K_LPAREN: {
		int saved = p->nest, savedpipe = p->nopipe;

		next(p);
		p->nest = saved + 1;
		p->nopipe = -1;
		r = parse_in(p);
		if (peek(p)->t == K_COMMA)
			r = parse_member3(p, r);
		expect(p, K_RPAREN, "')'");
		p->nest = saved;
		p->nopipe = savedpipe;
		break;
	}
	case K_IDENT: {
		bool refnext = (peek2(p)->t == K_DOT || peek2(p)->t == K_LBRACK) && !peek2(p)->ws;

		if ((is_ident(t, "true") || is_ident(t, "false")) && !refnext) {
			next(p);
			r = val_term(p, val_bool(t->p[0] == 't'), t);
		} else if (is_ident(t, "null") && !refnext) {
			next(p);
			r = val_term(p, RV_NULL, t);
		} else if (is_ident(t, "set") && peek2(p)->t == K_LPAREN && !peek2(p)->ws &&
			   p->i + 2 < p->n && p->tk[p->i + 2].t == K_RPAREN) {
			next(p);
			next(p);
			next(p);
			r = val_term(p, val_set_take(p->a, NULL, 0), t);
		} else if (is_keyword(t) && !refnext && !(peek2(p)->t == K_LPAREN && !peek2(p)->ws)) {
			rego_fail(p->pe, KBS_ERR_PARSE, t->line, t->col,
				  "unexpected keyword '%.*s'", (int)t->len, t->p);
		} else {
			next(p);
			r = new_term(p, TM_VAR, t);
			r->name = arena_strndup(p->a, t->p, t->len);
		}
		break;
	}
	default:
		unexpected(p, "a term");
	}
	r = parse_postfix(p, r);
	leave(p);
	return r;
}

static struct term *binop(struct ps *p, const char *fname, struct term *l, struct term *r,
			  const struct token *at)
{
	struct term *c = new_term(p, TM_CALL, at);

	c->fname = fname;
	c->items = arena_alloc(p->a, 2 * sizeof(*c->items));
	c->items[0] = l;
	c->items[1] = r;
	c->n = 2;
	c->line = l->line;
	c->col = l->col;
	deepen_items(p, c);
	return c;
}

static struct term *parse_factor(struct ps *p)
{
	struct term *l = parse_primary(p);

	while (infix_ok(p)) {
		struct token *t = peek(p);
		const char *f = t->t == K_STAR ? "mul" : t->t == K_SLASH ? "div" :
			t->t == K_PERCENT ? "rem" : NULL;

		if (!f)
			break;
		next(p);
		l = binop(p, f, l, parse_primary(p), t);
	}
	return l;
}

static struct term *parse_arith(struct ps *p)
{
	struct term *l = parse_factor(p);

	while (infix_ok(p)) {
		struct token *t = peek(p);
		const char *f = t->t == K_PLUS ? "plus" : t->t == K_MINUS ? "minus" : NULL;

		if (!f)
			break;
		next(p);
		l = binop(p, f, l, parse_factor(p), t);
	}
	return l;
}

static struct term *parse_and(struct ps *p)
{
	struct term *l = parse_arith(p);

	while (infix_ok(p) && peek(p)->t == K_AMP) {
		struct token *t = next(p);

		l = binop(p, "and", l, parse_arith(p), t);
	}
	return l;
}

struct term *parse_or(struct ps *p)
{
	struct term *l = parse_and(p);

	while (infix_ok(p) && peek(p)->t == K_PIPE && p->nopipe != p->nest) {
		struct token *t = next(p);

		l = binop(p, "or", l, parse_and(p), t);
	}
	return l;
}

struct term *parse_rel(struct ps *p)
{
	struct term *l = parse_or(p);

	while (infix_ok(p)) {
		struct token *t = peek(p);
		const char *f = NULL;

		switch (t->t) {
		case K_EQ: f = "equal"; break;
		case K_NEQ: f = "neq"; break;
		case K_LT: f = "lt"; break;
		case K_LTE: f = "lte"; break;
		case K_GT: f = "gt"; break;
		case K_GTE: f = "gte"; break;
		default: break;
		}
		if (!f)
			break;
		next(p);
		l = binop(p, f, l, parse_or(p), t);
	}
	return l;
}

struct term *parse_in(struct ps *p)
{
	struct term *l = parse_rel(p);

	while (infix_ok(p) && is_ident(peek(p), "in")) {
		struct token *t = next(p);

		l = binop(p, "internal.member_2", l, parse_rel(p), t);
	}
	return l;
}

/* `k, v in coll` after k has been parsed (only at body level or inside parentheses) */
struct term *parse_member3(struct ps *p, struct term *k)
{
	struct token *t = next(p); /* ',' */
	struct term *v = parse_rel(p);

	if (!is_ident(peek(p), "in"))
		unexpected(p, "'in' after 'key, value'");
	next(p);
	struct term *coll = parse_rel(p);
	struct term *c = new_term(p, TM_CALL, t);

	c->fname = "internal.member_3";
	c->items = arena_alloc(p->a, 3 * sizeof(*c->items));
	c->items[0] = k;
	c->items[1] = v;
	c->items[2] = coll;
	c->n = 3;
	c->line = k->line;
	c->col = k->col;
	deepen_items(p, c);
	/* `k, v in xs in ys` is `(k, v in xs) in ys` */
	while (infix_ok(p) && is_ident(peek(p), "in")) {
		struct token *it = next(p);

		c = binop(p, "internal.member_2", c, parse_rel(p), it);
	}
	return c;
}
