// SPDX-License-Identifier: Apache-2.0
/*
 * RFC 8785 canonicalisation: the cyberphone/json-canonicalization vectors (tests/data/jcs),
 * the 10,000-line ES6 number file, number/ordering/escaping edge cases, rejection of values
 * JCS cannot represent, and the KBS runtime-data binding digests (tests/data/runtime-data).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/jcs.h"
#include "common/json.h"
#include "testdata.h"

/* Reads $KBS_TEST_DATA/<rel> (tests/testdata.h). */
static char *read_data(const char *rel, size_t *len)
{
	return td_read_file(".", rel, len);
}

static const char *const vector_names[] = {"arrays",  "french", "structures",
					   "unicode", "values", "weird"};

/* "5b 35 36 ..." -> bytes */
static uint8_t *parse_outhex(const char *txt, size_t *outlen)
{
	uint8_t *o = malloc(strlen(txt) / 2 + 1);
	size_t n = 0;
	const char *p = txt;

	assert_non_null(o);
	for (;;) {
		unsigned v;
		int used;

		while (*p == ' ' || *p == '\n' || *p == '\r')
			p++;
		if (!*p)
			break;
		assert_int_equal(sscanf(p, "%2x%n", &v, &used), 1);
		o[n++] = (uint8_t)v;
		p += used;
	}
	*outlen = n;
	return o;
}

static void rfc8785_vectors_match_byte_for_byte(void **state)
{
	for (size_t i = 0; i < sizeof(vector_names) / sizeof(vector_names[0]); i++) {
		char rel[128];
		size_t inlen, explen, hexlen, binlen;
		char *in, *exp, *hex;
		uint8_t *bin;
		struct buf b = BUF_INIT, again = BUF_INIT;

		snprintf(rel, sizeof(rel), "jcs/input/%s.json", vector_names[i]);
		in = read_data(rel, &inlen);
		snprintf(rel, sizeof(rel), "jcs/output/%s.json", vector_names[i]);
		exp = read_data(rel, &explen);
		snprintf(rel, sizeof(rel), "jcs/outhex/%s.txt", vector_names[i]);
		hex = read_data(rel, &hexlen);
		bin = parse_outhex(hex, &binlen);

		assert_int_equal(jcs_canonicalize_text(in, inlen, &b), KBS_OK);
		if (b.len != explen || memcmp(b.p, exp, explen) != 0)
			fail_msg("%s: got '%s' expected '%s'", vector_names[i], (char *)b.p, exp);
		/* outhex is the same expectation; check both so a bad copy of one is noticed */
		assert_int_equal(binlen, b.len);
		assert_memory_equal(bin, b.p, binlen);
		/* canonical output is a fixed point */
		assert_int_equal(jcs_canonicalize_text((char *)b.p, b.len, &again), KBS_OK);
		assert_int_equal(again.len, b.len);
		assert_memory_equal(again.p, b.p, b.len);

		buf_release(&again);
		buf_release(&b);
		free(bin);
		free(hex);
		free(exp);
		free(in);
	}
}

static double bits_to_double(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

/* Runs every "HEX,EXPECTED" line of a number file; returns the number of lines checked. */
static size_t run_number_file(const char *rel)
{
	size_t len, lines = 0, bad = 0;
	char *txt = read_data(rel, &len);
	char *save = NULL;

	for (char *line = strtok_r(txt, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *comma = strchr(line, ',');
		char got[JCS_NUMBER_MAX];
		uint64_t u;

		assert_non_null(comma);
		*comma = 0;
		u = strtoull(line, NULL, 16);
		assert_int_equal(jcs_format_number(bits_to_double(u), got, sizeof(got)), KBS_OK);
		if (strcmp(got, comma + 1) != 0) {
			if (bad++ < 10)
				print_error("%s: %s -> got %s, expected %s\n", rel, line, got,
					    comma + 1);
		}
		lines++;
	}
	free(txt);
	assert_int_equal(bad, 0);
	return lines;
}

static void es6_number_file_all_lines_match(void **state)
{
	assert_int_equal(run_number_file("jcs/numbers/es6testfile10k.txt"), 10000);
	assert_int_equal(run_number_file("jcs/numbers/readme-sample.txt"), 7);
}

static void expect_num(double d, const char *want)
{
	char got[JCS_NUMBER_MAX];

	assert_int_equal(jcs_format_number(d, got, sizeof(got)), KBS_OK);
	if (strcmp(got, want) != 0)
		fail_msg("%.17g: got %s, expected %s", d, got, want);
	/* whatever we print must read back as the same double */
	if (d == d && strtod(got, NULL) != d && !(d == 0))
		fail_msg("%s does not round-trip", got);
}

static void number_formatting_edge_cases(void **state)
{
	expect_num(0.0, "0");
	expect_num(-0.0, "0");
	expect_num(1.0, "1");
	expect_num(-1.5, "-1.5");
	expect_num(0.1, "0.1");
	expect_num(1.0 / 3.0, "0.3333333333333333");
	/* exponent thresholds: 1e21 switches to exponent form, 1e-7 too, 1e-6 does not */
	expect_num(1e21, "1e+21");
	expect_num(999999999999999900000.0, "999999999999999900000");
	expect_num(1e20, "100000000000000000000");
	expect_num(1.5e21, "1.5e+21");
	expect_num(1e-7, "1e-7");
	expect_num(1.5e-7, "1.5e-7");
	expect_num(1e-6, "0.000001");
	expect_num(1.25e-6, "0.00000125");
	expect_num(123e-20, "1.23e-18");
	/* extremes */
	expect_num(5e-324, "5e-324");
	expect_num(-5e-324, "-5e-324");
	expect_num(DBL_MIN, "2.2250738585072014e-308");
	expect_num(DBL_MAX, "1.7976931348623157e+308");
	/* 2^53 and its neighbourhood */
	expect_num(9007199254740992.0, "9007199254740992");
	expect_num(9007199254740994.0, "9007199254740994");
	expect_num(4503599627370495.5, "4503599627370495.5");
	/* shortest digits that round-trip, not the 17-digit form */
	expect_num(333333333.33333329, "333333333.3333333");
	expect_num(1e23, "1e+23");
	expect_num(5e-7, "5e-7");
	expect_num(295147905179352830000.0, "295147905179352830000");
	/* Powers of two have a lower rounding interval half the upper one; for these the
	 * correctly rounded 16-digit value (…4e-307, …1e+26) does not read back, but the
	 * neighbour above does and is the shortest form. */
	expect_num(ldexp(1.0, -1017), "7.120236347223045e-307");
	expect_num(ldexp(1.0, 89), "6.189700196426902e+26");
	expect_num(ldexp(1.0, 976), "6.386688990511104e+293");
	expect_num(ldexp(1.0, -44), "5.684341886080802e-14");
	expect_num(ldexp(1.0, 1023), "8.98846567431158e+307");
	expect_num(ldexp(1.0, -1022), "2.2250738585072014e-308");
}

static void non_finite_numbers_rejected(void **state)
{
	char got[JCS_NUMBER_MAX];
	char tiny[4];

	assert_int_equal(jcs_format_number(NAN, got, sizeof(got)), KBS_ERR_INVAL);
	assert_int_equal(jcs_format_number(INFINITY, got, sizeof(got)), KBS_ERR_INVAL);
	assert_int_equal(jcs_format_number(-INFINITY, got, sizeof(got)), KBS_ERR_INVAL);
	assert_int_equal(jcs_format_number(1.5e300, tiny, sizeof(tiny)), KBS_ERR_RANGE);
}

static void canon_ok(const char *in, const char *want)
{
	struct buf b = BUF_INIT;
	int rc = jcs_canonicalize_text(in, strlen(in), &b);

	if (rc != KBS_OK)
		fail_msg("%s: rc %d", in, rc);
	if (strcmp((char *)b.p, want) != 0)
		fail_msg("%s: got %s, expected %s", in, (char *)b.p, want);
	buf_release(&b);
}

static void integers_limited_to_two_pow_53(void **state)
{
	struct buf b = BUF_INIT;
	json_t *v;

	canon_ok("[9007199254740992,-9007199254740992,0,-0,1E2,100.0]",
		 "[9007199254740992,-9007199254740992,0,0,100,100]");
	v = json_pack("{s:I}", "n", (json_int_t)9007199254740993LL);
	assert_non_null(v);
	assert_int_equal(jcs_serialize(v, &b), KBS_ERR_RANGE);
	assert_int_equal(b.len, 0);
	json_decref(v);
	v = json_integer(-9007199254740993LL);
	assert_int_equal(jcs_serialize(v, &b), KBS_ERR_RANGE);
	json_decref(v);
	/* as a real the same magnitude is a plain double and prints as ECMAScript would */
	canon_ok("9007199254740993.0", "9007199254740992");
	buf_release(&b);
}

static void keys_sorted_by_utf16_code_units(void **state)
{
	/* U+1F602 (UTF-16 D83D DE02) sorts before U+FB33 although its code point is larger;
	 * U+10000 (D800 DC00) before U+FFFF; a prefix sorts before its extensions. */
	canon_ok(
	    "{\"\\ufb33\":1,\"\\ud83d\\ude02\":2,\"\\u00e9\":3,\"a\":4,\"ab\":5,\"\":6,\"B\":7}",
	    "{\"\":6,\"B\":7,\"a\":4,\"ab\":5,\"\xc3\xa9\":3,\"\xf0\x9f\x98\x82\":2,"
	    "\"\xef\xac\xb3\":1}");
	canon_ok("{\"\\uffff\":1,\"\\ud800\\udc00\":2}",
		 "{\"\xf0\x90\x80\x80\":2,\"\xef\xbf\xbf\":1}");
	/* nested objects are sorted too, arrays keep their order */
	canon_ok("{\"b\":[{\"z\":1,\"y\":2},3],\"a\":{\"d\":null,\"c\":true}}",
		 "{\"a\":{\"c\":true,\"d\":null},\"b\":[{\"y\":2,\"z\":1},3]}");
}

static void strings_minimally_escaped(void **state)
{
	struct buf b = BUF_INIT;
	json_t *v;

	canon_ok("\"\\u0001\\b\\t\\n\\u000b\\f\\r\\u001f \\u007f\\/\\\"\\\\\\u00e9\"",
		 "\"\\u0001\\b\\t\\n\\u000b\\f\\r\\u001f \x7f/\\\"\\\\\xc3\xa9\"");
	/* NUL never gets through json_parse by default; a built string with one is escaped */
	v = json_stringn("a\0b", 3);
	assert_non_null(v);
	assert_int_equal(jcs_serialize(v, &b), KBS_OK);
	assert_string_equal((char *)b.p, "\"a\\u0000b\"");
	json_decref(v);
	buf_release(&b);
}

static void malformed_input_rejected(void **state)
{
	static const char *const bad[] = {
	    "{\"a\":1,\"a\":2}", /* duplicate member */
	    "{} x",		 /* trailing data */
	    "[1,]",		 /* trailing comma */
	    "NaN",
	    "[Infinity]",
	    "1e400",		    /* not representable */
	    "\"\\ud800\"",	    /* lone surrogate */
	    "\"\xc3\x28\"",	    /* invalid UTF-8 */
	    "12345678901234567890", /* integer beyond int64 in jansson */
	    "",
	    "{\"a\" 1}",
	};
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (jcs_canonicalize_text(bad[i], strlen(bad[i]), &b) != KBS_ERR_PARSE)
			fail_msg("accepted or wrong error: %s", bad[i]);
		assert_int_equal(b.len, 0);
	}
	buf_release(&b);
}

static void invalid_utf8_in_built_values_rejected(void **state)
{
	struct buf b = BUF_INIT;
	json_t *o = json_object();

	assert_int_equal(buf_append_str(&b, "prefix"), KBS_OK);
	json_object_set_new(o, "k", json_stringn_nocheck("\xed\xa0\x80", 3)); /* CESU surrogate */
	assert_int_equal(jcs_serialize(o, &b), KBS_ERR_INVAL);
	/* failure leaves earlier content intact */
	assert_int_equal(b.len, 6);
	assert_string_equal((char *)b.p, "prefix");
	json_decref(o);
	o = json_object();
	json_object_setn_new_nocheck(o, "\xff", 1, json_true());
	json_object_set_new(o, "a", json_true());
	assert_int_equal(jcs_serialize(o, &b), KBS_ERR_INVAL);
	json_decref(o);
	buf_release(&b);
}

static void nesting_depth_bounded(void **state)
{
	json_t *root = json_array(), *cur = root;
	struct buf b = BUF_INIT;

	for (int i = 0; i < 3000; i++) {
		json_t *next = json_array();

		json_array_append_new(cur, next);
		cur = next;
	}
	assert_int_equal(jcs_serialize(root, &b), KBS_ERR_RANGE);
	assert_int_equal(b.len, 0);
	json_decref(root);
	buf_release(&b);
}

static void output_limit_respected(void **state)
{
	struct buf b;

	buf_init(&b, 8);
	assert_int_equal(jcs_canonicalize_text("{\"abcdef\":1}", 12, &b), KBS_ERR_RANGE);
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

static void hex_of(const uint8_t *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* JCS the given object, compare with the expected JCS text, hash and compare with hex. */
static void check_binding(json_t *obj, const char *want_jcs, const char *alg, const char *want_hex)
{
	struct buf b = BUF_INIT;
	uint8_t md[EVP_MAX_MD_SIZE], md2[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	size_t mdlen2 = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];

	assert_int_equal(jcs_serialize(obj, &b), KBS_OK);
	assert_string_equal((char *)b.p, want_jcs);
	assert_int_equal(EVP_Digest(b.p, b.len, md, &mdlen, EVP_get_digestbyname(alg), NULL), 1);
	hex_of(md, mdlen, hex);
	assert_string_equal(hex, want_hex);
	/* jcs_digest is the same computation in one call */
	assert_int_equal(jcs_digest(obj, alg, md2, sizeof(md2), &mdlen2), KBS_OK);
	assert_int_equal(mdlen2, mdlen);
	assert_memory_equal(md2, md, mdlen);
	buf_release(&b);
}

static void digest_arguments_checked(void **state)
{
	json_t *v = json_pack("{s:s}", "nonce", "n");
	uint8_t md[64];
	size_t mdlen = 99;

	assert_int_equal(jcs_digest(v, "md5", md, sizeof(md), &mdlen), KBS_ERR_UNSUPPORTED);
	assert_int_equal(jcs_digest(v, "SHA384", md, 47, &mdlen), KBS_ERR_RANGE);
	assert_int_equal(mdlen, 0);
	assert_int_equal(jcs_digest(v, "SHA384", md, 48, &mdlen), KBS_OK);
	assert_int_equal(mdlen, 48);
	json_decref(v);
	v = json_integer(INT64_C(1) << 60);
	assert_int_equal(jcs_digest(v, "sha256", md, sizeof(md), &mdlen), KBS_ERR_RANGE);
	json_decref(v);
}

static const char *str_at(json_t *root, const char *path)
{
	const char *s = NULL;
	struct json_err e;

	if (json_get_string(root, path, &s, &e) != KBS_OK)
		fail_msg("%s", e.msg);
	return s;
}

/* Builds {"tee-pubkey","nonce"[,"additional-evidence"]} in the member order the guest uses. */
static json_t *runtime_data(json_t *jwk, const char *nonce, const char *additional)
{
	json_t *o = json_object();

	json_object_set(o, "tee-pubkey", jwk);
	json_object_set_new(o, "nonce", json_string(nonce));
	if (additional)
		json_object_set_new(o, "additional-evidence", json_string(additional));
	return o;
}

static void runtime_data_binding_digests(void **state)
{
	static const char *const algs[] = {"sha256", "sha384", "sha512"};
	size_t len;
	char *txt = read_data("runtime-data/runtime-data-binding.json", &len);
	json_t *root, *jwk, *prim, *dev;
	struct json_err e;

	assert_int_equal(json_parse(txt, len, 0, &root, &e), KBS_OK);
	assert_int_equal(json_get_object(root, "tee_pubkey", &jwk, &e), KBS_OK);
	prim = runtime_data(jwk, str_at(root, "nonce"), "");
	dev = runtime_data(jwk, str_at(root, "nonce"), NULL);
	for (size_t i = 0; i < 3; i++) {
		char path[128];

		snprintf(path, sizeof(path), "by_alg.%s.primary_digest_hex", algs[i]);
		check_binding(prim, str_at(root, "primary_runtime_data_jcs"), algs[i],
			      str_at(root, path));
		snprintf(path, sizeof(path), "by_alg.%s.device_digest_hex", algs[i]);
		check_binding(dev, str_at(root, "device_runtime_data_jcs"), algs[i],
			      str_at(root, path));
	}
	json_decref(prim);
	json_decref(dev);
	json_decref(root);
	free(txt);

	/* the second, independently generated vector (different key) */
	txt = read_data("runtime-data/runtime-data-binding-vector.json", &len);
	assert_int_equal(json_parse(txt, len, 0, &root, &e), KBS_OK);
	assert_int_equal(json_get_object(root, "primary_runtime_data_object", &prim, &e), KBS_OK);
	check_binding(prim, str_at(root, "primary_runtime_data_jcs"), "sha384",
		      str_at(root, "primary_sha384_hex"));
	check_binding(prim, str_at(root, "primary_runtime_data_jcs"), "sha512",
		      str_at(root, "primary_sha512_hex_for_se"));
	assert_int_equal(json_get_object(root, "tee_pubkey_jwk", &jwk, &e), KBS_OK);
	dev = runtime_data(jwk, str_at(root, "challenge.nonce"), NULL);
	check_binding(dev, str_at(root, "device_runtime_data_jcs"), "sha384",
		      str_at(root, "device_sha384_hex"));
	json_decref(dev);
	json_decref(root);
	free(txt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rfc8785_vectors_match_byte_for_byte),
	    cmocka_unit_test(es6_number_file_all_lines_match),
	    cmocka_unit_test(number_formatting_edge_cases),
	    cmocka_unit_test(non_finite_numbers_rejected),
	    cmocka_unit_test(integers_limited_to_two_pow_53),
	    cmocka_unit_test(keys_sorted_by_utf16_code_units),
	    cmocka_unit_test(strings_minimally_escaped),
	    cmocka_unit_test(malformed_input_rejected),
	    cmocka_unit_test(invalid_utf8_in_built_values_rejected),
	    cmocka_unit_test(nesting_depth_bounded),
	    cmocka_unit_test(output_limit_respected),
	    cmocka_unit_test(runtime_data_binding_digests),
	    cmocka_unit_test(digest_arguments_checked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
