// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP/1.1 server on epoll + OpenSSL. Each worker thread runs its own epoll loop; the listening
 * sockets are registered in every worker's epoll with EPOLLEXCLUSIVE, so the kernel wakes one
 * idle worker per new connection. The woken worker accepts what is pending and gives each new
 * connection to the worker with the fewest connections that is not inside a handler (itself
 * on a tie): a connection for
 * another worker goes into that worker's inbox (mutex-protected list) and its eventfd is
 * written; the owner registers it in its own epoll and keeps it for its lifetime. Without the
 * hand-off a burst of new connections (clients connecting together) all landed on the one
 * worker that woke first, while the others idled.
 *
 * Per connection there is one input buffer (requests are parsed in place by http_req_parse.c,
 * pipelined requests wait in it and are handled in order) and one output buffer: a response
 * (status line, headers, body) is formatted into it and handed to one SSL_write / send, i.e.
 * one TLS record and one write(2) per response. Sockets stay registered for EPOLLIN
 * (level-triggered) and switch to EPOLLOUT only while a response cannot be written at once, so
 * a keep-alive request costs epoll_wait + read + write and no epoll_ctl.
 * Timeouts: connections sit in a per-worker list ordered by deadline (every deadline is "last
 * progress + timeout_s", so moving a connection to the tail keeps the order); the loop's
 * epoll_wait timeout is the head's deadline.
 */
#include "common/http_server.h"
#include "common/err.h"
#include "common/http_req_parse.h"
#include "common/http_util.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define HTTP_DEFAULT_BODY (1024 * 1024)
#define HTTP_DEFAULT_HEADERS (16 * 1024)
#define HTTP_DEFAULT_TIMEOUT 60
#define HTTP_DEFAULT_BACKLOG 128
#define HTTP_MAX_WORKERS 64
#define HTTP_DRAIN_MAX_MS 2000	  /* stop: longest wait for responses still being written */
#define HTTP_LINGER_MAX_MS 2000	  /* after an error reply: how long unread input is drained */
#define HTTP_ACCEPT_PAUSE_MS 100  /* accept failed (EMFILE...): pause accepting this long */
#define HTTP_IN_INITIAL 4096	  /* first size of a connection's input buffer */
#define HTTP_KEEP_MAX (64 * 1024) /* buffers above this are freed when a request is done */
#define HTTP_IN_SLACK (64 * 1024) /* input room beyond head + body (chunk lines, pipelining) */
#define HTTP_ACCEPT_BATCH 16	  /* connections accepted per wakeup */

enum http_kind { KIND_LISTENER = 1, KIND_WAKE, KIND_CONN };

/* Result of the connection steps below. */
enum step { STEP_OK, STEP_BLOCKED, STEP_AGAIN, STEP_CLOSED };

struct http_listener {
	int kind; /* KIND_LISTENER; first member: epoll data.ptr points here */
	int fd;
	int port;
};

struct http_conn {
	int kind; /* KIND_CONN */
	struct http_worker *w;
	struct http_conn *prev, *next; /* worker's list, ordered by deadline */
	int fd;
	SSL *ssl;
	uint32_t events; /* registered epoll events */
	int64_t deadline_ms;
	struct buf in;
	struct buf out;
	size_t out_off;		 /* bytes of out already written */
	bool close_after;	 /* close once out is written */
	bool wipe_out;		 /* zero out once it is written (http_response.wipe_body) */
	bool lingering;		 /* error answered: drain input until EOF, then close */
	bool continue_sent;	 /* "100 Continue" sent for the current request */
	bool ssl_want_write;	 /* SSL_read needs the socket writable */
	struct http_req_chunked ch; /* chunked body of the current request */
	socklen_t peerlen;
	struct sockaddr_storage peer;
};

struct http_worker {
	int wake_kind; /* KIND_WAKE; epoll data.ptr of the wake eventfd */
	struct http_server *srv;
	int ep;
	int wake;
	pthread_t thread;
	int running;
	struct http_conn *head, *tail;
	size_t nconns;
	/* connections owned plus handed over and not yet picked up; read by accepting workers */
	atomic_size_t load;
	atomic_uint_fast64_t taken; /* connections taken over since start (statistics) */
	atomic_bool busy;	    /* inside a handler: gets no new connections then */
	pthread_mutex_t inbox_mu;
	struct http_conn *inbox; /* handed over by other workers, linked through next */
	int64_t now_ms;
	int64_t resume_ms; /* accepting paused until then; 0 = listeners registered */
	int64_t last_warn_ms;
	bool draining;
	time_t date_sec;
	char date[40];
	struct buf path; /* decoded path of the request being handled */
	struct http_req_head req;
};

struct http_server {
	http_handler_fn handler;
	void *ctx;
	bool tls;
	size_t max_body;
	size_t max_headers;
	int timeout_s;
	SSL_CTX *ssl;
	struct http_listener *ls;
	size_t nls;
	struct http_worker *workers;
	int nworkers;
	int state; /* 0 = new, 1 = started, 2 = stopped */
	atomic_int stopping;
	pthread_mutex_t mu;
};

struct http_request {
	struct http_conn *c;
	const struct http_req_head *h;
	const char *method;
	const char *path;
	const char *uri;
	const char *query;
	const uint8_t *body;
	size_t body_len;
	bool peer_done;
	char peer[INET6_ADDRSTRLEN + 16];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
	return r->uri != NULL ? r->uri : "";
}

const char *http_request_query(const struct http_request *r)
{
	return r->query;
}

/* Field names and values were NUL-terminated in the input buffer before the handler ran. */
static const char *field_name(const struct http_request *r, unsigned i)
{
	return (const char *)r->c->in.p + r->h->fields[i].name.off;
}

static const char *field_value(const struct http_request *r, unsigned i)
{
	return (const char *)r->c->in.p + r->h->fields[i].value.off;
}

const char *http_request_header(const struct http_request *r, const char *name)
{
	if (r->h == NULL || name == NULL)
		return NULL;
	for (unsigned i = 0; i < r->h->nfields; i++)
		if (strcasecmp(field_name(r, i), name) == 0)
			return field_value(r, i);
	return NULL;
}

int http_request_cookie(const struct http_request *r, const char *name, char *out, size_t outlen)
{
	int rc = KBS_ERR_NOTFOUND;

	if (out == NULL || outlen == 0 || name == NULL)
		return KBS_ERR_INVAL;
	out[0] = '\0';
	if (r->h == NULL)
		return KBS_ERR_NOTFOUND;
	/* Several Cookie headers are possible (proxies, HTTP/2 gateways): all must be valid,
	 * the first occurrence of the name wins. */
	for (unsigned i = 0; i < r->h->nfields; i++) {
		const char *v;
		int one;

		if (strcasecmp(field_name(r, i), "Cookie") != 0)
			continue;
		v = field_value(r, i);
		if (rc == KBS_OK) /* already found: only validate the remaining headers */
			one = http_cookie_find(v, strlen(v), name, NULL, 0);
		else
			one = http_cookie_find(v, strlen(v), name, out, outlen);
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
	/* formatting costs a conversion that most requests never need; the request is the
	 * server's own per-call struct, so filling the cache here is safe */
	struct http_request *w = (struct http_request *)r;

	if (!w->peer_done) {
		w->peer_done = true;
		http_format_addr((const struct sockaddr *)&r->c->peer, w->peer, sizeof(w->peer));
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
	if (resp->wipe_body && resp->body.p != NULL)
		OPENSSL_cleanse(resp->body.p, resp->body.cap);
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

/* ---- connections ---- */

static void list_unlink(struct http_worker *w, struct http_conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		w->tail = c->prev;
	c->prev = c->next = NULL;
}

static void list_append(struct http_worker *w, struct http_conn *c)
{
	c->prev = w->tail;
	c->next = NULL;
	if (w->tail != NULL)
		w->tail->next = c;
	else
		w->head = c;
	w->tail = c;
}

/* Progress on c: its deadline moves to now + d ms, i.e. to the end of the ordered list. */
static void conn_touch(struct http_conn *c, int64_t d)
{
	struct http_worker *w = c->w;

	c->deadline_ms = w->now_ms + d;
	if (w->tail != c) {
		list_unlink(w, c);
		list_append(w, c);
	}
}

static void conn_free(struct http_conn *c)
{
	struct http_worker *w = c->w;

	list_unlink(w, c);
	w->nconns--;
	atomic_fetch_sub(&w->load, 1);
	SSL_free(c->ssl);
	close(c->fd); /* never dup()ed: closing also removes it from the epoll set */
	if (c->wipe_out && c->out.p != NULL)
		OPENSSL_cleanse(c->out.p, c->out.cap);
	buf_release(&c->in);
	buf_release(&c->out);
	free(c);
}

/* Closes c; graceful: send a TLS close_notify first (one attempt, never waits). */
static enum step conn_close(struct http_conn *c, bool graceful)
{
	if (graceful && c->ssl != NULL && SSL_is_init_finished(c->ssl))
		SSL_shutdown(c->ssl);
	conn_free(c);
	return STEP_CLOSED;
}

static void conn_set_events(struct http_conn *c)
{
	uint32_t want = (c->out_off < c->out.len || c->ssl_want_write) ? EPOLLOUT : EPOLLIN;
	struct epoll_event ev = {.events = want, .data.ptr = c};

	if (want != c->events && epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = want;
}

static bool ssl_fatal(int err)
{
	return err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE;
}

/*
 * Writes what is left of c->out. STEP_OK: all written (then the buffer is reset, wiped if
 * asked, and c closed if close_after without lingering: STEP_CLOSED); STEP_BLOCKED: the
 * socket is full; STEP_CLOSED: write error, c is gone.
 */
static enum step conn_flush(struct http_conn *c)
{
	while (c->out_off < c->out.len) {
		size_t n = c->out.len - c->out_off;
		const uint8_t *p = c->out.p + c->out_off;

		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);

			if (r <= 0) {
				int err = SSL_get_error(c->ssl, r);

				ERR_clear_error();
				if (ssl_fatal(err))
					return conn_close(c, false);
				return STEP_BLOCKED;
			}
			c->out_off += (size_t)r;
		} else {
			ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return STEP_BLOCKED;
			if (r <= 0)
				return conn_close(c, false);
			c->out_off += (size_t)r;
		}
		conn_touch(c, (int64_t)c->w->srv->timeout_s * 1000);
	}
	if (c->wipe_out) {
		OPENSSL_cleanse(c->out.p, c->out.len);
		c->wipe_out = false;
	}
	c->out_off = 0;
	buf_reset(&c->out);
	if (c->out.cap > HTTP_KEEP_MAX)
		buf_release(&c->out);
	if (c->close_after) {
		if (!c->lingering)
			return conn_close(c, true);
		/* error reply out: half-close and drain what the client still sends, so its
		 * kernel does not answer our close with a reset that destroys the reply */
		if (c->ssl != NULL)
			SSL_shutdown(c->ssl);
		else
			shutdown(c->fd, SHUT_WR);
		conn_touch(c, HTTP_LINGER_MAX_MS < c->w->srv->timeout_s * 1000
				  ? HTTP_LINGER_MAX_MS
				  : (int64_t)c->w->srv->timeout_s * 1000);
	}
	return STEP_OK;
}

/* One read into c->in. STEP_OK: bytes arrived (*drained: the socket is probably empty now);
 * STEP_AGAIN: nothing to read; STEP_CLOSED: EOF or error, c is gone. */
static enum step conn_fill(struct http_conn *c, bool *drained)
{
	size_t space;

	*drained = false;
	if (c->in.cap - c->in.len < 2) {
		struct http_server *s = c->w->srv;
		size_t limit = s->max_headers + s->max_body + HTTP_IN_SLACK;
		size_t want = c->in.cap < HTTP_IN_INITIAL ? HTTP_IN_INITIAL : c->in.cap;

		if (c->in.len + 1 >= limit)
			return STEP_BLOCKED; /* caller answers 413 */
		if (want > limit - c->in.len - 1)
			want = limit - c->in.len - 1;
		if (buf_reserve(&c->in, want) != KBS_OK)
			return conn_close(c, false);
	}
	space = c->in.cap - c->in.len - 1; /* keep room for a NUL after a body */
	if (c->ssl != NULL) {
		int r;

		c->ssl_want_write = false;
		r = SSL_read(c->ssl, c->in.p + c->in.len, space > INT32_MAX ? INT32_MAX : (int)space);
		if (r <= 0) {
			int err = SSL_get_error(c->ssl, r);

			ERR_clear_error();
			if (err == SSL_ERROR_WANT_READ)
				return STEP_AGAIN;
			if (err == SSL_ERROR_WANT_WRITE) {
				c->ssl_want_write = true;
				return STEP_AGAIN;
			}
			/* close_notify, EOF (also "dirty" without close_notify) or TLS error */
			return conn_close(c, false);
		}
		c->in.len += (size_t)r;
		*drained = (size_t)r < space && SSL_has_pending(c->ssl) == 0;
	} else {
		ssize_t r;

		do {
			r = read(c->fd, c->in.p + c->in.len, space);
		} while (r < 0 && errno == EINTR);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return STEP_AGAIN;
		if (r <= 0)
			return conn_close(c, false);
		c->in.len += (size_t)r;
		*drained = (size_t)r < space;
	}
	conn_touch(c, (int64_t)c->w->srv->timeout_s * 1000);
	return STEP_OK;
}

static char *put_str(char *o, const char *s, size_t n)
{
	memcpy(o, s, n);
	return o + n;
}

static char *put_uint(char *o, size_t v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*o++ = tmp[--n];
	return o;
}

static const char *worker_date(struct http_worker *w)
{
	time_t t = time(NULL);
	struct tm tm;

	if (t != w->date_sec || w->date[0] == '\0') {
		w->date_sec = t;
		gmtime_r(&t, &tm);
		if (strftime(w->date, sizeof(w->date), "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
			w->date[0] = '\0';
	}
	return w->date;
}

/*
 * Formats the response into c->out (empty on entry). Room for the whole response is reserved
 * before the body is copied, so the body never lands in a buffer that realloc later abandons.
 */
static int conn_format(struct http_conn *c, int status, const struct http_response *resp,
		       bool head_only, bool keep_alive, bool ka_header)
{
	const char *reason = http_reason_phrase(status), *date = worker_date(c->w);
	bool no_body = (status >= 100 && status < 200) || status == 204 || status == 304;
	size_t blen = resp != NULL && !no_body ? resp->body.len : 0, need;
	char *o;

	need = 128 + strlen(reason) + strlen(date) + (head_only ? 0 : blen);
	for (int i = 0; resp != NULL && i < resp->nheaders && i < 8; i++)
		need += strlen(resp->headers[i].name) + strlen(resp->headers[i].value) + 4;
	if (buf_reserve(&c->out, need) != KBS_OK)
		return KBS_ERR_NOMEM;
	o = (char *)c->out.p + c->out.len;
	o = put_str(o, "HTTP/1.1 ", 9);
	o = put_uint(o, (size_t)status);
	*o++ = ' ';
	o = put_str(o, reason, strlen(reason));
	o = put_str(o, "\r\n", 2);
	for (int i = 0; resp != NULL && i < resp->nheaders && i < 8; i++) {
		o = put_str(o, resp->headers[i].name, strlen(resp->headers[i].name));
		o = put_str(o, ": ", 2);
		o = put_str(o, resp->headers[i].value, strlen(resp->headers[i].value));
		o = put_str(o, "\r\n", 2);
	}
	if (date[0] != '\0') {
		o = put_str(o, "Date: ", 6);
		o = put_str(o, date, strlen(date));
		o = put_str(o, "\r\n", 2);
	}
	if (!no_body) {
		o = put_str(o, "Content-Length: ", 16);
		o = put_uint(o, blen);
		o = put_str(o, "\r\n", 2);
	}
	if (!keep_alive)
		o = put_str(o, "Connection: close\r\n", 19);
	else if (ka_header)
		o = put_str(o, "Connection: keep-alive\r\n", 24);
	o = put_str(o, "\r\n", 2);
	if (!head_only && blen > 0)
		o = put_str(o, (const char *)resp->body.p, blen);
	c->out.len = (size_t)(o - (char *)c->out.p);
	c->out.p[c->out.len] = '\0';
	return KBS_OK;
}

/* Answers a request the handler never sees with an empty-bodied status and ends the
 * connection (lingering: the rest of what the client sends is drained first). */
static enum step conn_error(struct http_conn *c, int status)
{
	c->out_off = 0;
	buf_reset(&c->out);
	if (conn_format(c, status, NULL, false, false, false) != KBS_OK)
		return conn_close(c, false);
	c->close_after = true;
	c->lingering = true;
	return conn_flush(c);
}

/* Drops the first n bytes of c->in (a finished request); pipelined bytes move to the front. */
static void conn_consume(struct http_conn *c, size_t n)
{
	if (n < c->in.len)
		memmove(c->in.p, c->in.p + n, c->in.len - n);
	c->in.len -= n;
	if (c->in.len == 0 && c->in.cap > HTTP_KEEP_MAX)
		buf_release(&c->in);
	memset(&c->ch, 0, sizeof(c->ch));
	c->continue_sent = false;
}

/* Request target → decoded path in w->path (query and absolute-form authority removed). */
static int decode_path(struct http_worker *w, const char *t, size_t tlen, const char **query)
{
	const char *q = memchr(t, '?', tlen);
	size_t plen = q != NULL ? (size_t)(q - t) : tlen;

	*query = q != NULL ? q + 1 : NULL;
	if (plen >= 8 && (strncasecmp(t, "http://", 7) == 0 || strncasecmp(t, "https://", 8) == 0)) {
		/* absolute-form (RFC 9112 §3.2.2): the path starts after the authority */
		const char *a = strstr(t, "//") + 2, *slash = memchr(a, '/', plen - (size_t)(a - t));

		if (slash == NULL) {
			t = "/";
			plen = 1;
		} else {
			plen -= (size_t)(slash - t);
			t = slash;
		}
	}
	if (plen == 0 || t[0] != '/') /* "*" or garbage */
		return KBS_ERR_PARSE;
	buf_reset(&w->path);
	if (buf_reserve(&w->path, plen + 1) != KBS_OK)
		return KBS_ERR_NOMEM;
	/* decoding never makes the path longer */
	return http_path_decode(t, plen, (char *)w->path.p, plen + 1);
}

/* Runs the handler for the complete request at the start of c->in and formats its reply. */
static int conn_dispatch(struct http_conn *c, uint8_t *body, size_t body_len)
{
	struct http_worker *w = c->w;
	struct http_server *s = w->srv;
	struct http_req_head *h = &w->req;
	uint8_t *p = c->in.p, saved;
	struct http_request r;
	struct http_response resp;
	bool head_only;
	int status, rc;

	memset(&r, 0, sizeof(r));
	/* NUL-terminate method, target and fields in place: each is followed by a byte of the
	 * head that is no longer needed (SP, ':', OWS or CR) */
	p[h->method.off + h->method.len] = '\0';
	p[h->target.off + h->target.len] = '\0';
	for (unsigned i = 0; i < h->nfields; i++) {
		p[h->fields[i].name.off + h->fields[i].name.len] = '\0';
		p[h->fields[i].value.off + h->fields[i].value.len] = '\0';
	}
	r.c = c;
	r.h = h;
	r.method = (const char *)p + h->method.off;
	r.uri = (const char *)p + h->target.off;
	head_only = strcmp(r.method, "HEAD") == 0;
	c->close_after = !h->keep_alive;
	http_response_init(&resp);
	rc = decode_path(w, r.uri, h->target.len, &r.query);
	if (rc != KBS_OK) {
		/* bad escape, %00 / control byte, or not a path */
		status = rc == KBS_ERR_NOMEM ? 500 : 400;
		goto reply;
	}
	r.path = (const char *)w->path.p;
	r.body = body_len > 0 ? body : (const uint8_t *)"";
	r.body_len = body_len;
	/* handlers may treat the body as a string: NUL after it (restored below, the byte may
	 * start a pipelined request) */
	saved = body[body_len];
	body[body_len] = '\0';
	atomic_store_explicit(&c->w->busy, true, memory_order_relaxed);
	rc = s->handler(s->ctx, &r, &resp);
	atomic_store_explicit(&c->w->busy, false, memory_order_relaxed);
	body[body_len] = saved;
	status = resp.status;
	if (status == 0)
		status = rc < 0 ? 500 : 200;
	if (status < 100 || status > 599) {
		log_error("http: handler returned invalid status %d for %s", status, r.path);
		status = 500;
	}
reply:
	c->wipe_out = resp.wipe_body;
	rc = conn_format(c, status, &resp, head_only, h->keep_alive, h->keep_alive && h->minor == 0);
	http_response_release(&resp);
	return rc;
}

/*
 * Handles the complete requests buffered in c->in, in order. STEP_AGAIN: more input needed;
 * STEP_BLOCKED: a reply is waiting for the socket (or c is lingering); STEP_CLOSED: c is gone.
 */
static enum step conn_process(struct http_conn *c)
{
	struct http_worker *w = c->w;
	struct http_server *s = w->srv;
	struct http_req_head *h = &w->req;

	while (c->in.len > 0) {
		uint8_t *body;
		size_t body_len, total;
		enum step st;
		int status;

		if (w->draining)
			return conn_close(c, true);
		if (http_req_parse_head(c->in.p, c->in.len, s->max_headers, s->max_body, h) !=
		    KBS_OK)
			return conn_error(c, h->status);
		if (h->head_len == 0)
			return STEP_AGAIN;
		body = c->in.p + h->head_len;
		if (h->chunked) {
			if (http_req_chunked_decode(body, c->in.len - h->head_len, s->max_body,
						    s->max_headers, &c->ch, &status) != KBS_OK)
				return conn_error(c, status);
			if (!c->ch.done) {
				/* compact: the decoded prefix stays, consumed framing goes */
				size_t gap = c->ch.in - c->ch.out;

				if (gap > 0) {
					memmove(body + c->ch.out, body + c->ch.in,
						c->in.len - h->head_len - c->ch.in);
					c->in.len -= gap;
					c->ch.in = c->ch.out;
				}
				goto need_body;
			}
			body_len = c->ch.out;
			total = h->head_len + c->ch.in;
		} else {
			if (c->in.len - h->head_len < h->content_length)
				goto need_body;
			body_len = (size_t)h->content_length;
			total = h->head_len + body_len;
		}
		if (conn_dispatch(c, body, body_len) != KBS_OK)
			return conn_close(c, false);
		conn_consume(c, total);
		st = conn_flush(c);
		if (st != STEP_OK)
			return st;
		continue;
need_body:
		if (h->expect_continue && !c->continue_sent) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

			c->continue_sent = true;
			if (buf_append(&c->out, cont, sizeof(cont) - 1) != KBS_OK)
				return conn_close(c, false);
			st = conn_flush(c);
			if (st != STEP_OK)
				return st;
		}
		return STEP_AGAIN;
	}
	if (w->draining)
		return conn_close(c, true);
	return STEP_AGAIN;
}

/* After an error reply: read and drop input until the client closes (or the deadline). */
static enum step conn_linger(struct http_conn *c)
{
	for (int i = 0; i < 64; i++) {
		bool drained;
		enum step st;

		c->in.len = 0;
		st = conn_fill(c, &drained);
		if (st != STEP_OK)
			return st == STEP_CLOSED ? STEP_CLOSED : STEP_BLOCKED;
		if (drained)
			break;
	}
	c->in.len = 0;
	return STEP_BLOCKED;
}

/* Everything that can be done on c now: write, handle buffered requests, read more. */
static void conn_run(struct http_conn *c)
{
	bool may_read = true, drained;
	enum step st;

	for (;;) {
		if (c->out_off < c->out.len) {
			st = conn_flush(c);
			if (st == STEP_CLOSED)
				return;
			if (st == STEP_BLOCKED)
				break;
		}
		if (c->lingering) {
			if (conn_linger(c) == STEP_CLOSED)
				return;
			break;
		}
		st = conn_process(c);
		if (st == STEP_CLOSED)
			return;
		if (st == STEP_BLOCKED || !may_read)
			break;
		st = conn_fill(c, &drained);
		may_read = !drained; /* drained: the next read would only see EAGAIN */
		if (st == STEP_CLOSED)
			return;
		if (st == STEP_BLOCKED) { /* input buffer full: the request is too large */
			/* a head that never ends is 431 (actix-web), a body 413 */
			int code = 413;

			if (http_req_parse_head(c->in.p, c->in.len, c->w->srv->max_headers,
						c->w->srv->max_body, &c->w->req) != KBS_OK)
				code = c->w->req.status;
			else if (c->w->req.head_len == 0)
				code = 431;
			if (conn_error(c, code) == STEP_CLOSED)
				return;
			continue;
		}
		if (st == STEP_AGAIN)
			break;
	}
	conn_set_events(c);
}

/* A connection that is not (yet) in a worker's list: an accept that could not be set up, or
 * one still in an inbox at stop. */
static void conn_discard(struct http_conn *c)
{
	atomic_fetch_sub(&c->w->load, 1);
	SSL_free(c->ssl);
	close(c->fd);
	free(c);
}

/* Registers c (accepted for w) in w's epoll and list; runs on w's thread. */
static void conn_adopt(struct http_worker *w, struct http_conn *c)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		conn_discard(c);
		return;
	}
	c->events = EPOLLIN;
	w->nconns++;
	atomic_fetch_add(&w->taken, 1);
	list_append(w, c);
	conn_touch(c, (int64_t)w->srv->timeout_s * 1000);
}

/*
 * The worker that gets the next connection: the fewest connections among the workers not
 * inside a handler (a handler may block on a backend; the accepting worker is never in one),
 * self on a tie. Its load counts the new connection at once, so the next pick in the same
 * accept batch sees it.
 */
static struct http_worker *pick_worker(struct http_worker *self)
{
	struct http_server *s = self->srv;
	struct http_worker *best = self;
	size_t min = atomic_load(&self->load);

	for (int i = 0; i < s->nworkers && min > 0; i++) {
		size_t l = atomic_load(&s->workers[i].load);

		if (l < min && !atomic_load_explicit(&s->workers[i].busy, memory_order_relaxed)) {
			min = l;
			best = &s->workers[i];
		}
	}
	atomic_fetch_add(&best->load, 1);
	return best;
}

/* Sets up a connection accepted by worker w and gives it to the least loaded worker. */
static void conn_new(struct http_worker *w, int fd, const struct sockaddr_storage *ss,
		     socklen_t sl)
{
	struct http_worker *to = pick_worker(w);
	struct http_conn *c = calloc(1, sizeof(*c));
	uint64_t one = 1;

	if (c == NULL) {
		atomic_fetch_sub(&to->load, 1);
		close(fd);
		return;
	}
	c->kind = KIND_CONN;
	c->w = to;
	c->fd = fd;
	c->peer = *ss;
	c->peerlen = sl;
	buf_init(&c->in, 0);
	buf_init(&c->out, 0);
	if (w->srv->tls) {
		c->ssl = SSL_new(w->srv->ssl);
		if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1) {
			ERR_clear_error();
			conn_discard(c);
			return;
		}
		SSL_set_accept_state(c->ssl);
	}
	if (to == w) {
		conn_adopt(w, c);
		return;
	}
	pthread_mutex_lock(&to->inbox_mu);
	c->next = to->inbox;
	to->inbox = c;
	pthread_mutex_unlock(&to->inbox_mu);
	if (write(to->wake, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("http: wake write: %s", strerror(errno));
}

/* Takes over the connections other workers handed to w (closes them when draining). */
static void inbox_take(struct http_worker *w)
{
	struct http_conn *c, *next;

	pthread_mutex_lock(&w->inbox_mu);
	c = w->inbox;
	w->inbox = NULL;
	pthread_mutex_unlock(&w->inbox_mu);
	for (; c != NULL; c = next) {
		next = c->next;
		c->next = NULL;
		if (w->draining)
			conn_discard(c);
		else
			conn_adopt(w, c);
	}
}

/* ---- workers ---- */

static int listeners_register(struct http_worker *w)
{
	struct http_server *s = w->srv;

	for (size_t i = 0; i < s->nls; i++) {
		/* EPOLLEXCLUSIVE: one waiting worker is woken per connection, not all of them */
		struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &s->ls[i]};

		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, s->ls[i].fd, &ev) != 0) {
			ev.events = EPOLLIN; /* kernels before 4.5 */
			if (epoll_ctl(w->ep, EPOLL_CTL_ADD, s->ls[i].fd, &ev) != 0)
				return KBS_ERR_IO;
		}
	}
	return KBS_OK;
}

static void listeners_unregister(struct http_worker *w)
{
	for (size_t i = 0; i < w->srv->nls; i++)
		epoll_ctl(w->ep, EPOLL_CTL_DEL, w->srv->ls[i].fd, NULL);
}

/* accept() failed with a non-retriable error, typically EMFILE/ENFILE/ENOMEM. The pending
 * connection stays in the backlog, so the level-triggered listener would fire again at once
 * and spin: pause accepting on this worker for a moment instead. */
static void accept_pause(struct http_worker *w, int err)
{
	if (w->now_ms - w->last_warn_ms >= 10000 || w->last_warn_ms == 0) {
		log_warn("http: accept failed: %s; pausing accepts for %d ms", strerror(err),
			 HTTP_ACCEPT_PAUSE_MS);
		w->last_warn_ms = w->now_ms;
	}
	listeners_unregister(w);
	w->resume_ms = w->now_ms + HTTP_ACCEPT_PAUSE_MS;
}

static void accept_some(struct http_worker *w, int lfd)
{
	for (int k = 0; k < HTTP_ACCEPT_BATCH && w->resume_ms == 0; k++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO ||
			    errno == EPERM)
				continue;
			accept_pause(w, errno);
			return;
		}
		conn_new(w, fd, &ss, sl);
	}
}

/* Closes connections whose deadline passed (idle, stalled, lingering, slow readers). */
static void expire(struct http_worker *w)
{
	while (w->head != NULL && w->head->deadline_ms <= w->now_ms)
		conn_close(w->head, !w->head->lingering && w->head->out.len == 0);
}

/* stop: no new connections; idle ones and half-received requests are closed, replies being
 * written get up to HTTP_DRAIN_MAX_MS */
static void begin_drain(struct http_worker *w)
{
	struct http_conn *c = w->head, *next;

	w->draining = true;
	if (w->resume_ms == 0)
		listeners_unregister(w);
	w->resume_ms = 0;
	for (; c != NULL; c = next) {
		next = c->next;
		if (c->out_off < c->out.len && !c->lingering) {
			c->close_after = true;
			if (c->deadline_ms > w->now_ms + HTTP_DRAIN_MAX_MS)
				c->deadline_ms = w->now_ms + HTTP_DRAIN_MAX_MS;
		} else {
			conn_close(c, true);
		}
	}
}

static void *worker_main(void *arg)
{
	struct http_worker *w = arg;
	struct epoll_event ev[64];

	w->now_ms = now_ms();
	for (;;) {
		int timeout = -1, n;
		bool wake = false;

		if (w->head != NULL) {
			/* deadlines are not sorted when draining shortened some; the drain is
			 * bounded anyway, so poll it at a short interval */
			int64_t d = w->draining ? 5 : w->head->deadline_ms - w->now_ms;

			timeout = d < 0 ? 0 : (int)(d > 60000 ? 60000 : d);
		}
		if (w->resume_ms != 0) {
			int64_t d = w->resume_ms - w->now_ms;
			int t = d < 0 ? 0 : (int)d;

			timeout = timeout < 0 || t < timeout ? t : timeout;
		}
		n = epoll_wait(w->ep, ev, (int)(sizeof(ev) / sizeof(ev[0])), timeout);
		if (n < 0 && errno != EINTR) {
			log_error("http: epoll_wait: %s", strerror(errno));
			break;
		}
		w->now_ms = now_ms();
		for (int i = 0; i < n; i++) {
			int kind = *(const int *)ev[i].data.ptr;

			if (kind == KIND_LISTENER) {
				if (!w->draining)
					accept_some(w, ((struct http_listener *)ev[i].data.ptr)->fd);
			} else if (kind == KIND_WAKE) {
				uint64_t v;

				if (read(w->wake, &v, sizeof(v)) < 0 && errno != EAGAIN)
					log_debug("http: wake read: %s", strerror(errno));
				wake = true;
				inbox_take(w);
			} else {
				conn_run(ev[i].data.ptr);
			}
		}
		if (wake && atomic_load(&w->srv->stopping) && !w->draining)
			begin_drain(w);
		if (w->draining) {
			/* the drain deadline was set per connection in begin_drain */
			struct http_conn *c = w->head, *next;

			for (; c != NULL; c = next) {
				next = c->next;
				if (c->deadline_ms <= w->now_ms)
					conn_close(c, false);
			}
			if (w->head == NULL)
				break;
			continue;
		}
		expire(w);
		if (w->resume_ms != 0 && w->now_ms >= w->resume_ms) {
			w->resume_ms = 0;
			if (listeners_register(w) != KBS_OK)
				w->resume_ms = w->now_ms + HTTP_ACCEPT_PAUSE_MS;
		}
	}
	while (w->head != NULL)
		conn_close(w->head, false);
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
	/* read_ahead: one read(2) fetches a whole request instead of record header + body */
	SSL_CTX_set_read_ahead(s->ssl, 1);
	SSL_CTX_set_mode(s->ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
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
	/* inherited by accepted sockets: a reply is one write, nothing to coalesce, and Nagle +
	 * delayed ACK would hold back a reply that follows a "100 Continue" for ~40 ms */
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
	struct epoll_event ev = {.events = EPOLLIN};

	w->wake_kind = KIND_WAKE;
	w->srv = s;
	atomic_init(&w->load, 0);
	atomic_init(&w->taken, 0);
	atomic_init(&w->busy, false);
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	w->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	buf_init(&w->path, 0);
	if (w->ep < 0 || w->wake < 0)
		return KBS_ERR_IO;
	ev.data.ptr = w;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->wake, &ev) != 0)
		return KBS_ERR_IO;
	return listeners_register(w);
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
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return KBS_ERR_NOMEM;
	pthread_mutex_init(&s->mu, NULL);
	atomic_init(&s->stopping, 0);
	s->handler = handler;
	s->ctx = ctx;
	s->tls = cfg->tls;
	s->max_body = cfg->max_body_size ? cfg->max_body_size : HTTP_DEFAULT_BODY;
	s->max_headers = cfg->max_header_size ? cfg->max_header_size : HTTP_DEFAULT_HEADERS;
	s->timeout_s = cfg->timeout_s > 0 ? cfg->timeout_s : HTTP_DEFAULT_TIMEOUT;
	if (s->max_headers > UINT32_MAX / 2)
		s->max_headers = UINT32_MAX / 2; /* the parser keeps offsets in 32 bits */
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
	s->ls = calloc(cfg->nlisten, sizeof(*s->ls));
	s->workers = calloc((size_t)s->nworkers, sizeof(*s->workers));
	if (s->ls == NULL || s->workers == NULL)
		goto out;
	for (int i = 0; i < s->nworkers; i++) {
		s->workers[i].ep = s->workers[i].wake = -1;
		pthread_mutex_init(&s->workers[i].inbox_mu, NULL);
	}
	for (size_t i = 0; i < cfg->nlisten; i++) {
		s->ls[i].kind = KIND_LISTENER;
		rc = listen_one(cfg->listen[i],
				cfg->backlog > 0 ? cfg->backlog : HTTP_DEFAULT_BACKLOG, &s->ls[i].fd,
				&s->ls[i].port);
		if (rc != KBS_OK)
			goto out;
		s->nls++;
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
	/* sends use MSG_NOSIGNAL, but OpenSSL writes TLS records with write(2) */
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

int http_server_workers(const struct http_server *s)
{
	return s == NULL ? 0 : s->nworkers;
}

int http_server_worker_stats(const struct http_server *s, int i, size_t *open, uint64_t *total)
{
	if (s == NULL || i < 0 || i >= s->nworkers)
		return KBS_ERR_RANGE;
	if (open != NULL)
		*open = atomic_load(&s->workers[i].load);
	if (total != NULL)
		*total = atomic_load(&s->workers[i].taken);
	return KBS_OK;
}

int http_server_port(const struct http_server *s, size_t i)
{
	if (s == NULL || i >= s->nls)
		return -1;
	return s->ls[i].port;
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
	atomic_store(&s->stopping, 1);
	/* each worker finishes the handler it is running, writes out pending replies (bounded)
	 * and exits */
	for (int i = 0; s->workers != NULL && i < s->nworkers; i++) {
		uint64_t one = 1;

		if (s->workers[i].running && write(s->workers[i].wake, &one, sizeof(one)) < 0)
			log_error("http: cannot wake worker %d: %s", i, strerror(errno));
	}
	for (int i = 0; s->workers != NULL && i < s->nworkers; i++) {
		if (s->workers[i].running) {
			pthread_join(s->workers[i].thread, NULL);
			s->workers[i].running = 0;
		}
	}
	for (size_t i = 0; i < s->nls; i++) {
		if (s->ls[i].fd >= 0)
			close(s->ls[i].fd);
		s->ls[i].fd = -1;
	}
	pthread_mutex_unlock(&s->mu);
}

void http_server_free(struct http_server *s)
{
	if (s == NULL)
		return;
	http_server_stop(s);
	for (int i = 0; s->workers != NULL && i < s->nworkers; i++) {
		struct http_worker *w = &s->workers[i];

		while (w->head != NULL) /* never started: nothing; otherwise closed on exit */
			conn_free(w->head);
		while (w->inbox != NULL) { /* handed over while its owner was stopping */
			struct http_conn *c = w->inbox;

			w->inbox = c->next;
			conn_discard(c);
		}
		pthread_mutex_destroy(&w->inbox_mu);
		if (w->ep >= 0)
			close(w->ep);
		if (w->wake >= 0)
			close(w->wake);
		buf_release(&w->path);
	}
	free(s->workers);
	free(s->ls);
	SSL_CTX_free(s->ssl);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
