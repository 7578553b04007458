/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the JOSE unit tests: test data files and JSON/base64url mutations. */
#ifndef KBS_TESTS_JOSE_TESTUTIL_H
#define KBS_TESTS_JOSE_TESTUTIL_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testdata.h"
#include "common/b64.h"
#include "common/jose/jwk.h"

/* Reads $KBS_TEST_DATA/jose/<rel> (NUL-terminated, malloc'ed); aborts the test if missing. */
static __attribute__((unused)) char *td_read(const char *rel, size_t *len)
{
	return td_read_file("jose", rel, len);
}

static __attribute__((unused)) json_t *td_json(const char *rel)
{
	size_t n;
	char *t = td_read(rel, &n);
	json_t *j = json_loadb(t, n, 0, NULL);

	free(t);
	if (!j)
		abort();
	return j;
}

static __attribute__((unused)) struct jwk *td_pem_key(const char *rel)
{
	size_t n;
	char *t = td_read(rel, &n);
	struct jwk *k = NULL;

	if (jwk_from_pem(t, n, &k) != 0)
		abort();
	free(t);
	return k;
}

/* Decodes a base64url string member of o, flips bit `bit` of byte `at`, re-encodes it. */
static __attribute__((unused)) void td_flip_b64_member(json_t *o, const char *name, size_t at, unsigned bit)
{
	const char *s = json_string_value(json_object_get(o, name));
	uint8_t *raw;
	size_t n;
	char *enc;

	if (!s || b64_decode_alloc(s, strlen(s), B64_URL, &raw, &n) != 0 || n == 0)
		abort();
	raw[at % n] ^= (uint8_t)(1u << bit);
	if (b64_encode_alloc(raw, n, B64_URL, &enc) != 0)
		abort();
	json_object_set_new(o, name, json_string(enc));
	free(raw);
	free(enc);
}

/* Replaces a member with base64url of the given bytes. */
static __attribute__((unused)) void td_set_b64_member(json_t *o, const char *name, const void *v, size_t n)
{
	char *enc;

	if (b64_encode_alloc(v, n, B64_URL, &enc) != 0)
		abort();
	json_object_set_new(o, name, json_string(enc));
	free(enc);
}

static __attribute__((unused)) char *td_dump(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	if (!s)
		abort();
	return s;
}

#endif
