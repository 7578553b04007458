// SPDX-License-Identifier: Apache-2.0
/*
 * Optional libraries loaded on demand (common/dynlib.h): libxml2 is not in a process that links
 * the project's libraries until something loads it; a missing library or symbol fails with an
 * error naming it and leaves nothing mapped; a complete load resolves callable functions and
 * data symbols, and stays mapped after its last user (RTLD_NODELETE).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/dynlib.h"
#include "common/err.h"
#include "testdata.h"

/* a few libxml2 members, declared by hand: this test does not need libxml2's headers */
struct mini_xml {
	void *lib[2];
	int (*xmlStrlen)(const unsigned char *);
	int (*xmlStrcmp)(const unsigned char *, const unsigned char *);
	void (**xmlFree)(void *); /* a data symbol: the variable holding the deallocator */
};

static const struct dynlib_sym mini_syms[] = {
	DYNLIB_SYM(struct mini_xml, 0, xmlStrlen),
	DYNLIB_SYM(struct mini_xml, 0, xmlStrcmp),
	DYNLIB_SYM(struct mini_xml, 0, xmlFree),
};

static void linked_code_does_not_map_libxml2(void **state)
{
	(void)state;
	/* every project library is linked into this binary; none may pull libxml2 in */
	assert_false(td_mapped("libxml2"));
	assert_false(td_mapped("libicuuc"));
}

static void missing_library_is_named_and_nothing_stays_loaded(void **state)
{
	const char *libs[2] = {"libxml2.so.2", "libkbs-no-such-library.so.7"};
	struct mini_xml x;
	char err[512];

	(void)state;
	memset(&x, 0xa5, sizeof(x));
	assert_int_equal(dynlib_load("test feature", "Debian: nothing", libs, 2, mini_syms, 3,
				     x.lib, &x, err, sizeof(err)),
			 KBS_ERR_UNAVAILABLE);
	assert_non_null(strstr(err, "test feature: cannot load libkbs-no-such-library.so.7"));
	assert_non_null(strstr(err, "install Debian: nothing"));
	assert_null(x.lib[0]);
	assert_null(x.lib[1]);
	assert_false(td_mapped("libxml2")); /* the first library was closed again */
}

static void missing_symbol_is_named_and_nothing_stays_loaded(void **state)
{
	const char *libs[1] = {"libxml2.so.2"};
	struct mini_api {
		void *lib[1];
		void (*xmlNoSuchFunction)(void);
	} a;
	const struct dynlib_sym syms[] = {DYNLIB_SYM(struct mini_api, 0, xmlNoSuchFunction)};
	char err[512];

	(void)state;
	assert_int_equal(dynlib_load("test feature", NULL, libs, 1, syms, 1, a.lib, &a, err,
				     sizeof(err)),
			 KBS_ERR_UNAVAILABLE);
	assert_non_null(strstr(err, "libxml2.so.2 has no symbol xmlNoSuchFunction"));
	assert_false(td_mapped("libxml2"));
}

static void bad_arguments_are_refused(void **state)
{
	const char *libs[1] = {"libxml2.so.2"};
	struct mini_xml x;
	const struct dynlib_sym bad[] = {{5, "xmlStrlen", offsetof(struct mini_xml, xmlStrlen)}};

	(void)state;
	assert_int_equal(dynlib_load(NULL, NULL, libs, 1, mini_syms, 3, x.lib, &x, NULL, 0),
			 KBS_ERR_INVAL);
	assert_int_equal(dynlib_load("t", NULL, libs, 0, mini_syms, 3, x.lib, &x, NULL, 0),
			 KBS_ERR_INVAL);
	assert_int_equal(dynlib_load("t", NULL, libs, 1, bad, 1, x.lib, &x, NULL, 0),
			 KBS_ERR_INTERNAL);
	assert_false(td_mapped("libxml2"));
	dynlib_unload(NULL, 1);
}

static void complete_load_resolves_and_stays_mapped(void **state)
{
	const char *libs[2] = {"libxml2.so.2", "libxml2.so.2"};
	struct mini_xml x;
	char err[64];

	(void)state;
	assert_int_equal(dynlib_load("test feature", NULL, libs, 2, mini_syms, 3, x.lib, &x, err,
				     sizeof(err)),
			 KBS_OK);
	assert_string_equal(err, "");
	assert_true(td_mapped("libxml2"));
	assert_int_equal(x.xmlStrlen((const unsigned char *)"kbsfs"), 5);
	assert_int_equal(x.xmlStrcmp((const unsigned char *)"a", (const unsigned char *)"a"), 0);
	assert_non_null(x.xmlFree);
	assert_non_null(*x.xmlFree);
	dynlib_unload(x.lib, 2);
	assert_null(x.lib[0]);
	/* state of the library (and gRPC's threads) may outlive its last user */
	assert_true(td_mapped("libxml2"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(linked_code_does_not_map_libxml2),
		cmocka_unit_test(missing_library_is_named_and_nothing_stays_loaded),
		cmocka_unit_test(missing_symbol_is_named_and_nothing_stays_loaded),
		cmocka_unit_test(bad_arguments_are_refused),
		cmocka_unit_test(complete_load_resolves_and_stays_mapped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
