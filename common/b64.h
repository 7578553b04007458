/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_COMMON_B64_H
#define KBS_COMMON_B64_H

#include <stddef.h>
#include <stdint.h>

/*
 * Base64 (RFC 4648 §4, padded) and base64url (§5, unpadded) plus hex.
 * Decoding is strict: characters outside the alphabet, whitespace, wrong or missing padding
 * (standard) or any padding (url), and non-zero trailing bits are rejected with
 * KBS_ERR_PARSE. Output buffers are caller-provided; *outlen is set on success.
 */
enum b64_variant { B64_STD = 0, B64_URL = 1 };

size_t b64_encoded_len(size_t inlen, enum b64_variant v);
/* Upper bound on decoded length for an input of inlen characters. */
size_t b64_decoded_max(size_t inlen);

/* Writes a NUL-terminated string; outcap must be >= b64_encoded_len()+1. */
int b64_encode(const uint8_t *in, size_t inlen, char *out, size_t outcap, enum b64_variant v);
int b64_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap, size_t *outlen,
	       enum b64_variant v);

/* Allocating helpers (malloc; NUL-terminated for encode, +1 zero byte for decode). */
int b64_encode_alloc(const uint8_t *in, size_t inlen, enum b64_variant v, char **out);
int b64_decode_alloc(const char *in, size_t inlen, enum b64_variant v, uint8_t **out,
		     size_t *outlen);

/* Value (0-15) of one hex digit, either case; -1 for anything else (also EOF). */
int hex_digit(int c);

/* Lower-case hex. */
int hex_encode(const uint8_t *in, size_t inlen, char *out, size_t outcap);
/* Accepts upper and lower case; odd length or non-hex characters are KBS_ERR_PARSE. */
int hex_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap, size_t *outlen);

#endif
