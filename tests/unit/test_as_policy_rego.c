// SPDX-License-Identifier: Apache-2.0
/*
 * The Rego engine behind struct policy_engine (server/as/policy_rego.c): Trustee's
 * query_reference_value semantics (an absent reference value is null, a non-string id an
 * error), compile errors carrying "line:col" exactly once, and denial explanations that
 * keep the whole failing expression.
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
#include "server/as/policy_hook.h"

static json_t *rvs_lookup(void *ctx, const char *id)
{
	json_t *v = json_object_get(ctx, id);

	return v ? json_incref(v) : NULL; /* NULL: no such reference value */
}

static int eval(const char *text, const char *query, json_t *rvs, json_t **res, char *rule,
		size_t rulelen, char *why, size_t whylen)
{
	const struct policy_engine *e = policy_rego_engine();
	struct policy_host host = {rvs_lookup, rvs};
	json_t *input = json_pack("{s:s}", "tee", "sample");
	int rc;

	assert_non_null(input);
	rc = e->eval(e->ctx, text, strlen(text), query, input, NULL, &host, res, rule, rulelen, why,
		     whylen);
	json_decref(input);
	return rc;
}

static void test_absent_reference_value_is_null(void **state)
{
	const char *text = "package policy\n"
			   "rv := query_reference_value(\"absent\")\n"
			   "present := query_reference_value(\"svn\")\n"
			   "absent_is_null if query_reference_value(\"absent\") == null\n"
			   "trust_claims := {\"hardware\": 2} if absent_is_null\n";
	json_t *rvs = json_pack("{s:[s]}", "svn", "1");
	json_t *res = NULL;
	char why[256] = "";

	(void)state;
	assert_int_equal(eval(text, "data.policy.rv", rvs, &res, NULL, 0, why, sizeof(why)),
			 KBS_OK);
	/* Trustee's AS returns Value::Null for an id the RVPS does not know */
	assert_non_null(res);
	assert_true(json_is_null(res));
	json_decref(res);
	res = NULL;
	assert_int_equal(eval(text, "data.policy.present", rvs, &res, NULL, 0, why, sizeof(why)),
			 KBS_OK);
	assert_true(json_is_array(res));
	assert_string_equal(json_string_value(json_array_get(res, 0)), "1");
	json_decref(res);
	res = NULL;
	assert_int_equal(
	    eval(text, "data.policy.trust_claims", rvs, &res, NULL, 0, why, sizeof(why)), KBS_OK);
	assert_int_equal(json_integer_value(json_object_get(res, "hardware")), 2);
	json_decref(res);
	json_decref(rvs);
}

static void test_non_string_reference_id_is_error(void **state)
{
	const char *text = "package policy\nrv := query_reference_value(1)\n";
	json_t *res = NULL;
	char why[256] = "";

	(void)state;
	assert_int_not_equal(eval(text, "data.policy.rv", NULL, &res, NULL, 0, why, sizeof(why)),
			     KBS_OK);
	assert_null(res);
	assert_non_null(strstr(why, "query_reference_value"));
}

static void test_compile_error_names_position_once(void **state)
{
	const struct policy_engine *e = policy_rego_engine();
	const char *text = "package policy\n\nallow if {\n  input.x ==\n}\n";
	char why[256] = "";
	const char *p;

	(void)state;
	assert_int_not_equal(e->check(e->ctx, text, strlen(text), why, sizeof(why)), KBS_OK);
	p = strstr(why, ":5:1:");
	assert_non_null(p);
	assert_null(strstr(p + 1, ":5:1:"));
	assert_null(strstr(why, "line 5"));
	assert_null(strstr(why, "col"));
}

static void test_denial_explanation_keeps_whole_expression(void **state)
{
	/* a failing expression longer than 128 bytes, written over several lines */
	const char *text =
	    "package policy\n"
	    "default allow := false\n"
	    "allow if {\n"
	    "  input.tee == \"sample\"\n"
	    "  count([x | some x in [\"first-very-long-element\", \"second-very-long-element\",\n"
	    "             \"third-very-long-element\", \"fourth-very-long-element\"]]) == 3\n"
	    "}\n";
	json_t *res = NULL;
	char rule[320] = "", why[256] = "";

	(void)state;
	assert_int_equal(
	    eval(text, "data.policy.allow", NULL, &res, rule, sizeof(rule), why, sizeof(why)),
	    KBS_OK);
	assert_true(json_is_false(res));
	json_decref(res);
	assert_non_null(strstr(rule, "failed at line 5"));
	/* the end of the expression is still there, on one line */
	assert_non_null(
	    strstr(rule, "\"third-very-long-element\", \"fourth-very-long-element\"]]) == 3"));
	assert_null(strchr(rule, '\n'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_absent_reference_value_is_null),
	    cmocka_unit_test(test_non_string_reference_id_is_error),
	    cmocka_unit_test(test_compile_error_names_position_once),
	    cmocka_unit_test(test_denial_explanation_keeps_whole_expression),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
