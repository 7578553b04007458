// SPDX-License-Identifier: Apache-2.0
/*
 * Rego engine (server/policy/) behind struct policy_engine: uploaded policies are compiled
 * once (cache keyed by SHA-256 of the text) and evaluated with Trustee's host function
 * query_reference_value(id). The built-in EAR defaults ("builtin:...") stay native.
 */
#include "server/as/policy_hook.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "server/policy/policy.h"

static int rv_host(void *ctx, json_t *const *args, size_t nargs, json_t **out)
{
	const struct policy_host *host = ctx;

	*out = NULL;
	/* as Trustee's AS: a non-string id is an evaluation error, an absent value is null */
	if (nargs != 1 || !json_is_string(args[0]))
		return KBS_ERR_INVAL;
	if (host && host->rv_query)
		*out = host->rv_query(host->ctx, json_string_value(args[0]));
	if (!*out)
		*out = json_null();
	return *out ? KBS_OK : KBS_ERR_NOMEM;
}

static const struct rego_host_fn host_fns[] = {{"query_reference_value", 1, rv_host}};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct rego_cache *cache;

static void cache_init(void)
{
	static const struct rego_compile_opts opts = {host_fns, 1};

	cache = rego_cache_new(64, &opts);
}

static bool is_builtin(const char *text, size_t len)
{
	return len >= 8 && memcmp(text, "builtin:", 8) == 0;
}

static int rego_check(void *ctx, const char *text, size_t len, char *why, size_t whylen)
{
	struct rego_module *m = NULL;
	struct rego_error err = {0};
	int rc;

	(void)ctx;
	if (is_builtin(text, len))
		return policy_native_engine()->check(NULL, text, len, why, whylen);
	pthread_once(&once, cache_init);
	if (!cache)
		return KBS_ERR_NOMEM;
	rc = rego_cache_get(cache, text, len, "policy", &m, &err);
	if (rc != KBS_OK) {
		/* err.msg already reads "policy:<line>:<col>: <what>" */
		snprintf(why, whylen, "Rego: %s", err.msg);
		return rc;
	}
	rego_module_free(m);
	return KBS_OK;
}

static void decided_rule(const struct rego_explain *ex, const char *query, json_t *result,
			 char *rule, size_t rulelen)
{
	/* the last evaluated body of the queried rule names the decision */
	for (size_t i = ex->n; i-- > 0;) {
		const struct rego_explain_entry *e = &ex->e[i];
		if (strcmp(e->rule, query) != 0)
			continue;
		if (e->matched)
			snprintf(rule, rulelen, "%s (line %d)", e->rule + 5, e->line);
		else
			snprintf(rule, rulelen, "%s (line %d) failed at line %d: %s", e->rule + 5,
				 e->line, e->fail_line, e->fail_expr);
		return;
	}
	snprintf(rule, rulelen, "%s is %s", query + 5, result ? "not true" : "undefined");
}

static int rego_evaluate(void *ctx, const char *text, size_t len, const char *query,
			 const json_t *input, const json_t *data, const struct policy_host *host,
			 json_t **result, char *rule, size_t rulelen, char *why, size_t whylen)
{
	struct rego_module *m = NULL;
	struct rego_error err = {0};
	struct rego_eval_opts opts = {0};
	struct rego_explain ex;
	int rc;

	(void)ctx;
	*result = NULL;
	if (is_builtin(text, len))
		return policy_native_engine()->eval(NULL, text, len, query, input, data, host,
						    result, rule, rulelen, why, whylen);
	pthread_once(&once, cache_init);
	if (!cache)
		return KBS_ERR_NOMEM;
	rc = rego_cache_get(cache, text, len, "policy", &m, &err);
	if (rc != KBS_OK) {
		snprintf(why, whylen, "Rego: %s", err.msg);
		return rc;
	}
	ex.n = ex.dropped = 0; /* rego_eval_ex resets it too; entries are written when used */
	opts.host_ctx = (void *)host;
	rc = rego_eval_ex(m, query, (json_t *)input, (json_t *)data, &opts, result, &ex, &err);
	if (rc != KBS_OK) {
		if (err.line > 0)
			snprintf(why, whylen, "Rego evaluation error at line %d: %s", err.line,
				 err.msg);
		else
			snprintf(why, whylen, "Rego evaluation error: %s", err.msg);
	} else if (rule && rulelen) {
		decided_rule(&ex, query, *result, rule, rulelen);
	}
	rego_module_free(m);
	return rc;
}

static const struct policy_engine rego_engine = {
	.name = "rego",
	.ctx = NULL,
	.check = rego_check,
	.eval = rego_evaluate,
};

const struct policy_engine *policy_rego_engine(void)
{
	return &rego_engine;
}
