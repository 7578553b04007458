// SPDX-License-Identifier: Apache-2.0
/*
 * The CoRIM extractor on Trustee's unsigned example (every truncation refused, tag prefixes
 * stripped) and a CoRIM registration message. The CBOR reader under it: test_cbor.c.
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
#include "rvps/rvps.h"
#include "testdata.h"

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
		cmocka_unit_test(test_corim_trustee_example),
		cmocka_unit_test(test_corim_message_registers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
