/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_COMMON_CBOR_H
#define KBS_COMMON_CBOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Strict CBOR (RFC 8949) reader over a caller's buffer; nothing is allocated.
 * Refused as KBS_ERR_PARSE: truncated items, reserved additional information (28..30),
 * indefinite lengths (none of the formats we read use them), two-byte simple values below
 * 32, text strings that are not UTF-8, nesting deeper than CBOR_MAX_DEPTH, and (in
 * cbor_check) anything after the top-level item. Non-shortest heads are accepted (RFC 8949
 * "well-formed" is what matters for reading; deterministic encoding is the writer's job).
 */
#define CBOR_MAX_DEPTH 64

enum cbor_major {
	CBOR_UINT = 0,
	CBOR_NINT = 1,  /* value = -1 - arg */
	CBOR_BYTES = 2,
	CBOR_TEXT = 3,
	CBOR_ARRAY = 4, /* arg = number of items that follow */
	CBOR_MAP = 5,   /* arg = number of key/value pairs that follow */
	CBOR_TAG = 6,   /* arg = tag number; the tagged item follows */
	CBOR_SIMPLE = 7 /* arg = simple value (20 false, 21 true, 22 null) or float bits */
};

struct cbor_item {
	enum cbor_major major;
	uint64_t arg;
	const uint8_t *data; /* BYTES/TEXT: arg bytes (not NUL-terminated) */
	bool is_float;       /* SIMPLE with a half/single/double float */
};

struct cbor_cur {
	const uint8_t *p;
	size_t len, off;
};

void cbor_init(struct cbor_cur *c, const uint8_t *p, size_t len);

/* Reads one head (and a string's payload); containers' members follow in the cursor. */
int cbor_next(struct cbor_cur *c, struct cbor_item *it);

/* Reads the head it already read past: skips the rest of that item (its members). */
int cbor_skip_rest(struct cbor_cur *c, const struct cbor_item *it);

/* Skips one whole item. */
int cbor_skip(struct cbor_cur *c);

/* KBS_OK if p[0..len) is exactly one well-formed item under the rules above. */
int cbor_check(const uint8_t *p, size_t len);

bool cbor_at_end(const struct cbor_cur *c);

#endif
