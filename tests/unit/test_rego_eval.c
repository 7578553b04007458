// SPDX-License-Identifier: Apache-2.0
/* Rego evaluator semantics (OPA's), the query API, explanations, limits, cache, threads. */
#include <pthread.h>

#include "rego_test_util.h"

static char rbuf[2048];

static void test_undefined_vs_false(void **state)
{
	const char *src = "package t\n"
			  "p := input.missing\n"
			  "q if input.flag == true\n"
			  "default r := false\n"
			  "r if input.flag\n"
			  "n if not input.missing\n"
			  "nf if not input.flag\n"
			  "b := input.flag\n";

	assert_string_equal(REVAL(src, "data.t.p", "{}", NULL), "undefined");
	assert_string_equal(REVAL(src, "data.t.q", "{\"flag\":false}", NULL), "undefined");
	assert_string_equal(REVAL(src, "data.t.r", "{\"flag\":false}", NULL), "false");
	assert_string_equal(REVAL(src, "data.t.r", "{\"flag\":true}", NULL), "true");
	/* not: true when the expression is undefined or false */
	assert_string_equal(REVAL(src, "data.t.n", "{}", NULL), "true");
	assert_string_equal(REVAL(src, "data.t.nf", "{\"flag\":false}", NULL), "true");
	assert_string_equal(REVAL(src, "data.t.nf", "{\"flag\":0}", NULL), "undefined");
	/* a false value is defined */
	assert_string_equal(REVAL(src, "data.t.b", "{\"flag\":false}", NULL), "false");
	/* no input at all: input.x is undefined, not an error */
	assert_string_equal(REVAL(src, "data.t.n", NULL, NULL), "true");
	/* a package whose rules are all undefined is an empty object */
	assert_string_equal(REVAL("package t\np if false\n", "data.t", NULL, NULL), "{}");
}

static void test_conflicts_are_errors(void **state)
{
	assert_string_equal(REVAL("package t\np := 1\np := 2\n", "data.t.p", NULL, NULL),
			    "error: eval_conflict_error: complete rules must not produce multiple "
			    "outputs (data.t.p)");
	/* the same value twice is fine */
	assert_string_equal(REVAL("package t\np := 1\np := 1\n", "data.t.p", NULL, NULL), "1");
	assert_non_null(strstr(REVAL("package t\np := x if x := input[_]\n", "data.t.p",
				     "[1, 2]", NULL),
			       "eval_conflict_error"));
	assert_non_null(strstr(REVAL("package t\no[k] := v if { k := \"a\"; v := input[_] }\n",
				     "data.t.o", "[1, 2]", NULL),
			       "eval_conflict_error: object keys must be unique"));
	assert_non_null(strstr(REVAL("package t\nf(x) := 1 if x > 0\nf(x) := 2 if x > 1\n"
				     "p := f(5)\n",
				     "data.t.p", NULL, NULL),
			       "functions must not produce multiple outputs"));
	assert_string_equal(REVAL("package t\nf(x) := 1 if x > 0\nf(x) := 2 if x > 1\n"
				  "p := f(1)\n",
				  "data.t.p", NULL, NULL),
			    "1");
}

static void test_unification(void **state)
{
	const char *src = "package t\n"
			  "a := [x, y] if [x, y] = [1, 2]\n"
			  "b := v if input.m = {\"p\": 2, \"q\": v, \"r\": 2}\n"
			  "c := z if { {\"x\": x, \"y\": 2} = {\"x\": 1, \"y\": y}; z := x + y }\n"
			  "d if [1, x] = [y, 2]\n"
			  "e := i if { input2 := [\"a\", \"b\"]; input2[i] == \"b\" }\n"
			  "f := [k | input.m[k] = 2]\n"
			  "g if { x := 1; x == 1.0 }\n"
			  "h if [1, 2] == [1, 2]\n"
			  "ii if { [w, w] = [1, 1] }\n"
			  "jj if { [w, w] = [1, 2] }\n";

	assert_string_equal(REVAL(src, "data.t", "{\"k\":5,\"m\":{\"p\":2,\"q\":3,\"r\":2}}", NULL),
			    "{\"a\":[1,2],\"b\":3,\"c\":3,\"d\":true,\"e\":1,\"f\":[\"p\",\"r\"],"
			    "\"g\":true,\"h\":true,\"ii\":true}");
	assert_non_null(strstr(REVAL("package t\np if x = y\n", "data.t.p", NULL, NULL),
			       "rego_unsafe_var_error"));
	assert_non_null(strstr(REVAL("package t\np if x > 1\n", "data.t.p", NULL, NULL),
			       "var x is unsafe"));
}

static void test_safety_reordering(void **state)
{
	/* OPA evaluates expressions once their variables are bound, whatever the written order */
	const char *src = "package t\n"
			  "p if { x > 1; x = 2 }\n"
			  "r if { not x == 1; x = 2 }\n"
			  "s := [a | a > 1; a = input[_]]\n"
			  "u if { y = x; x = 1; y == 1 }\n"
			  "w if { count(z) == 2; z = {1, 2} }\n"
			  "e if { every v in z { v > 0 }; z = input }\n"
			  "keep := [v | v := input[_]; v != 2]\n";

	assert_string_equal(REVAL(src, "data.t", "[1,2,3]", NULL),
			    "{\"e\":true,\"keep\":[1,3],\"p\":true,\"r\":true,\"s\":[2,3],\"u\":true,"
			    "\"w\":true}");
	/* nothing can bind y: still an error, never a silent answer */
	assert_non_null(strstr(REVAL("package t\nq contains y if { y == z; z = input[_] }\n",
				     "data.t.q", "[1]", NULL),
			       "rego_unsafe_var_error"));
}

static void test_iteration_some_every(void **state)
{
	const char *src = "package t\n"
			  "s contains x if some x in input.a\n"
			  "kv contains [k, v] if some k, v in input.o\n"
			  "all_pos if every x in input.a { x > 0 }\n"
			  "all_big if every x in input.a { x > 2 }\n"
			  "empty_every if every x in [] { false }\n"
			  "idx contains i if input.a[i] > 1\n"
			  "nested contains [i, j] if { input.n[i][j] == 1 }\n"
			  "wild := count([1 | input.a[_]])\n";
	const char *in = "{\"a\":[1,2,3],\"o\":{\"x\":1},\"n\":[[0,1],[1,0]]}";

	assert_string_equal(REVAL(src, "data.t", in, NULL),
			    "{\"all_pos\":true,\"empty_every\":true,\"idx\":[1,2],\"kv\":[[\"x\",1]],"
			    "\"nested\":[[0,1],[1,0]],\"s\":[1,2,3],\"wild\":3}");
}

static void test_else_functions_defaults(void **state)
{
	const char *src = "package t\n"
			  "default level := \"none\"\n"
			  "level := \"high\" if input.v > 10\n"
			  "else := \"mid\" if input.v > 5\n"
			  "else := \"low\" if input.v > 0\n"
			  "fact(0) := 1\n"
			  "fact(n) := n * fact(n - 1) if n > 0\n"
			  "first([x, _]) := x\n"
			  "f := fact(5)\n";

	assert_string_equal(REVAL(src, "data.t.level", "{\"v\":20}", NULL), "\"high\"");
	assert_string_equal(REVAL(src, "data.t.level", "{\"v\":7}", NULL), "\"mid\"");
	assert_string_equal(REVAL(src, "data.t.level", "{\"v\":1}", NULL), "\"low\"");
	assert_string_equal(REVAL(src, "data.t.level", "{\"v\":-1}", NULL), "\"none\"");
	assert_string_equal(REVAL(src, "data.t.f", NULL, NULL), "120");
	assert_string_equal(REVAL(src, "data.t.first([7, 8])", NULL, NULL), "7");
	assert_string_equal(REVAL(src, "data.t.first([7])", NULL, NULL), "undefined");
}

static void test_sets_and_objects(void **state)
{
	const char *src = "package t\n"
			  "u := {1, 2} | {2, 3}\n"
			  "i := {1, 2} & {2, 3}\n"
			  "d := {1, 2} - {2, 3}\n"
			  "m if 2 in {1, 2}\n"
			  "o := {1: \"one\", \"b\": [1], \"a\": {\"z\": null}}\n"
			  "eq := {1, 2, 3} == {3, 2, 1}\n"
			  "dedup := count({x | x := [1, 1, 1][_]})\n"
			  "objin if \"one\" in o\n"
			  "keys := {k | o[k]}\n";

	/* sets come back as sorted arrays; non-string keys as their JSON text */
	assert_string_equal(REVAL(src, "data.t", NULL, NULL),
			    "{\"d\":[1],\"dedup\":1,\"eq\":true,\"i\":[2],\"keys\":[1,\"a\",\"b\"],"
			    "\"m\":true,\"o\":{\"1\":\"one\",\"a\":{\"z\":null},\"b\":[1]},"
			    "\"objin\":true,\"u\":[1,2,3]}");
}

static void test_number_semantics(void **state)
{
	const char *src = "package t\n"
			  "a if 3 == 3.0\n"
			  "b if 0.1 + 0.2 != 0.3\n"
			  "c if 9223372036854775807 + 1 == 9223372036854775808\n"
			  "d if 9007199254740993 > 9007199254740992.0\n"
			  "e := 1e3\n"
			  "f := 4 / 2\n"
			  "g if 1 < 1.5\n"
			  "h if input.big == 18446744073709551616.0\n"
			  "i if { null < false; false < 0; 0 < \"\"; \"\" < []; [] < {}; {} < set() }\n"
			  "j := 2.5 * 2\n";

	/* documented semantics: exact integers (int64, then big), IEEE-754 doubles otherwise,
	 * exact mixed compare */
	assert_string_equal(REVAL(src, "data.t", "{\"big\":1.8446744073709552e19}", NULL),
			    "{\"a\":true,\"b\":true,\"c\":true,\"d\":true,"
			    "\"e\":1000,\"f\":2,\"g\":true,\"h\":true,\"i\":true,\"j\":5}");
	assert_non_null(strstr(REVAL("package t\nx := 1 / 0\n", "data.t.x", NULL, NULL),
			       "divide by zero"));
	assert_non_null(strstr(REVAL("package t\nx := 1.5 % 1\n", "data.t.x", NULL, NULL),
			       "modulo on floating-point"));
}

static void test_with_modifier(void **state)
{
	const char *src = "package t\n"
			  "allow if input.user == \"admin\"\n"
			  "cfg := data.cfg.level\n"
			  "t1 if allow with input as {\"user\": \"admin\"}\n"
			  "t2 if allow with input.user as \"admin\"\n"
			  "t3 := x if x := cfg with data.cfg.level as 3\n"
			  "t4 := cfg\n";

	assert_string_equal(REVAL(src, "data.t", "{\"user\":\"bob\"}", "{\"cfg\":{\"level\":1}}"),
			    "{\"cfg\":1,\"t1\":true,\"t2\":true,\"t3\":3,\"t4\":1}");
}

/* `with` replacing built-ins, user functions and host functions (OPA's function mocks) */
static void test_with_function_replacement(void **state)
{
	const char *src =
		"package t\n"
		"f(x) := x + 1\n"
		"g(x) := x * 10\n"
		"cnt_mock(x) := count(x) + 100\n" /* calls the original count */
		"r := 7\n"
		"uses_f := f(1)\n"
		"now_is_5 if time.now_ns() == 5\n"
		"v1 := y if y := f(1) with f as 42\n"               /* value */
		"v2 := y if y := f(1) with f as g\n"                /* user -> user */
		"v3 := y if y := f([1, 2]) with f as count\n"       /* user -> built-in */
		"v4 := y if y := count([1]) with count as cnt_mock\n" /* built-in -> user */
		"v5 := y if y := uses_f with f as g\n"              /* through a rule */
		"v6 if now_is_5 with time.now_ns as 5\n"            /* arity 0 */
		"v7 := y if y := f(1) with f as r\n"                /* a rule's value */
		"v8 := [a, b] if { a := uses_f with f as g; b := uses_f }\n" /* scoped, not cached */
		"v9 := y if y := count(input.missing) with count as 1\n"; /* args still evaluated */

	(void)state;
	assert_string_equal(REVAL(src, "data.t.v1", NULL, NULL), "42");
	assert_string_equal(REVAL(src, "data.t.v2", NULL, NULL), "10");
	assert_string_equal(REVAL(src, "data.t.v3", NULL, NULL), "2");
	assert_string_equal(REVAL(src, "data.t.v4", NULL, NULL), "101");
	assert_string_equal(REVAL(src, "data.t.v5", NULL, NULL), "10");
	assert_string_equal(REVAL(src, "data.t.v6", NULL, NULL), "true");
	assert_string_equal(REVAL(src, "data.t.v7", NULL, NULL), "7");
	assert_string_equal(REVAL(src, "data.t.v8", NULL, NULL), "[10,2]");
	assert_string_equal(REVAL(src, "data.t.v9", "{}", NULL), "undefined");
	/* arity must match; targets must be input, data or a function */
	expect_compile_error("package t\nf(x) := x\np := y if y := f(1) with f as concat\n",
			     KBS_ERR_INVAL, 3, "takes 2");
	expect_compile_error("package t\nq := 1\np if q with q as 2\n", KBS_ERR_INVAL, 3,
			     "'with' target must be input, data or a function");
}

/* OPA built-ins without an implementation here compile only where a `with` replaces them */
static void test_mock_only_builtins(void **state)
{
	const char *mocked = "package t\n"
			     "fake(_) := {\"body\": {\"ok\": true}}\n"
			     "get := http.send({\"url\": \"x\"}).body.ok\n"
			     "t1 if get with http.send as fake\n";

	(void)state;
	assert_string_equal(REVAL(mocked, "data.t.t1", NULL, NULL), "true");
	/* reached without the replacement: an evaluation error, never a guess */
	assert_non_null(strstr(REVAL(mocked, "data.t.get", NULL, NULL),
			       "eval_error: built-in http.send is not implemented"));
	expect_compile_error("package t\np := http.send({})\n", KBS_ERR_UNSUPPORTED, 2,
			     "built-in http.send is not implemented");
}

static int rv_host(void *ctx, json_t *const *args, size_t n, json_t **out)
{
	(void)ctx;
	(void)args;
	(void)n;
	*out = json_string("from-host");
	return KBS_OK;
}

/* a host function (Trustee's query_reference_value) can be replaced in policy tests */
static void test_with_replaces_host_function(void **state)
{
	const struct rego_host_fn fns[] = { { "query_reference_value", 1, rv_host } };
	const struct rego_compile_opts co = { fns, 1 };
	const char *src = "package t\n"
			  "rv := query_reference_value(\"svn\")\n"
			  "test_rv if rv == [\"1\"] with query_reference_value as [\"1\"]\n";
	size_t len = strlen(src);
	struct rego_module *m = NULL;
	struct rego_error err = { 0 };
	json_t *r = NULL;

	(void)state;
	assert_int_equal(rego_compile_modules(&src, &len, 1, &co, &m, &err), KBS_OK);
	assert_int_equal(rego_eval_ex(m, "data.t.rv", NULL, NULL, NULL, &r, NULL, &err), KBS_OK);
	assert_string_equal(json_string_value(r), "from-host");
	json_decref(r);
	assert_int_equal(rego_eval_ex(m, "data.t.test_rv", NULL, NULL, NULL, &r, NULL, &err),
			 KBS_OK);
	assert_true(json_is_true(r));
	json_decref(r);
	rego_module_free(m);
}

/* keywords directly followed by '.' or '[' are references; `some` takes patterns */
static void test_keyword_refs_and_some_patterns(void **state)
{
	const char *src = "package t\n"
			  "default.foo := 1\n"
			  "import.foo := 2\n"
			  "else.foo := 3\n"
			  "if.foo contains \"a\"\n"
			  "if.foo contains \"b\" if true\n"
			  "default not.f(_) := 42\n"
			  "not.f(x) := x if x < 10\n"
			  "every.x := [default.foo, import.foo, else.foo, if.foo, not.f(1), not.f(11)]\n"
			  "s1 if some \"foo\" in [\"foo\"]\n"
			  "s2 := x if some {\"a\": x} in [{\"b\": 0}, {\"a\": 5}]\n"
			  "s3 := k if some k, \"v\" in {\"k\": \"v\", \"j\": 1}\n"
			  "s4 if some numbers.range(1, 2) in [[1, 2]]\n"
			  "m3 if 1, 2 in [2] in [false]\n";

	(void)state;
	assert_string_equal(REVAL(src, "data.t.every.x", NULL, NULL), "[1,2,3,[\"a\",\"b\"],1,42]");
	assert_string_equal(REVAL(src, "data.t.s1", NULL, NULL), "true");
	assert_string_equal(REVAL(src, "data.t.s2", NULL, NULL), "5");
	assert_string_equal(REVAL(src, "data.t.s3", NULL, NULL), "\"k\"");
	assert_string_equal(REVAL(src, "data.t.s4", NULL, NULL), "true");
	assert_string_equal(REVAL(src, "data.t.m3", NULL, NULL), "true");
	/* a keyword followed by white space is still the keyword */
	expect_compile_error("package t\ndefault .foo := 1\n", KBS_ERR_PARSE, 2, "");
}

/* `p[q] contains v`: an object of sets, merged with partial sets at fixed paths */
static void test_contains_under_computed_refs(void **state)
{
	const char *src = "package t\n"
			  "p[q] contains r if { some q in [\"a\", \"b\"]; some r in [1, 2]; r != 2 }\n"
			  "p[q] contains 5 if q := \"a\"\n"
			  "p.b contains \"foo\"\n"
			  "d[q].r contains s if { some q in [\"x\"]; s := q }\n";

	(void)state;
	assert_string_equal(REVAL(src, "data.t.p", NULL, NULL),
			    "{\"a\":[1,5],\"b\":[1,\"foo\"]}");
	assert_string_equal(REVAL(src, "data.t.d.x.r", NULL, NULL), "[\"x\"]");
	assert_string_equal(REVAL(src, "data.t.p.a[5]", NULL, NULL), "5");
}

static void test_rules_across_packages_and_data(void **state)
{
	const char *srcs[] = { "package lib\nis_admin(u) if u in data.admins\n",
			       "package app\nallow if data.lib.is_admin(input.u)\n"
			       "names := [n | some n in data.admins]\n" };
	size_t lens[] = { strlen(srcs[0]), strlen(srcs[1]) };
	struct rego_module *m = NULL;
	struct rego_error err = { 0 };
	json_t *data = tj("{\"admins\":[\"ann\"],\"lib\":{\"extra\":1}}");
	json_t *in = tj("{\"u\":\"ann\"}"), *r = NULL;

	assert_int_equal(rego_compile_modules(srcs, lens, 2, NULL, &m, &err), KBS_OK);
	assert_int_equal(rego_eval(m, "data.app.allow", in, data, &r, NULL), KBS_OK);
	assert_true(json_is_true(r));
	json_decref(r);
	/* base documents and rules merge under one path */
	assert_int_equal(rego_eval(m, "data.lib", in, data, &r, NULL), KBS_OK);
	assert_int_equal(json_integer_value(json_object_get(r, "extra")), 1);
	json_decref(r);
	/* rego_query returns every solution with the named variables */
	assert_int_equal(rego_query(m, "x := data.admins[i]", in, data, NULL, &r, &err), KBS_OK);
	char *s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);

	assert_string_equal(s, "[{\"i\":0,\"x\":\"ann\"}]");
	free(s);
	json_decref(r);
	assert_int_equal(rego_query(m, "data.admins[_] == \"bob\"", in, data, NULL, &r, &err),
			 KBS_OK);
	assert_int_equal(json_array_size(r), 0);
	json_decref(r);
	json_decref(data);
	json_decref(in);
	rego_module_free(m);
}

static void test_bad_queries(void **state)
{
	struct rego_module *m = NULL;
	struct rego_error err = { 0 };
	json_t *r = NULL;
	const char *src = "package t\np := 1\n";

	assert_int_equal(rego_compile(src, strlen(src), NULL, &m, &err), KBS_OK);
	assert_int_equal(rego_eval_ex(m, "data.t.p; data.t.p", NULL, NULL, NULL, &r, NULL, &err),
			 KBS_ERR_INVAL);
	assert_int_equal(rego_eval_ex(m, "data.t.(", NULL, NULL, NULL, &r, NULL, &err),
			 KBS_ERR_PARSE);
	assert_int_equal(rego_eval_ex(m, "foo.bar(1)", NULL, NULL, NULL, &r, NULL, &err),
			 KBS_ERR_UNSUPPORTED);
	assert_null(r);
	assert_int_equal(rego_eval(NULL, "data.t.p", NULL, NULL, &r, NULL), KBS_ERR_INVAL);
	rego_module_free(m);
}

static void test_limits_fail_closed(void **state)
{
	struct rego_eval_opts few_steps = { .max_steps = 1000 };
	struct rego_eval_opts little_mem = { .max_mem = 1 << 20 };
	char big[64];

	/* runaway recursion hits the depth limit */
	assert_non_null(strstr(REVAL("package t\nf(x) := f(x + 1)\np := f(0)\n", "data.t.p", NULL,
				     NULL),
			       "eval_limit_error"));
	/* a long recursive function body exhausts the stack budget before the C stack */
	char *deep = malloc(32768);
	size_t o = (size_t)snprintf(deep, 32768, "package t\nf(x) := y if {\n");

	for (int i = 0; i < 400; i++)
		o += (size_t)snprintf(deep + o, 32768 - o, "  x >= 0\n");
	snprintf(deep + o, 32768 - o, "  y := f(x + 1)\n}\np := f(0)\n");
	assert_non_null(strstr(REVAL(deep, "data.t.p", NULL, NULL), "eval_limit_error"));
	free(deep);
	/* rules that depend on themselves are an error, not a hang */
	assert_non_null(strstr(REVAL("package t\np if q\nq if p\n", "data.t.p", NULL, NULL),
			       "recursive"));
	/* quadratic work is cut by the step limit */
	snprintf(big, sizeof(big), "[%s]", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16");
	assert_non_null(strstr(reval_opts("package t\np := count([1 | input[_]; input[_]; "
					  "input[_]])\n",
					  "data.t.p", big, NULL, &few_steps, rbuf, sizeof(rbuf)),
			       "step limit"));
	/* memory is bounded per evaluation */
	assert_non_null(strstr(reval_opts("package t\np := count([[a, b, c] | some a in input; "
					  "some b in input; some c in input])\n",
					  "data.t.p", "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,"
					  "19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,"
					  "38,39,40,41,42,43,44,45,46,47,48,49]",
					  NULL, &little_mem, rbuf, sizeof(rbuf)),
			       "memory limit"));
}

static void test_explanation(void **state)
{
	const char *src = "package policy\n"
			  "default allow := false\n"
			  "allow if {\n"
			  "  input.tee == \"tdx\"\n"
			  "  input.svn >= 3\n"
			  "}\n"
			  "allow if {\n"
			  "  input.tee == \"snp\"\n"
			  "}\n";
	struct rego_module *m = NULL;
	struct rego_error err = { 0 };
	struct rego_explain why;
	bool ok = true;
	char text[1024];
	json_t *in = tj("{\"tee\":\"tdx\",\"svn\":2}");

	assert_int_equal(rego_compile(src, strlen(src), NULL, &m, &err), KBS_OK);
	assert_int_equal(rego_eval_bool(m, "data.policy.allow", in, NULL, &ok, &why, &err), KBS_OK);
	assert_false(ok);
	assert_int_equal(why.n, 2);
	assert_false(why.e[0].matched);
	assert_int_equal(why.e[0].line, 3);
	assert_int_equal(why.e[0].fail_line, 5);
	assert_string_equal(why.e[0].fail_expr, "input.svn >= 3");
	assert_int_equal(why.e[1].fail_line, 8);
	rego_explain_format(&why, text, sizeof(text));
	assert_non_null(strstr(text, "data.policy.allow (line 3): false at line 5: input.svn >= 3"));
	json_decref(in);
	in = tj("{\"tee\":\"snp\"}");
	assert_int_equal(rego_eval_bool(m, "data.policy.allow", in, NULL, &ok, &why, &err), KBS_OK);
	assert_true(ok);
	assert_true(why.e[1].matched);
	json_decref(in);
	rego_module_free(m);
}

/* Long and multi-line failing expressions: kept on one line, cut only with a marker. */
static void test_explanation_long_expression(void **state)
{
	char src[2048], text[4096], small[64];
	struct rego_module *m = NULL;
	struct rego_error err = { 0 };
	struct rego_explain why;
	bool ok = true;
	size_t n;

	(void)state;
	/* 200 bytes of expression over two lines, then one longer than fail_expr */
	n = (size_t)snprintf(src, sizeof(src),
			     "package policy\nallow if {\n  input.a ==\n      \"%0150d\"\n}\n"
			     "allow if {\n  input.b == \"\u00e9%0300d\"\n}\n",
			     0, 0);
	assert_int_equal(rego_compile(src, n, NULL, &m, &err), KBS_OK);
	assert_int_equal(rego_eval_bool(m, "data.policy.allow", NULL, NULL, &ok, &why, &err),
			 KBS_OK);
	assert_false(ok);
	assert_int_equal(why.n, 2);
	/* white space collapsed, nothing lost */
	assert_int_equal(strncmp(why.e[0].fail_expr, "input.a == \"000", 15), 0);
	assert_int_equal(strlen(why.e[0].fail_expr), strlen("input.a == \"\"") + 150);
	/* too long: cut with "...", still fits, never in the middle of a character */
	n = strlen(why.e[1].fail_expr);
	assert_true(n < sizeof(why.e[1].fail_expr));
	assert_string_equal(why.e[1].fail_expr + n - 3, "...");
	assert_non_null(strstr(why.e[1].fail_expr, "\u00e9000"));
	rego_explain_format(&why, text, sizeof(text));
	assert_non_null(strstr(text, "false at line 3: input.a == \"000"));
	/* a buffer too small for the text ends in a visible marker */
	rego_explain_format(&why, small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_string_equal(small + sizeof(small) - 5, "...\n");
	rego_module_free(m);
}

static int failing_host(void *ctx, json_t *const *args, size_t n, json_t **out)
{
	return KBS_ERR_UNAVAILABLE;
}

static int echo_host(void *ctx, json_t *const *args, size_t n, json_t **out)
{
	(*(int *)ctx)++;
	*out = json_incref(args[0]);
	return KBS_OK;
}

static void test_host_functions_and_builtin_errors(void **state)
{
	const struct rego_host_fn fns[] = { { "ext.fail", 0, failing_host },
					    { "ext.echo", 1, echo_host } };
	const struct rego_compile_opts co = { fns, 2 };
	const char *src = "package t\na := ext.echo({\"k\": [1]})\nb := ext.fail()\n"
			  "c := json.unmarshal(\"{bad\")\nd if not json.unmarshal(\"{bad\")\n";
	size_t len = strlen(src);
	struct rego_module *m = NULL;
	struct rego_error err = { 0 };
	int calls = 0;
	struct rego_eval_opts eo = { .host_ctx = &calls };
	struct rego_eval_opts lenient = { .host_ctx = &calls, .lenient_builtin_errors = true };
	json_t *r = NULL;

	assert_int_equal(rego_compile_modules(&src, &len, 1, &co, &m, &err), KBS_OK);
	assert_int_equal(rego_eval_ex(m, "data.t.a", NULL, NULL, &eo, &r, NULL, &err), KBS_OK);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(r, "k"), 0)), 1);
	assert_int_equal(calls, 1);
	json_decref(r);
	assert_int_equal(rego_eval_ex(m, "data.t.b", NULL, NULL, &eo, &r, NULL, &err),
			 KBS_ERR_INVAL);
	assert_non_null(strstr(err.msg, "ext.fail: host function failed"));
	/* default: a failing builtin aborts (fail closed), so `not` cannot turn it into true */
	assert_int_equal(rego_eval_ex(m, "data.t.d", NULL, NULL, &eo, &r, NULL, &err),
			 KBS_ERR_INVAL);
	assert_non_null(strstr(err.msg, "eval_builtin_error: json.unmarshal"));
	/* OPA's lenient mode: the call is undefined */
	assert_int_equal(rego_eval_ex(m, "data.t.c", NULL, NULL, &lenient, &r, NULL, &err), KBS_OK);
	assert_null(r);
	assert_int_equal(rego_eval_ex(m, "data.t.d", NULL, NULL, &lenient, &r, NULL, &err), KBS_OK);
	assert_true(json_is_true(r));
	json_decref(r);
	rego_module_free(m);
}

static void test_cache(void **state)
{
	const char *a = "package p\nallow := true\n", *b = "package p\nallow := false\n";
	struct rego_cache *c = rego_cache_new(2, NULL);
	struct rego_module *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL;
	struct rego_error err = { 0 };
	json_t *r = NULL;

	assert_non_null(c);
	assert_int_equal(rego_cache_get(c, a, strlen(a), "a", &m1, &err), KBS_OK);
	assert_int_equal(rego_cache_get(c, a, strlen(a), "a", &m2, &err), KBS_OK);
	assert_ptr_equal(m1, m2); /* same source: compiled once */
	assert_int_equal(rego_cache_size(c), 1);
	assert_int_equal(rego_cache_get(c, b, strlen(b), "b", &m3, &err), KBS_OK);
	assert_ptr_not_equal(m1, m3);
	assert_memory_not_equal(rego_module_digest(m1), rego_module_digest(m3), 32);
	/* a third policy evicts the least recently used; held references stay valid */
	const char *x = "package p\nallow := 1\n";

	assert_int_equal(rego_cache_get(c, x, strlen(x), "x", &m4, &err), KBS_OK);
	assert_int_equal(rego_cache_size(c), 2);
	assert_int_equal(rego_eval(m1, "data.p.allow", NULL, NULL, &r, NULL), KBS_OK);
	assert_true(json_is_true(r));
	json_decref(r);
	const char *bad = "package p\nallow if {\n";

	assert_int_equal(rego_cache_get(c, bad, strlen(bad), "bad", &m2, &err), KBS_ERR_PARSE);
	assert_non_null(strstr(err.msg, "bad:3:"));
	assert_int_equal(rego_cache_size(c), 2);
	rego_module_free(m1);
	rego_module_free(m1);
	rego_module_free(m3);
	rego_module_free(m4);
	rego_cache_free(c);
	rego_cache_free(NULL);
	rego_module_free(NULL);
}

struct thr {
	struct rego_module *m;
	int id, bad;
};

static void *worker(void *arg)
{
	struct thr *t = arg;

	for (int i = 0; i < 500; i++) {
		char in[64];
		json_t *j, *r = NULL;
		int v = t->id * 1000 + i;

		snprintf(in, sizeof(in), "{\"v\": %d}", v);
		j = json_loads(in, 0, NULL);
		if (rego_eval(t->m, "data.t.double", j, NULL, &r, NULL) != KBS_OK ||
		    json_integer_value(r) != 2 * v)
			t->bad++;
		json_decref(r);
		json_decref(j);
	}
	return NULL;
}

static void test_concurrent_evaluation(void **state)
{
	const char *src = "package t\ndouble := x if { x := input.v * 2; x == input.v + input.v }\n";
	struct rego_module *m = NULL;
	struct rego_error err = { 0 };
	pthread_t th[4];
	struct thr t[4];

	assert_int_equal(rego_compile(src, strlen(src), NULL, &m, &err), KBS_OK);
	for (int i = 0; i < 4; i++) {
		t[i] = (struct thr){ m, i, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, worker, &t[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].bad, 0);
	}
	rego_module_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_undefined_vs_false),
		cmocka_unit_test(test_conflicts_are_errors),
		cmocka_unit_test(test_unification),
		cmocka_unit_test(test_safety_reordering),
		cmocka_unit_test(test_iteration_some_every),
		cmocka_unit_test(test_else_functions_defaults),
		cmocka_unit_test(test_sets_and_objects),
		cmocka_unit_test(test_number_semantics),
		cmocka_unit_test(test_with_modifier),
		cmocka_unit_test(test_rules_across_packages_and_data),
		cmocka_unit_test(test_bad_queries),
		cmocka_unit_test(test_limits_fail_closed),
		cmocka_unit_test(test_with_function_replacement),
		cmocka_unit_test(test_contains_under_computed_refs),
		cmocka_unit_test(test_keyword_refs_and_some_patterns),
		cmocka_unit_test(test_mock_only_builtins),
		cmocka_unit_test(test_with_replaces_host_function),
		cmocka_unit_test(test_explanation),
		cmocka_unit_test(test_explanation_long_expression),
		cmocka_unit_test(test_host_functions_and_builtin_errors),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_concurrent_evaluation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
