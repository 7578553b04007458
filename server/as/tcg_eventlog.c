// SPDX-License-Identifier: Apache-2.0
#include "server/as/tcg_eventlog.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "server/as/tpm_quote.h"

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

int tcg_replay_init(struct tcg_replay *r, uint16_t alg)
{
	memset(r, 0, sizeof(*r));
	r->alg = alg;
	r->dlen = tpm_alg_len(alg);
	if (!r->dlen || !tpm_alg_md(alg))
		return KBS_ERR_UNSUPPORTED;
	for (unsigned i = 17; i <= 22; i++)
		memset(r->pcr[i], 0xff, r->dlen);
	return KBS_OK;
}

static int extend(struct tcg_replay *r, uint32_t idx, const uint8_t *digest)
{
	uint8_t buf[128];
	unsigned int n = 0;

	memcpy(buf, r->pcr[idx], r->dlen);
	memcpy(buf + r->dlen, digest, r->dlen);
	if (EVP_Digest(buf, 2 * r->dlen, r->pcr[idx], &n, tpm_alg_md(r->alg), NULL) != 1)
		return KBS_ERR_CRYPTO;
	r->touched |= 1u << idx;
	if (idx == 0)
		r->pcr0_extended = true;
	return KBS_OK;
}

struct alg_size {
	uint16_t id, size;
};

/*
 * One TCG_PCR_EVENT2 at log[off..]: *next = offset after it. algs[nalgs] gives the digest
 * sizes (from the spec-ID header, or the known sizes for a headerless log). On return
 * *digest points at the digest of r->alg (NULL if the event has none).
 */
static int parse_event2(const struct tcg_replay *r, const uint8_t *log, size_t len, size_t off,
			const struct alg_size *algs, uint32_t nalgs, uint32_t *idx, uint32_t *type,
			const uint8_t **digest, const uint8_t **data, size_t *dlen, size_t *next,
			char *why, size_t whylen)
{
	uint32_t count;
	size_t o;

	if (len - off < 12)
		FAIL("event log: truncated event at offset %zu", off);
	*idx = le32(log + off);
	*type = le32(log + off + 4);
	count = le32(log + off + 8);
	if (count == 0 || count > nalgs)
		FAIL("event log: event at offset %zu has %u digests", off, count);
	*digest = NULL;
	o = off + 12;
	for (uint32_t i = 0; i < count; i++) {
		uint16_t id;
		uint32_t k;

		if (len - o < 2)
			FAIL("event log: truncated digest at offset %zu", o);
		id = le16(log + o);
		for (k = 0; k < nalgs && algs[k].id != id; k++)
			;
		if (k == nalgs)
			FAIL("event log: unknown digest algorithm 0x%04x at offset %zu", id, o);
		if (len - o - 2 < algs[k].size)
			FAIL("event log: truncated digest at offset %zu", o);
		if (id == r->alg) {
			if (algs[k].size != r->dlen)
				FAIL("event log: digest size %u for algorithm 0x%04x", algs[k].size,
				     id);
			*digest = log + o + 2;
		}
		o += 2 + (size_t)algs[k].size;
	}
	if (len - o < 4 || le32(log + o) > len - o - 4)
		FAIL("event log: truncated event data at offset %zu", o);
	*data = log + o + 4;
	*dlen = le32(log + o);
	*next = o + 4 + *dlen;
	if (*idx >= TCG_NPCRS && *type != TCG_EV_NO_ACTION)
		FAIL("event log: event at offset %zu extends PCR %u", off, *idx);
	return KBS_OK;
}

int tcg_replay_firmware_log(struct tcg_replay *r, const uint8_t *log, size_t len, char *why,
			    size_t whylen)
{
	static const uint8_t sig[16] = "Spec ID Event03";
	static const uint8_t locality[16] = "StartupLocality";
	struct alg_size algs[MAX_ALGS];
	uint32_t nalgs, sz;
	size_t off;
	int rc;

	/* header event, SHA-1 format: index, type, digest[20], size, data */
	if (len < 32)
		FAIL("event log: shorter than its header");
	sz = le32(log + 28);
	if (le32(log + 4) != TCG_EV_NO_ACTION || sz > len - 32 || sz < 29)
		FAIL("event log: bad spec-ID header event");
	if (memcmp(log + 32, sig, 16) != 0)
		FAIL("event log: no 'Spec ID Event03' signature");
	nalgs = le32(log + 32 + 24);
	if (nalgs == 0 || nalgs > MAX_ALGS || 28 + 4 * (size_t)nalgs + 1 > sz)
		FAIL("event log: bad algorithm count %u", nalgs);
	for (uint32_t i = 0; i < nalgs; i++) {
		algs[i].id = le16(log + 32 + 28 + 4 * i);
		algs[i].size = le16(log + 32 + 30 + 4 * i);
		if (algs[i].size == 0 || algs[i].size > 64)
			FAIL("event log: bad digest size for algorithm 0x%04x", algs[i].id);
	}
	off = 32 + sz;
	while (len - off >= 8) {
		static const uint8_t ff[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
		static const uint8_t zero[8];
		const uint8_t *digest, *data;
		uint32_t idx, type;
		size_t dlen, next;

		if (memcmp(log + off, zero, 8) == 0 || memcmp(log + off, ff, 8) == 0)
			break;
		rc = parse_event2(r, log, len, off, algs, nalgs, &idx, &type, &digest, &data,
				  &dlen, &next, why, whylen);
		if (rc)
			return rc;
		if (++r->nevents > TCG_EVENTLOG_MAX_EVENTS)
			FAIL("event log: more than %d events", TCG_EVENTLOG_MAX_EVENTS);
		if (type == TCG_EV_NO_ACTION) {
			/* StartupLocality: PCR 0 starts at 0...0<locality> (PC Client §10.4.5.3) */
			if (dlen == 17 && memcmp(data, locality, 16) == 0 && !r->pcr0_extended) {
				memset(r->pcr[0], 0, r->dlen);
				r->pcr[0][r->dlen - 1] = data[16];
			}
		} else {
			if (!digest)
				FAIL("event log: event at offset %zu has no digest of algorithm "
				     "0x%04x",
				     off, r->alg);
			if ((rc = extend(r, idx, digest)))
				return rc;
		}
		off = next;
	}
	if (len - off > 0 && len - off < 8)
		FAIL("event log: %zu stray bytes at the end", len - off);
	return KBS_OK;
}

int tcg_replay_aael(struct tcg_replay *r, const uint8_t *log, size_t len, char *why,
		    size_t whylen)
{
	static const struct alg_size known[] = {
		{TPM_ALG_SHA1, 20}, {TPM_ALG_SHA256, 32}, {TPM_ALG_SHA384, 48}, {TPM_ALG_SHA512, 64}};
	size_t off = 0;
	int rc;

	while (off < len) {
		const uint8_t *digest, *data;
		uint8_t want[64];
		unsigned int n = 0;
		uint32_t idx, type;
		size_t dlen, next;

		rc = parse_event2(r, log, len, off, known, 4, &idx, &type, &digest, &data, &dlen,
				  &next, why, whylen);
		if (rc)
			return rc;
		if (++r->nevents > TCG_EVENTLOG_MAX_EVENTS)
			FAIL("aael: more than %d events", TCG_EVENTLOG_MAX_EVENTS);
		if (type != TCG_EV_EVENT_TAG || dlen < 8 || le32(data) != TCG_AAEL_TAG ||
		    le32(data + 4) != dlen - 8)
			FAIL("aael: record at offset %zu is not an AAEL tagged event", off);
		if (!digest)
			FAIL("aael: record at offset %zu has no digest of algorithm 0x%04x", off,
			     r->alg);
		if (EVP_Digest(data, dlen, want, &n, tpm_alg_md(r->alg), NULL) != 1)
			return KBS_ERR_CRYPTO;
		if (memcmp(want, digest, r->dlen) != 0)
			FAIL("aael: record at offset %zu: digest does not match its text", off);
		if ((rc = extend(r, idx, digest)))
			return rc;
		off = next;
	}
	return KBS_OK;
}
