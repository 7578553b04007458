// SPDX-License-Identifier: Apache-2.0
/*
 * grpc-as: the attestation service behind Trustee's gRPC API (attestation.AttestationService:
 * AttestationEvaluate, SetAttestationPolicy, GetAttestationChallenge), plus the signing key
 * as a JWK set over HTTP on an optional second address. Errors are gRPC ABORTED with the
 * cause text, as in Trustee.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/grpc_server.h"
#include "common/http_server.h"
#include "common/json.h"
#include "common/log.h"
#include "server/as/as.h"
#include "rvps/rvps_grpc.h"
#include "server/as/proto/attestation.pb-c.h"

#ifndef KBSFS_VERSION
#define KBSFS_VERSION "0.1.0"
#endif

#define MAX_REQUESTS 16

static const char usage[] =
    "NAME\n"
    "    grpc-as - attestation service with Trustee's gRPC API\n"
    "\n"
    "SYNOPSIS\n"
    "    grpc-as [--socket ADDR] [--config-file FILE] [--jwks-socket IP:PORT]\n"
    "\n"
    "DESCRIPTION\n"
    "    Serves attestation.AttestationService (protos: server/as/proto/attestation.proto):\n"
    "      AttestationEvaluate      evidence -> EAR token (the same evaluation as restful-as)\n"
    "      SetAttestationPolicy     {policy_id, policy: base64url Rego}\n"
    "      GetAttestationChallenge  no TEE of this build needs one: ABORTED\n"
    "    and, on the same port, reference.ReferenceValueProviderService (Register/Query\n"
    "    ReferenceValue against this AS's RVPS) and grpc.health.v1.Health/Check\n"
    "    over plaintext HTTP/2. Failures answer ABORTED with the cause.\n"
    "\n"
    "OPTIONS\n"
    "    -s, --socket ADDR        host:port or unix:/path (default 127.0.0.1:3000)\n"
    "    -c, --config-file FILE   AS configuration (JSON, as restful-as; default: built-in)\n"
    "    -j, --jwks-socket IP:PORT  also serve GET /.well-known/jwks.json over HTTP/1.1 there\n"
    "                             (Trustee serves it on the gRPC port; gRPC C core cannot)\n"
    "    -l, --log-level LEVEL    error, warn, info (default), debug\n"
    "    -h, --help, -V, --version\n";

/* Runtime-data and init-data buffers of one evaluation, freed together. */
struct eval_bufs {
	json_t *evidence[MAX_REQUESTS];
	json_t *structured[MAX_REQUESTS];
	uint8_t *raw[MAX_REQUESTS];
	uint8_t *digest[MAX_REQUESTS];
};

static void on_evaluate(void *ctx, const ProtobufCMessage *m, const uint8_t *raw, size_t rawlen,
			struct grpc_srv_reply *rep)
{
	struct as_ctx *as = ctx;
	const Attestation__AttestationRequest *q = (const void *)m;
	Attestation__AttestationResponse r = ATTESTATION__ATTESTATION_RESPONSE__INIT;
	struct as_request areq[MAX_REQUESTS];
	struct eval_bufs b;
	struct as_result res = {0};
	struct json_err jerr;
	char why[400];
	size_t n = q->n_verification_requests;

	(void)raw;
	(void)rawlen;
	memset(areq, 0, sizeof(areq));
	memset(&b, 0, sizeof(b));
	if (n == 0 || n > MAX_REQUESTS) {
		grpc_srv_reply_status(rep, GRPC_SRV_ABORTED, "need 1..%d verification requests",
				      MAX_REQUESTS);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const Attestation__IndividualAttestationRequest *v = q->verification_requests[i];
		uint8_t *ev = NULL;
		size_t evlen;
		int rc;

		areq[i].tee = v->tee;
		if (!v->evidence || b64_decode_alloc(v->evidence, strlen(v->evidence), B64_URL, &ev,
						     &evlen) != KBS_OK) {
			snprintf(why, sizeof(why), "evidence is not base64url (no padding)");
			goto fail;
		}
		rc = json_parse((const char *)ev, evlen, 8u << 20, &b.evidence[i], &jerr);
		free(ev);
		if (rc != KBS_OK) {
			snprintf(why, sizeof(why), "evidence is not JSON: %s", jerr.msg);
			goto fail;
		}
		areq[i].evidence = b.evidence[i];
		areq[i].hash_alg = v->runtime_data_hash_algorithm && *v->runtime_data_hash_algorithm
				       ? v->runtime_data_hash_algorithm
				       : NULL;
		if (v->runtime_data_case ==
		    ATTESTATION__INDIVIDUAL_ATTESTATION_REQUEST__RUNTIME_DATA_RAW_RUNTIME_DATA) {
			if (b64_decode_alloc(v->raw_runtime_data, strlen(v->raw_runtime_data),
					     B64_URL, &b.raw[i],
					     &areq[i].runtime_data_raw_len) != KBS_OK) {
				snprintf(why, sizeof(why), "raw_runtime_data is not base64url");
				goto fail;
			}
			areq[i].runtime_data_raw = b.raw[i];
		} else if (
		    v->runtime_data_case ==
		    ATTESTATION__INDIVIDUAL_ATTESTATION_REQUEST__RUNTIME_DATA_STRUCTURED_RUNTIME_DATA) {
			if (json_parse(v->structured_runtime_data,
				       strlen(v->structured_runtime_data), 1u << 20,
				       &b.structured[i], &jerr) != KBS_OK) {
				snprintf(why, sizeof(why),
					 "structured_runtime_data is not JSON: %s", jerr.msg);
				goto fail;
			}
			areq[i].runtime_data = b.structured[i];
		}
		if (v->init_data_case ==
		    ATTESTATION__INDIVIDUAL_ATTESTATION_REQUEST__INIT_DATA_INIT_DATA_TOML) {
			areq[i].init_data_toml = v->init_data_toml;
			areq[i].init_data_toml_len = strlen(v->init_data_toml);
		} else if (
		    v->init_data_case ==
		    ATTESTATION__INDIVIDUAL_ATTESTATION_REQUEST__INIT_DATA_INIT_DATA_DIGEST) {
			if (b64_decode_alloc(v->init_data_digest, strlen(v->init_data_digest),
					     B64_URL, &b.digest[i],
					     &areq[i].init_data_digest_len) != KBS_OK) {
				snprintf(why, sizeof(why), "init_data_digest is not base64url");
				goto fail;
			}
			areq[i].init_data_digest = b.digest[i];
		}
	}
	if (as_evaluate(as, areq, n, q->n_policy_ids ? q->policy_ids[0] : NULL, &res, why,
			sizeof(why)) != KBS_OK) {
		log_info("grpc-as: attestation failed: %s", why);
		goto fail;
	}
	r.attestation_token = res.token;
	grpc_srv_reply_message(rep, &r.base);
	goto out;
fail:
	grpc_srv_reply_status(rep, GRPC_SRV_ABORTED, "%s", why);
out:
	for (size_t i = 0; i < MAX_REQUESTS; i++) {
		json_decref(b.evidence[i]);
		json_decref(b.structured[i]);
		free(b.raw[i]);
		free(b.digest[i]);
	}
	as_result_release(&res);
}

static void on_set_policy(void *ctx, const ProtobufCMessage *m, const uint8_t *raw, size_t rawlen,
			  struct grpc_srv_reply *rep)
{
	const Attestation__SetPolicyRequest *q = (const void *)m;
	Attestation__SetPolicyResponse r = ATTESTATION__SET_POLICY_RESPONSE__INIT;
	uint8_t *text = NULL;
	size_t len;
	char why[400];

	(void)raw;
	(void)rawlen;
	if (!q->policy_id || !*q->policy_id || !q->policy ||
	    b64_decode_alloc(q->policy, strlen(q->policy), B64_URL, &text, &len) != KBS_OK) {
		grpc_srv_reply_status(rep, GRPC_SRV_ABORTED,
				      "need policy_id and a base64url (no padding) policy");
		return;
	}
	if (as_set_policy(ctx, q->policy_id, (const char *)text, len, why, sizeof(why)) != KBS_OK)
		grpc_srv_reply_status(rep, GRPC_SRV_ABORTED, "Set policy failed: %s", why);
	else
		grpc_srv_reply_message(rep, &r.base);
	free(text);
}

static void on_challenge(void *ctx, const ProtobufCMessage *m, const uint8_t *raw, size_t rawlen,
			 struct grpc_srv_reply *rep)
{
	const Attestation__ChallengeRequest *q = (const void *)m;
	const char *tee = NULL;

	(void)ctx;
	(void)raw;
	(void)rawlen;
	for (size_t i = 0; i < q->n_inner; i++)
		if (q->inner[i]->key && strcmp(q->inner[i]->key, "tee") == 0)
			tee = q->inner[i]->value;
	if (!tee) {
		grpc_srv_reply_status(rep, GRPC_SRV_ABORTED, "tee not specified in the request");
		return;
	}
	/* only IBM SE uses AS-generated challenges; its verifier is not in this build */
	grpc_srv_reply_status(rep, GRPC_SRV_ABORTED,
			      "TEE %.32s does not use an attestation-service challenge here", tee);
}

/* reference.ReferenceValueProviderService on the same port: the AS's own RVPS (§14.4) */
/* The RVPS API of grpc-as: this AS's reference values (local store or remote RVPS). */
static int rv_register(void *ctx, const char *msg, size_t len, char *why, size_t whylen)
{
	return as_rv_register(ctx, msg, len, why, whylen);
}

/* Unreadable values are answered as absent (logged by as_rv_query), as before. */
static int rv_query(void *ctx, const char *name, json_t **out, char *why, size_t whylen)
{
	(void)why;
	(void)whylen;
	*out = as_rv_query(ctx, name);
	return *out ? KBS_OK : KBS_ERR_NOTFOUND;
}

static const struct rvps_grpc_backend as_rv_backend = {rv_register, rv_query};

static int jwks_handler(void *ctx, const struct http_request *req, struct http_response *resp)
{
	json_t *j;
	char *txt;
	int rc = KBS_ERR_NOMEM;

	if (strcmp(http_request_path(req), "/.well-known/jwks.json") != 0 ||
	    strcmp(http_request_method(req), "GET") != 0) {
		resp->status = 404;
		return KBS_OK;
	}
	j = as_jwks(ctx);
	txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (txt) {
		resp->status = 200;
		buf_reset(&resp->body);
		rc = buf_append_str(&resp->body, txt);
		if (rc == KBS_OK)
			rc = http_response_header(resp, "Content-Type", "application/json");
		free(txt);
	}
	return rc;
}

static int load_config(const char *path, struct as_config *cfg)
{
	json_error_t je;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je), *lfs;
	const char *dir;
	char why[400];
	int rc;

	if (!j) {
		log_error("grpc-as: %s:%d: %s", path, je.line, je.text);
		return KBS_ERR_PARSE;
	}
	rc = as_config_from_json(j, cfg, why, sizeof(why));
	lfs = json_object_get(json_object_get(json_object_get(j, "storage_backend"), "backends"),
			      "local_fs");
	dir = json_string_value(json_object_get(lfs, "dir_path"));
	if (dir && rc == KBS_OK && !(cfg->state_dir = strdup(dir)))
		rc = KBS_ERR_NOMEM;
	json_decref(j);
	if (rc != KBS_OK)
		log_error("grpc-as: %s: %s", path, why);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"socket", required_argument, NULL, 's'},
					     {"config-file", required_argument, NULL, 'c'},
					     {"jwks-socket", required_argument, NULL, 'j'},
					     {"log-level", required_argument, NULL, 'l'},
					     {"help", no_argument, NULL, 'h'},
					     {"version", no_argument, NULL, 'V'},
					     {NULL, 0, NULL, 0}};
	const char *sock = "127.0.0.1:3000", *config = NULL, *jwks = NULL, *level = NULL;
	struct as_config cfg;
	struct as_ctx *as = NULL;
	struct grpc_srv *srv = NULL;
	struct rvps_grpc_service rv_svc = {&as_rv_backend, NULL};
	struct http_server *hs = NULL;
	struct http_server_config hc = {0};
	int c, ret = 1, port = 0, sig;

	while ((c = getopt_long(argc, argv, "s:c:j:l:hV", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'j':
			jwks = optarg;
			break;
		case 'l':
			level = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("grpc-as (kbsfs) %s\n", KBSFS_VERSION);
			return 0;
		default:
			fputs("usage: grpc-as [--socket ADDR] [--config-file FILE]\n", stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs("grpc-as: unexpected argument (see --help)\n", stderr);
		return 2;
	}
	log_setup("grpc-as", LOG_LVL_INFO, LOG_TARGET_STDERR);
	if (level && log_level_parse(level) >= 0)
		log_set_level((enum log_level)log_level_parse(level));
	/* before any thread: gRPC's threads must leave SIGTERM/SIGINT to grpc_srv_wait_signal */
	if (grpc_srv_new(&srv) != KBS_OK) {
		log_error("grpc-as: cannot create the gRPC server");
		return 1;
	}
	as_config_init(&cfg);
	if (config && load_config(config, &cfg) != KBS_OK)
		goto out;
	if (as_new(&cfg, &as) != KBS_OK) {
		log_error("grpc-as: cannot start the attestation service");
		goto out;
	}
	rv_svc.ctx = as;
	if (grpc_srv_add_method(srv, "/attestation.AttestationService/AttestationEvaluate",
				&attestation__attestation_request__descriptor, on_evaluate, as,
				4) != KBS_OK ||
	    grpc_srv_add_method(srv, "/attestation.AttestationService/SetAttestationPolicy",
				&attestation__set_policy_request__descriptor, on_set_policy, as,
				1) != KBS_OK ||
	    grpc_srv_add_method(srv, "/attestation.AttestationService/GetAttestationChallenge",
				&attestation__challenge_request__descriptor, on_challenge, as,
				1) != KBS_OK ||
	    rvps_grpc_add_service(srv, &rv_svc, 1, 2) != KBS_OK ||
	    grpc_srv_add_health(srv) != KBS_OK) {
		log_error("grpc-as: cannot register the methods");
		goto out;
	}
	if (grpc_srv_listen(srv, sock, &port) != KBS_OK) {
		log_error("grpc-as: cannot listen on %s", sock);
		goto out;
	}
	if (jwks) {
		hc.listen = &jwks;
		hc.nlisten = 1;
		hc.max_body_size = 4096;
		if (http_server_new(&hc, jwks_handler, as, &hs) != KBS_OK ||
		    http_server_start(hs) != KBS_OK) {
			log_error("grpc-as: cannot listen on %s for the JWK set", jwks);
			goto out;
		}
		log_info("grpc-as: JWK set on http://%s/.well-known/jwks.json", jwks);
	}
	if (grpc_srv_start(srv, 4) != KBS_OK) {
		log_error("grpc-as: cannot start serving");
		goto out;
	}
	log_info("grpc-as: attestation.AttestationService listening on %s (port %d)", sock, port);
	sig = grpc_srv_wait_signal();
	log_info("grpc-as: signal %d, shutting down", sig);
	ret = 0;
out:
	grpc_srv_free(srv);
	http_server_stop(hs);
	http_server_free(hs);
	as_free(as);
	as_config_release(&cfg);
	return ret;
}
