// SPDX-License-Identifier: Apache-2.0
#include "common/secmem.h"
#include "common/err.h"
#include "common/log.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SECMEM_BLOCK 32u
#define SECMEM_DEFAULT_SIZE (4u << 20)
#define SECMEM_HDR 16u /* block count stored in front of each allocation */

static struct {
	pthread_mutex_t lock;
	uint8_t *base;
	size_t size;
	size_t nblocks;
	uint8_t *bitmap; /* 1 bit per block, 1 = used */
	size_t used;
	size_t hint;
	bool inited;
	bool allow_unlocked;
	int last_err;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

/*
 * OpenSSL's own secure heap holds the private-key numbers inside EVP_PKEY objects (the TEE
 * key, ephemeral ECDH keys, the token signing key): BN_secure_new() allocates from it once
 * CRYPTO_secure_malloc_init() ran. Sized from the pool: 1/16 of it, a power of two between
 * 16 KiB and 1 MiB; KBS_OPENSSL_SECURE_HEAP=<bytes> overrides (0 turns it off). OpenSSL's
 * heap does not fall back to the normal heap when full: key generation then fails, which is
 * the behaviour we want (fail closed, never a private key in swappable memory).
 */
static size_t openssl_heap_size(size_t pool_size)
{
	const char *env = getenv("KBS_OPENSSL_SECURE_HEAP");
	size_t want = pool_size / 16, sz = 16u << 10;

	if (env) {
		char *end;
		unsigned long v = strtoul(env, &end, 10);

		if (*end == 0 && v <= (64ul << 20))
			want = v;
		if (want == 0)
			return 0;
	}
	while (sz * 2 <= want && sz < (1u << 20))
		sz *= 2;
	return sz;
}

static int openssl_heap_setup(size_t pool_size, bool allow_unlocked)
{
	size_t sz = openssl_heap_size(pool_size);
	int rc;

	if (sz == 0 || CRYPTO_secure_malloc_initialized())
		return KBS_OK;
	rc = CRYPTO_secure_malloc_init(sz, 16);
	if (rc == 1)
		return KBS_OK;
	if (rc == 2 && allow_unlocked) {
		log_warn("secmem: OpenSSL secure heap of %zu bytes could not be locked; private "
			 "keys may be swapped",
			 sz);
		return KBS_OK;
	}
	if (rc == 0 && allow_unlocked) {
		log_warn("secmem: no OpenSSL secure heap (%zu bytes); private keys use the "
			 "normal heap",
			 sz);
		return KBS_OK;
	}
	log_error("secmem: OpenSSL secure heap of %zu bytes could not be %s (raise "
		  "RLIMIT_MEMLOCK or LimitMEMLOCK=)",
		  sz, rc == 2 ? "locked" : "created");
	return KBS_ERR_LOCKMEM;
}

static int pool_setup_locked(size_t size, bool allow_unlocked)
{
	long pg = sysconf(_SC_PAGESIZE);
	void *m;

	if (pool.inited)
		return KBS_OK;
	if (size == 0) {
		const char *env = getenv("KBS_SECMEM_SIZE");

		size = SECMEM_DEFAULT_SIZE;
		if (env) {
			char *end;
			unsigned long v = strtoul(env, &end, 10);

			if (*end == 0 && v >= 4096 && v <= (1ul << 30))
				size = v;
		}
	}
	size = (size + (size_t)pg - 1) & ~((size_t)pg - 1);
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		pool.last_err = KBS_ERR_NOMEM;
		return KBS_ERR_NOMEM;
	}
	(void)madvise(m, size, MADV_DONTDUMP);
	/* MLOCK_ONFAULT: pages are locked as they are first touched, so an idle pool costs
	 * no resident memory, but the whole range is charged against RLIMIT_MEMLOCK now. */
	if (mlock2(m, size, MLOCK_ONFAULT) != 0 && mlock(m, size) != 0) {
		if (!allow_unlocked) {
			munmap(m, size);
			pool.last_err = KBS_ERR_LOCKMEM;
			log_error("secmem: mlock of %zu bytes failed (raise RLIMIT_MEMLOCK or "
				  "LimitMEMLOCK=)",
				  size);
			return KBS_ERR_LOCKMEM;
		}
		log_warn("secmem: mlock of %zu bytes failed; secrets may be swapped", size);
	}
	pool.nblocks = size / SECMEM_BLOCK;
	pool.bitmap = calloc((pool.nblocks + 7) / 8, 1);
	if (!pool.bitmap) {
		munlock(m, size);
		munmap(m, size);
		pool.last_err = KBS_ERR_NOMEM;
		return KBS_ERR_NOMEM;
	}
	if (openssl_heap_setup(size, allow_unlocked) != KBS_OK) {
		free(pool.bitmap);
		pool.bitmap = NULL;
		munlock(m, size);
		munmap(m, size);
		pool.last_err = KBS_ERR_LOCKMEM;
		return KBS_ERR_LOCKMEM;
	}
	pool.base = m;
	pool.size = size;
	pool.allow_unlocked = allow_unlocked;
	pool.inited = true;
	pool.last_err = KBS_OK;
	return KBS_OK;
}

int secmem_init(size_t pool_size, bool allow_unlocked)
{
	int rc;

	pthread_mutex_lock(&pool.lock);
	rc = pool_setup_locked(pool_size, allow_unlocked);
	pthread_mutex_unlock(&pool.lock);
	return rc;
}

static bool bit_get(size_t i)
{
	return pool.bitmap[i / 8] & (1u << (i % 8));
}

static void bit_set(size_t i, bool v)
{
	if (v)
		pool.bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		pool.bitmap[i / 8] &= (uint8_t)~(1u << (i % 8));
}

/* First fit starting at the hint, wrapping once. */
static long find_run(size_t n)
{
	size_t pass, start, i, run;

	for (pass = 0; pass < 2; pass++) {
		start = pass == 0 ? pool.hint : 0;
		run = 0;
		for (i = start; i < pool.nblocks; i++) {
			if (bit_get(i)) {
				run = 0;
				continue;
			}
			if (++run == n)
				return (long)(i + 1 - n);
		}
	}
	return -1;
}

void *secmem_alloc(size_t len)
{
	size_t n, i;
	long at;
	uint8_t *p = NULL;

	if (len > SIZE_MAX - SECMEM_HDR - SECMEM_BLOCK)
		return NULL;
	n = (len + SECMEM_HDR + SECMEM_BLOCK - 1) / SECMEM_BLOCK;
	pthread_mutex_lock(&pool.lock);
	if (pool_setup_locked(0, false) != KBS_OK)
		goto out;
	at = find_run(n);
	if (at < 0) {
		pool.last_err = KBS_ERR_LOCKMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		bit_set((size_t)at + i, true);
	pool.hint = (size_t)at + n;
	pool.used += n * SECMEM_BLOCK;
	p = pool.base + (size_t)at * SECMEM_BLOCK;
	memcpy(p, &n, sizeof(n));
	p += SECMEM_HDR;
	memset(p, 0, n * SECMEM_BLOCK - SECMEM_HDR);
out:
	pthread_mutex_unlock(&pool.lock);
	return p;
}

void secmem_free(void *ptr)
{
	uint8_t *p = ptr;
	size_t n, at, i;

	if (!p)
		return;
	p -= SECMEM_HDR;
	pthread_mutex_lock(&pool.lock);
	if (!pool.inited || p < pool.base || p >= pool.base + pool.size ||
	    (size_t)(p - pool.base) % SECMEM_BLOCK) {
		pthread_mutex_unlock(&pool.lock);
		abort(); /* freeing a pointer the arena never handed out is a bug */
	}
	memcpy(&n, p, sizeof(n));
	at = (size_t)(p - pool.base) / SECMEM_BLOCK;
	if (n == 0 || at + n > pool.nblocks) {
		pthread_mutex_unlock(&pool.lock);
		abort();
	}
	OPENSSL_cleanse(p, n * SECMEM_BLOCK);
	for (i = 0; i < n; i++)
		bit_set(at + i, false);
	if (at < pool.hint)
		pool.hint = at;
	pool.used -= n * SECMEM_BLOCK;
	pthread_mutex_unlock(&pool.lock);
}

bool secmem_contains(const void *ptr)
{
	const uint8_t *p = ptr;

	/* base and size never change after setup, so no lock is needed to read them. */
	return pool.inited && p >= pool.base && p < pool.base + pool.size;
}

size_t secmem_used(void)
{
	size_t u;

	pthread_mutex_lock(&pool.lock);
	u = pool.used;
	pthread_mutex_unlock(&pool.lock);
	return u;
}

size_t secmem_capacity(void)
{
	return pool.inited ? pool.size : 0;
}

int secmem_last_error(void)
{
	return pool.last_err;
}

int secbuf_alloc(struct secbuf *s, size_t len)
{
	s->p = secmem_alloc(len + 1);
	s->len = s->p ? len : 0;
	return s->p ? KBS_OK : KBS_ERR_LOCKMEM;
}

int secbuf_dup(struct secbuf *s, const void *data, size_t len)
{
	int rc = secbuf_alloc(s, len);

	if (rc == KBS_OK && len)
		memcpy(s->p, data, len);
	return rc;
}

void secbuf_free(struct secbuf *s)
{
	if (!s)
		return;
	secmem_free(s->p);
	s->p = NULL;
	s->len = 0;
}

int secmem_cmp(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len);
}
