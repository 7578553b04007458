// SPDX-License-Identifier: Apache-2.0
/* Strict, bounded parsers used by the HTTP server and client wrappers. */
#include "common/b64.h"
#include "common/http_util.h"
#include "common/err.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return 1;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 6265 cookie-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E */
static int is_cookie_octet(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != '"' && c != ',' && c != ';' && c != '\\';
}

static int is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

int http_is_token(const char *s, size_t len)
{
	if (s == NULL || len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!is_tchar((unsigned char)s[i]))
			return 0;
	return 1;
}

static int cookie_scan(const char *hdr, size_t len, const char *name, char *out, size_t outlen)
{
	size_t i = 0, npairs = 0, nlen;
	int found = 0;

	if (hdr == NULL || name == NULL || (out == NULL) != (outlen == 0))
		return KBS_ERR_INVAL;
	nlen = strlen(name);
	if (!http_is_token(name, nlen))
		return KBS_ERR_INVAL;
	if (out != NULL)
		out[0] = '\0';
	if (len > HTTP_COOKIE_MAX_HEADER)
		return KBS_ERR_RANGE;

	while (i < len && is_ows((unsigned char)hdr[i]))
		i++;
	if (i == len)
		return KBS_ERR_NOTFOUND; /* empty header: no cookies */
	for (;;) {
		size_t ns = i, vs, ve;

		if (++npairs > HTTP_COOKIE_MAX_PAIRS)
			return KBS_ERR_RANGE;
		while (i < len && is_tchar((unsigned char)hdr[i]))
			i++;
		if (i == ns || i == len || hdr[i] != '=')
			return KBS_ERR_PARSE;
		size_t ne = i++;
		if (i < len && hdr[i] == '"') {
			vs = ++i;
			while (i < len && is_cookie_octet((unsigned char)hdr[i]))
				i++;
			if (i == len || hdr[i] != '"')
				return KBS_ERR_PARSE;
			ve = i++;
		} else {
			vs = i;
			while (i < len && is_cookie_octet((unsigned char)hdr[i]))
				i++;
			ve = i;
		}
		if (!found && ne - ns == nlen && memcmp(hdr + ns, name, nlen) == 0) {
			found = 1;
			if (out != NULL && ve - vs >= outlen) {
				found = 2; /* too long; keep validating, a parse error wins */
			} else if (out != NULL) {
				memcpy(out, hdr + vs, ve - vs);
				out[ve - vs] = '\0';
			}
		}
		while (i < len && is_ows((unsigned char)hdr[i]))
			i++;
		if (i == len)
			break;
		if (hdr[i] != ';')
			return KBS_ERR_PARSE;
		i++;
		while (i < len && is_ows((unsigned char)hdr[i]))
			i++;
		if (i == len)
			break; /* one trailing ';' */
	}
	if (!found)
		return KBS_ERR_NOTFOUND;
	return found == 2 ? KBS_ERR_RANGE : KBS_OK;
}

int http_cookie_find(const char *hdr, size_t len, const char *name, char *out, size_t outlen)
{
	int rc = cookie_scan(hdr, len, name, out, outlen);

	/* never leave a value from a header that was rejected as a whole */
	if (rc != KBS_OK && out != NULL && outlen > 0)
		out[0] = '\0';
	return rc;
}

static int parse_port(const char *p, uint16_t *port)
{
	unsigned long v = 0;
	size_t n = 0;

	for (; p[n] != '\0'; n++) {
		if (p[n] < '0' || p[n] > '9' || n >= 5)
			return KBS_ERR_PARSE;
		v = v * 10 + (unsigned long)(p[n] - '0');
	}
	if (n == 0 || v > 65535)
		return KBS_ERR_PARSE;
	*port = (uint16_t)v;
	return KBS_OK;
}

int http_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sslen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon;
	uint16_t port;
	size_t hl;

	if (s == NULL || ss == NULL || sslen == NULL)
		return KBS_ERR_PARSE;
	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		if (rb == NULL || rb[1] != ':')
			return KBS_ERR_PARSE;
		hl = (size_t)(rb - s - 1);
		if (hl == 0 || hl >= sizeof(host))
			return KBS_ERR_PARSE;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (parse_port(rb + 2, &port) != KBS_OK ||
		    inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return KBS_ERR_PARSE;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*sslen = sizeof(*a6);
		return KBS_OK;
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

	colon = strchr(s, ':');
	if (colon == NULL || strchr(colon + 1, ':') != NULL)
		return KBS_ERR_PARSE;
	hl = (size_t)(colon - s);
	if (hl == 0 || hl >= sizeof(host))
		return KBS_ERR_PARSE;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (parse_port(colon + 1, &port) != KBS_OK || inet_pton(AF_INET, host, &a4->sin_addr) != 1)
		return KBS_ERR_PARSE;
	a4->sin_family = AF_INET;
	a4->sin_port = htons(port);
	*sslen = sizeof(*a4);
	return KBS_OK;
}

const char *http_format_addr(const struct sockaddr *sa, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN];

	if (outlen == 0)
		return out;
	out[0] = '\0';
	if (sa == NULL)
		return out;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)sa;

		if (inet_ntop(AF_INET, &a4->sin_addr, host, sizeof(host)) != NULL)
			snprintf(out, outlen, "%s:%u", host, (unsigned)ntohs(a4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;

		if (inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host)) != NULL)
			snprintf(out, outlen, "[%s]:%u", host, (unsigned)ntohs(a6->sin6_port));
	}
	return out;
}

/* The byte of a "%XX" escape at in[i] (len bytes in all), or -1 if there is none. */
static int pct_byte(const char *in, size_t len, size_t i)
{
	int hi, lo;

	if (in[i] != '%' || len - i < 3)
		return -1;
	hi = hex_digit((unsigned char)in[i + 1]);
	lo = hex_digit((unsigned char)in[i + 2]);
	return hi < 0 || lo < 0 ? -1 : hi << 4 | lo;
}

int http_path_decode(const char *in, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	if (in == NULL || out == NULL || outlen == 0)
		return KBS_ERR_INVAL;
	out[0] = '\0';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '%') {
			int b = pct_byte(in, len, i);

			if (b < 0 || b == '/' || b < 0x20 || b == 0x7f) {
				/* kept as written: a decoded '/' would forge a segment boundary and
				 * a control byte (%00) has no place in a path; a malformed escape
				 * keeps its '%' (as actix-web does), which handlers refuse like any
				 * character outside their syntax */
				size_t k = b < 0 ? 1 : 3;

				if (o + k >= outlen)
					goto range;
				memcpy(out + o, in + i, k);
				o += k;
				i += k - 1;
				continue;
			}
			c = (unsigned char)b;
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			goto bad;
		if (o + 1 >= outlen)
			goto range;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return KBS_OK;
bad:
	out[0] = '\0';
	return KBS_ERR_PARSE;
range:
	out[0] = '\0';
	return KBS_ERR_RANGE;
}

int http_form_decode(const char *in, size_t len, char *out, size_t outlen, size_t *declen)
{
	size_t o = 0;

	if ((in == NULL && len) || out == NULL || outlen == 0)
		return KBS_ERR_INVAL;
	for (size_t i = 0; i < len; i++) {
		int b = pct_byte(in, len, i);

		if (o + 1 >= outlen) {
			out[0] = '\0';
			return KBS_ERR_RANGE;
		}
		if (b >= 0)
			i += 2;
		else
			b = in[i] == '+' ? ' ' : (unsigned char)in[i];
		out[o++] = (char)b;
	}
	out[o] = '\0';
	if (declen)
		*declen = o;
	return KBS_OK;
}

const char *http_reason_phrase(int status)
{
	static const struct {
		int code;
		const char *text;
	} tab[] = {
	    {100, "Continue"},
	    {200, "OK"},
	    {201, "Created"},
	    {202, "Accepted"},
	    {204, "No Content"},
	    {206, "Partial Content"},
	    {301, "Moved Permanently"},
	    {302, "Found"},
	    {304, "Not Modified"},
	    {307, "Temporary Redirect"},
	    {308, "Permanent Redirect"},
	    {400, "Bad Request"},
	    {401, "Unauthorized"},
	    {403, "Forbidden"},
	    {404, "Not Found"},
	    {405, "Method Not Allowed"},
	    {406, "Not Acceptable"},
	    {408, "Request Timeout"},
	    {409, "Conflict"},
	    {410, "Gone"},
	    {411, "Length Required"},
	    {412, "Precondition Failed"},
	    {413, "Payload Too Large"},
	    {414, "URI Too Long"},
	    {415, "Unsupported Media Type"},
	    {416, "Range Not Satisfiable"},
	    {422, "Unprocessable Entity"},
	    {429, "Too Many Requests"},
	    {431, "Request Header Fields Too Large"},
	    {500, "Internal Server Error"},
	    {501, "Not Implemented"},
	    {502, "Bad Gateway"},
	    {503, "Service Unavailable"},
	    {504, "Gateway Timeout"},
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].code == status)
			return tab[i].text;
	return "Unknown";
}
