/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the Rego lexer (rego_lex.c) and parser (rego_parse.c, rego_parse_body.c,
 * rego_parse_rule.c). */
#ifndef KBS_POLICY_REGO_PARSE_H
#define KBS_POLICY_REGO_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/err.h"
#include "server/policy/rego_int.h"

#define MAX_NEST 64
#define MAX_TERM_DEPTH 128
#define MAX_BODY_EXPRS 512
#define MAX_ITEMS 512 /* non-constant elements of one literal or call */
#define MAX_TOKENS 1000000

enum tokt {
	K_EOF = 0,
	K_IDENT,
	K_STRING,
	K_NUMBER,
	K_LBRACE,
	K_RBRACE,
	K_LBRACK,
	K_RBRACK,
	K_LPAREN,
	K_RPAREN,
	K_DOT,
	K_COMMA,
	K_SEMI,
	K_COLON,
	K_ASSIGN, /* := */
	K_UNIFY,  /* = */
	K_EQ,
	K_NEQ,
	K_LT,
	K_LTE,
	K_GT,
	K_GTE,
	K_PLUS,
	K_MINUS,
	K_STAR,
	K_SLASH,
	K_PERCENT,
	K_PIPE,
	K_AMP,
};

struct token {
	uint8_t t;
	bool nl;  /* a newline precedes this token */
	bool ws;  /* whitespace (or a comment) precedes this token */
	int line, col;
	const char *p; /* source text */
	size_t len;
	char *str; /* decoded string literal */
	size_t slen;
};

struct ps {
	struct arena *a;
	struct arena *ta; /* the token array (pe->scratch for modules: freed after parsing) */
	struct perr *pe;
	const char *src;
	size_t srclen;
	struct token *tk;
	int n, i;
	int nest;   /* bracket depth: newlines end expressions only at depth 0 */
	int nopipe; /* nest level at which '|' ends a term (comprehension head) */
	int depth;  /* recursion depth guard */
};

static inline struct token *peek(struct ps *p)
{
	return &p->tk[p->i];
}

static inline struct token *peek2(struct ps *p)
{
	return &p->tk[p->i + 1 < p->n ? p->i + 1 : p->i];
}

static inline struct token *next(struct ps *p)
{
	struct token *t = &p->tk[p->i];

	if (t->t != K_EOF)
		p->i++;
	return t;
}

static inline bool is_ident(const struct token *t, const char *w)
{
	size_t n = strlen(w);

	return t->t == K_IDENT && t->len == n && memcmp(t->p, w, n) == 0;
}

struct tvec {
	struct term **p;
	int n, cap;
};

/* Nesting guard around recursive descent: fails beyond MAX_NEST levels. */
static inline void enter(struct ps *p)
{
	if (++p->depth > MAX_NEST) {
		struct token *t = peek(p);

		rego_fail(p->pe, KBS_ERR_RANGE, t->line, t->col, "nesting deeper than %d",
			  MAX_NEST);
	}
}

static inline void leave(struct ps *p)
{
	p->depth--;
}

/* An infix operator continues the expression unless a newline at depth 0 ends it. */
static inline bool infix_ok(struct ps *p)
{
	return !(peek(p)->nl && p->nest == 0);
}

/* Fails with "unexpected <token>, expected <what>" at the current token. */
__attribute__((noreturn)) void unexpected(struct ps *p, const char *what);

/* Tokenises p->src into p->tk (rego_lex.c). */
void rego_lex(struct ps *p);

/* A keyword directly followed by '.' or '[' is the head of a reference (`default.x`). */
bool kw_is_ref(struct ps *p);
/* Consumes a token of type tt or fails naming what was expected. */
struct token *expect(struct ps *p, int tt, const char *what);
/* True for the identifiers Rego reserves (if, contains, some, every, not, ...). */
bool is_keyword(const struct token *t);
/* A constant term of value v at the position of token at. */
struct term *val_term(struct ps *p, struct val *v, const struct token *at);
/* Appends t to a growable array of term pointers. */
void tpush(struct ps *p, struct tvec *v, struct term *t);
/* Parses "(args)" after a function name into call. */
struct term *parse_call_args(struct ps *p, struct term *call);
/* Dotted name of a ref made only of a var and constant string segments, or NULL. */
const char *ref_name(struct ps *p, struct term *t);
/* A primary term: literal, variable, reference, call, composite or comprehension. */
struct term *parse_primary(struct ps *p);
/* A term with its arithmetic and set (`&`, `|`) operators, below comparisons. */
struct term *parse_or(struct ps *p);
/* A term with its operators up to comparisons (no `x in coll`). */
struct term *parse_rel(struct ps *p);
/* `k, v in coll` after k has been parsed (only at body level or inside parentheses). */
struct term *parse_member3(struct ps *p, struct term *k);
/* A term with its infix operators (arithmetic, comparison, then `x in coll`). */
struct term *parse_in(struct ps *p);
/* Expressions separated by ';' or newlines until endtok (not consumed). */
struct body *parse_query(struct ps *p, int endtok);
/* Body after a rule head: "if {..}", "if expr", or v0 "{..}"; NULL when absent. */
struct body *parse_rule_body(struct ps *p, bool *had_if);

#endif
