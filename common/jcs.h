/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_COMMON_JCS_H
#define KBS_COMMON_JCS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/*
 * RFC 8785 JSON Canonicalization Scheme: object members sorted by their UTF-16 code units,
 * no whitespace, ECMAScript number formatting (shortest round-trip, exponent rules of
 * Number.prototype.toString), minimal string escaping. Integers from jansson are emitted as
 * ECMAScript would print the same double; integers beyond 2^53 are rejected (KBS_ERR_RANGE)
 * because they cannot round-trip through an IEEE double.
 */
/*
 * Appends the canonical form of v to out. Errors (out left as it was): KBS_ERR_RANGE for an
 * integer beyond +-2^53 or nesting deeper than 2048, KBS_ERR_INVAL for NaN/Infinity reals or
 * strings/keys that are not valid UTF-8 (possible only for values built with *_nocheck),
 * KBS_ERR_NOMEM, or buf's KBS_ERR_RANGE when out->max would be exceeded.
 */
int jcs_serialize(const json_t *v, struct buf *out);

/*
 * Convenience: canonicalise raw JSON text (parsed strictly with json_parse, default size
 * limit) and append it to out. Note jansson refuses integers outside int64 (KBS_ERR_PARSE)
 * where ECMAScript would round them to a double.
 */
int jcs_canonicalize_text(const char *text, size_t len, struct buf *out);

/*
 * Digest of the canonical form of v, as used for the KBS runtime-data binding
 * (report_data = H(JCS{"tee-pubkey","nonce","additional-evidence"})). alg: "sha256", "sha384",
 * "sha512" or "sm3" (case-insensitive, as Trustee's hash-algorithm names). md must hold
 * mdsize >= 64 bytes; *mdlen gets the digest length. KBS_ERR_UNSUPPORTED for another alg,
 * KBS_ERR_RANGE if mdsize is too small, jcs_serialize errors otherwise.
 */
int jcs_digest(const json_t *v, const char *alg, uint8_t *md, size_t mdsize, size_t *mdlen);

/*
 * Format one double as ECMAScript Number.prototype.toString would ("-0" -> "0", 1e21 ->
 * "1e+21", 1e-7 -> "1e-7"). KBS_ERR_INVAL for NaN/Infinity; KBS_ERR_RANGE if outlen is too
 * small (JCS_NUMBER_MAX bytes always suffice).
 */
#define JCS_NUMBER_MAX 32
int jcs_format_number(double d, char *out, size_t outlen);

/*
 * Appends s[0..n) as a quoted JSON string: '"', '\\' and C0 controls escaped (the short forms
 * where JSON has them, \u00xx otherwise, upper-case hex as jansson writes when upper_hex, the
 * lower case RFC 8785 requires when not); every other byte is copied as is (no UTF-8 check).
 */
int json_append_escaped(struct buf *b, const char *s, size_t n, bool upper_hex);

#endif
