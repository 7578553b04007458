// SPDX-License-Identifier: Apache-2.0
/*
 * Parsers of the HTTP client (common/http_resp.c): the HTTP/1.1 response parser on responses
 * recorded from nginx and from the kbs (tests/data/http), fed whole and byte by byte, plus
 * framing, limits and malformed input; the URL splitter; the Set-Cookie parser.
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
#include "common/http_resp.h"
#include "testdata.h"

struct seen {
	char cookie[256];
	int nheaders;
};

static void on_header(void *arg, const char *name, const char *value)
{
	struct seen *s = arg;

	s->nheaders++;
	if (strcmp(name, "Set-Cookie") == 0)
		snprintf(s->cookie, sizeof(s->cookie), "%s", value);
}

/* Parses text (len bytes) in pieces of `step` bytes; returns the first error or KBS_OK. */
static int parse(const char *text, size_t len, size_t step, int head, struct http_resp_parser *p,
		 struct buf *body, struct seen *s, size_t *consumed)
{
	size_t off = 0;
	int rc = KBS_OK;

	memset(s, 0, sizeof(*s));
	http_resp_init(p, body, head, on_header, s);
	while (off < len && !http_resp_done(p)) {
		size_t n = len - off < step ? len - off : step, used = 0;

		rc = http_resp_feed(p, (const uint8_t *)text + off, n, &used);
		off += used;
		if (rc != KBS_OK)
			break;
	}
	if (consumed)
		*consumed = off;
	return rc;
}

static int parse_str(const char *text, struct http_resp_parser *p, struct buf *body)
{
	struct seen s;

	return parse(text, strlen(text), 1 << 20, 0, p, body, &s, NULL);
}

static void recorded_responses_parse_whole_and_bytewise(void **state)
{
	static const struct {
		const char *file;
		int head;
		long status;
		const char *ctype;
		const char *body_prefix;
		size_t body_len;
	} cases[] = {
	    {"nginx_200.http", 0, 200, "text/plain", "a secret", 8},
	    {"nginx_404.http", 0, 404, "text/html", "<html>\r\n<head><title>404", 153},
	    {"nginx_head.http", 1, 200, "text/plain", "", 0},
	    {"kbs_auth.http", 0, 200, "application/json", "{\"nonce\":\"", 74},
	    {"kbs_401.http", 0, 401, "", "{\"type\":\"https://github.com/confidential-containers/kbs/"
				      "errors/TokenNotFound\"",
	     187},
	    {"rfc_chunked.http", 0, 200, "text/plain", "Wikipedia in\r\n\r\nchunks.", 23},
	};
	static const size_t steps[] = {1 << 20, 1, 7};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len, used;
		char *text = td_read_file("http", cases[i].file, &len);

		for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
			struct http_resp_parser p;
			struct buf body = BUF_INIT;
			struct seen s;

			assert_int_equal(
			    parse(text, len, steps[k], cases[i].head, &p, &body, &s, &used), KBS_OK);
			assert_true(http_resp_done(&p));
			assert_int_equal(used, len);
			assert_int_equal(p.status, cases[i].status);
			assert_string_equal(p.content_type, cases[i].ctype);
			assert_int_equal(body.len, cases[i].body_len);
			if (body.len > 0)
				assert_memory_equal(body.p, cases[i].body_prefix,
						    strlen(cases[i].body_prefix));
			/* all recorded with Connection: close, except the chunked example */
			assert_int_equal(p.keep_alive, strcmp(cases[i].file, "rfc_chunked.http") == 0);
			assert_int_equal(http_resp_eof(&p), KBS_OK);
			if (strcmp(cases[i].file, "kbs_auth.http") == 0)
				assert_int_equal(strncmp(s.cookie, "kbs-session-id=", 15), 0);
			buf_release(&body);
		}
		free(text);
	}
}

static void chunked_extensions_and_trailers(void **state)
{
	struct http_resp_parser p;
	struct buf body = BUF_INIT;

	assert_int_equal(parse_str("HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n"
				   "3;name=val\r\nabc\r\n1 ; x\r\nd\r\n0\r\nX-Trailer: 1\r\n\r\n",
				   &p, &body),
			 KBS_OK);
	assert_true(http_resp_done(&p));
	assert_string_equal((char *)body.p, "abcd");
	assert_true(p.keep_alive);
	buf_release(&body);
	/* upper-case hex and bare LF line ends are accepted */
	assert_int_equal(parse_str("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n"
				   "A\n0123456789\n0\n\n",
				   &p, &body),
			 KBS_OK);
	assert_true(http_resp_done(&p));
	assert_int_equal(body.len, 10);
	buf_release(&body);
	/* chunked and Content-Length together: chunked wins, the connection is dropped after */
	assert_int_equal(parse_str("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
				   &p, &body),
			 KBS_OK);
	assert_true(http_resp_done(&p));
	assert_string_equal((char *)body.p, "ok");
	assert_false(p.keep_alive);
	buf_release(&body);
}

static void body_delimited_by_close_and_truncation(void **state)
{
	struct http_resp_parser p;
	struct buf body = BUF_INIT;

	assert_int_equal(parse_str("HTTP/1.0 200 OK\r\n\r\nuntil the end", &p, &body), KBS_OK);
	assert_false(http_resp_done(&p));
	assert_int_equal(http_resp_eof(&p), KBS_OK);
	assert_true(http_resp_done(&p));
	assert_string_equal((char *)body.p, "until the end");
	assert_false(p.keep_alive);
	buf_release(&body);

	/* Content-Length body cut short: truncated, not complete */
	assert_int_equal(parse_str("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", &p, &body),
			 KBS_OK);
	assert_false(http_resp_done(&p));
	assert_int_equal(http_resp_eof(&p), KBS_ERR_PROTOCOL);
	buf_release(&body);
	/* chunked body cut short, and headers cut short */
	assert_int_equal(parse_str("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
				   &p, &body),
			 KBS_OK);
	assert_int_equal(http_resp_eof(&p), KBS_ERR_PROTOCOL);
	buf_release(&body);
	assert_int_equal(parse_str("HTTP/1.1 200 OK\r\nContent-Le", &p, &body), KBS_OK);
	assert_int_equal(http_resp_eof(&p), KBS_ERR_PROTOCOL);
	buf_release(&body);
}

static void statuses_without_body_and_interim_responses(void **state)
{
	struct http_resp_parser p;
	struct buf body = BUF_INIT;
	size_t used;
	struct seen s;
	const char *t = "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200";

	/* 204 ends at the empty line even with a Content-Length; the rest is not consumed */
	assert_int_equal(parse(t, strlen(t), 1 << 20, 0, &p, &body, &s, &used), KBS_OK);
	assert_true(http_resp_done(&p));
	assert_int_equal(p.status, 204);
	assert_int_equal(used, strlen(t) - strlen("HTTP/1.1 200"));
	assert_int_equal(body.len, 0);
	assert_int_equal(parse_str("HTTP/1.1 304 Not Modified\r\n\r\n", &p, &body), KBS_OK);
	assert_true(http_resp_done(&p));
	/* 100 Continue and 103 are skipped, the final response counts */
	assert_int_equal(parse_str("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"
				   "Link: </x>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n"
				   "\r\nok",
				   &p, &body),
			 KBS_OK);
	assert_true(http_resp_done(&p));
	assert_int_equal(p.status, 201);
	assert_string_equal((char *)body.p, "ok");
	buf_release(&body);
	/* pipelined garbage after a complete response is left unconsumed */
	t = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA";
	assert_int_equal(parse(t, strlen(t), 1 << 20, 0, &p, &body, &s, &used), KBS_OK);
	assert_int_equal(used, strlen(t) - 5);
	buf_release(&body);
}

static void connection_persistence(void **state)
{
	struct http_resp_parser p;
	struct buf body = BUF_INIT;

	assert_int_equal(parse_str("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", &p, &body),
			 KBS_OK);
	assert_true(p.keep_alive);
	assert_int_equal(parse_str("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", &p, &body),
			 KBS_OK);
	assert_false(p.keep_alive);
	assert_int_equal(parse_str("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n"
				   "Content-Length: 0\r\n\r\n",
				   &p, &body),
			 KBS_OK);
	assert_true(p.keep_alive);
	assert_int_equal(parse_str("HTTP/1.1 200 OK\r\nConnection: keep-alive, CLOSE\r\n"
				   "Content-Length: 0\r\n\r\n",
				   &p, &body),
			 KBS_OK);
	assert_false(p.keep_alive);
	/* repeated identical Content-Length is fine */
	assert_int_equal(parse_str("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n"
				   "\r\nok",
				   &p, &body),
			 KBS_OK);
	assert_true(http_resp_done(&p));
	buf_release(&body);
}

/* Retry-After: delta-seconds are kept, anything else (HTTP-date, junk, absent) is -1. */
static void retry_after_delta_seconds(void **state)
{
	static const struct {
		const char *hdr;
		long want;
	} cases[] = {
	    {"Retry-After: 7\r\n", 7},
	    {"Retry-After:   120  \r\n", 120},
	    {"Retry-After: 0\r\n", 0},
	    {"Retry-After: Fri, 31 Dec 1999 23:59:59 GMT\r\n", -1},
	    {"Retry-After: 5s\r\n", -1},
	    {"Retry-After: 1234567890123\r\n", -1},
	    {"", -1},
	};
	struct http_resp_parser p;
	struct buf body = BUF_INIT;
	char text[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "HTTP/1.1 429 Too Many Requests\r\n%sContent-Length: 0\r\n\r\n",
			 cases[i].hdr);
		assert_int_equal(parse_str(text, &p, &body), KBS_OK);
		assert_int_equal(p.status, 429);
		assert_int_equal(p.retry_after_s, cases[i].want);
	}
	buf_release(&body);
}

static void malformed_responses_are_refused(void **state)
{
	static const char *const bad[] = {
	    "HTTP/2 200 OK\r\n\r\n",
	    "HTTP/1.1 20 OK\r\n\r\n",
	    "HTTP/1.1 2000 OK\r\n\r\n",
	    "HTTP/1.1 099 Low\r\n\r\n",
	    "HTTP/1.1 600 High\r\n\r\n",
	    "HTTP/1.1 200OK\r\n\r\n",
	    "ICY 200 OK\r\n\r\n",
	    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
	    "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nX-A: a\x01" "b\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
	    "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
	    "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok",
	    "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n;ext\r\n",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 x\r\n",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct http_resp_parser p;
		struct buf body = BUF_INIT;
		int rc = parse_str(bad[i], &p, &body);

		if (rc != KBS_ERR_PARSE)
			fail_msg("case %zu (%s): rc %d", i, bad[i], rc);
		assert_false(http_resp_done(&p));
		assert_false(p.keep_alive);
		/* the parser stays failed */
		size_t used = 1;
		assert_int_equal(http_resp_feed(&p, (const uint8_t *)"x", 1, &used), KBS_ERR_PARSE);
		assert_int_equal(used, 0);
		assert_int_equal(http_resp_eof(&p), KBS_ERR_PROTOCOL);
		buf_release(&body);
	}
	/* NUL inside a header line (length-delimited input) */
	struct http_resp_parser p;
	struct buf body = BUF_INIT;
	struct seen s;
	static const char nul[] = "HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n";
	assert_int_equal(parse(nul, sizeof(nul) - 1, 1 << 20, 0, &p, &body, &s, NULL),
			 KBS_ERR_PARSE);
}

static void limits(void **state)
{
	struct http_resp_parser p;
	struct buf body;
	struct buf text = BUF_INIT;

	/* one line longer than HTTP_RESP_MAX_LINE */
	buf_init(&body, 0);
	assert_int_equal(buf_append_str(&text, "HTTP/1.1 200 OK\r\nX-Long: "), KBS_OK);
	for (int i = 0; i < HTTP_RESP_MAX_LINE; i++)
		assert_int_equal(buf_append_byte(&text, 'a'), KBS_OK);
	assert_int_equal(buf_append_str(&text, "\r\n\r\n"), KBS_OK);
	assert_int_equal(parse_str((char *)text.p, &p, &body), KBS_ERR_RANGE);
	/* many short header lines: the count bound hits first */
	buf_reset(&text);
	assert_int_equal(buf_append_str(&text, "HTTP/1.1 200 OK\r\n"), KBS_OK);
	for (int i = 0; i <= HTTP_RESP_MAX_HEADERS; i++)
		assert_int_equal(buf_printf(&text, "X-%d: v\r\n", i), KBS_OK);
	assert_int_equal(buf_append_str(&text, "\r\n"), KBS_OK);
	assert_int_equal(parse_str((char *)text.p, &p, &body), KBS_ERR_RANGE);
	/* fewer but long headers: the section size bound */
	buf_reset(&text);
	assert_int_equal(buf_append_str(&text, "HTTP/1.1 200 OK\r\n"), KBS_OK);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(buf_printf(&text, "X-%d: ", i), KBS_OK);
		for (int k = 0; k < HTTP_RESP_MAX_LINE - 100; k++)
			assert_int_equal(buf_append_byte(&text, 'b'), KBS_OK);
		assert_int_equal(buf_append_str(&text, "\r\n"), KBS_OK);
	}
	assert_int_equal(parse_str((char *)text.p, &p, &body), KBS_ERR_RANGE);
	buf_release(&text);
	buf_release(&body);

	/* body bounds: Content-Length beyond the cap is refused before any body byte */
	buf_init(&body, 4);
	assert_int_equal(parse_str("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", &p, &body),
			 KBS_ERR_RANGE);
	buf_release(&body);
	buf_init(&body, 4);
	assert_int_equal(parse_str("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd", &p, &body),
			 KBS_OK);
	assert_true(http_resp_done(&p));
	buf_release(&body);
	/* chunked and close-delimited bodies are bounded while they stream */
	buf_init(&body, 4);
	assert_int_equal(parse_str("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				   "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n",
				   &p, &body),
			 KBS_ERR_RANGE);
	buf_release(&body);
	buf_init(&body, 4);
	assert_int_equal(parse_str("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				   "ffffffffffffffffff\r\n",
				   &p, &body),
			 KBS_ERR_RANGE);
	buf_release(&body);
	buf_init(&body, 4);
	assert_int_equal(parse_str("HTTP/1.0 200 OK\r\n\r\nabcde", &p, &body), KBS_ERR_RANGE);
	buf_release(&body);
	buf_init(&body, 0);
	assert_int_equal(parse_str("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
				   &p, &body),
			 KBS_ERR_RANGE);
	buf_release(&body);
}

static void url_splitting(void **state)
{
	struct http_url u;

	assert_int_equal(http_url_parse("https://kbs.example:8080/kbs/v0/auth", &u), KBS_OK);
	assert_true(u.tls);
	assert_false(u.ip_literal);
	assert_string_equal(u.host, "kbs.example");
	assert_string_equal(u.port, "8080");
	assert_string_equal(u.authority, "kbs.example:8080");
	assert_string_equal(u.target, "/kbs/v0/auth");

	assert_int_equal(http_url_parse("HTTP://127.0.0.1", &u), KBS_OK);
	assert_false(u.tls);
	assert_true(u.ip_literal);
	assert_string_equal(u.port, "80");
	assert_string_equal(u.authority, "127.0.0.1");
	assert_string_equal(u.target, "/");

	assert_int_equal(http_url_parse("https://[::1]:8443/a?b=%2F#frag", &u), KBS_OK);
	assert_true(u.ip_literal);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.authority, "[::1]:8443");
	assert_string_equal(u.target, "/a?b=%2F");

	assert_int_equal(http_url_parse("https://[2001:db8::5]?x=1", &u), KBS_OK);
	assert_string_equal(u.port, "443");
	assert_string_equal(u.authority, "[2001:db8::5]");
	assert_string_equal(u.target, "/?x=1");

	assert_int_equal(http_url_parse("http://host:/p", &u), KBS_OK);
	assert_string_equal(u.port, "80");

	static const char *const bad[] = {
	    "ftp://host/",	   "https:/host/",	 "https://",	       "https:///path",
	    "https://user@host/",  "https://host:0/",	 "https://host:65536/", "https://host:8a/",
	    "https://host:123456/", "https://ho st/",	 "https://host/a b",   "https://[::1/",
	    "https://[::1]x/",	   "https://[fe80::1%25eth0]/", "https://[1.2.3]/", "https://h%41/",
	    "https://host/\x7f",   "https://host:8080:1/",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (http_url_parse(bad[i], &u) == KBS_OK)
			fail_msg("accepted %s", bad[i]);
	assert_int_equal(http_url_parse(NULL, &u), KBS_ERR_INVAL);

	/* bounds */
	char big[5000];
	memcpy(big, "https://h/", 10);
	memset(big + 10, 'a', sizeof(big) - 11);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(http_url_parse(big, &u), KBS_ERR_RANGE);
	memcpy(big, "https://", 8);
	memset(big + 8, 'a', 300);
	big[308] = '\0';
	assert_int_equal(http_url_parse(big, &u), KBS_ERR_RANGE);
}

static void set_cookie_values(void **state)
{
	char n[32], v[64];
	int expired, secure;

	/* the kbs / Trustee session cookie */
	assert_int_equal(http_set_cookie_parse("kbs-session-id=1a20eb70c6b54e20a2050381eaac51f3; "
					       "Expires=Fri, 27 Nov 2026 16:38:49 GMT",
					       n, sizeof(n), v, sizeof(v), &expired, &secure),
			 KBS_OK);
	assert_string_equal(n, "kbs-session-id");
	assert_string_equal(v, "1a20eb70c6b54e20a2050381eaac51f3");
	assert_false(expired);
	assert_false(secure);

	assert_int_equal(http_set_cookie_parse("a=\"q v\"", n, sizeof(n), v, sizeof(v), &expired,
					       &secure),
			 KBS_ERR_PARSE);
	assert_int_equal(http_set_cookie_parse("a=\"qv\"; Secure; HttpOnly; Path=/", n, sizeof(n),
					       v, sizeof(v), &expired, &secure),
			 KBS_OK);
	assert_string_equal(v, "qv");
	assert_true(secure);
	assert_int_equal(http_set_cookie_parse("a=; Max-Age=0", n, sizeof(n), v, sizeof(v),
					       &expired, &secure),
			 KBS_OK);
	assert_string_equal(v, "");
	assert_true(expired);
	assert_int_equal(http_set_cookie_parse("a=b; max-age=-1", n, sizeof(n), v, sizeof(v),
					       &expired, &secure),
			 KBS_OK);
	assert_true(expired);
	assert_int_equal(http_set_cookie_parse("a=b; Max-Age=10", n, sizeof(n), v, sizeof(v),
					       &expired, &secure),
			 KBS_OK);
	assert_false(expired);

	static const char *const bad[] = {"novalue", "=v", "a b=v", "a=b c", "a=b,c", "a=\"b",
					  "a=b\r\nX: y", "a=\\b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (http_set_cookie_parse(bad[i], n, sizeof(n), v, sizeof(v), &expired,
					  &secure) != KBS_ERR_PARSE)
			fail_msg("accepted %s", bad[i]);
	assert_int_equal(http_set_cookie_parse("a=0123456789", n, sizeof(n), v, 10, &expired,
					       &secure),
			 KBS_ERR_RANGE);
	assert_int_equal(http_set_cookie_parse("a=0123456789", n, sizeof(n), v, 11, &expired,
					       &secure),
			 KBS_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(recorded_responses_parse_whole_and_bytewise),
	    cmocka_unit_test(chunked_extensions_and_trailers),
	    cmocka_unit_test(body_delimited_by_close_and_truncation),
	    cmocka_unit_test(statuses_without_body_and_interim_responses),
	    cmocka_unit_test(connection_persistence),
	    cmocka_unit_test(retry_after_delta_seconds),
	    cmocka_unit_test(malformed_responses_are_refused),
	    cmocka_unit_test(limits),
	    cmocka_unit_test(url_splitting),
	    cmocka_unit_test(set_cookie_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
