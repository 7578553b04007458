// SPDX-License-Identifier: Apache-2.0
/*
 * Rego built-ins: time.format and time.parse_ns with Go's reference-time layouts
 * ("2006-01-02T15:04:05Z07:00", also by name: RFC3339, RFC822Z, ...).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "server/policy/rego_bi.h"
#include "server/policy/rego_time.h"

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
struct val *bi_time_format(struct ev *ev, struct val **args, const struct term *call)
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
struct val *bi_time_parse_ns(struct ev *ev, struct val **args, const struct term *call)
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
		days = civil_days_from_date(year, 1, 1) + yday - 1;
	} else {
		int64_t next =
		    civil_days_from_date(month == 12 ? year + 1 : year, month == 12 ? 1 : month + 1, 1);

		days = civil_days_from_date(year, month, 1);
		if (day > next - days)
			return ev_builtin_error(ev, call, "parsing time \"%.*s\": day out of range",
						(int)(n > 64 ? 64 : n), v);
		days += day - 1;
	}
	return ns_result(ev, call, days * 86400 + hour * 3600 + min * 60 + sec - off, nsec);
bad:
	return ev_builtin_error(ev, call, "parsing time \"%.*s\" as \"%.*s\": cannot parse",
				(int)(n > 64 ? 64 : n), v, (int)(ln > 64 ? 64 : ln), ls);
}
