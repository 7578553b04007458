// SPDX-License-Identifier: Apache-2.0
/*
 * Rego built-ins that format numbers and values as Go does: format_int and sprintf with Go's
 * fmt verbs (v s q t d x X o b f F e E g G, width, precision and flags).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/policy/rego_bi.h"

static struct val *bi_format_int(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_NUM, "number");
	NEED(1, V_NUM, "number");
	int64_t base = args[1]->isint ? args[1]->i : 0;

	if (base != 2 && base != 8 && base != 10 && base != 16)
		return TYPE_ERR(1, "one of {2, 8, 10, 16}");
	if (args[0]->big == NB_INT) {
		bool neg;
		const char *dg = num_int_digits(A, args[0], (int)base, false, &neg);

		if (!dg)
			ev_error(ev, EE_LIMIT, call, "out of memory");
		struct sbuf t = { .a = A };

		sb_puts(&t, neg ? "-" : "");
		sb_puts(&t, dg);
		return val_strn(A, t.p, t.n);
	}
	if (args[0]->big && isinf(args[0]->d))
		return ev_builtin_error(ev, call, "format_int: number beyond the double range");
	double d = dbl(args[0]);
	int64_t v = args[0]->isint ? args[0]->i : (int64_t)trunc(d);
	char buf[80];
	size_t o = sizeof(buf);
	bool neg = v < 0;
	uint64_t u = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	buf[--o] = 0;
	do {
		buf[--o] = "0123456789abcdef"[u % (uint64_t)base];
		u /= (uint64_t)base;
	} while (u);
	if (neg)
		buf[--o] = '-';
	return val_str(A, buf + o);
}

/* Go's %v / strconv 'g' -1 formatting of a float64 (exponent form outside [1e-4, 1e21)). */
static void fmt_float(struct sbuf *b, double d)
{
	char tmp[64];
	int prec;

	if (isinf(d)) {
		sb_puts(b, d > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	int exp = atoi(strchr(tmp, 'e') + 1);

	if (exp < -4 || exp >= 21) {
		/* mantissa digits, then e+XX as Go prints it */
		char *e = strchr(tmp, 'e');

		*e = 0;
		sb_puts(b, tmp);
		sb_printf(b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
		return;
	}
	int decimals = prec - 1 - exp;

	snprintf(tmp, sizeof(tmp), "%.*f", decimals > 0 ? decimals : 0, d);
	sb_puts(b, tmp);
}

/* Rego text of a value as OPA's %v prints it (strings unquoted at the top level). */
static void write_v(struct sbuf *b, const struct val *v, bool top)
{
	if (v->t == V_STR && top) {
		sb_putn(b, v->s, v->len);
		return;
	}
	if (v->t == V_NUM && !v->isint && !v->big) {
		fmt_float(b, v->d);
		return;
	}
	if (v->t == V_ARR || v->t == V_SET || v->t == V_OBJ) {
		if (v->t == V_SET && v->len == 0) {
			sb_puts(b, "set()");
			return;
		}
		sb_putc(b, v->t == V_ARR ? '[' : '{');
		for (size_t i = 0; i < v->len; i++) {
			if (i)
				sb_puts(b, ", ");
			write_v(b, v->items[i], false);
			if (v->t == V_OBJ) {
				sb_puts(b, ": ");
				write_v(b, v->vals[i], false);
			}
		}
		sb_putc(b, v->t == V_ARR ? ']' : '}');
		return;
	}
	val_write(b, v, false);
}

struct fspec {
	bool minus, plus, space, zero, sharp;
	int width, prec; /* -1 = absent */
};

/* Pads str per the spec (sign-aware zero padding for numbers). */
static void pad_out(struct sbuf *b, const struct fspec *fs, const char *str, size_t n, bool num)
{
	size_t w = fs->width > 0 ? (size_t)fs->width : 0;
	size_t chars = utf8_len(str, n);

	if (chars >= w) {
		sb_putn(b, str, n);
		return;
	}
	size_t pad = w - chars;

	if (fs->minus) {
		sb_putn(b, str, n);
		while (pad--)
			sb_putc(b, ' ');
		return;
	}
	if (fs->zero && num) {
		if (n && (str[0] == '-' || str[0] == '+' || str[0] == ' ')) {
			sb_putc(b, str[0]);
			str++;
			n--;
		}
		while (pad--)
			sb_putc(b, '0');
		sb_putn(b, str, n);
		return;
	}
	while (pad--)
		sb_putc(b, ' ');
	sb_putn(b, str, n);
}

static void sign_prefix(const struct fspec *fs, bool neg, char *out)
{
	out[0] = neg ? '-' : fs->plus ? '+' : fs->space ? ' ' : 0;
	out[1] = 0;
}

static void fmt_int(struct sbuf *b, const struct fspec *fs, int64_t v, char verb)
{
	char digits[80], tmp[100];
	int base = verb == 'x' || verb == 'X' ? 16 : verb == 'o' ? 8 : verb == 'b' ? 2 : 10;
	const char *alpha = verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	int o = (int)sizeof(digits) - 1;
	char sign[2];

	digits[o] = 0;
	do {
		digits[--o] = alpha[u % (uint64_t)base];
		u /= (uint64_t)base;
	} while (u);
	sign_prefix(fs, v < 0, sign);
	snprintf(tmp, sizeof(tmp), "%s%s", sign, digits + o);
	pad_out(b, fs, tmp, strlen(tmp), true);
}

/* An integer beyond int64 (Go formats a *big.Int the same way as an int). */
static void fmt_bigint(struct sbuf *b, const struct fspec *fs, const struct val *v, char verb)
{
	int base = verb == 'x' || verb == 'X' ? 16 : verb == 'o' ? 8 : verb == 'b' ? 2 : 10;
	bool neg;
	const char *dg = num_int_digits(b->a, v, base, verb == 'X', &neg);
	char sign[2];
	struct sbuf t = { .a = b->a };

	sign_prefix(fs, neg, sign);
	sb_puts(&t, sign);
	sb_puts(&t, dg ? dg : "");
	pad_out(b, fs, t.p ? t.p : "", t.n, true);
}

static void fmt_dbl(struct sbuf *b, const struct fspec *fs, double d, char verb)
{
	char tmp[400];
	int prec = fs->prec >= 0 ? (fs->prec > 100 ? 100 : fs->prec) : 6;

	if ((verb == 'g' || verb == 'G') && fs->prec < 0) {
		struct sbuf t = { .a = b->a };

		fmt_float(&t, d);
		if (fs->plus && d >= 0)
			sb_putc(b, '+');
		pad_out(b, fs, t.p ? t.p : "", t.n, true);
		return;
	}
	switch (verb) {
	case 'e': snprintf(tmp, sizeof(tmp), "%.*e", prec, d); break;
	case 'E': snprintf(tmp, sizeof(tmp), "%.*E", prec, d); break;
	case 'g': snprintf(tmp, sizeof(tmp), "%.*g", prec, d); break;
	case 'G': snprintf(tmp, sizeof(tmp), "%.*G", prec, d); break;
	default: snprintf(tmp, sizeof(tmp), "%.*f", prec, d); break;
	}
	if ((fs->plus || fs->space) && tmp[0] != '-') {
		char t2[402];

		snprintf(t2, sizeof(t2), "%c%s", fs->plus ? '+' : ' ', tmp);
		pad_out(b, fs, t2, strlen(t2), true);
		return;
	}
	pad_out(b, fs, tmp, strlen(tmp), true);
}

static void fmt_bad(struct sbuf *b, char verb, const struct val *x)
{
	sb_printf(b, "%%!%c(", verb);
	write_v(b, x, false);
	sb_putc(b, ')');
}

/* sprintf with Go fmt verbs: v s q t d x X o b f F e E g G and width/precision/flags. */
static struct val *bi_sprintf(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_STR, "string");
	NEED(1, V_ARR, "array");
	const char *f = args[0]->s, *end = f + args[0]->len;
	struct val *av = args[1];
	size_t ai = 0;
	struct sbuf b = { .a = A };

	sb_putn(&b, "", 0);
	while (f < end) {
		if (*f != '%') {
			sb_putc(&b, *f++);
			continue;
		}
		f++;
		if (f < end && *f == '%') {
			sb_putc(&b, '%');
			f++;
			continue;
		}
		struct fspec fs = { .width = -1, .prec = -1 };

		for (; f < end && strchr("-+# 0", *f); f++) {
			fs.minus |= *f == '-';
			fs.plus |= *f == '+';
			fs.space |= *f == ' ';
			fs.zero |= *f == '0';
			fs.sharp |= *f == '#';
		}
		while (f < end && isdigit((unsigned char)*f)) {
			fs.width = (fs.width < 0 ? 0 : fs.width) * 10 + (*f++ - '0');
			if (fs.width > 1000)
				fs.width = 1000;
		}
		if (f < end && *f == '.') {
			f++;
			fs.prec = 0;
			while (f < end && isdigit((unsigned char)*f)) {
				fs.prec = fs.prec * 10 + (*f++ - '0');
				if (fs.prec > 1000)
					fs.prec = 1000;
			}
		}
		if (f >= end) {
			sb_puts(&b, "%!(NOVERB)");
			break;
		}
		char verb = *f++;

		if (ai >= av->len) {
			sb_printf(&b, "%%!%c(MISSING)", verb);
			continue;
		}
		struct val *x = av->items[ai++];
		struct sbuf t = { .a = A };

		switch (verb) {
		case 'v':
		case 's':
		case 't':
			if (x->t == V_NUM && x->isint && verb == 'v') {
				fmt_int(&b, &fs, x->i, 'd');
				break;
			}
			write_v(&t, x, true);
			if (fs.prec >= 0 && x->t == V_STR && (size_t)fs.prec < utf8_len(t.p, t.n))
				t.n = utf8_off(t.p, t.n, (size_t)fs.prec);
			pad_out(&b, &fs, t.p ? t.p : "", t.n, false);
			break;
		case 'q':
			if (x->t == V_STR)
				val_write(&t, x, false);
			else
				write_v(&t, x, true);
			pad_out(&b, &fs, t.p ? t.p : "", t.n, false);
			break;
		case 'd':
		case 'x':
		case 'X':
		case 'o':
		case 'b':
			if (x->t == V_NUM && x->isint) {
				fmt_int(&b, &fs, x->i, verb);
			} else if (x->t == V_NUM && x->big == NB_INT) {
				fmt_bigint(&b, &fs, x, verb);
			} else if (x->t == V_STR && (verb == 'x' || verb == 'X')) {
				for (size_t i = 0; i < x->len; i++)
					sb_printf(&t, verb == 'x' ? "%02x" : "%02X",
						  (unsigned char)x->s[i]);
				pad_out(&b, &fs, t.p ? t.p : "", t.n, false);
			} else {
				fmt_bad(&b, verb, x);
			}
			break;
		case 'f':
		case 'F':
		case 'e':
		case 'E':
		case 'g':
		case 'G':
			if (x->t == V_NUM)
				fmt_dbl(&b, &fs, dbl(x), verb);
			else
				fmt_bad(&b, verb, x);
			break;
		default:
			fmt_bad(&b, verb, x);
		}
	}
	if (ai < av->len) {
		sb_puts(&b, "%!(EXTRA ");
		for (size_t i = ai; i < av->len; i++) {
			if (i > ai)
				sb_puts(&b, ", ");
			write_v(&b, av->items[i], true);
		}
		sb_putc(&b, ')');
	}
	return val_strn(A, b.p, b.n);
}

const struct builtin rego_bi_sprintf[] = {
	{ "format_int", 2, bi_format_int, false },
	{ "sprintf", 2, bi_sprintf, false },
};
const size_t rego_bi_sprintf_n = sizeof(rego_bi_sprintf) / sizeof(rego_bi_sprintf[0]);
