/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_COMMON_JCS_H
#define KBS_COMMON_JCS_H

#include <jansson.h>
#include "common/buf.h"

/*
 * RFC 8785 JSON Canonicalization Scheme: object members sorted by their UTF-16 code units,
 * no whitespace, ECMAScript number formatting (shortest round-trip, exponent rules of
 * Number.prototype.toString), minimal string escaping. Integers from jansson are emitted as
 * ECMAScript would print the same double; integers beyond 2^53 are rejected (KBS_ERR_RANGE)
 * because they cannot round-trip through an IEEE double.
 */
int jcs_serialize(const json_t *v, struct buf *out);

/* Convenience: canonicalise raw JSON text (parsed strictly with json_parse). */
int jcs_canonicalize_text(const char *text, size_t len, struct buf *out);

/* Format one double as ECMAScript Number.prototype.toString would (for tests). */
int jcs_format_number(double d, char *out, size_t outlen);

#endif
