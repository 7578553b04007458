// SPDX-License-Identifier: Apache-2.0
/*
 * Strict HTTP/1.1 request head parser and in-place chunked decoder (see http_req_parse.h).
 * Everything is parsed from the start of the buffer on every call: a head is at most a few KB
 * and usually arrives in one read, so keeping no line state is simpler than resuming.
 */
#include "common/http_req_parse.h"
#include "common/b64.h"
#include "common/err.h"
#include "common/http_util.h"

#include <string.h>

enum { CH_SIZE = 0, CH_DATA, CH_DATA_CRLF, CH_TRAILER };

bool http_req_span_ieq(const uint8_t *p, struct http_req_span s, const char *str)
{
	size_t n = strlen(str);

	if (s.len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t a = p[s.off + i], b = (uint8_t)str[i];

		if (a >= 'A' && a <= 'Z')
			a = (uint8_t)(a + 32);
		if (b >= 'A' && b <= 'Z')
			b = (uint8_t)(b + 32);
		if (a != b)
			return false;
	}
	return true;
}

/*
 * True when none of the 8 bytes at p is a control character (< 0x20, so also CR, LF, NUL and
 * tab) or DEL: such a word needs no byte-by-byte look. A request carrying a 4 KB bearer token
 * spent ~40 000 instructions in the two byte loops below; eight bytes at a time is ~8x less.
 * (May report a false "not clean" after a real hit in the same word; never a false "clean".)
 */
static bool word_clean(const uint8_t *p)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t x, y;

	memcpy(&x, p, 8);
	y = x ^ (ones * 0x7f);
	return (((x - ones * 0x20) & ~x) | ((y - ones) & ~y)) & high ? false : true;
}

/*
 * Finds the CRLF ending the line that starts at p[off]. Returns its offset, -1 when the data
 * ends first (line incomplete), -2 on a bare CR or LF or a NUL.
 */
static long line_end(const uint8_t *p, size_t len, size_t off)
{
	for (size_t i = off; i < len; i++) {
		while (i + 8 <= len && word_clean(p + i))
			i += 8;
		if (i == len)
			break;
		if (p[i] == '\n' || p[i] == '\0')
			return -2;
		if (p[i] == '\r') {
			if (i + 1 == len)
				return -1;
			return p[i + 1] == '\n' ? (long)i : -2;
		}
	}
	return -1;
}

static bool is_vchar_or_ws(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int fail(struct http_req_head *h, int status, int rc)
{
	h->head_len = 0;
	h->status = status;
	return rc;
}

static bool method_known(const uint8_t *p, struct http_req_span m)
{
	static const char *const known[] = {"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS",
					    "PATCH"};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (m.len == strlen(known[i]) && memcmp(p + m.off, known[i], m.len) == 0)
			return true;
	return false;
}

/* "METHOD SP target SP HTTP/x.y" in p[off..end). */
static int parse_request_line(const uint8_t *p, size_t off, size_t end, struct http_req_head *h)
{
	size_t i = off, t0, v0;

	while (i < end && p[i] != ' ')
		i++;
	if (i == off || i == end || !http_is_token((const char *)p + off, i - off))
		return fail(h, 400, KBS_ERR_PARSE);
	h->method.off = (uint32_t)off;
	h->method.len = (uint32_t)(i - off);
	t0 = ++i;
	while (i < end && p[i] > 0x20 && p[i] < 0x7f)
		i++;
	if (i == t0 || i == end || p[i] != ' ')
		return fail(h, 400, KBS_ERR_PARSE);
	h->target.off = (uint32_t)t0;
	h->target.len = (uint32_t)(i - t0);
	v0 = ++i;
	if (end - v0 != 8 || memcmp(p + v0, "HTTP/", 5) != 0 || p[v0 + 5] < '0' ||
	    p[v0 + 5] > '9' || p[v0 + 6] != '.' || p[v0 + 7] < '0' || p[v0 + 7] > '9')
		return fail(h, 400, KBS_ERR_PARSE);
	if (p[v0 + 5] != '1' || p[v0 + 7] > '1')
		return fail(h, 505, KBS_ERR_UNSUPPORTED);
	h->minor = p[v0 + 7] - '0';
	if (!method_known(p, h->method))
		return fail(h, 501, KBS_ERR_UNSUPPORTED);
	return KBS_OK;
}

/* "name: OWS value OWS" in p[off..end); fills f. */
static int parse_field(const uint8_t *p, size_t off, size_t end, struct http_req_field *f)
{
	size_t i = off, v0, v1;

	while (i < end && p[i] != ':')
		i++;
	/* no whitespace before the colon (RFC 9112 §5.1), non-empty token name */
	if (i == end || !http_is_token((const char *)p + off, i - off))
		return KBS_ERR_PARSE;
	f->name.off = (uint32_t)off;
	f->name.len = (uint32_t)(i - off);
	v0 = i + 1;
	for (size_t k = v0; k < end; k++) {
		while (k + 8 <= end && word_clean(p + k))
			k += 8;
		if (k < end && !is_vchar_or_ws(p[k]))
			return KBS_ERR_PARSE;
	}
	while (v0 < end && (p[v0] == ' ' || p[v0] == '\t'))
		v0++;
	v1 = end;
	while (v1 > v0 && (p[v1 - 1] == ' ' || p[v1 - 1] == '\t'))
		v1--;
	f->value.off = (uint32_t)v0;
	f->value.len = (uint32_t)(v1 - v0);
	return KBS_OK;
}

/* Content-Length: 1*DIGIT, at most 19 digits (no overflow). */
static int parse_length(const uint8_t *p, struct http_req_span v, uint64_t *out)
{
	uint64_t n = 0;

	if (v.len == 0 || v.len > 19)
		return KBS_ERR_PARSE;
	for (uint32_t i = 0; i < v.len; i++) {
		uint8_t c = p[v.off + i];

		if (c < '0' || c > '9')
			return KBS_ERR_PARSE;
		n = n * 10 + (uint64_t)(c - '0');
	}
	*out = n;
	return KBS_OK;
}

/* Connection: comma-separated tokens; sets *close / *ka for "close" / "keep-alive". */
static void parse_connection(const uint8_t *p, struct http_req_span v, bool *close, bool *ka)
{
	size_t i = v.off, end = (size_t)v.off + v.len;

	while (i < end) {
		size_t s, e;

		while (i < end && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
			i++;
		s = i;
		while (i < end && p[i] != ',')
			i++;
		e = i;
		while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t'))
			e--;
		struct http_req_span t = {(uint32_t)s, (uint32_t)(e - s)};
		if (http_req_span_ieq(p, t, "close"))
			*close = true;
		else if (http_req_span_ieq(p, t, "keep-alive"))
			*ka = true;
	}
}

int http_req_parse_head(const uint8_t *p, size_t len, size_t max_head, size_t max_body,
			struct http_req_head *h)
{
	size_t off = 0, lim;
	bool have_len = false, have_te = false, close = false, ka = false, first = true;
	int rc;

	memset(h, 0, offsetof(struct http_req_head, fields));
	if (max_head > UINT32_MAX)
		max_head = UINT32_MAX;
	lim = len < max_head ? len : max_head;
	/* one or two empty lines before the request line are tolerated (RFC 9112 §2.2) */
	for (int k = 0; k < 2 && lim - off >= 2 && p[off] == '\r' && p[off + 1] == '\n'; k++)
		off += 2;
	for (;;) {
		long e = line_end(p, lim, off);

		if (e == -2)
			return fail(h, 400, KBS_ERR_PARSE);
		if (e == -1) {
			if (len >= max_head) /* the head does not fit its bound (actix: 431) */
				return fail(h, 431, KBS_ERR_RANGE);
			h->head_len = 0;
			return KBS_OK;
		}
		size_t end = (size_t)e;
		if (first) {
			rc = parse_request_line(p, off, end, h);
			if (rc != KBS_OK)
				return rc;
			first = false;
			off = end + 2;
			continue;
		}
		if (end == off) { /* empty line: end of the head */
			off = end + 2;
			break;
		}
		if (p[off] == ' ' || p[off] == '\t') /* obs-fold */
			return fail(h, 400, KBS_ERR_PARSE);
		if (h->nfields == HTTP_REQ_MAX_FIELDS)
			return fail(h, 431, KBS_ERR_RANGE);
		struct http_req_field *f = &h->fields[h->nfields];
		if (parse_field(p, off, end, f) != KBS_OK)
			return fail(h, 400, KBS_ERR_PARSE);
		h->nfields++;
		if (http_req_span_ieq(p, f->name, "content-length")) {
			if (have_len || parse_length(p, f->value, &h->content_length) != KBS_OK)
				return fail(h, 400, KBS_ERR_PARSE);
			have_len = true;
		} else if (http_req_span_ieq(p, f->name, "transfer-encoding")) {
			if (have_te)
				return fail(h, 400, KBS_ERR_PARSE);
			have_te = true;
			if (!http_req_span_ieq(p, f->value, "chunked"))
				return fail(h, 501, KBS_ERR_UNSUPPORTED);
		} else if (http_req_span_ieq(p, f->name, "connection")) {
			parse_connection(p, f->value, &close, &ka);
		} else if (http_req_span_ieq(p, f->name, "expect")) {
			if (!http_req_span_ieq(p, f->value, "100-continue"))
				return fail(h, 417, KBS_ERR_UNSUPPORTED);
			h->expect_continue = true;
		}
		off = end + 2;
	}
	/* request smuggling: a message must have one framing, and only HTTP/1.1 has chunked */
	if (have_te && (have_len || h->minor == 0))
		return fail(h, 400, KBS_ERR_PARSE);
	if (have_len && h->content_length > max_body)
		return fail(h, 413, KBS_ERR_RANGE);
	h->chunked = have_te;
	h->keep_alive = h->minor == 1 ? !close : (ka && !close);
	if (h->minor == 0)
		h->expect_continue = false; /* RFC 9110 §10.1.1: ignored in HTTP/1.0 */
	h->head_len = off;
	h->status = 0;
	return KBS_OK;
}

/* chunk-size [ chunk-ext ] in p[off..end) */
static int parse_chunk_size(const uint8_t *p, size_t off, size_t end, uint64_t *size)
{
	size_t i = off;
	uint64_t n = 0;
	int d;

	while (i < end && (d = hex_digit(p[i])) >= 0) {
		if (i - off >= 16)
			return KBS_ERR_PARSE;
		n = (n << 4) | (uint64_t)d;
		i++;
	}
	if (i == off)
		return KBS_ERR_PARSE;
	while (i < end && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i < end) {
		if (p[i] != ';')
			return KBS_ERR_PARSE;
		for (; i < end; i++)
			if (!is_vchar_or_ws(p[i]))
				return KBS_ERR_PARSE;
	}
	*size = n;
	return KBS_OK;
}

int http_req_chunked_decode(uint8_t *body, size_t len, size_t max_body, size_t max_trailer,
			    struct http_req_chunked *st, int *status)
{
	*status = 0;
	while (!st->done) {
		if (st->state == CH_DATA) {
			size_t n = len - st->in;

			if (n == 0)
				return KBS_OK;
			if ((uint64_t)n > st->left)
				n = (size_t)st->left;
			memmove(body + st->out, body + st->in, n);
			st->out += n;
			st->in += n;
			st->left -= n;
			if (st->left == 0)
				st->state = CH_DATA_CRLF;
			continue;
		}
		if (st->state == CH_DATA_CRLF) {
			if (len - st->in < 2)
				return KBS_OK;
			if (body[st->in] != '\r' || body[st->in + 1] != '\n')
				goto bad;
			st->in += 2;
			st->state = CH_SIZE;
			continue;
		}
		/* a line: chunk-size line or trailer field */
		size_t lim = st->state == CH_SIZE ? HTTP_REQ_MAX_CHUNK_LINE : max_trailer - st->trailer;
		size_t avail = len - st->in < lim + 2 ? len - st->in : lim + 2;
		long e = line_end(body + st->in, avail, 0);

		if (e == -2)
			goto bad;
		if (e == -1) {
			if (avail >= lim + 2) {
				*status = 400;
				return KBS_ERR_RANGE;
			}
			return KBS_OK;
		}
		if (st->state == CH_SIZE) {
			uint64_t size;

			if (parse_chunk_size(body + st->in, 0, (size_t)e, &size) != KBS_OK)
				goto bad;
			if (size > (uint64_t)(max_body - st->out)) {
				*status = 413;
				return KBS_ERR_RANGE;
			}
			st->in += (size_t)e + 2;
			st->left = size;
			st->state = size == 0 ? CH_TRAILER : CH_DATA;
			continue;
		}
		/* trailer section: fields are checked and dropped; an empty line ends it */
		if (e == 0) {
			st->in += 2;
			st->done = true;
			break;
		}
		struct http_req_field f;
		if (body[st->in] == ' ' || body[st->in] == '\t' ||
		    parse_field(body + st->in, 0, (size_t)e, &f) != KBS_OK)
			goto bad;
		st->trailer += (size_t)e + 2;
		st->in += (size_t)e + 2;
	}
	return KBS_OK;
bad:
	*status = 400;
	return KBS_ERR_PARSE;
}
