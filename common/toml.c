// SPDX-License-Identifier: Apache-2.0
/*
 * TOML 1.0 parser (https://toml.io/en/v1.0.0) producing jansson values.
 *
 * One pass, recursive descent. Every table, array and value is a struct node that owns a
 * reference to its jansson counterpart; containers are filled as the document is read, so
 * the jansson tree is complete when parsing ends. Nodes carry what jansson cannot: how a
 * table came to exist (which decides whether it may be extended or redefined) and where its
 * key was written (for toml_key_position()).
 */
#include "common/b64.h"
#include "common/toml.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"

enum node_kind { N_TABLE, N_ARRAY, N_VALUE };

/* How a table or array came to exist; decides what may later extend or redefine it. */
enum {
	F_EXPLICIT = 1 << 0, /* named by a [header] as its last key */
	F_IMPLICIT = 1 << 1, /* intermediate table of a [header], may be defined later once */
	F_DOTTED = 1 << 2, /* created by a dotted key; only dotted keys of its section extend it */
	F_FROZEN = 1 << 3, /* inline table or inline array: complete once written */
	F_AOT = 1 << 4,	   /* array of tables, extended by [[header]] */
};

struct node;

struct entry {
	char *key; /* NULL in arrays */
	size_t keylen;
	struct node *node;
};

struct node {
	enum node_kind kind;
	unsigned flags;
	int depth;
	int line, column; /* where the key (or, in an inline array, the value) was written */
	json_t *json;	  /* object, array or scalar; one reference owned by the node */
	struct entry *items;
	size_t n, cap;
	uint32_t *index; /* tables: open-addressing hash, slot = item index + 1, 0 = empty */
	size_t index_cap;
};

struct toml_doc {
	struct node *root;
};

/* One key segment as written, with its offset for error messages and positions. */
struct key_seg {
	char *s;
	size_t len;
	size_t at;
};

struct key_path {
	struct key_seg *seg;
	size_t n, cap;
};

struct parser {
	const char *s;
	size_t len;
	size_t pos;
	struct toml_err *err;
	bool failed;
	struct node *root;
	struct node *cur; /* table that key/value pairs go into */
	size_t nodes;
	locale_t c_locale; /* created on the first float, so strtod ignores the process locale */
	/* Position cache: offsets are asked for mostly in increasing order. */
	size_t pc_off;
	int pc_line, pc_col;
};

/* ---------------------------------------------------------------- errors and positions */

static void position_of(struct parser *p, size_t at, int *line, int *col)
{
	if (at < p->pc_off) {
		p->pc_off = 0;
		p->pc_line = 1;
		p->pc_col = 1;
	}
	for (size_t i = p->pc_off; i < at && i < p->len; i++) {
		unsigned char c = (unsigned char)p->s[i];

		if (c == '\n') {
			p->pc_line++;
			p->pc_col = 1;
		} else if ((c & 0xc0) != 0x80) {
			p->pc_col++;
		}
	}
	p->pc_off = at;
	*line = p->pc_line;
	*col = p->pc_col;
}

/* Records the first error only: later failures are consequences of it. */
__attribute__((format(printf, 4, 5))) static int fail(struct parser *p, size_t at, int rc,
						      const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return rc;
	p->failed = true;
	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
	va_end(ap);
	position_of(p, at, &p->err->line, &p->err->column);
	return rc;
}

static int nomem(struct parser *p)
{
	return fail(p, p->pos, KBS_ERR_NOMEM, "out of memory");
}

/* Key text for messages: at most 64 bytes, control characters shown as '?'. */
static const char *show_key(const struct key_seg *k, char *out, size_t outlen)
{
	size_t n = k->len < 64 ? k->len : 64;
	size_t j = 0;

	/* do not cut a UTF-8 sequence in half */
	while (n > 0 && n < k->len && ((unsigned char)k->s[n] & 0xc0) == 0x80)
		n--;
	for (size_t i = 0; i < n && j + 1 < outlen; i++) {
		unsigned char c = (unsigned char)k->s[i];

		out[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out[j] = '\0';
	return out;
}

/* A character for messages: 'x' if printable ASCII, else its code. */
static const char *describe(int c, char *out, size_t outlen)
{
	if (c < 0)
		snprintf(out, outlen, "end of input");
	else if (c >= 0x20 && c < 0x7f)
		snprintf(out, outlen, "'%c'", c);
	else if (c < 0x80)
		snprintf(out, outlen, "U+%04X", (unsigned)c);
	else
		snprintf(out, outlen, "a non-ASCII character");
	return out;
}

/* ---------------------------------------------------------------- nodes */

static void node_free(struct node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		free(n->items[i].key);
		node_free(n->items[i].node);
	}
	free(n->items);
	free(n->index);
	json_decref(n->json);
	free(n);
}

/* Takes ownership of json (also on failure). */
static int node_new(struct parser *p, enum node_kind kind, json_t *json, int depth, size_t at,
		    struct node **out)
{
	struct node *n;

	if (!json)
		return nomem(p);
	if (depth > TOML_MAX_DEPTH) {
		json_decref(json);
		return fail(p, at, KBS_ERR_RANGE, "nesting deeper than %d levels", TOML_MAX_DEPTH);
	}
	if (++p->nodes > TOML_MAX_NODES) {
		json_decref(json);
		return fail(p, at, KBS_ERR_RANGE, "more than %u values in one document",
			    TOML_MAX_NODES);
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		json_decref(json);
		return nomem(p);
	}
	n->kind = kind;
	n->json = json;
	n->depth = depth;
	position_of(p, at, &n->line, &n->column);
	*out = n;
	return KBS_OK;
}

static uint64_t hash_key(const char *k, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)k[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static struct node *table_get(const struct node *t, const char *key, size_t len)
{
	size_t mask, i;

	if (t->kind != N_TABLE || t->index_cap == 0)
		return NULL;
	mask = t->index_cap - 1;
	for (i = hash_key(key, len) & mask; t->index[i]; i = (i + 1) & mask) {
		const struct entry *e = &t->items[t->index[i] - 1];

		if (e->keylen == len && memcmp(e->key, key, len) == 0)
			return e->node;
	}
	return NULL;
}

static void index_put(uint32_t *index, size_t cap, const struct entry *e, uint32_t slot_val)
{
	size_t mask = cap - 1;
	size_t i = hash_key(e->key, e->keylen) & mask;

	while (index[i])
		i = (i + 1) & mask;
	index[i] = slot_val;
}

static int items_grow(struct parser *p, struct node *c)
{
	size_t cap;
	struct entry *items;

	if (c->n < c->cap)
		return KBS_OK;
	cap = c->cap ? c->cap * 2 : 4;
	items = realloc(c->items, cap * sizeof(*items));
	if (!items)
		return nomem(p);
	c->items = items;
	c->cap = cap;
	return KBS_OK;
}

/* Adds child under key (copied) to table t; the caller has checked the key is new. */
static int table_put(struct parser *p, struct node *t, const struct key_seg *k, struct node *child)
{
	struct entry *e;

	if (items_grow(p, t) != KBS_OK)
		return KBS_ERR_NOMEM;
	/* keep the hash index at most half full */
	if ((t->n + 1) * 2 > t->index_cap) {
		size_t cap = t->index_cap ? t->index_cap * 2 : 8;
		uint32_t *index = calloc(cap, sizeof(*index));

		if (!index)
			return nomem(p);
		for (size_t i = 0; i < t->n; i++)
			index_put(index, cap, &t->items[i], (uint32_t)(i + 1));
		free(t->index);
		t->index = index;
		t->index_cap = cap;
	}
	e = &t->items[t->n];
	e->key = malloc(k->len + 1);
	if (!e->key)
		return nomem(p);
	memcpy(e->key, k->s, k->len);
	e->key[k->len] = '\0';
	e->keylen = k->len;
	if (json_object_setn_new(t->json, k->s, k->len, json_incref(child->json)) != 0) {
		free(e->key);
		return nomem(p);
	}
	e->node = child;
	index_put(t->index, t->index_cap, e, (uint32_t)(t->n + 1));
	t->n++;
	return KBS_OK;
}

static int array_push(struct parser *p, struct node *a, struct node *child)
{
	if (items_grow(p, a) != KBS_OK)
		return KBS_ERR_NOMEM;
	if (json_array_append(a->json, child->json) != 0)
		return nomem(p);
	a->items[a->n].key = NULL;
	a->items[a->n].keylen = 0;
	a->items[a->n].node = child;
	a->n++;
	return KBS_OK;
}

/* ---------------------------------------------------------------- characters */

static int peek(const struct parser *p, size_t ahead)
{
	return p->pos + ahead < p->len ? (unsigned char)p->s[p->pos + ahead] : -1;
}

static bool is_control(int c)
{
	return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_bare_key_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' ||
	       c == '-';
}

static void skip_ws(struct parser *p)
{
	while (peek(p, 0) == ' ' || peek(p, 0) == '\t')
		p->pos++;
}

/* Length of a valid UTF-8 sequence at s[0..n), 0 if invalid (overlong, surrogate, > U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static int check_utf8(struct parser *p)
{
	const unsigned char *s = (const unsigned char *)p->s;

	for (size_t i = 0; i < p->len;) {
		size_t n = utf8_len(s + i, p->len - i);

		if (n == 0)
			return fail(p, i, KBS_ERR_PARSE, "invalid UTF-8");
		i += n;
	}
	return KBS_OK;
}

static int put_utf8(struct parser *p, struct buf *b, uint32_t cp)
{
	uint8_t u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (uint8_t)cp, n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | (cp >> 6)), n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | (cp >> 12)), n = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | (cp >> 18)), n = 4;
	}
	for (size_t i = 1; i < n; i++)
		u[i] = (uint8_t)(0x80 | ((cp >> (6 * (n - 1 - i))) & 0x3f));
	return buf_append(b, u, n) == KBS_OK ? KBS_OK : nomem(p);
}

/* Consumes LF or CRLF; false (nothing consumed) otherwise. */
static bool eat_newline(struct parser *p)
{
	if (peek(p, 0) == '\n') {
		p->pos++;
		return true;
	}
	if (peek(p, 0) == '\r' && peek(p, 1) == '\n') {
		p->pos += 2;
		return true;
	}
	return false;
}

/* Comment from '#' to the end of the line (newline not consumed). */
static int skip_comment(struct parser *p)
{
	if (peek(p, 0) != '#')
		return KBS_OK;
	for (p->pos++; p->pos < p->len && p->s[p->pos] != '\n'; p->pos++) {
		int c = peek(p, 0);

		if (c == '\r' && peek(p, 1) == '\n')
			break;
		if (is_control(c))
			return fail(p, p->pos, KBS_ERR_PARSE, "control character U+%04X in comment",
				    (unsigned)c);
	}
	return KBS_OK;
}

/* Trailing whitespace and comment, then a newline or the end of the document. */
static int expect_eol(struct parser *p)
{
	char d[32];

	skip_ws(p);
	if (skip_comment(p) != KBS_OK)
		return KBS_ERR_PARSE;
	if (p->pos >= p->len || eat_newline(p))
		return KBS_OK;
	if (peek(p, 0) == '\r')
		return fail(p, p->pos, KBS_ERR_PARSE, "carriage return without line feed");
	return fail(p, p->pos, KBS_ERR_PARSE, "expected end of line, found %s",
		    describe(peek(p, 0), d, sizeof(d)));
}

/* Whitespace, newlines and comments, as allowed between array elements. */
static int skip_ws_comments_nl(struct parser *p)
{
	for (;;) {
		skip_ws(p);
		if (skip_comment(p) != KBS_OK)
			return KBS_ERR_PARSE;
		if (!eat_newline(p))
			break;
	}
	if (peek(p, 0) == '\r')
		return fail(p, p->pos, KBS_ERR_PARSE, "carriage return without line feed");
	return KBS_OK;
}

/* ---------------------------------------------------------------- strings */

/* Escape sequence at '\\' in a basic string. */
static int parse_escape(struct parser *p, struct buf *b)
{
	static const char from[] = "btnfr\"\\";
	static const char to[] = "\b\t\n\f\r\"\\";
	size_t at = p->pos;
	int c = peek(p, 1);
	const char *simple = c > 0 ? strchr(from, c) : NULL;
	int ndigits;
	uint32_t cp = 0;

	if (simple) {
		p->pos += 2;
		return buf_append_byte(b, (uint8_t)to[simple - from]) == KBS_OK ? KBS_OK : nomem(p);
	}
	if (c < 0)
		return fail(p, at, KBS_ERR_PARSE, "unterminated string");
	if (c != 'u' && c != 'U')
		return fail(p, at, KBS_ERR_PARSE, "invalid escape sequence");
	ndigits = c == 'u' ? 4 : 8;
	p->pos += 2;
	for (int i = 0; i < ndigits; i++) {
		int v = hex_digit(peek(p, 0));

		if (v < 0)
			return fail(p, at, KBS_ERR_PARSE, "\\%c needs %d hex digits", c, ndigits);
		cp = (cp << 4) | (uint32_t)v;
		p->pos++;
	}
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return fail(p, at, KBS_ERR_PARSE, "escape is not a Unicode scalar value");
	return put_utf8(p, b, cp);
}

/*
 * A run of quote characters q inside a multi-line string: three or more close it, and up to
 * two of them before the closing three belong to the content. Sets *closed accordingly.
 */
static int multiline_quotes(struct parser *p, char q, struct buf *b, bool *closed)
{
	size_t run = 0;

	while (peek(p, run) == q)
		run++;
	*closed = run >= 3;
	if (run > 5)
		return fail(p, p->pos + 5, KBS_ERR_PARSE, "too many quotes at end of string");
	if (buf_append(b, p->s + p->pos, *closed ? run - 3 : run) != KBS_OK)
		return nomem(p);
	p->pos += run;
	return KBS_OK;
}

/* Line-ending backslash: '\\', optional whitespace, newline, then all whitespace is trimmed. */
static bool line_ending_backslash(struct parser *p)
{
	size_t i = 1;

	while (peek(p, i) == ' ' || peek(p, i) == '\t')
		i++;
	if (peek(p, i) != '\n' && !(peek(p, i) == '\r' && peek(p, i + 1) == '\n'))
		return false;
	p->pos += i;
	for (;;) {
		skip_ws(p);
		if (!eat_newline(p))
			return true;
	}
}

/* String starting at the quote at p->pos; multi-line forms only if allowed (not in keys). */
static int parse_string(struct parser *p, bool allow_multi, struct buf *b)
{
	size_t at = p->pos;
	char q = p->s[p->pos];
	bool multi = peek(p, 1) == q && peek(p, 2) == q;
	bool basic = q == '"';

	if (multi && !allow_multi)
		return fail(p, at, KBS_ERR_PARSE, "a key cannot be a multi-line string");
	if (multi) {
		p->pos += 3;
		eat_newline(p); /* a newline right after the opening delimiter is trimmed */
	} else {
		p->pos++;
	}
	for (;;) {
		int c = peek(p, 0);

		if (c < 0)
			return fail(p, at, KBS_ERR_PARSE, "unterminated string");
		if (c == q) {
			bool closed;

			if (!multi) {
				p->pos++;
				return KBS_OK;
			}
			if (multiline_quotes(p, q, b, &closed) != KBS_OK)
				return KBS_ERR_PARSE;
			if (closed)
				return KBS_OK;
			continue;
		}
		if (basic && c == '\\') {
			if (multi && line_ending_backslash(p))
				continue;
			if (parse_escape(p, b) != KBS_OK)
				return KBS_ERR_PARSE;
			continue;
		}
		if (c == '\n' || c == '\r') {
			if (!multi)
				return fail(p, p->pos, KBS_ERR_PARSE,
					    "newline in single-line string");
			if (!eat_newline(p))
				return fail(p, p->pos, KBS_ERR_PARSE,
					    "carriage return without line feed");
			if (buf_append_byte(b, '\n') != KBS_OK)
				return nomem(p);
			continue;
		}
		if (is_control(c))
			return fail(p, p->pos, KBS_ERR_PARSE, "control character U+%04X in string",
				    (unsigned)c);
		if (buf_append_byte(b, (uint8_t)c) != KBS_OK)
			return nomem(p);
		p->pos++;
	}
}

/* ---------------------------------------------------------------- keys */

static void key_path_release(struct key_path *kp)
{
	for (size_t i = 0; i < kp->n; i++)
		free(kp->seg[i].s);
	free(kp->seg);
	memset(kp, 0, sizeof(*kp));
}

/* key = simple-key *( ws '.' ws simple-key ); stops after trailing whitespace. */
static int parse_key(struct parser *p, struct key_path *kp)
{
	for (;;) {
		struct key_seg *k;
		struct buf b;
		char d[32];
		int c;

		skip_ws(p);
		if (kp->n == TOML_MAX_DEPTH)
			return fail(p, p->pos, KBS_ERR_RANGE, "key has more than %d parts",
				    TOML_MAX_DEPTH);
		if (kp->n == kp->cap) {
			size_t cap = kp->cap ? kp->cap * 2 : 4;
			struct key_seg *seg = realloc(kp->seg, cap * sizeof(*seg));

			if (!seg)
				return nomem(p);
			kp->seg = seg;
			kp->cap = cap;
		}
		k = &kp->seg[kp->n];
		k->at = p->pos;
		buf_init(&b, 0);
		c = peek(p, 0);
		if (c == '"' || c == '\'') {
			if (parse_string(p, false, &b) != KBS_OK) {
				buf_release(&b);
				return KBS_ERR_PARSE;
			}
		} else if (c >= 0 && is_bare_key_char(c)) {
			size_t start = p->pos;

			while (peek(p, 0) >= 0 && is_bare_key_char(peek(p, 0)))
				p->pos++;
			if (buf_append(&b, p->s + start, p->pos - start) != KBS_OK) {
				buf_release(&b);
				return nomem(p);
			}
		} else {
			buf_release(&b);
			if (c < 0 || c == '\n' || c == '\r')
				return fail(p, p->pos, KBS_ERR_PARSE, "expected a key");
			return fail(p, p->pos, KBS_ERR_PARSE, "expected a key, found %s",
				    describe(c, d, sizeof(d)));
		}
		/* an empty quoted key has no storage yet: give it one */
		if (!b.p && buf_reserve(&b, 1) != KBS_OK)
			return nomem(p);
		k->s = buf_steal(&b, &k->len);
		kp->n++;
		skip_ws(p);
		if (peek(p, 0) != '.')
			return KBS_OK;
		p->pos++;
	}
}

/* ---------------------------------------------------------------- scalar values */

static bool is_token_char(int c)
{
	return is_bare_key_char(c) || c == '+' || c == '.' || c == ':';
}

/*
 * Digits in the given base with single underscores between digits
 * (digit *( digit / "_" digit )). Advances *i; returns the digit count, -1 on a misplaced
 * underscore.
 */
static int scan_digits(const char *t, size_t n, size_t *i, int base)
{
	int count = 0;

	for (;;) {
		int c = *i < n ? (unsigned char)t[*i] : -1;
		int v = hex_digit(c);

		if (c == '_') {
			int next = *i + 1 < n ? hex_digit((unsigned char)t[*i + 1]) : -1;

			if (count == 0 || next < 0 || next >= base)
				return -1;
			(*i)++;
			continue;
		}
		if (v < 0 || v >= base)
			return count;
		count++;
		(*i)++;
	}
}

static int make_value(struct parser *p, json_t *j, int depth, size_t at, struct node **out)
{
	return node_new(p, N_VALUE, j, depth, at, out);
}

static int parse_integer(struct parser *p, const char *t, size_t n, size_t at, int depth,
			 struct node **out)
{
	size_t i = 0;
	bool neg = false;
	int base = 10;
	uint64_t v = 0, limit;

	if (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-';
		i = 1;
	}
	if (i + 1 < n && t[i] == '0' && (t[i + 1] == 'x' || t[i + 1] == 'o' || t[i + 1] == 'b')) {
		if (i > 0)
			return fail(p, at, KBS_ERR_PARSE, "no sign allowed on hex/octal/binary");
		base = t[1] == 'x' ? 16 : t[1] == 'o' ? 8 : 2;
		i = 2;
	} else if (i + 1 < n && t[i] == '0') {
		return fail(p, at, KBS_ERR_PARSE, "leading zeros are not allowed");
	}
	size_t start = i;
	if (scan_digits(t, n, &i, base) <= 0 || i != n)
		return fail(p, at, KBS_ERR_PARSE, "invalid number");
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (size_t k = start; k < n; k++) {
		uint64_t d;

		if (t[k] == '_')
			continue;
		d = (uint64_t)hex_digit((unsigned char)t[k]);
		if (v > (limit - d) / (uint64_t)base)
			return fail(p, at, KBS_ERR_PARSE, "integer does not fit in 64 bits");
		v = v * (uint64_t)base + d;
	}
	/* -2^63 has no positive counterpart */
	json_int_t iv = !neg ? (json_int_t)v : v > (uint64_t)INT64_MAX ? INT64_MIN : -(json_int_t)v;
	return make_value(p, json_integer(iv), depth, at, out);
}

static int parse_float(struct parser *p, const char *t, size_t n, size_t at, int depth,
		       struct node **out)
{
	size_t i = 0;
	char *clean;
	size_t m = 0;
	double d;
	char *end;
	int rc;

	if (t[0] == '+' || t[0] == '-')
		i = 1;
	if (i + 1 < n && t[i] == '0' && (is_digit((unsigned char)t[i + 1]) || t[i + 1] == '_'))
		return fail(p, at, KBS_ERR_PARSE, "leading zeros are not allowed");
	if (scan_digits(t, n, &i, 10) <= 0)
		return fail(p, at, KBS_ERR_PARSE, "invalid float");
	if (i < n && t[i] == '.') {
		i++;
		if (scan_digits(t, n, &i, 10) <= 0)
			return fail(p, at, KBS_ERR_PARSE, "invalid float: digits must follow '.'");
	}
	if (i < n && (t[i] == 'e' || t[i] == 'E')) {
		i++;
		if (i < n && (t[i] == '+' || t[i] == '-'))
			i++;
		if (scan_digits(t, n, &i, 10) <= 0)
			return fail(p, at, KBS_ERR_PARSE, "invalid float exponent");
	}
	if (i != n)
		return fail(p, at, KBS_ERR_PARSE, "invalid float");
	if (p->c_locale == (locale_t)0) {
		p->c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
		if (p->c_locale == (locale_t)0)
			return nomem(p);
	}
	clean = malloc(n + 1);
	if (!clean)
		return nomem(p);
	for (i = 0; i < n; i++)
		if (t[i] != '_')
			clean[m++] = t[i];
	clean[m] = '\0';
	/* glibc strtod is correctly rounded; the grammar check above keeps out hex floats etc. */
	d = strtod_l(clean, &end, p->c_locale);
	if (*end != '\0')
		rc = fail(p, at, KBS_ERR_INTERNAL, "float conversion disagrees with grammar");
	else if (isinf(d))
		rc = fail(p, at, KBS_ERR_PARSE, "float out of range");
	else
		rc = make_value(p, json_real(d), depth, at, out);
	free(clean);
	return rc;
}

static json_t *special_float(const char *word)
{
	json_t *o = json_object();

	if (o && json_object_set_new(o, "$float", json_string(word)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int days_in_month(int y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dim[m - 1];
}

/* Exactly ndig decimal digits at t[*i]; returns the value or -1. */
static int fixed_digits(const char *t, size_t n, size_t *i, int ndig)
{
	int v = 0;

	for (int k = 0; k < ndig; k++, (*i)++) {
		if (*i >= n || !is_digit((unsigned char)t[*i]))
			return -1;
		v = v * 10 + (t[*i] - '0');
	}
	return v;
}

static bool expect_char(const char *t, size_t n, size_t *i, char c)
{
	if (*i < n && t[*i] == c) {
		(*i)++;
		return true;
	}
	return false;
}

/* RFC 3339 date-time / local date-time / local date / local time (TOML 1.0 §Date-Time). */
static int parse_datetime(struct parser *p, const char *t, size_t n, size_t at, int depth,
			  struct node **out)
{
	size_t i = 0;
	bool date = false, time = false, offset = false, need_time = false;
	char *norm;
	const char *type;
	json_t *o;

	if (n >= 5 && t[4] == '-') {
		int y = fixed_digits(t, n, &i, 4);
		int mo = (expect_char(t, n, &i, '-') ? fixed_digits(t, n, &i, 2) : -1);
		int d = (mo >= 0 && expect_char(t, n, &i, '-') ? fixed_digits(t, n, &i, 2) : -1);

		if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
			goto bad;
		date = true;
		if (i < n) {
			if (t[i] != 'T' && t[i] != 't' && t[i] != ' ')
				goto bad;
			i++;
			need_time = true;
		}
	}
	if (!date || need_time) {
		int h = fixed_digits(t, n, &i, 2);
		int mi = (h >= 0 && expect_char(t, n, &i, ':') ? fixed_digits(t, n, &i, 2) : -1);
		int s = (mi >= 0 && expect_char(t, n, &i, ':') ? fixed_digits(t, n, &i, 2) : -1);

		if (h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60)
			goto bad;
		if (expect_char(t, n, &i, '.')) {
			size_t start = i;

			while (i < n && is_digit((unsigned char)t[i]))
				i++;
			if (i == start)
				goto bad;
		}
		time = true;
		if (date && i < n) {
			if (t[i] == 'Z' || t[i] == 'z') {
				i++;
			} else if (t[i] == '+' || t[i] == '-') {
				int oh, om;

				i++;
				oh = fixed_digits(t, n, &i, 2);
				om = (oh >= 0 && expect_char(t, n, &i, ':')
					  ? fixed_digits(t, n, &i, 2)
					  : -1);
				if (oh < 0 || oh > 23 || om < 0 || om > 59)
					goto bad;
			} else {
				goto bad;
			}
			offset = true;
		}
	}
	if (i != n)
		goto bad;
	norm = malloc(n + 1);
	if (!norm)
		return nomem(p);
	for (i = 0; i < n; i++)
		norm[i] = (t[i] == ' ' || t[i] == 't') ? 'T' : t[i] == 'z' ? 'Z' : t[i];
	norm[n] = '\0';
	type = offset	      ? "offset-datetime"
	       : date && time ? "local-datetime"
	       : date	      ? "local-date"
			      : "local-time";
	o = json_object();
	if (o && (json_object_set_new(o, "$datetime", json_string(norm)) != 0 ||
		  json_object_set_new(o, "$type", json_string(type)) != 0)) {
		json_decref(o);
		o = NULL;
	}
	free(norm);
	return make_value(p, o, depth, at, out);
bad:
	return fail(p, at, KBS_ERR_PARSE, "invalid date/time '%.*s'", (int)(n < 40 ? n : 40), t);
}

static size_t leading_digits(const char *t, size_t n)
{
	size_t i = 0;

	while (i < n && is_digit((unsigned char)t[i]))
		i++;
	return i;
}

/* Booleans, numbers and date-times: one token of [A-Za-z0-9_+-.:], classified. */
static int parse_scalar(struct parser *p, int depth, struct node **out)
{
	size_t at = p->pos;
	const char *t = p->s + at, *u;
	size_t n, un;
	bool prefixed;

	while (peek(p, 0) >= 0 && is_token_char(peek(p, 0)))
		p->pos++;
	/* "1979-05-27 07:32:00": a space may separate date and time */
	if (p->pos - at == 10 && t[4] == '-' && t[7] == '-' && peek(p, 0) == ' ' &&
	    is_digit(peek(p, 1)) && is_digit(peek(p, 2)) && peek(p, 3) == ':') {
		p->pos++;
		while (peek(p, 0) >= 0 && is_token_char(peek(p, 0)))
			p->pos++;
	}
	n = p->pos - at;
	if (n == 0) {
		int c = peek(p, 0);
		char d[32];

		if (c < 0 || c == '\n' || c == '\r' || c == '#')
			return fail(p, at, KBS_ERR_PARSE, "expected a value");
		return fail(p, at, KBS_ERR_PARSE, "expected a value, found %s",
			    describe(c, d, sizeof(d)));
	}
	if (n == 4 && memcmp(t, "true", 4) == 0)
		return make_value(p, json_true(), depth, at, out);
	if (n == 5 && memcmp(t, "false", 5) == 0)
		return make_value(p, json_false(), depth, at, out);
	if ((n >= 5 && leading_digits(t, n) == 4 && t[4] == '-') ||
	    (n >= 3 && leading_digits(t, n) == 2 && t[2] == ':'))
		return parse_datetime(p, t, n, at, depth, out);
	/* u: the token without its sign */
	u = (t[0] == '+' || t[0] == '-') ? t + 1 : t;
	un = n - (size_t)(u - t);
	if (un == 3 && memcmp(u, "inf", 3) == 0)
		return make_value(p, special_float(t[0] == '-' ? "-inf" : "inf"), depth, at, out);
	if (un == 3 && memcmp(u, "nan", 3) == 0)
		return make_value(p, special_float("nan"), depth, at, out);
	prefixed = un > 1 && u[0] == '0' && (u[1] == 'x' || u[1] == 'o' || u[1] == 'b');
	if (!prefixed && (memchr(t, '.', n) || memchr(t, 'e', n) || memchr(t, 'E', n)))
		return parse_float(p, t, n, at, depth, out);
	return parse_integer(p, t, n, at, depth, out);
}

/* ---------------------------------------------------------------- values, tables */

static int parse_value(struct parser *p, int depth, struct node **out);

static int parse_keyval(struct parser *p, struct node *tbl);

static int parse_array(struct parser *p, int depth, struct node **out)
{
	struct node *a = NULL;
	int rc = node_new(p, N_ARRAY, json_array(), depth, p->pos, &a);

	if (rc != KBS_OK)
		return rc;
	a->flags = F_FROZEN;
	p->pos++;
	for (;;) {
		struct node *v = NULL;

		if ((rc = skip_ws_comments_nl(p)) != KBS_OK)
			goto out;
		if (peek(p, 0) == ']')
			break;
		if ((rc = parse_value(p, depth + 1, &v)) != KBS_OK)
			goto out;
		if ((rc = array_push(p, a, v)) != KBS_OK) {
			node_free(v);
			goto out;
		}
		if ((rc = skip_ws_comments_nl(p)) != KBS_OK)
			goto out;
		if (peek(p, 0) == ',') {
			p->pos++;
			continue;
		}
		if (peek(p, 0) == ']')
			break;
		rc = peek(p, 0) < 0
			 ? fail(p, p->pos, KBS_ERR_PARSE, "unterminated array")
			 : fail(p, p->pos, KBS_ERR_PARSE, "expected ',' or ']' in array");
		goto out;
	}
	p->pos++;
	*out = a;
	a = NULL;
	rc = KBS_OK;
out:
	node_free(a);
	return rc;
}

static int parse_inline_table(struct parser *p, int depth, struct node **out)
{
	struct node *t = NULL;
	int rc = node_new(p, N_TABLE, json_object(), depth, p->pos, &t);

	if (rc != KBS_OK)
		return rc;
	p->pos++;
	skip_ws(p);
	if (peek(p, 0) != '}') {
		for (;;) {
			if ((rc = parse_keyval(p, t)) != KBS_OK)
				goto out;
			skip_ws(p);
			if (peek(p, 0) == ',') {
				p->pos++;
				continue;
			}
			if (peek(p, 0) == '}')
				break;
			rc = fail(p, p->pos, KBS_ERR_PARSE, "expected ',' or '}' in inline table");
			goto out;
		}
	}
	p->pos++;
	t->flags |= F_FROZEN;
	*out = t;
	t = NULL;
	rc = KBS_OK;
out:
	node_free(t);
	return rc;
}

static int parse_value(struct parser *p, int depth, struct node **out)
{
	int c = peek(p, 0);

	if (depth > TOML_MAX_DEPTH)
		return fail(p, p->pos, KBS_ERR_RANGE, "nesting deeper than %d levels",
			    TOML_MAX_DEPTH);
	if (c == '"' || c == '\'') {
		struct buf b;
		size_t at = p->pos;
		int rc;

		buf_init(&b, 0);
		rc = parse_string(p, true, &b);
		if (rc == KBS_OK)
			rc = make_value(p, json_stringn(b.p ? (const char *)b.p : "", b.len), depth,
					at, out);
		buf_release(&b);
		return rc;
	}
	if (c == '[')
		return parse_array(p, depth, out);
	if (c == '{')
		return parse_inline_table(p, depth, out);
	return parse_scalar(p, depth, out);
}

static int new_table(struct parser *p, struct node *parent, const struct key_seg *k, unsigned flags,
		     struct node **out)
{
	struct node *t = NULL;
	int rc = node_new(p, N_TABLE, json_object(), parent->depth + 1, k->at, &t);

	if (rc != KBS_OK)
		return rc;
	t->flags = flags;
	if ((rc = table_put(p, parent, k, t)) != KBS_OK) {
		node_free(t);
		return rc;
	}
	*out = t;
	return KBS_OK;
}

/* key = value, into tbl; dotted keys create or extend tables made by dotted keys only. */
static int parse_keyval(struct parser *p, struct node *tbl)
{
	struct key_path kp = {0};
	struct node *t = tbl, *v = NULL;
	int line, col;
	const struct key_seg *last;
	char kb[80];
	int rc;

	if ((rc = parse_key(p, &kp)) != KBS_OK)
		goto out;
	if (peek(p, 0) != '=') {
		rc = fail(p, p->pos, KBS_ERR_PARSE, "expected '=' after key");
		goto out;
	}
	p->pos++;
	skip_ws(p);
	for (size_t i = 0; i + 1 < kp.n; i++) {
		struct node *c = table_get(t, kp.seg[i].s, kp.seg[i].len);

		if (!c) {
			if ((rc = new_table(p, t, &kp.seg[i], F_DOTTED, &c)) != KBS_OK)
				goto out;
		} else if (c->kind != N_TABLE || !(c->flags & F_DOTTED) || (c->flags & F_FROZEN)) {
			rc = fail(p, kp.seg[i].at, KBS_ERR_PARSE,
				  c->kind == N_TABLE ? "cannot add keys to table '%s' here"
						     : "key '%s' is already defined as a value",
				  show_key(&kp.seg[i], kb, sizeof(kb)));
			goto out;
		}
		t = c;
	}
	last = &kp.seg[kp.n - 1];
	if (table_get(t, last->s, last->len)) {
		rc = fail(p, last->at, KBS_ERR_PARSE, "duplicate key '%s'",
			  show_key(last, kb, sizeof(kb)));
		goto out;
	}
	position_of(p, last->at, &line, &col);
	if ((rc = parse_value(p, t->depth + 1, &v)) != KBS_OK)
		goto out;
	v->line = line;
	v->column = col;
	if ((rc = table_put(p, t, last, v)) != KBS_OK) {
		node_free(v);
		goto out;
	}
	rc = KBS_OK;
out:
	key_path_release(&kp);
	return rc;
}

/* [a.b.c] or [[a.b.c]]: sets the table that following key/value pairs go into. */
static int parse_header(struct parser *p)
{
	bool aot = peek(p, 1) == '[';
	struct key_path kp = {0};
	struct node *t = p->root, *c;
	const struct key_seg *last;
	char kb[80];
	int rc;

	p->pos += aot ? 2 : 1;
	if ((rc = parse_key(p, &kp)) != KBS_OK)
		goto out;
	if (peek(p, 0) != ']' || (aot && peek(p, 1) != ']')) {
		rc = fail(p, p->pos, KBS_ERR_PARSE, aot ? "expected ']]'" : "expected ']'");
		goto out;
	}
	p->pos += aot ? 2 : 1;
	if ((rc = expect_eol(p)) != KBS_OK)
		goto out;
	for (size_t i = 0; i + 1 < kp.n; i++) {
		c = table_get(t, kp.seg[i].s, kp.seg[i].len);
		if (!c) {
			if ((rc = new_table(p, t, &kp.seg[i], F_IMPLICIT, &c)) != KBS_OK)
				goto out;
		} else if (c->kind == N_ARRAY && (c->flags & F_AOT)) {
			c = c->items[c->n - 1].node;
		} else if (c->kind != N_TABLE || (c->flags & F_FROZEN)) {
			rc = fail(p, kp.seg[i].at, KBS_ERR_PARSE,
				  "key '%s' is already defined and is not a table",
				  show_key(&kp.seg[i], kb, sizeof(kb)));
			goto out;
		}
		t = c;
	}
	last = &kp.seg[kp.n - 1];
	c = table_get(t, last->s, last->len);
	if (!aot) {
		if (!c) {
			rc = new_table(p, t, last, F_EXPLICIT, &c);
		} else if (c->kind == N_TABLE && c->flags == F_IMPLICIT) {
			c->flags = F_EXPLICIT;
			position_of(p, last->at, &c->line, &c->column);
		} else {
			rc = fail(p, last->at, KBS_ERR_PARSE,
				  c->kind == N_TABLE
				      ? "table '%s' is already defined"
				      : "key '%s' is already defined and is not a table",
				  show_key(last, kb, sizeof(kb)));
		}
		if (rc != KBS_OK)
			goto out;
		p->cur = c;
	} else {
		struct node *elem = NULL;

		if (!c) {
			struct node *a = NULL;

			if ((rc = node_new(p, N_ARRAY, json_array(), t->depth + 1, last->at, &a)) !=
			    KBS_OK)
				goto out;
			a->flags = F_AOT;
			if ((rc = table_put(p, t, last, a)) != KBS_OK) {
				node_free(a);
				goto out;
			}
			c = a;
		} else if (c->kind != N_ARRAY || !(c->flags & F_AOT)) {
			rc = fail(p, last->at, KBS_ERR_PARSE,
				  "key '%s' is already defined and is not an array of tables",
				  show_key(last, kb, sizeof(kb)));
			goto out;
		}
		if ((rc = node_new(p, N_TABLE, json_object(), c->depth + 1, last->at, &elem)) !=
		    KBS_OK)
			goto out;
		elem->flags = F_EXPLICIT;
		if ((rc = array_push(p, c, elem)) != KBS_OK) {
			node_free(elem);
			goto out;
		}
		p->cur = elem;
	}
	rc = KBS_OK;
out:
	key_path_release(&kp);
	return rc;
}

static int parse_document(struct parser *p)
{
	int rc;

	if ((rc = check_utf8(p)) != KBS_OK)
		return rc;
	if (p->len >= 3 && memcmp(p->s, "\xef\xbb\xbf", 3) == 0) {
		p->pos = 3;
		p->pc_off = 3; /* the byte order mark takes no column */
	}
	while (p->pos < p->len) {
		skip_ws(p);
		switch (peek(p, 0)) {
		case -1:
		case '#':
		case '\n':
		case '\r':
			rc = expect_eol(p);
			break;
		case '[':
			rc = parse_header(p);
			break;
		default:
			rc = parse_keyval(p, p->cur);
			if (rc == KBS_OK)
				rc = expect_eol(p);
			break;
		}
		if (rc != KBS_OK)
			return rc;
	}
	return KBS_OK;
}

/* ---------------------------------------------------------------- public API */

int toml_parse(const char *text, size_t len, struct toml_doc **doc, struct toml_err *err)
{
	struct toml_err dummy;
	struct parser p;
	struct toml_doc *d = NULL;
	int rc;

	if (!err)
		err = &dummy;
	memset(err, 0, sizeof(*err));
	*doc = NULL;
	if (len > TOML_MAX_INPUT) {
		snprintf(err->msg, sizeof(err->msg), "document larger than %u bytes",
			 TOML_MAX_INPUT);
		return KBS_ERR_RANGE;
	}
	memset(&p, 0, sizeof(p));
	p.s = text ? text : "";
	p.len = text ? len : 0;
	p.err = err;
	p.pc_line = p.pc_col = 1;
	rc = node_new(&p, N_TABLE, json_object(), 0, 0, &p.root);
	if (rc != KBS_OK)
		goto out;
	p.root->flags = F_EXPLICIT;
	p.cur = p.root;
	if ((rc = parse_document(&p)) != KBS_OK)
		goto out;
	d = calloc(1, sizeof(*d));
	if (!d) {
		rc = nomem(&p);
		goto out;
	}
	d->root = p.root;
	p.root = NULL;
	*doc = d;
	rc = KBS_OK;
out:
	node_free(p.root);
	if (p.c_locale != (locale_t)0)
		freelocale(p.c_locale);
	return rc;
}

int toml_parse_file(const char *path, struct toml_doc **doc, struct toml_err *err)
{
	struct toml_err dummy;
	struct buf b;
	FILE *f;
	char chunk[8192];
	size_t n;
	int rc;

	if (!err)
		err = &dummy;
	memset(err, 0, sizeof(*err));
	*doc = NULL;
	f = fopen(path, "rb");
	if (!f) {
		snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(errno));
		return KBS_ERR_IO;
	}
	buf_init(&b, TOML_MAX_INPUT);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		rc = buf_append(&b, chunk, n);
		if (rc == KBS_ERR_RANGE) {
			snprintf(err->msg, sizeof(err->msg), "%s: larger than %u bytes", path,
				 TOML_MAX_INPUT);
			goto out;
		}
		if (rc != KBS_OK) {
			snprintf(err->msg, sizeof(err->msg), "out of memory");
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err->msg, sizeof(err->msg), "%s: read error", path);
		rc = KBS_ERR_IO;
		goto out;
	}
	rc = toml_parse((const char *)b.p, b.len, doc, err);
out:
	fclose(f);
	buf_release(&b);
	return rc;
}

json_t *toml_doc_root(const struct toml_doc *doc)
{
	return doc ? doc->root->json : NULL;
}

/* One path segment: quoted "..." or bare up to '.', '[' or the end. */
static const char *path_segment(const char *s, const char **key, size_t *len)
{
	if (*s == '"') {
		const char *end = strchr(s + 1, '"');

		if (!end)
			return NULL;
		*key = s + 1;
		*len = (size_t)(end - s - 1);
		return end + 1;
	}
	*key = s;
	*len = strcspn(s, ".[");
	return *len ? s + *len : NULL;
}

int toml_key_position(const struct toml_doc *doc, const char *path, int *line, int *column)
{
	const struct node *n;
	const char *s = path;

	if (!doc || !path)
		return KBS_ERR_NOTFOUND;
	n = doc->root;
	for (;;) {
		const char *key;
		size_t len;

		s = path_segment(s, &key, &len);
		if (!s || !(n = table_get(n, key, len)))
			return KBS_ERR_NOTFOUND;
		while (*s == '[') {
			char *end;
			unsigned long long idx;

			if (!is_digit((unsigned char)s[1]))
				return KBS_ERR_NOTFOUND;
			errno = 0;
			idx = strtoull(s + 1, &end, 10);
			if (errno || *end != ']' || n->kind != N_ARRAY || idx >= n->n)
				return KBS_ERR_NOTFOUND;
			n = n->items[idx].node;
			s = end + 1;
		}
		if (*s == '\0')
			break;
		if (*s != '.')
			return KBS_ERR_NOTFOUND;
		s++;
	}
	*line = n->line;
	*column = n->column;
	return KBS_OK;
}

void toml_doc_free(struct toml_doc *doc)
{
	if (!doc)
		return;
	node_free(doc->root);
	free(doc);
}
