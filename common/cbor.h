/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_COMMON_CBOR_H
#define KBS_COMMON_CBOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Strict CBOR (RFC 8949) reader over a caller's buffer; nothing is allocated, strings point
 * into the input. One reader for every CBOR format we take from outside (Arm CCA tokens and
 * COSE_Sign1 in server/as, CoRIM/CoMID in rvps). Accepted: unsigned and negative integers,
 * byte and text strings, arrays, maps, tags, false/true/null, definite lengths only.
 * Refused as KBS_ERR_PARSE: truncated items, reserved additional information (28..30),
 * indefinite lengths and the break byte, floats and every simple value other than
 * false/true/null, negative integers below INT64_MIN, text strings that are not UTF-8,
 * array/map counts larger than what is left of the input, nesting (tags included) deeper
 * than CBOR_MAX_DEPTH, and (in cbor_check) anything after the top-level item. Non-shortest
 * heads are accepted: well-formedness is what matters for reading; deterministic encoding
 * is the writer's job.
 */
#define CBOR_MAX_DEPTH 16

enum cbor_major {
	CBOR_UINT = 0,
	CBOR_NINT = 1,	/* value = -1 - arg */
	CBOR_BYTES = 2,
	CBOR_TEXT = 3,
	CBOR_ARRAY = 4, /* arg = number of items that follow */
	CBOR_MAP = 5,	/* arg = number of key/value pairs that follow */
	CBOR_TAG = 6,	/* arg = tag number; the tagged item follows */
	CBOR_SIMPLE = 7 /* arg = 20 false, 21 true, 22 null */
};

/* One data item head. */
struct cbor_item {
	enum cbor_major major;
	uint64_t arg;	     /* integer value, string length, count, tag number or simple value */
	const uint8_t *data; /* BYTES/TEXT: arg bytes (not NUL-terminated) */
};

/* Read position in a buffer; copy it to look ahead. */
struct cbor_cur {
	const uint8_t *p;
	size_t len, off;
};

/* Sets c to the start of p[0..len). */
void cbor_init(struct cbor_cur *c, const uint8_t *p, size_t len);

/* True when nothing is left to read. */
bool cbor_at_end(const struct cbor_cur *c);

/* Reads one head (and a string's payload); containers' members follow in the cursor. */
int cbor_next(struct cbor_cur *c, struct cbor_item *it);

/* After cbor_next returned `it`: skips the rest of that item (its members, its tagged item). */
int cbor_skip_rest(struct cbor_cur *c, const struct cbor_item *it);

/* Skips one whole item. */
int cbor_skip(struct cbor_cur *c);

/* KBS_OK if p[0..len) is exactly one well-formed item under the rules above. */
int cbor_check(const uint8_t *p, size_t len);

/* Integer item as int64: KBS_ERR_RANGE for a UINT above INT64_MAX, KBS_ERR_PARSE if not one. */
int cbor_int(const struct cbor_item *it, int64_t *out);

/*
 * In the map `map` that cbor_next just read from c (c is at its first key), finds the value of
 * integer key `key`: *val is set to a cursor at that value (read it with cbor_next); c does
 * not move. Composite keys and duplicate keys are refused (KBS_ERR_PARSE); KBS_ERR_NOTFOUND
 * when absent.
 */
int cbor_map_find(const struct cbor_cur *c, const struct cbor_item *map, int64_t key,
		  struct cbor_cur *val);

#endif
