/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_POLICY_POLICY_H
#define KBS_POLICY_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Rego policy engine: a parser and evaluator for the subset of Rego that attestation and
 * resource policies use (Trustee's shipped policies run verbatim). Anything outside the
 * subset is refused at compile time with an error naming the construct, line and column;
 * anything that goes wrong at evaluation time (type errors, conflicts, limits) is an error,
 * never a silent "allow". docs/policy.md lists the subset and the number semantics.
 *
 * Thread safety: a compiled struct rego_module is immutable. Any number of threads may
 * evaluate one module at the same time; each evaluation keeps its state on its own.
 */

struct rego_error {
	char msg[256];
	int line; /* 1-based, 0 if not applicable */
	int col;  /* 1-based, 0 if not applicable */
};

/*
 * A host-provided function callable from policies, e.g. Trustee's
 * query_reference_value(id). Called with `arity` borrowed arguments; sets *out to a new
 * reference (NULL = undefined). A non-zero return (kbs_err) aborts the evaluation.
 */
typedef int (*rego_host_cb)(void *ctx, json_t *const *args, size_t nargs, json_t **out);

struct rego_host_fn {
	const char *name; /* may contain dots: "custom.lookup" */
	int arity;
	rego_host_cb fn;
};

struct rego_compile_opts {
	const struct rego_host_fn *host_fns; /* functions policies may call besides built-ins */
	size_t n_host_fns;
};

struct rego_eval_opts {
	void *host_ctx;            /* passed to every host function */
	int64_t now_ns;            /* time.now_ns(); 0 = the real clock (read once per eval) */
	/*
	 * By default a failing built-in (type error, bad JSON, bad base64...) aborts the
	 * evaluation with an error: fail closed, as Trustee's engine (regorus) does. Set this
	 * for OPA's default instead, where such a call is merely undefined.
	 */
	bool lenient_builtin_errors;
	uint64_t max_steps;        /* 0 = default (10 million evaluation steps) */
	size_t max_mem;            /* bytes of evaluation memory; 0 = default (64 MiB) */
	size_t max_stack;          /* bytes of C stack evaluation may use; 0 = default (1 MiB) */
	/*
	 * Enables OPA's test-only built-ins (test.sleep, which blocks the evaluating thread for
	 * at most REGO_TEST_SLEEP_MAX_NS). Off in the kbs and restful-as: a call is then an
	 * evaluation error. The OPA conformance runner turns it on.
	 */
	bool test_builtins;
};

/* Longest test.sleep the engine performs; a longer duration is a built-in error. */
#define REGO_TEST_SLEEP_MAX_NS 1000000000LL

/* Explanation of a decision: the rule bodies that were evaluated and how they ended. */
#define REGO_EXPLAIN_MAX 32
struct rego_explain_entry {
	char rule[128];     /* "data.policy.allow" */
	int line;           /* line of the rule head */
	bool matched;       /* the body had at least one solution */
	int fail_line;      /* for !matched: line of the expression that never held */
	/* its source text on one line (white space collapsed); a text that does not fit ends
	 * in "..." (cut at a UTF-8 character boundary) */
	char fail_expr[256];
};
struct rego_explain {
	size_t n;       /* entries used */
	size_t dropped; /* entries that did not fit */
	struct rego_explain_entry e[REGO_EXPLAIN_MAX];
};

struct rego_module;

/*
 * Compiles one Rego module (src[0..len), need not be NUL-terminated). name labels the module
 * in messages (e.g. the policy id). On success *out is a new module (free with
 * rego_module_free). On failure err (if non-NULL) says what and where.
 * Returns KBS_OK, KBS_ERR_PARSE (syntax), KBS_ERR_UNSUPPORTED (outside the subset),
 * KBS_ERR_INVAL (semantic error such as a conflicting rule kind) or KBS_ERR_NOMEM.
 */
int rego_compile(const char *src, size_t len, const char *name, struct rego_module **out,
		 struct rego_error *err);

/* Compiles several modules together (they may share or reference each other's packages). */
int rego_compile_modules(const char *const *srcs, const size_t *lens, size_t n,
			 const struct rego_compile_opts *opts, struct rego_module **out,
			 struct rego_error *err);

/* Adds a reference (for sharing between threads / a cache). */
struct rego_module *rego_module_ref(struct rego_module *m);
/* Drops a reference; frees on the last. NULL is a no-op. */
void rego_module_free(struct rego_module *m);

/* SHA-256 of the module source (for rego_compile_modules: of all sources in order). */
const uint8_t *rego_module_digest(const struct rego_module *m);

/*
 * Evaluates the reference `query` ("data.policy.allow", "data.policy.trust_claims") against
 * input and data (either may be NULL: input undefined, data empty). *result receives a new
 * reference to the value, or NULL when the query is undefined. Rego sets are returned as
 * JSON arrays in canonical order. why (optional) receives the explanation.
 * Returns KBS_OK (also for "undefined"), KBS_ERR_INVAL (bad query), KBS_ERR_DENIED never;
 * evaluation errors (conflicts, type errors, limits) return KBS_ERR_INVAL / KBS_ERR_RANGE
 * with the message in err.
 */
int rego_eval(const struct rego_module *m, const char *query, json_t *input, json_t *data,
	      json_t **result, struct rego_explain *why);

/* rego_eval with options and an error message. */
int rego_eval_ex(const struct rego_module *m, const char *query, json_t *input, json_t *data,
		 const struct rego_eval_opts *opts, json_t **result, struct rego_explain *why,
		 struct rego_error *err);

/*
 * Evaluates a query body ("data.test.p = x; x > 1") and returns every solution as a JSON
 * array of objects binding the query's named variables (empty array = undefined).
 * input_is_set distinguishes "input undefined" (false) from a JSON input.
 */
int rego_query(const struct rego_module *m, const char *body, json_t *input, json_t *data,
	       const struct rego_eval_opts *opts, json_t **solutions, struct rego_error *err);

/* Convenience for allow-style decisions: true only if the query is exactly boolean true. */
int rego_eval_bool(const struct rego_module *m, const char *query, json_t *input, json_t *data,
		   bool *allowed, struct rego_explain *why, struct rego_error *err);

/* Formats an explanation as text lines into out (always NUL-terminated; text cut for lack
 * of room ends in "...\n"). */
void rego_explain_format(const struct rego_explain *why, char *out, size_t outlen);

/*
 * Compiled-policy cache keyed by SHA-256 of the source: compiling the same text twice
 * returns the same module. Thread-safe. Holds at most max_entries modules (oldest evicted).
 */
struct rego_cache;
struct rego_cache *rego_cache_new(size_t max_entries, const struct rego_compile_opts *opts);
void rego_cache_free(struct rego_cache *c);
/* *out is a new reference (release with rego_module_free). Errors as rego_compile. */
int rego_cache_get(struct rego_cache *c, const char *src, size_t len, const char *name,
		   struct rego_module **out, struct rego_error *err);
/* Number of modules held (for tests and metrics). */
size_t rego_cache_size(struct rego_cache *c);

#endif
