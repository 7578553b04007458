// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP/1.1 client on plain sockets and OpenSSL. One kept-alive connection and one cookie
 * jar per struct http_client; every wait is a poll() bounded by the attempt's end time.
 * Response parsing lives in http_resp.c (fuzzed on its own).
 */
#include "common/http_client.h"
#include "common/err.h"
#include "common/http_resp.h"
#include "common/http_util.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define HTTP_CLIENT_UA "kbsfs/0.1.0"
#define HTTP_MAX_COOKIES 32
#define HTTP_COOKIE_NAME_MAX 128
#define HTTP_COOKIE_VALUE_MAX 4096
#define HTTP_RECV_CHUNK 16384

struct cookie {
	char name[HTTP_COOKIE_NAME_MAX];
	char *value;
	char host[256];
	int secure;
};

/* One open connection: a socket and, for https, the TLS session on it. */
struct conn {
	int fd;
	SSL *ssl;
	int tls;
	char host[256];
	char port[6];
};

struct http_client {
	pthread_mutex_t mu;
	SSL_CTX *ctx; /* created on the first https request */
	char *ca_file;
	char *ca_pem;
	char *user_agent;
	long connect_timeout_ms;
	long timeout_ms;
	int max_retries;
	long backoff_initial_ms;
	long backoff_max_ms;
	size_t max_response_size;
	http_resolve_fn resolve;
	struct conn conn; /* fd -1 when none */
	unsigned long nconnects;
	struct cookie cookies[HTTP_MAX_COOKIES];
	size_t ncookies;
};

static int ensure_ctx(struct http_client *c, struct http_result *res);

/* Per-attempt state handed to the Set-Cookie callback. */
struct attempt {
	struct http_client *c;
	const struct http_url *u;
};

int64_t http_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool http_net_retryable(int e)
{
	switch (e) {
	case HTTP_NET_RESOLVE:
	case HTTP_NET_CONNECT:
	case HTTP_NET_TIMEOUT:
	case HTTP_NET_SEND:
	case HTTP_NET_RECV:
	case HTTP_NET_EMPTY:
	case HTTP_NET_PARTIAL:
	case HTTP_NET_TLS:
		return true;
	default:
		return false;
	}
}

/* ------------------------------------------------------------------ socket BIO */

/*
 * A socket BIO that sends with MSG_NOSIGNAL: OpenSSL's own socket BIO uses write(), which
 * raises SIGPIPE on a connection the server already closed, and a library must not depend on
 * its host process ignoring that signal.
 */
static BIO_METHOD *nosig_method;
static pthread_once_t nosig_once = PTHREAD_ONCE_INIT;

static int nosig_write(BIO *b, const char *data, int len)
{
	ssize_t n;

	BIO_clear_retry_flags(b);
	n = send((int)(intptr_t)BIO_get_data(b), data, (size_t)len, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)n;
}

static int nosig_read(BIO *b, char *out, int len)
{
	ssize_t n;

	BIO_clear_retry_flags(b);
	n = recv((int)(intptr_t)BIO_get_data(b), out, (size_t)len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_read(b);
	return (int)n;
}

static long nosig_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int nosig_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void nosig_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "kbs-socket");

	if (m == NULL)
		return;
	if (BIO_meth_set_write(m, nosig_write) != 1 || BIO_meth_set_read(m, nosig_read) != 1 ||
	    BIO_meth_set_ctrl(m, nosig_ctrl) != 1 || BIO_meth_set_create(m, nosig_create) != 1) {
		BIO_meth_free(m);
		return;
	}
	nosig_method = m;
}

/* ------------------------------------------------------------------ lifetime */

static int header_value_ok(const char *h)
{
	for (; *h != '\0'; h++)
		if (*h == '\r' || *h == '\n')
			return 0;
	return 1;
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
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return KBS_ERR_NOMEM;
	pthread_mutex_init(&c->mu, NULL);
	c->conn.fd = -1;
	c->ca_file = dup_or_null(cfg->ca_file, &err);
	if (cfg->ca_file == NULL && cfg->ca_pem != NULL)
		c->ca_pem = dup_or_null(cfg->ca_pem, &err);
	c->user_agent = dup_or_null(cfg->user_agent ? cfg->user_agent : HTTP_CLIENT_UA, &err);
	c->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 5000;
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
	c->max_retries = cfg->max_retries >= 0 ? cfg->max_retries : 3;
	c->backoff_initial_ms = cfg->backoff_initial_ms > 0 ? cfg->backoff_initial_ms : 100;
	c->backoff_max_ms = cfg->backoff_max_ms > 0 ? cfg->backoff_max_ms : 5000;
	if (c->backoff_max_ms < c->backoff_initial_ms)
		c->backoff_max_ms = c->backoff_initial_ms;
	c->max_response_size = cfg->max_response_size ? cfg->max_response_size : 16u << 20;
	c->resolve = cfg->resolve ? cfg->resolve : getaddrinfo;
	if (err || (c->user_agent != NULL && !header_value_ok(c->user_agent))) {
		http_client_free(c);
		return err ? KBS_ERR_NOMEM : KBS_ERR_INVAL;
	}
	*out = c;
	return KBS_OK;
}

int http_client_clone(struct http_client *src, struct http_client **out)
{
	struct http_client_config cfg;
	struct http_result tmp;
	int rc;

	if (src == NULL || out == NULL)
		return KBS_ERR_INVAL;
	*out = NULL;
	memset(&cfg, 0, sizeof(cfg));
	cfg.ca_file = src->ca_file;
	cfg.ca_pem = src->ca_pem;
	cfg.connect_timeout_ms = src->connect_timeout_ms;
	cfg.timeout_ms = src->timeout_ms;
	cfg.max_retries = src->max_retries;
	cfg.backoff_initial_ms = src->backoff_initial_ms;
	cfg.backoff_max_ms = src->backoff_max_ms;
	cfg.max_response_size = src->max_response_size;
	cfg.user_agent = src->user_agent;
	cfg.resolve = src->resolve;
	rc = http_client_new(&cfg, out);
	if (rc != KBS_OK)
		return rc;
	memset(&tmp, 0, sizeof(tmp));
	pthread_mutex_lock(&src->mu);
	/* the trust store is loaded once and shared (SSL_CTX is reference counted) */
	if (ensure_ctx(src, &tmp) == KBS_OK && SSL_CTX_up_ref(src->ctx) == 1)
		(*out)->ctx = src->ctx;
	pthread_mutex_unlock(&src->mu);
	return KBS_OK;
}

static void conn_close(struct conn *k)
{
	if (k->ssl != NULL) {
		/* no close_notify round trip: the server may already be gone */
		SSL_set_quiet_shutdown(k->ssl, 1);
		SSL_free(k->ssl);
		k->ssl = NULL;
	}
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}

static void cookies_clear(struct http_client *c)
{
	for (size_t i = 0; i < c->ncookies; i++)
		free(c->cookies[i].value);
	c->ncookies = 0;
}

void http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	conn_close(&c->conn);
	cookies_clear(c);
	SSL_CTX_free(c->ctx);
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

unsigned long http_client_connections(struct http_client *c)
{
	unsigned long n;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->mu);
	n = c->nconnects;
	pthread_mutex_unlock(&c->mu);
	return n;
}

/* ------------------------------------------------------------------ TLS setup */

static int load_pem_store(SSL_CTX *ctx, const char *pem)
{
	X509_STORE *st = SSL_CTX_get_cert_store(ctx);
	BIO *b = BIO_new_mem_buf(pem, -1);
	STACK_OF(X509_INFO) *infos = NULL;
	int n = 0;

	if (b == NULL)
		return KBS_ERR_NOMEM;
	infos = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
	for (int i = 0; infos != NULL && i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *xi = sk_X509_INFO_value(infos, i);

		if (xi->x509 != NULL && X509_STORE_add_cert(st, xi->x509) == 1)
			n++;
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	BIO_free(b);
	return n > 0 ? KBS_OK : KBS_ERR_CRYPTO;
}

/*
 * System trust: the hashed certificate directory (/etc/ssl/certs, or $SSL_CERT_DIR) is read
 * one certificate at a time as verification needs it, where loading the bundle file would
 * keep ~140 parsed roots (about 0.9 MB of heap) per TLS context. $SSL_CERT_FILE, when set,
 * is honoured as OpenSSL does; without a usable directory OpenSSL's defaults apply.
 */
static int load_system_roots(SSL_CTX *ctx)
{
	const char *file = getenv(X509_get_default_cert_file_env());
	const char *dir = getenv(X509_get_default_cert_dir_env());

	if (file != NULL && *file != '\0')
		return SSL_CTX_load_verify_file(ctx, file) == 1 ? KBS_OK : KBS_ERR_CRYPTO;
	if (dir == NULL || *dir == '\0')
		dir = X509_get_default_cert_dir();
	if (access(dir, R_OK | X_OK) == 0 && SSL_CTX_load_verify_dir(ctx, dir) == 1)
		return KBS_OK;
	return SSL_CTX_set_default_verify_paths(ctx) == 1 ? KBS_OK : KBS_ERR_CRYPTO;
}

static int ensure_ctx(struct http_client *c, struct http_result *res)
{
	SSL_CTX *ctx;
	int rc = KBS_ERR_CRYPTO;

	if (c->ctx != NULL)
		return KBS_OK;
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		goto out;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* servers that close without close_notify end a close-delimited body cleanly */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
	if (c->ca_file != NULL) {
		/* pinned: only this file, the system directory must not add trust */
		if (SSL_CTX_load_verify_locations(ctx, c->ca_file, NULL) != 1) {
			snprintf(res->error, sizeof(res->error), "cannot load CA file %s",
				 c->ca_file);
			goto out;
		}
	} else if (c->ca_pem != NULL) {
		if (load_pem_store(ctx, c->ca_pem) != KBS_OK) {
			snprintf(res->error, sizeof(res->error), "no certificate in the CA PEM");
			goto out;
		}
	} else if (load_system_roots(ctx) != KBS_OK) {
		snprintf(res->error, sizeof(res->error), "cannot load the system CA store");
		goto out;
	}
	c->ctx = ctx;
	ctx = NULL;
	rc = KBS_OK;
out:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

/* ------------------------------------------------------------------ waiting */

static int wait_fd(int fd, short ev, int64_t until)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = ev};
		int64_t left = until - http_now_ms();
		int n;

		if (left <= 0)
			return KBS_ERR_TIMEOUT;
		n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return KBS_OK;
		if (n < 0 && errno != EINTR)
			return KBS_ERR_NETWORK;
	}
}

/* Sets res->net_error and res->error; returns the matching kbs_err. */
static int fail(struct http_result *res, int net, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct http_result *res, int net, const char *fmt, ...)
{
	va_list ap;

	res->net_error = net;
	va_start(ap, fmt);
	vsnprintf(res->error, sizeof(res->error), fmt, ap);
	va_end(ap);
	switch (net) {
	case HTTP_NET_TIMEOUT:
		return KBS_ERR_TIMEOUT;
	case HTTP_NET_TOO_LARGE:
		return KBS_ERR_RANGE;
	case HTTP_NET_URL:
		return KBS_ERR_INVAL;
	case HTTP_NET_INTERNAL:
		return KBS_ERR_NOMEM;
	default:
		return KBS_ERR_NETWORK;
	}
}

/* ------------------------------------------------------------------ resolving */

/*
 * One name lookup, shared by the request (which may give up on it at its deadline) and the
 * thread doing it; whoever drops the last reference frees it (and an unclaimed result).
 */
struct resolve_job {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	int done;
	int gai;
	struct addrinfo *ai;
	http_resolve_fn fn;
	int ip_literal;
	char host[256];
	char port[6];
};

static void resolve_run(struct resolve_job *j)
{
	struct addrinfo hints;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG | (j->ip_literal ? AI_NUMERICHOST : 0);
	j->gai = j->fn(j->host, j->port, &hints, &j->ai);
	if (j->gai == EAI_ADDRFAMILY || (j->gai == EAI_NONAME && j->ip_literal)) {
		/* AI_ADDRCONFIG hides ::1 when only loopback has IPv6 */
		hints.ai_flags &= ~AI_ADDRCONFIG;
		j->ai = NULL;
		j->gai = j->fn(j->host, j->port, &hints, &j->ai);
	}
	if (j->gai != 0)
		j->ai = NULL;
}

static void resolve_unref(struct resolve_job *j)
{
	int left;

	pthread_mutex_lock(&j->mu);
	left = --j->refs;
	pthread_mutex_unlock(&j->mu);
	if (left)
		return;
	if (j->ai)
		freeaddrinfo(j->ai);
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

static void *resolve_thread(void *p)
{
	struct resolve_job *j = p;

	resolve_run(j);
	pthread_mutex_lock(&j->mu);
	j->done = 1;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	resolve_unref(j);
	return NULL;
}

/*
 * Resolves u->host:u->port by *until (CLOCK_MONOTONIC ms). IP literals need no resolver and
 * are converted in this thread; names go to a detached thread so that a stuck resolver
 * (unreachable DNS server, slow NSS module) costs at most the time left.
 */
static int resolve_host(struct http_client *c, const struct http_url *u, int64_t until,
			struct http_result *res, struct addrinfo **out)
{
	struct resolve_job *j;
	pthread_condattr_t ca;
	pthread_attr_t ta;
	pthread_t tid;
	int rc, created;

	*out = NULL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return fail(res, HTTP_NET_INTERNAL, "out of memory");
	j->fn = u->ip_literal ? getaddrinfo : c->resolve;
	j->ip_literal = u->ip_literal;
	snprintf(j->host, sizeof(j->host), "%s", u->host);
	snprintf(j->port, sizeof(j->port), "%s", u->port);
	pthread_mutex_init(&j->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cv, &ca);
	pthread_condattr_destroy(&ca);
	j->refs = 1;
	if (u->ip_literal) {
		resolve_run(j);
	} else {
		j->refs = 2;
		pthread_attr_init(&ta);
		pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
		/* getaddrinfo and the NSS modules need little stack; 256 kB is generous */
		pthread_attr_setstacksize(&ta, 256u << 10);
		created = pthread_create(&tid, &ta, resolve_thread, j) == 0;
		pthread_attr_destroy(&ta);
		if (!created) {
			j->refs = 1;
			resolve_unref(j);
			return fail(res, HTTP_NET_INTERNAL, "cannot start the resolver thread");
		}
		pthread_mutex_lock(&j->mu);
		while (!j->done) {
			struct timespec ts;

			if (http_now_ms() >= until)
				break;
			ts.tv_sec = (time_t)(until / 1000);
			ts.tv_nsec = (long)(until % 1000) * 1000000L;
			(void)pthread_cond_timedwait(&j->cv, &j->mu, &ts);
		}
		pthread_mutex_unlock(&j->mu);
		if (!j->done) {
			resolve_unref(j); /* the thread frees the job and its result */
			return fail(res, HTTP_NET_TIMEOUT, "resolving %s timed out", u->host);
		}
	}
	if (j->gai != 0) {
		rc = fail(res, HTTP_NET_RESOLVE, "cannot resolve %s: %s", u->host,
			  gai_strerror(j->gai));
	} else {
		*out = j->ai;
		j->ai = NULL;
		rc = KBS_OK;
	}
	resolve_unref(j);
	return rc;
}

/* ------------------------------------------------------------------ connecting */

static int tcp_connect(struct http_client *c, const struct http_url *u, int64_t until,
		       struct http_result *res, int *fd_out)
{
	struct addrinfo *ai = NULL;
	int rc, last_err = 0, fd = -1;

	rc = resolve_host(c, u, until, res, &ai);
	if (rc != KBS_OK)
		return rc;
	rc = fail(res, HTTP_NET_CONNECT, "connect to %s port %s failed", u->host, u->port);
	for (struct addrinfo *a = ai; a != NULL; a = a->ai_next) {
		int one = 1, soerr = 0;
		socklen_t sl = sizeof(soerr);

		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    a->ai_protocol);
		if (fd < 0) {
			last_err = errno;
			continue;
		}
		/* requests are written in one piece; Nagle would only add delayed-ACK stalls */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
			if (errno != EINPROGRESS) {
				last_err = errno;
				goto next;
			}
			rc = wait_fd(fd, POLLOUT, until);
			if (rc == KBS_ERR_TIMEOUT) {
				rc = fail(res, HTTP_NET_TIMEOUT, "connect to %s port %s timed out",
					  u->host, u->port);
				close(fd);
				fd = -1;
				break;
			}
			if (rc != KBS_OK ||
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
				last_err = soerr != 0 ? soerr : errno;
				goto next;
			}
		}
		rc = KBS_OK;
		break;
next:
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		if (res->net_error == HTTP_NET_CONNECT)
			rc = fail(res, HTTP_NET_CONNECT, "connect to %s port %s failed: %s", u->host,
				  u->port, strerror(last_err));
		return rc;
	}
	res->net_error = HTTP_NET_OK;
	res->error[0] = '\0';
	c->nconnects++;
	*fd_out = fd;
	return KBS_OK;
}

static int tls_handshake(struct http_client *c, const struct http_url *u, struct conn *k,
			 int64_t until, struct http_result *res)
{
	BIO *bio;
	int rc;

	rc = ensure_ctx(c, res);
	if (rc != KBS_OK)
		return fail(res, HTTP_NET_TLS_VERIFY, "%s",
			    res->error[0] ? res->error : "TLS setup failed");
	pthread_once(&nosig_once, nosig_init);
	k->ssl = SSL_new(c->ctx);
	bio = nosig_method != NULL ? BIO_new(nosig_method) : NULL;
	if (k->ssl == NULL || bio == NULL) {
		BIO_free(bio);
		return fail(res, HTTP_NET_INTERNAL, "TLS allocation failed");
	}
	BIO_set_data(bio, (void *)(intptr_t)k->fd);
	SSL_set_bio(k->ssl, bio, bio);
	if (u->ip_literal) {
		/* RFC 6066: no SNI for addresses; the certificate must name the IP */
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(k->ssl), u->host) != 1)
			return fail(res, HTTP_NET_INTERNAL, "bad IP address %s", u->host);
	} else {
		X509_VERIFY_PARAM *pm = SSL_get0_param(k->ssl);

		X509_VERIFY_PARAM_set_hostflags(pm, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set_tlsext_host_name(k->ssl, u->host) != 1 ||
		    X509_VERIFY_PARAM_set1_host(pm, u->host, 0) != 1)
			return fail(res, HTTP_NET_INTERNAL, "bad host name %s", u->host);
	}
	for (;;) {
		int r, e;

		ERR_clear_error();
		r = SSL_connect(k->ssl);
		if (r == 1)
			return KBS_OK;
		e = SSL_get_error(k->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			rc = wait_fd(k->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, until);
			if (rc == KBS_ERR_TIMEOUT)
				return fail(res, HTTP_NET_TIMEOUT, "TLS handshake with %s timed out",
					    u->host);
			if (rc != KBS_OK)
				return fail(res, HTTP_NET_TLS, "TLS handshake with %s: poll failed",
					    u->host);
			continue;
		}
		long vr = SSL_get_verify_result(k->ssl);

		if (vr != X509_V_OK)
			return fail(res, HTTP_NET_TLS_VERIFY,
				    "TLS certificate of %s did not verify: %s", u->host,
				    X509_verify_cert_error_string(vr));
		unsigned long oe = ERR_peek_last_error();
		char eb[160];

		ERR_error_string_n(oe, eb, sizeof(eb));
		ERR_clear_error();
		return fail(res, HTTP_NET_TLS, "TLS handshake with %s failed: %s", u->host,
			    oe != 0 ? eb : "connection closed");
	}
}

static int open_conn(struct http_client *c, const struct http_url *u, int64_t until,
		     struct http_result *res)
{
	struct conn *k = &c->conn;
	int64_t cuntil = http_now_ms() + c->connect_timeout_ms;
	int rc;

	conn_close(k);
	if (cuntil > until)
		cuntil = until;
	rc = tcp_connect(c, u, cuntil, res, &k->fd);
	if (rc != KBS_OK)
		return rc;
	k->tls = u->tls;
	snprintf(k->host, sizeof(k->host), "%s", u->host);
	snprintf(k->port, sizeof(k->port), "%s", u->port);
	if (u->tls) {
		rc = tls_handshake(c, u, k, until, res);
		if (rc != KBS_OK)
			conn_close(k);
	}
	return rc;
}

/* An idle kept-alive connection is usable when the server has neither closed it nor sent
 * anything unrequested (either shows up as readable). */
static int conn_reusable(const struct conn *k, const struct http_url *u)
{
	struct pollfd pfd = {.fd = k->fd, .events = POLLIN};

	if (k->fd < 0 || k->tls != u->tls || strcmp(k->host, u->host) != 0 ||
	    strcmp(k->port, u->port) != 0)
		return 0;
	if (k->ssl != NULL && SSL_pending(k->ssl) > 0)
		return 0;
	return poll(&pfd, 1, 0) == 0;
}

/* ------------------------------------------------------------------ I/O */

static int conn_write(struct conn *k, const uint8_t *p, size_t n, int64_t until,
		      struct http_result *res)
{
	while (n > 0) {
		short ev = POLLOUT;
		size_t done = 0;

		if (k->ssl != NULL) {
			ERR_clear_error();
			if (SSL_write_ex(k->ssl, p, n, &done) != 1) {
				int e = SSL_get_error(k->ssl, 0);

				ERR_clear_error();
				if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
					return fail(res, HTTP_NET_SEND, "send failed (TLS)");
				ev = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
				done = 0;
			}
		} else {
			ssize_t w = send(k->fd, p, n, MSG_NOSIGNAL);

			if (w < 0) {
				if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
					return fail(res, HTTP_NET_SEND, "send failed: %s",
						    strerror(errno));
				w = 0;
			}
			done = (size_t)w;
		}
		p += done;
		n -= done;
		if (n > 0 && done == 0) {
			int rc = wait_fd(k->fd, ev, until);

			if (rc == KBS_ERR_TIMEOUT)
				return fail(res, HTTP_NET_TIMEOUT, "timed out sending the request");
			if (rc != KBS_OK)
				return fail(res, HTTP_NET_SEND, "poll failed while sending");
		}
	}
	return KBS_OK;
}

/* Reads what is available (waiting until some arrives); *got 0 means orderly EOF. */
static int conn_read(struct conn *k, uint8_t *p, size_t cap, size_t *got, int64_t until,
		     struct http_result *res)
{
	for (;;) {
		short ev = POLLIN;
		int rc;

		*got = 0;
		if (k->ssl != NULL) {
			ERR_clear_error();
			if (SSL_read_ex(k->ssl, p, cap, got) == 1)
				return KBS_OK;
			int e = SSL_get_error(k->ssl, 0);

			ERR_clear_error();
			if (e == SSL_ERROR_ZERO_RETURN) {
				*got = 0;
				return KBS_OK;
			}
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				return fail(res, HTTP_NET_RECV, "receive failed (TLS)");
			ev = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
		} else {
			ssize_t r = recv(k->fd, p, cap, 0);

			if (r >= 0) {
				*got = (size_t)r;
				return KBS_OK;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				return fail(res, HTTP_NET_RECV, "receive failed: %s",
					    strerror(errno));
		}
		rc = wait_fd(k->fd, ev, until);
		if (rc == KBS_ERR_TIMEOUT)
			return fail(res, HTTP_NET_TIMEOUT, "timed out waiting for the response");
		if (rc != KBS_OK)
			return fail(res, HTTP_NET_RECV, "poll failed while receiving");
	}
}

/* ------------------------------------------------------------------ cookies */

static void on_header(void *arg, const char *name, const char *value)
{
	struct attempt *a = arg;
	struct http_client *c = a->c;
	char n[HTTP_COOKIE_NAME_MAX];
	char *v = NULL;
	int expired, secure;
	size_t i;

	if (strcasecmp(name, "Set-Cookie") != 0)
		return;
	v = malloc(HTTP_COOKIE_VALUE_MAX);
	if (v == NULL)
		return;
	if (http_set_cookie_parse(value, n, sizeof(n), v, HTTP_COOKIE_VALUE_MAX, &expired,
				  &secure) != KBS_OK) {
		log_debug("http: ignoring malformed Set-Cookie from %s", a->u->host);
		goto out;
	}
	for (i = 0; i < c->ncookies; i++)
		if (strcmp(c->cookies[i].name, n) == 0 && strcmp(c->cookies[i].host, a->u->host) == 0)
			break;
	if (expired) {
		if (i < c->ncookies) {
			free(c->cookies[i].value);
			c->cookies[i] = c->cookies[--c->ncookies];
		}
		goto out;
	}
	if (i == c->ncookies) {
		if (c->ncookies == HTTP_MAX_COOKIES) {
			log_debug("http: cookie jar full, dropping cookie %s", n);
			goto out;
		}
		c->ncookies++;
		memset(&c->cookies[i], 0, sizeof(c->cookies[i]));
		snprintf(c->cookies[i].name, sizeof(c->cookies[i].name), "%s", n);
		snprintf(c->cookies[i].host, sizeof(c->cookies[i].host), "%s", a->u->host);
	}
	free(c->cookies[i].value);
	c->cookies[i].value = strdup(v);
	c->cookies[i].secure = secure;
	if (c->cookies[i].value == NULL)
		c->cookies[i] = c->cookies[--c->ncookies];
out:
	free(v);
}

/* ------------------------------------------------------------------ request */

static int header_is(const char *h, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(h, name, n) == 0 && h[n] == ':';
}

static int build_request(struct http_client *c, const char *method, const struct http_url *u,
			 const char *const *headers, const void *body, size_t body_len,
			 int has_body, struct buf *req)
{
	int own_host = 1, own_ua = 1, rc;

	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
		const char *colon = strchr(headers[i], ':');

		if (!header_value_ok(headers[i]) || colon == NULL ||
		    !http_is_token(headers[i], (size_t)(colon - headers[i])))
			return KBS_ERR_INVAL;
		/* framing is ours to write */
		if (header_is(headers[i], "Content-Length") ||
		    header_is(headers[i], "Transfer-Encoding"))
			return KBS_ERR_INVAL;
		if (header_is(headers[i], "Host"))
			own_host = 0;
		if (header_is(headers[i], "User-Agent"))
			own_ua = 0;
	}
	rc = buf_printf(req, "%s %s HTTP/1.1\r\n", method, u->target);
	if (rc == KBS_OK && own_host)
		rc = buf_printf(req, "Host: %s\r\n", u->authority);
	if (rc == KBS_OK && own_ua && c->user_agent != NULL)
		rc = buf_printf(req, "User-Agent: %s\r\n", c->user_agent);
	if (rc == KBS_OK)
		rc = buf_append_str(req, "Accept: */*\r\n");
	for (size_t i = 0; rc == KBS_OK && headers != NULL && headers[i] != NULL; i++) {
		rc = buf_append_str(req, headers[i]);
		if (rc == KBS_OK)
			rc = buf_append_str(req, "\r\n");
	}
	/* cookies set by this host (Secure ones only over TLS) */
	int first = 1;

	for (size_t i = 0; rc == KBS_OK && i < c->ncookies; i++) {
		const struct cookie *k = &c->cookies[i];

		if (strcmp(k->host, u->host) != 0 || (k->secure && !u->tls))
			continue;
		rc = buf_printf(req, "%s%s=%s", first ? "Cookie: " : "; ", k->name, k->value);
		first = 0;
	}
	if (rc == KBS_OK && !first)
		rc = buf_append_str(req, "\r\n");
	if (rc == KBS_OK && has_body)
		rc = buf_printf(req, "Content-Length: %zu\r\n", body_len);
	if (rc == KBS_OK)
		rc = buf_append_str(req, "\r\n");
	if (rc == KBS_OK && has_body && body_len > 0)
		rc = buf_append(req, body, body_len);
	return rc;
}

/*
 * One attempt: (re)uses the connection, sends the request, reads the response.
 * *got_bytes tells whether any response byte arrived (then the request reached the server).
 */
static int attempt_once(struct http_client *c, const struct http_url *u, const struct buf *req,
			int head, int64_t until, struct http_result *res, int *got_bytes)
{
	struct http_resp_parser *p = NULL;
	struct attempt a = {c, u};
	uint8_t *rb = NULL;
	int reused, rc;

	*got_bytes = 0;
	p = malloc(sizeof(*p));
	rb = malloc(HTTP_RECV_CHUNK);
	if (p == NULL || rb == NULL) {
		rc = fail(res, HTTP_NET_INTERNAL, "out of memory");
		goto out;
	}
	for (int fresh = 0; fresh < 2; fresh++) {
		reused = conn_reusable(&c->conn, u);
		if (!reused) {
			rc = open_conn(c, u, until, res);
			if (rc != KBS_OK)
				goto out;
		}
		buf_reset(&res->body);
		http_resp_init(p, &res->body, head, on_header, &a);
		rc = conn_write(&c->conn, req->p, req->len, until, res);
		while (rc == KBS_OK && !http_resp_done(p)) {
			size_t got = 0, used = 0;

			rc = conn_read(&c->conn, rb, HTTP_RECV_CHUNK, &got, until, res);
			if (rc != KBS_OK)
				break;
			if (got == 0) {
				if (http_resp_eof(p) != KBS_OK)
					rc = fail(res, *got_bytes ? HTTP_NET_PARTIAL : HTTP_NET_EMPTY,
						  *got_bytes ? "connection closed mid-response"
							     : "connection closed without a response");
				break;
			}
			*got_bytes = 1;
			rc = http_resp_feed(p, rb, got, &used);
			if (rc == KBS_ERR_RANGE)
				rc = fail(res, HTTP_NET_TOO_LARGE,
					  "response larger than allowed (header or %zu-byte body)",
					  c->max_response_size);
			else if (rc != KBS_OK)
				rc = fail(res, HTTP_NET_PROTOCOL, "malformed HTTP response");
			else if (used < got)
				p->keep_alive = 0; /* bytes after the response: not ours to guess */
		}
		/* a kept-alive connection the server dropped meanwhile: once more on a new one */
		if (rc != KBS_OK && reused && !*got_bytes &&
		    (res->net_error == HTTP_NET_SEND || res->net_error == HTTP_NET_RECV ||
		     res->net_error == HTTP_NET_EMPTY)) {
			conn_close(&c->conn);
			continue;
		}
		break;
	}
	if (rc == KBS_OK) {
		res->status = p->status;
		snprintf(res->content_type, sizeof(res->content_type), "%s", p->content_type);
		res->retry_after_s = p->retry_after_s;
		if (!p->keep_alive)
			conn_close(&c->conn);
	} else {
		conn_close(&c->conn);
	}
out:
	free(p);
	free(rb);
	return rc;
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

int http_client_request(struct http_client *c, const char *method, const char *url,
			const char *const *headers, const void *body, size_t body_len,
			int64_t deadline_ms, struct http_result *res)
{
	struct http_url *u = NULL;
	struct buf req = BUF_INIT;
	int rc = KBS_ERR_NETWORK, head, has_body, locked = 0;

	if (res == NULL)
		return KBS_ERR_INVAL;
	memset(res, 0, sizeof(*res));
	res->retry_after_s = -1;
	if (c == NULL || method == NULL || url == NULL || !http_is_token(method, strlen(method)))
		return KBS_ERR_INVAL;
	buf_init(&res->body, c->max_response_size);
	u = malloc(sizeof(*u));
	if (u == NULL)
		return KBS_ERR_NOMEM;
	rc = http_url_parse(url, u);
	if (rc != KBS_OK) {
		fail(res, HTTP_NET_URL, "unusable URL");
		rc = KBS_ERR_INVAL;
		goto out;
	}
	head = strcmp(method, "HEAD") == 0;
	has_body = !head && !(strcmp(method, "GET") == 0 && body == NULL);

	pthread_mutex_lock(&c->mu);
	locked = 1;
	/* the request carries this client's cookies, so it is built under the lock */
	rc = build_request(c, method, u, headers, body, body_len, has_body, &req);
	if (rc != KBS_OK)
		goto out;
	for (int attempt = 0;; attempt++) {
		int64_t now = http_now_ms(), until = now + c->timeout_ms;
		int got_bytes = 0;

		if (deadline_ms > 0) {
			if (now >= deadline_ms) {
				rc = KBS_ERR_TIMEOUT;
				res->net_error = HTTP_NET_TIMEOUT;
				if (res->error[0] == '\0')
					snprintf(res->error, sizeof(res->error),
						 "deadline reached");
				break;
			}
			if (deadline_ms < until)
				until = deadline_ms;
		}
		res->attempts++;
		res->error[0] = '\0';
		res->net_error = HTTP_NET_OK;
		res->status = 0;
		rc = attempt_once(c, u, &req, head, until, res, &got_bytes);
		if (rc == KBS_OK || rc == KBS_ERR_RANGE || rc == KBS_ERR_NOMEM)
			break;
		/* a response was (partly) received: the request reached the server, no retry */
		if (got_bytes || !http_net_retryable(res->net_error) || attempt >= c->max_retries)
			break;
		long delay = backoff_ms(c, attempt);
		if (deadline_ms > 0 && http_now_ms() + delay >= deadline_ms) {
			rc = KBS_ERR_TIMEOUT; /* never sleep past the deadline */
			break;
		}
		log_debug("http: %s %s attempt %d failed (%s), retry in %ld ms", method, url,
			  attempt + 1, res->error, delay);
		sleep_ms(delay);
	}
out:
	if (locked)
		pthread_mutex_unlock(&c->mu);
	/* the request may carry a bearer token */
	if (req.p != NULL)
		OPENSSL_cleanse(req.p, req.len);
	buf_release(&req);
	free(u);
	return rc;
}

int http_client_adopt_connection(struct http_client *dst, struct http_client *src)
{
	int rc = KBS_ERR_NOTFOUND;

	if (dst == NULL || src == NULL || dst == src)
		return KBS_ERR_INVAL;
	/* src busy with a request: its connection is not idle, and waiting for it would stall
	 * the caller; trylock also rules out a lock-order cycle between two clients */
	if (pthread_mutex_trylock(&src->mu) != 0)
		return KBS_ERR_BUSY;
	pthread_mutex_lock(&dst->mu);
	if (src->conn.fd >= 0 && dst->conn.fd < 0) {
		dst->conn = src->conn;
		src->conn.fd = -1;
		src->conn.ssl = NULL;
		rc = KBS_OK;
	}
	pthread_mutex_unlock(&dst->mu);
	pthread_mutex_unlock(&src->mu);
	return rc;
}

void http_client_clear_cookies(struct http_client *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	cookies_clear(c);
	pthread_mutex_unlock(&c->mu);
}

int http_client_get_cookie(struct http_client *c, const char *name, char *out, size_t outlen)
{
	int rc = KBS_ERR_NOTFOUND;

	if (c == NULL || name == NULL || out == NULL || outlen == 0)
		return KBS_ERR_INVAL;
	out[0] = '\0';
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->ncookies; i++) {
		size_t vl;

		if (strcmp(c->cookies[i].name, name) != 0)
			continue;
		vl = strlen(c->cookies[i].value);
		if (vl >= outlen) {
			rc = KBS_ERR_RANGE;
			break;
		}
		memcpy(out, c->cookies[i].value, vl + 1);
		rc = KBS_OK;
		break;
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}
