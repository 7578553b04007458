// SPDX-License-Identifier: Apache-2.0
/* Azure IMDS client of the Azure vTPM attesters: see az_imds.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attester/az_imds.h"
#include "common/b64.h"
#include "common/err.h"
#include "common/http_client.h"
#include "common/json.h"
#include "common/log.h"

#define AZ_IMDS_TIMEOUT_MS 30000L
#define AZ_IMDS_URL_MAX 512

void az_imds_cfg_from_env(struct az_imds_cfg *cfg)
{
	const char *s = getenv("AA_AZ_IMDS_URL");

	memset(cfg, 0, sizeof(*cfg));
	cfg->base_url = s && *s ? s : AZ_IMDS_URL_DEFAULT;
}

static int make_url(const struct az_imds_cfg *cfg, const char *path, char *out, size_t outlen)
{
	const char *base = cfg && cfg->base_url && *cfg->base_url ? cfg->base_url
								   : AZ_IMDS_URL_DEFAULT;
	size_t n = strlen(base);

	while (n && base[n - 1] == '/')
		n--;
	if (n > (size_t)AZ_IMDS_URL_MAX ||
	    (size_t)snprintf(out, outlen, "%.*s%s", (int)n, base, path) >= outlen)
		return KBS_ERR_RANGE;
	return KBS_OK;
}

/* One IMDS request; KBS_OK only for a 2xx answer (body in res). */
static int imds_call(const struct az_imds_cfg *cfg, const char *method, const char *path,
		     const char *body, struct http_result *res)
{
	static const char *const get_hdrs[] = {"Metadata: true", NULL};
	static const char *const post_hdrs[] = {"Metadata: true", "Content-Type: application/json",
						"Accept: application/json", NULL};
	struct http_client_config hc;
	struct http_client *c = NULL;
	char url[AZ_IMDS_URL_MAX + 64];
	int rc;

	memset(res, 0, sizeof(*res));
	rc = make_url(cfg, path, url, sizeof(url));
	if (rc)
		return rc;
	memset(&hc, 0, sizeof(hc));
	hc.connect_timeout_ms = 5000;
	hc.timeout_ms = cfg && cfg->timeout_ms > 0 ? cfg->timeout_ms : AZ_IMDS_TIMEOUT_MS;
	hc.max_retries = 2;
	hc.max_response_size = AZ_IMDS_RESPONSE_MAX;
	rc = http_client_new(&hc, &c);
	if (rc)
		return rc;
	rc = http_client_request(c, method, url, body ? post_hdrs : get_hdrs, body,
				 body ? strlen(body) : 0, 0, res);
	http_client_free(c);
	if (rc) {
		log_msg(LOG_LVL_ERROR, "az imds: %s %s: %s", method, url,
			res->error[0] ? res->error : kbs_strerror(rc));
		return rc;
	}
	if (res->status < 200 || res->status > 299) {
		log_msg(LOG_LVL_ERROR, "az imds: %s %s: HTTP %ld", method, url, res->status);
		return KBS_ERR_PROTOCOL;
	}
	return KBS_OK;
}

/* Decodes the quote member: standard padded, or base64url unpadded or padded. */
static int decode_any_b64(const char *s, size_t n, uint8_t **out, size_t *outlen)
{
	size_t m = n;

	if (b64_decode_alloc(s, n, B64_STD, out, outlen) == KBS_OK)
		return KBS_OK;
	while (m && s[m - 1] == '=' && n - m < 2)
		m--;
	return b64_decode_alloc(s, m, B64_URL, out, outlen);
}

int az_imds_parse_quote(const uint8_t *body, size_t len, struct buf *quote)
{
	json_t *root = NULL;
	const char *q = NULL;
	size_t qlen = 0, n = 0;
	uint8_t *raw = NULL;
	int rc;

	if ((!body && len) || !quote)
		return KBS_ERR_INVAL;
	rc = json_parse((const char *)body, len, AZ_IMDS_RESPONSE_MAX, &root, NULL);
	if (rc == KBS_ERR_NOMEM)
		return rc;
	rc = KBS_ERR_PARSE;
	if (!root || !json_is_object(root) ||
	    json_get_stringn(root, "quote", &q, &qlen, NULL) != KBS_OK)
		goto out;
	if (decode_any_b64(q, qlen, &raw, &n) != KBS_OK || n == 0)
		goto out;
	rc = buf_append(quote, raw, n);
out:
	free(raw);
	json_decref(root);
	return rc;
}

int az_imds_parse_certs(const uint8_t *body, size_t len, char **vcek_pem)
{
	json_t *root = NULL;
	const char *v = NULL;
	size_t vlen = 0;
	int rc;

	if ((!body && len) || !vcek_pem)
		return KBS_ERR_INVAL;
	*vcek_pem = NULL;
	rc = json_parse((const char *)body, len, AZ_IMDS_RESPONSE_MAX, &root, NULL);
	if (rc == KBS_ERR_NOMEM)
		return rc;
	rc = KBS_ERR_PARSE;
	if (!root || !json_is_object(root) ||
	    json_get_stringn(root, "vcekCert", &v, &vlen, NULL) != KBS_OK || vlen == 0)
		goto out;
	rc = KBS_ERR_NOMEM;
	*vcek_pem = malloc(vlen + 1);
	if (!*vcek_pem)
		goto out;
	memcpy(*vcek_pem, v, vlen);
	(*vcek_pem)[vlen] = 0;
	rc = KBS_OK;
out:
	json_decref(root);
	return rc;
}

/* {"report":"<b64>"} for the TDREPORT in the given alphabet (std padded / url unpadded). */
static int report_body(const uint8_t *rep, enum b64_variant v, char **out)
{
	char *b = NULL;
	json_t *o = NULL;
	int rc = b64_encode_alloc(rep, AZ_TD_REPORT_LEN, v, &b);

	if (rc)
		return rc;
	rc = KBS_ERR_NOMEM;
	o = json_object();
	if (o && !json_object_set_new(o, "report", json_string(b))) {
		*out = json_dump_compact(o, NULL);
		if (*out)
			rc = KBS_OK;
	}
	json_decref(o);
	free(b);
	return rc;
}

int az_imds_td_quote(const struct az_imds_cfg *cfg, const uint8_t *td_report, size_t len,
		     struct buf *quote)
{
	static const enum b64_variant forms[] = {B64_STD, B64_URL};
	struct http_result res;
	char *body = NULL;
	int rc = KBS_ERR_PROTOCOL;

	if (!td_report || !quote)
		return KBS_ERR_INVAL;
	if (len < AZ_TD_REPORT_LEN)
		return KBS_ERR_RANGE;
	/* upstream sends the standard form first and the base64url form if IMDS refuses it */
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]) && rc == KBS_ERR_PROTOCOL; i++) {
		rc = report_body(td_report, forms[i], &body);
		if (rc)
			break;
		rc = imds_call(cfg, "POST", "/acc/tdquote", body, &res);
		free(body);
		body = NULL;
		if (!rc) {
			rc = az_imds_parse_quote(res.body.p, res.body.len, quote);
			if (rc == KBS_ERR_PARSE)
				log_msg(LOG_LVL_ERROR, "az imds: tdquote answer has no decodable "
						       "\"quote\"");
		}
		http_result_release(&res);
	}
	return rc;
}

int az_imds_vcek_pem(const struct az_imds_cfg *cfg, char **pem)
{
	struct http_result res;
	int rc;

	if (!pem)
		return KBS_ERR_INVAL;
	*pem = NULL;
	rc = imds_call(cfg, "GET", "/metadata/THIM/amd/certification", NULL, &res);
	if (!rc) {
		rc = az_imds_parse_certs(res.body.p, res.body.len, pem);
		if (rc == KBS_ERR_PARSE)
			log_msg(LOG_LVL_ERROR, "az imds: THIM answer has no \"vcekCert\"");
	}
	http_result_release(&res);
	return rc;
}
