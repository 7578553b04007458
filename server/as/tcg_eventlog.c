// SPDX-License-Identifier: Apache-2.0
#include "server/as/tcg_eventlog.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "server/as/tpm_quote.h"

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

int tcg_log_begin(struct tcg_log *l, const uint8_t *log, size_t len, const char *what, char *why,
		  size_t whylen)
{
	static const uint8_t sig[16] = "Spec ID Event03";
	uint32_t nalgs, sz;

	memset(l, 0, sizeof(*l));
	l->what = what;
	/* header event, SHA-1 format: index, type, digest[20], size, data */
	if (len < 32)
		FAIL("%s: shorter than its header", what);
	sz = le32(log + 28);
	if (le32(log + 4) != TCG_EV_NO_ACTION || sz > len - 32 || sz < 29)
		FAIL("%s: bad spec-ID header event", what);
	if (memcmp(log + 32, sig, 16) != 0)
		FAIL("%s: no 'Spec ID Event03' signature", what);
	nalgs = le32(log + 32 + 24);
	if (nalgs == 0 || nalgs > TCG_MAX_ALGS || 28 + 4 * (size_t)nalgs + 1 > sz)
		FAIL("%s: bad algorithm count %u", what, nalgs);
	for (uint32_t i = 0; i < nalgs; i++) {
		l->algs[i].id = le16(log + 32 + 28 + 4 * i);
		l->algs[i].size = le16(log + 32 + 30 + 4 * i);
		if (l->algs[i].size == 0 || l->algs[i].size > 64)
			FAIL("%s: bad digest size for algorithm 0x%04x", what, l->algs[i].id);
	}
	l->nalgs = nalgs;
	l->log = log;
	l->len = len;
	l->off = 32 + sz;
	l->marker = true;
	return KBS_OK;
}

void tcg_log_begin_headerless(struct tcg_log *l, const uint8_t *log, size_t len, const char *what)
{
	static const uint16_t known[4][2] = {
	    {TPM_ALG_SHA1, 20}, {TPM_ALG_SHA256, 32}, {TPM_ALG_SHA384, 48}, {TPM_ALG_SHA512, 64}};

	memset(l, 0, sizeof(*l));
	l->log = log;
	l->len = len;
	l->what = what;
	l->nalgs = 4;
	for (int i = 0; i < 4; i++) {
		l->algs[i].id = known[i][0];
		l->algs[i].size = known[i][1];
	}
}

size_t tcg_log_digest_size(const struct tcg_log *l, uint16_t alg)
{
	for (uint32_t k = 0; k < l->nalgs; k++)
		if (l->algs[k].id == alg)
			return l->algs[k].size;
	return 0;
}

int tcg_log_next(struct tcg_log *l, uint16_t alg, size_t dsize, struct tcg_event *ev, char *why,
		 size_t whylen)
{
	static const uint8_t ff[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t zero[8];
	const uint8_t *log = l->log;
	const char *what = l->what;
	size_t len = l->len, off = l->off, o;
	uint32_t count;

	if (off >= len)
		return KBS_ERR_NOTFOUND;
	if (l->marker) {
		if (len - off < 8)
			FAIL("%s: %zu stray bytes at the end", what, len - off);
		if (memcmp(log + off, zero, 8) == 0 || memcmp(log + off, ff, 8) == 0)
			return KBS_ERR_NOTFOUND;
	}
	if (len - off < 12)
		FAIL("%s: truncated event at offset %zu", what, off);
	memset(ev, 0, sizeof(*ev));
	ev->off = off;
	ev->index = le32(log + off);
	ev->type = le32(log + off + 4);
	count = le32(log + off + 8);
	if (count == 0 || count > l->nalgs)
		FAIL("%s: event at offset %zu has %u digests", what, off, count);
	o = off + 12;
	for (uint32_t i = 0; i < count; i++) {
		uint16_t id;
		uint32_t k;

		if (len - o < 2)
			FAIL("%s: truncated digest at offset %zu", what, o);
		id = le16(log + o);
		for (k = 0; k < l->nalgs && l->algs[k].id != id; k++)
			;
		if (k == l->nalgs)
			FAIL("%s: unknown digest algorithm 0x%04x at offset %zu", what, id, o);
		if (len - o - 2 < l->algs[k].size)
			FAIL("%s: truncated digest at offset %zu", what, o);
		if (id == alg) {
			if (l->algs[k].size != dsize)
				FAIL("%s: digest size %u for algorithm 0x%04x", what,
				     l->algs[k].size, id);
			ev->digest = log + o + 2;
		}
		o += 2 + (size_t)l->algs[k].size;
	}
	if (len - o < 4 || le32(log + o) > len - o - 4)
		FAIL("%s: truncated event data at offset %zu", what, o);
	ev->data = log + o + 4;
	ev->dlen = le32(log + o);
	l->off = o + 4 + ev->dlen;
	return KBS_OK;
}

/* Next record for replay into r: the PCR index must exist unless the event is EV_NO_ACTION. */
static int next_for_replay(struct tcg_replay *r, struct tcg_log *l, struct tcg_event *ev, char *why,
			   size_t whylen)
{
	int rc = tcg_log_next(l, r->alg, r->dlen, ev, why, whylen);

	if (rc != KBS_OK)
		return rc;
	if (ev->index >= TCG_NPCRS && ev->type != TCG_EV_NO_ACTION)
		FAIL("event log: event at offset %zu extends PCR %u", ev->off, ev->index);
	if (++r->nevents > TCG_EVENTLOG_MAX_EVENTS)
		FAIL("%s: more than %d events", l->marker ? "event log" : "aael",
		     TCG_EVENTLOG_MAX_EVENTS);
	return KBS_OK;
}

int tcg_replay_firmware_log(struct tcg_replay *r, const uint8_t *log, size_t len, char *why,
			    size_t whylen)
{
	static const uint8_t locality[16] = "StartupLocality";
	struct tcg_log l;
	struct tcg_event ev;
	int rc;

	if ((rc = tcg_log_begin(&l, log, len, "event log", why, whylen)) != KBS_OK)
		return rc;
	while ((rc = next_for_replay(r, &l, &ev, why, whylen)) == KBS_OK) {
		if (ev.type == TCG_EV_NO_ACTION) {
			/* StartupLocality: PCR 0 starts at 0...0<locality> (PC Client §10.4.5.3) */
			if (ev.dlen == 17 && memcmp(ev.data, locality, 16) == 0 &&
			    !r->pcr0_extended) {
				memset(r->pcr[0], 0, r->dlen);
				r->pcr[0][r->dlen - 1] = ev.data[16];
			}
			continue;
		}
		if (!ev.digest)
			FAIL("event log: event at offset %zu has no digest of algorithm 0x%04x",
			     ev.off, r->alg);
		if ((rc = extend(r, ev.index, ev.digest)))
			return rc;
	}
	return rc == KBS_ERR_NOTFOUND ? KBS_OK : rc;
}

int tcg_replay_aael(struct tcg_replay *r, const uint8_t *log, size_t len, char *why,
		    size_t whylen)
{
	struct tcg_log l;
	struct tcg_event ev;
	int rc;

	tcg_log_begin_headerless(&l, log, len, "event log");
	while ((rc = next_for_replay(r, &l, &ev, why, whylen)) == KBS_OK) {
		uint8_t want[64];
		unsigned int n = 0;

		if (ev.type != TCG_EV_EVENT_TAG || ev.dlen < 8 || le32(ev.data) != TCG_AAEL_TAG ||
		    le32(ev.data + 4) != ev.dlen - 8)
			FAIL("aael: record at offset %zu is not an AAEL tagged event", ev.off);
		if (!ev.digest)
			FAIL("aael: record at offset %zu has no digest of algorithm 0x%04x", ev.off,
			     r->alg);
		if (EVP_Digest(ev.data, ev.dlen, want, &n, tpm_alg_md(r->alg), NULL) != 1)
			return KBS_ERR_CRYPTO;
		if (memcmp(want, ev.digest, r->dlen) != 0)
			FAIL("aael: record at offset %zu: digest does not match its text", ev.off);
		if ((rc = extend(r, ev.index, ev.digest)))
			return rc;
	}
	return rc == KBS_ERR_NOTFOUND ? KBS_OK : rc;
}
