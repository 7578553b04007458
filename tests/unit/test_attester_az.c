// SPDX-License-Identifier: Apache-2.0
/* Guest-side HCL report check (attester/az_vtpm.c) on Trustee's recorded SNP HCL report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attester/az_vtpm.h"
#include "common/err.h"
#include "testdata.h"

static void recorded_snp_report_is_type_2(void **state)
{
	size_t len;
	uint8_t *b = td_read_file("attester/azure", "snp-hcl-report.bin", &len);
	uint32_t type = 0;

	(void)state;
	assert_int_equal(az_hcl_report_type(b, len, &type), KBS_OK);
	assert_int_equal(type, AZ_HCL_REPORT_TYPE_SNP);
	free(b);
}

static void bad_signature_short_or_overlong_vardata_rejected(void **state)
{
	size_t len;
	uint8_t *b = td_read_file("attester/azure", "snp-hcl-report.bin", &len);
	uint32_t type = 0;

	(void)state;
	assert_int_equal(az_hcl_report_type(b, 0x4D3, &type), KBS_ERR_PARSE);
	/* the declared variable data (1110 bytes) no longer fits */
	assert_int_equal(az_hcl_report_type(b, 0x4D4 + 1109, &type), KBS_ERR_PARSE);
	assert_int_equal(az_hcl_report_type(b, 0x4D4 + 1110, &type), KBS_OK);
	b[0] = 'X';
	assert_int_equal(az_hcl_report_type(b, len, &type), KBS_ERR_PARSE);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(recorded_snp_report_is_type_2),
		cmocka_unit_test(bad_signature_short_or_overlong_vardata_rejected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
