// SPDX-License-Identifier: Apache-2.0
/*
 * Rego built-ins: yaml.marshal, yaml.unmarshal, yaml.is_valid (libyaml events; OPA reads
 * YAML the way sigs.k8s.io/yaml does: YAML 1.1 scalars, converted to JSON values).
 * Limits: the first document only, nesting at most 200 deep, aliases refused (no
 * "billion laughs" expansion), .inf/.nan refused (JSON has no such numbers), timestamps
 * stay strings. Parser and emitter state live in arena memory with a deferred cleanup, so
 * an evaluation aborted mid-way (limit, error) leaks nothing.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/err.h"
#include "server/policy/rego_bi.h"

#define YAML_MAX_DEPTH 200

struct yparse {
	yaml_parser_t p;
	yaml_event_t e;
	bool live, have_event;
	int depth;
	char err[160];
};

static void yparse_cleanup(void *x)
{
	struct yparse *y = x;

	if (y->have_event)
		yaml_event_delete(&y->e);
	if (y->live)
		yaml_parser_delete(&y->p);
	y->have_event = y->live = false;
}

/* next event into y->e (the previous one released); false with y->err on a parse error */
static bool ynext(struct yparse *y)
{
	if (y->have_event) {
		yaml_event_delete(&y->e);
		y->have_event = false;
	}
	if (!yaml_parser_parse(&y->p, &y->e)) {
		snprintf(y->err, sizeof(y->err), "yaml: line %zu: %s",
			 (size_t)y->p.problem_mark.line + 1,
			 y->p.problem ? y->p.problem : "parse error");
		return false;
	}
	y->have_event = true;
	return true;
}

static bool eq_any(const char *s, size_t n, const char *const *words)
{
	for (; *words; words++)
		if (strlen(*words) == n && memcmp(s, *words, n) == 0)
			return true;
	return false;
}

/* YAML 1.1 integers: decimal, 0x hex, 0b binary, 0 octal; '_' separators ignored */
static bool y_int(const char *s, size_t n, int64_t *out)
{
	char buf[80];
	size_t k = 0;
	int base = 10;
	char *end;

	for (size_t i = 0; i < n && k + 1 < sizeof(buf); i++)
		if (s[i] != '_')
			buf[k++] = s[i];
	buf[k] = 0;
	if (k == 0 || k + 1 >= sizeof(buf))
		return false;
	size_t i = buf[0] == '-' || buf[0] == '+';

	if (buf[i] == '0' && (buf[i + 1] == 'x' || buf[i + 1] == 'b')) {
		base = buf[i + 1] == 'x' ? 16 : 2;
		memmove(buf + i, buf + i + 2, k - i - 1);
	} else if (buf[i] == '0' && buf[i + 1]) {
		base = 8;
	}
	if (!buf[i])
		return false;
	for (size_t j = i; buf[j]; j++)
		if (!(base == 16 ? isxdigit((unsigned char)buf[j])
				 : buf[j] >= '0' && buf[j] < '0' + (base < 10 ? base : 10)))
			return false;
	errno = 0;
	long long v = strtoll(buf, &end, base);

	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static bool y_float(const char *s, size_t n, double *out)
{
	char buf[80];
	size_t k = 0, i = 0, digits = 0;
	char *end;

	for (size_t j = 0; j < n && k + 1 < sizeof(buf); j++)
		if (s[j] != '_')
			buf[k++] = s[j];
	buf[k] = 0;
	if (k == 0 || k + 1 >= sizeof(buf))
		return false;
	/* [-+]? ( .digits | digits[.digits*] ) ([eE][-+]?digits)? */
	if (buf[i] == '-' || buf[i] == '+')
		i++;
	while (isdigit((unsigned char)buf[i]))
		i++, digits++;
	if (buf[i] == '.')
		for (i++; isdigit((unsigned char)buf[i]); i++)
			digits++;
	if (!digits)
		return false;
	if (buf[i] == 'e' || buf[i] == 'E') {
		i++;
		if (buf[i] == '-' || buf[i] == '+')
			i++;
		if (!isdigit((unsigned char)buf[i]))
			return false;
		while (isdigit((unsigned char)buf[i]))
			i++;
	}
	if (buf[i])
		return false;
	*out = strtod(buf, &end);
	return !*end && isfinite(*out);
}

static const char *const y_null[] = {"", "~", "null", "Null", "NULL", NULL};
static const char *const y_true[] = {"y",  "Y",	 "yes",	 "Yes",	 "YES",	 "on",
				     "On", "ON", "true", "True", "TRUE", NULL};
static const char *const y_false[] = {"n",   "N",   "no",    "No",    "NO",    "off",
				      "Off", "OFF", "false", "False", "FALSE", NULL};
static const char *const y_special[] = {".inf",	 ".Inf",  ".INF",  "+.inf", "+.Inf",
					"+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
					".NaN",	 ".NAN",  NULL};

/* Resolves a plain scalar; NULL for a special float JSON cannot hold. */
static struct val *y_resolve(struct ev *ev, const char *s, size_t n)
{
	int64_t i;
	double d;

	if (eq_any(s, n, y_null))
		return RV_NULL;
	if (eq_any(s, n, y_true))
		return RV_TRUE;
	if (eq_any(s, n, y_false))
		return RV_FALSE;
	if (eq_any(s, n, y_special))
		return NULL;
	if (y_int(s, n, &i))
		return val_int(A, i);
	if (y_float(s, n, &d))
		return val_num(A, d);
	return val_strn(A, s, n);
}

static bool y_node(struct ev *ev, struct yparse *y, struct val **out);

static bool y_scalar(struct ev *ev, struct yparse *y, struct val **out)
{
	const char *s = (const char *)y->e.data.scalar.value;
	size_t n = y->e.data.scalar.length;
	const char *tag = (const char *)y->e.data.scalar.tag;

	if (!y->e.data.scalar.plain_implicit ||
	    (tag && (strcmp(tag, "!!str") == 0 || strcmp(tag, YAML_STR_TAG) == 0))) {
		*out = val_strn(A, s, n);
		return true;
	}
	*out = y_resolve(ev, s, n);
	if (!*out)
		snprintf(y->err, sizeof(y->err), "yaml: %.*s cannot be represented in JSON",
			 (int)(n > 16 ? 16 : n), s);
	return *out != NULL;
}

static bool y_seq(struct ev *ev, struct yparse *y, struct val **out)
{
	struct vec items = {0};

	for (;;) {
		struct val *v;

		if (!ynext(y))
			return false;
		if (y->e.type == YAML_SEQUENCE_END_EVENT)
			break;
		if (!y_node(ev, y, &v))
			return false;
		vec_push(A, &items, v);
	}
	*out = val_arr(A, items.p, items.n);
	return true;
}

/* mapping keys become strings (non-string scalars by their JSON text); later keys win */
static bool y_map(struct ev *ev, struct yparse *y, struct val **out)
{
	struct vec ks = {0}, vs = {0};
	bool conflict;

	for (;;) {
		struct val *k, *v;

		if (!ynext(y))
			return false;
		if (y->e.type == YAML_MAPPING_END_EVENT)
			break;
		if (y->e.type != YAML_SCALAR_EVENT) {
			snprintf(y->err, sizeof(y->err),
				 "yaml: line %zu: mapping keys must be scalars",
				 (size_t)y->e.start_mark.line + 1);
			return false;
		}
		if (!y_scalar(ev, y, &k))
			return false;
		if (k->t != V_STR) {
			struct sbuf b = {.a = A};

			val_write(&b, k, true);
			k = val_strn(A, b.p ? b.p : "", b.n);
		}
		if (!ynext(y) || !y_node(ev, y, &v))
			return false;
		for (size_t i = 0; i < ks.n; i++)
			if (val_eq(ks.p[i], k)) {
				vs.p[i] = v;
				k = NULL;
				break;
			}
		if (k) {
			vec_push(A, &ks, k);
			vec_push(A, &vs, v);
		}
	}
	*out = val_obj_take(A, ks.p, vs.p, ks.n, &conflict);
	return *out != NULL;
}

/* the node starting at the current event */
static bool y_node(struct ev *ev, struct yparse *y, struct val **out)
{
	bool ok;

	switch (y->e.type) {
	case YAML_SCALAR_EVENT:
		return y_scalar(ev, y, out);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (++y->depth > YAML_MAX_DEPTH) {
			snprintf(y->err, sizeof(y->err), "yaml: nesting deeper than %d",
				 YAML_MAX_DEPTH);
			return false;
		}
		ok = y->e.type == YAML_SEQUENCE_START_EVENT ? y_seq(ev, y, out) : y_map(ev, y, out);
		y->depth--;
		return ok;
	case YAML_ALIAS_EVENT:
		snprintf(y->err, sizeof(y->err), "yaml: line %zu: aliases are not supported",
			 (size_t)y->e.start_mark.line + 1);
		return false;
	default:
		snprintf(y->err, sizeof(y->err), "yaml: unexpected event");
		return false;
	}
}

/* Parses the first document of s; NULL with *why set when it is not valid YAML. */
static struct val *yaml_parse(struct ev *ev, const struct val *s, const char **why)
{
	struct yparse *y = arena_alloc(A, sizeof(*y));
	struct val *v = NULL;

	*why = y->err;
	if (!yaml_parser_initialize(&y->p)) {
		snprintf(y->err, sizeof(y->err), "yaml: out of memory");
		return NULL;
	}
	y->live = true;
	arena_defer(A, yparse_cleanup, y);
	yaml_parser_set_input_string(&y->p, (const unsigned char *)s->s, s->len);
	if (!ynext(y) || y->e.type != YAML_STREAM_START_EVENT || !ynext(y))
		goto out;
	if (y->e.type == YAML_STREAM_END_EVENT) {
		v = RV_NULL; /* empty input */
		goto out;
	}
	if (y->e.type != YAML_DOCUMENT_START_EVENT || !ynext(y))
		goto out;
	if (!y_node(ev, y, &v)) {
		v = NULL;
		goto out;
	}
	/* the rest of the stream must still be well-formed */
	while (ynext(y) && y->e.type != YAML_STREAM_END_EVENT)
		;
	if (y->err[0])
		v = NULL;
out:
	if (!v && !y->err[0])
		snprintf(y->err, sizeof(y->err), "yaml: invalid document");
	yparse_cleanup(y);
	return v;
}

static struct val *bi_yaml_unmarshal(struct ev *ev, struct val **args, const struct term *call)
{
	const char *why;
	struct val *v;

	NEED(0, V_STR, "string");
	v = yaml_parse(ev, args[0], &why);
	return v ? v : ev_builtin_error(ev, call, "yaml.unmarshal: %s", why);
}

static struct val *bi_yaml_is_valid(struct ev *ev, struct val **args, const struct term *call)
{
	const char *why;

	(void)call;
	if (args[0]->t != V_STR)
		return RV_FALSE;
	return val_bool(yaml_parse(ev, args[0], &why) != NULL);
}

/* ---------- yaml.marshal ---------- */

struct yemit {
	yaml_emitter_t em;
	bool live;
	struct sbuf out;
};

static void yemit_cleanup(void *x)
{
	struct yemit *y = x;

	if (y->live)
		yaml_emitter_delete(&y->em);
	y->live = false;
}

static int y_write(void *ctx, unsigned char *buf, size_t n)
{
	struct yemit *y = ctx;

	sb_putn(&y->out, (const char *)buf, n);
	return 1;
}

static bool y_emit_scalar(struct yemit *y, const char *s, size_t n, bool quoted)
{
	yaml_event_t e;

	if (!yaml_scalar_event_initialize(&e, NULL, NULL, (yaml_char_t *)s, (int)n, 1, 1,
					  quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
						 : YAML_PLAIN_SCALAR_STYLE))
		return false;
	return yaml_emitter_emit(&y->em, &e) != 0;
}

/* a string is written plain only if it would read back as the same string */
static bool needs_quotes(struct ev *ev, const struct val *s)
{
	struct val *r;

	if (s->len == 0 || memchr(s->s, 0, s->len))
		return true;
	r = y_resolve(ev, s->s, s->len);
	return !r || r->t != V_STR;
}

static bool y_emit(struct ev *ev, struct yemit *y, const struct val *v, int depth)
{
	yaml_event_t e;
	struct sbuf b = {.a = A};

	if (depth > YAML_MAX_DEPTH)
		return false;
	switch (v->t) {
	case V_STR:
		return y_emit_scalar(y, v->s, v->len, needs_quotes(ev, v));
	case V_ARR:
	case V_SET:
		if (!yaml_sequence_start_event_initialize(&e, NULL, NULL, 1,
							  YAML_BLOCK_SEQUENCE_STYLE) ||
		    !yaml_emitter_emit(&y->em, &e))
			return false;
		for (size_t i = 0; i < v->len; i++)
			if (!y_emit(ev, y, v->items[i], depth + 1))
				return false;
		return yaml_sequence_end_event_initialize(&e) && yaml_emitter_emit(&y->em, &e);
	case V_OBJ:
		if (!yaml_mapping_start_event_initialize(&e, NULL, NULL, 1,
							 YAML_BLOCK_MAPPING_STYLE) ||
		    !yaml_emitter_emit(&y->em, &e))
			return false;
		for (size_t i = 0; i < v->len; i++) {
			const struct val *k = v->items[i];

			if (k->t != V_STR) {
				/* non-string keys as their JSON text, like json.marshal */
				struct sbuf kb = {.a = A};

				val_write(&kb, k, true);
				k = val_strn(A, kb.p ? kb.p : "", kb.n);
			}
			if (!y_emit_scalar(y, k->s, k->len, needs_quotes(ev, k)) ||
			    !y_emit(ev, y, v->vals[i], depth + 1))
				return false;
		}
		return yaml_mapping_end_event_initialize(&e) && yaml_emitter_emit(&y->em, &e);
	default:
		val_write(&b, v, true);
		return y_emit_scalar(y, b.p ? b.p : "", b.n, false);
	}
}

static struct val *bi_yaml_marshal(struct ev *ev, struct val **args, const struct term *call)
{
	struct yemit *y = arena_alloc(A, sizeof(*y));
	yaml_event_t e;
	bool ok;

	y->out.a = A;
	if (!yaml_emitter_initialize(&y->em))
		return ev_builtin_error(ev, call, "yaml.marshal: out of memory");
	y->live = true;
	arena_defer(A, yemit_cleanup, y);
	yaml_emitter_set_output(&y->em, y_write, y);
	yaml_emitter_set_unicode(&y->em, 1);
	yaml_emitter_set_width(&y->em, -1);
	ok = yaml_stream_start_event_initialize(&e, YAML_UTF8_ENCODING) &&
	     yaml_emitter_emit(&y->em, &e) &&
	     yaml_document_start_event_initialize(&e, NULL, NULL, NULL, 1) &&
	     yaml_emitter_emit(&y->em, &e) && y_emit(ev, y, args[0], 0) &&
	     yaml_document_end_event_initialize(&e, 1) && yaml_emitter_emit(&y->em, &e) &&
	     yaml_stream_end_event_initialize(&e) && yaml_emitter_emit(&y->em, &e) &&
	     yaml_emitter_flush(&y->em);
	yemit_cleanup(y);
	if (!ok)
		return ev_builtin_error(ev, call, "yaml.marshal: cannot write the value");
	return val_strn(A, y->out.p ? y->out.p : "", y->out.n);
}

const struct builtin rego_bi_yaml[] = {
    {"yaml.marshal", 1, bi_yaml_marshal, false},
    {"yaml.unmarshal", 1, bi_yaml_unmarshal, false},
    {"yaml.is_valid", 1, bi_yaml_is_valid, false},
};
const size_t rego_bi_yaml_n = sizeof(rego_bi_yaml) / sizeof(rego_bi_yaml[0]);
