// SPDX-License-Identifier: Apache-2.0
#include "common/cbor.h"

#include <string.h>

#include "common/err.h"

void cbor_init(struct cbor_cur *c, const uint8_t *p, size_t len)
{
	c->p = p;
	c->len = p ? len : 0;
	c->off = 0;
}

bool cbor_at_end(const struct cbor_cur *c)
{
	return c->off >= c->len;
}

/* RFC 3629 UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
static bool utf8_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t b = s[i];
		size_t k;
		uint32_t cp;

		if (b < 0x80) {
			i++;
			continue;
		}
		if (b >= 0xc2 && b <= 0xdf) {
			k = 1;
			cp = b & 0x1f;
		} else if (b >= 0xe0 && b <= 0xef) {
			k = 2;
			cp = b & 0x0f;
		} else if (b >= 0xf0 && b <= 0xf4) {
			k = 3;
			cp = b & 0x07;
		} else {
			return false;
		}
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += k + 1;
	}
	return true;
}

int cbor_next(struct cbor_cur *c, struct cbor_item *it)
{
	uint8_t ib, ai;
	uint64_t arg = 0;
	size_t n, left;

	memset(it, 0, sizeof(*it));
	if (c->off >= c->len)
		return KBS_ERR_PARSE;
	ib = c->p[c->off++];
	it->major = (enum cbor_major)(ib >> 5);
	ai = ib & 0x1f;
	if (ai < 24) {
		arg = ai;
	} else if (ai <= 27) {
		n = (size_t)1 << (ai - 24);
		if (c->len - c->off < n)
			return KBS_ERR_PARSE;
		for (size_t i = 0; i < n; i++)
			arg = (arg << 8) | c->p[c->off + i];
		c->off += n;
	} else {
		/* 28..30 reserved; 31 = indefinite length / break: not accepted */
		return KBS_ERR_PARSE;
	}
	it->arg = arg;
	left = c->len - c->off;
	switch (it->major) {
	case CBOR_NINT:
		if (arg > (uint64_t)INT64_MAX)
			return KBS_ERR_PARSE;
		break;
	case CBOR_BYTES:
	case CBOR_TEXT:
		if (arg > left)
			return KBS_ERR_PARSE;
		it->data = c->p + c->off;
		c->off += (size_t)arg;
		if (it->major == CBOR_TEXT && !utf8_ok(it->data, (size_t)arg))
			return KBS_ERR_PARSE;
		break;
	case CBOR_ARRAY:
	case CBOR_MAP:
		/* every member takes at least one byte: bound counts by what is left */
		if (arg > left || (it->major == CBOR_MAP && arg > left / 2))
			return KBS_ERR_PARSE;
		break;
	case CBOR_SIMPLE:
		if (ai >= 24 || arg < 20 || arg > 22)
			return KBS_ERR_PARSE; /* floats and other simple values */
		break;
	default:
		break;
	}
	return KBS_OK;
}

static int skip_rest(struct cbor_cur *c, const struct cbor_item *it, int depth)
{
	struct cbor_item sub;
	uint64_t n;
	int rc;

	if (depth > CBOR_MAX_DEPTH)
		return KBS_ERR_PARSE;
	switch (it->major) {
	case CBOR_ARRAY:
	case CBOR_MAP:
		n = it->major == CBOR_MAP ? it->arg * 2 : it->arg;
		for (uint64_t i = 0; i < n; i++) {
			if ((rc = cbor_next(c, &sub)) != KBS_OK ||
			    (rc = skip_rest(c, &sub, depth + 1)) != KBS_OK)
				return rc;
		}
		return KBS_OK;
	case CBOR_TAG:
		if ((rc = cbor_next(c, &sub)) != KBS_OK)
			return rc;
		return skip_rest(c, &sub, depth + 1);
	default:
		return KBS_OK;
	}
}

int cbor_skip_rest(struct cbor_cur *c, const struct cbor_item *it)
{
	return skip_rest(c, it, 1);
}

int cbor_skip(struct cbor_cur *c)
{
	struct cbor_item it;
	int rc = cbor_next(c, &it);

	return rc != KBS_OK ? rc : skip_rest(c, &it, 1);
}

int cbor_check(const uint8_t *p, size_t len)
{
	struct cbor_cur c;
	int rc;

	cbor_init(&c, p, len);
	if ((rc = cbor_skip(&c)) != KBS_OK)
		return rc;
	return cbor_at_end(&c) ? KBS_OK : KBS_ERR_PARSE;
}

int cbor_int(const struct cbor_item *it, int64_t *out)
{
	if (it->major == CBOR_UINT) {
		if (it->arg > (uint64_t)INT64_MAX)
			return KBS_ERR_RANGE;
		*out = (int64_t)it->arg;
		return KBS_OK;
	}
	if (it->major == CBOR_NINT) {
		*out = -1 - (int64_t)it->arg; /* cbor_next keeps arg <= INT64_MAX */
		return KBS_OK;
	}
	return KBS_ERR_PARSE;
}

int cbor_map_find(const struct cbor_cur *c, const struct cbor_item *map, int64_t key,
		  struct cbor_cur *val)
{
	struct cbor_cur cur = *c, found = {0};
	bool have = false;
	int rc;

	if (map->major != CBOR_MAP)
		return KBS_ERR_PARSE;
	for (uint64_t i = 0; i < map->arg; i++) {
		struct cbor_item k;
		int64_t kv;

		if ((rc = cbor_next(&cur, &k)) != KBS_OK)
			return rc;
		if (k.major == CBOR_ARRAY || k.major == CBOR_MAP || k.major == CBOR_TAG)
			return KBS_ERR_PARSE; /* no composite keys in the formats we read */
		if (cbor_int(&k, &kv) == KBS_OK && kv == key) {
			if (have)
				return KBS_ERR_PARSE; /* duplicate key */
			found = cur;
			have = true;
		}
		if ((rc = cbor_skip(&cur)) != KBS_OK)
			return rc;
	}
	if (!have)
		return KBS_ERR_NOTFOUND;
	*val = found;
	return KBS_OK;
}
