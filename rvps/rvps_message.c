// SPDX-License-Identifier: Apache-2.0
/* Registration messages (§14.1) and the `sample` extractor. */
#include "rvps/rvps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/json.h"

int rvps_extract_sample(const uint8_t *p, size_t n, int64_t exp, struct rvps_rv_list *out,
			char *why, size_t whylen)
{
	json_t *payload = NULL, *v;
	struct json_err jerr;
	const char *k;
	int rc;

	if (json_parse((const char *)p, n, RVPS_MAX_MESSAGE, &payload, &jerr) != KBS_OK ||
	    !json_is_object(payload)) {
		snprintf(why, whylen, "sample payload must be a JSON object");
		rc = KBS_ERR_PARSE;
		goto out;
	}
	json_object_foreach(payload, k, v) {
		if (!rvps_name_valid(k)) {
			snprintf(why, whylen, "reference value name '%.64s' is not valid (A-Z a-z 0-9 "
					      "- _ . / only)", k);
			rc = KBS_ERR_INVAL;
			goto out;
		}
		if ((rc = rvps_rv_list_add(out, k, json_incref(v), exp)) != KBS_OK) {
			snprintf(why, whylen, "%s", kbs_strerror(rc));
			goto out;
		}
	}
	rc = KBS_OK;
out:
	json_decref(payload);
	return rc;
}

int rvps_message_extract(const char *msg, size_t len, int64_t now, int months,
			 struct rvps_rv_list *out, char *why, size_t whylen)
{
	json_t *m = NULL;
	struct json_err jerr;
	const char *ver, *type, *p64;
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	int64_t exp;
	int rc;

	if ((rc = json_parse(msg, len, RVPS_MAX_MESSAGE, &m, &jerr)) != KBS_OK) {
		snprintf(why, whylen, "reference value message is not JSON: %s", jerr.msg);
		goto out;
	}
	rc = KBS_ERR_INVAL;
	if (!json_is_object(m)) {
		snprintf(why, whylen, "reference value message must be a JSON object");
		goto out;
	}
	if (json_opt_string(m, "version", RVPS_MESSAGE_VERSION, &ver, &jerr) != KBS_OK ||
	    json_get_string(m, "type", &type, &jerr) != KBS_OK ||
	    json_get_string(m, "payload", &p64, &jerr) != KBS_OK) {
		snprintf(why, whylen, "reference value message: %s", jerr.msg);
		goto out;
	}
	if (strcmp(ver, RVPS_MESSAGE_VERSION) != 0) {
		snprintf(why, whylen, "Version unmatched! Need %s, given %.32s.",
			 RVPS_MESSAGE_VERSION, ver);
		goto out;
	}
	if (b64_decode_alloc(p64, strlen(p64), B64_STD, &raw, &rawlen) != KBS_OK) {
		snprintf(why, whylen, "%s payload is not base64 (standard alphabet)", type);
		goto out;
	}
	exp = rvps_add_months(now, months > 0 ? months : 12);
	if (!strcmp(type, "sample"))
		rc = rvps_extract_sample(raw, rawlen, exp, out, why, whylen);
	else if (!strcmp(type, "swid"))
		rc = rvps_extract_swid(raw, rawlen, exp, out, why, whylen);
	else if (!strcmp(type, "corim"))
		rc = rvps_extract_corim(raw, rawlen, exp, out, why, whylen);
	else {
		snprintf(why, whylen, "Could not find extractor for %.64s", type);
		rc = KBS_ERR_UNSUPPORTED;
	}
out:
	free(raw);
	json_decref(m);
	return rc;
}
