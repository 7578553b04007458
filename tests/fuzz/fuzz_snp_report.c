// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the SEV-SNP report codec and verifier. Inputs of exactly 1184 bytes are binary
 * reports, anything else is evidence JSON. Invariants: an accepted binary report re-encodes to
 * itself up to reserved bytes (decode(encode(x)) == decode(x)); the JSON form of any accepted
 * report reads back to the same bytes; the verifier never crashes and never accepts without
 * claims.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/snp_report.h"
#include "server/as/verifier_snp.h"

static struct snp_verifier *g_v;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct snp_verifier_config cfg = {0};
	char why[256];

	(void)argc;
	(void)argv;
	if (snp_verifier_new(&cfg, &g_v, why, sizeof(why)) != KBS_OK)
		abort();
	return 0;
}

static void check_json_roundtrip(const struct snp_report *r)
{
	uint8_t a[SNP_REPORT_SIZE], b[SNP_REPORT_SIZE];
	struct snp_report r2;
	char why[256];
	json_t *j = snp_report_to_json(r);

	if (!j)
		return;
	if (snp_report_encode(r, a) != KBS_OK)
		abort();
	if (snp_report_from_json(j, &r2, why, sizeof(why)) != KBS_OK)
		abort();
	if (snp_report_encode(&r2, b) != KBS_OK || memcmp(a, b, sizeof(a)) != 0)
		abort();
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snp_report r, r2;
	uint8_t enc[SNP_REPORT_SIZE], enc2[SNP_REPORT_SIZE];
	char why[256];

	if (size == SNP_REPORT_SIZE) {
		if (snp_report_decode(data, size, &r, why, sizeof(why)) != KBS_OK)
			return 0;
		if (snp_report_encode(&r, enc) != KBS_OK)
			abort();
		if (snp_report_decode(enc, sizeof(enc), &r2, why, sizeof(why)) != KBS_OK)
			abort();
		if (snp_report_encode(&r2, enc2) != KBS_OK || memcmp(enc, enc2, sizeof(enc)) != 0)
			abort();
		check_json_roundtrip(&r);
		return 0;
	}
	{
		json_t *ev = json_loadb((const char *)data, size, 0, NULL), *claims = NULL;
		struct as_verify_input in = {.evidence = ev};
		int rc;

		if (!ev)
			return 0;
		if (snp_report_from_json(json_object_get(ev, "attestation_report"), &r, why,
					 sizeof(why)) == KBS_OK)
			check_json_roundtrip(&r);
		rc = snp_verifier_verify(g_v, &in, &claims, why, sizeof(why));
		if ((rc == KBS_OK) != (claims != NULL))
			abort();
		json_decref(claims);
		json_decref(ev);
	}
	return 0;
}
