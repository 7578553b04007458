// SPDX-License-Identifier: Apache-2.0
/* Rego lexer: policy text to tokens (string escapes decoded, numbers and keywords marked). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "server/policy/rego_parse.h"

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

void rego_lex(struct ps *p)
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
