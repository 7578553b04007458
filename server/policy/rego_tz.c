// SPDX-License-Identifier: Apache-2.0
/*
 * Time zones for the time built-ins: TZif files of the system's tzdata (under
 * /usr/share/zoneinfo), parsed here with their POSIX footer rule, loaded once per evaluation:
 * no TZ environment, no localtime(), no process-wide state.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/policy/rego_bi.h"
#include "server/policy/rego_time.h"

#define ZONEINFO_DIR "/usr/share/zoneinfo/"
#define TZ_MAX_FILE (16 * 1024) /* TZif files are a few KiB */

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
const struct tz *tz_load(struct ev *ev, const struct term *call, const struct val *name)
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
	int64_t first = civil_days_from_date(y, r->mon, 1);
	int64_t wd = ((first + 4) % 7 + 7) % 7; /* 1970-01-01 was a Thursday */
	int64_t d = 1 + (r->wday - wd + 7) % 7 + 7 * (r->week - 1);
	int64_t mdays = civil_month_days(y, r->mon);

	while (d > mdays)
		d -= 7;
	return first + d - 1;
}

/* UTC offset and abbreviation in effect at UTC second t */
const struct tz_type *tz_at(const struct tz *z, int64_t t)
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

		civil_date_from_days(days, &y, &m, &d);
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
