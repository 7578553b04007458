// SPDX-License-Identifier: Apache-2.0
/*
 * Numbers beyond int64 and double (server/policy/rego_num.c): big integer literals and
 * arithmetic, literals beyond the double range, exact comparison across representations,
 * output; and the test-only built-in test.sleep.
 */
#include <math.h>
#include <time.h>

#include "rego_test_util.h"
#include "server/policy/rego_int.h"

/* Each row is evaluated as `r := <expr>`; big results are shown through sprintf because
 * JSON output of a big number is refused (see test_big_result_is_not_rounded). */
static const struct rego_row rows[] = {
	/* int64 boundaries: results leaving the range are exact big integers */
	{ "sprintf(\"%v\", [9223372036854775807 + 1])", "\"9223372036854775808\"" },
	{ "sprintf(\"%v\", [-9223372036854775808 - 1])", "\"-9223372036854775809\"" },
	{ "sprintf(\"%v\", [9223372036854775807 * 9223372036854775807])",
	  "\"85070591730234615847396907784232501249\"" },
	{ "sprintf(\"%v\", [-9223372036854775808 * -1])", "\"9223372036854775808\"" },
	{ "sprintf(\"%v\", [-9223372036854775808 / -1])", "\"9223372036854775808\"" },
	{ "-9223372036854775808 % -1", "0" },
	/* back into range: an ordinary integer again (JSON output works) */
	{ "(9223372036854775807 + 1) - 1", "9223372036854775807" },
	{ "(9223372036854775807 * 4) / 4", "9223372036854775807" },
	{ "-9223372036854775808", "-9223372036854775808" },
	{ "9223372036854775807", "9223372036854775807" },
	/* literals beyond int64 */
	{ "28857836529306024611913 != 28857836529306024611912", "true" },
	{ "28857836529306024611913 > 28857836529306024611912", "true" },
	{ "-28857836529306024611913 < -28857836529306024611912", "true" },
	{ "18446744073709551616 > 9223372036854775807", "true" },
	{ "-18446744073709551616 < -9223372036854775808", "true" },
	/* division and remainder of big integers */
	{ "sprintf(\"%v\", [55340232221128654848 / 3])", "\"18446744073709551616\"" },
	/* inexact quotients are doubles, as OPA's (64-bit mantissa) floats */
	{ "18446744073709551617 / 2 == 9223372036854775808", "true" },
	{ "18446744073709551617 % 10", "7" },
	{ "-18446744073709551617 % 10", "-7" },
	{ "10 % 18446744073709551616", "10" },
	{ "18446744073709551616 / 0", "error:divide by zero" },
	{ "18446744073709551616 % 0", "error:modulo by zero" },
	{ "18446744073709551616 % 1.5", "error:modulo on floating-point number" },
	{ "18446744073709551616 + 0.5 == 18446744073709551616", "true" }, /* double arithmetic */
	/* comparison across representations is exact */
	{ "9223372036854775808 == 9223372036854775808.0", "true" },
	{ "9223372036854775809 > 9223372036854775808.0", "true" },
	{ "9223372036854775807 < 9223372036854775808.0", "true" },
	{ "10000000000000000000 == 1e19", "true" },
	{ "100000000000000000001 > 1e20", "true" },
	{ "2e308 > 1e308", "true" },
	{ "2e308 == 2e308", "true" },
	{ "2e308 == 20e307", "true" },
	{ "2e308 > 18446744073709551616", "true" },
	{ "-2e308 < -1e308", "true" },
	{ "1e-400 > 0", "true" },
	{ "1e-400 < 5e-324", "true" },
	{ "-1e-400 < 0", "true" },
	{ "0e400 == 0", "true" },
	{ "count({18446744073709551616, 18446744073709551616.0, 1.8446744073709551616e19})", "1" },
	{ "{18446744073709551616: \"a\"}[18446744073709551616.0]", "\"a\"" },
	{ "sprintf(\"%v\", [sort([18446744073709551616, 2e308, -2e308, 1.5, -18446744073709551616, 1e-400])])",
	  "\"[-2e308, -18446744073709551616, 1e-400, 1.5, 18446744073709551616, 2e308]\"" },
	{ "sprintf(\"%v\", [max([18446744073709551616, 1e19])])", "\"18446744073709551616\"" },
	/* output: OPA prints a number's text */
	{ "json.marshal([18446744073709551616, 2e308, 1e-400])", "\"[18446744073709551616,2e308,1e-400]\"" },
	{ "sprintf(\"hi %v\", [2e308])", "\"hi 2e308\"" },
	{ "yaml.marshal([18446744073709551616])", "\"- 18446744073709551616\\n\"" },
	{ "sprintf(\"%s\", [1208925819614629174706175])", "\"1208925819614629174706175\"" },
	{ "sprintf(\"%d|%x|%X|%o|%b\", [-18446744073709551616, 18446744073709551615, 18446744073709551615, 18446744073709551616, 18446744073709551616])",
	  "\"-18446744073709551616|ffffffffffffffff|FFFFFFFFFFFFFFFF|2000000000000000000000|10000000000000000000000000000000000000000000000000000000000000000\"" },
	{ "sprintf(\"%+25d\", [18446744073709551616])", "\"    +18446744073709551616\"" },
	{ "format_int(18446744073709551616, 16)", "\"10000000000000000\"" },
	{ "format_int(-18446744073709551616, 10)", "\"-18446744073709551616\"" },
	{ "format_int(2e308, 10)", "error:beyond the double range" },
	/* other built-ins */
	{ "sprintf(\"%v\", [abs(-18446744073709551616)])", "\"18446744073709551616\"" },
	{ "sprintf(\"%v\", [abs(-9223372036854775808)])", "\"9223372036854775808\"" },
	{ "sprintf(\"%v\", [abs(-2e308)])", "\"2e308\"" },
	{ "sprintf(\"%v %v %v\", [round(18446744073709551616), ceil(2e308), floor(-2e308)])",
	  "\"18446744073709551616 2e308 -2e308\"" },
	{ "round(1e-400)", "0" },
	{ "sprintf(\"%v\", [sum([9223372036854775807, 9223372036854775807, 2])])",
	  "\"18446744073709551616\"" },
	{ "sprintf(\"%v\", [product([4294967296, 4294967296, 4294967296])])",
	  "\"79228162514264337593543950336\"" },
	{ "to_number(\"123456789012345678901234\") == 123456789012345678901234", "true" },
	{ "to_number(\"1e400\")", "error:value out of range" },
	{ "type_name(2e308)", "\"number\"" },
	{ "is_number(18446744073709551616)", "true" },
	{ "[1, 2][18446744073709551616]", "undefined" },
};

static void test_big_number_rows(void **state)
{
	assert_int_equal(run_rows(rows, sizeof(rows) / sizeof(rows[0]), NULL), 0);
}

/* jansson cannot hold a big number: the result is an error, never a rounded double */
static void test_big_result_is_not_rounded(void **state)
{
	char rbuf[512];

	assert_non_null(strstr(REVAL("package t\nr := 9223372036854775807 + 1\n", "data.t.r",
				     NULL, NULL),
			       "cannot be output as JSON"));
	assert_non_null(strstr(REVAL("package t\nr := [2e308]\n", "data.t.r", NULL, NULL),
			       "cannot be output as JSON"));
	/* used inside the policy only: fine */
	assert_string_equal(REVAL("package t\nr := count([2e308])\n", "data.t.r", NULL, NULL), "1");
}

/* representation boundaries as the engine builds them */
static void test_num_text_representations(void **state)
{
	struct arena a;
	struct val *v;

	arena_init(&a, 0);
	v = val_num_text(&a, "9223372036854775807", 19);
	assert_true(v->isint && v->i == INT64_MAX && !v->big);
	v = val_num_text(&a, "-9223372036854775808", 20);
	assert_true(v->isint && v->i == INT64_MIN);
	v = val_num_text(&a, "9223372036854775808", 19);
	assert_true(!v->isint && v->big == NB_INT);
	assert_string_equal(v->s, "9223372036854775808");
	v = val_num_text(&a, "-0009223372036854775809", 23);
	assert_int_equal(v->big, NB_INT);
	assert_string_equal(v->s, "-9223372036854775809");
	v = val_num_text(&a, "+5", 2);
	assert_true(v->isint && v->i == 5);
	v = val_num_text(&a, "1.5e300", 7);
	assert_true(!v->isint && !v->big && v->d == 1.5e300);
	v = val_num_text(&a, "2e308", 5);
	assert_int_equal(v->big, NB_DEC);
	assert_true(isinf(v->d));
	v = val_num_text(&a, "1e-400", 6);
	assert_int_equal(v->big, NB_DEC);

	/* ordering is total and consistent across the three representations */
	const char *asc[] = { "-2e308", "-18446744073709551617", "-9223372036854775809",
			      "-9223372036854775808", "-1", "-1e-400", "0", "1e-400", "0.5", "1",
			      "9223372036854775807", "9223372036854775808", "9.3e18",
			      "18446744073709551616", "1e308", "2e308" };
	size_t n = sizeof(asc) / sizeof(asc[0]);
	struct val *vs[16];

	for (size_t i = 0; i < n; i++)
		vs[i] = val_num_text(&a, asc[i], strlen(asc[i]));
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			int c = val_cmp(vs[i], vs[j]);
			int want = i < j ? -1 : i > j;

			if (c != want)
				fail_msg("cmp(%s, %s) = %d, want %d", asc[i], asc[j], c, want);
			assert_int_equal(val_eq(vs[i], vs[j]), i == j);
		}
	arena_free(&a);
}

/* integer arithmetic refuses results beyond its bound instead of growing without limit */
static void test_big_arithmetic_is_bounded(void **state)
{
	size_t nd = 10000; /* ~33,000 bits: squaring it exceeds 65,536 bits */
	char *src = malloc(nd + 64);
	char rbuf[512];

	const char *head = "package t\nx := 1", *tail = "\nr := x * x\ns := x + x > x\n";

	assert_non_null(src);
	memcpy(src, head, strlen(head));
	memset(src + strlen(head), '7', nd);
	memcpy(src + strlen(head) + nd, tail, strlen(tail) + 1);
	assert_non_null(strstr(REVAL(src, "data.t.r", NULL, NULL), "integer beyond 65536 bits"));
	assert_string_equal(REVAL(src, "data.t.s", NULL, NULL), "true");
	free(src);
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_test_sleep(void **state)
{
	const char *src = "package t\nr if {\n\ttime.now_ns(t0)\n\ttest.sleep(\"30ms\")\n"
			  "\ttime.now_ns(t1)\n\tt0 == t1\n}\n"
			  "long := test.sleep(\"2s\")\nneg := test.sleep(\"-5s\")\n"
			  "bad := test.sleep(\"soon\")\nslow := test.sleep(\"900ms\")\n";
	struct rego_eval_opts on = { .test_builtins = true };
	char buf[512];
	double t0 = mono_s();

	/* enabled: sleeps, and time.now_ns stays the value read once per evaluation */
	assert_string_equal(reval_opts(src, "data.t.r", NULL, NULL, &on, buf, sizeof(buf)),
			    "true");
	assert_true(mono_s() - t0 >= 0.030);
	/* the cap: an error, not a shorter sleep */
	t0 = mono_s();
	assert_non_null(strstr(reval_opts(src, "data.t.long", NULL, NULL, &on, buf, sizeof(buf)),
			       "longer than the 1000000000 ns cap"));
	assert_string_equal(reval_opts(src, "data.t.neg", NULL, NULL, &on, buf, sizeof(buf)),
			    "null");
	assert_true(mono_s() - t0 < 0.5);
	assert_non_null(strstr(reval_opts(src, "data.t.bad", NULL, NULL, &on, buf, sizeof(buf)),
			       "invalid duration"));
	/* disabled (the default of the kbs and restful-as): an evaluation error, no sleep,
	 * even where built-in errors are otherwise lenient */
	struct rego_eval_opts lenient = { .lenient_builtin_errors = true };

	t0 = mono_s();
	assert_non_null(strstr(reval_opts(src, "data.t.slow", NULL, NULL, NULL, buf, sizeof(buf)),
			       "test built-ins are disabled"));
	assert_non_null(strstr(reval_opts(src, "data.t.slow", NULL, NULL, &lenient, buf,
					  sizeof(buf)),
			       "test built-ins are disabled"));
	assert_true(mono_s() - t0 < 0.5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_big_number_rows),
		cmocka_unit_test(test_big_result_is_not_rounded),
		cmocka_unit_test(test_num_text_representations),
		cmocka_unit_test(test_big_arithmetic_is_bounded),
		cmocka_unit_test(test_test_sleep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
