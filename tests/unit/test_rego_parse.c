// SPDX-License-Identifier: Apache-2.0
/* Rego parser: accepted syntax (v1 and Trustee's v0 forms) and refusals with line numbers. */
#include "rego_test_util.h"

static char rbuf[1024];

static void test_v1_and_v0_rule_forms(void **state)
{
	const char *src = "package a.b[\"c\"]\n"
			  "import rego.v1\n"
			  "import future.keywords.in\n"
			  "import future.keywords\n"
			  "default d := 1\n"
			  "c1 := 2\n"
			  "c2 = 3\n"
			  "c3 if true\n"
			  "c4 if { true }\n"
			  "c5 { true }\n"              /* v0 body */
			  "s contains x if { some x in [1, 2] }\n"
			  "v0set[x] { x := 3 }\n"      /* v0 partial set */
			  "o[k] := v if { some k, v in {\"a\": 1} }\n"
			  "f(x) := y if { y := x * 2 }\n"
			  "g(x) = x + 1\n"
			  "e := 1 if false else := 2 if true\n"
			  "deep.path.r := 7\n"
			  "str := `raw \\n text`\n"
			  "esc := \"\\u00e9\\n\\\"\\\\\\/\\ud83d\\ude00\"\n"
			  "semi if { x := 1; x == 1 }\n"
			  "multi if {\n  x := [\n    1,\n    2,\n  ]\n  count(x) == 2 # comment\n}\n";
	const char *want = "{\"c1\":2,\"c2\":3,\"c3\":true,\"c4\":true,\"c5\":true,\"d\":1,"
			   "\"deep\":{\"path\":{\"r\":7}},\"e\":2,\"esc\":\"\xc3\xa9\\n\\\"\\\\/"
			   "\xf0\x9f\x98\x80\",\"multi\":true,\"o\":{\"a\":1},\"s\":[1,2],"
			   "\"semi\":true,\"str\":\"raw \\\\n text\",\"v0set\":[3]}";

	assert_string_equal(REVAL(src, "data.a.b.c", NULL, NULL), want);
	assert_string_equal(REVAL(src, "data.a.b.c.f(4)", NULL, NULL), "8");
	assert_string_equal(REVAL(src, "data.a.b.c.g(4)", NULL, NULL), "5");
}

static void test_operators_and_precedence(void **state)
{
	const char *src = "package t\n"
			  "a := 1 + 2 * 3\n"
			  "b := (1 + 2) * 3\n"
			  "c := 7 - 2 - 1\n"
			  "d := 1 + 2 == 3\n"
			  "e := {1, 2} | {3} & {3, 4}\n"
			  "f := -3 + -x if x := 2\n"
			  "g := 2 in [1, 2]\n"
			  "h := [x | x := [1, 2, 3][_]; x > 1]\n"
			  "i := {k: v | some k, v in {\"a\": 1}}\n"
			  "j := {x | x := [1, 1, 2][_]}\n"
			  "k := 10 % 4\n"
			  "l := 7 / 2\n";

	assert_string_equal(REVAL(src, "data.t", NULL, NULL),
			    "{\"a\":7,\"b\":9,\"c\":4,\"d\":true,\"e\":[1,2,3],\"f\":-5,\"g\":true,"
			    "\"h\":[2,3],\"i\":{\"a\":1},\"j\":[1,2],\"k\":2,\"l\":3.5}");
}

static void test_newlines_end_expressions(void **state)
{
	/* an operator on the next line starts a new expression at body level ... */
	const char *src = "package t\np if {\n  x := 1\n  -1 < x\n}\n"
			  /* ... but not inside brackets */
			  "q := [1,\n  2\n  + 3]\n";

	assert_string_equal(REVAL(src, "data.t", NULL, NULL), "{\"p\":true,\"q\":[1,5]}");
}

static void test_keywords_as_refs(void **state)
{
	const char *src = "package t\np if { input.if == 1; input.contains.else == 2 }\n"
			  "true.x := 3\n";

	assert_string_equal(REVAL(src, "data.t.p", "{\"if\":1,\"contains\":{\"else\":2}}", NULL),
			    "true");
	assert_string_equal(REVAL(src, "data.t[\"true\"].x", NULL, NULL), "3");
}

static void test_imports_and_member3(void **state)
{
	const char *src = "package t\n"
			  "import input.submods.cpu0 as cpu\n"
			  "import data.refs\n"
			  "status := cpu[\"ear.status\"]\n"
			  "known if refs.tees[_] == input.tee\n"
			  "kv if \"a\", 1 in {\"a\": 1}\n"
			  "idx if { (0, \"x\" in [\"x\"]) == true }\n";

	assert_string_equal(REVAL(src, "data.t",
				  "{\"tee\":\"snp\",\"submods\":{\"cpu0\":{\"ear.status\":\"ok\"}}}",
				  "{\"refs\":{\"tees\":[\"snp\"]}}"),
			    "{\"idx\":true,\"known\":true,\"kv\":true,"
			    "\"status\":\"ok\"}");
}

static void test_syntax_errors_name_line(void **state)
{
	expect_compile_error("allow := true\n", KBS_ERR_PARSE, 1, "must start with 'package'");
	expect_compile_error("package p\n\nx := \"abc\n", KBS_ERR_PARSE, 3, "unterminated string");
	expect_compile_error("package p\nx := \"\\q\"\n", KBS_ERR_PARSE, 2, "bad escape");
	expect_compile_error("package p\nx := `abc\n", KBS_ERR_PARSE, 2, "unterminated raw string");
	expect_compile_error("package p\np if {\n  x := 1 +\n}\n", KBS_ERR_PARSE, 4,
			     "expected a term");
	expect_compile_error("package p\np if { 1 2 }\n", KBS_ERR_PARSE, 2,
			     "';' or a new line");
	expect_compile_error("package p\nx := 1 ! 2\n", KBS_ERR_PARSE, 2, "unexpected character");
	expect_compile_error("package p\nx\n", KBS_ERR_PARSE, 2, "needs a value or a body");
	expect_compile_error("package p\nx := [1, 2\n", KBS_ERR_PARSE, 3, "expected ']'");
	expect_compile_error("package p\nimport rego.v1\np := 1\nimport future.keywords\n",
			     KBS_ERR_PARSE, 4, "imports must come before rules");
	expect_compile_error("package p\ns[x] := 1 else := 2\n", KBS_ERR_PARSE, 2,
			     "'else' is only allowed");
	expect_compile_error("package p\nx := \"a\x01\"\n", KBS_ERR_PARSE, 2, "control character");
	expect_compile_error("package p\nx := 1\n\x80\n", KBS_ERR_PARSE, 3, "unexpected byte");
}

static void test_unsupported_constructs_fail_closed(void **state)
{
	expect_compile_error("package p\nimport future.keywords.in as kw\n", KBS_ERR_UNSUPPORTED, 2,
			     "unsupported construct: import future.keywords.in");
	expect_compile_error("package p\nimport http.send\n", KBS_ERR_UNSUPPORTED, 2,
			     "unsupported construct: import http.send");
	expect_compile_error("package p\n\np if {\n  http.send({})\n}\n", KBS_ERR_UNSUPPORTED, 4,
			     "built-in http.send is not implemented (it may only be replaced with 'with')");
	expect_compile_error("package p\np if {\n  x := io.jwt.decode(input.t)\n}\n",
			     KBS_ERR_UNSUPPORTED, 3, "unknown function io.jwt.decode");
	expect_compile_error("package p\np if { true with nothing as 3 }\n", KBS_ERR_INVAL, 2,
			     "'with' target must be input, data or a function");
	/* big integers are supported (test_rego_num.c); only absurd lengths are refused */
	{
		char big[20100] = "package p\nx := 1";

		memset(big + strlen(big), '0', 20001);
		expect_compile_error(big, KBS_ERR_RANGE, 2, "number literal too long");
	}
	expect_compile_error("package p\ndefault f(1) := 1\n", KBS_ERR_INVAL, 2,
			     "arguments must be variables");
	expect_compile_error("package p\ndefault x contains 1\n", KBS_ERR_UNSUPPORTED, 2,
			     "default must be");
	/* `p[x] contains y` and `p[x] := y` cannot share a path */
	expect_compile_error("package p\np[x] contains y if { x := 1; y := 2 }\np[x] := 1 if x := 3\n",
			     KBS_ERR_INVAL, 3, "conflicting rule kinds");
	expect_compile_error("package p\np { true } { false }\n", KBS_ERR_UNSUPPORTED, 2,
			     "several bodies");
	expect_compile_error("package p\np if { not not true }\n", KBS_ERR_UNSUPPORTED, 2,
			     "'not' before this expression");
	expect_compile_error("package p\np if { x := input.f; x(1) }\n", KBS_ERR_UNSUPPORTED, 2,
			     "unknown function x");
}

static void test_semantic_errors(void **state)
{
	expect_compile_error("package p\ndefault a := 1\ndefault a := 2\n", KBS_ERR_INVAL, 3,
			     "multiple default rules");
	expect_compile_error("package p\na := 1\na contains 2\n", KBS_ERR_INVAL, 3,
			     "conflicting rule kinds");
	expect_compile_error("package p\nf(x) := 1\nf(x, y) := 2\n", KBS_ERR_INVAL, 3,
			     "different numbers of arguments");
	expect_compile_error("package p\np if { count(1, 2, 3) }\n", KBS_ERR_INVAL, 2,
			     "count takes 1 argument, called with 3");
	expect_compile_error("package p\np if { x := 1; x := 2 }\n", KBS_ERR_INVAL, 2,
			     "var x assigned above");
	expect_compile_error("package p\na := 1\na.b := 2\n", KBS_ERR_INVAL, 2,
			     "conflicts with rules defined below it");
	expect_compile_error("package p\nx := 1\np if { x(1) }\n", KBS_ERR_INVAL, 3,
			     "x is a rule, not a function");
}

static void test_limits(void **state)
{
	char src[4096];
	size_t o = (size_t)snprintf(src, sizeof(src), "package p\nx := ");

	for (int i = 0; i < 200; i++)
		src[o++] = '[';
	src[o] = 0;
	expect_compile_error(src, KBS_ERR_RANGE, 2, "nesting deeper than");
	static const char nul[] = "package p\nx := 1\0\n";
	struct rego_module *m = NULL;
	struct rego_error err = { 0 };

	assert_int_equal(rego_compile(nul, sizeof(nul) - 1, NULL, &m, &err), KBS_ERR_PARSE);
	assert_non_null(strstr(err.msg, "NUL"));
}

static void test_size_limits_keep_recursion_bounded(void **state)
{
	static char src[65536];
	size_t o = (size_t)snprintf(src, sizeof(src), "package p\nx := input");

	for (int i = 0; i < 200; i++)
		o += (size_t)snprintf(src + o, sizeof(src) - o, " + input");
	expect_compile_error(src, KBS_ERR_RANGE, 2, "expression nested deeper than 128");
	o = (size_t)snprintf(src, sizeof(src), "package p\nx := [");
	for (int i = 0; i < 600; i++)
		o += (size_t)snprintf(src + o, sizeof(src) - o, "input, ");
	snprintf(src + o, sizeof(src) - o, "]\n");
	expect_compile_error(src, KBS_ERR_RANGE, 2, "more than 512 computed elements");
	o = (size_t)snprintf(src, sizeof(src), "package p\nx if {\n");
	for (int i = 0; i < 600; i++)
		o += (size_t)snprintf(src + o, sizeof(src) - o, "input.a == 1\n");
	snprintf(src + o, sizeof(src) - o, "}\n");
	expect_compile_error(src, KBS_ERR_RANGE, 515, "more than 512 expressions in one body");
	/* constant literals are folded and may be large */
	o = (size_t)snprintf(src, sizeof(src), "package p\nx := count([");
	for (int i = 0; i < 2000; i++)
		o += (size_t)snprintf(src + o, sizeof(src) - o, "%d, ", i);
	snprintf(src + o, sizeof(src) - o, "])\n");
	assert_string_equal(REVAL(src, "data.p.x", NULL, NULL), "2000");
}

static void test_error_message_names_policy(void **state)
{
	struct rego_module *m = NULL;
	struct rego_error err = { 0 };
	const char *src = "package p\n\n\np if { foo.bar(1) }\n";

	assert_int_equal(rego_compile(src, strlen(src), "resource-policy", &m, &err),
			 KBS_ERR_UNSUPPORTED);
	assert_int_equal(err.line, 4);
	assert_int_equal(err.col, 8);
	assert_non_null(strstr(err.msg, "resource-policy:4:8:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_and_v0_rule_forms),
		cmocka_unit_test(test_operators_and_precedence),
		cmocka_unit_test(test_newlines_end_expressions),
		cmocka_unit_test(test_keywords_as_refs),
		cmocka_unit_test(test_imports_and_member3),
		cmocka_unit_test(test_syntax_errors_name_line),
		cmocka_unit_test(test_unsupported_constructs_fail_closed),
		cmocka_unit_test(test_semantic_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_size_limits_keep_recursion_bounded),
		cmocka_unit_test(test_error_message_names_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
