/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_COMMON_SECMEM_H
#define KBS_COMMON_SECMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Secret memory. All secret bytes (resource plaintext, private keys, CEKs, tokens on the
 * guest) live in one process-wide arena that is mmap'ed, mlock'ed and excluded from core
 * dumps (MADV_DONTDUMP). Freed blocks are wiped with OPENSSL_cleanse.
 *
 * Pages are locked on first touch (mlock2 MLOCK_ONFAULT), so an idle arena adds nothing to
 * the resident size.
 *
 * The arena is the one deliberate process-wide object in the project: the kernel's mlock
 * limit is per process, so a per-component pool would only split the same budget.
 *
 * secmem_init() may be called once at start to size the pool (default 4 MiB, or the
 * KBS_SECMEM_SIZE environment variable); otherwise the first allocation initialises it.
 * If the arena cannot be locked, allocation fails with KBS_ERR_LOCKMEM unless
 * secmem_init() was called with allow_unlocked = true (then a warning is logged once).
 *
 * Setting up the pool also creates OpenSSL's secure heap (CRYPTO_secure_malloc_init, 1/16 of
 * the pool, 16 KiB..1 MiB, KBS_OPENSSL_SECURE_HEAP=<bytes> overrides, 0 = off), so the
 * private numbers of keys created afterwards (EVP_PKEY) are locked and wiped too. When that
 * heap is full, OpenSSL key generation fails instead of using the normal heap.
 */
int secmem_init(size_t pool_size, bool allow_unlocked);

/* Zeroed secret allocation; NULL when the pool is exhausted or cannot be locked. */
void *secmem_alloc(size_t len);
/* Wipes the block and returns it to the pool; NULL is a no-op. */
void secmem_free(void *p);
/* True if p points into the secret arena (used by the logger to redact). */
bool secmem_contains(const void *p);
/* Bytes currently allocated / pool capacity (for status pages and tests). */
size_t secmem_used(void);
size_t secmem_capacity(void);
/* Last error from pool setup (KBS_OK if none). */
int secmem_last_error(void);

/* A secret byte string owned by the arena. */
struct secbuf {
	uint8_t *p;
	size_t len;
};

/* Allocates len bytes (+1 zero byte after them). */
int secbuf_alloc(struct secbuf *s, size_t len);
int secbuf_dup(struct secbuf *s, const void *data, size_t len);
void secbuf_free(struct secbuf *s);

/* Constant-time comparison; returns 0 when equal. */
int secmem_cmp(const void *a, const void *b, size_t len);

#endif
