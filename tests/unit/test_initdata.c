// SPDX-License-Identifier: Apache-2.0
/*
 * Init-data (attester/initdata.c): digests over the exact TOML bytes for sha256/384/512
 * (guest-components vectors), the kata annotation (base64 of gzip) and block image decode to
 * the same document, TEE field checks (SNP HOSTDATA 32, TDX MRCONFIGID 48) accept the
 * expected values and refuse a mismatch, malformed documents are refused with a reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "attester/initdata.h"
#include "attester/util.h"
#include "common/b64.h"
#include "common/err.h"

static char *path_of(const char *rel)
{
	static char p[1024];

	snprintf(p, sizeof(p), "%s/attester/initdata/%s", getenv("KBS_TEST_DATA"), rel);
	return p;
}

static uint8_t *load(const char *rel, size_t *n)
{
	uint8_t *p = NULL;

	assert_int_equal(attester_read_file(path_of(rel), 1 << 20, &p, n), KBS_OK);
	return p;
}

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	assert_int_equal(hex_decode(s, strlen(s), out, cap, &n), KBS_OK);
	return n;
}

static void vectors(void **state)
{
	static const char *algs[] = {"sha256", "sha384", "sha512"};
	json_error_t je;
	json_t *exp = json_load_file(path_of("expected.json"), 0, &je);

	assert_non_null(exp);
	for (int i = 0; i < 3; i++) {
		char name[64], key[96];
		struct initdata *d = NULL, *a = NULL, *img = NULL;
		uint8_t want[64], field[64], *toml, *im, *ann;
		size_t wn, tn, n, an, dn, imn;
		json_t *e;
		const uint8_t *dg;
		char why[160];

		snprintf(name, sizeof(name), "initdata-%s.toml", algs[i]);
		snprintf(key, sizeof(key), "initdata/%s", name);
		e = json_object_get(exp, key);
		assert_non_null(e);
		toml = load(name, &tn);
		assert_int_equal(initdata_load_file(path_of(name), &d, why, sizeof(why)), KBS_OK);
		assert_string_equal(initdata_algorithm(d), algs[i]);
		assert_string_equal(initdata_version(d), "0.1.0");
		assert_memory_equal(initdata_text(d, &n), toml, tn);
		assert_int_equal(n, tn);
		dg = initdata_digest(d, &dn);
		wn = unhex(json_string_value(json_object_get(e, "digest_hex")), want, sizeof(want));
		assert_int_equal(dn, wn);
		assert_memory_equal(dg, want, wn);
		assert_non_null(json_object_get(initdata_data(d), "aa.toml"));
		/* TEE fields as the host programs them */
		unhex(json_string_value(json_object_get(e, "snp_hostdata_hex")), field, sizeof(field));
		assert_int_equal(initdata_check_field(d, field, 32), KBS_OK);
		unhex(json_string_value(json_object_get(e, "tdx_mrconfigid_hex")), field, sizeof(field));
		assert_int_equal(initdata_check_field(d, field, 48), KBS_OK);
		field[47] ^= 1;
		assert_int_equal(initdata_check_field(d, field, 48), KBS_ERR_VERIFY);
		/* annotation and block image carry the same document */
		snprintf(name, sizeof(name), "initdata-%s.annotation.txt", algs[i]);
		ann = load(name, &an);
		assert_int_equal(initdata_from_annotation((char *)ann, an, &a, why, sizeof(why)), KBS_OK);
		assert_memory_equal(initdata_digest(a, NULL), want, wn);
		snprintf(name, sizeof(name), "initdata-%s.data.img", algs[i]);
		im = load(name, &imn);
		assert_int_equal(initdata_from_image(im, imn, &img, why, sizeof(why)), KBS_OK);
		assert_memory_equal(initdata_text(img, NULL), toml, tn);
		/* a damaged annotation is refused */
		ann[an / 2] = ann[an / 2] == 'A' ? 'B' : 'A';
		assert_int_not_equal(initdata_from_annotation((char *)ann, an, &a, why, sizeof(why)),
				     KBS_OK);
		initdata_free(d);
		initdata_free(a);
		initdata_free(img);
		free(toml);
		free(ann);
		free(im);
	}
	json_decref(exp);
}

static void kata_files(void **state)
{
	struct initdata *d = NULL;
	uint8_t want[32], *img, *out = NULL;
	size_t n, on;
	char why[160];

	assert_int_equal(initdata_load_file(path_of("kata-default-initdata.toml"), &d, why,
					    sizeof(why)),
			 KBS_OK);
	unhex("5fbba2d190b4c600dc48b80802559460ecae499f76f079e9ad2ebd4e3c7eb65f", want, 32);
	assert_memory_equal(initdata_digest(d, NULL), want, 32);
	assert_int_equal(json_object_size(initdata_data(d)), 0);
	initdata_free(d);
	/* kata's own test image: valid framing, content "some content" is not init-data TOML */
	img = load("kata-initdata.img", &n);
	assert_int_equal(initdata_gunzip(img + 16, 36, 1 << 20, &out, &on), KBS_OK);
	assert_int_equal(on, 12);
	assert_memory_equal(out, "some content", 12);
	free(out);
	assert_int_not_equal(initdata_from_image(img, n, &d, why, sizeof(why)), KBS_OK);
	img[0] = 'X';
	assert_int_equal(initdata_from_image(img, n, &d, why, sizeof(why)), KBS_ERR_PARSE);
	free(img);
}

static void malformed_documents(void **state)
{
	static const struct {
		const char *toml;
		int rc;
	} cases[] = {
		{"algorithm = \"sha256\"\n[data]\n", KBS_ERR_INVAL},		   /* no version */
		{"version = \"0.1.0\"\n[data]\n", KBS_ERR_INVAL},		   /* no algorithm */
		{"version = \"0.1.0\"\nalgorithm = \"sha256\"\n", KBS_ERR_INVAL}, /* no [data] */
		{"version = \"0.1.0\"\nalgorithm = \"md5\"\n[data]\n", KBS_ERR_UNSUPPORTED},
		{"version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\nx = 1\n", KBS_ERR_INVAL},
		{"version = 1\nalgorithm = \"sha256\"\n[data]\n", KBS_ERR_INVAL},
		{"version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data\n", KBS_ERR_PARSE},
	};
	struct initdata *d = NULL;
	char why[160];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = 0;
		assert_int_equal(initdata_parse(cases[i].toml, strlen(cases[i].toml), &d, why,
						sizeof(why)),
				 cases[i].rc);
		assert_null(d);
		assert_true(why[0] != 0);
	}
	/* extra top-level members are ignored; the digest still covers every byte */
	{
		const char *t = "version = \"0.1.0\"\nalgorithm = \"sha256\"\nextra = 5\n[data]\n";

		assert_int_equal(initdata_parse(t, strlen(t), &d, why, sizeof(why)), KBS_OK);
		initdata_free(d);
	}
}

static void gunzip_limits(void **state)
{
	uint8_t *ann, *gz = NULL, *out = NULL;
	size_t an, gn, on;

	ann = load("initdata-sha256.annotation.txt", &an);
	while (an && ann[an - 1] == '\n')
		an--;
	assert_int_equal(b64_decode_alloc((char *)ann, an, B64_STD, &gz, &gn), KBS_OK);
	assert_int_equal(initdata_gunzip(gz, gn, 100, &out, &on), KBS_ERR_RANGE);
	assert_int_equal(initdata_gunzip(gz, gn - 9, 1 << 20, &out, &on), KBS_ERR_PARSE);
	assert_null(out);
	assert_int_equal(initdata_gunzip(gz, gn, 1 << 20, &out, &on), KBS_OK);
	assert_int_equal(on, 498);
	free(out);
	free(gz);
	free(ann);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vectors),
		cmocka_unit_test(kata_files),
		cmocka_unit_test(malformed_documents),
		cmocka_unit_test(gunzip_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
