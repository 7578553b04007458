// SPDX-License-Identifier: Apache-2.0
/*
 * The strict CBOR reader (common/cbor.c) shared by the CCA verifier and the CoRIM extractor:
 * RFC 8949 Appendix A encodings, real CCA and CoRIM samples, and every item it refuses
 * (indefinite lengths, reserved additional information, floats and other simple values,
 * negative integers below INT64_MIN, bad UTF-8, truncation, trailing bytes, deep nesting,
 * impossible counts, duplicate and composite map keys).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cbor.h"
#include "common/err.h"
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
	return cbor_check(b, unhex(h, b));
}

static void test_rfc8949_examples(void **state)
{
	uint8_t b[64];
	struct cbor_cur c;
	struct cbor_item it;
	int64_t v;
	size_t n;

	(void)state;
	n = unhex("1903e8", b);
	cbor_init(&c, b, n);
	assert_int_equal(cbor_next(&c, &it), KBS_OK);
	assert_int_equal(it.major, CBOR_UINT);
	assert_int_equal(it.arg, 1000);
	assert_true(cbor_at_end(&c));
	n = unhex("3903e7", b); /* -1000 */
	cbor_init(&c, b, n);
	assert_int_equal(cbor_next(&c, &it), KBS_OK);
	assert_int_equal(it.major, CBOR_NINT);
	assert_int_equal(it.arg, 999);
	assert_int_equal(cbor_int(&it, &v), KBS_OK);
	assert_int_equal(v, -1000);
	n = unhex("1bffffffffffffffff", b);
	cbor_init(&c, b, n);
	assert_int_equal(cbor_next(&c, &it), KBS_OK);
	assert_true(it.arg == UINT64_MAX);
	assert_int_equal(cbor_int(&it, &v), KBS_ERR_RANGE); /* no int64 for it */
	n = unhex("3b7fffffffffffffff", b); /* INT64_MIN, the smallest accepted */
	cbor_init(&c, b, n);
	assert_int_equal(cbor_next(&c, &it), KBS_OK);
	assert_int_equal(cbor_int(&it, &v), KBS_OK);
	assert_true(v == INT64_MIN);
	n = unhex("6449455446", b); /* "IETF" */
	cbor_init(&c, b, n);
	assert_int_equal(cbor_next(&c, &it), KBS_OK);
	assert_int_equal(it.major, CBOR_TEXT);
	assert_int_equal(it.arg, 4);
	assert_memory_equal(it.data, "IETF", 4);
	assert_int_equal(cbor_int(&it, &v), KBS_ERR_PARSE);
	n = unhex("d82076687474703a2f2f7777772e6578616d706c652e636f6d", b); /* 32("http...") */
	cbor_init(&c, b, n);
	assert_int_equal(cbor_next(&c, &it), KBS_OK);
	assert_int_equal(it.major, CBOR_TAG);
	assert_int_equal(it.arg, 32);
	assert_int_equal(cbor_skip_rest(&c, &it), KBS_OK);
	assert_true(cbor_at_end(&c));
	/* well-formed items of every accepted kind */
	const char *ok[] = {"00", "17", "1818", "20", "40", "4401020304", "60", "62c3bc", "80",
			    "8301820203820405", "a0", "a201020304", "a26161016162820203",
			    "c11a514b67b0", "f4", "f5", "f6", "1900ff" /* non-shortest head */};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (check_hex(ok[i]) != KBS_OK)
			fail_msg("refused %s", ok[i]);
}

static void test_real_samples(void **state)
{
	size_t n;
	uint8_t *cca = td_read_file("cca", "cca-example-token.cbor", &n);
	uint8_t *corim;

	(void)state;
	assert_int_equal(cbor_check(cca, n), KBS_OK);
	/* every proper prefix of a real token is refused */
	for (size_t k = 0; k < n; k += (k < 300 ? 1 : 37))
		assert_int_equal(cbor_check(cca, k), KBS_ERR_PARSE);
	free(cca);
	corim = td_read_file("rvps", "unsigned-example-corim.cbor", &n);
	assert_int_equal(cbor_check(corim, n), KBS_OK);
	free(corim);
}

static void test_refused_items(void **state)
{
	const char *bad[] = {
	    "",                   /* nothing */
	    "5f42010243030405ff", /* indefinite byte string */
	    "9fff",               /* indefinite array */
	    "9f01ff",             /* indefinite array with an item */
	    "bf6346756ef563416d7421ff", /* indefinite map */
	    "1c", "1d", "1e",     /* reserved additional information */
	    "ff",                 /* lone break */
	    "f818",               /* two-byte simple value < 32 */
	    "f820", "f0", "f7",   /* other simple values: (32), (16), undefined */
	    "f93c00", "fa47c35000", "fb3ff199999999999a", /* floats */
	    "3b8000000000000000", /* negative integer below INT64_MIN */
	    "1903",               /* truncated argument */
	    "440102",             /* truncated byte string */
	    "5affffffff",         /* 4 GiB byte string in 5 bytes */
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
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (check_hex(bad[i]) == KBS_OK)
			fail_msg("accepted %s", bad[i]);
	/* nesting: 10 levels fine, CBOR_MAX_DEPTH + 2 and 200 refused (bounded recursion) */
	uint8_t deep[201];
	memset(deep, 0x81, 200);
	deep[200] = 0x00;
	assert_int_equal(cbor_check(deep + 190, 11), KBS_OK);
	assert_int_equal(cbor_check(deep + 200 - (CBOR_MAX_DEPTH + 2), CBOR_MAX_DEPTH + 3),
			 KBS_ERR_PARSE);
	assert_int_equal(cbor_check(deep, 201), KBS_ERR_PARSE);
	memset(deep, 0xc1, 200); /* tag chains count too */
	assert_int_equal(cbor_check(deep, 201), KBS_ERR_PARSE);
}

static void test_map_find(void **state)
{
	uint8_t b[64];
	struct cbor_cur c, v;
	struct cbor_item m, it;
	size_t n;

	(void)state;
	/* {1: "a", -2: [3], "k": 4} */
	n = unhex("a3016161218103616b04", b);
	cbor_init(&c, b, n);
	assert_int_equal(cbor_next(&c, &m), KBS_OK);
	assert_int_equal(cbor_map_find(&c, &m, 1, &v), KBS_OK);
	assert_int_equal(cbor_next(&v, &it), KBS_OK);
	assert_int_equal(it.major, CBOR_TEXT);
	assert_memory_equal(it.data, "a", 1);
	assert_int_equal(cbor_map_find(&c, &m, -2, &v), KBS_OK);
	assert_int_equal(cbor_next(&v, &it), KBS_OK);
	assert_int_equal(it.major, CBOR_ARRAY);
	assert_int_equal(cbor_map_find(&c, &m, 4, &v), KBS_ERR_NOTFOUND);
	assert_int_equal(c.off, 1); /* the map cursor did not move */
	/* {1: 2, 1: 3}: duplicate key */
	n = unhex("a201020103", b);
	cbor_init(&c, b, n);
	assert_int_equal(cbor_next(&c, &m), KBS_OK);
	assert_int_equal(cbor_map_find(&c, &m, 1, &v), KBS_ERR_PARSE);
	/* {[1]: 2}: composite key */
	n = unhex("a1810102", b);
	cbor_init(&c, b, n);
	assert_int_equal(cbor_next(&c, &m), KBS_OK);
	assert_int_equal(cbor_map_find(&c, &m, 1, &v), KBS_ERR_PARSE);
	/* not a map */
	n = unhex("8101", b);
	cbor_init(&c, b, n);
	assert_int_equal(cbor_next(&c, &m), KBS_OK);
	assert_int_equal(cbor_map_find(&c, &m, 1, &v), KBS_ERR_PARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8949_examples),
		cmocka_unit_test(test_real_samples),
		cmocka_unit_test(test_refused_items),
		cmocka_unit_test(test_map_find),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
