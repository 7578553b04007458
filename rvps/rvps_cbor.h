/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_RVPS_CBOR_H
#define KBS_RVPS_CBOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Strict CBOR (RFC 8949) reader over a caller's buffer; nothing is allocated.
 * Refused as KBS_ERR_PARSE: truncated items, reserved additional information (28..30),
 * indefinite lengths (none of the formats we read use them), two-byte simple values below
 * 32, text strings that are not UTF-8, nesting deeper than RCBOR_MAX_DEPTH, and (in
 * rvps_cbor_check) anything after the top-level item. Non-shortest heads are accepted (RFC 8949
 * "well-formed" is what matters for reading; deterministic encoding is the writer's job).
 * server/as/cbor.c (CCA tokens) is a second reader with other rules (no floats, depth 16);
 * kbsrvps sits below kbsas, so it cannot use that one: one reader in common/ is a follow-up.
 */
#define RCBOR_MAX_DEPTH 64

enum rvps_cbor_major {
	RCBOR_UINT = 0,
	RCBOR_NINT = 1,  /* value = -1 - arg */
	RCBOR_BYTES = 2,
	RCBOR_TEXT = 3,
	RCBOR_ARRAY = 4, /* arg = number of items that follow */
	RCBOR_MAP = 5,   /* arg = number of key/value pairs that follow */
	RCBOR_TAG = 6,   /* arg = tag number; the tagged item follows */
	RCBOR_SIMPLE = 7 /* arg = simple value (20 false, 21 true, 22 null) or float bits */
};

struct rvps_cbor_item {
	enum rvps_cbor_major major;
	uint64_t arg;
	const uint8_t *data; /* BYTES/TEXT: arg bytes (not NUL-terminated) */
	bool is_float;       /* SIMPLE with a half/single/double float */
};

struct rvps_cbor_cur {
	const uint8_t *p;
	size_t len, off;
};

void rvps_cbor_init(struct rvps_cbor_cur *c, const uint8_t *p, size_t len);

/* Reads one head (and a string's payload); containers' members follow in the cursor. */
int rvps_cbor_next(struct rvps_cbor_cur *c, struct rvps_cbor_item *it);

/* Reads the head it already read past: skips the rest of that item (its members). */
int rvps_cbor_skip_rest(struct rvps_cbor_cur *c, const struct rvps_cbor_item *it);

/* Skips one whole item. */
int rvps_cbor_skip(struct rvps_cbor_cur *c);

/* KBS_OK if p[0..len) is exactly one well-formed item under the rules above. */
int rvps_cbor_check(const uint8_t *p, size_t len);

bool rvps_cbor_at_end(const struct rvps_cbor_cur *c);

#endif
