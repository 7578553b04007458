// SPDX-License-Identifier: Apache-2.0
/*
 * Rego built-ins: JSON, base64, hex.
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

/* ---------- JSON and encodings ---------- */

static struct val *bi_json_marshal(struct ev *ev, struct val **args, const struct term *call)
{
	struct sbuf b = {.a = A};

	val_write(&b, args[0], true);
	return val_strn(A, b.p ? b.p : "", b.n);
}

/* Go's json.MarshalIndent layout, every line starting with prefix (OPA adds it to the
 * first line too). */
static void write_pretty(struct sbuf *b, const struct val *v, const struct val *prefix,
			 const struct val *indent, int level)
{
	bool obj = v->t == V_OBJ;

	if ((v->t != V_ARR && v->t != V_SET && !obj) || v->len == 0) {
		val_write(b, v, true);
		return;
	}
	sb_putc(b, obj ? '{' : '[');
	for (size_t i = 0; i < v->len; i++) {
		if (i)
			sb_putc(b, ',');
		sb_putc(b, '\n');
		sb_putn(b, prefix->s, prefix->len);
		for (int k = 0; k <= level; k++)
			sb_putn(b, indent->s, indent->len);
		if (obj) {
			val_write_key(b, v->items[i]);
			sb_puts(b, ": ");
			write_pretty(b, v->vals[i], prefix, indent, level + 1);
		} else {
			write_pretty(b, v->items[i], prefix, indent, level + 1);
		}
	}
	sb_putc(b, '\n');
	sb_putn(b, prefix->s, prefix->len);
	for (int k = 0; k < level; k++)
		sb_putn(b, indent->s, indent->len);
	sb_putc(b, obj ? '}' : ']');
}

/* json.marshal_with_options(x, {"pretty": bool, "indent": str, "prefix": str}) */
static struct val *bi_json_marshal_opts(struct ev *ev, struct val **args, const struct term *call)
{
	struct val *o = args[1];
	struct val tab = {.t = V_STR, .s = "\t", .len = 1}, none = {.t = V_STR, .s = ""};
	const struct val *indent = &tab, *prefix = &none;
	bool pretty = false, explicit_off = false;
	struct sbuf b = {.a = A};

	NEED(1, V_OBJ, "object");
	for (size_t i = 0; i < o->len; i++) {
		const struct val *k = o->items[i], *v = o->vals[i];

		if (k->t == V_STR && k->len == 6 && memcmp(k->s, "pretty", 6) == 0) {
			if (v->t != V_BOOL)
				return ev_type_error(ev, call, 2, "boolean \"pretty\"", v);
			pretty = v->b;
			explicit_off = !v->b;
		} else if (k->t == V_STR && k->len == 6 && memcmp(k->s, "indent", 6) == 0) {
			if (v->t != V_STR)
				return ev_type_error(ev, call, 2, "string \"indent\"", v);
			indent = v;
			pretty = true;
		} else if (k->t == V_STR && k->len == 6 && memcmp(k->s, "prefix", 6) == 0) {
			if (v->t != V_STR)
				return ev_type_error(ev, call, 2, "string \"prefix\"", v);
			prefix = v;
			pretty = true;
		} else {
			struct sbuf kb = {.a = A};

			if (!ev->strict)
				return NULL;
			val_write(&kb, k, true);
			ev_error(ev, EE_TYPE, call,
				 "json.marshal_with_options: object contained unknown key %.100s",
				 kb.p ? kb.p : "?");
		}
	}
	if (!pretty || explicit_off) {
		val_write(&b, args[0], true);
	} else {
		sb_putn(&b, prefix->s, prefix->len);
		write_pretty(&b, args[0], prefix, indent, 0);
	}
	return val_strn(A, b.p ? b.p : "", b.n);
}

static void decref(void *p)
{
	json_decref(p);
}

static json_t *parse_json(struct ev *ev, const struct val *s)
{
	json_error_t je;
	json_t *j = json_loadb(s->s, s->len,
			       JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);

	if (j)
		arena_defer(A, decref, j);
	return j;
}

static struct val *bi_json_unmarshal(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_STR, "string");
	json_t *j = parse_json(ev, args[0]);

	if (!j)
		return ev_builtin_error(ev, call, "json.unmarshal: invalid JSON");
	return val_from_json(A, j);
}

static struct val *bi_json_is_valid(struct ev *ev, struct val **args, const struct term *call)
{
	if (args[0]->t != V_STR)
		return RV_FALSE;
	return val_bool(parse_json(ev, args[0]) != NULL);
}

static struct val *b64enc(struct ev *ev, struct val **args, const struct term *call, int var,
			  bool pad)
{
	NEED(0, V_STR, "string");
	size_t n = b64_encoded_len(args[0]->len, B64_STD) + 1;
	char *out = arena_alloc(A, n);

	if (b64_encode((const uint8_t *)args[0]->s, args[0]->len, out, n, B64_STD) != KBS_OK)
		return ev_builtin_error(ev, call, "base64 encoding failed");
	size_t len = strlen(out);

	if (var == B64_URL)
		for (size_t i = 0; i < len; i++)
			out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	while (!pad && len && out[len - 1] == '=')
		len--;
	return val_strn(A, out, len);
}

/* Decodes standard or URL alphabet; padding optional when url is set. */
static struct val *b64dec(struct ev *ev, const struct val *s, bool url, bool *ok)
{
	size_t n = s->len;
	char *tmp = arena_alloc(A, n + 4);
	size_t o = 0;

	*ok = false;
	for (size_t i = 0; i < n; i++) {
		char c = s->s[i];

		if (url && c == '-')
			c = '+';
		else if (url && c == '_')
			c = '/';
		else if (url && (c == '+' || c == '/'))
			return NULL;
		tmp[o++] = c;
	}
	if (url)
		while (o % 4)
			tmp[o++] = '=';
	uint8_t *out = arena_alloc(A, b64_decoded_max(o) + 1);
	size_t outlen;

	if (b64_decode(tmp, o, out, b64_decoded_max(o) + 1, &outlen, B64_STD) != KBS_OK)
		return NULL;
	*ok = true;
	return val_strn(A, (const char *)out, outlen);
}

static struct val *bi_b64_encode(struct ev *ev, struct val **args, const struct term *call)
{
	return b64enc(ev, args, call, B64_STD, true);
}

static struct val *bi_b64url_encode(struct ev *ev, struct val **args, const struct term *call)
{
	return b64enc(ev, args, call, B64_URL, true);
}

static struct val *bi_b64url_encode_nopad(struct ev *ev, struct val **args, const struct term *call)
{
	return b64enc(ev, args, call, B64_URL, false);
}

static struct val *bi_b64_decode(struct ev *ev, struct val **args, const struct term *call)
{
	bool ok;

	NEED(0, V_STR, "string");
	struct val *r = b64dec(ev, args[0], false, &ok);

	return ok ? r : ev_builtin_error(ev, call, "base64.decode: illegal base64 data");
}

static struct val *bi_b64url_decode(struct ev *ev, struct val **args, const struct term *call)
{
	bool ok;

	NEED(0, V_STR, "string");
	struct val *r = b64dec(ev, args[0], true, &ok);

	return ok ? r : ev_builtin_error(ev, call, "base64url.decode: illegal base64 data");
}

static struct val *bi_b64_is_valid(struct ev *ev, struct val **args, const struct term *call)
{
	bool ok;

	NEED(0, V_STR, "string");
	b64dec(ev, args[0], false, &ok);
	return val_bool(ok);
}

static struct val *bi_hex_encode(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_STR, "string");
	char *out = arena_alloc(A, args[0]->len * 2 + 1);

	hex_encode((const uint8_t *)args[0]->s, args[0]->len, out, args[0]->len * 2 + 1);
	return val_strn(A, out, args[0]->len * 2);
}

static struct val *bi_hex_decode(struct ev *ev, struct val **args, const struct term *call)
{
	NEED(0, V_STR, "string");
	size_t cap = args[0]->len / 2 + 1, n;
	uint8_t *out = arena_alloc(A, cap);

	if (hex_decode(args[0]->s, args[0]->len, out, cap, &n) != KBS_OK)
		return ev_builtin_error(ev, call, "hex.decode: invalid byte");
	return val_strn(A, (const char *)out, n);
}

const struct builtin rego_bi_encoding[] = {
    {"json.marshal", 1, bi_json_marshal, false},
    {"json.marshal_with_options", 2, bi_json_marshal_opts, false},
    {"json.unmarshal", 1, bi_json_unmarshal, false},
    {"json.is_valid", 1, bi_json_is_valid, false},
    {"base64.encode", 1, bi_b64_encode, false},
    {"base64.decode", 1, bi_b64_decode, false},
    {"base64.is_valid", 1, bi_b64_is_valid, false},
    {"base64url.encode", 1, bi_b64url_encode, false},
    {"base64url.encode_no_pad", 1, bi_b64url_encode_nopad, false},
    {"base64url.decode", 1, bi_b64url_decode, false},
    {"hex.encode", 1, bi_hex_encode, false},
    {"hex.decode", 1, bi_hex_decode, false},
};
const size_t rego_bi_encoding_n = sizeof(rego_bi_encoding) / sizeof(rego_bi_encoding[0]);
