// SPDX-License-Identifier: Apache-2.0
/*
 * The sample TEE (kbs-protocol §13.1): evidence {"svn":"1","report_data":"<base64 std>"},
 * no signature. report_data must decode to exactly the expected runtime-data digest.
 * For testing only; Trustee's default resource policy denies it.
 */
#include "server/as/verifier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/secmem.h"

static int check_report_data(const struct as_verify_input *in, const char *rd, char *why,
			     size_t whylen)
{
	uint8_t *dec = NULL;
	size_t declen = 0;
	int rc;

	if (!in->report_data)
		return KBS_OK;
	if (!rd) {
		snprintf(why, whylen, "sample evidence has no report_data");
		return KBS_ERR_VERIFY;
	}
	rc = b64_decode_alloc(rd, strlen(rd), B64_STD, &dec, &declen);
	if (rc != KBS_OK) {
		snprintf(why, whylen, "sample report_data is not valid base64");
		return KBS_ERR_VERIFY;
	}
	if (declen != in->report_data_len ||
	    secmem_cmp(dec, in->report_data, declen) != 0) {
		snprintf(why, whylen, "sample report_data does not match the runtime data digest");
		rc = KBS_ERR_VERIFY;
	}
	free(dec);
	return rc;
}

static int parse(const struct as_verify_input *in, const char **svn, const char **rd, char *why,
		 size_t whylen)
{
	const json_t *ev = in->evidence;
	json_t *s, *r;

	if (!json_is_object(ev)) {
		snprintf(why, whylen, "sample evidence is not a JSON object");
		return KBS_ERR_PARSE;
	}
	s = json_object_get(ev, "svn");
	if (!json_is_string(s)) {
		snprintf(why, whylen, "sample evidence: member 'svn' must be a string");
		return KBS_ERR_PARSE;
	}
	r = json_object_get(ev, "report_data");
	if (r && !json_is_string(r)) {
		snprintf(why, whylen, "sample evidence: member 'report_data' must be a string");
		return KBS_ERR_PARSE;
	}
	*svn = json_string_value(s);
	*rd = r ? json_string_value(r) : NULL;
	return KBS_OK;
}

static int sample_verify(const struct as_verify_input *in, json_t **claims, char *why,
			 size_t whylen)
{
	const char *svn, *rd;
	char *idb64 = NULL;
	json_t *c = NULL;
	int rc;

	*claims = NULL;
	if ((rc = parse(in, &svn, &rd, why, whylen)) != KBS_OK)
		return rc;
	if ((rc = check_report_data(in, rd, why, whylen)) != KBS_OK)
		return rc;
	rc = KBS_ERR_NOMEM;
	c = json_pack("{s:s,s:s,s:s,s:{s:i,s:i},s:b}", "svn", svn, "report_data", rd ? rd : "",
		      "launch_digest", "abcde", "platform_version", "major", 1, "minor", 4, "debug",
		      0);
	if (!c)
		goto out;
	if (in->init_data_digest) {
		if (b64_encode_alloc(in->init_data_digest, in->init_data_digest_len, B64_STD,
				     &idb64) != KBS_OK)
			goto out;
		if (json_object_set_new(c, "init_data", json_string(idb64)) != 0)
			goto out;
	}
	*claims = c;
	c = NULL;
	rc = KBS_OK;
out:
	free(idb64);
	json_decref(c);
	return rc;
}

static int sampledevice_verify(const struct as_verify_input *in, json_t **claims, char *why,
			       size_t whylen)
{
	const char *svn, *rd;
	int rc;

	*claims = NULL;
	if ((rc = parse(in, &svn, &rd, why, whylen)) != KBS_OK)
		return rc;
	if ((rc = check_report_data(in, rd, why, whylen)) != KBS_OK)
		return rc;
	*claims = json_pack("{s:s,s:s}", "svn", svn, "report_data", rd ? rd : "");
	return *claims ? KBS_OK : KBS_ERR_NOMEM;
}

const struct as_verifier as_verifier_sample = {
	.tee = "sample",
	.tee_class = "cpu",
	.verify = sample_verify,
};

const struct as_verifier as_verifier_sampledevice = {
	.tee = "sampledevice",
	.tee_class = "gpu",
	.verify = sampledevice_verify,
};
