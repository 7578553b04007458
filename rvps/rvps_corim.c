// SPDX-License-Identifier: Apache-2.0
/*
 * `corim` extractor: reference triples of the CoMID tags inside a CoRIM
 * (draft-ietf-rats-corim), read with the strict CBOR reader of common/cbor.c. As Trustee:
 * CBOR tags 500/502 in front are stripped; the CoRIM is #6.501(corim-map) (or a COSE_Sign1
 * whose payload is one: the signature is NOT checked, like Trustee); tags #6.506(bstr .cbor
 * concise-mid-tag) and untagged byte strings that decode as a CoMID are read. Every
 * reference triple's claims give "<vendor>/<model>/<mkey>/<name>/<serial>" (present parts
 * only; mkey: text, "claim<uint>", or a #6.37 UUID) + "/digests" = [hex of each digest] and/or
 * + "/raw_bytes" = hex of a #6.560 raw value.
 */
#include "rvps/rvps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/cbor.h"
#include "common/err.h"

#define TAG_CORIM 501
#define TAG_COMID 506
#define TAG_COSE_SIGN1 18
#define TAG_UUID 37
#define TAG_BYTES 560
#define PART_MAX 200

struct corim_ctx {
	int64_t exp;
	struct rvps_rv_list *out;
	char *why;
	size_t whylen;
};

static int bad(struct corim_ctx *x, const char *what)
{
	snprintf(x->why, x->whylen, "corim: %s", what);
	return KBS_ERR_PARSE;
}

/* Copies a text item into out (NUL-terminated); too long = error. */
static int text_copy(const struct cbor_item *it, char *out, size_t outlen)
{
	if (it->major != CBOR_TEXT || it->arg >= outlen || memchr(it->data, 0, (size_t)it->arg))
		return KBS_ERR_PARSE;
	memcpy(out, it->data, (size_t)it->arg);
	out[it->arg] = '\0';
	return KBS_OK;
}

static int hex_json(const uint8_t *p, size_t n, json_t **out)
{
	char *h;
	int rc;

	if (n > RVPS_MAX_MESSAGE / 2 || !(h = malloc(2 * n + 1)))
		return KBS_ERR_NOMEM;
	rc = hex_encode(p, n, h, 2 * n + 1);
	*out = rc == KBS_OK ? json_string(h) : NULL;
	free(h);
	return rc != KBS_OK ? rc : *out ? KBS_OK : KBS_ERR_NOMEM;
}

struct path {
	char parts[6][PART_MAX];
	int n;
};

static void path_add(struct path *p, const char *s)
{
	if (p->n < 6)
		snprintf(p->parts[p->n++], PART_MAX, "%s", s);
}

static int path_name(const struct path *p, const char *leaf, char *out, size_t outlen)
{
	size_t o = 0;

	for (int i = 0; i <= p->n; i++) {
		const char *s = i < p->n ? p->parts[i] : leaf;
		int w = snprintf(out + o, outlen - o, "%s%s", o ? "/" : "", s);
		if (w < 0 || (size_t)w >= outlen - o)
			return KBS_ERR_RANGE;
		o += (size_t)w;
	}
	return KBS_OK;
}

static int add_rv(struct corim_ctx *x, const struct path *p, const char *leaf, json_t *value)
{
	char name[RVPS_MAX_NAME + 1];

	if (path_name(p, leaf, name, sizeof(name)) != KBS_OK) {
		json_decref(value);
		snprintf(x->why, x->whylen, "corim: reference value name too long");
		return KBS_ERR_RANGE;
	}
	if (!rvps_name_valid(name)) {
		json_decref(value);
		snprintf(x->why, x->whylen, "corim: reference value name '%.100s' is not valid "
					    "(A-Z a-z 0-9 - _ . / only)", name);
		return KBS_ERR_INVAL;
	}
	return rvps_rv_list_add(x->out, name, value, x->exp);
}

/* environment-map: class-map (0) -> vendor (1), model (2). */
static int read_env(struct corim_ctx *x, struct cbor_cur *c, struct path *base)
{
	struct cbor_item m, k, v, ck, cv;
	char s[PART_MAX];
	int rc;

	if ((rc = cbor_next(c, &m)) != KBS_OK || m.major != CBOR_MAP)
		return bad(x, "environment-map expected");
	for (uint64_t i = 0; i < m.arg; i++) {
		if ((rc = cbor_next(c, &k)) != KBS_OK || (rc = cbor_next(c, &v)) != KBS_OK)
			return bad(x, "truncated environment-map");
		if (!(k.major == CBOR_UINT && k.arg == 0 && v.major == CBOR_MAP)) {
			if ((rc = cbor_skip_rest(c, &v)) != KBS_OK)
				return bad(x, "environment-map");
			continue;
		}
		char vendor[PART_MAX] = "", model[PART_MAX] = "";
		for (uint64_t j = 0; j < v.arg; j++) {
			if (cbor_next(c, &ck) != KBS_OK || cbor_next(c, &cv) != KBS_OK)
				return bad(x, "truncated class-map");
			if (ck.major == CBOR_UINT && (ck.arg == 1 || ck.arg == 2) &&
			    cv.major == CBOR_TEXT) {
				if (text_copy(&cv, s, sizeof(s)) != KBS_OK)
					return bad(x, "class vendor/model too long");
				snprintf(ck.arg == 1 ? vendor : model, PART_MAX, "%s", s);
			} else if (cbor_skip_rest(c, &cv) != KBS_OK) {
				return bad(x, "class-map");
			}
		}
		/* vendor before model whatever the map order (Trustee's path order) */
		if (*vendor)
			path_add(base, vendor);
		if (*model)
			path_add(base, model);
	}
	return KBS_OK;
}

static int read_digests(struct corim_ctx *x, struct cbor_cur *c, const struct cbor_item *arr,
			json_t *list)
{
	struct cbor_item d, alg, val;

	for (uint64_t i = 0; i < arr->arg; i++) {
		json_t *h;
		/* digest = [alg: int / text, val: bytes] */
		if (cbor_next(c, &d) != KBS_OK || d.major != CBOR_ARRAY || d.arg != 2 ||
		    cbor_next(c, &alg) != KBS_OK || cbor_skip_rest(c, &alg) != KBS_OK ||
		    cbor_next(c, &val) != KBS_OK || val.major != CBOR_BYTES)
			return bad(x, "digest must be [alg, bytes]");
		if (hex_json(val.data, (size_t)val.arg, &h) != KBS_OK ||
		    json_array_append_new(list, h) != 0)
			return KBS_ERR_NOMEM;
	}
	return KBS_OK;
}

static int uuid_text(const struct cbor_item *b, char *out, size_t outlen)
{
	const uint8_t *u = b->data;

	if (b->major != CBOR_BYTES || b->arg != 16)
		return KBS_ERR_PARSE;
	snprintf(out, outlen,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
		 u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
		 u[14], u[15]);
	return KBS_OK;
}

/* measurement-map: mkey (0), mval (1) with digests (2), raw (4), serial (8), name (11). */
static int read_claim(struct corim_ctx *x, struct cbor_cur *c, const struct path *base)
{
	struct cbor_item m, k, v, mk, mv, t;
	struct path p = *base;
	char mkey[PART_MAX] = "", name[PART_MAX] = "", serial[PART_MAX] = "";
	json_t *digests = NULL, *raw = NULL;
	int rc = KBS_ERR_PARSE;

	if (cbor_next(c, &m) != KBS_OK || m.major != CBOR_MAP)
		return bad(x, "measurement-map expected");
	for (uint64_t i = 0; i < m.arg; i++) {
		if (cbor_next(c, &k) != KBS_OK || cbor_next(c, &v) != KBS_OK) {
			rc = bad(x, "truncated measurement-map");
			goto out;
		}
		if (k.major == CBOR_UINT && k.arg == 0) {
			/* measured element: text, uint, #6.37 uuid (others ignored, as Trustee) */
			if (v.major == CBOR_TEXT) {
				if (text_copy(&v, mkey, sizeof(mkey)) != KBS_OK) {
					rc = bad(x, "mkey too long");
					goto out;
				}
			} else if (v.major == CBOR_UINT) {
				snprintf(mkey, sizeof(mkey), "claim%llu", (unsigned long long)v.arg);
			} else if (v.major == CBOR_TAG && v.arg == TAG_UUID) {
				if (cbor_next(c, &t) != KBS_OK || uuid_text(&t, mkey, sizeof(mkey))) {
					rc = bad(x, "mkey UUID must be 16 bytes");
					goto out;
				}
			} else if (cbor_skip_rest(c, &v) != KBS_OK) {
				goto out;
			}
			continue;
		}
		if (!(k.major == CBOR_UINT && k.arg == 1 && v.major == CBOR_MAP)) {
			if (cbor_skip_rest(c, &v) != KBS_OK)
				goto out;
			continue;
		}
		for (uint64_t j = 0; j < v.arg; j++) {
			if (cbor_next(c, &mk) != KBS_OK || cbor_next(c, &mv) != KBS_OK) {
				rc = bad(x, "truncated measurement-values-map");
				goto out;
			}
			if (mk.major == CBOR_UINT && mk.arg == 2 && mv.major == CBOR_ARRAY) {
				json_decref(digests);
				if (!(digests = json_array())) {
					rc = KBS_ERR_NOMEM;
					goto out;
				}
				if ((rc = read_digests(x, c, &mv, digests)) != KBS_OK)
					goto out;
			} else if (mk.major == CBOR_UINT && mk.arg == 4 && mv.major == CBOR_TAG &&
				   mv.arg == TAG_BYTES) {
				if (cbor_next(c, &t) != KBS_OK || t.major != CBOR_BYTES) {
					rc = bad(x, "raw value #6.560 must hold bytes");
					goto out;
				}
				json_decref(raw);
				if ((rc = hex_json(t.data, (size_t)t.arg, &raw)) != KBS_OK)
					goto out;
			} else if (mk.major == CBOR_UINT && (mk.arg == 8 || mk.arg == 11) &&
				   mv.major == CBOR_TEXT) {
				if (text_copy(&mv, mk.arg == 8 ? serial : name, PART_MAX) != KBS_OK) {
					rc = bad(x, "name/serial too long");
					goto out;
				}
			} else if (cbor_skip_rest(c, &mv) != KBS_OK) {
				goto out;
			}
		}
	}
	if (*mkey)
		path_add(&p, mkey);
	if (*name)
		path_add(&p, name);
	if (*serial)
		path_add(&p, serial);
	rc = KBS_OK;
	if (digests) {
		rc = add_rv(x, &p, "digests", digests);
		digests = NULL;
	}
	if (rc == KBS_OK && raw) {
		rc = add_rv(x, &p, "raw_bytes", raw);
		raw = NULL;
	}
out:
	json_decref(digests);
	json_decref(raw);
	return rc;
}

/* concise-mid-tag: triples-map (4) -> reference-triples (0). */
static int read_comid(struct corim_ctx *x, struct cbor_cur *c)
{
	struct cbor_item m, k, v, tk, tv, tr, claims;
	int rc;

	if (cbor_next(c, &m) != KBS_OK || m.major != CBOR_MAP)
		return bad(x, "concise-mid-tag must be a map");
	for (uint64_t i = 0; i < m.arg; i++) {
		if (cbor_next(c, &k) != KBS_OK || cbor_next(c, &v) != KBS_OK)
			return bad(x, "truncated concise-mid-tag");
		if (!(k.major == CBOR_UINT && k.arg == 4 && v.major == CBOR_MAP)) {
			if (cbor_skip_rest(c, &v) != KBS_OK)
				return bad(x, "concise-mid-tag");
			continue;
		}
		for (uint64_t j = 0; j < v.arg; j++) {
			if (cbor_next(c, &tk) != KBS_OK || cbor_next(c, &tv) != KBS_OK)
				return bad(x, "truncated triples-map");
			if (!(tk.major == CBOR_UINT && tk.arg == 0 && tv.major == CBOR_ARRAY)) {
				if (cbor_skip_rest(c, &tv) != KBS_OK)
					return bad(x, "triples-map");
				continue;
			}
			for (uint64_t t = 0; t < tv.arg; t++) {
				struct path base;
				memset(&base, 0, sizeof(base));
				/* reference-triple-record = [environment-map, [+ measurement-map]] */
				if (cbor_next(c, &tr) != KBS_OK || tr.major != CBOR_ARRAY ||
				    tr.arg != 2)
					return bad(x, "reference triple must be [env, claims]");
				if ((rc = read_env(x, c, &base)) != KBS_OK)
					return rc;
				if (cbor_next(c, &claims) != KBS_OK || claims.major != CBOR_ARRAY)
					return bad(x, "reference claims must be an array");
				for (uint64_t q = 0; q < claims.arg; q++)
					if ((rc = read_claim(x, c, &base)) != KBS_OK)
						return rc;
			}
		}
	}
	return KBS_OK;
}

static int read_comid_bytes(struct corim_ctx *x, const uint8_t *p, size_t n)
{
	struct cbor_cur c;

	if (cbor_check(p, n) != KBS_OK)
		return bad(x, "embedded CoMID is not well-formed CBOR");
	cbor_init(&c, p, n);
	return read_comid(x, &c);
}

/* corim-map: tags (1) = [+ concise-tag-type-choice]. */
static int read_corim_map(struct corim_ctx *x, struct cbor_cur *c)
{
	struct cbor_item m, k, v, t, b;
	int rc;

	if (cbor_next(c, &m) != KBS_OK)
		return bad(x, "truncated");
	if (m.major == CBOR_TAG && m.arg == TAG_CORIM && cbor_next(c, &m) != KBS_OK)
		return bad(x, "truncated");
	if (m.major != CBOR_MAP)
		return bad(x, "corim-map expected");
	for (uint64_t i = 0; i < m.arg; i++) {
		if (cbor_next(c, &k) != KBS_OK || cbor_next(c, &v) != KBS_OK)
			return bad(x, "truncated corim-map");
		if (!(k.major == CBOR_UINT && k.arg == 1 && v.major == CBOR_ARRAY)) {
			if (cbor_skip_rest(c, &v) != KBS_OK)
				return bad(x, "corim-map");
			continue;
		}
		for (uint64_t j = 0; j < v.arg; j++) {
			if (cbor_next(c, &t) != KBS_OK)
				return bad(x, "truncated tags");
			if (t.major == CBOR_TAG && t.arg == TAG_COMID) {
				size_t at = c->off;
				if (cbor_next(c, &b) != KBS_OK)
					return bad(x, "truncated CoMID");
				if (b.major == CBOR_BYTES) {
					rc = read_comid_bytes(x, b.data, (size_t)b.arg);
				} else {
					c->off = at; /* a CoMID map inline */
					rc = read_comid(x, c);
				}
				if (rc != KBS_OK)
					return rc;
			} else if (t.major == CBOR_BYTES) {
				/* untagged bytes: a CoMID if it decodes as one (Trustee) */
				struct rvps_rv_list tmp = {0};
				struct corim_ctx y = {x->exp, &tmp, x->why, x->whylen};
				if (read_comid_bytes(&y, t.data, (size_t)t.arg) == KBS_OK) {
					for (size_t q = 0; q < tmp.n; q++) {
						rc = rvps_rv_list_add(x->out, tmp.v[q].name,
								      json_incref(tmp.v[q].value),
								      x->exp);
						if (rc != KBS_OK) {
							rvps_rv_list_release(&tmp);
							return rc;
						}
					}
				}
				rvps_rv_list_release(&tmp);
			} else if (cbor_skip_rest(c, &t) != KBS_OK) {
				return bad(x, "tags");
			}
		}
	}
	return KBS_OK;
}

int rvps_extract_corim(const uint8_t *p, size_t n, int64_t exp, struct rvps_rv_list *out,
		       char *why, size_t whylen)
{
	struct corim_ctx x = {exp, out, why, whylen};
	struct cbor_cur c;
	struct cbor_item it, sub;
	size_t start = out->n;
	int rc;

	/* leading #6.500 / #6.502 heads (d9 01f4, d9 01f6), as Trustee strips them */
	while (n >= 3 && p[0] == 0xd9 && p[1] == 0x01 && (p[2] == 0xf4 || p[2] == 0xf6)) {
		p += 3;
		n -= 3;
	}
	if (cbor_check(p, n) != KBS_OK)
		return bad(&x, "payload is not one well-formed CBOR item");
	cbor_init(&c, p, n);
	if ((rc = cbor_next(&c, &it)) != KBS_OK)
		return bad(&x, "truncated");
	if ((it.major == CBOR_TAG && it.arg == TAG_COSE_SIGN1) || it.major == CBOR_ARRAY) {
		/* signed CoRIM: COSE_Sign1 [protected, unprotected, payload, signature];
		 * the payload is read, the signature is not checked (Trustee neither) */
		if (it.major == CBOR_TAG && cbor_next(&c, &it) != KBS_OK)
			return bad(&x, "truncated COSE_Sign1");
		if (it.major != CBOR_ARRAY || it.arg != 4 || cbor_skip(&c) != KBS_OK ||
		    cbor_skip(&c) != KBS_OK || cbor_next(&c, &sub) != KBS_OK ||
		    sub.major != CBOR_BYTES)
			return bad(&x, "COSE_Sign1 must be [protected, unprotected, payload, sig]");
		if (cbor_check(sub.data, (size_t)sub.arg) != KBS_OK)
			return bad(&x, "signed payload is not well-formed CBOR");
		cbor_init(&c, sub.data, (size_t)sub.arg);
	} else {
		cbor_init(&c, p, n);
	}
	rc = read_corim_map(&x, &c);
	if (rc == KBS_OK && out->n == start)
		snprintf(why, whylen, "corim: no reference values found");
	if (rc != KBS_OK) {
		/* all or nothing */
		while (out->n > start)
			rvps_rv_release(&out->v[--out->n]);
	}
	return rc;
}
