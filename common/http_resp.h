/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_COMMON_HTTP_RESP_H
#define KBS_COMMON_HTTP_RESP_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/*
 * Parsers of the HTTP client (common/http_client.c), exposed for unit tests and fuzzing:
 * an incremental HTTP/1.1 response parser (RFC 9112), the URL splitter and the Set-Cookie
 * parser. Not part of the public HTTP API; components use http_client.h.
 */

#define HTTP_RESP_MAX_LINE 8192		 /* status line, one header line, one chunk-size line */
#define HTTP_RESP_MAX_HEADER_BYTES 65536 /* header section (and trailer section) in total */
#define HTTP_RESP_MAX_HEADERS 100	 /* header fields per section */

enum http_resp_state {
	HTTP_RESP_STATUS = 0,
	HTTP_RESP_HEADER,
	HTTP_RESP_BODY_LEN,    /* Content-Length delimited */
	HTTP_RESP_CHUNK_SIZE,  /* chunked: size line */
	HTTP_RESP_CHUNK_DATA,  /* chunked: data */
	HTTP_RESP_CHUNK_CRLF,  /* chunked: CRLF after the data */
	HTTP_RESP_TRAILER,     /* chunked: trailer section */
	HTTP_RESP_BODY_EOF,    /* delimited by connection close */
	HTTP_RESP_DONE,
	HTTP_RESP_ERROR	       /* a feed failed; the parser refuses more input */
};

/* Called for every header field other than the framing fields (Content-Length,
 * Transfer-Encoding, Connection); name and value are NUL-terminated, value trimmed. */
typedef void (*http_resp_header_cb)(void *arg, const char *name, const char *value);

struct http_resp_parser {
	enum http_resp_state state;
	int head;	     /* response to HEAD: never a body */
	long status;	     /* final status (1xx interim responses are skipped) */
	int minor;	     /* HTTP/1.<minor> */
	int keep_alive;	     /* connection may carry another request after this response */
	int chunked;
	int64_t content_length; /* -1 when absent */
	uint64_t left;	     /* bytes left of a Content-Length body or of the current chunk */
	size_t header_bytes; /* of the current section */
	unsigned nheaders;
	char content_type[128];
	long retry_after_s;  /* Retry-After delta-seconds, -1 if absent or an HTTP-date */
	struct buf *body;    /* receives the body; its max bounds the body size */
	http_resp_header_cb on_header;
	void *cb_arg;
	size_t line_len;
	char line[HTTP_RESP_MAX_LINE];
};

/* Prepares p for one response; body (not owned) collects the body, head: request was HEAD. */
void http_resp_init(struct http_resp_parser *p, struct buf *body, int head, http_resp_header_cb cb,
		    void *cb_arg);

/*
 * Feeds len bytes. *used receives the number consumed: all of them unless the response
 * completed earlier in the data (the rest belongs to nothing and the caller should drop the
 * connection). Returns KBS_OK (complete when http_resp_done(), else needs more),
 * KBS_ERR_PARSE (malformed: bad status line, header syntax, obs-fold, conflicting or invalid
 * Content-Length, unsupported Transfer-Encoding, bad chunk framing, 101 Switching Protocols),
 * KBS_ERR_RANGE (a line, the header section, the header count or the body exceeds its bound).
 * After an error the parser stays in error and must not be fed again.
 */
int http_resp_feed(struct http_resp_parser *p, const uint8_t *data, size_t len, size_t *used);

/* The peer closed the connection: KBS_OK if that ends the response (a body delimited by
 * close, or an already complete response), KBS_ERR_PROTOCOL if the response is truncated. */
int http_resp_eof(struct http_resp_parser *p);

/* Non-zero once a complete response has been parsed. */
int http_resp_done(const struct http_resp_parser *p);

/* A split absolute http/https URL. */
struct http_url {
	int tls;	  /* https */
	int ip_literal;	  /* host is an IPv4 or IPv6 address: no SNI, IP-address check */
	char host[256];	  /* without brackets for IPv6 */
	char port[6];	  /* decimal, default 80/443 */
	char authority[270]; /* Host header value: host, [v6], with :port when not default */
	char target[4096];   /* origin-form request target: path and query, "/" when empty */
};

/*
 * Splits "http[s]://host[:port][/path][?query][#fragment]" (scheme case-insensitive; the
 * fragment is dropped). host is a DNS name (letters, digits, '-', '.', '_'), a dotted IPv4
 * address or a bracketed IPv6 literal without zone id. Refused: userinfo ('@'), other schemes,
 * empty host, port 0 or above 65535, whitespace or control bytes anywhere (callers
 * percent-encode). Returns KBS_OK, KBS_ERR_PARSE, KBS_ERR_RANGE (a part too long),
 * KBS_ERR_INVAL (NULL arguments).
 */
int http_url_parse(const char *url, struct http_url *u);

/*
 * Parses a Set-Cookie field value (RFC 6265 §4.1): cookie-pair followed by attributes.
 * Writes the name and value (DQUOTEs removed) NUL-terminated into the given buffers.
 * *expired is set when Max-Age is zero or negative (the server deletes the cookie); other
 * attributes are ignored: cookies are kept per client and sent back only to the host that
 * set them, which covers the RCAR session cookie. *secure is set by the Secure attribute.
 * Returns KBS_OK, KBS_ERR_PARSE (no '=', name not a token, value outside cookie-octets),
 * KBS_ERR_RANGE (name or value longer than the buffers).
 */
int http_set_cookie_parse(const char *v, char *name, size_t nlen, char *value, size_t vlen,
			  int *expired, int *secure);

#endif
