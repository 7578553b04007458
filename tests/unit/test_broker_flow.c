// SPDX-License-Identifier: Apache-2.0
/*
 * Broker against an in-process scripted KBS (common/http_server): single flight under
 * concurrency, a failed attestation shared by every waiter, the error type deciding the
 * outcome (PolicyDeny, PluginInternalError, TokenVerifierError -> one re-attestation),
 * retries of 503 answers, token refresh near expiry, and a JWE for another key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/b64.h"
#include "common/err.h"
#include "common/http_client.h"
#include "common/http_server.h"
#include "common/jose/jwe.h"
#include "common/jose/jwk.h"
#include "common/json.h"
#include "common/log.h"
#include "common/secmem.h"

#define ERRNS "https://github.com/confidential-containers/kbs/errors/"

struct fake {
	pthread_mutex_t mu;
	int auths, attests, gets;
	int flaky_left;      /* 503 answers still to give for default/flaky/x */
	int stale_left;      /* TokenVerifierError answers still to give for default/stale/x */
	bool refuse_attest;  /* /attest answers AttestationError */
	int attest_delay_ms; /* widens the window in which callers pile up */
	int token_life_s;
	struct jwk *other;   /* key for default/foreign/x */
	char last_query[256]; /* query string of the last resource GET */
	struct http_server *srv;
	char url[64];
};

static struct fake F;

static void kbs_error(struct http_response *resp, const char *type, const char *detail)
{
	resp->status = 401;
	buf_printf(&resp->body, "{\"type\":\"" ERRNS "%s\",\"detail\":\"%s\"}", type, detail);
}

static int take(int *counter)
{
	int v;

	pthread_mutex_lock(&F.mu);
	v = *counter;
	if (v > 0)
		(*counter)--;
	pthread_mutex_unlock(&F.mu);
	return v;
}

/* The tee-pubkey the client put in the (unsigned) token we issued. */
static struct jwk *token_key(const struct http_request *req)
{
	const char *auth = http_request_header(req, "Authorization"), *d1, *d2;
	uint8_t *p = NULL;
	size_t n;
	json_t *j = NULL;
	struct jwk *k = NULL;

	if (!auth || strncmp(auth, "Bearer ", 7))
		return NULL;
	d1 = strchr(auth + 7, '.');
	d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (d2 && b64_decode_alloc(d1 + 1, (size_t)(d2 - d1 - 1), B64_URL, &p, &n) == KBS_OK &&
	    json_parse((const char *)p, n, 1 << 16, &j, NULL) == KBS_OK)
		(void)jwk_from_json(json_object_get(j, "tee-pubkey"), &k);
	json_decref(j);
	free(p);
	return k;
}

static int handler(void *ctx, const struct http_request *req, struct http_response *resp)
{
	const char *path = http_request_path(req);

	if (!strcmp(path, "/kbs/v0/auth")) {
		pthread_mutex_lock(&F.mu);
		F.auths++;
		pthread_mutex_unlock(&F.mu);
		http_response_header(resp, "Set-Cookie", "kbs-session-id=0123456789abcdef");
		buf_append_str(&resp->body, "{\"nonce\":\"bm9uY2U=\",\"extra-params\":\"\"}");
		return 0;
	}
	if (!strcmp(path, "/kbs/v0/attest")) {
		size_t n;
		const uint8_t *body = http_request_body(req, &n);
		json_t *a = NULL, *claims;
		char *pl, *enc = NULL;

		pthread_mutex_lock(&F.mu);
		F.attests++;
		pthread_mutex_unlock(&F.mu);
		usleep((useconds_t)F.attest_delay_ms * 1000);
		if (F.refuse_attest) {
			kbs_error(resp, "AttestationError", "Attestation error: refused by test");
			return 0;
		}
		if (json_parse((const char *)body, n, 1 << 20, &a, NULL) != KBS_OK) {
			kbs_error(resp, "AttestationError", "unparsable attestation");
			return 0;
		}
		claims = json_pack("{s:I, s:O}", "exp", (json_int_t)(time(NULL) + F.token_life_s),
				   "tee-pubkey", json_object_get(json_object_get(a, "runtime-data"),
								 "tee-pubkey"));
		pl = json_dump_compact(claims, &n);
		b64_encode_alloc((const uint8_t *)pl, n, B64_URL, &enc);
		buf_printf(&resp->body, "{\"token\":\"eyJhbGciOiJub25lIn0.%s.c2ln\"}", enc);
		free(enc);
		free(pl);
		json_decref(claims);
		json_decref(a);
		return 0;
	}
	if (!strncmp(path, "/kbs/v0/resource/", 17)) {
		const char *rp = path + 17;
		struct jwk *k = token_key(req);

		pthread_mutex_lock(&F.mu);
		F.gets++;
		snprintf(F.last_query, sizeof(F.last_query), "%s",
			 http_request_query(req) ? http_request_query(req) : "");
		pthread_mutex_unlock(&F.mu);
		if (!k) {
			kbs_error(resp, "TokenNotFound", "Attestation Token not found");
		} else if (!strcmp(rp, "default/deny/x")) {
			kbs_error(resp, "PolicyDeny", "Access denied by policy");
		} else if (!strcmp(rp, "default/gone/x")) {
			kbs_error(resp, "PluginInternalError", "Plugin internal error");
		} else if (!strcmp(rp, "default/always401/x")) {
			kbs_error(resp, "TokenVerifierError", "Token Verifier error");
		} else if (!strcmp(rp, "default/stale/x") && take(&F.stale_left) > 0) {
			kbs_error(resp, "TokenVerifierError", "Token Verifier error");
		} else if (!strcmp(rp, "default/flaky/x") && take(&F.flaky_left) > 0) {
			resp->status = 503;
		} else {
			/* the plaintext is the path, so each answer is checkable; no cmocka
			 * asserts here: this runs on a server thread */
			bool foreign = !strcmp(rp, "default/foreign/x");

			if (jwe_encrypt(foreign ? F.other : k, foreign ? "ECDH-ES+A256KW" : NULL,
					(const uint8_t *)rp, strlen(rp), &resp->body) != KBS_OK)
				resp->status = 500;
			http_response_header(resp, "Content-Type", "application/json");
		}
		jwk_free(k);
		return 0;
	}
	resp->status = 404;
	return 0;
}

static int setup(void **state)
{
	static const char *const listen[] = {"127.0.0.1:0"};
	struct http_server_config sc = {.listen = listen, .nlisten = 1, .workers = 4};

	log_setup("test_broker_flow", LOG_LVL_ERROR, LOG_TARGET_STDERR);
	if (secmem_init(0, true) != KBS_OK)
		return -1;
	memset(&F, 0, sizeof(F));
	pthread_mutex_init(&F.mu, NULL);
	{
		struct jwk *priv = NULL;
		int rc = jwk_generate(JWK_EC_P256, &priv);

		if (rc == KBS_OK)
			rc = jwk_public(priv, &F.other);
		jwk_free(priv);
		if (rc)
			return -1;
	}
	if (http_server_new(&sc, handler, NULL, &F.srv) || http_server_start(F.srv))
		return -1;
	snprintf(F.url, sizeof(F.url), "http://127.0.0.1:%d", http_server_port(F.srv, 0));
	return 0;
}

static int teardown(void **state)
{
	http_server_stop(F.srv);
	http_server_free(F.srv);
	jwk_free(F.other);
	return 0;
}

static void reset(void)
{
	pthread_mutex_lock(&F.mu);
	F.auths = F.attests = F.gets = 0;
	F.flaky_left = F.stale_left = 0;
	F.refuse_attest = false;
	F.attest_delay_ms = 0;
	F.token_life_s = 300;
	pthread_mutex_unlock(&F.mu);
}

static struct broker *new_broker(const char *alg)
{
	struct broker_config c = {.kbs_url = F.url, .tee = "sample", .allow_sample = true,
				  .tee_key_algorithm = alg, .backoff_initial_ms = 20,
				  .backoff_max_ms = 40};
	struct broker *b = NULL;

	assert_int_equal(broker_new(&c, &b), KBS_OK);
	return b;
}

static json_int_t stat_int(struct broker *b, const char *name)
{
	json_t *st = broker_status(b);
	json_int_t v = json_integer_value(json_object_get(st, name));

	json_decref(st);
	return v;
}

static void expect_fetch(struct broker *b, const char *path)
{
	struct secbuf out = {NULL, 0};
	struct broker_error e;

	assert_int_equal(broker_get_resource(b, path, 0, &out, &e), KBS_OK);
	assert_int_equal(out.len, strlen(path));
	assert_memory_equal(out.p, path, out.len);
	assert_true(secmem_contains(out.p));
	secbuf_free(&out);
}

struct job {
	struct broker *b;
	const char *path;
	int rc;
	struct broker_error e;
};

static void *job_run(void *arg)
{
	struct job *j = arg;
	struct secbuf out = {NULL, 0};

	j->rc = broker_get_resource(j->b, j->path, 0, &out, &j->e);
	if (j->rc == KBS_OK && (out.len != strlen(j->path) || memcmp(out.p, j->path, out.len)))
		j->rc = KBS_ERR_INTERNAL;
	secbuf_free(&out);
	return NULL;
}

static void run_jobs(struct broker *b, const char *path, struct job *jobs, int n)
{
	pthread_t th[16];

	for (int i = 0; i < n; i++) {
		jobs[i] = (struct job){.b = b, .path = path};
		assert_int_equal(pthread_create(&th[i], NULL, job_run, &jobs[i]), 0);
	}
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

static void every_key_algorithm_round_trips(void **state)
{
	static const char *const algs[] = {"ECDH-ES+A256KW-P256", "ECDH-ES+A256KW-P521",
					   "RSA-OAEP-256"};

	for (int i = 0; i < 3; i++) {
		struct broker *b;

		reset();
		b = new_broker(algs[i]);
		expect_fetch(b, "default/ok/one");
		expect_fetch(b, "default/ok/two");
		/* one handshake for both fetches */
		assert_int_equal(F.attests, 1);
		assert_int_equal(stat_int(b, "attestations"), 1);
		/* auth, attest and both GETs on one kept-alive connection */
		assert_int_equal(stat_int(b, "connections"), 1);
		broker_free(b);
	}
}

static void concurrent_callers_share_one_attestation(void **state)
{
	struct job jobs[12];
	struct broker *b;

	reset();
	F.attest_delay_ms = 300;
	b = new_broker(NULL);
	run_jobs(b, "default/ok/par", jobs, 12);
	for (int i = 0; i < 12; i++)
		assert_int_equal(jobs[i].rc, KBS_OK);
	assert_int_equal(F.auths, 1);
	assert_int_equal(F.attests, 1);
	assert_int_equal(F.gets, 12);
	assert_int_equal(stat_int(b, "attestations"), 1);
	broker_free(b);
}

static void failed_attestation_fails_every_waiter_once(void **state)
{
	struct job jobs[6];
	struct broker *b;
	json_t *st;

	reset();
	F.refuse_attest = true;
	F.attest_delay_ms = 300;
	b = new_broker(NULL);
	run_jobs(b, "default/ok/x", jobs, 6);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(jobs[i].rc, KBS_ERR_AUTH);
		assert_string_equal(jobs[i].e.type, "AttestationError");
	}
	/* no stampede: the waiters took the shared result instead of attesting themselves */
	assert_int_equal(F.attests, 1);
	assert_int_equal(F.gets, 0);
	st = broker_status(b);
	assert_string_equal(json_string_value(json_object_get(json_object_get(st, "last_error"),
							      "type")),
			    "AttestationError");
	json_decref(st);
	/* the next call tries again (a failure is not cached) */
	F.refuse_attest = false;
	F.attest_delay_ms = 0;
	expect_fetch(b, "default/ok/x");
	assert_int_equal(F.attests, 2);
	broker_free(b);
}

static void error_type_decides(void **state)
{
	struct broker *b;
	struct secbuf out = {NULL, 0};
	struct broker_error e;

	reset();
	b = new_broker(NULL);
	assert_int_equal(broker_get_resource(b, "default/deny/x", 0, &out, &e), KBS_ERR_DENIED);
	assert_string_equal(e.type, "PolicyDeny");
	assert_int_equal(e.http_status, 401);
	assert_null(out.p);
	/* Trustee's only way to say "not found" */
	assert_int_equal(broker_get_resource(b, "default/gone/x", 0, &out, &e), KBS_ERR_NOTFOUND);
	assert_string_equal(e.type, "PluginInternalError");
	/* neither is a reason to re-attest */
	assert_int_equal(F.attests, 1);
	assert_int_equal(stat_int(b, "reattestations"), 0);
	broker_free(b);
}

static void rejected_token_means_one_reattestation(void **state)
{
	struct broker *b;
	struct secbuf out = {NULL, 0};
	struct broker_error e;

	reset();
	F.stale_left = 1;
	b = new_broker(NULL);
	expect_fetch(b, "default/stale/x");
	assert_int_equal(F.attests, 2);
	assert_int_equal(stat_int(b, "reattestations"), 1);
	/* a KBS that never accepts the token: exactly one more attempt, then an error */
	assert_int_equal(broker_get_resource(b, "default/always401/x", 0, &out, &e),
			 KBS_ERR_AUTH);
	assert_string_equal(e.type, "TokenVerifierError");
	assert_int_equal(F.attests, 3);
	broker_free(b);
}

static void transient_503_is_retried(void **state)
{
	struct broker *b;
	struct secbuf out = {NULL, 0};
	struct broker_error e;

	reset();
	F.flaky_left = 2;
	b = new_broker(NULL);
	expect_fetch(b, "default/flaky/x");
	assert_int_equal(F.gets, 3);
	/* more 503s than retries: the caller gets an "unavailable" error */
	F.flaky_left = 100;
	assert_int_equal(broker_get_resource(b, "default/flaky/x", 0, &out, &e),
			 KBS_ERR_UNAVAILABLE);
	assert_int_equal(e.http_status, 503);
	assert_int_equal(F.gets, 3 + 5); /* 1 attempt + 4 retries (default) */
	broker_free(b);
}

/* Waits (polling the clock, deadline 60 s) until the broker's token is inside its margin. */
static void wait_token_inside_margin(struct broker *b, int margin_s)
{
	json_int_t exp = stat_int(b, "token_expiry");
	time_t deadline = time(NULL) + 60;

	while (time(NULL) + margin_s < exp) {
		assert_true(time(NULL) < deadline);
		usleep(50 * 1000);
	}
}

static void token_refreshed_before_expiry(void **state)
{
	struct broker_config c = {.kbs_url = F.url, .tee = "sample", .allow_sample = true,
				  .token_refresh_margin_s = 1};
	struct broker *b = NULL;

	reset();
	/*
	 * margin 1 s: an 8 s token is reused for its first 6-7 s, then renewed before it runs
	 * out. The windows are seconds wide so that a loaded machine cannot close them, and the
	 * test waits for the clock condition rather than for a fixed time.
	 */
	F.token_life_s = 8;
	assert_int_equal(broker_new(&c, &b), KBS_OK);
	expect_fetch(b, "default/ok/exp");
	assert_int_equal(F.attests, 1);
	expect_fetch(b, "default/ok/exp");
	assert_int_equal(F.attests, 1);
	wait_token_inside_margin(b, 1);
	/* the renewal brings a long-lived token, which is then reused */
	F.token_life_s = 3600;
	expect_fetch(b, "default/ok/exp");
	assert_int_equal(F.attests, 2);
	expect_fetch(b, "default/ok/exp");
	assert_int_equal(F.attests, 2);
	broker_free(b);
}

/*
 * A KBS whose tokens live shorter than the broker's refresh margin: each fetch attests once
 * and uses the token it just got, instead of attesting until the deadline runs out.
 */
static void token_shorter_than_margin_is_used_once(void **state)
{
	struct broker_config c = {.kbs_url = F.url, .tee = "sample", .allow_sample = true,
				  .token_refresh_margin_s = 30};
	struct broker *b = NULL;

	reset();
	F.token_life_s = 20;
	assert_int_equal(broker_new(&c, &b), KBS_OK);
	expect_fetch(b, "default/ok/short");
	assert_int_equal(F.attests, 1);
	/* the cached token is inside the margin: the next fetch renews it, once */
	expect_fetch(b, "default/ok/short");
	assert_int_equal(F.attests, 2);
	broker_free(b);
}

static void jwe_for_another_key_is_refused(void **state)
{
	struct broker *b;
	struct secbuf out = {NULL, 0};
	struct broker_error e;

	reset();
	b = new_broker(NULL);
	assert_int_equal(broker_get_resource(b, "default/foreign/x", 0, &out, &e),
			 KBS_ERR_CRYPTO);
	assert_null(out.p);
	assert_int_equal(e.http_status, 200);
	broker_free(b);
}

static void resource_query_travels_with_every_get(void **state)
{
	struct broker_config c = {.kbs_url = F.url, .tee = "sample", .allow_sample = true,
				  .resource_query = "pod_namespace=a&service_account=sa"};
	struct broker *b = NULL;

	reset();
	assert_int_equal(broker_new(&c, &b), KBS_OK);
	expect_fetch(b, "default/ok/q");
	assert_string_equal(F.last_query, "pod_namespace=a&service_account=sa");
	broker_free(b);
	/* without one, nothing is appended */
	b = new_broker(NULL);
	expect_fetch(b, "default/ok/q");
	assert_string_equal(F.last_query, "");
	broker_free(b);
	/* characters that would change the URL are refused at set-up */
	c.resource_query = "a=b#frag";
	assert_int_equal(broker_new(&c, &b), KBS_ERR_INVAL);
	c.resource_query = "a=b c";
	assert_int_equal(broker_new(&c, &b), KBS_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_key_algorithm_round_trips),
		cmocka_unit_test(concurrent_callers_share_one_attestation),
		cmocka_unit_test(failed_attestation_fails_every_waiter_once),
		cmocka_unit_test(error_type_decides),
		cmocka_unit_test(rejected_token_means_one_reattestation),
		cmocka_unit_test(transient_503_is_retried),
		cmocka_unit_test(token_refreshed_before_expiry),
		cmocka_unit_test(token_shorter_than_margin_is_used_once),
		cmocka_unit_test(jwe_for_another_key_is_refused),
		cmocka_unit_test(resource_query_travels_with_every_get),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
