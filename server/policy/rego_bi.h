/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the files implementing Rego built-ins (not part of the public API). */
#ifndef KBS_POLICY_REGO_BI_H
#define KBS_POLICY_REGO_BI_H

#include "server/policy/rego_int.h"

#define A (&ev->ar)
#define TYPE_ERR(i, want) ev_type_error(ev, call, (i) + 1, want, args[i])
#define NEED(i, ty, want)                                                                          \
	do {                                                                                       \
		if (args[i]->t != (ty))                                                            \
			return TYPE_ERR(i, want);                                                  \
	} while (0)

/* A number as a double (big numbers: their nearest double). */
static inline double dbl(const struct val *v)
{
	return v->isint ? (double)v->i : v->d;
}

/* Bytes of the UTF-8 character at s[i] (1 for an invalid byte, as Go counts runes). */
size_t rune_len(const char *s, size_t n, size_t i);
/* Characters (runes) of s[0..n). */
size_t utf8_len(const char *s, size_t n);

/* Byte offset of character (rune) index ci in s[0..n) (n when beyond the end). */
static inline size_t utf8_off(const char *s, size_t n, size_t ci)
{
	size_t i = 0;

	while (i < n && ci > 0) {
		i += rune_len(s, n, i);
		ci--;
	}
	return i;
}

/* Set union ('|'), intersection ('&') or difference ('-') of sets x and y (a new set). */
struct val *rego_set_op(struct ev *ev, struct val *x, struct val *y, char op);

/* Tables of built-ins, one per file (rego_builtin_find searches them all). */
extern const struct builtin rego_bi_coll[], rego_bi_strings[], rego_bi_sprintf[],
	rego_bi_encoding[], rego_bi_text[], rego_bi_time[], rego_bi_yaml[];
extern const size_t rego_bi_coll_n, rego_bi_strings_n, rego_bi_sprintf_n, rego_bi_encoding_n,
	rego_bi_text_n, rego_bi_time_n, rego_bi_yaml_n;

#endif
