// SPDX-License-Identifier: Apache-2.0
#include "common/b64.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

static const char alpha_std[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char alpha_url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t b64_encoded_len(size_t inlen, enum b64_variant v)
{
	if (v == B64_STD)
		return (inlen + 2) / 3 * 4;
	return inlen / 3 * 4 + (inlen % 3 ? inlen % 3 + 1 : 0);
}

size_t b64_decoded_max(size_t inlen)
{
	return inlen / 4 * 3 + 3;
}

int b64_encode(const uint8_t *in, size_t inlen, char *out, size_t outcap, enum b64_variant v)
{
	const char *a = v == B64_URL ? alpha_url : alpha_std;
	size_t need = b64_encoded_len(inlen, v), i, o = 0;

	if (need >= outcap)
		return KBS_ERR_RANGE;
	for (i = 0; i + 3 <= inlen; i += 3) {
		uint32_t x = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = a[x >> 18 & 63];
		out[o++] = a[x >> 12 & 63];
		out[o++] = a[x >> 6 & 63];
		out[o++] = a[x & 63];
	}
	if (inlen - i == 1) {
		uint32_t x = (uint32_t)in[i] << 16;

		out[o++] = a[x >> 18 & 63];
		out[o++] = a[x >> 12 & 63];
		if (v == B64_STD) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (inlen - i == 2) {
		uint32_t x = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = a[x >> 18 & 63];
		out[o++] = a[x >> 12 & 63];
		out[o++] = a[x >> 6 & 63];
		if (v == B64_STD)
			out[o++] = '=';
	}
	out[o] = 0;
	return KBS_OK;
}

static int dval(char c, enum b64_variant v)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (v == B64_STD) {
		if (c == '+')
			return 62;
		if (c == '/')
			return 63;
	} else {
		if (c == '-')
			return 62;
		if (c == '_')
			return 63;
	}
	return -1;
}

int b64_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap, size_t *outlen,
	       enum b64_variant v)
{
	size_t pad = 0, n, i, o = 0, rem;
	uint32_t acc = 0;
	int bits = 0;

	if (v == B64_STD) {
		if (inlen % 4)
			return KBS_ERR_PARSE;
		while (pad < 2 && inlen > pad && in[inlen - 1 - pad] == '=')
			pad++;
	}
	n = inlen - pad;
	rem = n % 4;
	if (rem == 1)
		return KBS_ERR_PARSE;
	if (n / 4 * 3 + (rem ? rem - 1 : 0) > outcap)
		return KBS_ERR_RANGE;
	for (i = 0; i < n; i++) {
		int d = dval(in[i], v);

		if (d < 0)
			return KBS_ERR_PARSE;
		acc = acc << 6 | (uint32_t)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Non-canonical encodings leave set bits below the last full byte. */
	if (acc != 0)
		return KBS_ERR_PARSE;
	*outlen = o;
	return KBS_OK;
}

int b64_encode_alloc(const uint8_t *in, size_t inlen, enum b64_variant v, char **out)
{
	size_t cap = b64_encoded_len(inlen, v) + 1;
	char *p = malloc(cap);
	int rc;

	*out = NULL;
	if (!p)
		return KBS_ERR_NOMEM;
	rc = b64_encode(in, inlen, p, cap, v);
	if (rc) {
		free(p);
		return rc;
	}
	*out = p;
	return KBS_OK;
}

int b64_decode_alloc(const char *in, size_t inlen, enum b64_variant v, uint8_t **out,
		     size_t *outlen)
{
	size_t cap = b64_decoded_max(inlen) + 1;
	uint8_t *p = malloc(cap);
	int rc;

	*out = NULL;
	if (!p)
		return KBS_ERR_NOMEM;
	rc = b64_decode(in, inlen, p, cap, outlen, v);
	if (rc) {
		free(p);
		return rc;
	}
	p[*outlen] = 0;
	*out = p;
	return KBS_OK;
}

int hex_encode(const uint8_t *in, size_t inlen, char *out, size_t outcap)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	if (inlen > (SIZE_MAX - 1) / 2 || inlen * 2 + 1 > outcap)
		return KBS_ERR_RANGE;
	for (i = 0; i < inlen; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * inlen] = 0;
	return KBS_OK;
}

int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap, size_t *outlen)
{
	size_t i;

	if (inlen % 2)
		return KBS_ERR_PARSE;
	if (inlen / 2 > outcap)
		return KBS_ERR_RANGE;
	for (i = 0; i < inlen; i += 2) {
		int h = hex_digit((unsigned char)in[i]), l = hex_digit((unsigned char)in[i + 1]);

		if (h < 0 || l < 0)
			return KBS_ERR_PARSE;
		out[i / 2] = (uint8_t)(h << 4 | l);
	}
	*outlen = inlen / 2;
	return KBS_OK;
}
