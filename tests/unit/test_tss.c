// SPDX-License-Identifier: Apache-2.0
/*
 * tpm2-tss loaded on demand: the libraries are not in the process until a TPM context needs
 * them, every function resolves, and a missing library or symbol fails with an error that
 * names it (and leaves nothing loaded).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attester/tss.h"
#include "common/err.h"
#include "testdata.h"

static void tss_libraries_are_mapped_only_while_loaded(void **state)
{
	struct tss_api *api = NULL;
	char err[512];

	(void)state;
	/* linking the attester library must not pull tpm2-tss into every process */
	assert_false(td_mapped("libtss2-esys"));
	assert_false(td_mapped("libtss2-tctildr"));
	assert_int_equal(tss_api_load(NULL, &api, err, sizeof(err)), KBS_OK);
	assert_string_equal(err, "");
	assert_true(td_mapped("libtss2-esys"));
	assert_true(td_mapped("libtss2-tctildr"));
	/* every member resolved, and to the library's own function */
	assert_non_null(api->Esys_Quote);
	assert_non_null(api->Tss2_TctiLdr_Initialize);
	assert_non_null(api->Tss2_MU_TPMS_ATTEST_Unmarshal);
	assert_string_equal(api->Tss2_RC_Decode(0), "tpm:success");
	tss_api_free(api);
	assert_false(td_mapped("libtss2-esys"));
	tss_api_free(NULL);
}

static void missing_library_is_named_in_the_error(void **state)
{
	const char *libs[TSS_LIB_COUNT] = {"libtss2-tctildr.so.0", "libtss2-esys-missing.so.9",
					   "libtss2-mu.so.0", "libtss2-rc.so.0"};
	struct tss_api *api = (struct tss_api *)&libs; /* must be reset to NULL */
	char err[512];

	(void)state;
	assert_int_equal(tss_api_load(libs, &api, err, sizeof(err)), KBS_ERR_UNAVAILABLE);
	assert_null(api);
	assert_non_null(strstr(err, "cannot load libtss2-esys-missing.so.9"));
	assert_non_null(strstr(err, "tpm2-tss"));
	/* the libraries opened before the failure were closed again */
	assert_false(td_mapped("libtss2-tctildr"));
}

static void missing_symbol_is_named_in_the_error(void **state)
{
	/* libtss2-rc in the esys slot: loads, but has no Esys_* functions */
	const char *libs[TSS_LIB_COUNT] = {"libtss2-tctildr.so.0", "libtss2-rc.so.0",
					   "libtss2-mu.so.0", "libtss2-rc.so.0"};
	struct tss_api *api = NULL;
	char err[512];

	(void)state;
	assert_int_equal(tss_api_load(libs, &api, err, sizeof(err)), KBS_ERR_UNAVAILABLE);
	assert_null(api);
	assert_non_null(strstr(err, "libtss2-rc.so.0 has no symbol Esys_Initialize"));
	assert_false(td_mapped("libtss2-rc"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tss_libraries_are_mapped_only_while_loaded),
		cmocka_unit_test(missing_library_is_named_in_the_error),
		cmocka_unit_test(missing_symbol_is_named_in_the_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
