// SPDX-License-Identifier: Apache-2.0
/*
 * Rego built-ins: time.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/b64.h"
#include "common/err.h"
#include "server/policy/rego_bi.h"

/* ---------- time ---------- */

static struct val *bi_now_ns(struct ev *ev, struct val **args, const struct term *call)
{
	return val_int(A, rego_now_ns(ev));
}

/* days since 1970-01-01 of a civil date (proleptic Gregorian) */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static bool digits(const char *s, size_t n, size_t i, size_t cnt, int64_t *out)
{
	int64_t v = 0;

	if (i + cnt > n)
		return false;
	for (size_t k = 0; k < cnt; k++) {
		if (!isdigit((unsigned char)s[i + k]))
			return false;
		v = v * 10 + (s[i + k] - '0');
	}
	*out = v;
	return true;
}

static struct val *bi_parse_rfc3339(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_STR, "string");
	const char *s = args[0]->s;
	size_t n = args[0]->len, i = 0;
	int64_t y, mo, d, h, mi, se, frac = 0, off = 0;

	if (!digits(s, n, 0, 4, &y) || n < 20 || s[4] != '-' || !digits(s, n, 5, 2, &mo) ||
	    s[7] != '-' || !digits(s, n, 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
	    !digits(s, n, 11, 2, &h) || s[13] != ':' || !digits(s, n, 14, 2, &mi) ||
	    s[16] != ':' || !digits(s, n, 17, 2, &se))
		goto bad;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		goto bad;
	i = 19;
	if (i < n && s[i] == '.') {
		int64_t scale = 100000000;

		i++;
		if (i >= n || !isdigit((unsigned char)s[i]))
			goto bad;
		while (i < n && isdigit((unsigned char)s[i])) {
			frac += (s[i] - '0') * scale;
			scale /= 10;
			i++;
		}
	}
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		int64_t oh, om;

		if (!digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' ||
		    !digits(s, n, i + 4, 2, &om))
			goto bad;
		off = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
		i += 6;
	} else {
		goto bad;
	}
	if (i != n)
		goto bad;
	int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
	int64_t ns;

	/* negative seconds with a fraction: borrow one second so the product stays in range */
	if (secs < 0 && frac > 0) {
		secs++;
		frac -= 1000000000;
	}
	if (__builtin_mul_overflow(secs, (int64_t)1000000000, &ns) ||
	    __builtin_add_overflow(ns, frac, &ns))
		return ev_builtin_error(ev, call, "time outside of valid range");
	return val_int(A, ns);
bad:
	return ev_builtin_error(ev, call, "parsing time \"%.*s\" as RFC 3339 failed",
				(int)(n > 64 ? 64 : n), s);
}

/* civil date of a day count since 1970-01-01 */
static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yoe + era * 400 + (*m <= 2);
}

static int64_t floordiv(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && ((a < 0) != (b < 0)));
}

/* time argument: ns or [ns, tz]; only UTC is supported (other zones fail closed) */
static bool time_arg(struct ev *ev, struct val *x, const struct term *call, int64_t *ns,
		     struct val **err)
{
	*err = NULL;
	if (x->t == V_ARR) {
		if (x->len != 2 || x->items[1]->t != V_STR) {
			*err = ev_type_error(ev, call, 1, "number or [number, string]", x);
			return false;
		}
		const struct val *tz = x->items[1];

		/* an engine limitation, not a failing call: always an error (fail closed) */
		if (!(tz->len == 0 || (tz->len == 3 && memcmp(tz->s, "UTC", 3) == 0)))
			ev_error(ev, EE_OTHER, call, "%s: unsupported time zone \"%.*s\" (only UTC)",
				 call->fname, (int)(tz->len > 40 ? 40 : tz->len), tz->s);
		x = x->items[0];
	}
	if (x->t != V_NUM) {
		*err = ev_type_error(ev, call, 1, "number or [number, string]", x);
		return false;
	}
	if (!x->isint) {
		*err = ev_builtin_error(ev, call, "%s: timestamp too big", call->fname);
		return false;
	}
	*ns = x->i;
	return true;
}

static struct val *int3(struct ev *ev, int64_t a, int64_t b, int64_t c)
{
	struct val *items[3] = { val_int(A, a), val_int(A, b), val_int(A, c) };

	return val_arr(A, items, 3);
}

static struct val *bi_time_date(struct ev *ev, struct val **args, const struct term *call)
{
	int64_t ns, y, m, d;
	struct val *err;

	if (!time_arg(ev, args[0], call, &ns, &err))
		return err;
	civil_from_days(floordiv(floordiv(ns, 1000000000), 86400), &y, &m, &d);
	return int3(ev, y, m, d);
}

static struct val *bi_time_clock(struct ev *ev, struct val **args, const struct term *call)
{
	int64_t ns;
	struct val *err;

	if (!time_arg(ev, args[0], call, &ns, &err))
		return err;
	int64_t secs = floordiv(ns, 1000000000);
	int64_t sod = secs - floordiv(secs, 86400) * 86400;

	return int3(ev, sod / 3600, sod / 60 % 60, sod % 60);
}

static struct val *bi_time_weekday(struct ev *ev, struct val **args, const struct term *call)
{
	static const char *const days[] = { "Thursday", "Friday", "Saturday", "Sunday",
					    "Monday",   "Tuesday", "Wednesday" };
	int64_t ns;
	struct val *err;

	if (!time_arg(ev, args[0], call, &ns, &err))
		return err;
	int64_t day = floordiv(floordiv(ns, 1000000000), 86400);

	return val_str(A, days[day - floordiv(day, 7) * 7]);
}

/* Go's Time.AddDate: month and day overflow normalise (Jan 31 + 1 month = Mar 3) */
static struct val *bi_time_add_date(struct ev *ev, struct val **args, const struct term *call)
{
	for (int i = 0; i < 4; i++)
		if (args[i]->t != V_NUM || !args[i]->isint)
			return TYPE_ERR(i, "integer");
	int64_t ns = args[0]->i, y, m, d;
	int64_t secs = ns / 1000000000, frac = ns % 1000000000;

	if (frac < 0) {
		frac += 1000000000;
		secs--;
	}
	int64_t day = floordiv(secs, 86400), sod = secs - day * 86400;

	if (llabs(args[1]->i) > 1000000 || llabs(args[2]->i) > 12000000 ||
	    llabs(args[3]->i) > 400000000)
		return ev_builtin_error(ev, call, "time outside of valid range");
	civil_from_days(day, &y, &m, &d);
	y += args[1]->i;
	m += args[2]->i;
	/* normalise the month into 1..12 */
	y += floordiv(m - 1, 12);
	m = m - 1 - floordiv(m - 1, 12) * 12 + 1;
	int64_t nday = days_from_civil(y, m, 1) + d - 1 + args[3]->i;
	int64_t r;

	if (__builtin_mul_overflow(nday, (int64_t)86400, &r) ||
	    __builtin_add_overflow(r, sod, &r) ||
	    __builtin_mul_overflow(r, (int64_t)1000000000, &r) ||
	    __builtin_add_overflow(r, frac, &r))
		return ev_builtin_error(ev, call, "time outside of valid range");
	return val_int(A, r);
}

const struct builtin rego_bi_time[] = {
	{ "time.now_ns", 0, bi_now_ns, false },
	{ "time.parse_rfc3339_ns", 1, bi_parse_rfc3339, false },
	{ "time.date", 1, bi_time_date, false },
	{ "time.clock", 1, bi_time_clock, false },
	{ "time.weekday", 1, bi_time_weekday, false },
	{ "time.add_date", 4, bi_time_add_date, false },
};
const size_t rego_bi_time_n = sizeof(rego_bi_time) / sizeof(rego_bi_time[0]);
