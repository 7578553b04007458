// SPDX-License-Identifier: Apache-2.0
/* GET /kbs/v0/resource/...: attested resource reads, encrypted to the TEE key (§4). */
#include "server/kbs/kbs_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/err.h"
#include "common/http_util.h"
#include "common/jose/jwe.h"
#include "common/json.h"
#include "common/log.h"
#include "server/kbs/kbs_error.h"
#include "server/kbs/metrics.h"
#include "server/kbs/pgstore.h"
#include "server/kbs/session.h"
#include "server/kbs/tokver.h"

static const char *bearer(const struct http_request *req)
{
	const char *a = http_request_header(req, "Authorization");

	if (!a || strncasecmp(a, "Bearer ", 7) != 0)
		return NULL;
	a += 7;
	while (*a == ' ')
		a++;
	return *a ? a : NULL;
}

/* Flat string map of the query string, form-decoded; undecodable pairs are skipped. */
static json_t *parse_query(const char *q)
{
	json_t *m = json_object();
	char key[256], val[1024];

	if (!m || !q)
		return m;
	for (const char *p = q; *p;) {
		size_t seg = strcspn(p, "&"), kl = strcspn(p, "=&"), klen, vlen = 0;

		if (http_form_decode(p, kl, key, sizeof(key), &klen) == KBS_OK && klen &&
		    !memchr(key, 0, klen) &&
		    (kl == seg || http_form_decode(p + kl + 1, seg - kl - 1, val, sizeof(val),
						   &vlen) == KBS_OK) &&
		    !memchr(val, 0, vlen)) {
			if (kl == seg)
				val[0] = '\0';
			json_object_set_new(m, key, json_string(val)); /* NULL if not UTF-8 */
		}
		p += seg + (p[seg] == '&');
	}
	return m;
}

/* ------------------------------------------------------------------ resources */

static int eval_resource_policy(struct kbs_ctx *k, json_t *claims, const char *plugin,
				const char seg[3][KBS_SEG_MAX + 1], int nseg, const char *query,
				char *rule, size_t rulelen, char *why, size_t whylen)
{
	const struct policy_engine *eng;
	json_t *data, *segs, *result = NULL;
	char *text;
	size_t len;
	int rc;

	segs = json_array();
	for (int i = 0; i < nseg && segs; i++)
		json_array_append_new(segs, json_string(seg[i]));
	data = json_pack("{s:s,s:o,s:o}", "plugin", plugin, "resource-path", segs, "query",
			 parse_query(query));
	if (!data)
		return KBS_ERR_NOMEM;
	pthread_rwlock_rdlock(&k->policy_lock);
	eng = k->engine;
	len = k->resource_policy_len;
	text = k->pg ? NULL : malloc(len + 1);
	if (text)
		memcpy(text, k->resource_policy, len + 1);
	pthread_rwlock_unlock(&k->policy_lock);
	if (k->pg) {
		/* the shared copy, read at every request: no replica serves a stale policy */
		struct buf b;
		buf_init(&b, MAX_POLICY_TEXT);
		rc = pgstore_get(k->pg, PGSTORE_NS_KBS, PG_POLICY_KEY, &b);
		if (rc == KBS_OK && !(text = buf_steal(&b, &len)))
			rc = KBS_ERR_NOMEM;
		buf_release(&b);
		if (rc != KBS_OK) {
			snprintf(why, whylen, "resource policy unavailable (%s)", kbs_strerror(rc));
			json_decref(data);
			return rc == KBS_ERR_NOTFOUND ? KBS_ERR_INTERNAL : rc;
		}
	}
	if (!text) {
		json_decref(data);
		return KBS_ERR_NOMEM;
	}
	kbs_metrics_inc(k->metrics, KBS_CNT_POLICY_EVALUATIONS);
	rc = eng->eval(eng->ctx, text, len, "data.policy.allow", claims, data, NULL, &result, rule,
		       rulelen, why, whylen);
	if (rc != KBS_OK) {
		kbs_metrics_inc(k->metrics, KBS_CNT_POLICY_ERRORS);
	} else if (!json_is_true(result)) {
		kbs_metrics_inc(k->metrics, KBS_CNT_POLICY_VIOLATIONS);
		if (!rule[0])
			snprintf(rule, rulelen, "allow is %s", result ? "not true" : "undefined");
		rc = KBS_ERR_DENIED;
	} else {
		kbs_metrics_inc(k->metrics, KBS_CNT_POLICY_APPROVALS);
	}
	json_decref(result);
	json_decref(data);
	free(text);
	return rc;
}

int kbs_handle_resource_get(struct kbs_ctx *k, struct repo *repo, const char *plugin,
			    const struct http_request *req, struct http_response *resp,
			    const char *rpath)
{
	char id[KBS_SESSION_ID_LEN + 8], why[300] = "", rule[320] = "";
	char seg[3][KBS_SEG_MAX + 1];
	const char *segp[3] = {seg[0], seg[1], seg[2]};
	struct kbs_session_info s = {0};
	const char *tok = NULL;
	json_t *claims = NULL;
	struct jwk *tk = NULL;
	struct secbuf pt = {0};
	int rc, cached = 0;

	if (http_request_cookie(req, "kbs-session-id", id, sizeof(id)) == KBS_OK) {
		rc = kbs_sess_get(k, id, time(NULL), &s);
		if (rc == KBS_ERR_UNAVAILABLE) {
			rc = kbs_respond_unavailable(resp, "session lookup");
			goto out;
		}
		if (rc == KBS_OK && s.attested)
			tok = s.token;
	}
	if (!tok)
		tok = bearer(req);
	if (!tok) {
		rc = kbs_error_respond(resp, KBS_WERR_TOKEN_NOT_FOUND,
				       "no attested kbs-session-id cookie and no Authorization: "
				       "Bearer token");
		goto out;
	}
	rc = kbs_tokver_verify(k->tokver, tok, strlen(tok), &claims, &tk, &cached, why,
			       sizeof(why));
	if (cached)
		kbs_metrics_inc(k->metrics, KBS_CNT_TOKEN_CACHE_HITS);
	if (rc != KBS_OK) {
		rc = kbs_error_respond(resp, KBS_WERR_TOKEN_VERIFIER, "%s", why);
		goto out;
	}
	if (kbs_resource_path_parse(rpath, seg, why, sizeof(why)) != KBS_OK) {
		rc = kbs_error_respond(resp, KBS_WERR_PLUGIN_INTERNAL, "invalid resource path: %s",
				       why);
		goto out;
	}
	rc = eval_resource_policy(k, claims, plugin, seg, 3, http_request_query(req), rule,
				  sizeof(rule), why, sizeof(why));
	if (rc == KBS_ERR_DENIED) {
		log_info("kbs: resource %s/%s/%s denied to %s by policy rule %s", seg[0], seg[1],
			 seg[2], http_request_peer(req), rule);
		rc = kbs_error_respond(resp, KBS_WERR_POLICY_DENY,
				       "resource %s/%s/%s denied by policy rule: %s", seg[0],
				       seg[1], seg[2], rule);
		goto out;
	}
	if (rc == KBS_ERR_UNAVAILABLE) {
		rc = kbs_respond_unavailable(resp, "resource policy");
		goto out;
	}
	if (rc != KBS_OK) {
		rc = kbs_error_respond(resp, KBS_WERR_POLICY_ENGINE, "%s", why);
		goto out;
	}
	rc = repo->ops->read(repo, segp, &pt);
	if (rc == KBS_ERR_UNAVAILABLE) {
		rc = kbs_respond_repo_unavailable(repo, resp, "resource read");
		goto out;
	}
	if (rc != KBS_OK) {
		bool fs = strcmp(repo->ops->name, "LocalFs") == 0;
		rc = kbs_error_respond(resp, KBS_WERR_PLUGIN_INTERNAL, "resource %s/%s/%s %s%s",
				       seg[0], seg[1], seg[2],
				       rc == KBS_ERR_NOTFOUND		? "not found"
				       : rc == KBS_ERR_PERM && fs	? "refused: path escapes the "
									  "repository"
				       : rc == KBS_ERR_PERM		? "refused: access denied by "
									  "the backend "
									: "could not be read",
				       rc == KBS_ERR_PERM && !fs ? repo->ops->name : "");
		goto out;
	}
	kbs_metrics_inc(k->metrics, KBS_CNT_RESOURCE_READS);
	if (!tk) {
		rc = kbs_error_respond(resp, KBS_WERR_TOKEN_VERIFIER,
				       "no usable TEE public key in the token claims");
		goto out;
	}
	buf_reset(&resp->body);
	rc = jwe_encrypt(tk, NULL, pt.p, pt.len, &resp->body);
	if (rc != KBS_OK) {
		rc = kbs_error_respond(resp, KBS_WERR_JWE, "cannot encrypt to the TEE key (%s)",
				       kbs_strerror(rc));
		goto out;
	}
	resp->status = 200;
	rc = http_response_header(resp, "Content-Type", "application/json");
out:
	secbuf_free(&pt);
	jwk_free(tk);
	json_decref(claims);
	kbs_session_info_release(&s);
	return rc;
}
