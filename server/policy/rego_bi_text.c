// SPDX-License-Identifier: Apache-2.0
/*
 * Rego built-ins: units, regular expressions (PCRE2 with match limits; RE2 syntax is a subset of
 * it for the patterns policies use) and semantic versions.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
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

/* ---------- regular expressions ---------- */

struct rx_entry {
	struct rx_entry *next;
	char *pat;
	size_t len;
	pcre2_code *code;
};

static void rx_free(void *p)
{
	pcre2_code_free(p);
}

static pcre2_code *rx_get(struct ev *ev, const struct val *pat)
{
	for (struct rx_entry *e = ev->rx_cache; e; e = e->next)
		if (e->len == pat->len && memcmp(e->pat, pat->s, pat->len) == 0)
			return e->code;
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *code =
	    pcre2_compile((PCRE2_SPTR)pat->s, pat->len, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);

	if (!code)
		return NULL;
	arena_defer(A, rx_free, code);
	struct rx_entry *e = arena_alloc(A, sizeof(*e));

	e->pat = (char *)pat->s;
	e->len = pat->len;
	e->code = code;
	e->next = ev->rx_cache;
	ev->rx_cache = e;
	return code;
}

static void md_free(void *p)
{
	pcre2_match_data_free(p);
}

static void mc_free(void *p)
{
	pcre2_match_context_free(p);
}

static struct val *bi_regex_match(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_STR, "string");
	NEED(1, V_STR, "string");
	pcre2_code *code = rx_get(ev, args[0]);

	if (!code)
		return ev_builtin_error(ev, call, "regex.match: error parsing regexp");
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
	pcre2_match_context *mc = pcre2_match_context_create(NULL);

	if (!md || !mc) {
		pcre2_match_data_free(md);
		pcre2_match_context_free(mc);
		ev_error(ev, EE_LIMIT, call, "out of memory");
	}
	arena_defer(A, md_free, md);
	arena_defer(A, mc_free, mc);
	/* bounded backtracking: RE2 (OPA) is linear time, PCRE2 is not */
	pcre2_set_match_limit(mc, 100000);
	pcre2_set_depth_limit(mc, 1000);
	int rc = pcre2_match(code, (PCRE2_SPTR)args[1]->s, args[1]->len, 0, 0, md, mc);

	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT)
		ev_error(ev, EE_LIMIT, call, "regex.match: backtracking limit exceeded");
	if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
		return ev_builtin_error(ev, call, "regex.match: match error %d", rc);
	return val_bool(rc >= 0);
}

static struct val *bi_regex_is_valid(struct ev *ev, struct val **args, const struct term *call)
{
	if (args[0]->t != V_STR)
		return RV_FALSE;
	return val_bool(rx_get(ev, args[0]) != NULL);
}

/* ---------- semver ---------- */

struct semver {
	int64_t v[3];
	const char *pre;
	size_t prelen;
};

static bool semver_parse(const char *s, size_t n, struct semver *sv)
{
	size_t i = 0;

	memset(sv, 0, sizeof(*sv));
	for (int k = 0; k < 3; k++) {
		size_t st = i;
		int64_t v = 0;

		while (i < n && isdigit((unsigned char)s[i])) {
			if (v > 100000000000000LL)
				return false;
			v = v * 10 + (s[i] - '0');
			i++;
		}
		if (i == st || (i - st > 1 && s[st] == '0'))
			return false;
		sv->v[k] = v;
		if (k < 2) {
			if (i >= n || s[i] != '.')
				return false;
			i++;
		}
	}
	if (i < n && s[i] == '-') {
		size_t st = ++i;

		while (i < n && s[i] != '+')
			i++;
		if (i == st)
			return false;
		sv->pre = s + st;
		sv->prelen = i - st;
		/* identifiers: [0-9A-Za-z-]+, numeric ones without leading zeros */
		size_t a = st;

		while (a <= i) {
			size_t b = a;

			while (b < i && s[b] != '.')
				b++;
			if (b == a)
				return false;
			bool num = true;

			for (size_t c = a; c < b; c++) {
				if (!isalnum((unsigned char)s[c]) && s[c] != '-')
					return false;
				if (!isdigit((unsigned char)s[c]))
					num = false;
			}
			if (num && b - a > 1 && s[a] == '0')
				return false;
			a = b + 1;
		}
	}
	if (i < n && s[i] == '+') {
		size_t st = ++i;

		if (i >= n)
			return false;
		for (; i < n; i++)
			if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
				return false;
		if (s[n - 1] == '.' || s[st] == '.')
			return false;
	}
	return i == n;
}

static int pre_cmp(const struct semver *a, const struct semver *b)
{
	if (!a->prelen || !b->prelen)
		return a->prelen ? -1 : b->prelen ? 1 : 0;
	const char *x = a->pre, *xe = a->pre + a->prelen, *y = b->pre, *ye = b->pre + b->prelen;

	while (x < xe && y < ye) {
		const char *xd = memchr(x, '.', (size_t)(xe - x)),
			   *yd = memchr(y, '.', (size_t)(ye - y));

		if (!xd)
			xd = xe;
		if (!yd)
			yd = ye;
		bool xn = true, yn = true;

		for (const char *c = x; c < xd; c++)
			xn = xn && isdigit((unsigned char)*c);
		for (const char *c = y; c < yd; c++)
			yn = yn && isdigit((unsigned char)*c);
		int r;

		if (xn && yn) {
			size_t xl = (size_t)(xd - x), yl = (size_t)(yd - y);

			r = xl != yl ? (xl < yl ? -1 : 1) : memcmp(x, y, xl);
		} else if (xn || yn) {
			r = xn ? -1 : 1;
		} else {
			size_t xl = (size_t)(xd - x), yl = (size_t)(yd - y);

			r = memcmp(x, y, xl < yl ? xl : yl);
			if (!r)
				r = xl < yl ? -1 : xl > yl;
		}
		if (r)
			return r < 0 ? -1 : 1;
		x = xd + 1;
		y = yd + 1;
	}
	return x < xe ? 1 : y < ye ? -1 : 0;
}

static struct val *bi_semver_compare(struct ev *ev, struct val **args, const struct term *call)
{
	struct semver a, b;

	NEED(0, V_STR, "string");
	NEED(1, V_STR, "string");
	if (!semver_parse(args[0]->s, args[0]->len, &a))
		return ev_builtin_error(
		    ev, call, "semver.compare: operand 1: string \"%.*s\" is not a valid SemVer",
		    (int)(args[0]->len > 64 ? 64 : args[0]->len), args[0]->s);
	if (!semver_parse(args[1]->s, args[1]->len, &b))
		return ev_builtin_error(
		    ev, call, "semver.compare: operand 2: string \"%.*s\" is not a valid SemVer",
		    (int)(args[1]->len > 64 ? 64 : args[1]->len), args[1]->s);
	for (int k = 0; k < 3; k++)
		if (a.v[k] != b.v[k])
			return val_int(A, a.v[k] < b.v[k] ? -1 : 1);
	return val_int(A, pre_cmp(&a, &b));
}

static struct val *bi_semver_is_valid(struct ev *ev, struct val **args, const struct term *call)
{
	struct semver a;

	if (args[0]->t != V_STR)
		return RV_FALSE;
	return val_bool(semver_parse(args[0]->s, args[0]->len, &a));
}

/* ---------- units ---------- */

/* "10KiB" -> "10", "KiB": the amount is the leading run of digits and dots */
static bool units_split(const struct val *sv, const char **num, size_t *nn, const char **unit,
			size_t *un)
{
	const char *s = sv->s;
	size_t n = sv->len, i = 0;

	/* surrounding quotes and spaces are ignored, inner spaces are not */
	while (n && (s[n - 1] == ' ' || s[n - 1] == '"'))
		n--;
	while (i < n && (s[i] == ' ' || s[i] == '"'))
		i++;
	s += i;
	n -= i;
	if (memchr(s, ' ', n))
		return false;
	for (i = 0; i < n && (isdigit((unsigned char)s[i]) || s[i] == '.'); i++)
		;
	*num = s;
	*nn = i;
	*unit = s + i;
	*un = n - i;
	return i > 0;
}

/* amount * mult, exact for integral results that fit 64 bits */
static struct val *units_value(struct ev *ev, const char *num, size_t nn, double mult,
			       int64_t imult, bool truncate)
{
	char buf[64];
	char *end;
	double d;
	int64_t iv = 0;
	bool integral = true;

	if (nn >= sizeof(buf) || memchr(num, '.', nn) != memrchr(num, '.', nn))
		return NULL;
	for (size_t i = 0; i < nn; i++) {
		if (num[i] == '.') {
			integral = false;
			break;
		}
		if (__builtin_mul_overflow(iv, 10, &iv) ||
		    __builtin_add_overflow(iv, num[i] - '0', &iv))
			integral = false;
	}
	if (integral && imult && !__builtin_mul_overflow(iv, imult, &iv))
		return val_int(A, iv);
	memcpy(buf, num, nn);
	buf[nn] = 0;
	d = strtod(buf, &end);
	if (*end || nn == 0 || (nn == 1 && num[0] == '.'))
		return NULL;
	d *= mult;
	if (truncate)
		d = trunc(d);
	return val_num(A, d);
}

struct unit {
	const char *name;
	double mult;
	int64_t imult; /* 0: not integral */
};

#define KI 1024LL
static const struct unit byte_units[] = {
    {"", 1, 1},
    {"k", 1e3, 1000LL},
    {"kb", 1e3, 1000LL},
    {"ki", KI, KI},
    {"kib", KI, KI},
    {"m", 1e6, 1000000LL},
    {"mb", 1e6, 1000000LL},
    {"mi", KI *KI, KI *KI},
    {"mib", KI *KI, KI *KI},
    {"g", 1e9, 1000000000LL},
    {"gb", 1e9, 1000000000LL},
    {"gi", KI *KI *KI, KI *KI *KI},
    {"gib", KI *KI *KI, KI *KI *KI},
    {"t", 1e12, 1000000000000LL},
    {"tb", 1e12, 1000000000000LL},
    {"ti", KI *KI *KI *KI, KI *KI *KI *KI},
    {"tib", KI *KI *KI *KI, KI *KI *KI *KI},
    {"p", 1e15, 1000000000000000LL},
    {"pb", 1e15, 1000000000000000LL},
    {"pi", KI *KI *KI *KI *KI, KI *KI *KI *KI *KI},
    {"pib", KI *KI *KI *KI *KI, KI *KI *KI *KI *KI},
    {"e", 1e18, 1000000000000000000LL},
    {"eb", 1e18, 1000000000000000000LL},
    {"ei", KI *KI *KI *KI *KI *KI, KI *KI *KI *KI *KI *KI},
    {"eib", KI *KI *KI *KI *KI *KI, KI *KI *KI *KI *KI *KI},
};

/* units.parse_bytes("10KiB") == 10240: byte units, case-insensitive, result truncated */
static struct val *bi_units_parse_bytes(struct ev *ev, struct val **args, const struct term *call)
{
	const char *num, *unit;
	size_t nn, un;
	char lu[4];

	NEED(0, V_STR, "string");
	if (!units_split(args[0], &num, &nn, &unit, &un))
		return ev_builtin_error(ev, call, "units.parse_bytes: no byte amount provided");
	if (un < sizeof(lu)) {
		for (size_t i = 0; i < un; i++)
			lu[i] = (char)tolower((unsigned char)unit[i]);
		lu[un] = 0;
		for (size_t i = 0; i < sizeof(byte_units) / sizeof(byte_units[0]); i++) {
			if (strcmp(lu, byte_units[i].name) != 0)
				continue;
			struct val *r =
			    units_value(ev, num, nn, byte_units[i].mult, byte_units[i].imult, true);

			return r ? r
				 : ev_builtin_error(ev, call,
						    "units.parse_bytes: could not "
						    "parse byte amount to a number");
		}
	}
	return ev_builtin_error(ev, call, "units.parse_bytes: byte unit %.*s not recognized",
				(int)(un < 16 ? un : 16), unit);
}

/* units.parse("10m") == 0.01: SI and binary suffixes, case-sensitive ("m" milli, "M" mega) */
static struct val *bi_units_parse(struct ev *ev, struct val **args, const struct term *call)
{
	static const struct unit si[] = {
	    {"", 1, 1},
	    {"m", 1e-3, 0},
	    {"k", 1e3, 1000LL},
	    {"K", 1e3, 1000LL},
	    {"ki", KI, KI},
	    {"Ki", KI, KI},
	    {"M", 1e6, 1000000LL},
	    {"Mi", KI * KI, KI * KI},
	    {"G", 1e9, 1000000000LL},
	    {"Gi", KI * KI * KI, KI * KI * KI},
	    {"T", 1e12, 1000000000000LL},
	    {"Ti", KI * KI * KI * KI, KI * KI * KI * KI},
	    {"P", 1e15, 1000000000000000LL},
	    {"Pi", KI * KI * KI * KI * KI, KI * KI * KI * KI * KI},
	    {"E", 1e18, 1000000000000000000LL},
	    {"Ei", KI * KI * KI * KI * KI * KI, KI * KI * KI * KI * KI * KI},
	};
	const char *num, *unit;
	size_t nn, un;

	NEED(0, V_STR, "string");
	if (!units_split(args[0], &num, &nn, &unit, &un))
		return ev_builtin_error(ev, call, "units.parse: no amount provided");
	for (size_t i = 0; i < sizeof(si) / sizeof(si[0]); i++) {
		if (strlen(si[i].name) != un || memcmp(si[i].name, unit, un) != 0)
			continue;
		struct val *r = units_value(ev, num, nn, si[i].mult, si[i].imult, false);

		return r ? r
			 : ev_builtin_error(ev, call,
					    "units.parse: could not parse amount "
					    "to a number");
	}
	return ev_builtin_error(ev, call, "units.parse: unit %.*s not recognized",
				(int)(un < 16 ? un : 16), unit);
}

const struct builtin rego_bi_text[] = {
    {"units.parse", 1, bi_units_parse, false},
    {"units.parse_bytes", 1, bi_units_parse_bytes, false},
    {"regex.match", 2, bi_regex_match, false},
    {"regex.is_valid", 1, bi_regex_is_valid, false},
    {"semver.compare", 2, bi_semver_compare, false},
    {"semver.is_valid", 1, bi_semver_is_valid, false},
};
const size_t rego_bi_text_n = sizeof(rego_bi_text) / sizeof(rego_bi_text[0]);
