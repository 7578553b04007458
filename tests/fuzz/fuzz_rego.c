// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the Rego engine: the input is policy text. Whatever compiles is evaluated (the
 * allow rule and the whole data document) against a fixed EAR-like input, with small step
 * and memory limits so that every run stays short. Crashes, leaks and sanitizer reports are
 * the failures looked for; errors are expected outcomes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/policy/policy.h"

static int host(void *ctx, json_t *const *args, size_t n, json_t **out)
{
	*out = n ? json_incref(args[0]) : json_null();
	return KBS_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct rego_host_fn fns[] = { { "query_reference_value", 1, host } };
	const struct rego_compile_opts co = { fns, 1 };
	const struct rego_eval_opts eo = { .max_steps = 20000, .max_mem = 4 << 20,
					   .now_ns = 1 };
	const char *src = (const char *)data;
	struct rego_module *m = NULL;
	struct rego_error err;
	struct rego_explain why;
	json_t *in, *d, *r = NULL;

	if (size > 16384)
		return 0;
	if (rego_compile_modules(&src, &size, 1, &co, &m, &err) != KBS_OK)
		return 0;
	in = json_loads("{\"submods\":{\"cpu0\":{\"ear.status\":\"affirming\","
			"\"ear.veraison.annotated-evidence\":{\"sample\":{\"svn\":\"1\","
			"\"platform_version\":{\"major\":1,\"minor\":4},\"debug\":false}}}},"
			"\"tee\":\"sample\",\"a\":[1,2,3],\"s\":\"x\"}",
			0, NULL);
	d = json_loads("{\"plugin\":\"resource\",\"resource-path\":[\"a\",\"b\",\"c\"],"
		       "\"query\":{}}",
		       0, NULL);
	(void)rego_eval_ex(m, "data.policy.allow", in, d, &eo, &r, &why, &err);
	json_decref(r);
	r = NULL;
	(void)rego_query(m, "x := data", in, d, &eo, &r, &err);
	json_decref(r);
	json_decref(in);
	json_decref(d);
	rego_module_free(m);
	return 0;
}
