// SPDX-License-Identifier: Apache-2.0
#include "rvps/rvps_cbor.h"

#include <string.h>

#include "common/err.h"

void rvps_cbor_init(struct rvps_cbor_cur *c, const uint8_t *p, size_t len)
{
	c->p = p;
	c->len = p ? len : 0;
	c->off = 0;
}

bool rvps_cbor_at_end(const struct rvps_cbor_cur *c)
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

int rvps_cbor_next(struct rvps_cbor_cur *c, struct rvps_cbor_item *it)
{
	uint8_t ib, ai;
	uint64_t arg = 0;
	size_t n;

	memset(it, 0, sizeof(*it));
	if (c->off >= c->len)
		return KBS_ERR_PARSE;
	ib = c->p[c->off++];
	it->major = (enum rvps_cbor_major)(ib >> 5);
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
	switch (it->major) {
	case RCBOR_BYTES:
	case RCBOR_TEXT:
		if (arg > c->len - c->off)
			return KBS_ERR_PARSE;
		it->data = c->p + c->off;
		c->off += (size_t)arg;
		if (it->major == RCBOR_TEXT && !utf8_ok(it->data, (size_t)arg))
			return KBS_ERR_PARSE;
		break;
	case RCBOR_ARRAY:
	case RCBOR_MAP:
		/* every member takes at least one byte: bound counts by what is left */
		if (arg > c->len - c->off || (it->major == RCBOR_MAP && arg > (c->len - c->off) / 2))
			return KBS_ERR_PARSE;
		break;
	case RCBOR_SIMPLE:
		if (ai == 24 && arg < 32)
			return KBS_ERR_PARSE;
		it->is_float = ai >= 25;
		break;
	default:
		break;
	}
	return KBS_OK;
}

static int skip_rest(struct rvps_cbor_cur *c, const struct rvps_cbor_item *it, int depth)
{
	struct rvps_cbor_item sub;
	uint64_t n;
	int rc;

	if (depth > RCBOR_MAX_DEPTH)
		return KBS_ERR_PARSE;
	switch (it->major) {
	case RCBOR_ARRAY:
	case RCBOR_MAP:
		n = it->major == RCBOR_MAP ? it->arg * 2 : it->arg;
		for (uint64_t i = 0; i < n; i++) {
			if ((rc = rvps_cbor_next(c, &sub)) != KBS_OK ||
			    (rc = skip_rest(c, &sub, depth + 1)) != KBS_OK)
				return rc;
		}
		return KBS_OK;
	case RCBOR_TAG:
		if ((rc = rvps_cbor_next(c, &sub)) != KBS_OK)
			return rc;
		return skip_rest(c, &sub, depth + 1);
	default:
		return KBS_OK;
	}
}

int rvps_cbor_skip_rest(struct rvps_cbor_cur *c, const struct rvps_cbor_item *it)
{
	return skip_rest(c, it, 1);
}

int rvps_cbor_skip(struct rvps_cbor_cur *c)
{
	struct rvps_cbor_item it;
	int rc = rvps_cbor_next(c, &it);

	return rc != KBS_OK ? rc : skip_rest(c, &it, 1);
}

int rvps_cbor_check(const uint8_t *p, size_t len)
{
	struct rvps_cbor_cur c;
	int rc;

	rvps_cbor_init(&c, p, len);
	if ((rc = rvps_cbor_skip(&c)) != KBS_OK)
		return rc;
	return rvps_cbor_at_end(&c) ? KBS_OK : KBS_ERR_PARSE;
}
