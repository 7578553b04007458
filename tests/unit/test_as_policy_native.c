// SPDX-License-Identifier: Apache-2.0
/*
 * Native policy engine: normalisation, recognition of Trustee's shipped policies (copied
 * under tests/data/kbs/trustee/), their decisions on the policy-engine test inputs, fail
 * closed on anything else, and the EAR default trust vectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "testdata.h"
#include "server/as/policy_hook.h"

static char *slurp(const char *rel, size_t *len)
{
	return td_read_file("kbs/trustee", rel, len);
}

static const struct policy_engine *E;

/* evaluates data.policy.allow for the engine-test input shape */
static int allow(const char *text, size_t len, const char *plugin, const char *name,
		 const char *svn, bool sample, char *rule)
{
	json_t *input, *data, *res = NULL;
	char why[256];
	int rc, out;

	if (sample)
		input = json_pack("{s:{s:{s:{s:i,s:i},s:{s:{s:s,s:s}}}}}", "submods", "cpu0",
				  "ear.trustworthiness-vector", "executables", 2, "hardware", 3,
				  "ear.veraison.annotated-evidence", "sample", "productId", name, "svn",
				  svn);
	else
		input = json_pack("{s:{s:{s:{s:{s:s}}}}}", "submods", "cpu0",
				  "ear.veraison.annotated-evidence", "snp", "measurement", "abc");
	data = json_pack("{s:s,s:[s,s,s],s:{}}", "plugin", plugin, "resource-path", "my_repo",
			 "Alice", "key", "query");
	rc = E->eval(E->ctx, text, len, "data.policy.allow", input, data, NULL, &res, rule, 128,
		     why, sizeof(why));
	assert_int_equal(rc, KBS_OK);
	out = json_is_true(res);
	json_decref(res);
	json_decref(input);
	json_decref(data);
	return out;
}

static void test_normalize(void **state)
{
	char *a = NULL, *b = NULL;
	const char *t1 = "package policy\n# comment\nimport rego.v1\n\ndefault allow := false\n"
			 "allow if {\n\tdata.plugin == \"res#ource\"  # trailing\n}\n";
	const char *t2 = "package   policy\ndefault allow = false\nallow {\n data.plugin == "
			 "\"res#ource\"\n}";

	(void)state;
	assert_int_equal(policy_native_normalize(t1, strlen(t1), &a), KBS_OK);
	assert_int_equal(policy_native_normalize(t2, strlen(t2), &b), KBS_OK);
	assert_string_equal(a, b);
	assert_string_equal(a, "package policy default allow = false allow { data.plugin == "
			       "\"res#ource\" }");
	free(a);
	free(b);
	assert_int_equal(policy_native_normalize("x = \"unterminated", 17, &a), KBS_ERR_PARSE);
}

static void test_shipped_kbs_policies(void **state)
{
	size_t len;
	char rule[128];
	char *t;

	(void)state;
	/* default.rego: resource plugin, any TEE but sample */
	t = slurp("policies-kbs/default.rego", &len);
	assert_int_equal(E->check(E->ctx, t, len, rule, sizeof(rule)), KBS_OK);
	assert_false(allow(t, len, "resource", "Alice", "1", true, rule));
	assert_non_null(strstr(rule, "sample"));
	assert_true(allow(t, len, "resource", "Alice", "1", false, rule));
	assert_false(allow(t, len, "other", "Alice", "1", false, rule));
	free(t);
	/* allow_all.rego: only the resource plugin */
	t = slurp("policies-kbs/allow_all.rego", &len);
	assert_true(allow(t, len, "resource", "Alice", "1", true, rule));
	assert_false(allow(t, len, "another-plugin", "Alice", "1", true, rule));
	free(t);
	t = slurp("policies-kbs/deny_all.rego", &len);
	assert_false(allow(t, len, "resource", "Alice", "1", true, rule));
	assert_string_equal(rule, "default allow = false");
	free(t);
	/* engine fixtures 2 (allow) and 3 (deny, leading blank line) */
	t = slurp("policies-kbs/engine-test-policy_2.rego", &len);
	assert_true(allow(t, len, "resource", "Bob", "1", true, rule));
	free(t);
	t = slurp("policies-kbs/engine-test-policy_3.rego", &len);
	assert_false(allow(t, len, "resource", "Alice", "1", true, rule));
	free(t);
	t = slurp("integration/kbs-allow-all.rego", &len);
	assert_true(allow(t, len, "resource", "Alice", "1", true, rule));
	free(t);
	t = slurp("integration/kbs-deny-all.rego", &len);
	assert_false(allow(t, len, "resource", "Alice", "1", true, rule));
	free(t);
}

static void test_affirming(void **state)
{
	size_t len;
	char rule[128], why[128];
	char *t = slurp("policies-kbs/affirming.rego", &len);
	json_t *in, *data = json_pack("{s:s}", "plugin", "resource"), *res = NULL;

	(void)state;
	in = json_pack("{s:{s:{s:s},s:{s:s}}}", "submods", "cpu0", "ear.status", "affirming",
		       "gpu0", "ear.status", "affirming");
	assert_int_equal(E->eval(E->ctx, t, len, "data.policy.allow", in, data, NULL, &res, rule,
				 sizeof(rule), why, sizeof(why)),
			 KBS_OK);
	assert_true(json_is_true(res));
	json_decref(res);
	json_decref(in);
	in = json_pack("{s:{s:{s:s},s:{s:s}}}", "submods", "cpu0", "ear.status", "affirming",
		       "gpu0", "ear.status", "warning");
	assert_int_equal(E->eval(E->ctx, t, len, "data.policy.allow", in, data, NULL, &res, rule,
				 sizeof(rule), why, sizeof(why)),
			 KBS_OK);
	assert_false(json_is_true(res));
	json_decref(res);
	json_decref(in);
	in = json_pack("{s:{}}", "submods");
	assert_int_equal(E->eval(E->ctx, t, len, "data.policy.allow", in, data, NULL, &res, rule,
				 sizeof(rule), why, sizeof(why)),
			 KBS_OK);
	assert_false(json_is_true(res));
	json_decref(res);
	json_decref(in);
	json_decref(data);
	free(t);
}

static void test_unsupported_fails_closed(void **state)
{
	static const char *const files[] = {"policies-kbs/engine-test-policy_1.rego",
					    "policies-kbs/engine-test-policy_5.rego",
					    "integration/kbs-check-contraindicated.rego",
					    "policies-kbs/legacy-v0.10.0-default_policy.rego", NULL};
	char why[400], rule[64];
	json_t *res = (json_t *)1, *in = json_object(), *data = json_object();

	(void)state;
	for (const char *const *f = files; *f; f++) {
		size_t len;
		char *t = slurp(*f, &len);
		why[0] = '\0';
		assert_int_equal(E->check(E->ctx, t, len, why, sizeof(why)), KBS_ERR_UNSUPPORTED);
		assert_non_null(strstr(why, "native policy engine"));
		assert_int_equal(E->eval(E->ctx, t, len, "data.policy.allow", in, data, NULL, &res,
					 rule, sizeof(rule), why, sizeof(why)),
				 KBS_ERR_UNSUPPORTED);
		assert_null(res);
		free(t);
	}
	json_decref(in);
	json_decref(data);
}

static json_t *rv_fixture(void *ctx, const char *id)
{
	json_t *rvs = ctx, *v = json_object_get(rvs, id);
	return v ? json_incref(v) : NULL;
}

static json_t *vector(const char *text, size_t len, json_t *input, json_t *rvs)
{
	struct policy_host host = {rv_fixture, rvs};
	json_t *res = NULL;
	char rule[128], why[128];

	assert_int_equal(E->eval(E->ctx, text, len, "data.policy.trust_claims", input, NULL, &host,
				 &res, rule, sizeof(rule), why, sizeof(why)),
			 KBS_OK);
	assert_non_null(res);
	return res;
}

static void test_ear_default_cpu(void **state)
{
	size_t len;
	char *shipped = slurp("policies-as/ear_default_policy_cpu.rego", &len);
	json_t *in = json_pack("{s:{s:s,s:s,s:{s:i,s:i},s:b}}", "sample", "svn", "1",
			       "launch_digest", "abcde", "platform_version", "major", 1, "minor", 4,
			       "debug", 0);
	json_t *none = json_object();
	json_t *rvs = json_pack("{s:[s],s:[s],s:i,s:i}", "svn", "1", "launch_digest", "abcde",
				"major_version", 1, "minimum_minor_version", 1);
	json_t *v;

	(void)state;
	/* the shipped text is recognised and equals the built-in */
	assert_int_equal(E->check(E->ctx, shipped, len, NULL, 0), KBS_OK);
	v = vector(shipped, len, in, none);
	assert_int_equal(json_integer_value(json_object_get(v, "executables")), 33);
	assert_int_equal(json_integer_value(json_object_get(v, "hardware")), 97);
	assert_int_equal(json_integer_value(json_object_get(v, "configuration")), 2);
	assert_int_equal(json_object_size(v), 8);
	json_decref(v);
	v = vector("builtin:default_cpu", 19, in, rvs);
	assert_int_equal(json_integer_value(json_object_get(v, "executables")), 3);
	assert_int_equal(json_integer_value(json_object_get(v, "hardware")), 2);
	json_decref(v);
	/* minimum minor version above the platform's -> hardware not recognised */
	json_object_set_new(rvs, "minimum_minor_version", json_integer(5));
	v = vector("builtin:default_cpu", 19, in, rvs);
	assert_int_equal(json_integer_value(json_object_get(v, "hardware")), 97);
	json_decref(v);
	/* non-sample TEE: defaults */
	json_t *snp = json_pack("{s:{s:s}}", "snp", "measurement", "00");
	v = vector("builtin:default_cpu", 19, snp, rvs);
	assert_int_equal(json_integer_value(json_object_get(v, "configuration")), 36);
	json_decref(v);
	json_decref(snp);
	json_decref(in);
	json_decref(none);
	json_decref(rvs);
	free(shipped);
}

static void test_ear_identifiers_extension(void **state)
{
	json_t *in = json_loads("{\"sample\":{},\"init_data_claims\":{\"agent_policy_claims\":"
				"{\"containers\":[{\"OCI\":{\"Annotations\":{\"io.kubernetes.cri."
				"image-name\":\"bitnami/nginx:latest\"},\"Process\":{\"User\":{\"UID\""
				":65535}}}},{\"OCI\":{\"Process\":{\"User\":{\"UID\":1001}}}}]}}}",
				0, NULL);
	json_t *res = NULL;
	char why[128];

	(void)state;
	assert_non_null(in);
	assert_int_equal(E->eval(E->ctx, "builtin:default_cpu", 19, "data.policy.extensions", in,
				 NULL, NULL, &res, NULL, 0, why, sizeof(why)),
			 KBS_OK);
	char *txt = json_dumps(res, JSON_COMPACT);
	assert_string_equal(txt, "[{\"name\":\"ear.trustee.identifiers\",\"key\":-18,\"value\":"
				 "{\"validated\":{\"container_images\":[\"bitnami/nginx:latest\"],"
				 "\"container_uids\":[65535,1001]}}}]");
	free(txt);
	json_decref(res);
	json_decref(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_shipped_kbs_policies),
		cmocka_unit_test(test_affirming),
		cmocka_unit_test(test_unsupported_fails_closed),
		cmocka_unit_test(test_ear_default_cpu),
		cmocka_unit_test(test_ear_identifiers_extension),
	};
	E = policy_native_engine();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
