/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the time built-ins (rego_bi_time.c, rego_bi_timefmt.c) and the time zone reader
 * (rego_tz.c). */
#ifndef KBS_POLICY_REGO_TIME_H
#define KBS_POLICY_REGO_TIME_H

#include <stdbool.h>
#include <stdint.h>

#include "common/civil.h"
#include "server/policy/rego_int.h"

static inline int64_t floordiv(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && ((a < 0) != (b < 0)));
}

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

/* The zone named by a Rego string ("" and "UTC" need no file), loaded once per evaluation
 * (ev->tz_cache); an unknown or unreadable zone is a built-in error (NULL). */
const struct tz *tz_load(struct ev *ev, const struct term *call, const struct val *name);
/* The local time type (offset, abbreviation) of zone z at UTC second t. */
const struct tz_type *tz_at(const struct tz *z, int64_t t);

/* A moment as OPA's builtins take it: ns or [ns, tz] or [ns, tz, layout]. */
struct moment {
	int64_t ns;
	const struct tz *zone; /* NULL = UTC */
	const struct val *layout;
};

/* Broken-down local time of a moment. */
struct civil {
	int64_t year, month, day, hour, min, sec, nsec, yday, wday;
	const struct tz_type *type;
	int64_t days; /* local days since 1970-01-01 */
};

/* English day and month names (Go's). */
extern const char *const wdays[7], *const months[12];

/* Unix nanoseconds of secs + nsec (0 <= nsec < 1e9); false outside the int64 range. */
static inline bool unix_ns(int64_t secs, int64_t nsec, int64_t *ns)
{
	/* negative seconds with a fraction: borrow one second so the product stays in range */
	if (secs < 0 && nsec > 0) {
		secs++;
		nsec -= 1000000000;
	}
	return !__builtin_mul_overflow(secs, (int64_t)1000000000, ns) &&
	       !__builtin_add_overflow(*ns, nsec, ns);
}

/* Shared by rego_bi_time.c and rego_bi_timefmt.c. */
/* A built-in's result for the moment secs + nsec, or its "time outside of valid range". */
struct val *ns_result(struct ev *ev, const struct term *call, int64_t secs, int64_t nsec);
/* cnt decimal digits at s[i] into *out; false if there are fewer. */
bool digits(const char *s, size_t n, size_t i, size_t cnt, int64_t *out);
/* Reads a moment argument (ns, [ns, zone] or [ns, zone, layout]); false: *err is the
 * built-in's result (an error, or undefined in lenient mode). */
bool time_arg(struct ev *ev, struct val *x, const struct term *call, int argno,
	      struct moment *mo, struct val **err);
/* Broken-down local time of a moment in its zone. */
void to_civil(const struct moment *mo, struct civil *c);
/* time.format and time.parse_ns (rego_bi_timefmt.c), listed in the time table. */
struct val *bi_time_format(struct ev *ev, struct val **args, const struct term *call);
struct val *bi_time_parse_ns(struct ev *ev, struct val **args, const struct term *call);

#endif
