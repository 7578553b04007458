// SPDX-License-Identifier: Apache-2.0
/*
 * Sample TEE: software evidence for tests. Shape expected by Trustee's sample verifier:
 * {"svn":"1","report_data":"<standard base64 of the report data>"}; the verifier compares the
 * decoded bytes with the raw runtime-data digest, so no padding is applied.
 */
#include <stdlib.h>

#include "attester/attester_impl.h"
#include "common/b64.h"
#include "common/err.h"

/* Large enough for any digest plus the odd test input; evidence is not meant for bulk data. */
#define SAMPLE_REPORT_DATA_MAX 4096

static bool sample_detect(void)
{
	return false;
}

static int sample_get_evidence(const uint8_t *report_data, size_t len, json_t **evidence)
{
	char *b64 = NULL;
	json_t *ev = NULL;
	int rc;

	if (!evidence || (!report_data && len))
		return KBS_ERR_INVAL;
	if (len > SAMPLE_REPORT_DATA_MAX)
		return KBS_ERR_RANGE;
	rc = b64_encode_alloc(report_data, len, B64_STD, &b64);
	if (rc)
		goto out;
	rc = KBS_ERR_NOMEM;
	ev = json_object();
	if (!ev || json_object_set_new(ev, "svn", json_string("1")) ||
	    json_object_set_new(ev, "report_data", json_string(b64)))
		goto out;
	*evidence = ev;
	ev = NULL;
	rc = KBS_OK;
out:
	json_decref(ev);
	free(b64);
	return rc;
}

const struct attester_ops attester_sample_ops = {
	.tee = ATTESTER_TEE_SAMPLE,
	.name = "sample",
	.hardware = false,
	.report_data_max = SAMPLE_REPORT_DATA_MAX,
	.detect = sample_detect,
	.get_evidence = sample_get_evidence,
};
