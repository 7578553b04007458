// SPDX-License-Identifier: Apache-2.0
#include "server/as/tdx_ccel.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"

#define EV_NO_ACTION 3u
#define ALG_SHA384 0x000Cu
#define MAX_ALGS 16

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		snprintf(why, whylen, __VA_ARGS__);                                                \
		return KBS_ERR_PARSE;                                                              \
	} while (0)

static int extend(uint8_t mr[48], const uint8_t *digest)
{
	uint8_t buf[96];
	unsigned int n = 0;

	memcpy(buf, mr, 48);
	memcpy(buf + 48, digest, 48);
	return EVP_Digest(buf, sizeof(buf), mr, &n, EVP_sha384(), NULL) == 1 ? KBS_OK
									     : KBS_ERR_CRYPTO;
}

int tdx_ccel_replay(const uint8_t *log, size_t len, uint8_t rtmr[4][48], size_t *nevents, char *why,
		    size_t whylen)
{
	static const uint8_t sig[16] = "Spec ID Event03";
	struct {
		uint16_t id, size;
	} algs[MAX_ALGS];
	uint32_t nalgs, sz;
	size_t off, spec;
	int have384 = 0;

	memset(rtmr, 0, 4 * 48);
	*nevents = 0;
	/* header event, SHA-1 format: index, type, digest[20], size, data */
	if (len < 32)
		FAIL("tdx event log: shorter than its header");
	sz = le32(log + 28);
	if (le32(log + 4) != EV_NO_ACTION || sz > len - 32 || sz < 29)
		FAIL("tdx event log: bad spec-ID header event");
	spec = 32;
	if (memcmp(log + spec, sig, 16) != 0)
		FAIL("tdx event log: no 'Spec ID Event03' signature");
	nalgs = le32(log + spec + 24);
	if (nalgs == 0 || nalgs > MAX_ALGS || 28 + 4 * (size_t)nalgs + 1 > sz)
		FAIL("tdx event log: bad algorithm count %u", nalgs);
	for (uint32_t i = 0; i < nalgs; i++) {
		algs[i].id = le16(log + spec + 28 + 4 * i);
		algs[i].size = le16(log + spec + 30 + 4 * i);
		if (algs[i].size == 0 || algs[i].size > 64)
			FAIL("tdx event log: bad digest size for algorithm 0x%04x", algs[i].id);
		if (algs[i].id == ALG_SHA384 && algs[i].size == 48)
			have384 = 1;
	}
	if (!have384)
		FAIL("tdx event log: no SHA-384 digests");
	off = 32 + sz;
	while (len - off >= 8) {
		static const uint8_t ff[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
		static const uint8_t zero[8];
		const uint8_t *d384 = NULL;
		uint32_t idx, type, count;
		size_t o;

		if (memcmp(log + off, zero, 8) == 0 || memcmp(log + off, ff, 8) == 0)
			break;
		if (len - off < 12)
			FAIL("tdx event log: truncated event at %zu", off);
		idx = le32(log + off);
		type = le32(log + off + 4);
		count = le32(log + off + 8);
		if (count == 0 || count > nalgs)
			FAIL("tdx event log: event at %zu has %u digests", off, count);
		o = off + 12;
		for (uint32_t i = 0; i < count; i++) {
			uint16_t id;
			uint32_t k;

			if (len - o < 2)
				FAIL("tdx event log: truncated digest at %zu", o);
			id = le16(log + o);
			for (k = 0; k < nalgs && algs[k].id != id; k++)
				;
			if (k == nalgs)
				FAIL("tdx event log: unknown digest algorithm 0x%04x at %zu", id,
				     o);
			if (len - o - 2 < algs[k].size)
				FAIL("tdx event log: truncated digest at %zu", o);
			if (id == ALG_SHA384)
				d384 = log + o + 2;
			o += 2 + algs[k].size;
		}
		if (len - o < 4 || le32(log + o) > len - o - 4)
			FAIL("tdx event log: truncated event data at %zu", o);
		o += 4 + le32(log + o);
		if (++*nevents > TDX_CCEL_MAX_EVENTS)
			FAIL("tdx event log: more than %d events", TDX_CCEL_MAX_EVENTS);
		if (type != EV_NO_ACTION && idx >= 1 && idx <= 4) {
			if (!d384)
				FAIL("tdx event log: event at %zu has no SHA-384 digest", off);
			if (extend(rtmr[idx - 1], d384) != KBS_OK)
				return KBS_ERR_CRYPTO;
		}
		off = o;
	}
	if (len - off > 0 && len - off < 8)
		FAIL("tdx event log: %zu stray bytes at the end", len - off);
	return KBS_OK;
}
