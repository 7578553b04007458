// SPDX-License-Identifier: Apache-2.0
/* Strict JSON parsing and typed member-path getters on jansson. */
#include "common/json.h"
#include "common/b64.h"
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_err(struct json_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_err(struct json_err *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->line = 0;
	err->column = 0;
}

/* ---- fast path ---------------------------------------------------------------------------
 * A small recursive-descent parser for the JSON that request bodies actually carry: ASCII
 * strings with the common escapes, integers, literals, objects and arrays. It builds the same
 * jansson tree json_loadb() would (members in input order) and gives up - KBS_ERR_UNSUPPORTED,
 * nothing allocated - on anything else: a syntax or strictness error, non-ASCII bytes, a
 * surrogate or NUL escape, a number with a fraction or exponent, "-0", more than 18 digits,
 * nesting deeper than FP_MAX_DEPTH or a failed allocation. json_parse_flags() then runs
 * jansson, so every error message and every edge case stays jansson's; the fast path only
 * saves jansson's per-character lexer on well-formed input (tests/fuzz/fuzz_json_fast.c checks
 * that whatever it accepts, jansson accepts with an identical tree).
 */
#define FP_MAX_DEPTH 64

struct fp {
	const char *p, *end;
	char *tmp; /* decode buffer for strings with escapes (malloc'ed on first use) */
	size_t tmpcap;
};

static inline void fp_ws(struct fp *f)
{
	while (f->p < f->end && (*f->p == ' ' || *f->p == '\n' || *f->p == '\r' || *f->p == '\t'))
		f->p++;
}

static int fp_hex(const char *s)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		int d = hex_digit((unsigned char)s[i]);
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* After a member or element: ',' -> 1 (another one follows, blanks skipped), the container's
 * closing byte -> 0, anything else -> -1. */
static int fp_next(struct fp *f, char close)
{
	fp_ws(f);
	if (f->p < f->end && *f->p == ',') {
		f->p++;
		fp_ws(f);
		return 1;
	}
	if (f->p < f->end && *f->p == close) {
		f->p++;
		return 0;
	}
	return -1;
}

/* String at f->p (the opening quote) -> its decoded bytes (s, n), in the input or in f->tmp. */
static int fp_string(struct fp *f, const char **s, size_t *n)
{
	const char *q = ++f->p, *start = q;
	size_t o;

	while (q < f->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20 &&
	       (unsigned char)*q < 0x80)
		q++;
	if (q < f->end && *q == '"') { /* no escapes: the bytes as they are */
		*s = start;
		*n = (size_t)(q - start);
		f->p = q + 1;
		return KBS_OK;
	}
	/* escapes: the decoded text is never longer than the encoded one */
	if ((size_t)(f->end - start) > f->tmpcap) {
		size_t cap = (size_t)(f->end - start);
		char *t = realloc(f->tmp, cap);
		if (!t)
			return KBS_ERR_UNSUPPORTED;
		f->tmp = t;
		f->tmpcap = cap;
	}
	o = (size_t)(q - start);
	memcpy(f->tmp, start, o);
	while (q < f->end && *q != '"') {
		unsigned char c = (unsigned char)*q;
		if (c < 0x20 || c >= 0x80)
			return KBS_ERR_UNSUPPORTED;
		if (c != '\\') {
			f->tmp[o++] = (char)c;
			q++;
			continue;
		}
		if (f->end - q < 2)
			return KBS_ERR_UNSUPPORTED;
		if (q[1] != 'u') {
			static const char in[8] = "\"\\/bfnrt", dec[8] = "\"\\/\b\f\n\r\t";
			const char *m = memchr(in, q[1], sizeof(in));
			if (!m)
				return KBS_ERR_UNSUPPORTED;
			f->tmp[o++] = dec[m - in];
		} else {
			int u = f->end - q >= 6 ? fp_hex(q + 2) : -1;
			/* NUL and surrogates (pairs or lone) are left to jansson */
			if (u <= 0 || (u >= 0xD800 && u <= 0xDFFF))
				return KBS_ERR_UNSUPPORTED;
			if (u < 0x80) {
				f->tmp[o++] = (char)u;
			} else if (u < 0x800) {
				f->tmp[o++] = (char)(0xC0 | (u >> 6));
				f->tmp[o++] = (char)(0x80 | (u & 0x3F));
			} else {
				f->tmp[o++] = (char)(0xE0 | (u >> 12));
				f->tmp[o++] = (char)(0x80 | ((u >> 6) & 0x3F));
				f->tmp[o++] = (char)(0x80 | (u & 0x3F));
			}
			q += 4;
		}
		q += 2;
	}
	if (q >= f->end)
		return KBS_ERR_UNSUPPORTED;
	*s = f->tmp;
	*n = o;
	f->p = q + 1;
	return KBS_OK;
}

static json_t *fp_value(struct fp *f, int depth);

static json_t *fp_object(struct fp *f, int depth)
{
	json_t *o = json_object(), *v;
	char kbuf[128];
	const char *k;
	size_t kl;

	if (!o)
		return NULL;
	f->p++;
	fp_ws(f);
	if (f->p < f->end && *f->p == '}') {
		f->p++;
		return o;
	}
	for (;;) {
		if (f->p >= f->end || *f->p != '"' || fp_string(f, &k, &kl) != KBS_OK)
			goto fail;
		if (k == f->tmp) { /* decoded: f->tmp is reused by the value's strings */
			if (kl > sizeof(kbuf))
				goto fail;
			memcpy(kbuf, k, kl);
			k = kbuf;
		}
		/* jansson rejects duplicates (JSON_REJECT_DUPLICATES): leave the message to it */
		if (json_object_getn(o, k, kl))
			goto fail;
		fp_ws(f);
		if (f->p >= f->end || *f->p != ':')
			goto fail;
		f->p++;
		fp_ws(f);
		if (!(v = fp_value(f, depth + 1)))
			goto fail;
		if (json_object_setn_new_nocheck(o, k, kl, v) != 0)
			goto fail;
		int more = fp_next(f, '}');
		if (more < 0)
			goto fail;
		if (!more)
			return o;
	}
fail:
	json_decref(o);
	return NULL;
}

static json_t *fp_array(struct fp *f, int depth)
{
	json_t *a = json_array(), *v;

	if (!a)
		return NULL;
	f->p++;
	fp_ws(f);
	if (f->p < f->end && *f->p == ']') {
		f->p++;
		return a;
	}
	for (;;) {
		if (!(v = fp_value(f, depth + 1)) || json_array_append_new(a, v) != 0)
			goto fail;
		int more = fp_next(f, ']');
		if (more < 0)
			goto fail;
		if (!more)
			return a;
	}
fail:
	json_decref(a);
	return NULL;
}

/* -?(0|[1-9][0-9]{0,17}) not followed by '.', 'e' or 'E'; "-0" is left to jansson. */
static json_t *fp_integer(struct fp *f)
{
	const char *q = f->p;
	bool neg = *q == '-';
	json_int_t v = 0;
	int nd = 0;

	q += neg;
	if (q >= f->end || *q < '0' || *q > '9' || (*q == '0' && neg))
		return NULL;
	if (*q == '0') {
		q++;
	} else {
		while (q < f->end && *q >= '0' && *q <= '9' && nd < 19) {
			v = v * 10 + (*q++ - '0');
			nd++;
		}
		if (nd > 18)
			return NULL;
	}
	if (q < f->end && (*q == '.' || *q == 'e' || *q == 'E' || (*q >= '0' && *q <= '9')))
		return NULL;
	f->p = q;
	return json_integer(neg ? -v : v);
}

static bool fp_lit(struct fp *f, const char *lit, size_t n)
{
	if ((size_t)(f->end - f->p) < n || memcmp(f->p, lit, n) != 0)
		return false;
	f->p += n;
	return true;
}

static json_t *fp_value(struct fp *f, int depth)
{
	const char *s;
	size_t n;

	if (f->p >= f->end || depth > FP_MAX_DEPTH)
		return NULL;
	switch (*f->p) {
	case '{':
		return fp_object(f, depth);
	case '[':
		return fp_array(f, depth);
	case '"':
		return fp_string(f, &s, &n) == KBS_OK ? json_stringn_nocheck(s, n) : NULL;
	case 't':
		return fp_lit(f, "true", 4) ? json_true() : NULL;
	case 'f':
		return fp_lit(f, "false", 5) ? json_false() : NULL;
	case 'n':
		return fp_lit(f, "null", 4) ? json_null() : NULL;
	default:
		return fp_integer(f);
	}
}

int json_parse_fast(const char *text, size_t len, json_t **out)
{
	struct fp f = {text, text + len, NULL, 0};
	json_t *v;

	if (!out)
		return KBS_ERR_INVAL;
	*out = NULL;
	if (!text)
		return KBS_ERR_UNSUPPORTED;
	fp_ws(&f);
	v = fp_value(&f, 1);
	free(f.tmp);
	if (!v)
		return KBS_ERR_UNSUPPORTED;
	fp_ws(&f);
	if (f.p != f.end) {
		json_decref(v);
		return KBS_ERR_UNSUPPORTED;
	}
	*out = v;
	return KBS_OK;
}

int json_parse_flags(const char *text, size_t len, size_t maxlen, unsigned flags, json_t **out,
		     struct json_err *err)
{
	json_error_t je;
	json_t *v;
	size_t jflags = JSON_REJECT_DUPLICATES | JSON_DECODE_ANY;

	if (!out || (!text && len)) {
		set_err(err, "invalid argument");
		return KBS_ERR_INVAL;
	}
	*out = NULL;
	if (flags & ~JSON_P_ALLOW_NUL) {
		set_err(err, "unknown parse flags 0x%x", flags);
		return KBS_ERR_INVAL;
	}
	if (maxlen == 0)
		maxlen = JSON_MAXLEN_DEFAULT;
	if (len > maxlen) {
		set_err(err, "JSON text of %zu bytes exceeds the limit of %zu bytes", len, maxlen);
		return KBS_ERR_RANGE;
	}
	/* the fast path refuses "\u0000", so it serves JSON_P_ALLOW_NUL alike */
	if (json_parse_fast(text, len, out) == KBS_OK)
		return KBS_OK;
	if (flags & JSON_P_ALLOW_NUL)
		jflags |= JSON_ALLOW_NUL;
	/* Without JSON_DISABLE_EOF_CHECK jansson rejects anything but whitespace after the value.
	 */
	v = json_loadb(text ? text : "", len, jflags, &je);
	if (!v) {
		/* jansson sets no message when its lexer cannot even allocate its buffer. */
		bool oom = json_error_code(&je) == json_error_out_of_memory || je.text[0] == 0;

		if (err) {
			snprintf(err->msg, sizeof(err->msg), "%s", oom ? "out of memory" : je.text);
			err->line = je.line > 0 ? je.line : 0;
			err->column = je.column > 0 ? je.column : 0;
		}
		return oom ? KBS_ERR_NOMEM : KBS_ERR_PARSE;
	}
	*out = v;
	return KBS_OK;
}

int json_parse(const char *text, size_t len, size_t maxlen, json_t **out, struct json_err *err)
{
	return json_parse_flags(text, len, maxlen, 0, out, err);
}

const char *json_type_name(const json_t *v)
{
	if (!v)
		return "nothing";
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

/* "member 'a.b'" for path[0..plen), "top-level value" for the empty path. */
static const char *subject(char *out, size_t outlen, const char *path, size_t plen)
{
	if (plen == 0)
		snprintf(out, outlen, "top-level value");
	else
		snprintf(out, outlen, "member '%.*s'", (int)(plen > 200 ? 200 : plen), path);
	return out;
}

/* Why a lookup failed; plen is the length of the path prefix the message should name. */
enum lk_fail { LK_OK = 0, LK_MISSING, LK_TYPE, LK_BADPATH };

struct lk {
	enum lk_fail fail;
	size_t plen;
	const char *expected;
	const json_t *got;
};

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Length of the path naming the container whose segment starts at i ("a.b" for "a.b.c", i=4). */
static size_t container_len(const char *path, size_t i)
{
	return (i > 0 && path[i - 1] == '.') ? i - 1 : i;
}

static json_t *lookup(json_t *root, const char *path, struct lk *lk)
{
	size_t i = 0, n;
	json_t *cur = root;

	lk->fail = LK_OK;
	lk->plen = 0;
	if (!root || !path) {
		lk->fail = LK_BADPATH;
		return NULL;
	}
	n = strlen(path);
	while (i < n) {
		size_t j;

		if (path[i] == '[') {
			size_t idx = 0;

			j = i + 1;
			if (j >= n || !is_digit(path[j]))
				goto badpath;
			while (j < n && is_digit(path[j])) {
				if (idx > ((size_t)-1 - 9) / 10)
					goto badpath;
				idx = idx * 10 + (size_t)(path[j] - '0');
				j++;
			}
			if (j >= n || path[j] != ']')
				goto badpath;
			j++;
			if (j < n && path[j] != '.' && path[j] != '[')
				goto badpath;
			if (!json_is_array(cur)) {
				lk->fail = LK_TYPE;
				lk->plen = container_len(path, i);
				lk->expected = "array";
				lk->got = cur;
				return NULL;
			}
			cur = json_array_get(cur, idx);
		} else {
			j = i;
			while (j < n && path[j] != '.' && path[j] != '[')
				j++;
			if (j == i)
				goto badpath;
			if (!json_is_object(cur)) {
				lk->fail = LK_TYPE;
				lk->plen = container_len(path, i);
				lk->expected = "object";
				lk->got = cur;
				return NULL;
			}
			cur = json_object_getn(cur, path + i, j - i);
		}
		if (!cur) {
			lk->fail = LK_MISSING;
			lk->plen = j;
			return NULL;
		}
		i = j;
		if (i < n && path[i] == '.') {
			i++;
			if (i == n || path[i] == '.' || path[i] == '[')
				goto badpath;
		}
	}
	return cur;
badpath:
	lk->fail = LK_BADPATH;
	return NULL;
}

/* Formats the failure of lk (or a type mismatch of v at the full path) into err. */
static void lk_message(struct json_err *err, const char *path, const struct lk *lk)
{
	char subj[224];

	switch (lk->fail) {
	case LK_BADPATH:
		set_err(err, "invalid member path '%.200s'", path ? path : "(null)");
		break;
	case LK_MISSING:
		set_err(err, "%s: missing", subject(subj, sizeof(subj), path, lk->plen));
		break;
	case LK_TYPE:
		set_err(err, "%s: expected %s, got %s", subject(subj, sizeof(subj), path, lk->plen),
			lk->expected, json_type_name(lk->got));
		break;
	case LK_OK:
		break;
	}
}

/*
 * Resolves path and checks the type (type < 0: any). *missing (if non-NULL) tells a missing
 * member (or explicit null when null_is_missing) apart from other failures and leaves err alone.
 */
static int get_typed(json_t *root, const char *path, int type, const char *expected, json_t **out,
		     struct json_err *err, bool *missing)
{
	struct lk lk = {0};
	json_t *v = lookup(root, path, &lk);

	*out = NULL;
	if (missing)
		*missing = false;
	if (!v) {
		if (missing &&
		    (lk.fail == LK_MISSING || (lk.fail == LK_TYPE && json_is_null(lk.got)))) {
			*missing = true;
			return KBS_ERR_INVAL;
		}
		lk_message(err, path, &lk);
		return KBS_ERR_INVAL;
	}
	if (missing && json_is_null(v)) {
		*missing = true;
		return KBS_ERR_INVAL;
	}
	if (type >= 0 && (int)json_typeof(v) != type &&
	    !(type == JSON_TRUE && json_is_boolean(v))) {
		lk.fail = LK_TYPE;
		lk.plen = strlen(path);
		lk.expected = expected;
		lk.got = v;
		lk_message(err, path, &lk);
		return KBS_ERR_INVAL;
	}
	*out = v;
	return KBS_OK;
}

bool json_has(json_t *root, const char *path)
{
	struct lk lk = {0};

	return lookup(root, path, &lk) != NULL;
}

int json_get(json_t *root, const char *path, json_t **out, struct json_err *err)
{
	return get_typed(root, path, -1, NULL, out, err, NULL);
}

int json_get_object(json_t *root, const char *path, json_t **out, struct json_err *err)
{
	return get_typed(root, path, JSON_OBJECT, "object", out, err, NULL);
}

int json_get_array(json_t *root, const char *path, json_t **out, struct json_err *err)
{
	return get_typed(root, path, JSON_ARRAY, "array", out, err, NULL);
}

int json_get_stringn(json_t *root, const char *path, const char **out, size_t *len,
		     struct json_err *err)
{
	json_t *v;
	int rc = get_typed(root, path, JSON_STRING, "string", &v, err, NULL);

	if (rc)
		return rc;
	*out = json_string_value(v);
	if (len)
		*len = json_string_length(v);
	return KBS_OK;
}

static int string_checked(json_t *v, const char *path, const char **out, struct json_err *err)
{
	/* A C string must not silently lose everything after an embedded NUL. */
	if (memchr(json_string_value(v), 0, json_string_length(v))) {
		char subj[224];

		set_err(err, "%s: string contains NUL",
			subject(subj, sizeof(subj), path, strlen(path)));
		return KBS_ERR_INVAL;
	}
	*out = json_string_value(v);
	return KBS_OK;
}

int json_get_string(json_t *root, const char *path, const char **out, struct json_err *err)
{
	json_t *v;
	int rc = get_typed(root, path, JSON_STRING, "string", &v, err, NULL);

	if (rc)
		return rc;
	return string_checked(v, path, out, err);
}

static int int_checked(json_t *v, const char *path, int64_t min, int64_t max, int64_t *out,
		       struct json_err *err)
{
	json_int_t x;
	char subj[224];

	subject(subj, sizeof(subj), path, strlen(path));
	if (json_is_real(v)) {
		set_err(err, "%s: expected integer, got non-integer number", subj);
		return KBS_ERR_INVAL;
	}
	if (!json_is_integer(v)) {
		set_err(err, "%s: expected integer, got %s", subj, json_type_name(v));
		return KBS_ERR_INVAL;
	}
	x = json_integer_value(v);
	if (x < min || x > max) {
		set_err(err, "%s: %lld out of range [%lld, %lld]", subj, (long long)x,
			(long long)min, (long long)max);
		return KBS_ERR_INVAL;
	}
	*out = x;
	return KBS_OK;
}

int json_get_int(json_t *root, const char *path, int64_t min, int64_t max, int64_t *out,
		 struct json_err *err)
{
	json_t *v;
	int rc = get_typed(root, path, -1, NULL, &v, err, NULL);

	if (rc)
		return rc;
	return int_checked(v, path, min, max, out, err);
}

int json_get_bool(json_t *root, const char *path, bool *out, struct json_err *err)
{
	json_t *v;
	int rc = get_typed(root, path, JSON_TRUE, "boolean", &v, err, NULL);

	if (rc)
		return rc;
	*out = json_is_true(v);
	return KBS_OK;
}

int json_opt_string(json_t *root, const char *path, const char *def, const char **out,
		    struct json_err *err)
{
	json_t *v;
	bool missing;
	int rc = get_typed(root, path, JSON_STRING, "string", &v, err, &missing);

	if (rc) {
		if (!missing)
			return rc;
		*out = def;
		return KBS_OK;
	}
	return string_checked(v, path, out, err);
}

int json_opt_int(json_t *root, const char *path, int64_t min, int64_t max, int64_t def,
		 int64_t *out, struct json_err *err)
{
	json_t *v;
	bool missing;
	int rc = get_typed(root, path, -1, NULL, &v, err, &missing);

	if (rc) {
		if (!missing)
			return rc;
		*out = def;
		return KBS_OK;
	}
	return int_checked(v, path, min, max, out, err);
}

int json_opt_bool(json_t *root, const char *path, bool def, bool *out, struct json_err *err)
{
	json_t *v;
	bool missing;
	int rc = get_typed(root, path, JSON_TRUE, "boolean", &v, err, &missing);

	if (rc) {
		if (!missing)
			return rc;
		*out = def;
		return KBS_OK;
	}
	*out = json_is_true(v);
	return KBS_OK;
}

char *json_dump_compact(const json_t *v, size_t *len)
{
	/* jansson >= 2.8 always dumps members in insertion order (JSON_PRESERVE_ORDER is a no-op).
	 */
	char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	if (len)
		*len = s ? strlen(s) : 0;
	return s;
}
