// SPDX-License-Identifier: Apache-2.0
/*
 * Rego built-ins: time (moments, dates, durations; test.sleep). Time zones come from the
 * system's tzdata (rego_tz.c); formatting and parsing with Go's layouts is in
 * rego_bi_timefmt.c.
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
#include "server/policy/rego_time.h"

/* ---------- time ---------- */

static struct val *bi_now_ns(struct ev *ev, struct val **args, const struct term *call)
{
	return val_int(A, rego_now_ns(ev));
}

struct val *ns_result(struct ev *ev, const struct term *call, int64_t secs, int64_t nsec)
{
	int64_t ns;

	if (!unix_ns(secs, nsec, &ns))
		return ev_builtin_error(ev, call, "time outside of valid range");
	return val_int(A, ns);
}

bool digits(const char *s, size_t n, size_t i, size_t cnt, int64_t *out)
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
	    !digits(s, n, 11, 2, &h) || s[13] != ':' || !digits(s, n, 14, 2, &mi) || s[16] != ':' ||
	    !digits(s, n, 17, 2, &se))
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
	return ns_result(ev, call,
			 civil_days_from_date(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off, frac);
bad:
	return ev_builtin_error(ev, call, "parsing time \"%.*s\" as RFC 3339 failed",
				(int)(n > 64 ? 64 : n), s);
}

bool time_arg(struct ev *ev, struct val *x, const struct term *call, int argno,
		     struct moment *mo, struct val **err)
{
	*err = NULL;
	memset(mo, 0, sizeof(*mo));
	if (x->t == V_ARR) {
		if (x->len == 0 || x->len > 3 || (x->len > 1 && x->items[1]->t != V_STR) ||
		    (x->len > 2 && x->items[2]->t != V_STR)) {
			*err = ev_type_error(ev, call, argno,
					     "either number (ns) or [number (ns), string (tz)]", x);
			return false;
		}
		if (x->len > 1) {
			const struct val *tz = x->items[1];

			if (tz->len == 5 && memcmp(tz->s, "Local", 5) == 0) {
				/* the host's zone is not part of the policy's inputs: refused */
				ev_error(ev, EE_OTHER, call,
					 "%s: time zone \"Local\" is not supported", call->fname);
			} else if (!(tz->len == 0 ||
				     (tz->len == 3 && memcmp(tz->s, "UTC", 3) == 0))) {
				mo->zone = tz_load(ev, call, tz);
				if (!mo->zone)
					return false; /* lenient: undefined */
			}
		}
		if (x->len > 2)
			mo->layout = x->items[2];
		x = x->items[0];
	}
	if (x->t != V_NUM) {
		*err = ev_type_error(ev, call, argno,
				     "either number (ns) or [number (ns), string (tz)]", x);
		return false;
	}
	if (!x->isint) {
		*err = ev_builtin_error(ev, call, "%s: timestamp too big", call->fname);
		return false;
	}
	mo->ns = x->i;
	return true;
}

void to_civil(const struct moment *mo, struct civil *c)
{
	int64_t secs = floordiv(mo->ns, 1000000000);

	/* the remainder, not ns - secs * 1e9: that product overflows near INT64_MIN */
	c->nsec = mo->ns % 1000000000;
	if (c->nsec < 0)
		c->nsec += 1000000000;
	c->type = tz_at(mo->zone, secs);
	secs += c->type->off;
	c->days = floordiv(secs, 86400);
	int64_t sod = secs - c->days * 86400;

	civil_date_from_days(c->days, &c->year, &c->month, &c->day);
	c->hour = sod / 3600;
	c->min = sod / 60 % 60;
	c->sec = sod % 60;
	c->yday = c->days - civil_days_from_date(c->year, 1, 1) + 1;
	c->wday = ((c->days + 4) % 7 + 7) % 7; /* 0 = Sunday */
}

static struct val *int3(struct ev *ev, int64_t a, int64_t b, int64_t c)
{
	struct val *items[3] = {val_int(A, a), val_int(A, b), val_int(A, c)};

	return val_arr(A, items, 3);
}

/* The local civil time of a moment argument (false: *err is the built-in's result). */
static bool civil_arg(struct ev *ev, struct val *x, const struct term *call, struct civil *c,
		      struct val **err)
{
	struct moment mo;

	if (!time_arg(ev, x, call, 1, &mo, err))
		return false;
	to_civil(&mo, c);
	return true;
}

static struct val *bi_time_date(struct ev *ev, struct val **args, const struct term *call)
{
	struct civil c;
	struct val *err;

	return civil_arg(ev, args[0], call, &c, &err) ? int3(ev, c.year, c.month, c.day) : err;
}

static struct val *bi_time_clock(struct ev *ev, struct val **args, const struct term *call)
{
	struct civil c;
	struct val *err;

	return civil_arg(ev, args[0], call, &c, &err) ? int3(ev, c.hour, c.min, c.sec) : err;
}

const char *const wdays[7] = {"Sunday",	"Monday", "Tuesday", "Wednesday",
				    "Thursday", "Friday", "Saturday"};
const char *const months[12] = {"January",	  "February", "March",	  "April",
				     "May",	  "June",     "July",	  "August",
				     "September", "October",  "November", "December"};

static struct val *bi_time_weekday(struct ev *ev, struct val **args, const struct term *call)
{
	struct civil c;
	struct val *err;

	return civil_arg(ev, args[0], call, &c, &err) ? val_str(A, wdays[c.wday]) : err;
}

/* UTC nanoseconds of a local civil time in zone z (Go's time.Date: the offset in effect
 * there; in a gap or overlap the offset before the change decides) */
static bool from_civil(const struct tz *z, int64_t days, int64_t sod, int64_t nsec, int64_t *ns)
{
	int64_t local, secs;

	if (__builtin_mul_overflow(days, (int64_t)86400, &local) ||
	    __builtin_add_overflow(local, sod, &local))
		return false;
	secs = local - tz_at(z, local)->off;
	secs = local - tz_at(z, secs)->off;
	return unix_ns(secs, nsec, ns);
}

/* Go's Time.AddDate: month and day overflow normalise (Jan 31 + 1 month = Mar 3) */
static struct val *bi_time_add_date(struct ev *ev, struct val **args, const struct term *call)
{
	struct moment mo;
	struct civil c;
	struct val *err;
	int64_t y, m, r;

	if (!time_arg(ev, args[0], call, 1, &mo, &err))
		return err;
	for (int i = 1; i < 4; i++)
		if (args[i]->t != V_NUM || !args[i]->isint)
			return TYPE_ERR(i, "integer");
	if (llabs(args[1]->i) > 1000000 || llabs(args[2]->i) > 12000000 ||
	    llabs(args[3]->i) > 400000000)
		return ev_builtin_error(ev, call, "time outside of valid range");
	to_civil(&mo, &c);
	y = c.year + args[1]->i;
	m = c.month + args[2]->i;
	/* normalise the month into 1..12 */
	y += floordiv(m - 1, 12);
	m = m - 1 - floordiv(m - 1, 12) * 12 + 1;
	int64_t nday = civil_days_from_date(y, m, 1) + c.day - 1 + args[3]->i;

	if (!from_civil(mo.zone, nday, c.hour * 3600 + c.min * 60 + c.sec, c.nsec, &r))
		return ev_builtin_error(ev, call, "time outside of valid range");
	return val_int(A, r);
}

/* time.diff(a, b): [years, months, days, hours, minutes, seconds] between two moments, both
 * read in the first one's zone, as OPA computes it */
static struct val *bi_time_diff(struct ev *ev, struct val **args, const struct term *call)
{
	struct moment m1, m2;
	struct civil a, b;
	struct val *err;

	if (!time_arg(ev, args[0], call, 1, &m1, &err) ||
	    !time_arg(ev, args[1], call, 2, &m2, &err))
		return err;
	m2.zone = m1.zone;
	if (m1.ns > m2.ns) {
		struct moment t = m1;

		m1 = m2;
		m2 = t;
	}
	to_civil(&m1, &a);
	to_civil(&m2, &b);
	int64_t year = b.year - a.year, month = b.month - a.month, day = b.day - a.day;
	int64_t hour = b.hour - a.hour, min = b.min - a.min, sec = b.sec - a.sec;

	if (sec < 0) {
		sec += 60;
		min--;
	}
	if (min < 0) {
		min += 60;
		hour--;
	}
	if (hour < 0) {
		hour += 24;
		day--;
	}
	if (day < 0) {
		day += civil_month_days(a.year, (int)a.month); /* days in a's month */
		month--;
	}
	if (month < 0) {
		month += 12;
		year--;
	}
	struct val *items[6] = {val_int(A, year), val_int(A, month), val_int(A, day),
				val_int(A, hour), val_int(A, min),   val_int(A, sec)};

	return val_arr(A, items, 6);
}

/* Go's time.ParseDuration: "1h2m3.5s", "-100ms", units ns us µs μs ms s m h */
static struct val *bi_parse_duration(struct ev *ev, struct val **args, const struct term *call)
{
	static const struct {
		const char *u;
		int64_t ns;
	} units[] = {
	    {"ns", 1},	     {"us", 1000},	{"\xc2\xb5s", 1000},  {"\xce\xbcs", 1000},
	    {"ms", 1000000}, {"s", 1000000000}, {"m", 60000000000LL}, {"h", 3600000000000LL}};
	const char *s;
	size_t n, i = 0;
	bool neg = false;
	int64_t total = 0;

	NEED(0, V_STR, "string");
	s = args[0]->s;
	n = args[0]->len;
	if (i < n && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	if (n - i == 1 && s[i] == '0')
		return val_int(A, 0);
	if (i == n)
		goto bad;
	while (i < n) {
		int64_t whole = 0, frac = 0, scale = 1, unit = 0, part;
		bool any = false;

		while (i < n && isdigit((unsigned char)s[i])) {
			if (__builtin_mul_overflow(whole, 10, &whole) ||
			    __builtin_add_overflow(whole, s[i] - '0', &whole))
				goto bad;
			i++;
			any = true;
		}
		if (i < n && s[i] == '.') {
			i++;
			while (i < n && isdigit((unsigned char)s[i])) {
				if (scale < 1000000000000000000LL) {
					frac = frac * 10 + (s[i] - '0');
					scale *= 10;
				}
				i++;
				any = true;
			}
		}
		if (!any)
			goto bad;
		size_t best = 0;

		for (size_t k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
			size_t l = strlen(units[k].u);

			/* the longest unit that matches ("ms" before "m") */
			if (l > best && n - i >= l && memcmp(s + i, units[k].u, l) == 0 &&
			    !(l == 1 && s[i] == 'm' && i + 1 < n && s[i + 1] == 's')) {
				best = l;
				unit = units[k].ns;
			}
		}
		if (!best)
			goto bad;
		i += best;
		if (__builtin_mul_overflow(whole, unit, &part) ||
		    __builtin_add_overflow(
			part, (int64_t)((double)frac * ((double)unit / (double)scale)), &part) ||
		    __builtin_add_overflow(total, part, &total))
			goto bad;
	}
	return val_int(A, neg ? -total : total);
bad:
	return ev_builtin_error(ev, call, "time: invalid duration \"%.*s\"", (int)(n > 64 ? 64 : n),
				s);
}

/* test.sleep(duration): OPA's test-only built-in, for policy tests of time caching. It
 * blocks the thread, so it exists only with rego_eval_opts.test_builtins, and never for
 * longer than REGO_TEST_SLEEP_MAX_NS. Returns null, as OPA does. */
static struct val *bi_test_sleep(struct ev *ev, struct val **args, const struct term *call)
{
	if (!ev->test_builtins)
		ev_error(ev, EE_BUILTIN, call,
			 "test.sleep: test built-ins are disabled (rego_eval_opts.test_builtins)");
	struct val *d = bi_parse_duration(ev, args, call);

	if (!d)
		return NULL;
	if (d->i > REGO_TEST_SLEEP_MAX_NS)
		return ev_builtin_error(ev, call, "test.sleep: %lld ns is longer than the %lld ns cap",
					(long long)d->i, (long long)REGO_TEST_SLEEP_MAX_NS);
	if (d->i > 0) {
		struct timespec ts = { (time_t)(d->i / 1000000000), (long)(d->i % 1000000000) };

		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	return RV_NULL;
}

const struct builtin rego_bi_time[] = {
    {"time.now_ns", 0, bi_now_ns, false},
    {"time.parse_rfc3339_ns", 1, bi_parse_rfc3339, false},
    {"time.date", 1, bi_time_date, false},
    {"time.clock", 1, bi_time_clock, false},
    {"time.weekday", 1, bi_time_weekday, false},
    {"time.add_date", 4, bi_time_add_date, false},
    {"time.diff", 2, bi_time_diff, false},
    {"time.format", 1, bi_time_format, false},
    {"time.parse_ns", 2, bi_time_parse_ns, false},
    {"time.parse_duration_ns", 1, bi_parse_duration, false},
    {"test.sleep", 1, bi_test_sleep, false},
};
const size_t rego_bi_time_n = sizeof(rego_bi_time) / sizeof(rego_bi_time[0]);
