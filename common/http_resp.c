// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP/1.1 response parser, URL splitter and Set-Cookie parser of the HTTP client.
 * Everything here reads bytes from the network or from configuration, so every input is
 * bounded and anything outside the grammar is refused rather than guessed at.
 */
#include "common/http_resp.h"
#include "common/b64.h"
#include "common/err.h"
#include "common/http_util.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CL_MAX ((int64_t)1 << 62)

static int is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

void http_resp_init(struct http_resp_parser *p, struct buf *body, int head, http_resp_header_cb cb,
		    void *cb_arg)
{
	p->state = HTTP_RESP_STATUS;
	p->head = head;
	p->status = 0;
	p->minor = 1;
	p->keep_alive = 1;
	p->chunked = 0;
	p->content_length = -1;
	p->left = 0;
	p->header_bytes = 0;
	p->nheaders = 0;
	p->content_type[0] = '\0';
	p->retry_after_s = -1;
	p->body = body;
	p->on_header = cb;
	p->cb_arg = cb_arg;
	p->line_len = 0;
	p->line[0] = '\0';
}

int http_resp_done(const struct http_resp_parser *p)
{
	return p->state == HTTP_RESP_DONE;
}

/* "HTTP/1.x SP 3DIGIT [SP reason]" */
static int parse_status_line(struct http_resp_parser *p, const char *l, size_t n)
{
	if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || !is_digit((unsigned char)l[7]) ||
	    l[8] != ' ' || !is_digit((unsigned char)l[9]) || !is_digit((unsigned char)l[10]) ||
	    !is_digit((unsigned char)l[11]))
		return KBS_ERR_PARSE;
	if (n > 12 && l[12] != ' ')
		return KBS_ERR_PARSE;
	for (size_t i = 13; i < n; i++) {
		unsigned char c = (unsigned char)l[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return KBS_ERR_PARSE;
	}
	p->minor = l[7] - '0';
	p->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	if (p->status < 100 || p->status > 599 || p->status == 101)
		return KBS_ERR_PARSE; /* 101: we never ask for an upgrade */
	/* HTTP/1.0 closes unless the server says keep-alive */
	p->keep_alive = p->minor >= 1;
	p->chunked = 0;
	p->content_length = -1;
	p->content_type[0] = '\0';
	p->retry_after_s = -1;
	return KBS_OK;
}

/* Comma-separated list member test, case-insensitive: "close" in "keep-alive, Close". */
static int list_has(const char *v, const char *tok)
{
	size_t tl = strlen(tok);

	while (*v != '\0') {
		const char *s, *e;

		while (*v == ',' || is_ows((unsigned char)*v))
			v++;
		s = v;
		while (*v != '\0' && *v != ',')
			v++;
		e = v;
		while (e > s && is_ows((unsigned char)e[-1]))
			e--;
		if ((size_t)(e - s) == tl && strncasecmp(s, tok, tl) == 0)
			return 1;
	}
	return 0;
}

static int parse_content_length(struct http_resp_parser *p, const char *v)
{
	int64_t n = 0;

	if (*v == '\0')
		return KBS_ERR_PARSE;
	for (; *v != '\0'; v++) {
		if (!is_digit((unsigned char)*v))
			return KBS_ERR_PARSE;
		if (n > (CL_MAX - (*v - '0')) / 10) /* checked before it could overflow */
			return KBS_ERR_RANGE;
		n = n * 10 + (*v - '0');
	}
	/* repeated fields must agree (RFC 9112 §6.3 item 5) */
	if (p->content_length >= 0 && p->content_length != n)
		return KBS_ERR_PARSE;
	p->content_length = n;
	return KBS_OK;
}

/* "name: value" with OWS around the value; no whitespace before the colon, no obs-fold. */
static int parse_header_line(struct http_resp_parser *p, char *l, size_t n)
{
	char *colon = memchr(l, ':', n), *v, *e;

	if (is_ows((unsigned char)l[0]))
		return KBS_ERR_PARSE; /* obs-fold: refused (RFC 9112 §5.2) */
	if (colon == NULL || !http_is_token(l, (size_t)(colon - l)))
		return KBS_ERR_PARSE;
	if (++p->nheaders > HTTP_RESP_MAX_HEADERS)
		return KBS_ERR_RANGE;
	*colon = '\0';
	v = colon + 1;
	e = l + n;
	for (char *q = v; q < e; q++) {
		unsigned char c = (unsigned char)*q;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return KBS_ERR_PARSE;
	}
	while (v < e && is_ows((unsigned char)*v))
		v++;
	while (e > v && is_ows((unsigned char)e[-1]))
		e--;
	*e = '\0';
	if (p->state == HTTP_RESP_TRAILER)
		return KBS_OK; /* trailer fields are read and dropped */
	if (strcasecmp(l, "Content-Length") == 0)
		return parse_content_length(p, v);
	if (strcasecmp(l, "Transfer-Encoding") == 0) {
		/* only "chunked" alone: anything else could not be decoded here */
		if (strcasecmp(v, "chunked") != 0 || p->chunked)
			return KBS_ERR_PARSE;
		p->chunked = 1;
		return KBS_OK;
	}
	if (strcasecmp(l, "Connection") == 0) {
		if (list_has(v, "close"))
			p->keep_alive = 0;
		else if (p->minor == 0 && list_has(v, "keep-alive"))
			p->keep_alive = 1;
		return KBS_OK;
	}
	if (strcasecmp(l, "Content-Type") == 0)
		snprintf(p->content_type, sizeof(p->content_type), "%s", v);
	if (strcasecmp(l, "Retry-After") == 0) {
		/* delta-seconds only (RFC 9110 §10.2.3); an HTTP-date or junk leaves -1 */
		long s = 0;
		size_t i;

		for (i = 0; is_digit((unsigned char)v[i]) && i < 9; i++)
			s = s * 10 + (v[i] - '0');
		p->retry_after_s = (i > 0 && v[i] == '\0') ? s : -1;
	}
	if (p->on_header != NULL)
		p->on_header(p->cb_arg, l, v);
	return KBS_OK;
}

/* The empty line after the header section: decides how the body is delimited. */
static int end_of_headers(struct http_resp_parser *p)
{
	if (p->status < 200) {
		/* interim response (100 Continue, 103 Early Hints): the real one follows */
		p->state = HTTP_RESP_STATUS;
		p->nheaders = 0;
		p->header_bytes = 0;
		return KBS_OK;
	}
	if (p->head || p->status == 204 || p->status == 304) {
		p->state = HTTP_RESP_DONE;
		return KBS_OK;
	}
	if (p->chunked) {
		/* both framings present: chunked wins, and the connection is not trusted after */
		if (p->content_length >= 0)
			p->keep_alive = 0;
		p->state = HTTP_RESP_CHUNK_SIZE;
		p->nheaders = 0;
		p->header_bytes = 0;
		return KBS_OK;
	}
	if (p->content_length >= 0) {
		if (p->body != NULL && p->body->max != 0 &&
		    (uint64_t)p->content_length > p->body->max)
			return KBS_ERR_RANGE;
		p->left = (uint64_t)p->content_length;
		p->state = p->left == 0 ? HTTP_RESP_DONE : HTTP_RESP_BODY_LEN;
		return KBS_OK;
	}
	p->keep_alive = 0;
	p->state = HTTP_RESP_BODY_EOF;
	return KBS_OK;
}

/* chunk-size [ BWS ; chunk-ext ] */
static int parse_chunk_size(struct http_resp_parser *p, const char *l, size_t n)
{
	uint64_t v = 0;
	size_t i = 0;
	int h;

	while (i < n && (h = hex_digit((unsigned char)l[i])) >= 0) {
		if (v > ((uint64_t)CL_MAX >> 4))
			return KBS_ERR_RANGE;
		v = (v << 4) | (uint64_t)h;
		i++;
	}
	if (i == 0)
		return KBS_ERR_PARSE;
	while (i < n && is_ows((unsigned char)l[i]))
		i++;
	if (i < n && l[i] != ';')
		return KBS_ERR_PARSE;
	for (; i < n; i++) {
		unsigned char c = (unsigned char)l[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return KBS_ERR_PARSE;
	}
	if (v == 0) {
		p->state = HTTP_RESP_TRAILER;
		return KBS_OK;
	}
	if (p->body != NULL && p->body->max != 0 && v > p->body->max)
		return KBS_ERR_RANGE;
	p->left = v;
	p->state = HTTP_RESP_CHUNK_DATA;
	return KBS_OK;
}

/* One complete line (CRLF or bare LF stripped) in the current state. */
static int on_line(struct http_resp_parser *p, char *l, size_t n)
{
	switch (p->state) {
	case HTTP_RESP_STATUS:
		p->state = HTTP_RESP_HEADER;
		return parse_status_line(p, l, n);
	case HTTP_RESP_HEADER:
		if (n == 0)
			return end_of_headers(p);
		return parse_header_line(p, l, n);
	case HTTP_RESP_CHUNK_SIZE:
		return parse_chunk_size(p, l, n);
	case HTTP_RESP_CHUNK_CRLF:
		if (n != 0)
			return KBS_ERR_PARSE;
		p->state = HTTP_RESP_CHUNK_SIZE;
		return KBS_OK;
	case HTTP_RESP_TRAILER:
		if (n == 0) {
			p->state = HTTP_RESP_DONE;
			return KBS_OK;
		}
		return parse_header_line(p, l, n);
	default:
		return KBS_ERR_INTERNAL;
	}
}

static int is_line_state(enum http_resp_state s)
{
	return s == HTTP_RESP_STATUS || s == HTTP_RESP_HEADER || s == HTTP_RESP_CHUNK_SIZE ||
	       s == HTTP_RESP_CHUNK_CRLF || s == HTTP_RESP_TRAILER;
}

static int body_bytes(struct http_resp_parser *p, const uint8_t *d, size_t n)
{
	if (p->body == NULL)
		return KBS_OK;
	return buf_append(p->body, d, n) == KBS_OK ? KBS_OK : KBS_ERR_RANGE;
}

int http_resp_feed(struct http_resp_parser *p, const uint8_t *data, size_t len, size_t *used)
{
	size_t i = 0;
	int rc = KBS_OK;

	if (used != NULL)
		*used = 0;
	if (p->state == HTTP_RESP_ERROR)
		return KBS_ERR_PARSE;
	while (i < len && p->state != HTTP_RESP_DONE) {
		if (is_line_state(p->state)) {
			unsigned char c = data[i++];

			if (p->state != HTTP_RESP_CHUNK_SIZE && p->state != HTTP_RESP_CHUNK_CRLF &&
			    ++p->header_bytes > HTTP_RESP_MAX_HEADER_BYTES) {
				rc = KBS_ERR_RANGE;
				break;
			}
			if (c == '\n') {
				size_t n = p->line_len;

				if (n > 0 && p->line[n - 1] == '\r')
					n--;
				p->line[n] = '\0';
				p->line_len = 0;
				if (memchr(p->line, '\r', n) != NULL ||
				    memchr(p->line, '\0', n) != NULL) {
					rc = KBS_ERR_PARSE; /* bare CR or NUL inside a line */
					break;
				}
				rc = on_line(p, p->line, n);
				if (rc != KBS_OK)
					break;
				continue;
			}
			if (p->line_len + 1 >= sizeof(p->line)) {
				rc = KBS_ERR_RANGE;
				break;
			}
			p->line[p->line_len++] = (char)c;
			continue;
		}
		if (p->state == HTTP_RESP_BODY_EOF) {
			rc = body_bytes(p, data + i, len - i);
			i = len;
			if (rc != KBS_OK)
				break;
			continue;
		}
		/* BODY_LEN or CHUNK_DATA */
		size_t take = len - i;

		if ((uint64_t)take > p->left)
			take = (size_t)p->left;
		rc = body_bytes(p, data + i, take);
		if (rc != KBS_OK)
			break;
		i += take;
		p->left -= take;
		if (p->left == 0)
			p->state = p->state == HTTP_RESP_BODY_LEN ? HTTP_RESP_DONE : HTTP_RESP_CHUNK_CRLF;
	}
	if (used != NULL)
		*used = i;
	if (rc != KBS_OK) {
		p->state = HTTP_RESP_ERROR;
		p->keep_alive = 0;
	}
	return rc;
}

int http_resp_eof(struct http_resp_parser *p)
{
	if (p->state == HTTP_RESP_ERROR)
		return KBS_ERR_PROTOCOL;
	if (p->state == HTTP_RESP_BODY_EOF)
		p->state = HTTP_RESP_DONE;
	p->keep_alive = 0;
	return p->state == HTTP_RESP_DONE ? KBS_OK : KBS_ERR_PROTOCOL;
}

/* ------------------------------------------------------------------ URL */

static int is_host_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' ||
	       c == '.' || c == '_';
}

int http_url_parse(const char *url, struct http_url *u)
{
	const char *p, *hs, *he, *ps = NULL, *pe = NULL, *t, *te;
	size_t hl, tl;
	unsigned long port = 0;
	int v6 = 0;

	if (url == NULL || u == NULL)
		return KBS_ERR_INVAL;
	memset(u, 0, sizeof(*u));
	for (p = url; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f)
			return KBS_ERR_PARSE;
	if (strncasecmp(url, "https://", 8) == 0) {
		u->tls = 1;
		p = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		p = url + 7;
	} else {
		return KBS_ERR_PARSE;
	}
	/* authority ends at the first '/', '?' or '#' */
	hs = p;
	while (*p != '\0' && *p != '/' && *p != '?' && *p != '#')
		p++;
	t = p;
	if (memchr(hs, '@', (size_t)(t - hs)) != NULL)
		return KBS_ERR_PARSE;
	if (*hs == '[') {
		he = memchr(hs, ']', (size_t)(t - hs));
		if (he == NULL)
			return KBS_ERR_PARSE;
		hs++;
		v6 = 1;
		if (he + 1 < t) {
			if (he[1] != ':')
				return KBS_ERR_PARSE;
			ps = he + 2;
			pe = t;
		}
	} else {
		he = memchr(hs, ':', (size_t)(t - hs));
		if (he != NULL) {
			ps = he + 1;
			pe = t;
		} else {
			he = t;
		}
		for (const char *q = hs; q < he; q++)
			if (!is_host_char((unsigned char)*q))
				return KBS_ERR_PARSE;
	}
	hl = (size_t)(he - hs);
	if (hl == 0)
		return KBS_ERR_PARSE;
	if (hl >= sizeof(u->host))
		return KBS_ERR_RANGE;
	memcpy(u->host, hs, hl);
	u->host[hl] = '\0';
	if (v6) {
		struct in6_addr a6;

		if (inet_pton(AF_INET6, u->host, &a6) != 1)
			return KBS_ERR_PARSE;
		u->ip_literal = 1;
	} else {
		struct in_addr a4;

		u->ip_literal = inet_pton(AF_INET, u->host, &a4) == 1;
	}
	if (ps != NULL && ps < pe) {
		if (pe - ps > 5)
			return KBS_ERR_PARSE;
		for (const char *q = ps; q < pe; q++) {
			if (!is_digit((unsigned char)*q))
				return KBS_ERR_PARSE;
			port = port * 10 + (unsigned long)(*q - '0');
		}
		if (port == 0 || port > 65535)
			return KBS_ERR_PARSE;
	} else {
		port = u->tls ? 443 : 80;
	}
	snprintf(u->port, sizeof(u->port), "%lu", port);
	if (port == (u->tls ? 443ul : 80ul))
		snprintf(u->authority, sizeof(u->authority), v6 ? "[%s]" : "%s", u->host);
	else
		snprintf(u->authority, sizeof(u->authority), v6 ? "[%s]:%s" : "%s:%s", u->host,
			 u->port);
	/* request target: path and query, fragment dropped */
	te = strchr(t, '#');
	if (te == NULL)
		te = t + strlen(t);
	tl = (size_t)(te - t);
	if (tl + 2 > sizeof(u->target))
		return KBS_ERR_RANGE;
	if (tl == 0 || *t == '?') {
		u->target[0] = '/';
		memcpy(u->target + 1, t, tl);
		u->target[tl + 1] = '\0';
	} else {
		memcpy(u->target, t, tl);
		u->target[tl] = '\0';
	}
	return KBS_OK;
}

/* ------------------------------------------------------------------ Set-Cookie */

/* RFC 6265 cookie-octet */
static int is_cookie_octet(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != '"' && c != ',' && c != ';' && c != '\\';
}

int http_set_cookie_parse(const char *v, char *name, size_t nlen, char *value, size_t vlen,
			  int *expired, int *secure)
{
	const char *ns, *ne, *vs, *ve, *p = v;

	if (v == NULL || name == NULL || value == NULL || nlen == 0 || vlen == 0)
		return KBS_ERR_INVAL;
	*expired = 0;
	*secure = 0;
	while (is_ows((unsigned char)*p))
		p++;
	ns = p;
	while (*p != '\0' && *p != '=' && *p != ';')
		p++;
	ne = p;
	while (ne > ns && is_ows((unsigned char)ne[-1]))
		ne--;
	if (*p != '=' || !http_is_token(ns, (size_t)(ne - ns)))
		return KBS_ERR_PARSE;
	p++;
	while (is_ows((unsigned char)*p))
		p++;
	vs = p;
	if (*p == '"') {
		vs = ++p;
		while (is_cookie_octet((unsigned char)*p))
			p++;
		if (*p != '"')
			return KBS_ERR_PARSE;
		ve = p++;
	} else {
		while (is_cookie_octet((unsigned char)*p))
			p++;
		ve = p;
	}
	while (is_ows((unsigned char)*p))
		p++;
	if (*p != '\0' && *p != ';')
		return KBS_ERR_PARSE;
	if ((size_t)(ne - ns) >= nlen || (size_t)(ve - vs) >= vlen)
		return KBS_ERR_RANGE;
	memcpy(name, ns, (size_t)(ne - ns));
	name[ne - ns] = '\0';
	memcpy(value, vs, (size_t)(ve - vs));
	value[ve - vs] = '\0';
	/* attributes: ";" SP name [ "=" value ], only Max-Age and Secure matter here */
	while (*p == ';') {
		const char *as, *ae, *avs;

		p++;
		while (is_ows((unsigned char)*p))
			p++;
		as = p;
		while (*p != '\0' && *p != ';' && *p != '=')
			p++;
		ae = p;
		while (ae > as && is_ows((unsigned char)ae[-1]))
			ae--;
		avs = NULL;
		if (*p == '=') {
			avs = ++p;
			while (*p != '\0' && *p != ';')
				p++;
		}
		if ((size_t)(ae - as) == 6 && strncasecmp(as, "Secure", 6) == 0) {
			*secure = 1;
		} else if ((size_t)(ae - as) == 7 && strncasecmp(as, "Max-Age", 7) == 0 &&
			   avs != NULL) {
			while (is_ows((unsigned char)*avs))
				avs++;
			/* RFC 6265 §5.2.2: zero or a negative number expires the cookie now */
			if (*avs == '-' || (*avs == '0' && strspn(avs, "0") == strcspn(avs, "; \t")))
				*expired = 1;
		}
	}
	return KBS_OK;
}
