// SPDX-License-Identifier: Apache-2.0
/* restful-as: the attestation service over Trustee's REST API (kbs-protocol §12.2). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/http_server.h"
#include "common/json.h"
#include "common/log.h"
#include "server/as/as.h"
#include "server/as/verifier.h"

#ifndef KBSFS_VERSION
#define KBSFS_VERSION "0.1.0"
#endif

static const char usage[] =
	"NAME\n"
	"    restful-as - attestation service with Trustee's REST API\n"
	"\n"
	"SYNOPSIS\n"
	"    restful-as --socket IP:PORT [--config-file FILE]\n"
	"               [--https-pubkey-cert CERT --https-prikey KEY] [--allowed_origin LIST]\n"
	"\n"
	"DESCRIPTION\n"
	"    Verifies evidence and issues attestation tokens (EAR, ES256; or Trustee's legacy\n"
	"    Simple token when attestation_token_broker.type = \"Simple\").\n"
	"      POST /attestation        {\"verification_requests\":[{\"tee\",\"evidence\"\n"
	"                               (base64url of the evidence JSON),\"runtime_data\":\n"
	"                               {\"structured\":{..}}|{\"raw\":b64url},\"init_data\":\n"
	"                               {\"init_data_toml\":..}|{\"init_data_digest\":b64url},\n"
	"                               \"runtime_data_hash_algorithm\"}],\"policy_ids\":[]}\n"
	"                               -> 200, the token as plain text\n"
	"      POST /policy             {\"policy_id\",\"policy\":b64url Rego} -> 200\n"
	"      GET  /policy             [{\"policy-id\":..},..]\n"
	"      GET  /.well-known/jwks.json   {\"keys\":[signing key]}\n"
	"      GET  /healthz\n"
	"    Errors: 500 with a plain-text cause chain; malformed request bodies: 400.\n";

/* The rest of --help; the verifier list between the two comes from the registry. */
static const char usage_tail[] =
	"\n"
	"OPTIONS\n"
	"    -s, --socket IP:PORT         listen address (required)\n"
	"    -c, --config-file FILE       AS configuration (JSON, Trustee's format); defaults\n"
	"                                 when absent: ephemeral P-256 signing key, 5-minute\n"
	"                                 tokens, policies and reference values in memory\n"
	"    -t, --https-pubkey-cert PEM  serve HTTPS with this certificate chain\n"
	"    -k, --https-prikey PEM       ... and this private key\n"
	"    -r, --allowed_origin LIST    accepted for compatibility (CORS is not served)\n"
	"    -l, --log-level LEVEL        error, warn, info (default) or debug\n"
	"    -h, --help, -V, --version\n"
	"\n"
	"EXIT STATUS\n"
	"    0 on clean shutdown (SIGINT/SIGTERM), 1 on start-up errors, 2 on bad usage.\n";

/* Prints --help with the TEEs that have a verifier in this build. */
static void print_help(void)
{
	const char *const *names = as_verifier_names();

	fputs(usage, stdout);
	fputs("    TEEs with a verifier in this build:", stdout);
	for (size_t i = 0; names[i]; i++)
		printf("%s %s", i ? "," : "", names[i]);
	fputs(".\n", stdout);
	fputs(usage_tail, stdout);
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int fail500(struct http_response *resp, const char *why)
{
	resp->status = 500;
	buf_reset(&resp->body);
	buf_printf(&resp->body, "An internal error occured: \n0: %s", why);
	return http_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
}

static int fail400(struct http_response *resp, const char *why)
{
	resp->status = 400;
	buf_reset(&resp->body);
	buf_printf(&resp->body, "Json deserialize error: %s", why);
	return http_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
}

static int b64url_field(json_t *obj, const char *key, uint8_t **out, size_t *len)
{
	const char *s = json_string_value(json_object_get(obj, key));

	if (!s)
		return KBS_ERR_INVAL;
	return b64_decode_alloc(s, strlen(s), B64_URL, out, len);
}

struct vr {
	json_t *evidence;
	uint8_t *raw, *digest;
};

static int handle_attestation(struct as_ctx *as, const struct http_request *req,
			      struct http_response *resp)
{
	size_t blen, i;
	const uint8_t *body = http_request_body(req, &blen);
	json_t *j = NULL, *vrs, *pids, *e;
	struct as_request areq[16];
	struct vr v[16];
	struct as_result res = {0};
	struct json_err jerr;
	char why[400];
	const char *pid = NULL;
	int rc;

	memset(areq, 0, sizeof(areq));
	memset(v, 0, sizeof(v));
	if (json_parse((const char *)body, blen, 8u << 20, &j, &jerr) != KBS_OK) {
		rc = fail400(resp, jerr.msg);
		goto out;
	}
	vrs = json_object_get(j, "verification_requests");
	pids = json_object_get(j, "policy_ids");
	if (!json_is_array(vrs) || json_array_size(vrs) == 0 || json_array_size(vrs) > 16 ||
	    !json_is_array(pids)) {
		rc = fail400(resp, "need verification_requests (1..16) and policy_ids");
		goto out;
	}
	if (json_array_size(pids) > 0)
		pid = json_string_value(json_array_get(pids, 0));
	json_array_foreach(vrs, i, e) {
		uint8_t *evtxt = NULL;
		size_t evlen;
		json_t *rd = json_object_get(e, "runtime_data"), *id = json_object_get(e, "init_data");
		areq[i].tee = json_string_value(json_object_get(e, "tee"));
		if (!areq[i].tee || b64url_field(e, "evidence", &evtxt, &evlen) != KBS_OK) {
			rc = fail400(resp, "each request needs tee and base64url evidence");
			goto out;
		}
		rc = json_parse((const char *)evtxt, evlen, 8u << 20, &v[i].evidence, &jerr);
		free(evtxt);
		if (rc != KBS_OK) {
			rc = fail500(resp, "evidence is not JSON");
			goto out;
		}
		areq[i].evidence = v[i].evidence;
		areq[i].hash_alg = json_string_value(json_object_get(e, "runtime_data_hash_algorithm"));
		if (json_is_object(rd) && json_object_get(rd, "structured")) {
			areq[i].runtime_data = json_object_get(rd, "structured");
		} else if (json_is_object(rd) && json_object_get(rd, "raw")) {
			if (b64url_field(rd, "raw", &v[i].raw, &areq[i].runtime_data_raw_len)) {
				rc = fail400(resp, "runtime_data.raw is not base64url");
				goto out;
			}
			areq[i].runtime_data_raw = v[i].raw;
		}
		if (json_is_object(id) && json_is_string(json_object_get(id, "init_data_toml"))) {
			json_t *t = json_object_get(id, "init_data_toml");
			areq[i].init_data_toml = json_string_value(t);
			areq[i].init_data_toml_len = json_string_length(t);
		} else if (json_is_object(id) && json_object_get(id, "init_data_digest")) {
			if (b64url_field(id, "init_data_digest", &v[i].digest,
					 &areq[i].init_data_digest_len)) {
				rc = fail400(resp, "init_data_digest is not base64url");
				goto out;
			}
			areq[i].init_data_digest = v[i].digest;
		}
	}
	rc = as_evaluate(as, areq, json_array_size(vrs), pid, &res, why, sizeof(why));
	if (rc != KBS_OK) {
		log_info("restful-as: attestation failed: %s", why);
		rc = fail500(resp, why);
		goto out;
	}
	resp->status = 200;
	buf_reset(&resp->body);
	rc = buf_append_str(&resp->body, res.token);
	if (rc == KBS_OK)
		rc = http_response_header(resp, "Content-Type", "text/plain");
out:
	for (i = 0; i < 16; i++) {
		json_decref(v[i].evidence);
		free(v[i].raw);
		free(v[i].digest);
	}
	as_result_release(&res);
	json_decref(j);
	return rc;
}

static int handle_set_policy(struct as_ctx *as, const struct http_request *req,
			     struct http_response *resp)
{
	size_t blen, plen;
	const uint8_t *body = http_request_body(req, &blen);
	json_t *j = NULL;
	struct json_err jerr;
	const char *id;
	uint8_t *text = NULL;
	char why[400];
	int rc;

	if (json_parse((const char *)body, blen, 1u << 20, &j, &jerr) != KBS_OK ||
	    !(id = json_string_value(json_object_get(j, "policy_id"))) ||
	    b64url_field(j, "policy", &text, &plen) != KBS_OK) {
		rc = fail400(resp, "body must be {\"policy_id\",\"policy\":<base64url>}");
		goto out;
	}
	if (as_set_policy(as, id, (const char *)text, plen, why, sizeof(why)) != KBS_OK) {
		rc = fail500(resp, why);
		goto out;
	}
	resp->status = 200;
	rc = KBS_OK;
out:
	free(text);
	json_decref(j);
	return rc;
}

static int respond_json(struct http_response *resp, json_t *j)
{
	char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int rc = KBS_ERR_NOMEM;

	json_decref(j);
	if (!t)
		return rc;
	resp->status = 200;
	rc = buf_append_str(&resp->body, t);
	free(t);
	if (rc == KBS_OK)
		rc = http_response_header(resp, "Content-Type", "application/json");
	return rc;
}

static int handler(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct as_ctx *as = ctx;
	const char *p = http_request_path(req), *m = http_request_method(req);
	bool get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0;

	if (strcmp(p, "/attestation") == 0 && post)
		return handle_attestation(as, req, resp);
	if (strcmp(p, "/policy") == 0 && post)
		return handle_set_policy(as, req, resp);
	if (strcmp(p, "/policy") == 0 && get)
		return respond_json(resp, as_list_policies(as));
	if (strcmp(p, "/.well-known/jwks.json") == 0 && get)
		return respond_json(resp, as_jwks(as));
	if (strcmp(p, "/healthz") == 0 && get) {
		resp->status = 200;
		return KBS_OK;
	}
	if (strcmp(p, "/challenge") == 0 && post)
		return fail500(resp, "no TEE in this build needs a challenge");
	resp->status = 404;
	return KBS_OK;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"socket", required_argument, NULL, 's'},
					     {"config-file", required_argument, NULL, 'c'},
					     {"https-pubkey-cert", required_argument, NULL, 't'},
					     {"https-prikey", required_argument, NULL, 'k'},
					     {"allowed_origin", required_argument, NULL, 'r'},
					     {"log-level", required_argument, NULL, 'l'},
					     {"help", no_argument, NULL, 'h'},
					     {"version", no_argument, NULL, 'V'},
					     {NULL, 0, NULL, 0}};
	const char *sock = NULL, *config = NULL, *cert = NULL, *key = NULL, *level = NULL;
	struct as_config cfg;
	struct as_ctx *as = NULL;
	struct http_server *srv = NULL;
	struct http_server_config hc = {0};
	char why[400];
	int c, ret = 1, rc;

	while ((c = getopt_long(argc, argv, "s:c:t:k:r:l:hV", opts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'c': config = optarg; break;
		case 't': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'r': break;
		case 'l': level = optarg; break;
		case 'h': print_help(); return 0;
		case 'V': printf("restful-as (kbsfs) %s\n", KBSFS_VERSION); return 0;
		default:
			fputs("usage: restful-as --socket IP:PORT [--config-file FILE] (see --help)\n",
			      stderr);
			return 2;
		}
	}
	if (!sock || optind != argc || (!cert) != (!key)) {
		fputs("restful-as: --socket is required; --https-pubkey-cert and --https-prikey "
		      "go together (see --help)\n", stderr);
		return 2;
	}
	log_setup("restful-as", LOG_LVL_INFO, LOG_TARGET_STDERR);
	if (level && log_level_parse(level) >= 0)
		log_set_level((enum log_level)log_level_parse(level));
	as_config_init(&cfg);
	if (config) {
		json_error_t je;
		json_t *j = json_load_file(config, JSON_REJECT_DUPLICATES, &je);
		if (!j) {
			log_error("restful-as: %s:%d: %s", config, je.line, je.text);
			goto out;
		}
		rc = as_config_from_json(j, &cfg, why, sizeof(why));
		json_t *lfs = json_object_get(json_object_get(json_object_get(j, "storage_backend"),
							      "backends"), "local_fs");
		const char *dir = json_string_value(json_object_get(lfs, "dir_path"));
		if (dir)
			cfg.state_dir = strdup(dir);
		json_decref(j);
		if (rc != KBS_OK) {
			log_error("restful-as: %s: %s", config, why);
			goto out;
		}
	}
	if ((rc = as_new(&cfg, &as)) != KBS_OK) {
		log_error("restful-as: cannot start the attestation service: %s", kbs_strerror(rc));
		goto out;
	}
	hc.listen = &sock;
	hc.nlisten = 1;
	hc.tls = cert != NULL;
	hc.cert_file = cert;
	hc.key_file = key;
	hc.max_body_size = 8u << 20;
	if ((rc = http_server_new(&hc, handler, as, &srv)) != KBS_OK ||
	    (rc = http_server_start(srv)) != KBS_OK) {
		log_error("restful-as: cannot listen on %s: %s", sock, kbs_strerror(rc));
		goto out;
	}
	log_info("restful-as: listening on %s (port %d, %s)", sock, http_server_port(srv, 0),
		 hc.tls ? "TLS" : "plain HTTP");
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	while (!stop_flag)
		pause();
	ret = 0;
out:
	http_server_stop(srv);
	http_server_free(srv);
	as_free(as);
	as_config_release(&cfg);
	return ret;
}
