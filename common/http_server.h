/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_COMMON_HTTP_SERVER_H
#define KBS_COMMON_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/*
 * HTTP/1.1 server on epoll + OpenSSL (common/http_server.c; request parsing in
 * common/http_req_parse.c). N worker threads each run their own epoll loop; the kernel wakes
 * one idle worker per new connection (shared listening sockets with EPOLLEXCLUSIVE), which
 * accepts it and hands it to the worker with the fewest open connections; that worker owns it
 * from then on (so a burst of keep-alive connections is spread over the workers). Handlers
 * are called synchronously on the worker thread, so a handler may block briefly (backend I/O)
 * but must be thread-safe.
 *
 * Protocol: HTTP/1.0 and 1.1, keep-alive, pipelined requests answered in order, bodies framed
 * by Content-Length or Transfer-Encoding: chunked (decoded before the handler runs),
 * "Expect: 100-continue" answered with 100 Continue when the body is still to come. Refused
 * before the handler runs, and the connection closed: a malformed head, header folding, a bare
 * CR/LF or NUL, duplicate Content-Length, Content-Length together with Transfer-Encoding (400);
 * codings other than chunked and unknown methods (501); versions other than 1.0/1.1 (505);
 * other expectations (417).
 *
 * Limits: request bodies above max_body_size get 413 and header blocks above max_header_size
 * (or more than 100 header fields) get 400 before the handler runs; connections idle or stalled
 * for timeout_s are closed. Paths with bad escapes / control bytes get 400 (http_request_path).
 *
 * Responses carry only the headers the handler sets plus Date / Content-Length / Connection
 * added by the server; in particular no Content-Type unless the handler adds one (Trustee's
 * error responses have none). Each response leaves in one write (one TLS record when it fits
 * 16 KB). TLS: 1.2 minimum, certificate chain + key from PEM files, versions / ciphers / groups
 * as configured below.
 * http_server_start() ignores SIGPIPE for the process if it is at its default disposition
 * (a peer closing mid-response must not kill the daemon).
 */
struct http_server_config {
	/* Listen addresses "IP:PORT" ("0.0.0.0:8080", "[::1]:8080", "127.0.0.1:0" = any
	 * free port; see http_server_port()). */
	const char *const *listen;
	size_t nlisten;
	bool tls;		/* false = plain HTTP */
	const char *cert_file;	/* PEM chain, required when tls */
	const char *key_file;	/* PEM private key, required when tls */
	size_t max_body_size;	/* default 1 MiB when 0 */
	size_t max_header_size; /* default 16 KiB when 0 */
	int workers;		/* default: number of CPUs, at least 2 */
	int timeout_s;		/* idle/keep-alive timeout, default 60 */
	int backlog;		/* listen() backlog, default 128 */
	/*
	 * TLS settings, all optional. Versions as 12 / 13: min defaults to 12 and is never
	 * lower, max defaults to the highest supported. tls_cipher_list is the TLS 1.2 list in
	 * OpenSSL syntax (default: ECDHE/DHE with AES-GCM or ChaCha20-Poly1305),
	 * tls_ciphersuites the TLS 1.3 suites (default: OpenSSL's), tls_groups the key exchange
	 * groups ("X25519:secp256r1"; default: OpenSSL's). A setting OpenSSL rejects, or a list
	 * that selects nothing, makes http_server_new fail with KBS_ERR_INVAL and a log line
	 * naming the setting.
	 */
	int tls_min_version;
	int tls_max_version;
	const char *tls_cipher_list;
	const char *tls_ciphersuites;
	const char *tls_groups;
};

struct http_request; /* opaque, valid only during the handler call */

const char *http_request_method(const struct http_request *r); /* "GET", "POST", ... */
/*
 * Percent-decoded path without the query ("/kbs/v0/resource/a/b/c"); never NULL, always
 * starts with '/'. "%2F" stays encoded, so every '/' separates segments; escapes of control
 * bytes ("%00") and malformed escapes ("%zz") stay as written too (http_path_decode()), so
 * the handler sees them and answers as for any invalid path (Trustee's KBS: 401
 * PluginInternalError for a resource path); only raw control bytes in the target get 400
 * without reaching the handler. Dot segments are NOT normalised: handlers must reject
 * "." / ".." themselves.
 */
const char *http_request_path(const struct http_request *r);
/* The request target exactly as received ("/a%2Fb?x=1"); never NULL. */
const char *http_request_uri(const struct http_request *r);
/* Raw query string without '?', or NULL. */
const char *http_request_query(const struct http_request *r);
/* Header value (case-insensitive name), or NULL. */
const char *http_request_header(const struct http_request *r, const char *name);
/*
 * Value of cookie `name` from the Cookie header(s) into out (see http_cookie_find() in
 * http_util.h for the accepted syntax). KBS_ERR_NOTFOUND if absent, KBS_ERR_PARSE if a Cookie
 * header is malformed, KBS_ERR_RANGE if the value does not fit outlen.
 */
int http_request_cookie(const struct http_request *r, const char *name, char *out, size_t outlen);
const uint8_t *http_request_body(const struct http_request *r, size_t *len);
/* Peer address as text ("127.0.0.1:53412"). */
const char *http_request_peer(const struct http_request *r);

struct http_response {
	int status;	 /* default 200 */
	struct buf body; /* response body */
	/* Up to 8 extra headers ("Name", "value"); strings are copied by http_response_header. */
	struct {
		char *name;
		char *value;
	} headers[8];
	int nheaders;
	/*
	 * When true, the server overwrites the body and every copy of it the server made with
	 * zeros once the response is sent (or the connection is dropped): resp->body itself and
	 * the connection's output buffer, whose room is reserved before the body is copied in
	 * so no reallocation leaves a copy behind. Outside its reach: copies the handler left
	 * while building the body (grow resp->body with buf_reserve first, or build it in
	 * secmem and append once), and OpenSSL's record buffer, in which the plaintext is
	 * encrypted in place and which OpenSSL reuses and frees without wiping.
	 */
	bool wipe_body;
};

/*
 * Adds a response header (copied). KBS_ERR_RANGE when more than 8 headers are set,
 * KBS_ERR_INVAL for a name that is not a token, a value with CR/LF/NUL, or a header the
 * server manages itself (Content-Length, Transfer-Encoding).
 */
int http_response_header(struct http_response *resp, const char *name, const char *value);
/* Zeroes resp and sets status 0 (= 200 unless the handler fails). The server does this. */
void http_response_init(struct http_response *resp);
/* Frees the copied headers and the body. The server does this after sending. */
void http_response_release(struct http_response *resp);

/* Handler: fill resp. Return value is ignored except < 0 maps to 500 if resp->status unset. */
typedef int (*http_handler_fn)(void *ctx, const struct http_request *req,
			       struct http_response *resp);

struct http_server;

int http_server_new(const struct http_server_config *cfg, http_handler_fn handler, void *ctx,
		    struct http_server **out);
/* Starts the workers and returns; requests are served until http_server_stop(). */
int http_server_start(struct http_server *s);
/* Number of worker threads. */
int http_server_workers(const struct http_server *s);
/*
 * Connection figures of worker i (0 .. http_server_workers() - 1), for metrics: *open =
 * connections it owns now (including ones handed to it and not yet picked up), *total =
 * connections it has taken on since start. Either pointer may be NULL. KBS_ERR_RANGE for a
 * bad i.
 */
int http_server_worker_stats(const struct http_server *s, int i, size_t *open, uint64_t *total);
/* Actual bound port of listen address i (useful with port 0); -1 if i is out of range. */
int http_server_port(const struct http_server *s, size_t i);
/*
 * Stops accepting, lets handlers in progress finish and their replies be written (waiting at
 * most 2 s for slow readers), closes the remaining (idle keep-alive) connections and joins
 * the workers. The listening sockets are closed on return. Safe to call twice.
 */
void http_server_stop(struct http_server *s);
void http_server_free(struct http_server *s);

#endif
