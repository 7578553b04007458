/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_COMMON_HTTP_CLIENT_H
#define KBS_COMMON_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/*
 * Small HTTP/1.1 client on OpenSSL (no libcurl: the guest daemon's memory and attack surface
 * stay small). One struct http_client keeps one kept-alive connection and an in-memory
 * cookie jar (so the RCAR session cookie travels automatically); calls on one client are
 * serialised by an internal mutex. Use several clients for parallel requests.
 *
 * Supported: http:// and https:// URLs with DNS names, IPv4 and bracketed IPv6 literals;
 * Content-Length, chunked and close-delimited response bodies; bounded header section
 * (http_resp.h limits) and body (max_response_size). Not supported: proxies (no
 * HTTPS_PROXY/http_proxy handling), redirects (3xx are returned to the caller), compression,
 * HTTP/2. Name resolution: IP literals are converted in place (AI_NUMERICHOST, no resolver);
 * DNS names are resolved with getaddrinfo() in a short-lived detached thread that the request
 * waits for only until the connect timeout or the deadline (HTTP_NET_TIMEOUT "resolving ...
 * timed out"): a stuck resolver cannot hold a request past its deadline. An abandoned lookup
 * finishes in its thread and frees its own result.
 *
 * TLS: certificate verification is always on for https URLs (TLS 1.2 or newer, SNI for DNS
 * names, host name or IP address checked against the certificate). ca_file pins trust to the
 * given PEM (a CA bundle or the server's self-signed certificate, like Trustee's kbs_cert);
 * without it the system store is used.
 *
 * Retries: connection-level failures (refused, DNS, reset, timeout before a response) are
 * retried with capped exponential backoff and full jitter until max_retries or the deadline
 * is reached. HTTP responses of any status are never retried here; the caller decides.
 * A kept-alive connection that turns out to be closed by the server before any response
 * byte arrived is replaced by a new one once, without counting as an attempt.
 */
struct addrinfo;

/* getaddrinfo() signature; the result must be freeable with freeaddrinfo(). */
typedef int (*http_resolve_fn)(const char *host, const char *port, const struct addrinfo *hints,
			       struct addrinfo **res);

struct http_client_config {
	const char *ca_file;	  /* optional PEM file */
	const char *ca_pem;	  /* optional inline PEM (used if ca_file is NULL) */
	long connect_timeout_ms;  /* default 5000 when 0 */
	long timeout_ms;	  /* per attempt, default 30000 when 0 */
	int max_retries;	  /* 0 disables retries; negative = default 3 */
	long backoff_initial_ms;  /* default 100 when 0 */
	long backoff_max_ms;	  /* default 5000 when 0 */
	size_t max_response_size; /* default 16 MiB when 0 */
	const char *user_agent;	  /* default "kbsfs/<version>" */
	http_resolve_fn resolve;  /* for tests: replaces getaddrinfo() for DNS names; NULL */
};

struct http_client;

/* What went wrong on the transport in the last attempt (struct http_result.net_error). */
enum http_net_err {
	HTTP_NET_OK = 0,
	HTTP_NET_RESOLVE,   /* name resolution failed */
	HTTP_NET_CONNECT,   /* TCP connect refused/unreachable */
	HTTP_NET_TIMEOUT,   /* attempt timeout or deadline */
	HTTP_NET_SEND,	    /* write failed / connection reset while sending */
	HTTP_NET_RECV,	    /* read failed / connection reset while receiving */
	HTTP_NET_EMPTY,	    /* connection closed before any response byte */
	HTTP_NET_PARTIAL,   /* connection closed in the middle of the response */
	HTTP_NET_TLS,	    /* TLS handshake failed (not a verification failure) */
	HTTP_NET_TLS_VERIFY,/* server certificate or host name did not verify */
	HTTP_NET_PROTOCOL,  /* malformed response */
	HTTP_NET_TOO_LARGE, /* response header or body beyond its bound */
	HTTP_NET_URL,	    /* unusable URL */
	HTTP_NET_INTERNAL   /* allocation or setup failure */
};

/* True for failures where no HTTP exchange took place and a new attempt may succeed
 * (resolve, connect, timeout, send, recv, empty, partial, TLS handshake). */
bool http_net_retryable(int net_error);

struct http_result {
	long status;	 /* HTTP status, 0 if no response */
	struct buf body; /* response body */
	char content_type[128];
	long retry_after_s; /* Retry-After delta-seconds, -1 if absent */
	int net_error;	 /* enum http_net_err of the last attempt */
	int attempts;	 /* number of attempts made */
	char error[256]; /* transport error text, empty on success */
};

/* cfg NULL = all defaults (system CA store, 3 retries). Strings in cfg are copied. */
int http_client_new(const struct http_client_config *cfg, struct http_client **out);
void http_client_free(struct http_client *c);

/*
 * A new client with src's configuration that shares src's TLS context (trust store loaded
 * once, for a pool of clients to one server). No connection, no cookies are shared.
 */
int http_client_clone(struct http_client *src, struct http_client **out);

/*
 * Performs one request. headers: NULL-terminated array of "Name: value" strings or NULL.
 * deadline_ms: absolute CLOCK_MONOTONIC deadline in ms (0 = none); retries stop there.
 * Each attempt's timeout is clipped to the time left before the deadline, and no backoff
 * sleep extends past it (the call returns KBS_ERR_TIMEOUT instead).
 * Methods: GET/HEAD without body; any other token is sent with the given body (may be empty).
 * Header strings containing CR or LF are refused (KBS_ERR_INVAL).
 * Returns KBS_OK when an HTTP response was received (any status), KBS_ERR_NETWORK or
 * KBS_ERR_TIMEOUT when none was (or it broke off), KBS_ERR_RANGE if the body exceeds
 * max_response_size. Always call http_result_release() afterwards (res is initialised here).
 */
int http_client_request(struct http_client *c, const char *method, const char *url,
			const char *const *headers, const void *body, size_t body_len,
			int64_t deadline_ms, struct http_result *res);
void http_result_release(struct http_result *res);

/*
 * Moves src's idle kept-alive connection to dst when dst has none (both clients must trust
 * the same CAs: the connection keeps the TLS session verified under src's settings).
 * Cookies stay with src. Lets the broker send the resource GET on the connection the
 * attestation just used instead of opening a second one. Never waits for src: returns
 * KBS_ERR_BUSY when src is in the middle of a request. Returns KBS_OK when a connection
 * moved, KBS_ERR_NOTFOUND when there was nothing to move (or dst already had one).
 */
int http_client_adopt_connection(struct http_client *dst, struct http_client *src);

/* Number of TCP connections this client opened so far (for tests and benchmarks). */
unsigned long http_client_connections(struct http_client *c);

/* Drops all cookies (e.g. to start a fresh RCAR session). */
void http_client_clear_cookies(struct http_client *c);
/* Value of a cookie in the jar for this client, KBS_ERR_NOTFOUND if none. */
int http_client_get_cookie(struct http_client *c, const char *name, char *out, size_t outlen);

/* Monotonic clock in ms, for deadlines. */
int64_t http_now_ms(void);

#endif
