// SPDX-License-Identifier: Apache-2.0
/*
 * The server's HTTP/1.1 request parser (common/http_req_parse.c): requests as curl, Python
 * requests, reqwest (Trustee's guest client) and our own client send them, fed whole and
 * byte by byte; malformed request lines, header folding, bare CR/LF, NUL bytes, duplicate
 * Content-Length, Content-Length + Transfer-Encoding (request smuggling), bounds; the in-place
 * chunked decoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/http_req_parse.h"

#define MAX_HEAD 2048
#define MAX_BODY 4096

static int parse(const char *req, struct http_req_head *h)
{
	return http_req_parse_head((const uint8_t *)req, strlen(req), MAX_HEAD, MAX_BODY, h);
}

static const char *field(const char *req, const struct http_req_head *h, const char *name,
			 char *out, size_t outlen)
{
	for (unsigned i = 0; i < h->nfields; i++) {
		if (http_req_span_ieq((const uint8_t *)req, h->fields[i].name, name)) {
			snprintf(out, outlen, "%.*s", (int)h->fields[i].value.len,
				 req + h->fields[i].value.off);
			return out;
		}
	}
	return NULL;
}

static void real_client_requests_parse(void **state)
{
	/* as sent by curl 7.88 (with Expect for a large body), reqwest and Python requests */
	static const char curl[] = "POST /kbs/v0/auth HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
				   "User-Agent: curl/7.88.1\r\nAccept: */*\r\n"
				   "Content-Type: application/json\r\nContent-Length: 52\r\n"
				   "Expect: 100-continue\r\n\r\n";
	static const char reqwest[] = "GET /kbs/v0/resource/default/key/1 HTTP/1.1\r\n"
				      "cookie: kbs-session-id=0123\r\naccept: */*\r\n"
				      "host: kbs:8080\r\n\r\n";
	static const char python[] = "POST /kbs/v0/attest HTTP/1.1\r\nHost: 127.0.0.1:1\r\n"
				     "User-Agent: python-requests/2.28.1\r\n"
				     "Accept-Encoding: gzip, deflate\r\nAccept: */*\r\n"
				     "Connection: keep-alive\r\nContent-Length: 2\r\n\r\n{}";
	struct http_req_head h;
	char v[64];

	assert_int_equal(parse(curl, &h), KBS_OK);
	assert_int_equal(h.head_len, strlen(curl));
	assert_true(http_req_span_ieq((const uint8_t *)curl, h.method, "POST"));
	assert_int_equal(h.target.len, strlen("/kbs/v0/auth"));
	assert_memory_equal(curl + h.target.off, "/kbs/v0/auth", h.target.len);
	assert_int_equal(h.minor, 1);
	assert_int_equal(h.nfields, 6);
	assert_int_equal(h.content_length, 52);
	assert_false(h.chunked);
	assert_true(h.keep_alive);
	assert_true(h.expect_continue);
	assert_string_equal(field(curl, &h, "user-agent", v, sizeof(v)), "curl/7.88.1");

	assert_int_equal(parse(reqwest, &h), KBS_OK);
	assert_int_equal(h.head_len, strlen(reqwest));
	assert_int_equal(h.content_length, 0);
	assert_false(h.expect_continue);
	assert_string_equal(field(reqwest, &h, "Cookie", v, sizeof(v)), "kbs-session-id=0123");

	assert_int_equal(parse(python, &h), KBS_OK);
	assert_int_equal(h.head_len, strlen(python) - 2); /* the body is not part of the head */
	assert_int_equal(h.content_length, 2);
	assert_true(h.keep_alive);
}

static void bytewise_feeding_agrees_with_whole(void **state)
{
	static const char req[] = "PUT /a%20b?x=1 HTTP/1.1\r\nHost: h\r\nX-Empty:\r\n"
				  "X-Pad: \t v \t\r\nContent-Length: 3\r\n\r\nabc";
	size_t head = strlen(req) - 3;
	struct http_req_head h;
	char v[16];

	for (size_t n = 0; n < head; n++) {
		assert_int_equal(http_req_parse_head((const uint8_t *)req, n, MAX_HEAD, MAX_BODY, &h),
				 KBS_OK);
		assert_int_equal(h.head_len, 0);
	}
	assert_int_equal(http_req_parse_head((const uint8_t *)req, head, MAX_HEAD, MAX_BODY, &h),
			 KBS_OK);
	assert_int_equal(h.head_len, head);
	assert_string_equal(field(req, &h, "x-empty", v, sizeof(v)), "");
	assert_string_equal(field(req, &h, "x-pad", v, sizeof(v)), "v"); /* OWS trimmed */
	assert_memory_equal(req + h.target.off, "/a%20b?x=1", h.target.len);
}

static void connection_semantics(void **state)
{
	struct http_req_head h;

	assert_int_equal(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &h), KBS_OK);
	assert_false(h.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n", &h), KBS_OK);
	assert_false(h.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &h), KBS_OK);
	assert_false(h.keep_alive);
	assert_int_equal(h.minor, 0);
	assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &h), KBS_OK);
	assert_true(h.keep_alive);
	/* Expect is ignored in HTTP/1.0 (RFC 9110 §10.1.1) */
	assert_int_equal(parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
			       &h),
			 KBS_OK);
	assert_false(h.expect_continue);
	/* one leading empty line is tolerated (RFC 9112 §2.2) */
	assert_int_equal(parse("\r\nGET / HTTP/1.1\r\n\r\n", &h), KBS_OK);
	assert_int_equal(h.head_len, 20);
	assert_memory_equal("GET", "\r\nGET" + h.method.off, 3);
}

struct bad {
	const char *req;
	int status;
};

static void malformed_heads_are_refused_with_their_status(void **state)
{
	static const struct bad cases[] = {
	    /* request line */
	    {"GET  / HTTP/1.1\r\n\r\n", 400},
	    {"GET / HTTP/1.1 \r\n\r\n", 400},
	    {" GET / HTTP/1.1\r\n\r\n", 400},
	    {"GET /\r\n\r\n", 400}, /* HTTP/0.9 */
	    {"GET / HTTP/1.1x\r\n\r\n", 400},
	    {"GET / http/1.1\r\n\r\n", 400},
	    {"GET / HTTP/1\r\n\r\n", 400},
	    {"G(T / HTTP/1.1\r\n\r\n", 400},
	    {"GET /a\x7f HTTP/1.1\r\n\r\n", 400},
	    {"GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 400},
	    {"GET / HTTP/2.0\r\n\r\n", 505},
	    {"GET / HTTP/1.2\r\n\r\n", 505},
	    {"GET / HTTP/0.9\r\n\r\n", 505},
	    {"BREW / HTTP/1.1\r\n\r\n", 501},
	    {"CONNECT h:443 HTTP/1.1\r\n\r\n", 501},
	    {"get / HTTP/1.1\r\n\r\n", 501}, /* methods are case-sensitive */
	    /* line endings, NUL, control bytes */
	    {"GET / HTTP/1.1\nHost: x\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nHost: x\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nHost: x\r\n\n", 400},
	    {"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nX-A: a\x01" "b\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nX-A: \x7f\r\n\r\n", 400},
	    /* header syntax */
	    {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nHost: x\r\n\tfolded\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\n: x\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nX(A): x\r\n\r\n", 400},
	    /* framing */
	    {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400},
	    {"POST / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 2\r\n\r\n", 400},
	    {"POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n", 400},
	    {"POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 400},
	    {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
	    {"POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400},
	    {"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400},
	    {"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
	    {"POST / HTTP/1.1\r\nContent-Length: 4097\r\n\r\n", 413},
	    /* smuggling: CL + TE in either order, TE twice, TE in HTTP/1.0 */
	    {"POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	    {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n", 400},
	    {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
	     400},
	    {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	    {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
	    {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 501},
	    {"POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n", 501},
	    {"POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", 501},
	    /* expectations */
	    {"POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", 417},
	};
	struct http_req_head h;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse(cases[i].req, &h);

		if (rc == KBS_OK || h.status != cases[i].status)
			print_error("case %zu: rc %d status %d\n", i, rc, h.status);
		assert_int_not_equal(rc, KBS_OK);
		assert_int_equal(h.status, cases[i].status);
		assert_int_equal(h.head_len, 0);
	}
}

static void nul_bytes_are_refused(void **state)
{
	static const char req[] = "GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n";
	static const char line[] = "GET /\0 HTTP/1.1\r\n\r\n";
	struct http_req_head h;

	assert_int_equal(
	    http_req_parse_head((const uint8_t *)req, sizeof(req) - 1, MAX_HEAD, MAX_BODY, &h),
	    KBS_ERR_PARSE);
	assert_int_equal(h.status, 400);
	assert_int_equal(
	    http_req_parse_head((const uint8_t *)line, sizeof(line) - 1, MAX_HEAD, MAX_BODY, &h),
	    KBS_ERR_PARSE);
	/* refused as soon as the NUL arrives, not only once the head is complete */
	assert_int_equal(http_req_parse_head((const uint8_t *)req, 25, MAX_HEAD, MAX_BODY, &h),
			 KBS_ERR_PARSE);
}

static void bounds(void **state)
{
	char *req = malloc(MAX_HEAD * 2);
	struct http_req_head h;
	size_t n;

	/* a head of exactly MAX_HEAD bytes is accepted, one more is 431 (actix-web's answer) */
	n = (size_t)snprintf(req, MAX_HEAD * 2, "GET / HTTP/1.1\r\nX-Big: ");
	memset(req + n, 'y', MAX_HEAD - n - 4);
	memcpy(req + MAX_HEAD - 4, "\r\n\r\n", 5);
	assert_int_equal(strlen(req), MAX_HEAD);
	assert_int_equal(parse(req, &h), KBS_OK);
	assert_int_equal(h.head_len, MAX_HEAD);
	memset(req + n, 'y', MAX_HEAD - n - 3);
	memcpy(req + MAX_HEAD - 3, "\r\n\r\n", 5);
	assert_int_equal(parse(req, &h), KBS_ERR_RANGE);
	assert_int_equal(h.status, 431);
	/* an unfinished head that already exceeds the bound is refused without waiting */
	req[MAX_HEAD + 1] = '\0';
	memset(req + n, 'y', MAX_HEAD + 1 - n);
	assert_int_equal(parse(req, &h), KBS_ERR_RANGE);
	assert_int_equal(h.status, 431);

	/* field count */
	n = (size_t)snprintf(req, MAX_HEAD * 2, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < HTTP_REQ_MAX_FIELDS; i++)
		n += (size_t)snprintf(req + n, MAX_HEAD * 2 - n, "A:\r\n");
	snprintf(req + n, MAX_HEAD * 2 - n, "\r\n");
	assert_int_equal(parse(req, &h), KBS_OK);
	assert_int_equal(h.nfields, HTTP_REQ_MAX_FIELDS);
	snprintf(req + n, MAX_HEAD * 2 - n, "A:\r\n\r\n");
	assert_int_equal(parse(req, &h), KBS_ERR_RANGE);
	assert_int_equal(h.status, 431);

	/* Content-Length exactly at the body bound */
	assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 4096\r\n\r\n", &h), KBS_OK);
	assert_int_equal(h.content_length, MAX_BODY);
	free(req);
}

/* Decodes enc fed in steps of `step` bytes; returns the final rc. */
static int chunked(const char *enc, size_t enclen, size_t step, size_t max_body, char *out,
		   size_t *outlen, size_t *consumed, int *status)
{
	uint8_t *b = malloc(enclen + 1);
	struct http_req_chunked st;
	int rc = KBS_OK;

	memcpy(b, enc, enclen);
	memset(&st, 0, sizeof(st));
	for (size_t n = step < enclen ? step : enclen;; n = n + step < enclen ? n + step : enclen) {
		rc = http_req_chunked_decode(b, n, max_body, 64, &st, status);
		if (rc != KBS_OK || st.done || n == enclen)
			break;
	}
	if (rc == KBS_OK && !st.done)
		rc = 1; /* incomplete */
	memcpy(out, b, st.out);
	out[st.out] = '\0';
	*outlen = st.out;
	*consumed = st.in;
	free(b);
	return rc;
}

static void chunked_bodies_decode_in_place(void **state)
{
	static const char enc[] = "5\r\nhello\r\n1;ext=\"v\"\r\n \r\nA \r\n0123456789\r\n"
				  "0\r\nX-Trailer: t\r\n\r\nNEXT";
	size_t enclen = sizeof(enc) - 1, outlen, used;
	char out[64];
	int status;

	for (size_t step = 1; step <= enclen; step++) {
		assert_int_equal(chunked(enc, enclen, step, 4096, out, &outlen, &used, &status),
				 KBS_OK);
		assert_string_equal(out, "hello 0123456789");
		assert_int_equal(used, enclen - 4); /* "NEXT" is the next request */
	}
	/* incomplete stays incomplete */
	assert_int_equal(chunked(enc, 20, 3, 4096, out, &outlen, &used, &status), 1);
}

static void chunked_framing_errors(void **state)
{
	static const struct bad cases[] = {
	    {"x\r\n", 400},
	    {"\r\n", 400},
	    {"5\r\nhelloXX0\r\n\r\n", 400},
	    {"5\nhello\r\n0\r\n\r\n", 400},
	    {"5\r\nhello\r\n0\r\nbad trailer\r\n\r\n", 400},
	    {"5\r\nhello\r\n0\r\n folded: x\r\n\r\n", 400},
	    {"-1\r\n", 400},
	    {"1 2\r\n", 400},
	    {"11111111111111111\r\n", 400}, /* 17 hex digits */
	    {"1001\r\n", 413},		  /* 4097 > max body */
	    {"800\r\n", 413},		  /* 2048 > max body 2047 (below) */
	};
	char out[64], big[HTTP_REQ_MAX_CHUNK_LINE + 40];
	size_t outlen, used;
	int status;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = chunked(cases[i].req, strlen(cases[i].req), 1,
				 i == sizeof(cases) / sizeof(cases[0]) - 1 ? 2047 : 4096, out,
				 &outlen, &used, &status);

		assert_true(rc < 0);
		assert_int_equal(status, cases[i].status);
	}
	/* chunk-size line and trailer section are bounded */
	memset(big, 'a', sizeof(big));
	memcpy(big, "1;", 2);
	memcpy(big + sizeof(big) - 2, "\r\n", 2);
	assert_true(chunked(big, sizeof(big), 7, 4096, out, &outlen, &used, &status) < 0);
	assert_int_equal(status, 400);
	static const char trailers[] = "0\r\nX-A: 0123456789012345678901234567890123456789\r\n"
				       "X-B: 0123456789012345678901234567890123456789\r\n\r\n";
	assert_true(chunked(trailers, sizeof(trailers) - 1, 5, 4096, out, &outlen, &used,
			    &status) < 0);
	assert_int_equal(status, 400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(real_client_requests_parse),
	    cmocka_unit_test(bytewise_feeding_agrees_with_whole),
	    cmocka_unit_test(connection_semantics),
	    cmocka_unit_test(malformed_heads_are_refused_with_their_status),
	    cmocka_unit_test(nul_bytes_are_refused),
	    cmocka_unit_test(bounds),
	    cmocka_unit_test(chunked_bodies_decode_in_place),
	    cmocka_unit_test(chunked_framing_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
