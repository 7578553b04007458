/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_SERVER_KBS_INT_H
#define KBS_SERVER_KBS_INT_H

/*
 * Private to server/kbs: the KBS context and what its request handlers share.
 * kbs.c: context lifecycle, routing, session-store dispatch, 503 replies;
 * kbs_rcar.c: POST /auth and /attest; kbs_resource.c: attested resource GETs;
 * kbs_admin_api.c: admin endpoints (resource upload/delete, policies, reference values).
 */
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "common/http_server.h"
#include "server/as/policy_hook.h"
#include "server/kbs/kbs.h"
#include "server/kbs/repo.h"
#include "server/kbs/session.h"

#define KBS_PREFIX "/kbs/v0/"
#define MAX_POLICY_TEXT (256 * 1024)
#define PG_POLICY_KEY "resource-policy.rego"

struct kbs_ctx {
	struct kbs_config *cfg; /* borrowed */
	struct as_ctx *as;
	struct kbs_sessions *sessions;
	struct kbs_admin *admin;
	struct kbs_tokver *tokver;
	struct kbs_as_grpc *asg; /* coco_as_grpc: remote AS (k->as is NULL then) */
	struct repo *repo;
	struct repo *p11_repo; /* Trustee's separate "pkcs11" plugin, NULL when not configured */
	struct kbs_metrics *metrics;
	const struct http_server *http; /* for the per-worker figures in /metrics; may be NULL */
	const struct policy_engine *engine;
	pthread_rwlock_t policy_lock;
	char *resource_policy;
	size_t resource_policy_len;
	char *policy_dir; /* <storage>/kbs, NULL = memory only */
	size_t max_body;
	/* Postgres storage: resources, the resource policy (read at every request, so an
	 * upload on one replica applies on all) and, unless session_storage_type says
	 * otherwise, RCAR sessions. */
	struct pgstore *pg;
	bool pg_sessions;
};

/* Session store dispatch: shared table on Postgres, else the in-process store. */
int kbs_sess_create(struct kbs_ctx *k, const char *tee, long lifetime_s, time_t now, char *id,
		    char *nonce, time_t *expires);
int kbs_sess_get(struct kbs_ctx *k, const char *id, time_t now, struct kbs_session_info *out);
int kbs_sess_consume_nonce(struct kbs_ctx *k, const char *id, const char *nonce, time_t now);
int kbs_sess_set_token(struct kbs_ctx *k, const char *id, const char *token);

/* 503 naming what needed the database (Trustee-style error body + Retry-After). */
int kbs_respond_unavailable(struct http_response *resp, const char *what);

/* 503 naming the resource backend that failed (Postgres, PKCS#11, Vault, Azure Key Vault). */
int kbs_respond_repo_unavailable(const struct repo *r, struct http_response *resp,
				 const char *what);

/* Checks the policy with the engine, persists it when asked (Postgres, LocalFs), installs it. */
int kbs_set_resource_policy(struct kbs_ctx *k, const char *text, size_t len, bool persist,
			    char *why, size_t whylen);

/* Guest protocol handlers (kbs_rcar.c, kbs_resource.c). */
int kbs_handle_auth(struct kbs_ctx *k, const struct http_request *req,
		    struct http_response *resp);
int kbs_handle_attest(struct kbs_ctx *k, const struct http_request *req,
		      struct http_response *resp);
int kbs_handle_resource_get(struct kbs_ctx *k, struct repo *repo, const char *plugin,
			    const struct http_request *req, struct http_response *resp,
			    const char *rpath);

/* Length of an IMF-fixdate (RFC 9110 §5.6.7), "Sun, 06 Nov 1994 08:49:37 GMT". */
#define KBS_HTTP_DATE_LEN 29

/*
 * Formats t as an IMF-fixdate (the session cookie's Expires): the bytes strftime
 * "%a, %d %b %Y %H:%M:%S GMT" gives in the C locale for 1970..9999 (clamped to those ends
 * outside). Returns the length.
 */
size_t kbs_http_date(time_t t, char out[KBS_HTTP_DATE_LEN + 1]);

/* Admin handlers (kbs_admin_api.c); each checks the admin credentials first. */
int kbs_handle_resource_write(struct kbs_ctx *k, struct repo *repo,
			      const struct http_request *req, struct http_response *resp,
			      const char *rpath, bool del);
int kbs_handle_resource_policy(struct kbs_ctx *k, const struct http_request *req,
			       struct http_response *resp, bool get);
int kbs_handle_attestation_policy(struct kbs_ctx *k, const struct http_request *req,
				  struct http_response *resp);
int kbs_handle_reference_value(struct kbs_ctx *k, const struct http_request *req,
			       struct http_response *resp, const char *rest, bool get);

#endif
