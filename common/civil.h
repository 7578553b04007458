/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_COMMON_CIVIL_H
#define KBS_COMMON_CIVIL_H

#include <stdint.h>

/*
 * Proleptic Gregorian calendar arithmetic on day numbers (1970-01-01 = day 0), exact for every
 * int64 year the callers let through (H. Hinnant's civil-from-days algorithms). Shared by the
 * time parsers and formatters (RVPS records, Rego time built-ins, TDX collateral, tests).
 */

/* Day number of y-m-d (m 1..12; d counts on past the month's end; not range-checked). */
int64_t civil_days_from_date(int64_t y, int64_t m, int64_t d);

/* Date of day number z (m 1..12, d 1..31). */
void civil_date_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d);

/* Days in month m (1..12) of year y. */
int civil_month_days(int64_t y, int m);

#endif
