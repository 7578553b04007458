// SPDX-License-Identifier: Apache-2.0
/* base64/base64url/hex: RFC 4648 §10 vectors and strict-decoding negative cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"

static const char *const rfc_in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const rfc_std[] = {"",	  "Zg==",     "Zm8=",	 "Zm9v",
				      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
static const char *const rfc_url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};

static void rfc4648_vectors_roundtrip(void **state)
{
	for (size_t i = 0; i < 7; i++) {
		char enc[32];
		uint8_t dec[32];
		size_t n;

		assert_int_equal(b64_encode((const uint8_t *)rfc_in[i], strlen(rfc_in[i]), enc,
					    sizeof(enc), B64_STD),
				 KBS_OK);
		assert_string_equal(enc, rfc_std[i]);
		assert_int_equal(b64_encode((const uint8_t *)rfc_in[i], strlen(rfc_in[i]), enc,
					    sizeof(enc), B64_URL),
				 KBS_OK);
		assert_string_equal(enc, rfc_url[i]);
		assert_int_equal(b64_decode(rfc_std[i], strlen(rfc_std[i]), dec, sizeof(dec), &n,
					    B64_STD),
				 KBS_OK);
		assert_int_equal(n, strlen(rfc_in[i]));
		assert_memory_equal(dec, rfc_in[i], n);
		assert_int_equal(b64_decode(rfc_url[i], strlen(rfc_url[i]), dec, sizeof(dec), &n,
					    B64_URL),
				 KBS_OK);
		assert_int_equal(n, strlen(rfc_in[i]));
	}
}

static void url_alphabet_differs(void **state)
{
	const uint8_t in[] = {0xfb, 0xff, 0xbf};
	char enc[8];
	uint8_t dec[8];
	size_t n;

	assert_int_equal(b64_encode(in, 3, enc, sizeof(enc), B64_URL), KBS_OK);
	assert_string_equal(enc, "-_-_");
	assert_int_equal(b64_encode(in, 3, enc, sizeof(enc), B64_STD), KBS_OK);
	assert_string_equal(enc, "+/+/");
	assert_int_equal(b64_decode("-_-_", 4, dec, sizeof(dec), &n, B64_STD), KBS_ERR_PARSE);
	assert_int_equal(b64_decode("+/+/", 4, dec, sizeof(dec), &n, B64_URL), KBS_ERR_PARSE);
}

static void strict_decoding_rejects(void **state)
{
	static const char *const bad_std[] = {
		"Zg=",	 /* missing padding */
		"Zg",	 /* no padding at all */
		"Zh==",	 /* non-zero trailing bits */
		"Zm9=",	 /* non-zero trailing bits */
		"Zg==Zg==", /* padding in the middle */
		"Z===",	 /* too much padding */
		"Zm 9v", /* whitespace */
		"Zm9v\n",
		"Zm9*",	 /* bad char */
		"=",
	};
	static const char *const bad_url[] = {"Zg==", "Zh", "Z", "Zm9v=", "Zm+v", "Zm/v"};
	uint8_t out[32];
	size_t n;

	for (size_t i = 0; i < sizeof(bad_std) / sizeof(bad_std[0]); i++)
		assert_int_equal(b64_decode(bad_std[i], strlen(bad_std[i]), out, sizeof(out), &n,
					    B64_STD),
				 KBS_ERR_PARSE);
	for (size_t i = 0; i < sizeof(bad_url) / sizeof(bad_url[0]); i++)
		assert_int_equal(b64_decode(bad_url[i], strlen(bad_url[i]), out, sizeof(out), &n,
					    B64_URL),
				 KBS_ERR_PARSE);
}

static void small_output_buffer_is_range_error(void **state)
{
	uint8_t out[2];
	char enc[4];
	size_t n;

	assert_int_equal(b64_decode("Zm9v", 4, out, sizeof(out), &n, B64_STD), KBS_ERR_RANGE);
	assert_int_equal(b64_encode((const uint8_t *)"foo", 3, enc, sizeof(enc), B64_STD),
			 KBS_ERR_RANGE);
}

static void alloc_helpers(void **state)
{
	char *e;
	uint8_t *d;
	size_t n;

	assert_int_equal(b64_encode_alloc((const uint8_t *)"foobar", 6, B64_URL, &e), KBS_OK);
	assert_string_equal(e, "Zm9vYmFy");
	assert_int_equal(b64_decode_alloc(e, strlen(e), B64_URL, &d, &n), KBS_OK);
	assert_int_equal(n, 6);
	assert_string_equal((char *)d, "foobar");
	free(e);
	free(d);
	assert_int_equal(b64_decode_alloc("@@", 2, B64_URL, &d, &n), KBS_ERR_PARSE);
	assert_null(d);
}

static void hex_roundtrip_and_rejects(void **state)
{
	uint8_t out[8];
	char enc[17];
	size_t n;

	assert_int_equal(hex_decode("00fFa1", 6, out, sizeof(out), &n), KBS_OK);
	assert_int_equal(n, 3);
	assert_int_equal(out[1], 0xff);
	assert_int_equal(hex_encode(out, 3, enc, sizeof(enc)), KBS_OK);
	assert_string_equal(enc, "00ffa1");
	assert_int_equal(hex_decode("abc", 3, out, sizeof(out), &n), KBS_ERR_PARSE);
	assert_int_equal(hex_decode("zz", 2, out, sizeof(out), &n), KBS_ERR_PARSE);
	assert_int_equal(hex_decode("0011223344556677889900", 22, out, sizeof(out), &n),
			 KBS_ERR_RANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc4648_vectors_roundtrip),
		cmocka_unit_test(url_alphabet_differs),
		cmocka_unit_test(strict_decoding_rejects),
		cmocka_unit_test(small_output_buffer_is_range_error),
		cmocka_unit_test(alloc_helpers),
		cmocka_unit_test(hex_roundtrip_and_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
