// SPDX-License-Identifier: Apache-2.0
/* cmocka tests for err, buf, secmem and log (including the secret redaction rule). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/civil.h"
#include "common/err.h"
#include "common/log.h"
#include "common/secmem.h"

static void err_every_code_has_text(void **state)
{
	for (int e = 0; e > KBS_ERR__LAST; e--) {
		assert_non_null(kbs_strerror(e));
		assert_string_not_equal(kbs_strerror(e), "unknown error");
		assert_true(strncmp(kbs_errname(e), "KBS_", 4) == 0);
	}
	assert_string_equal(kbs_strerror(5), "unknown error");
	assert_string_equal(kbs_strerror(KBS_ERR__LAST), "unknown error");
	assert_string_equal(kbs_errname(KBS_ERR_PARSE), "KBS_ERR_PARSE");
}

static void err_set_err_truncates_and_takes_null(void **state)
{
	char e[8] = "old";

	(void)state;
	kbs_set_err(e, sizeof(e), "bad %s at %d", "key", 12);
	assert_string_equal(e, "bad key"); /* truncated to the buffer, NUL-terminated */
	kbs_set_err(e, 0, "x");
	assert_string_equal(e, "bad key");
	kbs_set_err(NULL, 5, "x"); /* no buffer: nothing happens */
}

static void civil_dates_round_trip(void **state)
{
	int64_t y, m, d;

	(void)state;
	assert_int_equal(civil_days_from_date(1970, 1, 1), 0);
	assert_int_equal(civil_days_from_date(2000, 3, 1), 11017);
	assert_int_equal(civil_days_from_date(1969, 12, 31), -1);
	assert_true(civil_days_from_date(0, 1, 1) == -719528);
	for (int64_t z = -800000; z <= 3000000; z += 997) {
		civil_date_from_days(z, &y, &m, &d);
		assert_true(m >= 1 && m <= 12 && d >= 1 && d <= civil_month_days(y, (int)m));
		assert_true(civil_days_from_date(y, m, d) == z);
	}
	assert_int_equal(civil_month_days(2000, 2), 29); /* divisible by 400 */
	assert_int_equal(civil_month_days(1900, 2), 28); /* by 100 only */
	assert_int_equal(civil_month_days(2024, 2), 29);
	assert_int_equal(civil_month_days(2023, 4), 30);
}

static void buf_grows_and_respects_max(void **state)
{
	struct buf b;

	buf_init(&b, 10);
	assert_int_equal(buf_append_str(&b, "hello"), KBS_OK);
	assert_int_equal(buf_printf(&b, "%d", 1234), KBS_OK);
	assert_string_equal((char *)b.p, "hello1234");
	assert_int_equal(buf_append_str(&b, "xy"), KBS_ERR_RANGE);
	assert_int_equal(b.len, 9); /* failed append changes nothing */
	assert_int_equal(buf_append_byte(&b, 'z'), KBS_OK);
	size_t n;
	char *s = buf_steal(&b, &n);
	assert_string_equal(s, "hello1234z");
	assert_int_equal(n, 10);
	assert_null(b.p);
	free(s);
	buf_release(&b);
	buf_release(NULL);
}

static void secmem_alloc_wipe_and_contains(void **state)
{
	struct secbuf s;
	size_t before = secmem_used();

	assert_int_equal(secbuf_dup(&s, "hunter2", 7), KBS_OK);
	assert_true(secmem_contains(s.p));
	assert_memory_equal(s.p, "hunter2", 7);
	assert_int_equal(s.p[7], 0);
	assert_true(secmem_used() > before);
	uint8_t *raw = s.p;
	secbuf_free(&s);
	assert_null(s.p);
	/* The arena stays mapped, so the old bytes can be inspected: they must be wiped. */
	assert_int_not_equal(memcmp(raw, "hunter2", 7), 0);
	assert_int_equal(secmem_used(), before);
	int local;
	assert_false(secmem_contains(&local));
	secmem_free(NULL);
	secbuf_free(NULL);
}

static void secmem_pool_exhaustion_is_clean_error(void **state)
{
	void *big = secmem_alloc(secmem_capacity() + 1);

	assert_null(big);
	assert_int_equal(secmem_last_error(), KBS_ERR_LOCKMEM);
	void *p[64];
	size_t n = 0;
	/* Fill the pool with 64 KiB chunks until it refuses, then free everything. */
	while (n < 64 && (p[n] = secmem_alloc(64 * 1024)) != NULL)
		n++;
	assert_true(n > 0);
	for (size_t i = 0; i < n; i++)
		secmem_free(p[i]);
	assert_int_equal(secmem_used(), 0);
}

static void secmem_cmp_constant_time_api(void **state)
{
	assert_int_equal(secmem_cmp("abc", "abc", 3), 0);
	assert_int_not_equal(secmem_cmp("abc", "abd", 3), 0);
}

static void log_redacts_secret_buffers(void **state)
{
	struct secbuf s;
	char line[256];

	assert_int_equal(secbuf_dup(&s, "TOPSECRET", 9), KBS_OK);
	log_format(line, sizeof(line), "value=%s len=%zu", (const char *)s.p, s.len);
	assert_null(strstr(line, "TOPSECRET"));
	assert_non_null(strstr(line, "<redacted>"));
	assert_non_null(strstr(line, "len=9"));
	log_format(line, sizeof(line), "p=%.*s", 4, (const char *)s.p + 2);
	assert_null(strstr(line, "PSEC"));
	log_format(line, sizeof(line), "p=%.4s", (const char *)s.p);
	assert_null(strstr(line, "TOPS"));
	assert_non_null(strstr(line, "<redacted>"));
	secbuf_free(&s);
}

static void log_line_to_fd_never_contains_secret(void **state)
{
	char path[] = "/tmp/kbs-logtest-XXXXXX";
	int fd = mkstemp(path);
	struct secbuf s;
	char got[1024] = {0};

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(secbuf_dup(&s, "s3cr3t-bytes", 12), KBS_OK);
	log_set_fd(fd);
	log_error("fetched %s (%zu bytes) for %s", (const char *)s.p, s.len, "default/akv/x");
	log_set_fd(2);
	assert_true(pread(fd, got, sizeof(got) - 1, 0) > 0);
	close(fd);
	assert_null(strstr(got, "s3cr3t"));
	assert_non_null(strstr(got, "default/akv/x"));
	assert_non_null(strstr(got, "error"));
	secbuf_free(&s);
}

static void log_formats_supported_conversions(void **state)
{
	char line[256];

	log_format(line, sizeof(line), "%d %u %x %ld %lu %lld %zu %zd %c %% %s %.*s", -1, 2u, 255u,
		   -3l, 4ul, 5ll, (size_t)6, (ssize_t)-7, 'c', "str", 2, "abc");
	assert_string_equal(line, "-1 2 ff -3 4 5 6 -7 c % str ab");
	log_format(line, sizeof(line), "[%.3s][%.0s][%.10s]", "abcdef", "xyz", "short");
	assert_string_equal(line, "[abc][][short]");
	const char *volatile nul = NULL;
	log_format(line, sizeof(line), "%s", nul);
	assert_string_equal(line, "(null)");
}

static void log_level_parse_names(void **state)
{
	assert_int_equal(log_level_parse("debug"), LOG_LVL_DEBUG);
	assert_int_equal(log_level_parse("WARN"), LOG_LVL_WARN);
	assert_int_equal(log_level_parse("bogus"), -1);
	assert_int_equal(log_level_parse(NULL), -1);
}

static void log_digest_is_prefix_of_sha256(void **state)
{
	char d[32];

	log_digest("abc", 3, d, sizeof(d));
	assert_string_equal(d, "sha256:ba7816bf8f01cfea");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(err_every_code_has_text),
		cmocka_unit_test(err_set_err_truncates_and_takes_null),
		cmocka_unit_test(civil_dates_round_trip),
		cmocka_unit_test(buf_grows_and_respects_max),
		cmocka_unit_test(secmem_alloc_wipe_and_contains),
		cmocka_unit_test(secmem_pool_exhaustion_is_clean_error),
		cmocka_unit_test(secmem_cmp_constant_time_api),
		cmocka_unit_test(log_redacts_secret_buffers),
		cmocka_unit_test(log_line_to_fd_never_contains_secret),
		cmocka_unit_test(log_formats_supported_conversions),
		cmocka_unit_test(log_level_parse_names),
		cmocka_unit_test(log_digest_is_prefix_of_sha256),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
