// SPDX-License-Identifier: Apache-2.0
/*
 * Rego lexer and parser (v1 syntax, plus the v0 forms Trustee's older policies use).
 * Produces the AST of rego_int.h; names are resolved later by rego_link().
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
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

void rego_fail(struct perr *pe, int code, int line, int col, const char *fmt, ...)
{
	if (pe->err) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(pe->err->msg, sizeof(pe->err->msg), fmt, ap);
		va_end(ap);
		pe->err->line = line;
		pe->err->col = col;
	}
	pe->code = code;
	longjmp(pe->jb, 1);
}

/* ---------- lexer ---------- */

static void utf8_put(char *out, size_t *o, uint32_t cp)
{
	if (cp < 0x80) {
		out[(*o)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*o)++] = (char)(0xC0 | (cp >> 6));
		out[(*o)++] = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		out[(*o)++] = (char)(0xE0 | (cp >> 12));
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[(*o)++] = (char)(0x80 | (cp & 0x3F));
	} else {
		out[(*o)++] = (char)(0xF0 | (cp >> 18));
		out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[(*o)++] = (char)(0x80 | (cp & 0x3F));
	}
}

static bool read_u4(const char *s, size_t n, size_t i, uint32_t *cp)
{
	uint32_t v = 0;

	if (i + 4 > n)
		return false;
	for (int k = 0; k < 4; k++) {
		int h = hex_digit(s[i + k]);

		if (h < 0)
			return false;
		v = v << 4 | (uint32_t)h;
	}
	*cp = v;
	return true;
}

static void lex(struct ps *p)
{
	const char *s = p->src;
	size_t n = p->srclen, i = 0;
	int line = 1;
	size_t linestart = 0;
	int cap = 256;
	bool nl = false, ws = false;

	p->tk = arena_alloc(p->ta, (size_t)cap * sizeof(*p->tk));
	p->n = 0;
	for (;;) {
		/* skip whitespace and comments */
		while (i < n) {
			char c = s[i];

			if (c == '\n') {
				nl = ws = true;
				line++;
				i++;
				linestart = i;
			} else if (c == ' ' || c == '\t' || c == '\r') {
				ws = true;
				i++;
			} else if (c == '#') {
				while (i < n && s[i] != '\n')
					i++;
				ws = true;
			} else {
				break;
			}
		}
		if (p->n + 1 >= cap) {
			if (cap >= MAX_TOKENS)
				rego_fail(p->pe, KBS_ERR_RANGE, line, 1, "policy too large");
			struct token *nt = arena_alloc(p->ta, (size_t)cap * 2 * sizeof(*nt));

			memcpy(nt, p->tk, (size_t)cap * sizeof(*nt));
			p->tk = nt;
			cap *= 2;
		}
		struct token *t = &p->tk[p->n];

		t->nl = nl;
		t->ws = ws;
		t->line = line;
		t->col = (int)(i - linestart) + 1;
		t->p = s + i;
		nl = ws = false;
		if (i >= n) {
			t->t = K_EOF;
			p->n++;
			return;
		}
		char c = s[i];
		size_t st = i;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
			while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
					 (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
				i++;
			t->t = K_IDENT;
		} else if (c >= '0' && c <= '9') {
			while (i < n && s[i] >= '0' && s[i] <= '9')
				i++;
			if (i + 1 < n && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9') {
				i++;
				while (i < n && s[i] >= '0' && s[i] <= '9')
					i++;
			}
			if (i < n && (s[i] == 'e' || s[i] == 'E')) {
				size_t j = i + 1;

				if (j < n && (s[j] == '+' || s[j] == '-'))
					j++;
				if (j < n && s[j] >= '0' && s[j] <= '9') {
					i = j;
					while (i < n && s[i] >= '0' && s[i] <= '9')
						i++;
				}
			}
			t->t = K_NUMBER;
		} else if (c == '"') {
			/* a string ends on its line and escapes only shrink it: the rest of the
			 * line bounds the decoded text (not the rest of the file, which made
			 * memory quadratic in the policy size) */
			const char *eol = memchr(s + i, '\n', n - i);
			char *out = arena_alloc(p->a, (eol ? (size_t)(eol - s) : n) - i + 1);
			size_t o = 0;

			i++;
			for (;;) {
				if (i >= n || s[i] == '\n')
					rego_fail(p->pe, KBS_ERR_PARSE, t->line, t->col,
						  "unterminated string");
				char ch = s[i];

				if (ch == '"') {
					i++;
					break;
				}
				if ((unsigned char)ch < 0x20)
					rego_fail(p->pe, KBS_ERR_PARSE, t->line, t->col,
						  "control character in string");
				if (ch != '\\') {
					out[o++] = ch;
					i++;
					continue;
				}
				if (i + 1 >= n)
					rego_fail(p->pe, KBS_ERR_PARSE, t->line, t->col,
						  "unterminated string");
				char e = s[i + 1];

				i += 2;
				switch (e) {
				case '"':
				case '\\':
				case '/':
					out[o++] = e;
					break;
				case 'b':
					out[o++] = '\b';
					break;
				case 'f':
					out[o++] = '\f';
					break;
				case 'n':
					out[o++] = '\n';
					break;
				case 'r':
					out[o++] = '\r';
					break;
				case 't':
					out[o++] = '\t';
					break;
				case 'u': {
					uint32_t cp, lo;

					if (!read_u4(s, n, i, &cp))
						rego_fail(p->pe, KBS_ERR_PARSE, t->line, t->col,
							  "bad \\u escape in string");
					i += 4;
					if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < n && s[i] == '\\' &&
					    s[i + 1] == 'u' && read_u4(s, n, i + 2, &lo) &&
					    lo >= 0xDC00 && lo < 0xE000) {
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						i += 6;
					} else if (cp >= 0xD800 && cp < 0xE000) {
						cp = 0xFFFD;
					}
					utf8_put(out, &o, cp);
					break;
				}
				default:
					rego_fail(p->pe, KBS_ERR_PARSE, t->line, t->col,
						  "bad escape '\\%c' in string", e);
				}
			}
			t->t = K_STRING;
			t->str = out;
			t->slen = o;
		} else if (c == '`') {
			i++;
			size_t b = i;

			while (i < n && s[i] != '`') {
				if (s[i] == '\n') {
					line++;
					linestart = i + 1;
				}
				i++;
			}
			if (i >= n)
				rego_fail(p->pe, KBS_ERR_PARSE, t->line, t->col,
					  "unterminated raw string");
			t->str = arena_strndup(p->a, s + b, i - b);
			t->slen = i - b;
			i++;
			t->t = K_STRING;
		} else {
			char d = i + 1 < n ? s[i + 1] : 0;

			i++;
			switch (c) {
			case '{': t->t = K_LBRACE; break;
			case '}': t->t = K_RBRACE; break;
			case '[': t->t = K_LBRACK; break;
			case ']': t->t = K_RBRACK; break;
			case '(': t->t = K_LPAREN; break;
			case ')': t->t = K_RPAREN; break;
			case '.': t->t = K_DOT; break;
			case ',': t->t = K_COMMA; break;
			case ';': t->t = K_SEMI; break;
			case '+': t->t = K_PLUS; break;
			case '-': t->t = K_MINUS; break;
			case '*': t->t = K_STAR; break;
			case '/': t->t = K_SLASH; break;
			case '%': t->t = K_PERCENT; break;
			case '|': t->t = K_PIPE; break;
			case '&': t->t = K_AMP; break;
			case ':':
				if (d == '=') {
					t->t = K_ASSIGN;
					i++;
				} else {
					t->t = K_COLON;
				}
				break;
			case '=':
				if (d == '=') {
					t->t = K_EQ;
					i++;
				} else {
					t->t = K_UNIFY;
				}
				break;
			case '!':
				if (d != '=')
					rego_fail(p->pe, KBS_ERR_PARSE, t->line, t->col,
						  "unexpected character '!'");
				t->t = K_NEQ;
				i++;
				break;
			case '<':
				t->t = d == '=' ? K_LTE : K_LT;
				i += d == '=';
				break;
			case '>':
				t->t = d == '=' ? K_GTE : K_GT;
				i += d == '=';
				break;
			default:
				if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
					rego_fail(p->pe, KBS_ERR_PARSE, t->line, t->col,
						  "unexpected character '%c'", c);
				rego_fail(p->pe, KBS_ERR_PARSE, t->line, t->col,
					  "unexpected byte 0x%02x", (unsigned char)c);
			}
		}
		t->len = i - st;
		p->n++;
	}
}

/* ---------- parser helpers ---------- */

static struct token *peek(struct ps *p)
{
	return &p->tk[p->i];
}

static struct token *peek2(struct ps *p)
{
	return &p->tk[p->i + 1 < p->n ? p->i + 1 : p->i];
}

/* A keyword directly followed by '.' or '[' is the head of a reference (`default.x`). */
static bool kw_is_ref(struct ps *p)
{
	struct token *n = peek2(p);

	return !n->ws && (n->t == K_DOT || n->t == K_LBRACK);
}

static struct token *next(struct ps *p)
{
	struct token *t = &p->tk[p->i];

	if (t->t != K_EOF)
		p->i++;
	return t;
}

static bool is_ident(const struct token *t, const char *w)
{
	size_t n = strlen(w);

	return t->t == K_IDENT && t->len == n && memcmp(t->p, w, n) == 0;
}

static const char *tok_desc(const struct token *t, char *buf, size_t n)
{
	if (t->t == K_EOF)
		return "end of input";
	snprintf(buf, n, "'%.*s'", (int)(t->len > 40 ? 40 : t->len), t->p);
	return buf;
}

__attribute__((noreturn)) static void unexpected(struct ps *p, const char *what)
{
	struct token *t = peek(p);
	char b[64];

	rego_fail(p->pe, KBS_ERR_PARSE, t->line, t->col, "unexpected %s, expected %s",
		  tok_desc(t, b, sizeof(b)), what);
}

static struct token *expect(struct ps *p, int tt, const char *what)
{
	if (peek(p)->t != tt)
		unexpected(p, what);
	return next(p);
}

static const char *const keywords[] = { "if",	  "contains", "else",	"some", "every",
					"not",	  "with",     "as",	"default", "import",
					"package", "in",      NULL };

static bool is_keyword(const struct token *t)
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

static struct term *val_term(struct ps *p, struct val *v, const struct token *at)
{
	struct term *t = new_term(p, TM_VAL, at);

	t->v = v;
	return t;
}

static void enter(struct ps *p)
{
	if (++p->depth > MAX_NEST) {
		struct token *t = peek(p);

		rego_fail(p->pe, KBS_ERR_RANGE, t->line, t->col, "nesting deeper than %d",
			  MAX_NEST);
	}
}

static void leave(struct ps *p)
{
	p->depth--;
}

/* Growable array of term pointers. */
struct tvec {
	struct term **p;
	int n, cap;
};

static void tpush(struct ps *p, struct tvec *v, struct term *t)
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

static struct term *parse_in(struct ps *p);
static struct term *parse_or(struct ps *p);
static struct term *parse_rel(struct ps *p);
static struct term *parse_member3(struct ps *p, struct term *k);
static struct body *parse_body_braced(struct ps *p);
static struct body *parse_query(struct ps *p, int endtok);

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

static struct term *parse_call_args(struct ps *p, struct term *call)
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
static const char *ref_name(struct ps *p, struct term *t)
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

static struct term *parse_primary(struct ps *p)
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

/* An infix operator continues the expression unless a newline at depth 0 ends it. */
static bool infix_ok(struct ps *p)
{
	return !(peek(p)->nl && p->nest == 0);
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

static struct term *parse_or(struct ps *p)
{
	struct term *l = parse_and(p);

	while (infix_ok(p) && peek(p)->t == K_PIPE && p->nopipe != p->nest) {
		struct token *t = next(p);

		l = binop(p, "or", l, parse_and(p), t);
	}
	return l;
}

static struct term *parse_rel(struct ps *p)
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

static struct term *parse_in(struct ps *p)
{
	struct term *l = parse_rel(p);

	while (infix_ok(p) && is_ident(peek(p), "in")) {
		struct token *t = next(p);

		l = binop(p, "internal.member_2", l, parse_rel(p), t);
	}
	return l;
}

/* `k, v in coll` after k has been parsed (only at body level or inside parentheses) */
static struct term *parse_member3(struct ps *p, struct term *k)
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

/* ---------- expressions and bodies ---------- */

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
static struct body *parse_query(struct ps *p, int endtok)
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
static struct body *parse_rule_body(struct ps *p, bool *had_if)
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
	lex(&p);
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
	lex(&p);
	struct body *b = parse_query(&p, K_EOF);

	if (b->n == 0)
		rego_fail(pe, KBS_ERR_PARSE, 1, 1, "empty query");
	return b;
}
