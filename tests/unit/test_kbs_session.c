// SPDX-License-Identifier: Apache-2.0
/* RCAR session store: id/nonce format, single-use nonce, expiry, bound, token storage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/b64.h"
#include "common/err.h"
#include "server/kbs/kbs_int.h"
#include "server/kbs/session.h"

static void test_create_formats(void **state)
{
	struct kbs_sessions *s = NULL;
	char id[33], id2[33], nonce[45], nonce2[45];
	uint8_t raw[40];
	size_t rawlen;
	time_t exp;

	(void)state;
	assert_int_equal(kbs_sessions_new(0, &s), KBS_OK);
	assert_int_equal(kbs_session_create(s, "sample", 300, 1000, id, nonce, &exp), KBS_OK);
	assert_int_equal(exp, 1300);
	assert_int_equal(strlen(id), 32);
	assert_int_equal(strspn(id, "0123456789abcdef"), 32);
	assert_int_equal(id[12], '4'); /* UUIDv4 version nibble */
	assert_int_equal(strlen(nonce), 44);
	assert_int_equal(b64_decode(nonce, 44, raw, sizeof(raw), &rawlen, B64_STD), KBS_OK);
	assert_int_equal(rawlen, 32);
	assert_int_equal(kbs_session_create(s, "sample", 300, 1000, id2, nonce2, &exp), KBS_OK);
	assert_string_not_equal(id, id2);
	assert_string_not_equal(nonce, nonce2);
	assert_int_equal(kbs_sessions_count(s), 2);
	assert_int_equal(kbs_session_create(s, "a-tee-name-that-is-far-too-long-for-a-tee", 300,
					    1000, id2, nonce2, &exp),
			 KBS_ERR_INVAL);
	kbs_sessions_free(s);
	kbs_sessions_free(NULL);
}

static void test_nonce_single_use(void **state)
{
	struct kbs_sessions *s = NULL;
	struct kbs_session_info info;
	char id[33], nonce[45], other[45];
	time_t exp;

	(void)state;
	assert_int_equal(kbs_sessions_new(0, &s), KBS_OK);
	assert_int_equal(kbs_session_create(s, "sample", 300, 1000, id, nonce, &exp), KBS_OK);
	memcpy(other, nonce, sizeof(other));
	other[0] = other[0] == 'A' ? 'B' : 'A';
	assert_int_equal(kbs_session_consume_nonce(s, id, other, 1001), KBS_ERR_VERIFY);
	assert_int_equal(kbs_session_consume_nonce(s, id, "short", 1001), KBS_ERR_VERIFY);
	assert_int_equal(kbs_session_consume_nonce(s, id, NULL, 1001), KBS_ERR_VERIFY);
	/* a mismatch does not burn the nonce; the first match does */
	assert_int_equal(kbs_session_consume_nonce(s, id, nonce, 1001), KBS_OK);
	assert_int_equal(kbs_session_consume_nonce(s, id, nonce, 1002), KBS_ERR_PERM);
	assert_int_equal(kbs_session_get(s, id, 1002, &info), KBS_OK);
	assert_true(info.nonce_used);
	assert_false(info.attested);
	assert_null(info.token);
	assert_string_equal(info.tee, "sample");
	kbs_session_info_release(&info);
	assert_int_equal(kbs_session_set_token(s, id, "tok.en.x"), KBS_OK);
	assert_int_equal(kbs_session_get(s, id, 1003, &info), KBS_OK);
	assert_true(info.attested);
	assert_string_equal(info.token, "tok.en.x");
	kbs_session_info_release(&info);
	kbs_sessions_free(s);
}

static void test_expiry_and_unknown(void **state)
{
	struct kbs_sessions *s = NULL;
	struct kbs_session_info info;
	char id[33], nonce[45];
	time_t exp;

	(void)state;
	assert_int_equal(kbs_sessions_new(0, &s), KBS_OK);
	assert_int_equal(kbs_session_create(s, "snp", 10, 1000, id, nonce, &exp), KBS_OK);
	assert_int_equal(kbs_session_get(s, id, 1009, &info), KBS_OK);
	kbs_session_info_release(&info);
	assert_int_equal(kbs_session_get(s, id, 1010, &info), KBS_ERR_EXPIRED);
	/* expired sessions are deleted on lookup */
	assert_int_equal(kbs_session_get(s, id, 1010, &info), KBS_ERR_NOTFOUND);
	assert_int_equal(kbs_sessions_count(s), 0);
	assert_int_equal(kbs_session_consume_nonce(s, id, nonce, 1011), KBS_ERR_NOTFOUND);
	assert_int_equal(kbs_session_get(s, "", 1000, &info), KBS_ERR_NOTFOUND);
	assert_int_equal(kbs_session_get(s, "00000000000000000000000000000000", 1000, &info),
			 KBS_ERR_NOTFOUND);
	assert_int_equal(kbs_session_set_token(s, "00000000000000000000000000000000", "t"),
			 KBS_ERR_NOTFOUND);
	kbs_sessions_free(s);
}

static void test_bounded_with_sweep(void **state)
{
	struct kbs_sessions *s = NULL;
	char id[33], nonce[45];
	time_t exp;

	(void)state;
	assert_int_equal(kbs_sessions_new(3, &s), KBS_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(kbs_session_create(s, "sample", 5, 1000, id, nonce, &exp), KBS_OK);
	assert_int_equal(kbs_session_create(s, "sample", 5, 1001, id, nonce, &exp), KBS_ERR_BUSY);
	/* once they expire, the sweep makes room */
	assert_int_equal(kbs_session_create(s, "sample", 5, 1006, id, nonce, &exp), KBS_OK);
	assert_int_equal(kbs_sessions_count(s), 1);
	kbs_sessions_free(s);
}

/* The cookie's Expires date is what strftime gives in the C locale, without calling it. */
static void test_cookie_date_matches_strftime(void **state)
{
	static const time_t ts[] = {0,	       86399,	   86400,      951782400,  951868799,
				    1700000000, 1767225599, 2147483647, 4102444799, 4107542400,
				    253402300799};
	char want[64], got[KBS_HTTP_DATE_LEN + 1];
	struct tm tm;

	(void)state;
	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		gmtime_r(&ts[i], &tm);
		strftime(want, sizeof(want), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		assert_int_equal(kbs_http_date(ts[i], got), KBS_HTTP_DATE_LEN);
		assert_string_equal(got, want);
	}
	/* every day of a leap-year span, at a time with all-different digits */
	for (time_t t = 946684800 + 12 * 3600 + 34 * 60 + 56; t < 1009843200; t += 86400) {
		gmtime_r(&t, &tm);
		strftime(want, sizeof(want), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		kbs_http_date(t, got);
		assert_string_equal(got, want);
	}
	kbs_http_date(253402300800, got); /* year 10000: the format's last date */
	assert_string_equal(got, "Fri, 31 Dec 9999 23:59:59 GMT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_formats),
		cmocka_unit_test(test_nonce_single_use),
		cmocka_unit_test(test_expiry_and_unknown),
		cmocka_unit_test(test_bounded_with_sweep),
		cmocka_unit_test(test_cookie_date_matches_strftime),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
