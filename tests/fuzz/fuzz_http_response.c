// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the HTTP client's response parser (and the URL and Set-Cookie parsers on the same
 * input). Invariants: the verdict, status, body and framing do not depend on how the input is
 * split into reads; the body never exceeds its cap; a complete response never consumes more
 * than it was given; a failed parser refuses further input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/http_resp.h"

#define BODY_CAP 4096

static void cb(void *arg, const char *name, const char *value)
{
	char n[64], v[256];
	int expired, secure;

	(void)arg;
	if (strlen(name) == 0)
		abort();
	/* header values reach the callback trimmed and free of CR/LF */
	if (strchr(value, '\r') != NULL || strchr(value, '\n') != NULL)
		abort();
	if (http_set_cookie_parse(value, n, sizeof(n), v, sizeof(v), &expired, &secure) ==
	    KBS_OK) {
		if (strlen(n) == 0 || strlen(n) >= sizeof(n) || strlen(v) >= sizeof(v))
			abort();
		if (strpbrk(v, " ;,\"\\") != NULL)
			abort();
	}
}

struct run {
	int rc;
	int eof_rc;
	int done;
	long status;
	int keep_alive;
	size_t used;
	struct buf body;
};

static void run(const uint8_t *d, size_t n, size_t step, int head, struct run *r)
{
	struct http_resp_parser *p = malloc(sizeof(*p));
	size_t off = 0;

	if (p == NULL)
		abort();
	buf_init(&r->body, BODY_CAP);
	http_resp_init(p, &r->body, head, cb, NULL);
	r->rc = KBS_OK;
	while (off < n && !http_resp_done(p)) {
		size_t k = n - off < step ? n - off : step, used = 0;

		r->rc = http_resp_feed(p, d + off, k, &used);
		if (used > k)
			abort();
		off += used;
		if (r->rc != KBS_OK) {
			size_t u2 = 1;

			if (http_resp_feed(p, d, n, &u2) == KBS_OK || u2 != 0)
				abort();
			break;
		}
		if (used < k && !http_resp_done(p))
			abort();
	}
	r->used = off;
	r->done = http_resp_done(p);
	r->status = p->status;
	r->keep_alive = p->keep_alive;
	r->eof_rc = r->rc == KBS_OK ? http_resp_eof(p) : KBS_ERR_PROTOCOL;
	if (r->body.len > BODY_CAP)
		abort();
	if (r->done && (p->status < 200 || p->status > 599))
		abort();
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run a, b;
	int head = size > 0 && (data[0] & 1);

	run(data, size, size ? size : 1, head, &a);
	run(data, size, 3, head, &b);
	if (a.rc != b.rc || a.done != b.done || a.eof_rc != b.eof_rc)
		abort();
	if (a.rc == KBS_OK && (a.used != b.used || a.status != b.status || a.keep_alive != b.keep_alive ||
			       a.body.len != b.body.len ||
			       (a.body.len && memcmp(a.body.p, b.body.p, a.body.len) != 0)))
		abort();
	buf_release(&a.body);
	buf_release(&b.body);

	/* the same bytes as a URL */
	char *s = malloc(size + 1);
	struct http_url u;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (http_url_parse(s, &u) == KBS_OK) {
		if (u.target[0] != '/' || u.host[0] == '\0' || strpbrk(u.target, " \r\n#") != NULL)
			abort();
		if (atoi(u.port) < 1 || atoi(u.port) > 65535)
			abort();
	}
	free(s);
	return 0;
}
