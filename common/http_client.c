// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP client on one libcurl easy handle per struct http_client: the handle keeps the
 * connection cache (keep-alive) and the in-memory cookie jar between requests.
 */
#include "common/http_client.h"
#include "common/err.h"
#include "common/http_util.h"
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/rand.h>

#define HTTP_CLIENT_UA "kbsfs/0.1.0"

struct http_client {
	pthread_mutex_t mu;
	CURL *curl;
	char *ca_file;
	char *ca_pem;
	size_t ca_pem_len;
	char *user_agent;
	long connect_timeout_ms;
	long timeout_ms;
	int max_retries;
	long backoff_initial_ms;
	long backoff_max_ms;
	size_t max_response_size;
	char errbuf[CURL_ERROR_SIZE];
};

struct sink {
	struct buf *b;
	int overflow;
};

static int set_static_options(struct http_client *c);
static size_t on_body(char *data, size_t size, size_t n, void *arg);

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int64_t http_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *dup_or_null(const char *s, int *err)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*err = 1;
	return d;
}

int http_client_new(const struct http_client_config *cfg, struct http_client **out)
{
	struct http_client_config def;
	struct http_client *c;
	int err = 0;

	if (out == NULL)
		return KBS_ERR_INVAL;
	*out = NULL;
	if (cfg == NULL) {
		memset(&def, 0, sizeof(def));
		def.max_retries = -1;
		cfg = &def;
	}
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return KBS_ERR_INTERNAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return KBS_ERR_NOMEM;
	pthread_mutex_init(&c->mu, NULL);
	c->ca_file = dup_or_null(cfg->ca_file, &err);
	if (cfg->ca_file == NULL && cfg->ca_pem != NULL) {
		c->ca_pem = dup_or_null(cfg->ca_pem, &err);
		c->ca_pem_len = strlen(cfg->ca_pem);
	}
	c->user_agent = dup_or_null(cfg->user_agent ? cfg->user_agent : HTTP_CLIENT_UA, &err);
	c->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 5000;
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
	c->max_retries = cfg->max_retries >= 0 ? cfg->max_retries : 3;
	c->backoff_initial_ms = cfg->backoff_initial_ms > 0 ? cfg->backoff_initial_ms : 100;
	c->backoff_max_ms = cfg->backoff_max_ms > 0 ? cfg->backoff_max_ms : 5000;
	if (c->backoff_max_ms < c->backoff_initial_ms)
		c->backoff_max_ms = c->backoff_initial_ms;
	c->max_response_size = cfg->max_response_size ? cfg->max_response_size : 16u << 20;
	c->curl = curl_easy_init();
	if (err || c->curl == NULL) {
		http_client_free(c);
		return KBS_ERR_NOMEM;
	}
	if (set_static_options(c) != KBS_OK) {
		http_client_free(c);
		return KBS_ERR_INTERNAL;
	}
	*out = c;
	return KBS_OK;
}

void http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	free(c->ca_file);
	free(c->ca_pem);
	free(c->user_agent);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void http_result_release(struct http_result *res)
{
	if (res == NULL)
		return;
	buf_release(&res->body);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;

	if (buf_append(s->b, data, len) != KBS_OK) {
		s->overflow = 1;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	return len;
}

/* Failures where no HTTP exchange took place and a new attempt may succeed. */
static int retryable(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PARTIAL_FILE:
		return 1;
	default:
		return 0;
	}
}

/* Full jitter: uniform in [0, min(max, initial * 2^attempt)]. */
static long backoff_ms(const struct http_client *c, int attempt)
{
	long cap = c->backoff_initial_ms;
	uint32_t r = 0;

	for (int i = 0; i < attempt && cap < c->backoff_max_ms; i++)
		cap *= 2;
	if (cap > c->backoff_max_ms)
		cap = c->backoff_max_ms;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		return cap;
	return (long)(r % (uint32_t)(cap + 1));
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int header_ok(const char *h)
{
	for (; *h != '\0'; h++)
		if (*h == '\r' || *h == '\n')
			return 0;
	return 1;
}

#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (cc == CURLE_OK)                                                                \
			cc = curl_easy_setopt(h, opt, val);                                        \
	} while (0)

/* Options that stay the same for every request of this client (set once: re-setting
 * CURLOPT_COOKIEFILE after curl_easy_reset() leaks in libcurl 7.88). */
static int set_static_options(struct http_client *c)
{
	CURL *h = c->curl;
	CURLcode cc = CURLE_OK;

	SET(CURLOPT_COOKIEFILE, ""); /* in-memory cookie engine, no file is read or written */
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, c->errbuf);
	SET(CURLOPT_USERAGENT, c->user_agent);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response_size);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	if (c->ca_file != NULL) {
		SET(CURLOPT_CAINFO, c->ca_file);
		SET(CURLOPT_CAPATH, NULL); /* pinned: the system directory must not add trust */
	} else if (c->ca_pem != NULL) {
		struct curl_blob blob = {c->ca_pem, c->ca_pem_len, CURL_BLOB_COPY};

		SET(CURLOPT_CAINFO_BLOB, &blob);
		SET(CURLOPT_CAINFO, NULL);
		SET(CURLOPT_CAPATH, NULL);
	}
	return cc == CURLE_OK ? KBS_OK : KBS_ERR_INTERNAL;
}

/* Everything that can differ between two requests is set on every request. */
static int set_options(struct http_client *c, const char *method, const char *url,
		       struct curl_slist *hdrs, const void *body, size_t body_len, long tmo_ms,
		       long conn_ms, struct sink *sink)
{
	CURL *h = c->curl;
	CURLcode cc = CURLE_OK;

	SET(CURLOPT_URL, url);
	SET(CURLOPT_TIMEOUT_MS, tmo_ms);
	SET(CURLOPT_CONNECTTIMEOUT_MS, conn_ms);
	SET(CURLOPT_HTTPHEADER, hdrs);
	SET(CURLOPT_WRITEDATA, sink);
	SET(CURLOPT_CUSTOMREQUEST, NULL);
	SET(CURLOPT_NOBODY, 0L);
	if (strcmp(method, "GET") == 0 && body == NULL) {
		SET(CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
	} else {
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body != NULL ? body_len : 0));
		SET(CURLOPT_POSTFIELDS, body != NULL ? body : "");
		if (strcmp(method, "POST") != 0)
			SET(CURLOPT_CUSTOMREQUEST, method);
	}
	return cc == CURLE_OK ? KBS_OK : KBS_ERR_INTERNAL;
}
#undef SET

int http_client_request(struct http_client *c, const char *method, const char *url,
			const char *const *headers, const void *body, size_t body_len,
			int64_t deadline_ms, struct http_result *res)
{
	struct curl_slist *hdrs = NULL, *tmp;
	struct sink sink;
	int rc = KBS_ERR_NETWORK;
	int locked = 0;

	if (res == NULL)
		return KBS_ERR_INVAL;
	memset(res, 0, sizeof(*res));
	if (c == NULL || method == NULL || url == NULL || !http_is_token(method, strlen(method)))
		return KBS_ERR_INVAL;
	buf_init(&res->body, c->max_response_size);
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
		if (!header_ok(headers[i])) {
			rc = KBS_ERR_INVAL;
			goto out;
		}
		tmp = curl_slist_append(hdrs, headers[i]);
		if (tmp == NULL) {
			rc = KBS_ERR_NOMEM;
			goto out;
		}
		hdrs = tmp;
	}
	/* no "Expect: 100-continue" round trip: bodies here are small JSON documents */
	tmp = curl_slist_append(hdrs, "Expect:");
	if (tmp == NULL) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	hdrs = tmp;

	pthread_mutex_lock(&c->mu);
	locked = 1;
	for (int attempt = 0;; attempt++) {
		int64_t now = http_now_ms();
		long tmo = c->timeout_ms, conn = c->connect_timeout_ms, st = 0;
		CURLcode cc;
		char *ct = NULL;

		if (deadline_ms > 0) {
			if (now >= deadline_ms) {
				rc = KBS_ERR_TIMEOUT;
				if (res->error[0] == '\0')
					snprintf(res->error, sizeof(res->error),
						 "deadline reached");
				break;
			}
			if (deadline_ms - now < tmo)
				tmo = (long)(deadline_ms - now);
		}
		if (conn > tmo)
			conn = tmo;
		buf_reset(&res->body);
		sink.b = &res->body;
		sink.overflow = 0;
		c->errbuf[0] = '\0';
		rc = set_options(c, method, url, hdrs, body, body_len, tmo, conn, &sink);
		if (rc != KBS_OK)
			break;
		cc = curl_easy_perform(c->curl);
		res->attempts++;
		res->curl_code = (int)cc;
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &st);
		res->status = st;
		res->content_type[0] = '\0';
		if (curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
		    ct != NULL)
			snprintf(res->content_type, sizeof(res->content_type), "%s", ct);
		if (cc == CURLE_OK) {
			res->error[0] = '\0';
			rc = KBS_OK;
			break;
		}
		snprintf(res->error, sizeof(res->error), "%s",
			 c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(cc));
		if (sink.overflow || cc == CURLE_FILESIZE_EXCEEDED) {
			rc = KBS_ERR_RANGE;
			break;
		}
		rc = cc == CURLE_OPERATION_TIMEDOUT ? KBS_ERR_TIMEOUT : KBS_ERR_NETWORK;
		/* a response was (partly) received: the request reached the server, no retry */
		if (st > 0 || !retryable(cc) || attempt >= c->max_retries)
			break;
		long delay = backoff_ms(c, attempt);
		if (deadline_ms > 0 && http_now_ms() + delay >= deadline_ms) {
			rc = KBS_ERR_TIMEOUT; /* never sleep past the deadline */
			break;
		}
		log_debug("http: %s %s attempt %d failed (%s), retry in %ld ms", method, url,
			  attempt + 1, curl_easy_strerror(cc), delay);
		sleep_ms(delay);
	}
out:
	if (locked) {
		/* drop references to this call's buffers from the handle */
		curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, NULL);
		pthread_mutex_unlock(&c->mu);
	}
	curl_slist_free_all(hdrs);
	return rc;
}

void http_client_clear_cookies(struct http_client *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	curl_easy_setopt(c->curl, CURLOPT_COOKIELIST, "ALL");
	pthread_mutex_unlock(&c->mu);
}

int http_client_get_cookie(struct http_client *c, const char *name, char *out, size_t outlen)
{
	struct curl_slist *list = NULL;
	int rc = KBS_ERR_NOTFOUND;

	if (c == NULL || name == NULL || out == NULL || outlen == 0)
		return KBS_ERR_INVAL;
	out[0] = '\0';
	pthread_mutex_lock(&c->mu);
	if (curl_easy_getinfo(c->curl, CURLINFO_COOKIELIST, &list) != CURLE_OK) {
		rc = KBS_ERR_INTERNAL;
		goto out;
	}
	/* Netscape cookie lines: domain \t tailmatch \t path \t secure \t expires \t name \t value
	 */
	for (struct curl_slist *l = list; l != NULL; l = l->next) {
		const char *f[7];
		const char *p = l->data;
		int nf = 0;

		f[nf++] = p;
		for (; *p != '\0' && nf < 7; p++)
			if (*p == '\t')
				f[nf++] = p + 1;
		if (nf != 7)
			continue;
		size_t nl = (size_t)(f[6] - f[5] - 1);
		if (nl != strlen(name) || memcmp(f[5], name, nl) != 0)
			continue;
		size_t vl = strlen(f[6]);
		if (vl >= outlen) {
			rc = KBS_ERR_RANGE;
			goto out;
		}
		memcpy(out, f[6], vl);
		out[vl] = '\0';
		rc = KBS_OK;
		break;
	}
out:
	curl_slist_free_all(list);
	pthread_mutex_unlock(&c->mu);
	return rc;
}
