// SPDX-License-Identifier: Apache-2.0
/*
 * Strict CBOR reader: RFC 8949 Appendix A encodings, the items it refuses (indefinite
 * lengths, reserved additional information, short simple values, bad UTF-8, truncation,
 * trailing bytes, deep nesting, impossible counts), and the CoRIM extractor on Trustee's
 * unsigned example (every truncation refused, tag prefixes stripped).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rvps/rvps_cbor.h"
#include "common/err.h"
#include "rvps/rvps.h"
#include "testdata.h"

static size_t unhex(const char *h, uint8_t *out)
{
	size_t n = strlen(h) / 2;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	return n;
}

static int check_hex(const char *h)
{
	uint8_t b[512];
	return rvps_cbor_check(b, unhex(h, b));
}

static void test_rfc8949_examples(void **state)
{
	uint8_t b[64];
	struct rvps_cbor_cur c;
	struct rvps_cbor_item it;
	size_t n;

	n = unhex("1903e8", b);
	rvps_cbor_init(&c, b, n);
	assert_int_equal(rvps_cbor_next(&c, &it), KBS_OK);
	assert_int_equal(it.major, RCBOR_UINT);
	assert_int_equal(it.arg, 1000);
	assert_true(rvps_cbor_at_end(&c));
	n = unhex("3903e7", b); /* -1000 */
	rvps_cbor_init(&c, b, n);
	assert_int_equal(rvps_cbor_next(&c, &it), KBS_OK);
	assert_int_equal(it.major, RCBOR_NINT);
	assert_int_equal(it.arg, 999);
	n = unhex("1bffffffffffffffff", b);
	rvps_cbor_init(&c, b, n);
	assert_int_equal(rvps_cbor_next(&c, &it), KBS_OK);
	assert_true(it.arg == UINT64_MAX);
	n = unhex("6449455446", b); /* "IETF" */
	rvps_cbor_init(&c, b, n);
	assert_int_equal(rvps_cbor_next(&c, &it), KBS_OK);
	assert_int_equal(it.major, RCBOR_TEXT);
	assert_int_equal(it.arg, 4);
	assert_memory_equal(it.data, "IETF", 4);
	n = unhex("d82076687474703a2f2f7777772e6578616d706c652e636f6d", b); /* 32("http...") */
	rvps_cbor_init(&c, b, n);
	assert_int_equal(rvps_cbor_next(&c, &it), KBS_OK);
	assert_int_equal(it.major, RCBOR_TAG);
	assert_int_equal(it.arg, 32);
	assert_int_equal(rvps_cbor_skip_rest(&c, &it), KBS_OK);
	assert_true(rvps_cbor_at_end(&c));
	/* well-formed items of every major type */
	const char *ok[] = {"00", "17", "1818", "20", "40", "4401020304", "60", "62c3bc", "80",
			    "8301820203820405", "a0", "a201020304", "a26161016162820203",
			    "c11a514b67b0", "f4", "f5", "f6", "f7", "f820", "f93c00", "fa47c35000",
			    "fb3ff199999999999a", "f0"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (check_hex(ok[i]) != KBS_OK)
			fail_msg("refused %s", ok[i]);
}

static void test_refused_items(void **state)
{
	const char *bad[] = {
	    "",                   /* nothing */
	    "5f42010243030405ff", /* indefinite byte string */
	    "9fff",               /* indefinite array */
	    "bf6346756ef563416d7421ff", /* indefinite map */
	    "1c", "1d", "1e",     /* reserved additional information */
	    "ff",                 /* lone break */
	    "f818",               /* two-byte simple value < 32 */
	    "1903",               /* truncated argument */
	    "440102",             /* truncated byte string */
	    "62c328",             /* invalid UTF-8 */
	    "63eda080",           /* UTF-16 surrogate in UTF-8 */
	    "62c0af",             /* overlong */
	    "8201",               /* array missing an item */
	    "a1010203",           /* map, then trailing byte */
	    "0000",               /* two top-level items */
	    "9bffffffffffffffff", /* count larger than the input */
	    "bbffffffffffffffff00",
	    "c1",                 /* tag without content */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (check_hex(bad[i]) == KBS_OK)
			fail_msg("accepted %s", bad[i]);
	/* nesting: 10 levels fine, 200 refused (bounded recursion) */
	uint8_t deep[201];
	memset(deep, 0x81, 200);
	deep[200] = 0x00;
	assert_int_equal(rvps_cbor_check(deep + 190, 11), KBS_OK);
	assert_int_equal(rvps_cbor_check(deep, 201), KBS_ERR_PARSE);
	memset(deep, 0xc1, 200); /* tag chains count too */
	assert_int_equal(rvps_cbor_check(deep, 201), KBS_ERR_PARSE);
}

static void test_corim_trustee_example(void **state)
{
	size_t n;
	uint8_t *p = td_read_file("rvps", "unsigned-example-corim.cbor", &n);
	struct rvps_rv_list l = {0};
	char why[300];

	assert_int_equal(rvps_extract_corim(p, n, 7, &l, why, sizeof(why)), KBS_OK);
	/* Trustee's extract_test_corim: rvs[2] */
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[2].name,
			    "ACME/RoadRunner/31fb5abf-023e-4992-aa4e-95f9c1503bfa/digests");
	assert_string_equal(json_string_value(json_array_get(l.v[2].value, 0)),
			    "a3a5e715f0cc574a73c3f9bebb6bc24f32ffd5b67b387244c2c909da779a1478");
	assert_string_equal(json_string_value(json_array_get(l.v[0].value, 0)),
			    "87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7");
	assert_int_equal(l.v[0].expiration, 7);
	rvps_rv_list_release(&l);
	/* every truncation is refused and leaves nothing behind */
	for (size_t k = 0; k < n; k++) {
		assert_int_not_equal(rvps_extract_corim(p, k, 7, &l, why, sizeof(why)), KBS_OK);
		assert_int_equal(l.n, 0);
	}
	/* a trailing byte is refused; #6.500 / #6.502 heads in front are stripped */
	uint8_t *q = malloc(n + 6);
	memcpy(q, p, n);
	q[n] = 0;
	assert_int_equal(rvps_extract_corim(q, n + 1, 7, &l, why, sizeof(why)), KBS_ERR_PARSE);
	memcpy(q, "\xd9\x01\xf4\xd9\x01\xf6", 6);
	memcpy(q + 6, p, n);
	assert_int_equal(rvps_extract_corim(q, n + 6, 7, &l, why, sizeof(why)), KBS_OK);
	assert_int_equal(l.n, 3);
	rvps_rv_list_release(&l);
	/* not a CoRIM at all */
	assert_int_equal(rvps_extract_corim((const uint8_t *)"\x01", 1, 7, &l, why, sizeof(why)),
			 KBS_ERR_PARSE);
	free(q);
	free(p);
}

static void test_corim_message_registers(void **state)
{
	struct rvps_config c;
	struct rvps *r = NULL;
	size_t n;
	char *m = td_read_file("rvps", "rvps-corim-message-example.json", &n);
	char why[300];
	json_t *v;

	rvps_config_init(&c);
	assert_int_equal(rvps_new(&c, &r, why, sizeof(why)), KBS_OK);
	assert_int_equal(rvps_register(r, m, n, why, sizeof(why)), KBS_OK);
	/* the three claims share one name: the last one is what is stored */
	assert_int_equal(rvps_query(r, "ACME/RoadRunner/31fb5abf-023e-4992-aa4e-95f9c1503bfa/"
				       "digests", &v, why, sizeof(why)), KBS_OK);
	assert_string_equal(json_string_value(json_array_get(v, 0)),
			    "a3a5e715f0cc574a73c3f9bebb6bc24f32ffd5b67b387244c2c909da779a1478");
	json_decref(v);
	rvps_free(r);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8949_examples),
		cmocka_unit_test(test_refused_items),
		cmocka_unit_test(test_corim_trustee_example),
		cmocka_unit_test(test_corim_message_registers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
