// SPDX-License-Identifier: Apache-2.0
/*
 * cmocka tests for the secret arena's kernel protections: the pages are locked and excluded
 * from core dumps, and a failing mlock is a clear KBS_ERR_LOCKMEM unless the caller allowed
 * unlocked memory. The arena is process-wide and initialised once, so the mlock-failure
 * cases run in forked children that have not touched it yet.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/err.h"
#include "common/secmem.h"

/* Child exit codes: 0 = all checks held; n = check n failed. */
typedef int (*child_fn)(void);

static int run_in_child(child_fn fn)
{
	int st = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* Root has CAP_IPC_LOCK, which ignores RLIMIT_MEMLOCK: become nobody first. */
static int no_lockable_memory(void)
{
	struct rlimit rl = {0, 0};

	if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
		return 90;
	if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
		return 91;
	return 0;
}

static int child_lazy_alloc_fails_with_lockmem(void)
{
	int rc = no_lockable_memory();

	if (rc)
		return rc;
	if (secmem_alloc(32) != NULL)
		return 1;
	if (secmem_last_error() != KBS_ERR_LOCKMEM)
		return 2;
	if (secmem_capacity() != 0) /* nothing half-initialised is left behind */
		return 3;
	return 0;
}

static int child_init_fails_then_unlocked_is_explicit(void)
{
	int rc = no_lockable_memory();
	void *p;

	if (rc)
		return rc;
	if (secmem_init(1 << 20, false) != KBS_ERR_LOCKMEM)
		return 1;
	if (secmem_last_error() != KBS_ERR_LOCKMEM)
		return 2;
	/* only an explicit opt-in gives (unlocked) secret memory */
	if (secmem_init(1 << 20, true) != KBS_OK)
		return 3;
	p = secmem_alloc(32);
	if (!p || !secmem_contains(p))
		return 4;
	secmem_free(p);
	return 0;
}

/* ASan intercepts mlock() and makes it a successful no-op, so a failing mlock cannot be
 * provoked in the sanitizer build. */
#if defined(__SANITIZE_ADDRESS__)
#define SKIP_UNDER_ASAN() skip()
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SKIP_UNDER_ASAN() skip()
#endif
#endif
#ifndef SKIP_UNDER_ASAN
#define SKIP_UNDER_ASAN() ((void)0)
#endif

static void mlock_failure_is_lockmem_on_first_alloc(void **state)
{
	(void)state;
	SKIP_UNDER_ASAN();
	assert_int_equal(run_in_child(child_lazy_alloc_fails_with_lockmem), 0);
}

static void mlock_failure_is_lockmem_unless_unlocked_allowed(void **state)
{
	(void)state;
	SKIP_UNDER_ASAN();
	assert_int_equal(run_in_child(child_init_fails_then_unlocked_is_explicit), 0);
}

/* The VmFlags line of the /proc/self/smaps mapping that contains p (empty if none). */
static void vmflags_of(const void *p, char *flags, size_t flen)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int inside = 0;

	flags[0] = 0;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
			continue;
		}
		if (inside && strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(flags, flen, "%s", line + 8);
			break;
		}
	}
	fclose(f);
}

static void arena_is_locked_and_not_dumped(void **state)
{
	char flags[512];
	void *p;

	(void)state;
	p = secmem_alloc(64);
	assert_non_null(p);
	vmflags_of(p, flags, sizeof(flags));
	assert_non_null(strstr(flags, " dd")); /* MADV_DONTDUMP */
	assert_non_null(strstr(flags, " lo")); /* mlock'ed (on fault) */
	secmem_free(p);
}

/* A P-256 key made after secmem_init() keeps its private number in OpenSSL's secure heap. */
static int child_private_keys_use_secure_heap(void)
{
	size_t before;
	EVP_PKEY *k;

	if (secmem_init(1 << 20, true) != KBS_OK)
		return 1;
	if (!CRYPTO_secure_malloc_initialized())
		return 2;
	/* the first key also creates OpenSSL's DRBG, whose state stays in the secure heap */
	EVP_PKEY_free(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
	before = CRYPTO_secure_used();
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!k)
		return 3;
	if (CRYPTO_secure_used() <= before)
		return 4;
	EVP_PKEY_free(k);
	if (CRYPTO_secure_used() != before)
		return 5;
	k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (!k)
		return 6;
	if (CRYPTO_secure_used() <= before)
		return 7;
	EVP_PKEY_free(k);
	return 0;
}

static void private_keys_live_in_the_openssl_secure_heap(void **state)
{
	(void)state;
	assert_int_equal(run_in_child(child_private_keys_use_secure_heap), 0);
}

/* A full secure heap makes key generation fail; it never falls back to the normal heap. */
static int child_full_secure_heap_fails_closed(void)
{
	enum { MAXK = 4000 };
	static EVP_PKEY *keys[MAXK];
	int n = 0, i;
	size_t base;
	EVP_PKEY *k;

	if (setenv("KBS_OPENSSL_SECURE_HEAP", "16384", 1) != 0)
		return 1;
	if (secmem_init(1 << 20, true) != KBS_OK || !CRYPTO_secure_malloc_initialized())
		return 2;
	EVP_PKEY_free(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")); /* DRBG state, kept */
	base = CRYPTO_secure_used();
	while (n < MAXK && (keys[n] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) != NULL)
		n++;
	if (n == 0 || n == MAXK) /* 16 KiB holds some keys, never 4000 */
		return 3;
	for (i = 0; i < n; i++)
		EVP_PKEY_free(keys[i]);
	if (CRYPTO_secure_used() != base)
		return 4;
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"); /* usable again once freed */
	if (!k)
		return 5;
	EVP_PKEY_free(k);
	return 0;
}

static void full_secure_heap_fails_key_generation(void **state)
{
	(void)state;
	assert_int_equal(run_in_child(child_full_secure_heap_fails_closed), 0);
}

static int child_secure_heap_can_be_turned_off(void)
{
	if (setenv("KBS_OPENSSL_SECURE_HEAP", "0", 1) != 0)
		return 1;
	if (secmem_init(1 << 20, true) != KBS_OK)
		return 2;
	return CRYPTO_secure_malloc_initialized() ? 3 : 0;
}

static void secure_heap_off_when_configured_zero(void **state)
{
	(void)state;
	assert_int_equal(run_in_child(child_secure_heap_can_be_turned_off), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mlock_failure_is_lockmem_on_first_alloc),
		cmocka_unit_test(mlock_failure_is_lockmem_unless_unlocked_allowed),
		cmocka_unit_test(private_keys_live_in_the_openssl_secure_heap),
		cmocka_unit_test(full_secure_heap_fails_key_generation),
		cmocka_unit_test(secure_heap_off_when_configured_zero),
		/* last: initialises the arena in this process (the cases above fork fresh) */
		cmocka_unit_test(arena_is_locked_and_not_dumped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
