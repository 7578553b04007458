/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_SERVER_KBS_H
#define KBS_SERVER_KBS_H

#include <stddef.h>

#include "common/http_server.h"
#include "server/as/as.h"
#include "server/as/policy_hook.h"
#include "server/kbs/kbs_config.h"

/*
 * The KBS: Trustee's /kbs/v0 API (kbs-protocol §1-§9) on top of the in-process AS, the
 * session store, the resource repository and the admin authenticator.
 */
struct kbs_ctx;

/* Builds everything the config describes (keys, repository, policies). err on failure. */
int kbs_new(const struct kbs_config *cfg, struct kbs_ctx **out, char *err, size_t errlen);
void kbs_free(struct kbs_ctx *k);

/* HTTP entry point (http_handler_fn); ctx = struct kbs_ctx *. Thread-safe. */
int kbs_handle(void *ctx, const struct http_request *req, struct http_response *resp);

/* Plugs an engine (e.g. the Rego engine) in for the resource policy and the AS. */
void kbs_set_policy_engine(struct kbs_ctx *k, const struct policy_engine *engine);

struct as_ctx *kbs_as(struct kbs_ctx *k);

/* The HTTP server in front of k, whose per-worker connection figures /metrics shows. */
void kbs_set_http_server(struct kbs_ctx *k, const struct http_server *srv);

/* The resource policy installed at first start (Trustee's default decision, §15.1). */
extern const char kbs_default_resource_policy[];

/*
 * Runtime-data object of §3.1 from the attestation body pieces: the tee-pubkey re-serialised
 * with only its typed members (EC: alg crv kty x y; RSA: alg e kty n), the nonce and
 * (primary only, when additional != NULL) the additional-evidence string.
 */
int kbs_runtime_data(const json_t *tee_pubkey, const char *nonce, const char *additional,
		     json_t **out, char *why, size_t whylen);

/*
 * Parses and checks a /auth body: members version (=0.4.0), tee (a known TEE name) and
 * extra-params. *root: new reference owning *tee.
 */
int kbs_parse_auth(const void *body, size_t len, size_t max, json_t **root, const char **tee,
		   char *why, size_t whylen);

/* A parsed /attest body; every pointer borrows from root. */
struct kbs_attest_req {
	json_t *root;
	const char *nonce;
	json_t *tee_pubkey;
	json_t *primary;
	const char *additional; /* "" when absent */
	const char *init_toml;  /* NULL when no init-data */
};

/* Parses and checks the shape of a /attest body (kbs-protocol §2.2); json_decref(out->root). */
int kbs_parse_attest(const void *body, size_t len, size_t max, struct kbs_attest_req *out,
		     char *why, size_t whylen);

/* Semver check of the /auth "version" (=0.4.0, build metadata allowed). */
int kbs_protocol_version_ok(const char *v);

#endif
