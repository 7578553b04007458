/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_CBOR_H
#define KBS_AS_CBOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Strict, allocation-free CBOR (RFC 8949) reader for attestation tokens. Accepted: unsigned
 * and negative integers, byte and text strings, arrays, maps, tags, false/true/null; only
 * definite lengths. Refused (KBS_ERR_PARSE): indefinite lengths, floats, other simple values,
 * reserved additional-info values, lengths beyond the buffer, nesting deeper than
 * CBOR_MAX_DEPTH, negative integers below INT64_MIN. Strings point into the input buffer.
 */

#define CBOR_MAX_DEPTH 16

enum cbor_type {
	CBOR_UINT = 0,
	CBOR_NINT = 1,
	CBOR_BSTR = 2,
	CBOR_TSTR = 3,
	CBOR_ARRAY = 4,
	CBOR_MAP = 5,
	CBOR_TAG = 6,
	CBOR_SIMPLE = 7, /* false, true, null: val 20, 21, 22 */
};

/* One data item head; for containers `val` is the element (array) or pair (map) count. */
struct cbor_item {
	enum cbor_type type;
	uint64_t val;	      /* integer value, length, count, tag number or simple value */
	const uint8_t *p;     /* string bytes (BSTR/TSTR) */
	const uint8_t *start; /* first byte of the head */
};

/* Reads the head at *cur (strings: also their content) and advances *cur past it. */
int cbor_head(const uint8_t **cur, const uint8_t *end, struct cbor_item *it);

/* Skips one complete data item (with everything nested in it). */
int cbor_skip(const uint8_t **cur, const uint8_t *end);

/* The whole buffer is exactly one well-formed item. */
int cbor_check(const uint8_t *p, size_t len);

/* Integer item as int64 (UINT up to INT64_MAX, NINT down to INT64_MIN). */
int cbor_int(const struct cbor_item *it, int64_t *out);

/*
 * In the map whose head was just read (*cur points at its first key, it = map head), finds the
 * value of integer key `key`: *val is set to its position (read it with cbor_head). Duplicate
 * keys are refused. KBS_ERR_NOTFOUND when absent.
 */
int cbor_map_find(const uint8_t *cur, const uint8_t *end, const struct cbor_item *map, int64_t key,
		  const uint8_t **val);

#endif
