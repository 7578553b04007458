// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP/1.1 server: libevent evhttp, one event_base + evhttp per worker thread, all workers
 * accepting from the same non-blocking listening sockets (the kernel wakes them; whichever
 * accepts first owns the connection). TLS through bufferevent_openssl.
 */
#include "common/http_server.h"
#include "common/err.h"
#include "common/http_util.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define HTTP_DEFAULT_BODY (1024 * 1024)
#define HTTP_DEFAULT_HEADERS (16 * 1024)
#define HTTP_DEFAULT_TIMEOUT 60
#define HTTP_DEFAULT_BACKLOG 128
#define HTTP_MAX_WORKERS 64
#define HTTP_DRAIN_MAX_MS 2000 /* stop: longest wait for responses still being written */

struct http_request {
	struct evhttp_request *ev;
	const char *method;
	const char *path;
	const char *query;
	const uint8_t *body;
	size_t body_len;
	struct evhttp_connection *evcon;
	bool peer_done;
	char peer[INET6_ADDRSTRLEN + 16];
};

struct http_worker {
	struct http_server *srv;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket **bound; /* one per listening socket */
	struct event *drain;		    /* stop: polls until pending reaches 0 */
	struct timeval drain_until;
	int pending;	      /* replies handed to libevent and not yet fully written */
	struct event *resume; /* re-enables the listeners after an accept error */
	int64_t last_warn_ms; /* rate limit for the accept error warning */
	pthread_t thread;
	int running;
};

struct http_server {
	http_handler_fn handler;
	void *ctx;
	bool tls;
	size_t max_body;
	size_t max_headers;
	int timeout_s;
	SSL_CTX *ssl;
	int *fds;
	int *ports;
	size_t nfds;
	struct http_worker *workers;
	int nworkers;
	int state; /* 0 = new, 1 = started, 2 = stopped */
	pthread_mutex_t mu;
};

/* The worker whose loop runs on this thread: libevent hands the listener error callback only
 * the struct evhttp, so this is how it finds its worker. */
static _Thread_local struct http_worker *current_worker;

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;
static int evthread_rc;

/* libevent needs its locking callbacks before any base is created so event_base_loopexit()
 * from the stopping thread wakes a worker blocked in epoll. */
static void evthread_init(void)
{
	evthread_rc = evthread_use_pthreads();
}

/* ---- request accessors ---- */

const char *http_request_method(const struct http_request *r)
{
	return r->method;
}

const char *http_request_path(const struct http_request *r)
{
	return r->path;
}

const char *http_request_uri(const struct http_request *r)
{
	const char *u = r->ev != NULL ? evhttp_request_get_uri(r->ev) : NULL;

	return u != NULL ? u : "";
}

const char *http_request_query(const struct http_request *r)
{
	return r->query;
}

const char *http_request_header(const struct http_request *r, const char *name)
{
	if (r->ev == NULL || name == NULL)
		return NULL;
	return evhttp_find_header(evhttp_request_get_input_headers(r->ev), name);
}

int http_request_cookie(const struct http_request *r, const char *name, char *out, size_t outlen)
{
	struct evkeyvalq *hdrs;
	struct evkeyval *kv;
	int rc = KBS_ERR_NOTFOUND;

	if (out == NULL || outlen == 0 || name == NULL)
		return KBS_ERR_INVAL;
	out[0] = '\0';
	if (r->ev == NULL)
		return KBS_ERR_NOTFOUND;
	hdrs = evhttp_request_get_input_headers(r->ev);
	/* Several Cookie headers are possible (proxies, HTTP/2 gateways): all must be valid,
	 * the first occurrence of the name wins. */
	TAILQ_FOREACH(kv, hdrs, next)
	{
		int one;

		if (strcasecmp(kv->key, "Cookie") != 0)
			continue;
		if (rc == KBS_OK) /* already found: only validate the remaining headers */
			one = http_cookie_find(kv->value, strlen(kv->value), name, NULL, 0);
		else
			one = http_cookie_find(kv->value, strlen(kv->value), name, out, outlen);
		if (one != KBS_OK && one != KBS_ERR_NOTFOUND) {
			out[0] = '\0';
			return one;
		}
		if (one == KBS_OK)
			rc = KBS_OK;
	}
	return rc;
}

const uint8_t *http_request_body(const struct http_request *r, size_t *len)
{
	if (len != NULL)
		*len = r->body_len;
	return r->body;
}

const char *http_request_peer(const struct http_request *r)
{
	/* formatting costs a getnameinfo-like conversion that most requests never need; the
	 * request is the server's own per-call struct, so filling the cache here is safe */
	struct http_request *w = (struct http_request *)r;

	if (!w->peer_done) {
		w->peer_done = true;
		if (w->evcon != NULL)
			http_format_addr(evhttp_connection_get_addr(w->evcon), w->peer,
					 sizeof(w->peer));
	}
	return r->peer;
}

/* ---- responses ---- */

void http_response_init(struct http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	buf_init(&resp->body, 0);
}

void http_response_release(struct http_response *resp)
{
	if (resp == NULL)
		return;
	for (int i = 0; i < resp->nheaders && i < 8; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
		resp->headers[i].name = NULL;
		resp->headers[i].value = NULL;
	}
	resp->nheaders = 0;
	buf_release(&resp->body);
}

int http_response_header(struct http_response *resp, const char *name, const char *value)
{
	const int max = (int)(sizeof(resp->headers) / sizeof(resp->headers[0]));

	if (resp == NULL || name == NULL || value == NULL || !http_is_token(name, strlen(name)))
		return KBS_ERR_INVAL;
	if (strcasecmp(name, "Content-Length") == 0 || strcasecmp(name, "Transfer-Encoding") == 0)
		return KBS_ERR_INVAL;
	for (const char *p = value; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n')
			return KBS_ERR_INVAL;
	if (resp->nheaders < 0 || resp->nheaders >= max)
		return KBS_ERR_RANGE;
	char *n = strdup(name), *v = strdup(value);
	if (n == NULL || v == NULL) {
		free(n);
		free(v);
		return KBS_ERR_NOMEM;
	}
	resp->headers[resp->nheaders].name = n;
	resp->headers[resp->nheaders].value = v;
	resp->nheaders++;
	return KBS_OK;
}

/* ---- request dispatch ---- */

static const char *method_name(enum evhttp_cmd_type c)
{
	switch (c) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	}
	return "UNKNOWN";
}

static void send_plain_error(struct evhttp_request *ev, int status)
{
	evhttp_send_reply(ev, status, http_reason_phrase(status), NULL);
}

static void on_complete(struct evhttp_request *ev, void *arg)
{
	struct http_worker *w = arg;

	w->pending--;
}

/*
 * evhttp formats the status line and headers into one evbuffer chain and moves the body in as
 * another; bufferevent_openssl then calls SSL_write once per chain, i.e. two TLS records and
 * two write(2) calls per response, each waking the peer. The reply is only queued at this
 * point (the write happens when the loop sees the socket writable), so joining the chains now
 * makes it one record and one write.
 */
static void coalesce_output(struct evhttp_connection *evcon)
{
	struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;

	if (bev != NULL)
		evbuffer_pullup(bufferevent_get_output(bev), -1);
}

static void on_request(struct evhttp_request *ev, void *arg)
{
	struct http_worker *w = arg;
	struct http_server *s = w->srv;
	struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
	struct evbuffer *in = evhttp_request_get_input_buffer(ev);
	struct evkeyvalq *oh = evhttp_request_get_output_headers(ev);
	struct http_request r;
	struct http_response resp;
	const char *raw_path;
	char *path = NULL;
	size_t plen = 0;
	int status, rc;

	memset(&r, 0, sizeof(r));
	http_response_init(&resp);
	/* every path below sends exactly one reply; count it until it is written out */
	w->pending++;
	evhttp_request_set_on_complete_cb(ev, on_complete, w);
	if (s->tls && (evcon == NULL || bufferevent_openssl_get_ssl(
					    evhttp_connection_get_bufferevent(evcon)) == NULL)) {
		/* bevcb could not create a TLS bufferevent and libevent fell back to plain TCP:
		 * never hand such a request to the handler. */
		evhttp_add_header(oh, "Connection", "close");
		send_plain_error(ev, 500);
		goto out;
	}
	if (uri == NULL) {
		send_plain_error(ev, 400);
		goto out;
	}
	raw_path = evhttp_uri_get_path(uri);
	if (raw_path == NULL || raw_path[0] == '\0')
		raw_path = "/";
	plen = strlen(raw_path);
	path = malloc(plen + 1); /* decoding never makes the path longer */
	if (path == NULL) {
		send_plain_error(ev, 500);
		goto out;
	}
	if (http_path_decode(raw_path, plen, path, plen + 1) != KBS_OK || path[0] != '/') {
		/* bad escape, %00 / control byte, or not an origin-form target */
		send_plain_error(ev, 400);
		goto out;
	}
	r.ev = ev;
	r.method = method_name(evhttp_request_get_command(ev));
	r.path = path;
	r.query = evhttp_uri_get_query(uri);
	r.body_len = evbuffer_get_length(in);
	r.body = r.body_len > 0 ? evbuffer_pullup(in, -1) : (const uint8_t *)"";
	if (r.body == NULL) {
		send_plain_error(ev, 500);
		goto out;
	}
	r.evcon = evcon; /* the peer address is formatted on first use */

	rc = s->handler(s->ctx, &r, &resp);
	status = resp.status;
	if (status == 0)
		status = rc < 0 ? 500 : 200;
	if (status < 100 || status > 599) {
		log_error("http: handler returned invalid status %d for %s", status, r.path);
		status = 500;
	}
	for (int i = 0; i < resp.nheaders && i < 8; i++) {
		if (evhttp_add_header(oh, resp.headers[i].name, resp.headers[i].value) != 0) {
			log_error("http: invalid response header %s", resp.headers[i].name);
			evhttp_clear_headers(oh);
			send_plain_error(ev, 500);
			goto out;
		}
	}
	if (resp.body.len > 0 &&
	    evbuffer_add(evhttp_request_get_output_buffer(ev), resp.body.p, resp.body.len) != 0) {
		evhttp_clear_headers(oh);
		send_plain_error(ev, 500);
		goto out;
	}
	evhttp_send_reply(ev, status, http_reason_phrase(status), NULL);
	if (s->tls)
		coalesce_output(evcon);
out:
	http_response_release(&resp);
	free(path);
}

static struct bufferevent *tls_bevcb(struct event_base *base, void *arg)
{
	struct http_server *s = arg;
	struct bufferevent *bev;
	SSL *ssl = SSL_new(s->ssl);

	if (ssl == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	/* peers that just close the TCP connection are normal, not an error */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_worker *w = arg;
	struct timeval now;

	event_base_gettimeofday_cached(w->base, &now);
	if (w->pending <= 0 || timercmp(&now, &w->drain_until, >=))
		event_base_loopbreak(w->base);
}

/* Runs on the worker thread (event_base_once from http_server_stop): stop accepting, then
 * leave the loop once every reply already produced has been written (bounded wait). */
static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_worker *w = arg;
	const struct timeval tick = {0, 5000},
			     max = {HTTP_DRAIN_MAX_MS / 1000, (HTTP_DRAIN_MAX_MS % 1000) * 1000};
	struct timeval now;

	evtimer_del(w->resume);
	for (size_t i = 0; i < w->srv->nfds; i++) {
		if (w->bound[i] != NULL) {
			evhttp_del_accept_socket(w->http, w->bound[i]);
			w->bound[i] = NULL;
		}
	}
	event_base_gettimeofday_cached(w->base, &now);
	timeradd(&now, &max, &w->drain_until);
	w->drain = event_new(w->base, -1, EV_PERSIST, drain_cb, w);
	if (w->pending <= 0 || w->drain == NULL || event_add(w->drain, &tick) != 0)
		event_base_loopbreak(w->base);
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_worker *w = arg;

	for (size_t i = 0; i < w->srv->nfds; i++)
		if (w->bound[i] != NULL)
			evconnlistener_enable(evhttp_bound_socket_get_listener(w->bound[i]));
}

/* accept() failed with a non-retriable error, typically EMFILE/ENFILE/ENOMEM. The pending
 * connection stays in the backlog, so the level-triggered listener would fire again at once
 * and spin: pause accepting on this worker for a moment instead. */
static void accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct http_worker *w = current_worker;
	const struct timeval pause = {0, 100000};
	int err = EVUTIL_SOCKET_ERROR();
	struct timespec ts;
	int64_t now;

	evconnlistener_disable(l);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (w == NULL || now - w->last_warn_ms >= 10000) {
		log_warn("http: accept failed: %s; pausing accepts for 100 ms", strerror(err));
		if (w != NULL)
			w->last_warn_ms = now;
	}
	if (w == NULL || evtimer_add(w->resume, &pause) != 0)
		evconnlistener_enable(l); /* cannot pause: better spin than stop serving */
}

static void *worker_main(void *arg)
{
	struct http_worker *w = arg;

	current_worker = w;
	if (event_base_dispatch(w->base) < 0)
		log_error("http: worker event loop failed");
	return NULL;
}

/* ---- setup ---- */

static void log_openssl_errors(void)
{
	unsigned long e;
	char msg[256];

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, msg, sizeof(msg));
		log_error("http: openssl: %s", msg);
	}
}

/* TLS 1.3 suites left enabled (OpenSSL ignores unknown names in a suite list). */
static int count_tls13(SSL_CTX *ctx)
{
	STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(ctx);
	int n = 0;

	for (int i = 0; sk != NULL && i < sk_SSL_CIPHER_num(sk); i++)
		if (strcmp(SSL_CIPHER_get_version(sk_SSL_CIPHER_value(sk, i)), "TLSv1.3") == 0)
			n++;
	return n;
}

static int tls_version(int v)
{
	return v == 13 ? TLS1_3_VERSION : TLS1_2_VERSION;
}

static int tls_setup(struct http_server *s, const struct http_server_config *cfg)
{
	/* TLS 1.2 default: forward-secret AEAD suites only (TLS 1.3 suites are all fine) */
	const char *list = cfg->tls_cipher_list
				   ? cfg->tls_cipher_list
				   : "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20";
	int min = cfg->tls_min_version == 13 ? 13 : 12;
	int max = cfg->tls_max_version == 12 ? 12 : 13;

	if (cfg->cert_file == NULL || cfg->key_file == NULL)
		return KBS_ERR_INVAL;
	if ((cfg->tls_min_version && cfg->tls_min_version != 12 && cfg->tls_min_version != 13) ||
	    (cfg->tls_max_version && cfg->tls_max_version != 12 && cfg->tls_max_version != 13) ||
	    min > max) {
		log_error("http: TLS versions must be 1.2 or 1.3 with min <= max");
		return KBS_ERR_INVAL;
	}
	s->ssl = SSL_CTX_new(TLS_server_method());
	if (s->ssl == NULL)
		return KBS_ERR_NOMEM;
	SSL_CTX_set_options(s->ssl, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
					SSL_OP_NO_COMPRESSION);
	if (SSL_CTX_set_min_proto_version(s->ssl, tls_version(min)) != 1 ||
	    SSL_CTX_set_max_proto_version(s->ssl, tls_version(max)) != 1) {
		log_error("http: cannot set TLS versions 1.%d..1.%d", min - 10, max - 10);
		goto inval;
	}
	/* OpenSSL keeps the two namespaces apart: a TLS 1.2 list never limits TLS 1.3 suites */
	if (min == 12 && SSL_CTX_set_cipher_list(s->ssl, list) != 1) {
		log_error("http: TLS 1.2 cipher list '%s' selects no usable cipher", list);
		goto inval;
	}
	if (cfg->tls_ciphersuites && max == 13 &&
	    (SSL_CTX_set_ciphersuites(s->ssl, cfg->tls_ciphersuites) != 1 ||
	     count_tls13(s->ssl) == 0)) {
		log_error("http: TLS 1.3 cipher suites '%s' not accepted", cfg->tls_ciphersuites);
		goto inval;
	}
	if (cfg->tls_groups && SSL_CTX_set1_groups_list(s->ssl, cfg->tls_groups) != 1) {
		log_error("http: TLS groups '%s' not accepted", cfg->tls_groups);
		goto inval;
	}
	if (SSL_CTX_use_certificate_chain_file(s->ssl, cfg->cert_file) != 1) {
		log_error("http: cannot load TLS certificate chain %s", cfg->cert_file);
		goto crypto;
	}
	if (SSL_CTX_use_PrivateKey_file(s->ssl, cfg->key_file, SSL_FILETYPE_PEM) != 1) {
		log_error("http: cannot load TLS private key %s", cfg->key_file);
		goto crypto;
	}
	if (SSL_CTX_check_private_key(s->ssl) != 1) {
		log_error("http: TLS private key does not match the certificate %s",
			  cfg->cert_file);
		goto crypto;
	}
	return KBS_OK;
inval:
	log_openssl_errors();
	return KBS_ERR_INVAL;
crypto:
	log_openssl_errors();
	return KBS_ERR_CRYPTO;
}

static int listen_one(const char *addr, int backlog, int *fd_out, int *port_out)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1, rc;

	if (http_parse_listen(addr, &ss, &sl) != KBS_OK) {
		log_error("http: invalid listen address '%s' (want IP:PORT)", addr);
		return KBS_ERR_INVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return KBS_ERR_IO;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* inherited by accepted sockets: TLS writes header and body as separate records, and
	 * Nagle + delayed ACK would hold the second one back for ~40 ms */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, backlog) != 0) {
		log_error("http: cannot listen on %s: %s", addr, strerror(errno));
		rc = KBS_ERR_IO;
		goto fail;
	}
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		rc = KBS_ERR_IO;
		goto fail;
	}
	*port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
					     : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	*fd_out = fd;
	return KBS_OK;
fail:
	close(fd);
	return rc;
}

static int worker_setup(struct http_server *s, struct http_worker *w)
{
	struct event_config *ec = event_config_new();

	w->srv = s;
	/* Every request disables reading, enables writing for the reply, then swaps back:
	 * with the changelist those toggles within one loop pass cost one epoll_ctl instead of
	 * three (the listening and connection fds are never dup()ed, the changelist caveat). */
	if (ec == NULL)
		return KBS_ERR_NOMEM;
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	w->base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (w->base == NULL)
		return KBS_ERR_NOMEM;
	w->http = evhttp_new(w->base);
	if (w->http == NULL)
		return KBS_ERR_NOMEM;
	evhttp_set_max_body_size(w->http, (ev_ssize_t)s->max_body);
	evhttp_set_max_headers_size(w->http, (ev_ssize_t)s->max_headers);
	evhttp_set_timeout(w->http, s->timeout_s);
	/* no implicit Content-Type: the handler decides (Trustee error bodies carry none) */
	evhttp_set_default_content_type(w->http, NULL);
	evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	/* read (and drop) an oversized body so the client sees the 413 instead of a reset */
	evhttp_set_flags(w->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_gencb(w->http, on_request, w);
	if (s->tls)
		evhttp_set_bevcb(w->http, tls_bevcb, s);
	w->bound = calloc(s->nfds, sizeof(*w->bound));
	w->resume = evtimer_new(w->base, resume_cb, w);
	if (w->bound == NULL || w->resume == NULL)
		return KBS_ERR_NOMEM;
	for (size_t i = 0; i < s->nfds; i++) {
		/* the server owns the fds: the listener must not close them when freed */
		struct evconnlistener *l =
		    evconnlistener_new(w->base, NULL, NULL, LEV_OPT_CLOSE_ON_EXEC, 0, s->fds[i]);

		if (l == NULL)
			return KBS_ERR_NOMEM;
		w->bound[i] = evhttp_bind_listener(w->http, l);
		if (w->bound[i] == NULL) {
			evconnlistener_free(l);
			return KBS_ERR_NOMEM;
		}
		evconnlistener_set_error_cb(l, accept_error_cb);
	}
	return KBS_OK;
}

int http_server_new(const struct http_server_config *cfg, http_handler_fn handler, void *ctx,
		    struct http_server **out)
{
	struct http_server *s = NULL;
	int rc = KBS_ERR_INVAL;
	long ncpu;

	if (out == NULL)
		return KBS_ERR_INVAL;
	*out = NULL;
	if (cfg == NULL || handler == NULL || cfg->listen == NULL || cfg->nlisten == 0 ||
	    cfg->nlisten > 64)
		return KBS_ERR_INVAL;
	pthread_once(&evthread_once, evthread_init);
	if (evthread_rc != 0)
		return KBS_ERR_INTERNAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return KBS_ERR_NOMEM;
	pthread_mutex_init(&s->mu, NULL);
	s->handler = handler;
	s->ctx = ctx;
	s->tls = cfg->tls;
	s->max_body = cfg->max_body_size ? cfg->max_body_size : HTTP_DEFAULT_BODY;
	s->max_headers = cfg->max_header_size ? cfg->max_header_size : HTTP_DEFAULT_HEADERS;
	s->timeout_s = cfg->timeout_s > 0 ? cfg->timeout_s : HTTP_DEFAULT_TIMEOUT;
	if (cfg->workers > 0) {
		s->nworkers = cfg->workers;
	} else {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		s->nworkers =
		    ncpu < 2 ? 2 : (int)(ncpu > HTTP_MAX_WORKERS ? HTTP_MAX_WORKERS : ncpu);
	}
	if (s->nworkers > HTTP_MAX_WORKERS)
		s->nworkers = HTTP_MAX_WORKERS;
	if (s->tls) {
		rc = tls_setup(s, cfg);
		if (rc != KBS_OK)
			goto out;
	}
	rc = KBS_ERR_NOMEM;
	s->fds = calloc(cfg->nlisten, sizeof(int));
	s->ports = calloc(cfg->nlisten, sizeof(int));
	s->workers = calloc((size_t)s->nworkers, sizeof(*s->workers));
	if (s->fds == NULL || s->ports == NULL || s->workers == NULL)
		goto out;
	for (size_t i = 0; i < cfg->nlisten; i++) {
		rc = listen_one(cfg->listen[i],
				cfg->backlog > 0 ? cfg->backlog : HTTP_DEFAULT_BACKLOG, &s->fds[i],
				&s->ports[i]);
		if (rc != KBS_OK)
			goto out;
		s->nfds++;
	}
	for (int i = 0; i < s->nworkers; i++) {
		rc = worker_setup(s, &s->workers[i]);
		if (rc != KBS_OK)
			goto out;
	}
	*out = s;
	s = NULL;
	rc = KBS_OK;
out:
	http_server_free(s);
	return rc;
}

int http_server_start(struct http_server *s)
{
	struct sigaction sa;
	int rc = KBS_OK;

	if (s == NULL)
		return KBS_ERR_INVAL;
	pthread_mutex_lock(&s->mu);
	if (s->state != 0) {
		rc = KBS_ERR_INVAL;
		goto out;
	}
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	s->state = 1;
	for (int i = 0; i < s->nworkers; i++) {
		struct http_worker *w = &s->workers[i];

		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			rc = KBS_ERR_IO;
			break;
		}
		w->running = 1;
	}
out:
	pthread_mutex_unlock(&s->mu);
	if (rc != KBS_OK && s->state == 1)
		http_server_stop(s);
	return rc;
}

int http_server_port(const struct http_server *s, size_t i)
{
	if (s == NULL || i >= s->nfds)
		return -1;
	return s->ports[i];
}

void http_server_stop(struct http_server *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	if (s->state == 2) {
		pthread_mutex_unlock(&s->mu);
		return;
	}
	s->state = 2;
	if (s->workers == NULL) {
		pthread_mutex_unlock(&s->mu);
		return;
	}
	/* stop_cb runs on each worker after the callback in progress (a handler) returns */
	for (int i = 0; i < s->nworkers; i++) {
		struct http_worker *w = &s->workers[i];
		const struct timeval now = {0, 0};

		if (w->running && event_base_once(w->base, -1, EV_TIMEOUT, stop_cb, w, &now) != 0)
			event_base_loopexit(w->base, NULL);
	}
	for (int i = 0; i < s->nworkers; i++) {
		if (s->workers[i].running) {
			pthread_join(s->workers[i].thread, NULL);
			s->workers[i].running = 0;
		}
	}
	/* workers are gone: tear down listeners and connections from this thread */
	for (int i = 0; i < s->nworkers; i++) {
		if (s->workers[i].drain != NULL) {
			event_free(s->workers[i].drain);
			s->workers[i].drain = NULL;
		}
		if (s->workers[i].resume != NULL) {
			event_free(s->workers[i].resume);
			s->workers[i].resume = NULL;
		}
		if (s->workers[i].http != NULL) {
			evhttp_free(s->workers[i].http);
			s->workers[i].http = NULL;
		}
	}
	for (size_t i = 0; i < s->nfds; i++) {
		if (s->fds[i] >= 0)
			close(s->fds[i]);
		s->fds[i] = -1;
	}
	pthread_mutex_unlock(&s->mu);
}

void http_server_free(struct http_server *s)
{
	if (s == NULL)
		return;
	http_server_stop(s);
	for (int i = 0; s->workers != NULL && i < s->nworkers; i++) {
		if (s->workers[i].base != NULL)
			event_base_free(s->workers[i].base);
		free(s->workers[i].bound);
	}
	free(s->workers);
	free(s->fds);
	free(s->ports);
	SSL_CTX_free(s->ssl);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
