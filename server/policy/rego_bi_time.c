// SPDX-License-Identifier: Apache-2.0
/*
 * Rego built-ins: time. Time zones come from the system's tzdata (TZif files under
 * /usr/share/zoneinfo, read by this file, loaded once per evaluation: no TZ environment,
 * no localtime(), no process-wide state). Layouts are Go's reference-time layouts.
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

/* ---------- time zones (TZif files of the system's tzdata) ---------- */

#define ZONEINFO_DIR "/usr/share/zoneinfo/"
#define TZ_MAX_FILE (16 * 1024) /* TZif files are a few KiB */

struct tz_type {
	int32_t off;
	bool dst;
	char abbr[8];
};

/* POSIX TZ rule of a TZif footer ("PST8PDT,M3.2.0,M11.1.0"): month, week, weekday, time */
struct tz_rule {
	int mon, week, wday;
	int32_t secs;
};

struct tz {
	char name[72];
	int64_t *trans; /* transition times (UTC seconds), ascending */
	uint8_t *idx;	/* type index after each transition */
	int ntrans;
	struct tz_type *types;
	int ntypes;
	/* the footer rule, for times after the last transition */
	bool has_rule, rule_dst;
	struct tz_type std, dst;
	struct tz_rule start, end;
	struct tz *next; /* per-evaluation cache */
};

static int64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (int64_t)v;
}

static int32_t be32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

/* POSIX TZ: an abbreviation ("PST" or "<+0530>") */
static const char *posix_abbr(const char *s, char *out)
{
	size_t n = 0;

	if (*s == '<') {
		for (s++; *s && *s != '>'; s++)
			if (n < 7)
				out[n++] = *s;
		if (*s != '>')
			return NULL;
		s++;
	} else {
		for (; isalpha((unsigned char)*s); s++)
			if (n < 7)
				out[n++] = *s;
	}
	out[n] = 0;
	return n >= 3 ? s : NULL;
}

/* POSIX TZ: [+-]hh[:mm[:ss]] as seconds */
static const char *posix_time(const char *s, int32_t *out)
{
	int sign = 1;
	long h = 0, m = 0, sec = 0;

	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	if (!isdigit((unsigned char)*s))
		return NULL;
	h = strtol(s, (char **)&s, 10);
	if (*s == ':') {
		m = strtol(s + 1, (char **)&s, 10);
		if (*s == ':')
			sec = strtol(s + 1, (char **)&s, 10);
	}
	if (h > 167 || m > 59 || sec > 59)
		return NULL;
	*out = (int32_t)(sign * (h * 3600 + m * 60 + sec));
	return s;
}

/* POSIX TZ: ,Mm.w.d[/time] (the Julian forms are refused: the zone fails to load) */
static const char *posix_rule(const char *s, struct tz_rule *r)
{
	char *e;

	if (s[0] != ',' || s[1] != 'M')
		return NULL;
	r->mon = (int)strtol(s + 2, &e, 10);
	if (*e != '.')
		return NULL;
	r->week = (int)strtol(e + 1, &e, 10);
	if (*e != '.')
		return NULL;
	r->wday = (int)strtol(e + 1, &e, 10);
	r->secs = 7200;
	if (r->mon < 1 || r->mon > 12 || r->week < 1 || r->week > 5 || r->wday < 0 || r->wday > 6)
		return NULL;
	if (*e == '/')
		return posix_time(e + 1, &r->secs);
	return e;
}

static bool parse_footer(struct tz *z, const char *s)
{
	int32_t off;

	s = posix_abbr(s, z->std.abbr);
	if (!s || !(s = posix_time(s, &off)))
		return false;
	z->std.off = -off; /* POSIX offsets are west-positive */
	z->has_rule = true;
	if (!*s)
		return true;
	s = posix_abbr(s, z->dst.abbr);
	if (!s)
		return false;
	z->dst.off = z->std.off + 3600;
	z->dst.dst = true;
	if (*s && *s != ',') {
		if (!(s = posix_time(s, &off)))
			return false;
		z->dst.off = -off;
	}
	if (!(s = posix_rule(s, &z->start)) || !(s = posix_rule(s, &z->end)) || *s)
		return false;
	z->rule_dst = true;
	return true;
}

/* Parses a TZif file (version 2 or later: the 64-bit block and the footer). */
static bool parse_tzif(struct ev *ev, struct tz *z, const uint8_t *p, size_t n)
{
	size_t cnt[6], off = 0;

	for (int pass = 0; pass < 2; pass++) {
		if (n - off < 44 || memcmp(p + off, "TZif", 4) != 0)
			return false;
		for (int i = 0; i < 6; i++)
			cnt[i] = (size_t)(uint32_t)be32(p + off + 20 + 4 * i);
		/* isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt */
		size_t tsz = pass ? 8 : 4;
		size_t body = cnt[3] * tsz + cnt[3] + cnt[4] * 6 + cnt[5] + cnt[2] * (tsz + 4) +
			      cnt[1] + cnt[0];

		if (cnt[3] > 100000 || cnt[4] == 0 || cnt[4] > 256 || cnt[5] > 4096 ||
		    cnt[2] > 10000 || n - off - 44 < body)
			return false;
		if (pass == 0) {
			if (p[off + 4] < '2')
				return false; /* version 1 files have no 64-bit data */
			off += 44 + body;
			continue;
		}
		const uint8_t *q = p + off + 44;

		z->ntrans = (int)cnt[3];
		z->trans = arena_alloc(A, (cnt[3] + 1) * sizeof(*z->trans));
		z->idx = arena_alloc(A, cnt[3] + 1);
		for (size_t i = 0; i < cnt[3]; i++)
			z->trans[i] = be64(q + 8 * i);
		q += 8 * cnt[3];
		for (size_t i = 0; i < cnt[3]; i++)
			if ((z->idx[i] = q[i]) >= cnt[4])
				return false;
		q += cnt[3];
		z->ntypes = (int)cnt[4];
		z->types = arena_alloc(A, cnt[4] * sizeof(*z->types));
		const uint8_t *chars = q + 6 * cnt[4];

		for (size_t i = 0; i < cnt[4]; i++) {
			size_t ai = q[6 * i + 5];

			z->types[i].off = be32(q + 6 * i);
			z->types[i].dst = q[6 * i + 4] != 0;
			for (size_t k = 0; k < 7 && ai + k < cnt[5] && chars[ai + k]; k++)
				z->types[i].abbr[k] = (char)chars[ai + k];
		}
		off += 44 + body;
		/* footer: \n<POSIX TZ>\n */
		if (off < n && p[off] == '\n') {
			const uint8_t *nl = memchr(p + off + 1, '\n', n - off - 1);
			char foot[128];
			size_t fl = nl ? (size_t)(nl - (p + off + 1)) : 0;

			if (nl && fl > 0 && fl < sizeof(foot)) {
				memcpy(foot, p + off + 1, fl);
				foot[fl] = 0;
				if (!parse_footer(z, foot))
					z->has_rule =
					    false; /* last transition's type then applies */
			}
		}
	}
	return true;
}

static bool tz_name_ok(const struct val *name)
{
	if (name->len == 0 || name->len > 64 || name->s[0] == '/' || name->s[0] == '.')
		return false;
	for (size_t i = 0; i < name->len; i++) {
		char c = name->s[i];

		if (!(isalnum((unsigned char)c) || c == '/' || c == '_' || c == '-' || c == '+' ||
		      c == '.'))
			return false;
		if (c == '.' && i + 1 < name->len && name->s[i + 1] == '.')
			return false;
	}
	return true;
}

/* The zone named `name`, loaded once per evaluation; NULL (with a builtin error) if none. */
static const struct tz *tz_load(struct ev *ev, const struct term *call, const struct val *name)
{
	char path[128];
	uint8_t *buf = NULL;
	struct tz *z;
	FILE *f;
	size_t n;

	for (z = ev->tz_cache; z; z = z->next)
		if (strlen(z->name) == name->len && memcmp(z->name, name->s, name->len) == 0)
			return z;
	if (!tz_name_ok(name))
		goto bad;
	snprintf(path, sizeof(path), ZONEINFO_DIR "%.*s", (int)name->len, name->s);
	/* allocate first: the arena longjmps when exhausted, which must not leak the FILE */
	buf = arena_alloc(A, TZ_MAX_FILE);
	z = arena_alloc(A, sizeof(*z));
	f = fopen(path, "rb");
	if (!f)
		goto bad;
	n = fread(buf, 1, TZ_MAX_FILE, f);
	fclose(f);
	if (n == TZ_MAX_FILE || !parse_tzif(ev, z, buf, n))
		goto bad;
	snprintf(z->name, sizeof(z->name), "%.*s", (int)name->len, name->s);
	z->next = ev->tz_cache;
	ev->tz_cache = z;
	return z;
bad:
	ev_builtin_error(ev, call, "%s: unknown time zone %.*s", call->fname,
			 (int)(name->len > 64 ? 64 : name->len), name->s);
	return NULL;
}

/* day of the month of rule r in year y (the w-th weekday d of month m; w == 5: the last) */
static int64_t rule_day(int64_t y, const struct tz_rule *r)
{
	int64_t first = days_from_civil(y, r->mon, 1);
	int64_t wd = ((first + 4) % 7 + 7) % 7; /* 1970-01-01 was a Thursday */
	int64_t d = 1 + (r->wday - wd + 7) % 7 + 7 * (r->week - 1);
	int64_t mdays =
	    days_from_civil(r->mon == 12 ? y + 1 : y, r->mon == 12 ? 1 : r->mon + 1, 1) - first;

	while (d > mdays)
		d -= 7;
	return first + d - 1;
}

/* UTC offset and abbreviation in effect at UTC second t */
static const struct tz_type *tz_at(const struct tz *z, int64_t t)
{
	static const struct tz_type utc = {0, false, "UTC"};
	int lo = 0, hi;

	if (!z)
		return &utc;
	if (z->ntrans == 0 || t < z->trans[0]) {
		/* before the first transition: the first non-DST type */
		for (int i = 0; i < z->ntypes; i++)
			if (!z->types[i].dst)
				return &z->types[i];
		return &z->types[0];
	}
	if (t >= z->trans[z->ntrans - 1] && z->has_rule) {
		if (!z->rule_dst)
			return &z->std;
		int64_t days = t / 86400 - (t % 86400 < 0);
		int64_t y, m, d;

		civil_from_days(days, &y, &m, &d);
		/* rule times are local: start in standard time, end in daylight time */
		int64_t s = rule_day(y, &z->start) * 86400 + z->start.secs - z->std.off;
		int64_t e = rule_day(y, &z->end) * 86400 + z->end.secs - z->dst.off;
		bool in = s < e ? (t >= s && t < e) : !(t >= e && t < s);

		return in ? &z->dst : &z->std;
	}
	hi = z->ntrans - 1;
	while (lo < hi) {
		int mid = (lo + hi + 1) / 2;

		if (z->trans[mid] <= t)
			lo = mid;
		else
			hi = mid - 1;
	}
	return &z->types[z->idx[lo]];
}

/* A moment as OPA's builtins take it: ns or [ns, tz] or [ns, tz, layout]. */
struct moment {
	int64_t ns;
	const struct tz *zone; /* NULL = UTC */
	const struct val *layout;
};

static bool time_arg(struct ev *ev, struct val *x, const struct term *call, int argno,
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

/* Broken-down local time of a moment. */
struct civil {
	int64_t year, month, day, hour, min, sec, nsec, yday, wday;
	const struct tz_type *type;
	int64_t days; /* local days since 1970-01-01 */
};

static void to_civil(const struct moment *mo, struct civil *c)
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

	civil_from_days(c->days, &c->year, &c->month, &c->day);
	c->hour = sod / 3600;
	c->min = sod / 60 % 60;
	c->sec = sod % 60;
	c->yday = c->days - days_from_civil(c->year, 1, 1) + 1;
	c->wday = ((c->days + 4) % 7 + 7) % 7; /* 0 = Sunday */
}

static struct val *int3(struct ev *ev, int64_t a, int64_t b, int64_t c)
{
	struct val *items[3] = {val_int(A, a), val_int(A, b), val_int(A, c)};

	return val_arr(A, items, 3);
}

static struct val *bi_time_date(struct ev *ev, struct val **args, const struct term *call)
{
	struct moment mo;
	struct civil c;
	struct val *err;

	if (!time_arg(ev, args[0], call, 1, &mo, &err))
		return err;
	to_civil(&mo, &c);
	return int3(ev, c.year, c.month, c.day);
}

static struct val *bi_time_clock(struct ev *ev, struct val **args, const struct term *call)
{
	struct moment mo;
	struct civil c;
	struct val *err;

	if (!time_arg(ev, args[0], call, 1, &mo, &err))
		return err;
	to_civil(&mo, &c);
	return int3(ev, c.hour, c.min, c.sec);
}

static const char *const wdays[] = {"Sunday",	"Monday", "Tuesday", "Wednesday",
				    "Thursday", "Friday", "Saturday"};
static const char *const months[] = {"January",	  "February", "March",	  "April",
				     "May",	  "June",     "July",	  "August",
				     "September", "October",  "November", "December"};

static struct val *bi_time_weekday(struct ev *ev, struct val **args, const struct term *call)
{
	struct moment mo;
	struct civil c;
	struct val *err;

	if (!time_arg(ev, args[0], call, 1, &mo, &err))
		return err;
	to_civil(&mo, &c);
	return val_str(A, wdays[c.wday]);
}

/* UTC nanoseconds of a local civil time in zone z (Go's time.Date: the offset in effect
 * there; in a gap or overlap the offset before the change decides) */
static bool from_civil(const struct tz *z, int64_t days, int64_t sod, int64_t nsec, int64_t *ns)
{
	int64_t local, secs, r;

	if (__builtin_mul_overflow(days, (int64_t)86400, &local) ||
	    __builtin_add_overflow(local, sod, &local))
		return false;
	secs = local - tz_at(z, local)->off;
	secs = local - tz_at(z, secs)->off;
	/* negative seconds with a fraction: borrow one second so the product stays in range */
	if (secs < 0 && nsec > 0) {
		secs++;
		nsec -= 1000000000;
	}
	if (__builtin_mul_overflow(secs, (int64_t)1000000000, &r) ||
	    __builtin_add_overflow(r, nsec, &r))
		return false;
	*ns = r;
	return true;
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
	int64_t nday = days_from_civil(y, m, 1) + c.day - 1 + args[3]->i;

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
		/* days in a's month */
		int64_t first = days_from_civil(a.year, a.month, 1);
		int64_t next = days_from_civil(a.month == 12 ? a.year + 1 : a.year,
					       a.month == 12 ? 1 : a.month + 1, 1);

		day += next - first;
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

/* ---------- Go time layouts ("2006-01-02T15:04:05Z07:00") ---------- */

enum std {
	S_NONE = 0,
	S_LONG_MONTH,
	S_MONTH,
	S_NUM_MONTH,
	S_ZERO_MONTH,
	S_LONG_WDAY,
	S_WDAY,
	S_DAY,
	S_UNDER_DAY,
	S_ZERO_DAY,
	S_UNDER_YDAY,
	S_ZERO_YDAY,
	S_HOUR,
	S_HOUR12,
	S_ZERO_HOUR12,
	S_MIN,
	S_ZERO_MIN,
	S_SEC,
	S_ZERO_SEC,
	S_LONG_YEAR,
	S_YEAR,
	S_PM,
	S_pm,
	S_TZ,
	S_ISO_TZ,
	S_ISO_SECS_TZ,
	S_ISO_SHORT_TZ,
	S_ISO_COLON_TZ,
	S_ISO_COLON_SECS_TZ,
	S_NUM_TZ,
	S_NUM_SECS_TZ,
	S_NUM_SHORT_TZ,
	S_NUM_COLON_TZ,
	S_NUM_COLON_SECS_TZ,
	S_FRAC0,
	S_FRAC9,
};

/* The layout constants OPA accepts by name. */
static const char *const named_layouts[][2] = {
    {"ANSIC", "Mon Jan _2 15:04:05 2006"},
    {"UnixDate", "Mon Jan _2 15:04:05 MST 2006"},
    {"RubyDate", "Mon Jan 02 15:04:05 -0700 2006"},
    {"RFC822", "02 Jan 06 15:04 MST"},
    {"RFC822Z", "02 Jan 06 15:04 -0700"},
    {"RFC850", "Monday, 02-Jan-06 15:04:05 MST"},
    {"RFC1123", "Mon, 02 Jan 2006 15:04:05 MST"},
    {"RFC1123Z", "Mon, 02 Jan 2006 15:04:05 -0700"},
    {"RFC3339", "2006-01-02T15:04:05Z07:00"},
    {"RFC3339Nano", "2006-01-02T15:04:05.999999999Z07:00"},
};

static void layout_of(const struct val *v, const char **s, size_t *n)
{
	*s = v->s;
	*n = v->len;
	for (size_t i = 0; i < sizeof(named_layouts) / sizeof(named_layouts[0]); i++)
		if (strlen(named_layouts[i][0]) == v->len &&
		    memcmp(named_layouts[i][0], v->s, v->len) == 0) {
			*s = named_layouts[i][1];
			*n = strlen(*s);
		}
}

static bool has(const char *s, size_t n, size_t i, const char *w)
{
	size_t l = strlen(w);

	return n - i >= l && memcmp(s + i, w, l) == 0;
}

/* Finds the next layout element at or after i: returns its kind, start and length
 * (frac: *digits = number of 0s/9s). S_NONE: only literal text remains. */
static int next_std(const char *s, size_t n, size_t i, size_t *at, size_t *len, int *digits)
{
	static const struct {
		const char *w;
		int std;
	} tzs[] = {{"-07:00:00", S_NUM_COLON_SECS_TZ},
		   {"-070000", S_NUM_SECS_TZ},
		   {"-07:00", S_NUM_COLON_TZ},
		   {"-0700", S_NUM_TZ},
		   {"-07", S_NUM_SHORT_TZ},
		   {"Z07:00:00", S_ISO_COLON_SECS_TZ},
		   {"Z070000", S_ISO_SECS_TZ},
		   {"Z07:00", S_ISO_COLON_TZ},
		   {"Z0700", S_ISO_TZ},
		   {"Z07", S_ISO_SHORT_TZ}};

	for (; i < n; i++) {
		int std = S_NONE;
		size_t l = 0;

		switch (s[i]) {
		case 'J':
			if (has(s, n, i, "January"))
				std = S_LONG_MONTH, l = 7;
			else if (has(s, n, i, "Jan") &&
				 !(i + 3 < n && islower((unsigned char)s[i + 3])))
				std = S_MONTH, l = 3;
			break;
		case 'M':
			if (has(s, n, i, "Monday"))
				std = S_LONG_WDAY, l = 6;
			else if (has(s, n, i, "Mon") &&
				 !(i + 3 < n && islower((unsigned char)s[i + 3])))
				std = S_WDAY, l = 3;
			else if (has(s, n, i, "MST"))
				std = S_TZ, l = 3;
			break;
		case '0':
			if (i + 1 < n && s[i + 1] >= '1' && s[i + 1] <= '6') {
				static const int z[] = {S_ZERO_MONTH, S_ZERO_DAY, S_ZERO_HOUR12,
							S_ZERO_MIN,   S_ZERO_SEC, S_YEAR};

				std = z[s[i + 1] - '1'], l = 2;
			} else if (has(s, n, i, "002")) {
				std = S_ZERO_YDAY, l = 3;
			}
			break;
		case '1':
			if (has(s, n, i, "15"))
				std = S_HOUR, l = 2;
			else
				std = S_NUM_MONTH, l = 1;
			break;
		case '2':
			if (has(s, n, i, "2006"))
				std = S_LONG_YEAR, l = 4;
			else
				std = S_DAY, l = 1;
			break;
		case '_':
			if (has(s, n, i, "_2006")) {
				/* a literal '_' and then the year */
				*at = i + 1;
				*len = 4;
				return S_LONG_YEAR;
			}
			if (has(s, n, i, "_2"))
				std = S_UNDER_DAY, l = 2;
			else if (has(s, n, i, "__2"))
				std = S_UNDER_YDAY, l = 3;
			break;
		case '3':
			std = S_HOUR12, l = 1;
			break;
		case '4':
			std = S_MIN, l = 1;
			break;
		case '5':
			std = S_SEC, l = 1;
			break;
		case 'P':
			if (has(s, n, i, "PM"))
				std = S_PM, l = 2;
			break;
		case 'p':
			if (has(s, n, i, "pm"))
				std = S_pm, l = 2;
			break;
		case '-':
		case 'Z':
			for (size_t k = 0; k < sizeof(tzs) / sizeof(tzs[0]) && !std; k++)
				if (has(s, n, i, tzs[k].w))
					std = tzs[k].std, l = strlen(tzs[k].w);
			break;
		case '.':
		case ',':
			if (i + 1 < n && (s[i + 1] == '0' || s[i + 1] == '9')) {
				size_t j = i + 1;

				while (j < n && s[j] == s[i + 1])
					j++;
				if (!(j < n && isdigit((unsigned char)s[j]))) {
					std = s[i + 1] == '0' ? S_FRAC0 : S_FRAC9;
					l = j - i;
					*digits = (int)(j - i - 1);
				}
			}
			break;
		}
		if (std) {
			*at = i;
			*len = l;
			return std;
		}
	}
	*at = n;
	*len = 0;
	return S_NONE;
}

static void put_num(struct sbuf *b, int64_t v, int width, char pad)
{
	char tmp[32];
	int l = snprintf(tmp, sizeof(tmp), "%lld", (long long)(v < 0 ? -v : v));

	if (v < 0)
		sb_putc(b, '-');
	for (int k = l; k < width; k++)
		sb_putc(b, pad);
	sb_putn(b, tmp, (size_t)l);
}

static void put_tz(struct sbuf *b, int32_t off, int std)
{
	bool iso = std >= S_ISO_TZ && std <= S_ISO_COLON_SECS_TZ;
	int32_t a = off < 0 ? -off : off;

	if (iso && off == 0) {
		sb_putc(b, 'Z');
		return;
	}
	sb_putc(b, off < 0 ? '-' : '+');
	put_num(b, a / 3600, 2, '0');
	if (std == S_ISO_SHORT_TZ || std == S_NUM_SHORT_TZ)
		return;
	bool colon = std == S_ISO_COLON_TZ || std == S_ISO_COLON_SECS_TZ || std == S_NUM_COLON_TZ ||
		     std == S_NUM_COLON_SECS_TZ;

	if (colon)
		sb_putc(b, ':');
	put_num(b, a / 60 % 60, 2, '0');
	if (std == S_ISO_SECS_TZ || std == S_ISO_COLON_SECS_TZ || std == S_NUM_SECS_TZ ||
	    std == S_NUM_COLON_SECS_TZ) {
		if (colon)
			sb_putc(b, ':');
		put_num(b, a % 60, 2, '0');
	}
}

/* Go's Time.Format */
static void format_time(struct sbuf *b, const struct civil *c, const char *s, size_t n)
{
	size_t i = 0, at, len;
	int digits = 0, std;

	while ((std = next_std(s, n, i, &at, &len, &digits)) != S_NONE || i < n) {
		sb_putn(b, s + i, at - i);
		if (std == S_NONE)
			break;
		i = at + len;
		int64_t h12 = c->hour % 12 ? c->hour % 12 : 12;

		switch (std) {
		case S_YEAR:
			put_num(b, (c->year % 100 + 100) % 100, 2, '0');
			break;
		case S_LONG_YEAR:
			put_num(b, c->year, 4, '0');
			break;
		case S_MONTH:
			sb_putn(b, months[c->month - 1], 3);
			break;
		case S_LONG_MONTH:
			sb_puts(b, months[c->month - 1]);
			break;
		case S_NUM_MONTH:
			put_num(b, c->month, 0, '0');
			break;
		case S_ZERO_MONTH:
			put_num(b, c->month, 2, '0');
			break;
		case S_WDAY:
			sb_putn(b, wdays[c->wday], 3);
			break;
		case S_LONG_WDAY:
			sb_puts(b, wdays[c->wday]);
			break;
		case S_DAY:
			put_num(b, c->day, 0, '0');
			break;
		case S_UNDER_DAY:
			put_num(b, c->day, 2, ' ');
			break;
		case S_ZERO_DAY:
			put_num(b, c->day, 2, '0');
			break;
		case S_UNDER_YDAY:
			put_num(b, c->yday, 3, ' ');
			break;
		case S_ZERO_YDAY:
			put_num(b, c->yday, 3, '0');
			break;
		case S_HOUR:
			put_num(b, c->hour, 2, '0');
			break;
		case S_HOUR12:
			put_num(b, h12, 0, '0');
			break;
		case S_ZERO_HOUR12:
			put_num(b, h12, 2, '0');
			break;
		case S_MIN:
			put_num(b, c->min, 0, '0');
			break;
		case S_ZERO_MIN:
			put_num(b, c->min, 2, '0');
			break;
		case S_SEC:
			put_num(b, c->sec, 0, '0');
			break;
		case S_ZERO_SEC:
			put_num(b, c->sec, 2, '0');
			break;
		case S_PM:
			sb_puts(b, c->hour >= 12 ? "PM" : "AM");
			break;
		case S_pm:
			sb_puts(b, c->hour >= 12 ? "pm" : "am");
			break;
		case S_TZ:
			if (c->type->abbr[0])
				sb_puts(b, c->type->abbr);
			else
				put_tz(b, c->type->off, S_NUM_TZ);
			break;
		case S_FRAC0:
		case S_FRAC9: {
			char f[10];
			int k = digits > 9 ? 9 : digits;

			snprintf(f, sizeof(f), "%09lld", (long long)c->nsec);
			if (std == S_FRAC9)
				while (k > 0 && f[k - 1] == '0')
					k--;
			if (k > 0) {
				sb_putc(b, s[at]);
				sb_putn(b, f, (size_t)k);
			}
			break;
		}
		default:
			put_tz(b, c->type->off, std);
			break;
		}
	}
}

/* time.format(ns | [ns, tz] | [ns, tz, layout]); RFC 3339 with nanoseconds by default */
static struct val *bi_time_format(struct ev *ev, struct val **args, const struct term *call)
{
	struct moment mo;
	struct civil c;
	struct val *err;
	struct sbuf b = {.a = A};
	const char *ls = "2006-01-02T15:04:05.999999999Z07:00";
	size_t ln = strlen(ls);

	if (!time_arg(ev, args[0], call, 1, &mo, &err))
		return err;
	if (mo.layout && mo.layout->len)
		layout_of(mo.layout, &ls, &ln);
	to_civil(&mo, &c);
	format_time(&b, &c, ls, ln);
	return val_strn(A, b.p ? b.p : "", b.n);
}

/* up to max digits (at least 1; exactly max when fixed) */
static bool get_num(const char *v, size_t n, size_t *i, int max, bool fixed, int64_t *out)
{
	int k = 0;

	*out = 0;
	while (*i < n && k < max && isdigit((unsigned char)v[*i])) {
		*out = *out * 10 + (v[(*i)++] - '0');
		k++;
	}
	return k > 0 && (!fixed || k == max);
}

static bool get_name(const char *v, size_t n, size_t *i, const char *const *names, int cnt,
		     size_t len, int64_t *out)
{
	for (int k = 0; k < cnt; k++) {
		size_t l = len ? len : strlen(names[k]);

		if (n - *i >= l && strncasecmp(v + *i, names[k], l) == 0) {
			*i += l;
			*out = k;
			return true;
		}
	}
	return false;
}

static bool get_tz(const char *v, size_t n, size_t *i, int std, int32_t *off)
{
	bool iso = std >= S_ISO_TZ && std <= S_ISO_COLON_SECS_TZ;
	bool colon = std == S_ISO_COLON_TZ || std == S_ISO_COLON_SECS_TZ || std == S_NUM_COLON_TZ ||
		     std == S_NUM_COLON_SECS_TZ;
	bool secs = std == S_ISO_SECS_TZ || std == S_ISO_COLON_SECS_TZ || std == S_NUM_SECS_TZ ||
		    std == S_NUM_COLON_SECS_TZ;
	bool shrt = std == S_ISO_SHORT_TZ || std == S_NUM_SHORT_TZ;
	int64_t h, m = 0, s = 0;
	int sign;

	if (iso && *i < n && v[*i] == 'Z') {
		(*i)++;
		*off = 0;
		return true;
	}
	if (*i >= n || (v[*i] != '+' && v[*i] != '-'))
		return false;
	sign = v[(*i)++] == '-' ? -1 : 1;
	if (!get_num(v, n, i, 2, true, &h))
		return false;
	if (!shrt) {
		if (colon && (*i >= n || v[(*i)++] != ':'))
			return false;
		if (!get_num(v, n, i, 2, true, &m))
			return false;
		if (secs) {
			if (colon && (*i >= n || v[(*i)++] != ':'))
				return false;
			if (!get_num(v, n, i, 2, true, &s))
				return false;
		}
	}
	if (h > 24 || m > 59 || s > 59)
		return false;
	*off = (int32_t)(sign * (h * 3600 + m * 60 + s));
	return true;
}

/* fraction after '.' or ',': up to 9 digits kept, more ignored */
static bool get_frac(const char *v, size_t n, size_t *i, int want, int64_t *nsec)
{
	int k = 0;
	int64_t f = 0;

	if (*i + 1 >= n || (v[*i] != '.' && v[*i] != ',') || !isdigit((unsigned char)v[*i + 1]))
		return false;
	(*i)++;
	while (*i < n && isdigit((unsigned char)v[*i]) && (want == 0 || k < want)) {
		if (k < 9)
			f = f * 10 + (v[*i] - '0');
		k++;
		(*i)++;
	}
	if (want && k != want)
		return false;
	for (; k < 9; k++)
		f *= 10;
	*nsec = f;
	return true;
}

/* Go's time.Parse (no zone database lookups for abbreviations: "MST" reads as UTC+0) */
static struct val *bi_time_parse_ns(struct ev *ev, struct val **args, const struct term *call)
{
	const char *ls, *v;
	size_t ln, n, i = 0, vi = 0, at, len;
	int digits = 0, std;
	int64_t year = 0, month = 1, day = 1, hour = 0, min = 0, sec = 0, nsec = 0, yday = -1,
		x = 0;
	int32_t off = 0;
	bool pm = false, am = false, have_md = false;

	NEED(0, V_STR, "string");
	NEED(1, V_STR, "string");
	layout_of(args[0], &ls, &ln);
	v = args[1]->s;
	n = args[1]->len;
	while (i <= ln) {
		std = next_std(ls, ln, i, &at, &len, &digits);
		/* literal text must match */
		if (n - vi < at - i || memcmp(v + vi, ls + i, at - i) != 0)
			goto bad;
		vi += at - i;
		if (std == S_NONE)
			break;
		i = at + len;
		bool ok = true;

		switch (std) {
		case S_YEAR:
			ok = get_num(v, n, &vi, 2, true, &x);
			year = x + (x >= 69 ? 1900 : 2000);
			break;
		case S_LONG_YEAR:
			ok = get_num(v, n, &vi, 4, true, &year);
			break;
		case S_MONTH:
			ok = get_name(v, n, &vi, months, 12, 3, &x);
			month = x + 1;
			have_md = true;
			break;
		case S_LONG_MONTH:
			ok = get_name(v, n, &vi, months, 12, 0, &x);
			month = x + 1;
			have_md = true;
			break;
		case S_NUM_MONTH:
		case S_ZERO_MONTH:
			ok = get_num(v, n, &vi, 2, std == S_ZERO_MONTH, &month) && month >= 1 &&
			     month <= 12;
			have_md = true;
			break;
		case S_WDAY:
			ok = get_name(v, n, &vi, wdays, 7, 3, &x);
			break;
		case S_LONG_WDAY:
			ok = get_name(v, n, &vi, wdays, 7, 0, &x);
			break;
		case S_UNDER_DAY:
			if (vi < n && v[vi] == ' ')
				vi++;
			/* fall through */
		case S_DAY:
		case S_ZERO_DAY:
			ok =
			    get_num(v, n, &vi, 2, std == S_ZERO_DAY, &day) && day >= 1 && day <= 31;
			have_md = true;
			break;
		case S_UNDER_YDAY:
			while (vi < n && v[vi] == ' ')
				vi++;
			/* fall through */
		case S_ZERO_YDAY:
			ok = get_num(v, n, &vi, 3, std == S_ZERO_YDAY, &yday) && yday >= 1 &&
			     yday <= 366;
			break;
		case S_HOUR:
			ok = get_num(v, n, &vi, 2, false, &hour) && hour < 24;
			break;
		case S_HOUR12:
		case S_ZERO_HOUR12:
			ok = get_num(v, n, &vi, 2, std == S_ZERO_HOUR12, &hour) && hour >= 1 &&
			     hour <= 12;
			break;
		case S_MIN:
		case S_ZERO_MIN:
			ok = get_num(v, n, &vi, 2, std == S_ZERO_MIN, &min) && min < 60;
			break;
		case S_SEC:
		case S_ZERO_SEC:
			ok = get_num(v, n, &vi, 2, std == S_ZERO_SEC, &sec) && sec < 60;
			/* a fraction the layout does not spell is accepted after seconds */
			if (ok && vi < n && (v[vi] == '.' || v[vi] == ',')) {
				size_t a2, l2;
				int d2;

				if (next_std(ls, ln, i, &a2, &l2, &d2) != S_FRAC0 || a2 != i)
					get_frac(v, n, &vi, 0, &nsec);
			}
			break;
		case S_PM:
		case S_pm:
			if (n - vi >= 2 && strncasecmp(v + vi, "PM", 2) == 0)
				pm = true;
			else if (n - vi >= 2 && strncasecmp(v + vi, "AM", 2) == 0)
				am = true;
			else
				ok = false;
			vi += 2;
			break;
		case S_TZ:
			if (n - vi >= 3 && memcmp(v + vi, "UTC", 3) == 0) {
				vi += 3;
				off = 0;
			} else {
				size_t k = 0;

				while (vi + k < n && isupper((unsigned char)v[vi + k]) && k < 6)
					k++;
				ok = k >= 3;
				vi += k;
			}
			break;
		case S_FRAC0:
			ok = get_frac(v, n, &vi, digits, &nsec);
			break;
		case S_FRAC9:
			if (vi + 1 < n && (v[vi] == '.' || v[vi] == ',') &&
			    isdigit((unsigned char)v[vi + 1]))
				ok = get_frac(v, n, &vi, 0, &nsec);
			break;
		default:
			ok = get_tz(v, n, &vi, std, &off);
			break;
		}
		if (!ok)
			goto bad;
	}
	if (vi != n)
		goto bad;
	if (pm && hour < 12)
		hour += 12;
	else if (am && hour == 12)
		hour = 0;
	int64_t days;

	if (yday > 0 && !have_md) {
		days = days_from_civil(year, 1, 1) + yday - 1;
	} else {
		int64_t next =
		    days_from_civil(month == 12 ? year + 1 : year, month == 12 ? 1 : month + 1, 1);

		days = days_from_civil(year, month, 1);
		if (day > next - days)
			return ev_builtin_error(ev, call, "parsing time \"%.*s\": day out of range",
						(int)(n > 64 ? 64 : n), v);
		days += day - 1;
	}
	int64_t secs = days * 86400 + hour * 3600 + min * 60 + sec - off, r;

	if (secs < 0 && nsec > 0) {
		secs++;
		nsec -= 1000000000;
	}
	if (__builtin_mul_overflow(secs, (int64_t)1000000000, &r) ||
	    __builtin_add_overflow(r, nsec, &r))
		return ev_builtin_error(ev, call, "time outside of valid range");
	return val_int(A, r);
bad:
	return ev_builtin_error(ev, call, "parsing time \"%.*s\" as \"%.*s\": cannot parse",
				(int)(n > 64 ? 64 : n), v, (int)(ln > 64 ? 64 : ln), ls);
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
