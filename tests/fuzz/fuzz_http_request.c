// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the server's HTTP request parser (common/http_req_parse.c). Invariants: a complete
 * head lies within the input and its bound, every span lies inside the head, an error carries
 * one of the documented statuses, a prefix of a valid head is "incomplete" (never an error,
 * never a different head), and the chunked decoder produces the same body and framing
 * whether the input arrives whole or byte by byte, never more than its bound.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/http_req_parse.h"

#define MAX_HEAD 1024
#define MAX_BODY 512

static void check_span(struct http_req_span s, size_t head_len)
{
	if ((size_t)s.off + s.len > head_len)
		abort();
}

static int decode(const uint8_t *data, size_t len, size_t step, uint8_t *out, size_t *outlen,
		  size_t *used, int *done)
{
	uint8_t *b = malloc(len + 1);
	struct http_req_chunked st;
	int rc = KBS_OK, status = 0;

	if (b == NULL)
		abort();
	memcpy(b, data, len);
	memset(&st, 0, sizeof(st));
	for (size_t n = step < len ? step : len;; n = n + step < len ? n + step : len) {
		rc = http_req_chunked_decode(b, n, MAX_BODY, MAX_HEAD, &st, &status);
		if (rc != KBS_OK || st.done || n == len)
			break;
	}
	if (rc != KBS_OK && status != 400 && status != 413)
		abort();
	if (st.out > MAX_BODY || st.out > st.in || st.in > len)
		abort();
	memcpy(out, b, st.out);
	*outlen = st.out;
	*used = st.in;
	*done = st.done;
	free(b);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_req_head *h = malloc(sizeof(*h)), *h2 = malloc(sizeof(*h2));
	int rc;

	if (h == NULL || h2 == NULL)
		abort();
	rc = http_req_parse_head(data, size, MAX_HEAD, MAX_BODY, h);
	if (rc != KBS_OK) {
		if (h->status != 400 && h->status != 413 && h->status != 417 && h->status != 431 &&
		    h->status != 501 && h->status != 505)
			abort();
		goto out;
	}
	if (h->head_len == 0)
		goto out;
	if (h->head_len > size || h->head_len > MAX_HEAD || h->nfields > HTTP_REQ_MAX_FIELDS)
		abort();
	check_span(h->method, h->head_len);
	check_span(h->target, h->head_len);
	for (unsigned i = 0; i < h->nfields; i++) {
		check_span(h->fields[i].name, h->head_len);
		check_span(h->fields[i].value, h->head_len);
	}
	if (h->chunked && h->content_length != 0)
		abort();
	if (h->content_length > MAX_BODY)
		abort();
	/* the head alone parses to the same head; every shorter prefix is incomplete */
	if (http_req_parse_head(data, h->head_len, MAX_HEAD, MAX_BODY, h2) != KBS_OK ||
	    h2->head_len != h->head_len)
		abort();
	for (size_t n = 0; n < h->head_len; n += 1 + n / 8)
		if (http_req_parse_head(data, n, MAX_HEAD, MAX_BODY, h2) != KBS_OK ||
		    h2->head_len != 0)
			abort();
	if (h->chunked) {
		const uint8_t *body = data + h->head_len;
		size_t blen = size - h->head_len, l1, l2, u1, u2;
		uint8_t *o1 = malloc(blen + 1), *o2 = malloc(blen + 1);
		int d1, d2, r1, r2;

		if (o1 == NULL || o2 == NULL)
			abort();
		r1 = decode(body, blen, blen ? blen : 1, o1, &l1, &u1, &d1);
		r2 = decode(body, blen, 1, o2, &l2, &u2, &d2);
		if (r1 != r2 || d1 != d2 || (r1 == KBS_OK && (l1 != l2 || u1 != u2 ||
							     memcmp(o1, o2, l1) != 0)))
			abort();
		free(o1);
		free(o2);
	}
out:
	free(h);
	free(h2);
	return 0;
}
