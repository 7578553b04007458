// SPDX-License-Identifier: Apache-2.0
/*
 * bench_rego: Rego engine throughput on Trustee's policies, the way the KBS and the AS use them.
 *
 *   resource_deny   data.policy.allow of the default resource policy, sample-TEE EAR claims
 *                   (the full claims object of a token, converted from JSON on every call)
 *   resource_allow  the same policy with TDX-style claims (decision true)
 *   ear_cpu         data.policy.trust_claims of ear_default_policy_cpu.rego, sample evidence,
 *                   reference values through the query_reference_value host function
 *   compile         compiling the default resource policy
 *   cache_hit       rego_cache_get of an already compiled policy (SHA-256 of the text)
 *   mem_*           heap bytes held per compiled module (default resource policy, EAR cpu
 *                   policy): 100 compiled copies kept alive, malloc'd bytes / 100
 *
 * Usage: bench_rego [tests/data dir] [seconds-per-case]  (defaults: tests/data, 2).
 * Times are process CPU time, single thread. Not part of ctest.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/policy/policy.h"

#include "bench_util.h"

static int qrv(void *ctx, json_t *const *args, size_t n, json_t **out)
{
	json_t *v = json_object_get(ctx, json_string_value(args[0]));

	*out = v ? json_incref(v) : json_null();
	return KBS_OK;
}

struct ctx {
	struct rego_module *m;
	const char *query;
	json_t *input, *data;
	struct rego_eval_opts opts;
	const char *src;
	size_t len;
	struct rego_cache *cache;
};

typedef int (*op_fn)(struct ctx *c);

static int op_eval(struct ctx *c)
{
	json_t *r = NULL;
	int rc = rego_eval_ex(c->m, c->query, c->input, c->data, &c->opts, &r, NULL, NULL);

	json_decref(r);
	return rc;
}

static int op_compile(struct ctx *c)
{
	struct rego_module *m = NULL;
	int rc = rego_compile(c->src, c->len, NULL, &m, NULL);

	rego_module_free(m);
	return rc;
}

static int op_cache(struct ctx *c)
{
	struct rego_module *m = NULL;
	int rc = rego_cache_get(c->cache, c->src, c->len, NULL, &m, NULL);

	rego_module_free(m);
	return rc;
}

static double measure(op_fn op, struct ctx *c, double secs)
{
	double best = 0;

	for (int round = 0; round < 3; round++) {
		double t0 = bench_cpu_s(), t;
		long n = 0;

		do {
			for (int i = 0; i < 32; i++)
				if (op(c) != KBS_OK) {
					fprintf(stderr, "bench_rego: operation failed\n");
					exit(1);
				}
			n += 32;
			t = bench_cpu_s();
		} while (t - t0 < secs / 3);
		if ((double)n / (t - t0) > best)
			best = (double)n / (t - t0);
	}
	return best;
}

/* Heap bytes one compiled module holds (mallinfo2 before and after 100 live copies). */
static long mem_per_module(const char *src, size_t len, const struct rego_compile_opts *co)
{
	struct rego_module *ms[100] = { 0 };
	size_t before = mallinfo2().uordblks, after;
	long r = -1;
	int i;

	for (i = 0; i < 100; i++)
		if (rego_compile_modules(&src, &len, 1, co, &ms[i], NULL) != KBS_OK)
			goto out;
	after = mallinfo2().uordblks;
	r = (long)((after - before) / 100);
out:
	for (i = 0; i < 100; i++)
		rego_module_free(ms[i]);
	return r;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/data";
	double secs = argc > 2 ? atof(argv[2]) : 2.0;
	static const struct rego_host_fn fns[] = { { "query_reference_value", 1, qrv } };
	const struct rego_compile_opts co = { fns, 1 };
	struct rego_error err;
	size_t dlen, clen, tlen;
	char *def = bench_slurp("bench_rego", dir, "policies/kbs/default.rego", &dlen);
	char *cpu = bench_slurp("bench_rego", dir, "policies/as/ear_default_policy_cpu.rego", &clen);
	char *tok = bench_slurp("bench_rego", dir, "policies/ear-token-sample.decoded.json", &tlen);
	json_t *tokj = json_loads(tok, 0, NULL);
	json_t *claims = json_object_get(tokj, "claims_valid");
	json_t *evidence = json_object_get(json_object_get(json_object_get(claims, "submods"),
							   "cpu0"),
					   "ear.veraison.annotated-evidence");
	json_t *tdx = json_loads("{\"submods\":{\"cpu0\":{\"ear.status\":\"affirming\","
				 "\"ear.veraison.annotated-evidence\":{\"tdx\":{\"tcb_status\":"
				 "\"UpToDate\"}}}}}",
				 0, NULL);
	json_t *data = json_loads("{\"plugin\":\"resource\",\"resource-path\":[\"default\","
				  "\"test\",\"secret\"],\"query\":{}}",
				  0, NULL);
	json_t *rvs = json_loads("{\"svn\":[\"1\"],\"launch_digest\":[\"abcde\"],"
				 "\"major_version\":1,\"minimum_minor_version\":1}",
				 0, NULL);
	struct ctx c = { 0 };
	struct rego_module *mcpu = NULL;
	const char *csrc = cpu;

	if (!claims || !evidence || !tdx || !data || !rvs) {
		fprintf(stderr, "bench_rego: bad test data\n");
		return 1;
	}
	if (rego_compile(def, dlen, "default", &c.m, &err) != KBS_OK ||
	    rego_compile_modules(&csrc, &clen, 1, &co, &mcpu, &err) != KBS_OK) {
		fprintf(stderr, "bench_rego: %s\n", err.msg);
		return 1;
	}
	c.query = "data.policy.allow";
	c.input = claims;
	c.data = data;
	printf("resource_deny=%.0f\n", measure(op_eval, &c, secs));
	c.input = tdx;
	printf("resource_allow=%.0f\n", measure(op_eval, &c, secs));
	struct rego_module *mdef = c.m;

	c.m = mcpu;
	c.query = "data.policy.trust_claims";
	c.input = evidence;
	c.data = NULL;
	c.opts.host_ctx = rvs;
	printf("ear_cpu=%.0f\n", measure(op_eval, &c, secs));
	c.src = def;
	c.len = dlen;
	printf("compile=%.0f\n", measure(op_compile, &c, secs));
	c.cache = rego_cache_new(16, NULL);
	printf("cache_hit=%.0f\n", measure(op_cache, &c, secs));
	printf("mem_resource_policy=%ld\n", mem_per_module(def, dlen, NULL));
	printf("mem_ear_cpu=%ld\n", mem_per_module(cpu, clen, &co));
	rego_cache_free(c.cache);
	rego_module_free(mdef);
	rego_module_free(mcpu);
	json_decref(tokj);
	json_decref(tdx);
	json_decref(data);
	json_decref(rvs);
	free(def);
	free(cpu);
	free(tok);
	return 0;
}
