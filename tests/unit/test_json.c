// SPDX-License-Identifier: Apache-2.0
/*
 * Strict JSON parsing (duplicates, trailing data, size limit, NUL, UTF-8, depth) and the typed
 * member-path getters with their error messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"

static json_t *parse_ok(const char *s)
{
	json_t *v = NULL;
	struct json_err e;

	if (json_parse(s, strlen(s), 0, &v, &e) != KBS_OK)
		fail_msg("parse of %s failed: %s", s, e.msg);
	return v;
}

static void parses_any_value_and_ignores_surrounding_whitespace(void **state)
{
	static const char *const ok[] = {
	    "{}",   "[]",  " \n{\"a\":[1,2.5,\"x\",true,null]}\r\n\t", "\"s\"", "0", "-0", "1e3",
	    "true", "null"};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		json_decref(parse_ok(ok[i]));
}

static void parse_err(const char *s, size_t len, int want, const char *msg_part)
{
	json_t *v = (json_t *)0x1;
	struct json_err e;

	memset(&e, 0, sizeof(e));
	if (json_parse(s, len, 0, &v, &e) != want)
		fail_msg("'%.*s' not rejected with %d (msg %s)", (int)len, s, want, e.msg);
	assert_null(v);
	if (msg_part && !strstr(e.msg, msg_part))
		fail_msg("'%.*s': message '%s' lacks '%s'", (int)len, s, e.msg, msg_part);
}

static void strictness_violations_rejected(void **state)
{
	parse_err("{\"a\":1,\"a\":2}", 13, KBS_ERR_PARSE, "duplicate");
	parse_err("{\"o\":{\"k\":1,\"k\":1}}", 19, KBS_ERR_PARSE, "duplicate");
	/* the same member spelled differently is still a duplicate */
	parse_err("{\"a\":1,\"\\u0061\":2}", 18, KBS_ERR_PARSE, "duplicate");
	parse_err("{} x", 4, KBS_ERR_PARSE, NULL);
	parse_err("{}{}", 4, KBS_ERR_PARSE, NULL);
	parse_err("[1] [2]", 7, KBS_ERR_PARSE, NULL);
	parse_err("", 0, KBS_ERR_PARSE, NULL);
	parse_err("   ", 3, KBS_ERR_PARSE, NULL);
	parse_err("{\"a\":1,}", 8, KBS_ERR_PARSE, NULL);
	parse_err("{'a':1}", 7, KBS_ERR_PARSE, NULL);
	parse_err("[01]", 4, KBS_ERR_PARSE, NULL);
	parse_err("[NaN]", 5, KBS_ERR_PARSE, NULL);
	parse_err("[1e400]", 7, KBS_ERR_PARSE, NULL);
	parse_err("[12345678901234567890]", 22, KBS_ERR_PARSE, NULL);
	parse_err("\"\\ud800\"", 8, KBS_ERR_PARSE, NULL);    /* lone surrogate */
	parse_err("\"\xc3\x28\"", 4, KBS_ERR_PARSE, NULL);   /* invalid UTF-8 */
	parse_err("\"\xc0\xaf\"", 4, KBS_ERR_PARSE, NULL);   /* overlong */
	parse_err("\"a\tb\"", 5, KBS_ERR_PARSE, NULL);	     /* raw control character */
	parse_err("\xef\xbb\xbf{}", 5, KBS_ERR_PARSE, NULL); /* BOM */
	parse_err("{}\0", 3, KBS_ERR_PARSE, NULL);	     /* NUL after the value */
	parse_err("\"a\0b\"", 5, KBS_ERR_PARSE, NULL);	     /* raw NUL in a string */
}

static void error_position_reported(void **state)
{
	json_t *v;
	struct json_err e;

	assert_int_equal(json_parse("{\n  \"a\": tru\n}", 14, 0, &v, &e), KBS_ERR_PARSE);
	assert_int_equal(e.line, 2);
	assert_true(e.column > 0);
	assert_true(strlen(e.msg) > 0);
}

static void nesting_depth_bounded(void **state)
{
	size_t n = 5000;
	char *s = malloc(2 * n);
	json_t *v;

	assert_non_null(s);
	memset(s, '[', n);
	memset(s + n, ']', n);
	assert_int_equal(json_parse(s, 2 * n, 0, &v, NULL), KBS_ERR_PARSE);
	/* 1000 levels are fine */
	assert_int_equal(json_parse(s + n - 1000, 2000, 0, &v, NULL), KBS_OK);
	json_decref(v);
	free(s);
}

static void maxlen_enforced(void **state)
{
	const char *s = "{\"key\":\"value\"}";
	size_t len = strlen(s);
	json_t *v;
	struct json_err e;

	assert_int_equal(json_parse(s, len, len - 1, &v, &e), KBS_ERR_RANGE);
	assert_null(v);
	assert_non_null(strstr(e.msg, "exceeds"));
	assert_int_equal(json_parse(s, len, len, &v, &e), KBS_OK);
	json_decref(v);
}

static void input_need_not_be_nul_terminated(void **state)
{
	const char buf[] = {'{', '"', 'a', '"', ':', '1', '}', 'J', 'U', 'N', 'K'};
	json_t *v;
	int64_t x;

	assert_int_equal(json_parse(buf, 7, 0, &v, NULL), KBS_OK);
	assert_int_equal(json_get_int(v, "a", 0, 10, &x, NULL), KBS_OK);
	assert_int_equal(x, 1);
	json_decref(v);
	assert_int_equal(json_parse(buf, sizeof(buf), 0, &v, NULL), KBS_ERR_PARSE);
}

static void nul_escape_refused_unless_allowed(void **state)
{
	const char *s = "{\"k\":\"a\\u0000b\"}";
	json_t *v;
	struct json_err e;
	const char *str;
	size_t len;

	assert_int_equal(json_parse(s, strlen(s), 0, &v, &e), KBS_ERR_PARSE);
	assert_int_equal(json_parse_flags(s, strlen(s), 0, JSON_P_ALLOW_NUL, &v, &e), KBS_OK);
	/* a C-string getter must not hand out a truncated "a" */
	assert_int_equal(json_get_string(v, "k", &str, &e), KBS_ERR_INVAL);
	assert_non_null(strstr(e.msg, "NUL"));
	assert_int_equal(json_get_stringn(v, "k", &str, &len, &e), KBS_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(str, "a\0b", 3);
	json_decref(v);
	assert_int_equal(json_parse_flags(s, strlen(s), 0, 0x80, &v, &e), KBS_ERR_INVAL);
}

static const char *doc = "{\"a\":{\"b\":[0,\"one\",{\"c\":\"deep\",\"n\":7,\"r\":1.5,\"t\":true,"
			 "\"z\":null}]},\"top\":\"x\",\"big\":-9223372036854775808,"
			 "\"with.dot\":1,\"\":{\"e\":\"empty key\"}}";

static void getters_follow_member_paths(void **state)
{
	json_t *root = parse_ok(doc), *v;
	const char *s;
	int64_t x;
	bool b;
	struct json_err e;

	assert_int_equal(json_get_string(root, "a.b[2].c", &s, &e), KBS_OK);
	assert_string_equal(s, "deep");
	assert_int_equal(json_get_string(root, "a.b[1]", &s, &e), KBS_OK);
	assert_string_equal(s, "one");
	assert_int_equal(json_get_int(root, "a.b[2].n", 0, 10, &x, &e), KBS_OK);
	assert_int_equal(x, 7);
	assert_int_equal(json_get_int(root, "a.b[0]", 0, 0, &x, &e), KBS_OK);
	assert_int_equal(x, 0);
	assert_int_equal(json_get_bool(root, "a.b[2].t", &b, &e), KBS_OK);
	assert_true(b);
	assert_int_equal(json_get_object(root, "a", &v, &e), KBS_OK);
	assert_true(json_is_object(v));
	assert_int_equal(json_get_array(root, "a.b", &v, &e), KBS_OK);
	assert_int_equal(json_array_size(v), 3);
	assert_int_equal(json_get(root, "", &v, &e), KBS_OK);
	assert_ptr_equal(v, root);
	assert_int_equal(json_get(root, "a.b[2].z", &v, &e), KBS_OK);
	assert_true(json_is_null(v));
	assert_int_equal(json_get_int(root, "big", INT64_MIN, INT64_MAX, &x, &e), KBS_OK);
	assert_true(x == INT64_MIN);
	assert_true(json_has(root, "a.b[2].z"));
	assert_false(json_has(root, "a.b[3]"));
	json_decref(root);

	root = parse_ok("[[1,2],[3,{\"k\":4}]]");
	assert_int_equal(json_get_int(root, "[1][1].k", 0, 9, &x, &e), KBS_OK);
	assert_int_equal(x, 4);
	assert_int_equal(json_get_int(root, "[0][1]", 0, 9, &x, &e), KBS_OK);
	assert_int_equal(x, 2);
	json_decref(root);
}

static void get_fails(json_t *root, const char *path, const char *want_msg)
{
	const char *s;
	struct json_err e;

	memset(&e, 0, sizeof(e));
	assert_int_equal(json_get_string(root, path, &s, &e), KBS_ERR_INVAL);
	if (strcmp(e.msg, want_msg) != 0)
		fail_msg("path '%s': got '%s', expected '%s'", path, e.msg, want_msg);
}

static void errors_name_the_member_path(void **state)
{
	json_t *root = parse_ok(doc);
	int64_t x;
	bool b;
	json_t *v;
	struct json_err e;

	get_fails(root, "a.b[2].n", "member 'a.b[2].n': expected string, got number");
	get_fails(root, "a.b[2].t", "member 'a.b[2].t': expected string, got boolean");
	get_fails(root, "a.b[2].z", "member 'a.b[2].z': expected string, got null");
	get_fails(root, "a.b", "member 'a.b': expected string, got array");
	get_fails(root, "a.x", "member 'a.x': missing");
	get_fails(root, "a.b[3]", "member 'a.b[3]': missing");
	get_fails(root, "a.b[2].c.d", "member 'a.b[2].c': expected object, got string");
	get_fails(root, "a.b.c", "member 'a.b': expected object, got array");
	get_fails(root, "a[0]", "member 'a': expected array, got object");
	get_fails(root, "missing.deeper", "member 'missing': missing");
	get_fails(root, "", "top-level value: expected string, got object");
	/* paths that cannot name a member */
	get_fails(root, "a..b", "invalid member path 'a..b'");
	get_fails(root, ".a", "invalid member path '.a'");
	get_fails(root, "a.", "invalid member path 'a.'");
	get_fails(root, "a.b[x]", "invalid member path 'a.b[x]'");
	get_fails(root, "a.b[1", "invalid member path 'a.b[1'");
	get_fails(root, "a.b[-1]", "invalid member path 'a.b[-1]'");
	get_fails(root, "a.b[1]c", "invalid member path 'a.b[1]c'");
	get_fails(root, "a.[1]", "invalid member path 'a.[1]'");
	get_fails(root, "a.b[99999999999999999999999]",
		  "invalid member path 'a.b[99999999999999999999999]'");
	/* a member name containing '.' cannot be addressed by path */
	get_fails(root, "with.dot", "member 'with': missing");

	assert_int_equal(json_get_int(root, "a.b[2].r", 0, 10, &x, &e), KBS_ERR_INVAL);
	assert_string_equal(e.msg, "member 'a.b[2].r': expected integer, got non-integer number");
	assert_int_equal(json_get_int(root, "a.b[2].c", 0, 10, &x, &e), KBS_ERR_INVAL);
	assert_string_equal(e.msg, "member 'a.b[2].c': expected integer, got string");
	assert_int_equal(json_get_int(root, "a.b[2].n", 0, 6, &x, &e), KBS_ERR_INVAL);
	assert_string_equal(e.msg, "member 'a.b[2].n': 7 out of range [0, 6]");
	assert_int_equal(json_get_int(root, "a.b[2].n", 8, 9, &x, &e), KBS_ERR_INVAL);
	assert_int_equal(json_get_bool(root, "a.b[2].n", &b, &e), KBS_ERR_INVAL);
	assert_string_equal(e.msg, "member 'a.b[2].n': expected boolean, got number");
	assert_int_equal(json_get_object(root, "top", &v, &e), KBS_ERR_INVAL);
	assert_string_equal(e.msg, "member 'top': expected object, got string");
	assert_int_equal(json_get_array(root, "a", &v, &e), KBS_ERR_INVAL);
	assert_string_equal(e.msg, "member 'a': expected array, got object");
	assert_int_equal(json_get_int(root, "", 0, 1, &x, &e), KBS_ERR_INVAL);
	assert_string_equal(e.msg, "top-level value: expected integer, got object");
	/* a NULL err is allowed */
	assert_int_equal(json_get_array(root, "a", &v, NULL), KBS_ERR_INVAL);
	json_decref(root);
}

static void optional_getters_default_only_when_absent(void **state)
{
	json_t *root = parse_ok(doc);
	const char *s;
	int64_t x;
	bool b;
	struct json_err e;

	assert_int_equal(json_opt_string(root, "a.nope", "dflt", &s, &e), KBS_OK);
	assert_string_equal(s, "dflt");
	assert_int_equal(json_opt_string(root, "nope.deeper", NULL, &s, &e), KBS_OK);
	assert_null(s);
	/* explicit null counts as absent (serde Option), also as a parent */
	assert_int_equal(json_opt_string(root, "a.b[2].z", "d", &s, &e), KBS_OK);
	assert_string_equal(s, "d");
	assert_int_equal(json_opt_int(root, "a.b[2].z.q", 0, 9, 5, &x, &e), KBS_OK);
	assert_int_equal(x, 5);
	assert_int_equal(json_opt_string(root, "top", "d", &s, &e), KBS_OK);
	assert_string_equal(s, "x");
	assert_int_equal(json_opt_int(root, "a.b[2].n", 0, 9, 1, &x, &e), KBS_OK);
	assert_int_equal(x, 7);
	assert_int_equal(json_opt_int(root, "a.b[7]", 0, 9, 1, &x, &e), KBS_OK);
	assert_int_equal(x, 1);
	assert_int_equal(json_opt_bool(root, "a.b[2].t", false, &b, &e), KBS_OK);
	assert_true(b);
	assert_int_equal(json_opt_bool(root, "a.b[2].f", true, &b, &e), KBS_OK);
	assert_true(b);

	/* present but wrong: an error, never the default */
	assert_int_equal(json_opt_string(root, "a.b[2].n", "d", &s, &e), KBS_ERR_INVAL);
	assert_string_equal(e.msg, "member 'a.b[2].n': expected string, got number");
	assert_int_equal(json_opt_int(root, "a.b[2].n", 0, 3, 1, &x, &e), KBS_ERR_INVAL);
	assert_int_equal(json_opt_int(root, "a.b[2].r", 0, 3, 1, &x, &e), KBS_ERR_INVAL);
	assert_int_equal(json_opt_bool(root, "top", false, &b, &e), KBS_ERR_INVAL);
	assert_int_equal(json_opt_string(root, "top.x", "d", &s, &e), KBS_ERR_INVAL);
	assert_string_equal(e.msg, "member 'top': expected object, got string");
	assert_int_equal(json_opt_string(root, "a..b", "d", &s, &e), KBS_ERR_INVAL);
	json_decref(root);
}

static void dump_is_compact_and_keeps_member_order(void **state)
{
	json_t *o = json_object();
	char *s;
	size_t len;

	json_object_set_new(o, "z", json_integer(1));
	json_object_set_new(o, "a", json_string("\xc3\xa9\n"));
	json_object_set_new(o, "m", json_pack("[f,b,n]", 0.5, 1));
	s = json_dump_compact(o, &len);
	assert_non_null(s);
	assert_string_equal(s, "{\"z\":1,\"a\":\"\xc3\xa9\\n\",\"m\":[0.5,true,null]}");
	assert_int_equal(len, strlen(s));
	free(s);
	json_decref(o);

	/* parse -> dump keeps input order and real-ness */
	o = parse_ok("{ \"b\" : 1.0, \"a\" : [ ], \"c\" : { } }");
	s = json_dump_compact(o, NULL);
	assert_string_equal(s, "{\"b\":1.0,\"a\":[],\"c\":{}}");
	free(s);
	json_decref(o);

	o = json_string("scalar");
	s = json_dump_compact(o, &len);
	assert_string_equal(s, "\"scalar\"");
	free(s);
	json_decref(o);
	assert_null(json_dump_compact(NULL, &len));
	assert_int_equal(len, 0);
}

static void type_names(void **state)
{
	json_t *v = parse_ok("[{},[],\"\",1,1.5,true,false,null]");
	static const char *const want[] = {"object", "array",	"string",  "number",
					   "number", "boolean", "boolean", "null"};

	for (size_t i = 0; i < 8; i++)
		assert_string_equal(json_type_name(json_array_get(v, i)), want[i]);
	assert_string_equal(json_type_name(NULL), "nothing");
	json_decref(v);
}

/* Allocator that fails once the budget is spent, to drive jansson's out-of-memory paths. */
static long alloc_budget = -1;

static void *failing_malloc(size_t n)
{
	if (alloc_budget == 0)
		return NULL;
	if (alloc_budget > 0)
		alloc_budget--;
	return malloc(n);
}

static void allocation_failure_fails_cleanly(void **state)
{
	const char *s = "{\"a\":{\"b\":[0,\"one\",{\"c\":\"deep\",\"n\":7.5}]},\"k\":\"v\"}";
	json_malloc_t om;
	json_free_t of;
	int nomem = 0;

	json_get_alloc_funcs(&om, &of);
	json_set_alloc_funcs(failing_malloc, free);
	for (long budget = 0;; budget++) {
		json_t *v = (json_t *)0x1;
		int rc;

		alloc_budget = budget;
		rc = json_parse(s, strlen(s), 0, &v, NULL);
		alloc_budget = -1;
		if (rc == KBS_OK) {
			json_decref(v);
			break;
		}
		/* jansson's lexer reports a failed string allocation as a syntax error */
		assert_true(rc == KBS_ERR_NOMEM || rc == KBS_ERR_PARSE);
		assert_null(v);
		nomem += rc == KBS_ERR_NOMEM;
		assert_true(budget < 1000);
	}
	json_set_alloc_funcs(om, of);
	assert_true(nomem > 0);
}

static void bad_arguments(void **state)
{
	json_t *v;

	assert_int_equal(json_parse(NULL, 3, 0, &v, NULL), KBS_ERR_INVAL);
	assert_int_equal(json_parse("{}", 2, 0, NULL, NULL), KBS_ERR_INVAL);
	assert_int_equal(json_parse(NULL, 0, 0, &v, NULL), KBS_ERR_PARSE);
	assert_int_equal(json_get(NULL, "a", &v, NULL), KBS_ERR_INVAL);
	assert_false(json_has(NULL, ""));
}

/* The compact dump of what jansson itself makes of s (json_parse's flags). */
static char *jansson_dump(const char *s, size_t len)
{
	json_error_t je;
	json_t *v = json_loadb(s, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	char *d;

	if (!v)
		fail_msg("jansson refused %s: %s", s, je.text);
	d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	return d;
}

static void fast_path_builds_the_tree_jansson_builds(void **state)
{
	static const char *const ok[] = {
	    /* the shape of a real /attest body (sample TEE, EC key) */
	    "{\"runtime-data\":{\"nonce\":\"L8KFbNjQ9Ph8ZSwa3qq4VdNd6O1zM4rQ7dbSuAw2MAI=\","
	    "\"tee-pubkey\":{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES256\",\"x\":\"nXnfQ\","
	    "\"y\":\"3tdJcw\"}},\"tee-evidence\":{\"primary_evidence\":{\"svn\":\"1\","
	    "\"report_data\":\"AAAA\"},\"additional_evidence\":\"{\\\"gpu\\\":{\\\"n\\\":1}}\"},"
	    "\"init-data\":{\"format\":\"toml\",\"body\":\"version = \\\"0.1.0\\\"\\n\"}}",
	    " \t\r\n{ \"b\" : [ 1 , -2 , 0 , true , false , null , { } , [ ] ] , \"a\" : \"z\" } \n",
	    "\"x\\\"y\\\\z\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20AC\\u07FF\\u0800\\uFFFF\"",
	    "{\"k\\u00e9y\":1,\"kéy\\u0020\":2}", /* escaped keys; the second is not ASCII */
	    "[123456789012345678,-123456789012345678,0]",
	    "{\"z\":1,\"y\":2,\"x\":{\"w\":[[[[]]]]}}",
	    "17",
	    "{\"del\":\"\x7f\"}", /* DEL is not a control character in JSON */
	    "null",
	    "\"\"",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		json_t *v = NULL;
		char *want = jansson_dump(ok[i], strlen(ok[i])), *got;
		int rc = json_parse_fast(ok[i], strlen(ok[i]), &v);

		if (i == 3) { /* non-ASCII key: left to jansson, json_parse still gets it right */
			assert_int_equal(rc, KBS_ERR_UNSUPPORTED);
			assert_null(v);
			v = parse_ok(ok[i]);
		} else {
			assert_int_equal(rc, KBS_OK);
		}
		got = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		assert_string_equal(got, want);
		free(got);
		free(want);
		json_decref(v);
	}
}

static void fast_path_leaves_everything_else_to_jansson(void **state)
{
	/* valid JSON outside the fast subset: json_parse must still return jansson's tree */
	static const char *const valid[] = {
	    "1.5", "1e3", "-0", "1234567890123456789", "\"\\ud83d\\ude00\"", "\"é\"", "[0.0]",
	};
	/* invalid JSON: the fast path refuses, json_parse reports jansson's message */
	static const char *const invalid[] = {
	    "{\"a\":1,\"a\":2}", "{\"a\":1} x", "[1,]", "{\"a\"}", "\"\\x\"", "\"\\u0000\"",
	    "\"\\ud800\"", "01", "-", "tru", "[1", "{", "", " ", "\"a\nb\"", "\"\xff\"",
	    "[]]", "nul", "\"\\u12\"",
	};
	char deep[200];

	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		json_t *v = (json_t *)0x1;
		char *want = jansson_dump(valid[i], strlen(valid[i])), *got;

		assert_int_equal(json_parse_fast(valid[i], strlen(valid[i]), &v),
				 KBS_ERR_UNSUPPORTED);
		assert_null(v);
		v = parse_ok(valid[i]);
		got = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		assert_string_equal(got, want);
		free(got);
		free(want);
		json_decref(v);
	}
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		json_t *v = (json_t *)0x1;
		json_error_t je;
		struct json_err e;
		size_t n = strlen(invalid[i]);

		assert_int_equal(json_parse_fast(invalid[i], n, &v), KBS_ERR_UNSUPPORTED);
		assert_null(v);
		assert_null(json_loadb(invalid[i], n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
				       &je));
		assert_int_equal(json_parse(invalid[i], n, 0, &v, &e), KBS_ERR_PARSE);
		assert_string_equal(e.msg, je.text);
		assert_int_equal(e.line, je.line > 0 ? je.line : 0);
	}
	/* 65 levels: beyond the fast path's depth, well within jansson's */
	memset(deep, '[', 65);
	memset(deep + 65, ']', 65);
	{
		json_t *v = (json_t *)0x1;
		assert_int_equal(json_parse_fast(deep, 130, &v), KBS_ERR_UNSUPPORTED);
		assert_null(v);
		assert_int_equal(json_parse(deep, 130, 0, &v, NULL), KBS_OK);
		json_decref(v);
		assert_int_equal(json_parse_fast(deep + 1, 128, &v), KBS_OK);
		json_decref(v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parses_any_value_and_ignores_surrounding_whitespace),
	    cmocka_unit_test(strictness_violations_rejected),
	    cmocka_unit_test(error_position_reported),
	    cmocka_unit_test(nesting_depth_bounded),
	    cmocka_unit_test(maxlen_enforced),
	    cmocka_unit_test(input_need_not_be_nul_terminated),
	    cmocka_unit_test(nul_escape_refused_unless_allowed),
	    cmocka_unit_test(getters_follow_member_paths),
	    cmocka_unit_test(errors_name_the_member_path),
	    cmocka_unit_test(optional_getters_default_only_when_absent),
	    cmocka_unit_test(dump_is_compact_and_keeps_member_order),
	    cmocka_unit_test(type_names),
	    cmocka_unit_test(allocation_failure_fails_cleanly),
	    cmocka_unit_test(bad_arguments),
	    cmocka_unit_test(fast_path_builds_the_tree_jansson_builds),
	    cmocka_unit_test(fast_path_leaves_everything_else_to_jansson),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
