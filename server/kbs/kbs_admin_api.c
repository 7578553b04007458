// SPDX-License-Identifier: Apache-2.0
/* Admin endpoints: resource upload/delete, resource and attestation policies, reference
 * values (kbs-protocol §10); every handler checks the admin credentials first. */
#include "server/kbs/kbs_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "server/kbs/admin.h"
#include "server/kbs/as_grpc.h"
#include "server/kbs/kbs_error.h"
#include "server/kbs/metrics.h"

static int respond_json(struct http_response *resp, int status, const json_t *j)
{
	/* any JSON value: a reference value may be a single string, number or boolean */
	char *txt = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	int rc;

	if (!txt)
		return KBS_ERR_NOMEM;
	resp->status = status;
	buf_reset(&resp->body);
	rc = buf_append_str(&resp->body, txt);
	free(txt);
	if (rc == KBS_OK)
		rc = http_response_header(resp, "Content-Type", "application/json");
	return rc;
}

static int parse_body(struct kbs_ctx *k, const struct http_request *req, json_t **out,
		      char *why, size_t whylen)
{
	size_t len;
	const uint8_t *body = http_request_body(req, &len);
	struct json_err jerr;
	int rc;

	*out = NULL;
	rc = json_parse((const char *)body, len, k->max_body, out, &jerr);
	if (rc != KBS_OK)
		snprintf(why, whylen, "request body is not valid JSON: %s", jerr.msg);
	else if (!json_is_object(*out)) {
		snprintf(why, whylen, "request body is not a JSON object");
		json_decref(*out);
		*out = NULL;
		rc = KBS_ERR_PARSE;
	}
	return rc;
}

static void request_uri(const struct http_request *req, char *out, size_t outlen)
{
	const char *q = http_request_query(req);

	snprintf(out, outlen, "%s%s%s", http_request_path(req), q ? "?" : "", q ? q : "");
}

/* Admin gate. endpoint NULL = plugin admin call (Trustee reports AdminAuthInitialization). */
static bool admin_ok(struct kbs_ctx *k, const struct http_request *req,
		     struct http_response *resp, const char *endpoint)
{
	char uri[2048], why[400];

	request_uri(req, uri, sizeof(uri));
	if (kbs_admin_check(k->admin, http_request_header(req, "Authorization"), uri, why,
			    sizeof(why)) == KBS_OK)
		return true;
	log_info("kbs: admin call %s %s from %s refused: %s", http_request_method(req),
		 http_request_path(req), http_request_peer(req), why);
	if (endpoint)
		kbs_error_respond(resp, KBS_WERR_ADMIN_AUTH_ACCESS, "%s: %s", endpoint,
				  why);
	else
		kbs_error_respond(resp, KBS_WERR_ADMIN_AUTH_INIT, "%s", why);
	return false;
}

int kbs_handle_resource_write(struct kbs_ctx *k, struct repo *repo, const struct http_request *req,
			      struct http_response *resp, const char *rpath, bool del)
{
	char seg[3][KBS_SEG_MAX + 1], why[300];
	const char *segp[3] = {seg[0], seg[1], seg[2]};
	const uint8_t *body;
	size_t len;
	int rc;

	if (!admin_ok(k, req, resp, NULL))
		return KBS_OK;
	if (kbs_resource_path_parse(rpath, seg, why, sizeof(why)) != KBS_OK)
		return kbs_error_respond(resp, KBS_WERR_PLUGIN_INTERNAL,
					 "invalid resource path: %s", why);
	if ((del && !repo->ops->remove) || (!del && !repo->ops->write))
		return kbs_error_respond(resp, KBS_WERR_PLUGIN_INTERNAL,
					 "resource backend %s is read-only", repo->ops->name);
	if (del) {
		rc = repo->ops->remove(repo, segp);
		if (rc == KBS_ERR_UNAVAILABLE)
			return kbs_respond_repo_unavailable(repo, resp, "resource delete");
		if (rc != KBS_OK)
			return kbs_error_respond(resp, KBS_WERR_PLUGIN_INTERNAL,
						 "resource %s/%s/%s %s", seg[0], seg[1], seg[2],
						 rc == KBS_ERR_NOTFOUND ? "not found"
									: "could not be deleted");
		kbs_metrics_inc(k->metrics, KBS_CNT_RESOURCE_DELETES);
		log_info("kbs: resource %s/%s/%s deleted", seg[0], seg[1], seg[2]);
	} else {
		char dg[32];
		body = http_request_body(req, &len);
		rc = repo->ops->write(repo, segp, body, len);
		if (rc == KBS_ERR_UNAVAILABLE)
			return kbs_respond_repo_unavailable(repo, resp, "resource write");
		if (rc != KBS_OK)
			return kbs_error_respond(resp, KBS_WERR_PLUGIN_INTERNAL,
						 "resource %s/%s/%s could not be stored (%s)", seg[0],
						 seg[1], seg[2], kbs_strerror(rc));
		kbs_metrics_inc(k->metrics, KBS_CNT_RESOURCE_WRITES);
		log_digest(body, len, dg, sizeof(dg));
		log_info("kbs: resource %s/%s/%s stored (%zu bytes, %s)", seg[0], seg[1], seg[2],
			 len, dg);
	}
	resp->status = 200;
	buf_reset(&resp->body);
	return http_response_header(resp, "Content-Type", "text/xml");
}

/* ------------------------------------------------------------------ admin endpoints */

int kbs_handle_resource_policy(struct kbs_ctx *k, const struct http_request *req,
			       struct http_response *resp, bool get)
{
	json_t *body = NULL;
	const char *p64;
	uint8_t *text = NULL;
	size_t len;
	char why[400];
	int rc;

	if (!admin_ok(k, req, resp, "resource-policy"))
		return KBS_OK;
	if (get) {
		json_t *ids = json_pack("[s]", "resource-policy");
		rc = ids ? respond_json(resp, 200, ids) : KBS_ERR_NOMEM;
		json_decref(ids);
		return rc;
	}
	if (parse_body(k, req, &body, why, sizeof(why)) != KBS_OK ||
	    !(p64 = json_string_value(json_object_get(body, "policy")))) {
		json_decref(body);
		return kbs_error_respond(resp, KBS_WERR_PARSE_POLICY,
					 "body must be {\"policy\":\"<base64url Rego>\"}");
	}
	if (b64_decode_alloc(p64, strlen(p64), B64_URL, &text, &len) != KBS_OK) {
		json_decref(body);
		return kbs_error_respond(resp, KBS_WERR_PARSE_POLICY,
					 "policy is not base64url without padding");
	}
	rc = kbs_set_resource_policy(k, (const char *)text, len, true, why, sizeof(why));
	free(text);
	json_decref(body);
	if (rc == KBS_ERR_UNAVAILABLE)
		return kbs_respond_unavailable(resp, "resource policy upload");
	if (rc != KBS_OK)
		return kbs_error_respond(resp, KBS_WERR_POLICY_ENGINE, "%s", why);
	log_info("kbs: resource policy replaced (%zu bytes)", len);
	resp->status = 200;
	buf_reset(&resp->body);
	return KBS_OK;
}

int kbs_handle_attestation_policy(struct kbs_ctx *k, const struct http_request *req,
				  struct http_response *resp)
{
	json_t *body = NULL;
	const char *p64, *id;
	uint8_t *text = NULL;
	size_t len;
	char why[400];
	int rc;

	if (!admin_ok(k, req, resp, "attestation-policy"))
		return KBS_OK;
	if (parse_body(k, req, &body, why, sizeof(why)) != KBS_OK ||
	    !(p64 = json_string_value(json_object_get(body, "policy"))) ||
	    !(id = json_string_value(json_object_get(body, "policy_id")))) {
		json_decref(body);
		return kbs_error_respond(resp, KBS_WERR_ATTESTATION,
					 "body must be {\"policy_id\":...,\"policy\":\"<base64url "
					 "Rego>\"}");
	}
	if (b64_decode_alloc(p64, strlen(p64), B64_URL, &text, &len) != KBS_OK) {
		json_decref(body);
		return kbs_error_respond(resp, KBS_WERR_ATTESTATION,
					 "policy is not base64url without padding");
	}
	rc = k->asg ? kbs_as_grpc_set_policy(k->asg, id, (const char *)text, len, why, sizeof(why))
		    : as_set_policy(k->as, id, (const char *)text, len, why, sizeof(why));
	free(text);
	if (rc == KBS_ERR_UNAVAILABLE) {
		json_decref(body);
		return kbs_respond_unavailable(resp, "attestation policy");
	}
	if (rc != KBS_OK) {
		rc = kbs_error_respond(resp, KBS_WERR_ATTESTATION, "set attestation policy %.64s: "
				       "%s", id, why);
		json_decref(body);
		return rc;
	}
	log_info("kbs: attestation policy %s replaced (%zu bytes)", id, len);
	json_decref(body);
	resp->status = 200;
	buf_reset(&resp->body);
	return KBS_OK;
}

int kbs_handle_reference_value(struct kbs_ctx *k, const struct http_request *req,
			       struct http_response *resp, const char *rest, bool get)
{
	char why[300];
	int rc;

	if (!admin_ok(k, req, resp, "reference-value"))
		return KBS_OK;
	if (get) {
		json_t *v = NULL;
		/* the RVPS says why: absent, expired, store or remote RVPS unavailable */
		if (rvps_query(as_rvps(k->as), rest, &v, why, sizeof(why)) != KBS_OK)
			return kbs_error_respond(resp, KBS_WERR_RVPS, "%s", why);
		rc = respond_json(resp, 200, v);
		json_decref(v);
		return rc;
	}
	size_t len;
	const uint8_t *body = http_request_body(req, &len);
	if (as_rv_register(k->as, (const char *)body, len, why, sizeof(why)) != KBS_OK)
		return kbs_error_respond(resp, KBS_WERR_RVPS, "%s", why);
	resp->status = 200;
	buf_reset(&resp->body);
	return http_response_header(resp, "Content-Type", "application/json");
}
