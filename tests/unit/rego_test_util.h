/* SPDX-License-Identifier: Apache-2.0 */
/* Shared helpers for the Rego unit tests (header-only, included by test_rego_*.c). */
#ifndef KBS_TEST_REGO_UTIL_H
#define KBS_TEST_REGO_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "server/policy/policy.h"

static inline json_t *tj(const char *text)
{
	json_error_t je;
	json_t *j;

	if (!text)
		return NULL;
	j = json_loads(text, JSON_DECODE_ANY, &je);
	if (!j)
		fail_msg("bad test JSON: %s: %s", je.text, text);
	return j;
}

/*
 * Compiles src, evaluates query against input/data (JSON texts, NULL = absent) and returns
 * the compact JSON of the result, "undefined", "compile error: ..." or "error: ..." in buf.
 */
static inline const char *reval_opts(const char *src, const char *query, const char *input,
			      const char *data, const struct rego_eval_opts *opts, char *buf,
			      size_t n)
{
	struct rego_module *m = NULL;
	struct rego_error err = { 0 };
	json_t *in = tj(input), *d = tj(data), *r = NULL;
	int rc = rego_compile(src, strlen(src), NULL, &m, &err);

	if (rc != KBS_OK) {
		snprintf(buf, n, "compile error: %s", err.msg);
		goto out;
	}
	rc = rego_eval_ex(m, query, in, d, opts, &r, NULL, &err);
	if (rc != KBS_OK) {
		snprintf(buf, n, "error: %s", err.msg);
	} else if (!r) {
		snprintf(buf, n, "undefined");
	} else {
		char *s = json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);

		snprintf(buf, n, "%s", s ? s : "?");
		free(s);
	}
out:
	json_decref(in);
	json_decref(d);
	json_decref(r);
	rego_module_free(m);
	return buf;
}

static inline const char *reval(const char *src, const char *query, const char *input,
			 const char *data, char *buf, size_t n)
{
	return reval_opts(src, query, input, data, NULL, buf, n);
}

#define REVAL(src, q, in, d) reval(src, q, in, d, rbuf, sizeof(rbuf))

/* A table row: `r := <expr>` and its expected compact JSON result, "undefined", or
 * "error:<text the error message contains>". */
struct rego_row {
	const char *expr;
	const char *want;
};

/* Evaluates every row (with opts, may be NULL), prints the ones that differ and returns
 * how many did. */
static inline int run_rows(const struct rego_row *rows, size_t n, const struct rego_eval_opts *o)
{
	char src[2048], buf[1024];
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		const char *w = rows[i].want;
		const char *got;
		bool ok;

		snprintf(src, sizeof(src), "package t\nr := %s\n", rows[i].expr);
		got = reval_opts(src, "data.t.r", NULL, NULL, o, buf, sizeof(buf));
		if (strncmp(w, "error:", 6) == 0)
			ok = strncmp(got, "error:", 6) == 0 && strstr(got, w + 6);
		else
			ok = strcmp(got, w) == 0;
		if (!ok) {
			printf("FAIL %s\n  want %s\n  got  %s\n", rows[i].expr, w, got);
			bad++;
		}
	}
	return bad;
}

/* Asserts that compiling src fails with rc, at line, with a message containing what. */
static inline void expect_compile_error(const char *src, int rc, int line, const char *what)
{
	struct rego_module *m = NULL;
	struct rego_error err = { 0 };
	int got = rego_compile(src, strlen(src), NULL, &m, &err);

	if (got == KBS_OK) {
		rego_module_free(m);
		fail_msg("compiled but should fail (%s):\n%s", what, src);
	}
	if (got != rc || (line && err.line != line) || !strstr(err.msg, what))
		fail_msg("want %s line %d '%s', got %s line %d '%s'", kbs_errname(rc), line, what,
			 kbs_errname(got), err.line, err.msg);
	assert_null(m);
}

#endif
