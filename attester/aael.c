// SPDX-License-Identifier: Apache-2.0
/*
 * AAEL: TCG records, replay, write-ahead extend/recovery, cc_eventlog assembly. See aael.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "attester/aael.h"
#include "attester/util.h"
#include "common/b64.h"
#include "common/err.h"
#include "common/log.h"

#define AAEL_FILE_MAX (64u << 20)

/* EV_NO_ACTION, all-zero signature, SHA-384 + SM3 (copied byte-exact: verifiers expect it) */
const uint8_t aael_el_header[69] = {
	0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, /* PCR 0, EV_NO_ACTION */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* SHA-1 digest */
	0x25, 0x00, 0x00, 0x00, /* event size 37 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* signature */
	0x00, 0x00, 0x00, 0x00, /* platform class */
	0x00, 0x00, 0x00, 0x00, /* version minor/major, errata, uintn size */
	0x02, 0x00, 0x00, 0x00, /* 2 algorithms */
	0x0c, 0x00, 0x30, 0x00, /* SHA-384, 48 */
	0x12, 0x00, 0x20, 0x00, /* SM3, 32 */
	0x00,			/* vendor info size */
};

struct aael {
	pthread_mutex_t lock;
	int fd;
	char *wal_path;
	uint16_t alg;
	size_t dlen;
	uint32_t record_pcr;
	struct aael_register reg;
};

size_t aael_alg_len(uint16_t alg)
{
	switch (alg) {
	case AAEL_ALG_SHA256:
		return 32;
	case AAEL_ALG_SHA384:
		return 48;
	case AAEL_ALG_SHA512:
		return 64;
	default:
		return 0;
	}
}

static const EVP_MD *alg_md(uint16_t alg)
{
	switch (alg) {
	case AAEL_ALG_SHA256:
		return EVP_sha256();
	case AAEL_ALG_SHA384:
		return EVP_sha384();
	case AAEL_ALG_SHA512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

static int hash2(uint16_t alg, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
		 uint8_t *out)
{
	const EVP_MD *md = alg_md(alg);
	EVP_MD_CTX *c;
	int ok;

	if (!md)
		return KBS_ERR_UNSUPPORTED;
	c = EVP_MD_CTX_new();
	if (!c)
		return KBS_ERR_NOMEM;
	ok = EVP_DigestInit_ex(c, md, NULL) && EVP_DigestUpdate(c, a, alen) &&
	     (!blen || EVP_DigestUpdate(c, b, blen)) && EVP_DigestFinal_ex(c, out, NULL);
	EVP_MD_CTX_free(c);
	return ok ? KBS_OK : KBS_ERR_CRYPTO;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool word_ok(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

int aael_entry_check(const char *domain, const char *operation, const char *content)
{
	size_t n;

	if (!word_ok(domain) || !word_ok(operation) || !content)
		return KBS_ERR_INVAL;
	for (const unsigned char *s = (const unsigned char *)content; *s; s++)
		if (*s < 0x20 || *s == 0x7f)
			return KBS_ERR_INVAL;
	n = strlen(domain) + strlen(operation) + strlen(content) + 2;
	return n <= AAEL_TEXT_MAX ? KBS_OK : KBS_ERR_RANGE;
}

/* The tagged event: TaggedEventID ‖ TaggedEventSize ‖ text. */
static int tagged_digest(uint16_t alg, const char *text, size_t n, uint8_t *digest)
{
	uint8_t hdr[8];

	put32(hdr, AAEL_TAGGED_EVENT_ID);
	put32(hdr + 4, (uint32_t)n);
	return hash2(alg, hdr, 8, (const uint8_t *)text, n, digest);
}

int aael_record(uint32_t pcr_index, uint16_t alg, const char *text, size_t n, struct buf *out,
		uint8_t *digest)
{
	uint8_t d[AAEL_DIGEST_MAX], h[14];
	size_t dlen = aael_alg_len(alg);
	int rc;

	if (!dlen)
		return KBS_ERR_UNSUPPORTED;
	if (!out || (!text && n) || n > AAEL_TEXT_MAX)
		return KBS_ERR_INVAL;
	rc = tagged_digest(alg, text, n, d);
	if (rc)
		return rc;
	put32(h, pcr_index);
	put32(h + 4, AAEL_EV_EVENT_TAG);
	put32(h + 8, 1);
	h[12] = (uint8_t)alg;
	h[13] = (uint8_t)(alg >> 8);
	if ((rc = buf_append(out, h, sizeof(h))) || (rc = buf_append(out, d, dlen)))
		return rc;
	put32(h, (uint32_t)(8 + n));
	put32(h + 4, AAEL_TAGGED_EVENT_ID);
	put32(h + 8, (uint32_t)n);
	if ((rc = buf_append(out, h, 12)) || (rc = buf_append(out, text, n)))
		return rc;
	if (digest)
		memcpy(digest, d, dlen);
	return KBS_OK;
}

int aael_parse(const uint8_t *p, size_t len, int (*cb)(const struct aael_event *, void *),
	       void *arg)
{
	size_t off = 0;

	if (!p && len)
		return KBS_ERR_INVAL;
	while (off < len) {
		struct aael_event ev;
		uint8_t d[AAEL_DIGEST_MAX];
		size_t rem = len - off;
		uint32_t esize, tsize;
		int rc;

		if (rem < 14)
			return KBS_ERR_PARSE;
		ev.pcr_index = get32(p + off);
		if (get32(p + off + 4) != AAEL_EV_EVENT_TAG || get32(p + off + 8) != 1)
			return KBS_ERR_PARSE;
		ev.alg = (uint16_t)(p[off + 12] | p[off + 13] << 8);
		ev.digest_len = aael_alg_len(ev.alg);
		if (!ev.digest_len || rem - 14 < ev.digest_len + 12)
			return KBS_ERR_PARSE;
		ev.digest = p + off + 14;
		off += 14 + ev.digest_len;
		esize = get32(p + off);
		if (get32(p + off + 4) != AAEL_TAGGED_EVENT_ID)
			return KBS_ERR_PARSE;
		tsize = get32(p + off + 8);
		if (esize < 8 || tsize != esize - 8 || tsize > AAEL_TEXT_MAX ||
		    tsize > len - off - 12)
			return KBS_ERR_PARSE;
		ev.text = p + off + 12;
		ev.text_len = tsize;
		off += 12 + tsize;
		rc = tagged_digest(ev.alg, (const char *)ev.text, ev.text_len, d);
		if (rc)
			return rc;
		if (memcmp(d, ev.digest, ev.digest_len) != 0)
			return KBS_ERR_PARSE;
		if (cb && (rc = cb(&ev, arg)) != 0)
			return rc;
	}
	return KBS_OK;
}

struct replay {
	uint32_t pcr;
	uint16_t alg;
	uint8_t *reg;
};

static int replay_cb(const struct aael_event *ev, void *arg)
{
	struct replay *r = arg;
	size_t n = aael_alg_len(r->alg);

	if (ev->pcr_index != r->pcr)
		return KBS_OK;
	if (ev->alg != r->alg)
		return KBS_ERR_PARSE;
	return hash2(r->alg, r->reg, n, ev->digest, n, r->reg);
}

int aael_replay(const uint8_t *p, size_t len, uint32_t pcr_index, uint16_t alg, uint8_t *reg)
{
	struct replay r = {pcr_index, alg, reg};

	if (!aael_alg_len(alg) || !reg)
		return KBS_ERR_INVAL;
	return aael_parse(p, len, replay_cb, &r);
}

unsigned aael_tdx_ccmr(unsigned pcr)
{
	if (pcr == 1 || pcr == 7)
		return 1;
	if (pcr >= 2 && pcr <= 6)
		return 2;
	if (pcr >= 8 && pcr <= 15)
		return 3;
	return 4;
}

/* --- write-ahead log --- */

static int write_all_at(int fd, const uint8_t *p, size_t n, off_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return KBS_ERR_IO;
		}
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return KBS_OK;
}

static int wal_write(const char *path, uint64_t offset, const uint8_t *expected, size_t dlen,
		     const char *text, size_t n)
{
	struct buf b = BUF_INIT;
	uint8_t be[8];
	int fd, rc;

	for (int i = 0; i < 8; i++)
		be[i] = (uint8_t)(offset >> (56 - 8 * i));
	if ((rc = buf_append(&b, be, 8)) || (rc = buf_append(&b, expected, dlen)) ||
	    (rc = buf_append(&b, text, n)))
		goto out;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = KBS_ERR_IO;
		goto out;
	}
	rc = write_all_at(fd, b.p, b.len, 0);
	if (!rc && fsync(fd) != 0)
		rc = KBS_ERR_IO;
	close(fd);
out:
	buf_release(&b);
	return rc;
}

/* Appends the record at offset (also used by recovery) and syncs. */
static int put_record(struct aael *a, off_t offset, const char *text, size_t n)
{
	struct buf rec = BUF_INIT;
	int rc = aael_record(a->record_pcr, a->alg, text, n, &rec, NULL);

	if (!rc)
		rc = write_all_at(a->fd, rec.p, rec.len, offset);
	if (!rc && ftruncate(a->fd, offset + (off_t)rec.len) != 0)
		rc = KBS_ERR_IO;
	if (!rc && fdatasync(a->fd) != 0)
		rc = KBS_ERR_IO;
	buf_release(&rec);
	return rc;
}

static int recover(struct aael *a)
{
	uint8_t *w = NULL, reg[AAEL_DIGEST_MAX], d[AAEL_DIGEST_MAX], chk[AAEL_DIGEST_MAX];
	size_t n = 0;
	uint64_t offset = 0;
	const char *text;
	size_t tlen;
	int rc = attester_read_file(a->wal_path, AAEL_TEXT_MAX + 8 + AAEL_DIGEST_MAX, &w, &n);

	if (rc == KBS_ERR_NOTFOUND)
		return KBS_OK;
	if (rc)
		return rc;
	rc = KBS_ERR_PARSE;
	if (n < 8 + a->dlen + 3)
		goto out;
	for (int i = 0; i < 8; i++)
		offset = offset << 8 | w[i];
	text = (const char *)w + 8 + a->dlen;
	tlen = n - 8 - a->dlen;
	if (offset > (uint64_t)INT64_MAX / 2 || memchr(text, '\n', tlen))
		goto out;
	if ((rc = tagged_digest(a->alg, text, tlen, d)) || (rc = a->reg.read(a->reg.arg, reg, a->dlen)))
		goto out;
	if (memcmp(reg, w + 8, a->dlen) != 0) {
		/* the crash came before the extend: it must be exactly one step away */
		if ((rc = hash2(a->alg, reg, a->dlen, d, a->dlen, chk)))
			goto out;
		if (memcmp(chk, w + 8, a->dlen) != 0) {
			log_msg(LOG_LVL_ERROR, "aael: write-ahead entry does not match the register "
					       "(log corrupt or register extended by someone else)");
			rc = KBS_ERR_VERIFY;
			goto out;
		}
		if ((rc = a->reg.extend(a->reg.arg, d, a->dlen)))
			goto out;
	}
	if ((rc = put_record(a, (off_t)offset, text, tlen)))
		goto out;
	if (unlink(a->wal_path) != 0) {
		rc = KBS_ERR_IO;
		goto out;
	}
	log_msg(LOG_LVL_INFO, "aael: recovered a pending event at offset %llu",
		(unsigned long long)offset);
	rc = KBS_OK;
out:
	free(w);
	return rc;
}

int aael_open(const char *log_path, uint16_t alg, uint32_t record_pcr,
	      const struct aael_register *reg, struct aael **out)
{
	struct aael *a = NULL;
	char *dup = NULL, *dir;
	size_t wl;
	int rc;

	if (!log_path || !*log_path || !reg || !reg->read || !reg->extend || !out)
		return KBS_ERR_INVAL;
	*out = NULL;
	if (!aael_alg_len(alg))
		return KBS_ERR_UNSUPPORTED;
	a = calloc(1, sizeof(*a));
	dup = strdup(log_path);
	if (!a || !dup) {
		free(a);
		free(dup);
		return KBS_ERR_NOMEM;
	}
	a->fd = -1;
	a->alg = alg;
	a->dlen = aael_alg_len(alg);
	a->record_pcr = record_pcr;
	a->reg = *reg;
	pthread_mutex_init(&a->lock, NULL);
	dir = dirname(dup);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		rc = KBS_ERR_IO;
		goto out;
	}
	wl = strlen(dir) + sizeof(AAEL_WAL_NAME) + 2;
	a->wal_path = malloc(wl);
	if (!a->wal_path) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	(void)snprintf(a->wal_path, wl, "%s/%s", dir, AAEL_WAL_NAME);
	/* not O_APPEND: recovery rewrites the record at the offset saved in the WAL */
	a->fd = open(log_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (a->fd < 0) {
		log_msg(LOG_LVL_ERROR, "aael: cannot open %s", log_path);
		rc = KBS_ERR_IO;
		goto out;
	}
	rc = recover(a);
	if (rc)
		goto out;
	*out = a;
	a = NULL;
out:
	free(dup);
	aael_close(a);
	return rc;
}

void aael_close(struct aael *a)
{
	if (!a)
		return;
	if (a->fd >= 0)
		close(a->fd);
	pthread_mutex_destroy(&a->lock);
	free(a->wal_path);
	free(a);
}

int aael_extend(struct aael *a, const char *domain, const char *operation, const char *content)
{
	struct buf text = BUF_INIT;
	uint8_t reg[AAEL_DIGEST_MAX], d[AAEL_DIGEST_MAX], expected[AAEL_DIGEST_MAX];
	off_t end;
	int rc;

	if (!a)
		return KBS_ERR_INVAL;
	rc = aael_entry_check(domain, operation, content);
	if (rc)
		return rc;
	if ((rc = buf_printf(&text, "%s %s %s", domain, operation, content)))
		return rc;
	pthread_mutex_lock(&a->lock);
	end = lseek(a->fd, 0, SEEK_END);
	if (end < 0) {
		rc = KBS_ERR_IO;
		goto out;
	}
	if ((rc = tagged_digest(a->alg, (const char *)text.p, text.len, d)) ||
	    (rc = a->reg.read(a->reg.arg, reg, a->dlen)) ||
	    (rc = hash2(a->alg, reg, a->dlen, d, a->dlen, expected)) ||
	    (rc = wal_write(a->wal_path, (uint64_t)end, expected, a->dlen, (const char *)text.p,
			    text.len)) ||
	    (rc = a->reg.extend(a->reg.arg, d, a->dlen)) ||
	    (rc = put_record(a, end, (const char *)text.p, text.len)))
		goto out;
	if (unlink(a->wal_path) != 0)
		rc = KBS_ERR_IO;
out:
	pthread_mutex_unlock(&a->lock);
	buf_release(&text);
	return rc;
}

/* --- cc_eventlog --- */

int aael_ccel_trim(const uint8_t *p, size_t len, size_t *keep)
{
	static const uint8_t ff[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t zz[8];
	size_t off;

	if ((!p && len) || !keep)
		return KBS_ERR_INVAL;
	/* first event: SHA-1 layout (PCR, type, 20-byte digest[, size, data if EV_NO_ACTION]) */
	if (len < 28)
		return KBS_ERR_PARSE;
	off = 28;
	if (get32(p + 4) == 3) {
		uint32_t sz;

		if (len - off < 4)
			return KBS_ERR_PARSE;
		sz = get32(p + off);
		if (sz > len - off - 4)
			return KBS_ERR_PARSE;
		off += 4 + sz;
	}
	for (;;) {
		uint32_t count, sz;

		if (len - off < 8)
			return KBS_ERR_PARSE;
		if (memcmp(p + off, ff, 8) == 0 || memcmp(p + off, zz, 8) == 0)
			break;
		if (len - off < 12)
			return KBS_ERR_PARSE;
		count = get32(p + off + 8);
		off += 12;
		for (uint32_t i = 0; i < count; i++) {
			uint16_t alg;
			size_t dl;

			if (len - off < 2)
				return KBS_ERR_PARSE;
			alg = (uint16_t)(p[off] | p[off + 1] << 8);
			dl = alg == 0x0012 ? 32 : aael_alg_len(alg);
			if (!dl || len - off - 2 < dl)
				return KBS_ERR_PARSE;
			off += 2 + dl;
		}
		if (len - off < 4)
			return KBS_ERR_PARSE;
		sz = get32(p + off);
		if (sz > len - off - 4)
			return KBS_ERR_PARSE;
		off += 4 + sz;
	}
	*keep = off;
	return KBS_OK;
}

int aael_cc_eventlog(const char *ccel_path, const char *aael_path, char **b64)
{
	static const uint8_t ff[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	struct buf b = BUF_INIT;
	uint8_t *p = NULL;
	size_t n = 0, keep;
	int rc;

	if (!b64)
		return KBS_ERR_INVAL;
	*b64 = NULL;
	if (!ccel_path)
		ccel_path = AAEL_CCEL_PATH_DEFAULT;
	if (!aael_path)
		aael_path = getenv("AAEL_PATH");
	if (!aael_path)
		aael_path = AAEL_LOG_PATH_DEFAULT;
	if (*ccel_path) {
		rc = attester_read_file(ccel_path, AAEL_FILE_MAX, &p, &n);
		if (rc == KBS_OK) {
			if ((rc = aael_ccel_trim(p, n, &keep)) || (rc = buf_append(&b, p, keep)))
				goto out;
		} else if (rc != KBS_ERR_NOTFOUND) {
			goto out;
		}
		free(p);
		p = NULL;
	}
	if (*aael_path) {
		rc = attester_read_file(aael_path, AAEL_FILE_MAX, &p, &n);
		if (rc == KBS_OK) {
			if (b.len == 0 && (rc = buf_append(&b, aael_el_header, sizeof(aael_el_header))))
				goto out;
			if ((rc = buf_append(&b, p, n)))
				goto out;
		} else if (rc != KBS_ERR_NOTFOUND) {
			goto out;
		}
	}
	rc = KBS_OK;
	if (b.len == 0)
		goto out;
	if ((rc = buf_append(&b, ff, sizeof(ff))))
		goto out;
	rc = b64_encode_alloc(b.p, b.len, B64_STD, b64);
out:
	free(p);
	buf_release(&b);
	return rc;
}
