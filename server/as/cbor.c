// SPDX-License-Identifier: Apache-2.0
#include "server/as/cbor.h"

#include "common/err.h"

int cbor_head(const uint8_t **cur, const uint8_t *end, struct cbor_item *it)
{
	const uint8_t *p = *cur;
	uint8_t ib, ai;
	uint64_t v = 0;
	size_t n;

	if (p >= end)
		return KBS_ERR_PARSE;
	it->start = p;
	ib = *p++;
	it->type = (enum cbor_type)(ib >> 5);
	ai = ib & 31;
	if (ai < 24) {
		v = ai;
	} else if (ai <= 27) {
		n = (size_t)1 << (ai - 24);
		if ((size_t)(end - p) < n)
			return KBS_ERR_PARSE;
		for (size_t i = 0; i < n; i++)
			v = v << 8 | p[i];
		p += n;
	} else {
		return KBS_ERR_PARSE; /* reserved or indefinite length */
	}
	it->val = v;
	it->p = NULL;
	switch (it->type) {
	case CBOR_BSTR:
	case CBOR_TSTR:
		if (v > (uint64_t)(end - p))
			return KBS_ERR_PARSE;
		it->p = p;
		p += v;
		break;
	case CBOR_SIMPLE:
		if (ai >= 24 || v < 20 || v > 22)
			return KBS_ERR_PARSE; /* floats and other simple values */
		break;
	case CBOR_NINT:
		if (v > (uint64_t)INT64_MAX)
			return KBS_ERR_PARSE;
		break;
	default:
		break;
	}
	*cur = p;
	return KBS_OK;
}

static int skip(const uint8_t **cur, const uint8_t *end, int depth)
{
	struct cbor_item it;
	int rc;

	if (depth > CBOR_MAX_DEPTH)
		return KBS_ERR_PARSE;
	if ((rc = cbor_head(cur, end, &it)) != KBS_OK)
		return rc;
	switch (it.type) {
	case CBOR_ARRAY:
	case CBOR_MAP: {
		uint64_t n = it.val;
		if (it.type == CBOR_MAP) {
			if (n > (uint64_t)(end - *cur) / 2)
				return KBS_ERR_PARSE;
			n *= 2;
		} else if (n > (uint64_t)(end - *cur)) {
			return KBS_ERR_PARSE; /* each element takes at least one byte */
		}
		for (uint64_t i = 0; i < n; i++)
			if ((rc = skip(cur, end, depth + 1)) != KBS_OK)
				return rc;
		return KBS_OK;
	}
	case CBOR_TAG:
		return skip(cur, end, depth + 1);
	default:
		return KBS_OK;
	}
}

int cbor_skip(const uint8_t **cur, const uint8_t *end)
{
	return skip(cur, end, 0);
}

int cbor_check(const uint8_t *p, size_t len)
{
	const uint8_t *cur = p;
	int rc = cbor_skip(&cur, p + len);

	if (rc == KBS_OK && cur != p + len)
		return KBS_ERR_PARSE;
	return rc;
}

int cbor_int(const struct cbor_item *it, int64_t *out)
{
	if (it->type == CBOR_UINT) {
		if (it->val > (uint64_t)INT64_MAX)
			return KBS_ERR_RANGE;
		*out = (int64_t)it->val;
		return KBS_OK;
	}
	if (it->type == CBOR_NINT) {
		*out = -1 - (int64_t)it->val;
		return KBS_OK;
	}
	return KBS_ERR_PARSE;
}

int cbor_map_find(const uint8_t *cur, const uint8_t *end, const struct cbor_item *map, int64_t key,
		  const uint8_t **val)
{
	const uint8_t *found = NULL;
	int rc;

	if (map->type != CBOR_MAP)
		return KBS_ERR_PARSE;
	for (uint64_t i = 0; i < map->val; i++) {
		struct cbor_item k;
		int64_t kv;

		if ((rc = cbor_head(&cur, end, &k)) != KBS_OK)
			return rc;
		if (k.type == CBOR_ARRAY || k.type == CBOR_MAP || k.type == CBOR_TAG)
			return KBS_ERR_PARSE; /* no composite keys in these tokens */
		if (cbor_int(&k, &kv) == KBS_OK && kv == key) {
			if (found)
				return KBS_ERR_PARSE; /* duplicate key */
			found = cur;
		}
		if ((rc = cbor_skip(&cur, end)) != KBS_OK)
			return rc;
	}
	if (!found)
		return KBS_ERR_NOTFOUND;
	*val = found;
	return KBS_OK;
}
