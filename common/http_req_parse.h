/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_COMMON_HTTP_REQ_PARSE_H
#define KBS_COMMON_HTTP_REQ_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * HTTP/1.1 request parser of the server (common/http_server.c), exposed for unit tests and
 * fuzzing. Not part of the public HTTP API; components use http_server.h.
 *
 * It works on the connection's input buffer as received: the head (request line + header
 * section) is parsed without copying (fields are offsets into the buffer), a chunked body is
 * decoded in place. Strict on purpose (RFC 9112; a front proxy and this server must never
 * disagree about where a request ends):
 *   - lines end in CRLF; a bare CR or LF, a NUL or another control byte in the head is refused;
 *   - no obs-fold (a header line starting with SP/HTAB), no whitespace before the colon;
 *   - Content-Length: digits only, at most one field (duplicates are refused even when equal);
 *   - Transfer-Encoding: exactly "chunked" (case-insensitive), only in HTTP/1.1, never together
 *     with Content-Length; any other coding is 501;
 *   - methods: GET POST HEAD PUT DELETE OPTIONS PATCH (other tokens are 501), versions
 *     HTTP/1.0 and HTTP/1.1 (other well-formed versions are 505);
 *   - Expect: only "100-continue" (case-insensitive, HTTP/1.1), anything else is 417.
 * A request without Content-Length and Transfer-Encoding has an empty body (RFC 9112 §6.3).
 */

#define HTTP_REQ_MAX_FIELDS 100	   /* header fields per request (more: 431) */
#define HTTP_REQ_MAX_CHUNK_LINE 256 /* chunk-size line incl. extensions (longer: 400) */

/* A byte range of the input buffer. */
struct http_req_span {
	uint32_t off;
	uint32_t len;
};

struct http_req_field {
	struct http_req_span name;
	struct http_req_span value; /* without leading/trailing SP/HTAB */
};

struct http_req_head {
	size_t head_len; /* bytes of the head including the empty line; 0 = incomplete */
	int status;	 /* on error: the status to answer with (400, 413, 417, 431, 501, 505) */
	struct http_req_span method;
	struct http_req_span target; /* request-target as received */
	int minor;		     /* HTTP/1.<minor>, 0 or 1 */
	bool chunked;
	uint64_t content_length; /* 0 when absent or chunked */
	bool keep_alive;	 /* the connection may carry another request */
	bool expect_continue;	 /* Expect: 100-continue */
	unsigned nfields;
	struct http_req_field fields[HTTP_REQ_MAX_FIELDS]; /* last: not cleared per parse */
};

/*
 * Parses the head at the start of p[0..len). max_head bounds the head (request line + fields +
 * empty line), max_body the declared Content-Length. Returns KBS_OK with h->head_len set when
 * the head is complete, KBS_OK with h->head_len == 0 when more bytes are needed (the bytes so
 * far are valid), or an error (KBS_ERR_PARSE malformed, KBS_ERR_RANGE over a bound,
 * KBS_ERR_UNSUPPORTED method / version / coding / expectation) with h->status set.
 */
int http_req_parse_head(const uint8_t *p, size_t len, size_t max_head, size_t max_body,
			struct http_req_head *h);

/* Resumable chunked-body decoder state; zero it before the first call. */
struct http_req_chunked {
	size_t in;	 /* encoded bytes consumed so far (offset from the body start) */
	size_t out;	 /* decoded bytes so far (written at the body start) */
	uint64_t left;	 /* data bytes left in the current chunk (+2 for its CRLF) */
	int state;	 /* internal */
	size_t trailer;	 /* bytes of trailer section so far */
	bool done;
};

/*
 * Decodes the chunked body in body[0..len) in place, resuming where the previous call stopped
 * (call again with the same body pointer and a larger len as bytes arrive). The decoded bytes
 * are body[0..st->out); when st->done, the encoded body (including trailers, which are checked
 * and dropped) was body[0..st->in). Returns KBS_OK (done or needs more), KBS_ERR_PARSE with
 * *status 400 for bad framing, KBS_ERR_RANGE with *status 413 when the decoded body would
 * exceed max_body (or 400 when a chunk line or the trailers exceed their bound).
 */
int http_req_chunked_decode(uint8_t *body, size_t len, size_t max_body, size_t max_trailer,
			    struct http_req_chunked *st, int *status);

/* True if the span equals the NUL-terminated s, ignoring ASCII case. */
bool http_req_span_ieq(const uint8_t *p, struct http_req_span s, const char *str);

#endif
