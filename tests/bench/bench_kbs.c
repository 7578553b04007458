// SPDX-License-Identifier: Apache-2.0
/*
 * Load generator for a running kbs (tests/bench/bench_kbs.sh starts one, plus nginx).
 *   bench_kbs rcar   URL CA SECONDS THREADS      full RCAR handshakes (auth + attest), sample TEE
 *   bench_kbs bearer URL CA SECONDS THREADS PATH resource GETs with a Bearer token (one RCAR first)
 *   bench_kbs get    URL CA SECONDS THREADS      plain GETs of URL (the nginx baseline)
 * Every client thread keeps one keep-alive connection. Prints "<ops/s> <ok> <failed>".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/http_client.h"
#include "common/jose/jwk.h"
#include "common/json.h"
#include "server/as/as.h"
#include "server/kbs/kbs.h"

struct job {
	const char *mode, *url, *ca, *path;
	const char *token;
	long ms;
	long ok, failed;
	json_t *tee_pub;
};

static struct http_client *client(const char *ca)
{
	struct http_client_config cc = {.ca_file = ca, .max_retries = 0};
	struct http_client *c = NULL;

	if (http_client_new(&cc, &c) != KBS_OK) {
		fprintf(stderr, "bench_kbs: http client setup failed\n");
		exit(1);
	}
	return c;
}

/* One RCAR; returns the token (malloc'ed) or NULL. */
static char *rcar(struct http_client *c, const char *url, json_t *tee_pub)
{
	static const char auth[] = "{\"version\":\"0.4.0\",\"tee\":\"sample\",\"extra-params\":\"\"}";
	static const char *const hdr[] = {"Content-Type: application/json", NULL};
	char u[512], rd64[128];
	struct http_result r;
	json_t *ch = NULL, *rdo = NULL, *body = NULL, *tok = NULL;
	const char *nonce;
	uint8_t d[64];
	size_t dl;
	char *txt = NULL, *out = NULL, why[200];
	struct json_err je;

	http_client_clear_cookies(c);
	snprintf(u, sizeof(u), "%s/kbs/v0/auth", url);
	if (http_client_request(c, "POST", u, hdr, auth, sizeof(auth) - 1, 0, &r) != KBS_OK ||
	    r.status != 200 || json_parse((char *)r.body.p, r.body.len, 1 << 16, &ch, &je)) {
		http_result_release(&r);
		return NULL;
	}
	http_result_release(&r);
	nonce = json_string_value(json_object_get(ch, "nonce"));
	if (!nonce || kbs_runtime_data(tee_pub, nonce, "", &rdo, why, sizeof(why)) != KBS_OK ||
	    as_runtime_data_digest(rdo, "sha384", d, &dl) != KBS_OK ||
	    b64_encode(d, dl, rd64, sizeof(rd64), B64_STD) != KBS_OK)
		goto out;
	body = json_pack("{s:{s:s,s:O},s:{s:{s:s,s:s},s:s}}", "runtime-data", "nonce", nonce,
			 "tee-pubkey", tee_pub, "tee-evidence", "primary_evidence", "svn", "1",
			 "report_data", rd64, "additional_evidence", "");
	txt = body ? json_dumps(body, JSON_COMPACT) : NULL;
	snprintf(u, sizeof(u), "%s/kbs/v0/attest", url);
	if (!txt || http_client_request(c, "POST", u, hdr, txt, strlen(txt), 0, &r) != KBS_OK)
		goto out;
	if (r.status == 200 && json_parse((char *)r.body.p, r.body.len, 1 << 20, &tok, &je) == 0 &&
	    json_string_value(json_object_get(tok, "token")))
		out = strdup(json_string_value(json_object_get(tok, "token")));
	http_result_release(&r);
out:
	free(txt);
	json_decref(tok);
	json_decref(body);
	json_decref(rdo);
	json_decref(ch);
	return out;
}

static void *run(void *p)
{
	struct job *j = p;
	struct http_client *c = client(j->ca);
	int64_t end = http_now_ms() + j->ms;
	char u[512], auth[8192];
	const char *hdr[] = {auth, NULL};

	if (!strcmp(j->mode, "bearer")) {
		snprintf(u, sizeof(u), "%s/kbs/v0/resource/%s", j->url, j->path);
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", j->token);
	} else {
		snprintf(u, sizeof(u), "%s", j->url);
	}
	while (http_now_ms() < end) {
		if (!strcmp(j->mode, "rcar")) {
			char *t = rcar(c, j->url, j->tee_pub);
			if (t)
				j->ok++;
			else
				j->failed++;
			free(t);
			continue;
		}
		struct http_result r;
		if (http_client_request(c, "GET", u, !strcmp(j->mode, "bearer") ? hdr : NULL, NULL,
					0, 0, &r) == KBS_OK &&
		    r.status == 200)
			j->ok++;
		else
			j->failed++;
		http_result_release(&r);
	}
	http_client_free(c);
	return NULL;
}

int main(int argc, char **argv)
{
	struct job jobs[64];
	pthread_t th[64];
	struct jwk *k = NULL;
	json_t *pub = NULL;
	char *token = NULL;
	long ok = 0, failed = 0;
	int n;

	if (argc < 6 || (!strcmp(argv[1], "bearer") && argc < 7)) {
		fprintf(stderr, "usage: bench_kbs rcar|bearer|get URL CA SECONDS THREADS [PATH]\n");
		return 2;
	}
	n = atoi(argv[5]);
	if (n < 1 || n > 64)
		n = 1;
	if (jwk_generate(JWK_EC_P256, &k) != KBS_OK ||
	    jwk_tee_pubkey_json(k, "ECDH-ES+A256KW", &pub) != KBS_OK)
		return 1;
	if (!strcmp(argv[1], "bearer")) {
		struct http_client *c = client(argv[3]);
		token = rcar(c, argv[2], pub);
		http_client_free(c);
		if (!token) {
			fprintf(stderr, "bench_kbs: initial RCAR failed\n");
			return 1;
		}
	}
	for (int i = 0; i < n; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].mode = argv[1];
		jobs[i].url = argv[2];
		jobs[i].ca = argv[3];
		jobs[i].ms = atol(argv[4]) * 1000;
		jobs[i].path = argc > 6 ? argv[6] : NULL;
		jobs[i].token = token;
		jobs[i].tee_pub = pub;
		pthread_create(&th[i], NULL, run, &jobs[i]);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		ok += jobs[i].ok;
		failed += jobs[i].failed;
	}
	printf("%.0f %ld %ld\n", (double)ok / (double)atol(argv[4]), ok, failed);
	free(token);
	json_decref(pub);
	jwk_free(k);
	return failed ? 1 : 0;
}
