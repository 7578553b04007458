// SPDX-License-Identifier: Apache-2.0
/*
 * Attester table and the sample TEE: evidence shape of Trustee's sample verifier (recorded
 * guest-components output and the runtime-data binding vector), TEE selection rules (sample
 * only when allowed), name mapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attester/attester.h"
#include "common/b64.h"
#include "common/err.h"
#include "common/json.h"

static json_t *load_json(const char *rel)
{
	const char *dir = getenv("KBS_TEST_DATA");
	char path[1024];
	json_error_t e;
	json_t *j;

	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
	if (!j)
		fail_msg("%s: %s", path, e.text);
	return j;
}

static void sample_evidence_matches_recording(void **state)
{
	json_t *want = load_json("broker/sample-evidence-xxxx.json"), *ev = NULL;
	char *s;
	size_t n;

	assert_int_equal(attester_get_evidence(ATTESTER_TEE_SAMPLE, (const uint8_t *)"xxxx", 4,
					       &ev),
			 KBS_OK);
	assert_true(json_equal(ev, want));
	/* exact member order of the upstream attester: svn, then report_data */
	s = json_dump_compact(ev, &n);
	assert_string_equal(s, "{\"svn\":\"1\",\"report_data\":\"eHh4eA==\"}");
	free(s);
	json_decref(ev);
	json_decref(want);
}

static void sample_evidence_for_binding_digests(void **state)
{
	json_t *v = load_json("runtime-data/runtime-data-binding.json");
	const char *algs[] = {"sha256", "sha384", "sha512"};

	for (size_t i = 0; i < 3; i++) {
		json_t *e = json_object_get(json_object_get(v, "by_alg"), algs[i]);
		const char *hex = json_string_value(json_object_get(e, "primary_digest_hex"));
		uint8_t d[64];
		size_t n;
		json_t *ev = NULL;

		assert_int_equal(hex_decode(hex, strlen(hex), d, sizeof(d), &n), KBS_OK);
		/* the sample verifier compares the raw digest: no padding to 64 bytes */
		assert_int_equal(attester_get_evidence(ATTESTER_TEE_SAMPLE, d, n, &ev), KBS_OK);
		assert_true(json_equal(ev, json_object_get(e, "sample_evidence")));
		json_decref(ev);
	}
	json_decref(v);
}

static void sample_evidence_limits(void **state)
{
	json_t *ev = NULL;
	uint8_t big[5000] = {0};

	assert_int_equal(attester_get_evidence(ATTESTER_TEE_SAMPLE, NULL, 0, &ev), KBS_OK);
	assert_string_equal(json_string_value(json_object_get(ev, "report_data")), "");
	json_decref(ev);
	ev = NULL;
	assert_int_equal(attester_get_evidence(ATTESTER_TEE_SAMPLE, big, sizeof(big), &ev),
			 KBS_ERR_RANGE);
	assert_null(ev);
	assert_int_equal(attester_get_evidence(ATTESTER_TEE_SAMPLE, big, 4, NULL), KBS_ERR_INVAL);
	/* TEEs without an implementation say so instead of inventing evidence */
	assert_int_equal(attester_get_evidence(ATTESTER_TEE_NONE, big, 48, &ev),
			 KBS_ERR_UNSUPPORTED);
	assert_null(ev);
	/* the Azure vTPM TEEs carry at most 64 bytes of user-data */
	assert_int_equal(attester_get_evidence(ATTESTER_TEE_AZ_SNP_VTPM, big, 65, &ev),
			 KBS_ERR_RANGE);
	assert_null(ev);
	assert_int_equal(attester_get_evidence(ATTESTER_TEE_AZ_TDX_VTPM, big, 65, &ev),
			 KBS_ERR_RANGE);
	assert_null(ev);
}

static void selection_needs_explicit_sample(void **state)
{
	enum attester_tee t = ATTESTER_TEE__COUNT;

	/* a named sample TEE is refused unless allowed */
	assert_int_equal(attester_select("sample", false, &t), KBS_ERR_PERM);
	assert_int_equal(attester_select("sample", true, &t), KBS_OK);
	assert_int_equal(t, ATTESTER_TEE_SAMPLE);
	/* detection never picks the sample TEE by itself */
	assert_int_not_equal(attester_detect(), ATTESTER_TEE_SAMPLE);
	if (attester_detect() == ATTESTER_TEE_NONE) {
		assert_int_equal(attester_select("auto", false, &t), KBS_ERR_UNSUPPORTED);
		assert_int_equal(attester_select(NULL, false, &t), KBS_ERR_UNSUPPORTED);
		assert_int_equal(attester_select("auto", true, &t), KBS_OK);
		assert_int_equal(t, ATTESTER_TEE_SAMPLE);
	}
	assert_int_equal(attester_select("bogus", true, &t), KBS_ERR_INVAL);
	assert_int_equal(attester_select("sampledevice", true, &t), KBS_ERR_INVAL);
	assert_int_equal(attester_select("az-tdx-vtpm", false, &t), KBS_OK);
	assert_int_equal(t, ATTESTER_TEE_AZ_TDX_VTPM);
	assert_int_equal(attester_select("az-snp-vtpm", false, &t), KBS_OK);
	assert_int_equal(t, ATTESTER_TEE_AZ_SNP_VTPM);
}

static void names_round_trip(void **state)
{
	for (int i = ATTESTER_TEE_SAMPLE; i < ATTESTER_TEE__COUNT; i++) {
		enum attester_tee t;

		assert_int_equal(attester_tee_from_name(attester_tee_name((enum attester_tee)i), &t),
				 KBS_OK);
		assert_int_equal(t, i);
	}
	assert_string_equal(attester_tee_name(ATTESTER_TEE_AZ_SNP_VTPM), "az-snp-vtpm");
	assert_string_equal(attester_tee_name((enum attester_tee)99), "none");
	{
		enum attester_tee t;

		assert_int_equal(attester_tee_from_name("none", &t), KBS_ERR_NOTFOUND);
		assert_int_equal(attester_tee_from_name("SAMPLE", &t), KBS_ERR_NOTFOUND);
	}
	assert_true(attester_supported(ATTESTER_TEE_SAMPLE));
	assert_false(attester_supported(ATTESTER_TEE_NONE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sample_evidence_matches_recording),
		cmocka_unit_test(sample_evidence_for_binding_digests),
		cmocka_unit_test(sample_evidence_limits),
		cmocka_unit_test(selection_needs_explicit_sample),
		cmocka_unit_test(names_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
