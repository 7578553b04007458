// SPDX-License-Identifier: Apache-2.0
/*
 * Guest KBS client: RCAR over common/http_client.c, a cached token + TEE key shared by all
 * callers (single flight), resource GET with JWE decryption into secret memory.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attester/attester.h"
#include "broker/broker.h"
#include "broker/rcar.h"
#include "common/err.h"
#include "common/http_client.h"
#include "common/jose/jwe.h"
#include "common/jose/jwk.h"
#include "common/log.h"

#define BROKER_POOL 4
#define BROKER_DEFAULT_DEADLINE_MS 60000
/* Token lifetime assumed when a token carries no exp (Trustee's default duration). */
#define BROKER_TOKEN_DEFAULT_LIFETIME_S 300

struct broker {
	/* configuration (owned copies) */
	char *url;     /* without trailing '/' */
	char *ca_file;
	char *ca_pem;
	char *initdata;
	char *tee_key_alg_cfg;
	char *query; /* resource GET query string, or NULL */
	enum attester_tee tee;
	enum jwk_kind key_kind;
	const char *jwe_alg; /* JWE alg we accept and announce in tee-pubkey */
	struct jwk *fixed_key;
	long timeout_ms;
	int max_retries;
	int margin_s;
	long backoff_initial_ms, backoff_max_ms;

	struct http_client *rcar_http; /* only used by the attesting thread (cookie session) */
	struct http_client *pool[BROKER_POOL];
	bool pool_busy[BROKER_POOL];

	pthread_mutex_t mu;
	pthread_cond_t cv;

	/* cache, guarded by mu */
	struct secbuf token;
	struct jwk *key;
	int64_t token_exp;
	uint64_t gen;

	/* TEE key generated ahead by broker_prepare_key(), guarded by mu; taken by the next
	 * attestation */
	struct jwk *next_key;
	long keygen_ms; /* duration of that generation, -1 = none ran */

	/* single flight */
	bool attesting;
	uint64_t flight_seq;
	int flight_rc;
	struct broker_error flight_err;

	/* counters and last error for broker_status() */
	uint64_t attestations, reattestations, fetches;
	int last_rc;
	struct broker_error last_err;
};

static void err_clear(struct broker_error *e)
{
	if (e)
		memset(e, 0, sizeof(*e));
}

static void err_set(struct broker_error *e, long status, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void err_set(struct broker_error *e, long status, const char *type, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return;
	e->http_status = status;
	snprintf(e->type, sizeof(e->type), "%s", type ? type : "");
	va_start(ap, fmt);
	vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
	va_end(ap);
}

static char *dup_opt(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = true;
	return d;
}

static int key_settings(const char *alg, enum jwk_kind *kind, const char **jwe_alg)
{
	if (!alg || !*alg || strcmp(alg, "ECDH-ES+A256KW-P256") == 0) {
		*kind = JWK_EC_P256;
		*jwe_alg = "ECDH-ES+A256KW";
	} else if (strcmp(alg, "ECDH-ES+A256KW-P521") == 0) {
		*kind = JWK_EC_P521;
		*jwe_alg = "ECDH-ES+A256KW";
	} else if (strcmp(alg, "RSA-OAEP-256") == 0) {
		*kind = JWK_RSA_2048;
		*jwe_alg = "RSA-OAEP-256";
	} else {
		return KBS_ERR_UNSUPPORTED;
	}
	return KBS_OK;
}

/* JWE alg for a caller-supplied key; Trustee accepts only P-256/P-521 and RSA. */
static int fixed_key_alg(const struct jwk *k, const char **jwe_alg)
{
	const char *kty = jwk_kty(k), *crv = jwk_crv(k);

	if (!jwk_is_private(k))
		return KBS_ERR_INVAL;
	if (strcmp(kty, "RSA") == 0) {
		*jwe_alg = "RSA-OAEP-256";
		return KBS_OK;
	}
	if (strcmp(kty, "EC") == 0 && crv && (!strcmp(crv, "P-256") || !strcmp(crv, "P-521"))) {
		*jwe_alg = "ECDH-ES+A256KW";
		return KBS_OK;
	}
	return KBS_ERR_UNSUPPORTED;
}

static struct http_client *new_http(const struct broker *b, int *rc)
{
	struct http_client_config hc = {
		.ca_file = b->ca_file,
		.ca_pem = b->ca_pem,
		.connect_timeout_ms = b->timeout_ms < 5000 ? b->timeout_ms : 5000,
		.timeout_ms = b->timeout_ms,
		/* retries are done here so the broker's backoff and deadline rule them */
		.max_retries = 0,
		.max_response_size = 16u << 20,
		.user_agent = "kbsfs-broker/0.1",
	};
	struct http_client *c = NULL;

	*rc = http_client_new(&hc, &c);
	return *rc ? NULL : c;
}

int broker_new(const struct broker_config *cfg, struct broker **out)
{
	struct broker *b = NULL;
	pthread_condattr_t ca;
	bool fail = false;
	size_t n;
	int rc = KBS_ERR_INVAL;

	if (!cfg || !out || !cfg->kbs_url || !*cfg->kbs_url)
		return KBS_ERR_INVAL;
	*out = NULL;
	if (strncmp(cfg->kbs_url, "http://", 7) && strncmp(cfg->kbs_url, "https://", 8)) {
		log_error("broker: kbs_url must start with http:// or https://");
		return KBS_ERR_INVAL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return KBS_ERR_NOMEM;
	pthread_mutex_init(&b->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cv, &ca);
	pthread_condattr_destroy(&ca);

	b->url = dup_opt(cfg->kbs_url, &fail);
	b->ca_file = dup_opt(cfg->kbs_cert_file, &fail);
	b->ca_pem = cfg->kbs_cert_file ? NULL : dup_opt(cfg->kbs_cert_pem, &fail);
	b->initdata = dup_opt(cfg->initdata_toml, &fail);
	b->tee_key_alg_cfg = dup_opt(cfg->tee_key_algorithm ? cfg->tee_key_algorithm
							    : "ECDH-ES+A256KW-P256",
				     &fail);
	b->query = cfg->resource_query && *cfg->resource_query
			   ? dup_opt(cfg->resource_query, &fail)
			   : NULL;
	if (fail) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	if (b->query &&
	    (strlen(b->query) > 1024 ||
	     strspn(b->query, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~%=&-") !=
		 strlen(b->query))) {
		log_error("broker: resource_query must be at most 1024 URL-safe characters");
		rc = KBS_ERR_INVAL;
		goto out;
	}
	n = strlen(b->url);
	while (n && b->url[n - 1] == '/')
		b->url[--n] = '\0';
	b->timeout_ms = cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms : 10000;
	b->max_retries = cfg->max_retries > 0 ? cfg->max_retries : cfg->max_retries < 0 ? 0 : 4;
	b->margin_s = cfg->token_refresh_margin_s > 0 ? cfg->token_refresh_margin_s : 30;
	b->backoff_initial_ms = cfg->backoff_initial_ms > 0 ? cfg->backoff_initial_ms : 200;
	b->backoff_max_ms = cfg->backoff_max_ms > 0 ? cfg->backoff_max_ms : 5000;

	rc = key_settings(b->tee_key_alg_cfg, &b->key_kind, &b->jwe_alg);
	if (rc) {
		log_error("broker: unsupported tee_key_algorithm '%s'", b->tee_key_alg_cfg);
		goto out;
	}
	if (cfg->tee_key_pem) {
		rc = jwk_from_pem(cfg->tee_key_pem, strlen(cfg->tee_key_pem), &b->fixed_key);
		if (rc == KBS_OK)
			rc = fixed_key_alg(b->fixed_key, &b->jwe_alg);
		if (rc) {
			log_error("broker: TEE key is not a private RSA or EC P-256/P-521 key (%s)",
				  kbs_errname(rc));
			goto out;
		}
	}
	rc = attester_select(cfg->tee, cfg->allow_sample, &b->tee);
	if (rc) {
		log_error("broker: no usable TEE for tee='%s' (%s%s)", cfg->tee ? cfg->tee : "auto",
			  kbs_strerror(rc),
			  rc == KBS_ERR_PERM ? ": the sample TEE must be allowed explicitly" : "");
		goto out;
	}
	b->rcar_http = new_http(b, &rc);
	/* the pool shares the first client's TLS context: one trust store in memory */
	for (int i = 0; rc == KBS_OK && i < BROKER_POOL; i++)
		rc = http_client_clone(b->rcar_http, &b->pool[i]);
	if (rc) {
		log_error("broker: HTTP client setup failed (%s)", kbs_strerror(rc));
		goto out;
	}
	b->keygen_ms = -1;
	*out = b;
	b = NULL;
	rc = KBS_OK;
out:
	broker_free(b);
	return rc;
}

void broker_free(struct broker *b)
{
	if (!b)
		return;
	jwk_free(b->next_key);
	http_client_free(b->rcar_http);
	for (int i = 0; i < BROKER_POOL; i++)
		http_client_free(b->pool[i]);
	secbuf_free(&b->token);
	jwk_free(b->key);
	jwk_free(b->fixed_key);
	free(b->url);
	free(b->ca_file);
	free(b->ca_pem);
	free(b->initdata);
	free(b->tee_key_alg_cfg);
	free(b->query);
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->cv);
	free(b);
}

const char *broker_tee(const struct broker *b)
{
	return b ? attester_tee_name(b->tee) : "none";
}

static void abs_timespec(int64_t deadline_ms, struct timespec *ts)
{
	ts->tv_sec = (time_t)(deadline_ms / 1000);
	ts->tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
}

static uint32_t rnd32(void)
{
	uint32_t r = 0;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)http_now_ms() * 2654435761u;
	return r;
}

/* Sleeps until the next retry; false if the deadline does not leave room for it. */
static bool backoff_sleep(const struct broker *b, int attempt, int64_t deadline_ms)
{
	long d = rcar_backoff_ms(attempt, b->backoff_initial_ms, b->backoff_max_ms, rnd32());
	int64_t now = http_now_ms();
	struct timespec ts;

	if (now + d >= deadline_ms)
		return false;
	ts.tv_sec = d / 1000;
	ts.tv_nsec = (d % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	return true;
}

/*
 * One HTTP exchange with network retries (capped exponential backoff with jitter) and
 * retries of transient proxy statuses. Returns KBS_OK with res filled when the KBS answered
 * (any status), or KBS_ERR_NETWORK / KBS_ERR_TIMEOUT with err set.
 */
static int exchange(struct broker *b, struct http_client *c, const char *method,
		    const char *url, const char *const *headers, const void *body, size_t blen,
		    int64_t deadline_ms, struct http_result *res, struct broker_error *err)
{
	int rc;

	for (int attempt = 0;; attempt++) {
		enum rcar_action act = RCAR_ACT_FAIL;

		http_result_release(res);
		memset(res, 0, sizeof(*res));
		if (http_now_ms() >= deadline_ms) {
			err_set(err, 0, NULL, "deadline exceeded before %s %s", method, url);
			return KBS_ERR_TIMEOUT;
		}
		rc = http_client_request(c, method, url, headers, body, blen, deadline_ms, res);
		if (rc == KBS_OK) {
			if (res->status >= 500 || res->status == 408 || res->status == 429)
				(void)rcar_classify(res->status, "", &act);
			if (act != RCAR_ACT_RETRY)
				return KBS_OK;
			err_set(err, res->status, NULL, "KBS answered HTTP %ld", res->status);
		} else if (rc == KBS_ERR_NETWORK || rc == KBS_ERR_TIMEOUT) {
			err_set(err, 0, NULL, "%s %s: %s", method, url,
				res->error[0] ? res->error : kbs_strerror(rc));
			/* a certificate that does not verify will not verify on retry either */
			if (!http_net_retryable(res->net_error))
				return rc;
		} else {
			err_set(err, 0, NULL, "%s %s: %s", method, url, kbs_strerror(rc));
			return rc;
		}
		if (attempt >= b->max_retries || !backoff_sleep(b, attempt, deadline_ms)) {
			log_warn("broker: %s %s failed after %d attempt(s): %s", method, url,
				 attempt + 1, err ? err->detail : "");
			if (rc == KBS_OK)
				return KBS_OK; /* hand the last (5xx) answer to the caller */
			return http_now_ms() >= deadline_ms ? KBS_ERR_TIMEOUT : KBS_ERR_NETWORK;
		}
		log_info("broker: retrying %s %s (attempt %d of %d)", method, url, attempt + 2,
			 b->max_retries + 1);
	}
}

/* Turns a non-200 KBS answer into an error code, filling err. */
static int kbs_failure(const struct http_result *res, const char *what, enum rcar_action *act,
		       struct broker_error *err)
{
	char type[64], detail[256];
	int rc;

	if (rcar_parse_error((const char *)res->body.p, res->body.len, type, sizeof(type),
			     detail, sizeof(detail)) != KBS_OK) {
		type[0] = '\0';
		snprintf(detail, sizeof(detail), "HTTP %ld without a KBS error body", res->status);
	}
	rc = rcar_classify(res->status, type, act);
	err_set(err, res->status, type, "%s: %s", what, detail);
	return rc;
}

int broker_prepare_key(struct broker *b)
{
	struct jwk *key = NULL;
	int64_t t0 = http_now_ms();
	bool have;
	int rc;

	pthread_mutex_lock(&b->mu);
	have = b->fixed_key || b->next_key;
	pthread_mutex_unlock(&b->mu);
	if (have)
		return KBS_OK;
	rc = jwk_generate(b->key_kind, &key);
	if (rc != KBS_OK)
		return rc;
	pthread_mutex_lock(&b->mu);
	if (b->next_key) { /* another thread was quicker */
		jwk_free(key);
	} else {
		b->next_key = key;
		b->keygen_ms = (long)(http_now_ms() - t0);
	}
	pthread_mutex_unlock(&b->mu);
	log_debug("broker: TEE key (%s) generated ahead in %ld ms", b->tee_key_alg_cfg,
		  b->keygen_ms);
	return KBS_OK;
}

/* The key broker_prepare_key() made, or NULL (the caller generates one); one attestation only. */
static struct jwk *take_prepared_key(struct broker *b)
{
	struct jwk *key;

	pthread_mutex_lock(&b->mu);
	key = b->next_key;
	b->next_key = NULL;
	pthread_mutex_unlock(&b->mu);
	return key;
}

/* Full RCAR: auth -> evidence -> attest. On success returns a new token and key. */
static int do_rcar(struct broker *b, int64_t deadline_ms, struct secbuf *token_out,
		   struct jwk **key_out, int64_t *exp_out, struct broker_error *err)
{
	static const char *const json_hdr[] = {"Content-Type: application/json", NULL};
	struct http_result res;
	struct buf body = BUF_INIT;
	char url[1200];
	char *nonce = NULL, *token = NULL;
	enum rcar_hash hash;
	struct jwk *key = NULL;
	json_t *pub = NULL, *ev = NULL;
	uint8_t rd[64];
	size_t rdlen;
	int64_t exp;
	enum rcar_action act;
	int rc;

	memset(&res, 0, sizeof(res));
	if (b->fixed_key) {
		key = jwk_ref(b->fixed_key);
	} else {
		key = take_prepared_key(b);
		rc = key ? KBS_OK : jwk_generate(b->key_kind, &key);
		if (rc) {
			err_set(err, 0, NULL, "TEE key generation failed: %s", kbs_strerror(rc));
			goto out;
		}
	}
	rc = jwk_tee_pubkey_json(key, b->jwe_alg, &pub);
	if (rc) {
		err_set(err, 0, NULL, "TEE public key serialisation failed: %s", kbs_strerror(rc));
		goto out;
	}

	/* a fresh cookie session for every handshake */
	http_client_clear_cookies(b->rcar_http);
	rc = rcar_auth_body(attester_tee_name(b->tee), &body);
	if (rc)
		goto out;
	snprintf(url, sizeof(url), "%s/kbs/v0/auth", b->url);
	rc = exchange(b, b->rcar_http, "POST", url, json_hdr, body.p, body.len, deadline_ms, &res,
		      err);
	if (rc)
		goto out;
	if (res.status != 200) {
		rc = kbs_failure(&res, "auth", &act, err);
		if (rc != KBS_ERR_UNAVAILABLE)
			rc = KBS_ERR_AUTH;
		goto out;
	}
	rc = rcar_parse_challenge((const char *)res.body.p, res.body.len, &nonce, &hash);
	if (rc) {
		err_set(err, res.status, NULL, "auth: unusable challenge (%s)", kbs_strerror(rc));
		rc = KBS_ERR_PROTOCOL;
		goto out;
	}

	rc = rcar_runtime_digest(nonce, pub, "", hash, rd, &rdlen);
	if (rc) {
		err_set(err, 0, NULL, "runtime data: %s", kbs_strerror(rc));
		goto out;
	}
	rc = attester_get_evidence(b->tee, rd, rdlen, &ev);
	if (rc) {
		err_set(err, 0, NULL, "%s evidence: %s", attester_tee_name(b->tee),
			kbs_strerror(rc));
		goto out;
	}
	buf_reset(&body);
	rc = rcar_attest_body(b->initdata, nonce, pub, ev, "", &body);
	if (rc)
		goto out;
	snprintf(url, sizeof(url), "%s/kbs/v0/attest", b->url);
	rc = exchange(b, b->rcar_http, "POST", url, json_hdr, body.p, body.len, deadline_ms, &res,
		      err);
	if (rc)
		goto out;
	if (res.status != 200) {
		rc = kbs_failure(&res, "attest", &act, err);
		if (rc != KBS_ERR_UNAVAILABLE)
			rc = KBS_ERR_AUTH;
		goto out;
	}
	rc = rcar_parse_attest_response((const char *)res.body.p, res.body.len, &token);
	if (rc) {
		err_set(err, res.status, NULL, "attest: response has no usable token (%s)",
			kbs_strerror(rc));
		rc = KBS_ERR_PROTOCOL;
		goto out;
	}
	if (rcar_token_exp(token, strlen(token), &exp) != KBS_OK)
		exp = (int64_t)time(NULL) + BROKER_TOKEN_DEFAULT_LIFETIME_S;
	rc = secbuf_dup(token_out, token, strlen(token));
	if (rc)
		goto out;
	*key_out = key;
	key = NULL;
	*exp_out = exp;
	log_info("broker: attested as %s, token expires in %lld s", attester_tee_name(b->tee),
		 (long long)(exp - (int64_t)time(NULL)));
	rc = KBS_OK;
out:
	if (token) {
		OPENSSL_cleanse(token, strlen(token));
		free(token);
	}
	free(nonce);
	json_decref(pub);
	json_decref(ev);
	jwk_free(key);
	buf_release(&body);
	/* the /attest answer carries the bearer token */
	if (res.body.p)
		OPENSSL_cleanse(res.body.p, res.body.len);
	http_result_release(&res);
	return rc;
}

/*
 * Returns a usable token (copy) and key. force: the caller's token (generation seen_gen) was
 * rejected, so only a token from a newer attestation will do. Concurrent callers share one
 * attestation; a failed attestation fails every caller that waited for it.
 */
static int acquire_token(struct broker *b, bool force, uint64_t seen_gen, int64_t deadline_ms,
			 struct secbuf *tok, struct jwk **key, uint64_t *gen,
			 struct broker_error *err)
{
	struct timespec ts;
	int rc;
	/*
	 * A cached token is reused only while it has more than the refresh margin left. A token
	 * that an attestation has just produced (this thread's or one it waited for) is used once
	 * even inside the margin: a KBS that issues tokens shorter than the margin would otherwise
	 * make every fetch attest again and again until its deadline.
	 */
	int64_t margin = b->margin_s;
	bool attested_here = false;

	pthread_mutex_lock(&b->mu);
	for (;;) {
		int64_t now = (int64_t)time(NULL);

		if (b->token.p && (!force || b->gen != seen_gen) &&
		    rcar_token_fresh(b->token_exp, now, margin)) {
			rc = secbuf_dup(tok, b->token.p, b->token.len);
			if (rc == KBS_OK) {
				*key = jwk_ref(b->key);
				*gen = b->gen;
			}
			break;
		}
		if (b->attesting) {
			uint64_t seq = b->flight_seq;

			abs_timespec(deadline_ms, &ts);
			while (b->attesting && b->flight_seq == seq) {
				if (pthread_cond_timedwait(&b->cv, &b->mu, &ts) == ETIMEDOUT)
					break;
			}
			if (b->flight_seq == seq) {
				err_set(err, 0, NULL, "deadline exceeded waiting for attestation");
				rc = KBS_ERR_TIMEOUT;
				break;
			}
			if (b->flight_rc != KBS_OK) {
				if (err)
					*err = b->flight_err;
				rc = b->flight_rc;
				break;
			}
			margin = 0;
			continue;
		}
		if (attested_here) {
			/* our own fresh token is already expired: the clocks disagree */
			err_set(err, 0, NULL,
				"the KBS issued an attestation token that has already expired "
				"(check the clocks of guest and KBS)");
			rc = KBS_ERR_EXPIRED;
			break;
		}

		/* this thread attests for everyone */
		{
			struct secbuf nt = {NULL, 0};
			struct jwk *nk = NULL;
			struct broker_error fe;
			int64_t exp = 0;

			b->attesting = true;
			pthread_mutex_unlock(&b->mu);
			err_clear(&fe);
			rc = do_rcar(b, deadline_ms, &nt, &nk, &exp, &fe);
			pthread_mutex_lock(&b->mu);
			b->attesting = false;
			b->flight_seq++;
			b->flight_rc = rc;
			b->flight_err = fe;
			if (rc == KBS_OK) {
				secbuf_free(&b->token);
				jwk_free(b->key);
				b->token = nt;
				b->key = nk;
				b->token_exp = exp;
				b->gen++;
				b->attestations++;
				if (force)
					b->reattestations++;
			} else {
				b->last_rc = rc;
				b->last_err = fe;
				if (err)
					*err = fe;
			}
			pthread_cond_broadcast(&b->cv);
			if (rc)
				break;
			attested_here = true;
			margin = 0;
		}
	}
	pthread_mutex_unlock(&b->mu);
	return rc;
}

static struct http_client *pool_get(struct broker *b, int64_t deadline_ms, int *slot)
{
	struct timespec ts;
	struct http_client *c = NULL;

	abs_timespec(deadline_ms, &ts);
	pthread_mutex_lock(&b->mu);
	for (;;) {
		for (int i = 0; i < BROKER_POOL; i++) {
			if (!b->pool_busy[i]) {
				b->pool_busy[i] = true;
				*slot = i;
				c = b->pool[i];
				goto out;
			}
		}
		if (pthread_cond_timedwait(&b->cv, &b->mu, &ts) == ETIMEDOUT)
			break;
	}
out:
	pthread_mutex_unlock(&b->mu);
	return c;
}

static void pool_put(struct broker *b, int slot)
{
	pthread_mutex_lock(&b->mu);
	b->pool_busy[slot] = false;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

static int fetch_once(struct broker *b, const char *path, const struct secbuf *tok,
		      const struct jwk *key, int64_t deadline_ms, struct secbuf *out,
		      enum rcar_action *act, struct broker_error *err)
{
	static const char prefix[] = "Authorization: Bearer ";
	const char *allowed[] = {b->jwe_alg, NULL};
	struct http_result res;
	struct secbuf hdr = {NULL, 0};
	const char *headers[2] = {NULL, NULL};
	struct http_client *c;
	char url[2400];
	int slot = -1, rc;

	memset(&res, 0, sizeof(res));
	*act = RCAR_ACT_FAIL;
	rc = secbuf_alloc(&hdr, sizeof(prefix) + tok->len);
	if (rc)
		return rc;
	memcpy(hdr.p, prefix, sizeof(prefix) - 1);
	memcpy(hdr.p + sizeof(prefix) - 1, tok->p, tok->len);
	hdr.p[sizeof(prefix) - 1 + tok->len] = '\0';
	headers[0] = (const char *)hdr.p;
	snprintf(url, sizeof(url), "%s/kbs/v0/resource/%s%s%s", b->url, path, b->query ? "?" : "",
		 b->query ? b->query : "");

	c = pool_get(b, deadline_ms, &slot);
	if (!c) {
		err_set(err, 0, NULL, "deadline exceeded waiting for a connection");
		rc = KBS_ERR_TIMEOUT;
		goto out;
	}
	/* right after an attestation its connection is idle and warm: use it instead of a
	 * second TCP + TLS handshake (no-op when this pool client is connected already) */
	(void)http_client_adopt_connection(c, b->rcar_http);
	rc = exchange(b, c, "GET", url, headers, NULL, 0, deadline_ms, &res, err);
	pool_put(b, slot);
	if (rc)
		goto out;
	if (res.status != 200) {
		rc = kbs_failure(&res, path, act, err);
		goto out;
	}
	rc = jwe_decrypt(key, (const char *)res.body.p, res.body.len, allowed, out);
	if (rc) {
		err_set(err, res.status, NULL, "%s: JWE decryption failed (%s)", path,
			kbs_strerror(rc));
		/* a full secure-memory arena is not a crypto failure: kbsfs maps it to ENOMEM */
		if (rc != KBS_ERR_LOCKMEM && rc != KBS_ERR_NOMEM)
			rc = KBS_ERR_CRYPTO;
	}
out:
	http_result_release(&res);
	secbuf_free(&hdr);
	return rc;
}

static void record_result(struct broker *b, int rc, const struct broker_error *e)
{
	pthread_mutex_lock(&b->mu);
	b->fetches++;
	if (rc) {
		b->last_rc = rc;
		b->last_err = *e;
	}
	pthread_mutex_unlock(&b->mu);
}

int broker_get_resource(struct broker *b, const char *path, int64_t deadline_ms,
			struct secbuf *out, struct broker_error *err)
{
	struct broker_error e;
	struct secbuf tok = {NULL, 0};
	struct jwk *key = NULL;
	uint64_t gen = 0;
	bool force = false;
	int rc;

	err_clear(&e);
	if (!b || !out || !path)
		return KBS_ERR_INVAL;
	out->p = NULL;
	out->len = 0;
	if (!rcar_resource_path_valid(path)) {
		err_set(&e, 0, NULL, "invalid resource path (want repo/type/tag)");
		rc = KBS_ERR_INVAL;
		goto out;
	}
	if (deadline_ms <= 0)
		deadline_ms = http_now_ms() + BROKER_DEFAULT_DEADLINE_MS;

	for (;;) {
		enum rcar_action act;

		rc = acquire_token(b, force, gen, deadline_ms, &tok, &key, &gen, &e);
		if (rc)
			break;
		rc = fetch_once(b, path, &tok, key, deadline_ms, out, &act, &e);
		secbuf_free(&tok);
		jwk_free(key);
		key = NULL;
		if (rc == KBS_OK || act != RCAR_ACT_REATTEST || force)
			break;
		/* the KBS no longer accepts our token: one fresh attestation, then one retry */
		log_info("broker: token rejected (%s), re-attesting once", e.type);
		force = true;
	}
out:
	if (rc) {
		log_warn("broker: fetching %s failed: %s (%s%s%s)", path, kbs_errname(rc),
			 e.type, e.type[0] ? ": " : "", e.detail);
	}
	record_result(b, rc, &e);
	if (err)
		*err = e;
	return rc;
}

int broker_attest(struct broker *b, int64_t deadline_ms, struct secbuf *token,
		  struct broker_error *err)
{
	struct broker_error e;
	struct secbuf tok = {NULL, 0};
	struct jwk *key = NULL;
	uint64_t gen, seen;
	int rc;

	err_clear(&e);
	if (!b)
		return KBS_ERR_INVAL;
	if (deadline_ms <= 0)
		deadline_ms = http_now_ms() + BROKER_DEFAULT_DEADLINE_MS;
	pthread_mutex_lock(&b->mu);
	seen = b->gen;
	pthread_mutex_unlock(&b->mu);
	rc = acquire_token(b, true, seen, deadline_ms, &tok, &key, &gen, &e);
	jwk_free(key);
	if (rc == KBS_OK && token)
		*token = tok;
	else
		secbuf_free(&tok);
	if (err)
		*err = e;
	return rc;
}

int broker_set_token(struct broker *b, const char *token, size_t len)
{
	struct secbuf t = {NULL, 0};
	int64_t exp;
	int rc;

	if (!b || !token || !len)
		return KBS_ERR_INVAL;
	if (!b->fixed_key)
		return KBS_ERR_INVAL; /* a token is useless without the key it names */
	if (rcar_token_exp(token, len, &exp) != KBS_OK)
		exp = (int64_t)time(NULL) + BROKER_TOKEN_DEFAULT_LIFETIME_S;
	rc = secbuf_dup(&t, token, len);
	if (rc)
		return rc;
	pthread_mutex_lock(&b->mu);
	secbuf_free(&b->token);
	jwk_free(b->key);
	b->token = t;
	b->key = jwk_ref(b->fixed_key);
	b->token_exp = exp;
	b->gen++;
	pthread_mutex_unlock(&b->mu);
	return KBS_OK;
}

json_t *broker_status(struct broker *b)
{
	json_t *s, *le = NULL, *map;
	unsigned long conns;
	bool attested;

	if (!b)
		return NULL;
	/* TCP connections opened so far (the client mutexes are taken outside b->mu) */
	conns = http_client_connections(b->rcar_http);
	for (int i = 0; i < BROKER_POOL; i++)
		conns += http_client_connections(b->pool[i]);
	map = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "PolicyDeny", "EACCES",
			"PluginInternalError",
			"ENOENT (a Trustee KBS reports a missing resource only as "
			"PluginInternalError, so it is read as not found)",
			"ResourceNotFound", "ENOENT", "TokenNotFound/TokenVerifierError",
			"one re-attestation, then retry", "AttestationError", "EACCES (attestation "
			"refused)", "network/5xx/timeout", "EIO after retries with backoff");
	pthread_mutex_lock(&b->mu);
	attested = b->token.p && rcar_token_fresh(b->token_exp, (int64_t)time(NULL), 0);
	if (b->last_rc) {
		le = json_pack("{s:s, s:I, s:s, s:s}", "code", kbs_errname(b->last_rc),
			       "http_status", (json_int_t)b->last_err.http_status, "type",
			       b->last_err.type, "detail", b->last_err.detail);
	}
	s = json_pack("{s:s, s:s, s:b, s:o, s:I, s:I, s:I, s:o, s:o}", "tee",
		      attester_tee_name(b->tee), "tee_key_algorithm",
		      b->fixed_key ? b->jwe_alg : b->tee_key_alg_cfg, "attested", attested,
		      "token_expiry", b->token.p ? json_integer(b->token_exp) : json_null(),
		      "attestations", (json_int_t)b->attestations, "reattestations",
		      (json_int_t)b->reattestations, "fetches", (json_int_t)b->fetches,
		      "last_error", le ? le : json_null(), "error_mapping",
		      map ? map : json_null());
	if (s && b->keygen_ms >= 0) {
		/* broker_prepare_key(): the key waiting for the next attestation (none once one
		 * attestation took it) and how long its generation took */
		json_object_set_new(s, "tee_key_ready", json_boolean(b->next_key != NULL));
		json_object_set_new(s, "tee_key_generated_ahead_ms", json_integer(b->keygen_ms));
	}
	pthread_mutex_unlock(&b->mu);
	if (s)
		json_object_set_new(s, "connections", json_integer((json_int_t)conns));
	return s;
}
