/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_POLICY_HOOK_H
#define KBS_AS_POLICY_HOOK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Policy hook shared by the KBS (resource policy) and the AS (EAR appraisal policy).
 *
 * A policy is stored verbatim (Rego text). An engine evaluates one query against it:
 *   resource policy: query "data.policy.allow", input = token claims,
 *                    data = {"plugin", "resource-path", "query"}; result must be boolean true.
 *   EAR policy:      queries "data.policy.trust_claims" (object name -> int) and
 *                    "data.policy.extensions" (array, may be undefined), input = annotated
 *                    evidence, data = null; host->rv_query backs query_reference_value().
 *
 * Two engines plug in behind this interface: the native engine (policy_native.c), which
 * recognises a small documented set of policy shapes (Trustee's shipped defaults, allow-all,
 * deny-all, ...) and fails closed on anything else, and the Rego engine (server/policy/),
 * which registers itself with kbs_set_policy_engine() / as_set_policy_engine().
 */

/* Host functions offered to policies. */
struct policy_host {
	/* query_reference_value(id): new reference to the stored value, or NULL (= null). */
	json_t *(*rv_query)(void *ctx, const char *id);
	void *ctx;
};

struct policy_engine {
	const char *name;
	void *ctx;
	/*
	 * Checks at upload time that the engine can evaluate this policy. Returns KBS_OK or an
	 * error from common/err.h with a reason in why ("unsupported policy shape ...").
	 */
	int (*check)(void *ctx, const char *text, size_t len, char *why, size_t whylen);
	/*
	 * Evaluates query. *result: new reference, NULL when the rule is undefined (that is not
	 * an error). rule (may be NULL) receives the name of the rule that decided, e.g.
	 * "default allow" or "allow (line 12)". why receives the reason on error.
	 */
	int (*eval)(void *ctx, const char *text, size_t len, const char *query,
		    const json_t *input, const json_t *data, const struct policy_host *host,
		    json_t **result, char *rule, size_t rulelen, char *why, size_t whylen);
};

/* The Rego engine of server/policy/ (built-in EAR defaults still evaluated natively). */
const struct policy_engine *policy_rego_engine(void);

/* The built-in native engine (always available). */
const struct policy_engine *policy_native_engine(void);

/*
 * Names of the policy shapes the native engine recognises (for docs and messages),
 * NULL-terminated.
 */
const char *const *policy_native_shapes(void);

/*
 * Normalises policy text for shape matching: drops comments and import lines, collapses
 * whitespace, treats ":=" like "=" and drops the rego.v1 "if" keyword before "{".
 * Exposed for tests. *out malloc'ed.
 */
int policy_native_normalize(const char *text, size_t len, char **out);

#endif
