/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_COMMON_HTTP_UTIL_H
#define KBS_COMMON_HTTP_UTIL_H

#include <stddef.h>
#include <sys/socket.h>

/*
 * Internal parsers of the HTTP wrappers, exposed for unit tests and fuzzing.
 * Not part of the public HTTP API; components use http_server.h / http_client.h.
 */

/* Bounds of the Cookie header parser. */
#define HTTP_COOKIE_MAX_HEADER 8192 /* longer Cookie headers are refused */
#define HTTP_COOKIE_MAX_PAIRS 64    /* more cookie-pairs are refused */

/*
 * Finds cookie `name` in one Cookie request header value (RFC 6265 §4.2.1 cookie-string:
 * cookie-pair *( ";" SP cookie-pair ); optional whitespace around ';' and at both ends and
 * one trailing ';' are tolerated because common clients send them). The whole header is
 * validated even when the cookie appears early: any malformed pair rejects the header.
 * name is an RFC 7230 token, value a run of cookie-octets, optionally in DQUOTEs (removed).
 * The first pair with a matching (case-sensitive) name wins.
 * Writes the NUL-terminated value to out; out may be NULL with outlen 0 to only validate the
 * header and test for presence. Returns KBS_OK, KBS_ERR_NOTFOUND (header valid,
 * cookie absent), KBS_ERR_PARSE (malformed header), KBS_ERR_RANGE (header longer than
 * HTTP_COOKIE_MAX_HEADER, more than HTTP_COOKIE_MAX_PAIRS pairs, or value does not fit out),
 * KBS_ERR_INVAL (bad arguments or name not a token).
 */
int http_cookie_find(const char *hdr, size_t len, const char *name, char *out, size_t outlen);

/* True if s[0..len) is a non-empty RFC 7230 token. */
int http_is_token(const char *s, size_t len);

/*
 * Parses a listen address "IP:PORT": IPv4 dotted quad ("0.0.0.0:8080") or an IPv6 literal in
 * brackets ("[::1]:8080"); port 0..65535 in decimal without sign or leading garbage. Host
 * names are refused (a listen address must not depend on DNS).
 * Returns KBS_OK or KBS_ERR_PARSE.
 */
int http_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sslen);

/* Formats a socket address as "1.2.3.4:80" / "[::1]:80" into out; returns out. */
const char *http_format_addr(const struct sockaddr *sa, char *out, size_t outlen);

/*
 * Percent-decodes a request path (len bytes, no query) into out (NUL-terminated).
 * "%2F"/"%2f" stays encoded so that every '/' in the result is a real segment separator;
 * so do escapes of control bytes ("%00", "%0a", "%7f"), and a malformed escape ("%", "%2",
 * "%zz") keeps its '%': the result never holds a control byte, and handlers refuse the '%'
 * like any other character outside their syntax. '+' is not special. Refused
 * (KBS_ERR_PARSE): a raw byte below 0x20 or 0x7f. KBS_ERR_RANGE if out is too small.
 */
int http_path_decode(const char *in, size_t len, char *out, size_t outlen);

/*
 * Decodes one application/x-www-form-urlencoded component (a query-string key or value,
 * without its '=' or '&'): '+' is a space, "%XX" the byte XX; a '%' without two hex digits
 * after it stays as it is (WHATWG URL). Writes the bytes to out with a NUL after them and
 * their count to *declen (may be NULL); a decoded %00 is kept, so callers that want C strings
 * check for it. KBS_ERR_RANGE if out (outlen bytes) cannot hold the result and its NUL.
 */
int http_form_decode(const char *in, size_t len, char *out, size_t outlen, size_t *declen);

/* Standard reason phrase for an HTTP status ("Not Found"); "Unknown" when none. */
const char *http_reason_phrase(int status);

#endif
