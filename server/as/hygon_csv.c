// SPDX-License-Identifier: Apache-2.0
/*
 * Hygon CSV certificate and report formats and the SM2/SM3 chain steps. Layouts: hygon_csv.h.
 */
#include "server/as/hygon_csv.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_pubkey(const uint8_t *p, struct hcsv_pubkey *k)
{
	k->group = le32(p);
	memcpy(k->x, p + 4, 72);
	memcpy(k->y, p + 76, 72);
}

static void put_sig(const uint8_t *p, struct hcsv_sig *s)
{
	memcpy(s->r, p, 72);
	memcpy(s->s, p + 72, 72);
}

int hcsv_ca_cert_parse(const uint8_t *p, size_t len, struct hcsv_ca_cert *c, char *why,
		       size_t whylen)
{
	if (len != HCSV_CA_CERT_LEN) {
		snprintf(why, whylen, "csv: CA certificate is %zu bytes, expected %d", len,
			 HCSV_CA_CERT_LEN);
		return KBS_ERR_PARSE;
	}
	memset(c, 0, sizeof(*c));
	memcpy(c->raw, p, len);
	c->ver = le32(p);
	memcpy(c->kid, p + 4, 16);
	memcpy(c->sid, p + 20, 16);
	c->usage = le32(p + 36);
	put_pubkey(p + 64, &c->key);
	c->uid_size = le16(p + 212);
	memcpy(c->uid, p + 214, 254);
	put_sig(p + HCSV_CA_BODY_LEN, &c->sig);
	if (c->uid_size > 254) {
		snprintf(why, whylen, "csv: CA certificate uid_size %u exceeds 254", c->uid_size);
		return KBS_ERR_PARSE;
	}
	return KBS_OK;
}

int hcsv_cert_parse(const uint8_t *p, size_t len, struct hcsv_cert *c, char *why, size_t whylen)
{
	if (len != HCSV_CERT_LEN) {
		snprintf(why, whylen, "csv: CSV certificate is %zu bytes, expected %d", len,
			 HCSV_CERT_LEN);
		return KBS_ERR_PARSE;
	}
	memset(c, 0, sizeof(*c));
	memcpy(c->raw, p, len);
	c->ver = le32(p);
	c->fw_major = p[4];
	c->fw_minor = p[5];
	c->key_usage = le32(p + 8);
	c->key_algo = le32(p + 12);
	put_pubkey(p + 16, &c->key);
	c->uid_size = le16(p + 164);
	memcpy(c->uid, p + 166, 254);
	memcpy(c->sid, p + 420, 16);
	for (int i = 0; i < 2; i++) {
		const uint8_t *s = p + HCSV_CERT_BODY_LEN + 520 * i;

		c->sigs[i].usage = le32(s);
		c->sigs[i].algo = le32(s + 4);
		put_sig(s + 8, &c->sigs[i].sig);
	}
	if (c->uid_size > 254) {
		snprintf(why, whylen, "csv: CSV certificate uid_size %u exceeds 254", c->uid_size);
		return KBS_ERR_PARSE;
	}
	return KBS_OK;
}

int hcsv_hsk_cek_parse(const uint8_t *p, size_t len, struct hcsv_ca_cert *hsk,
		       struct hcsv_cert *cek, char *why, size_t whylen)
{
	int rc;

	if (len != HCSV_HSK_CEK_LEN) {
		snprintf(why, whylen, "csv: hsk_cek is %zu bytes, expected %d (HSK + CEK)", len,
			 HCSV_HSK_CEK_LEN);
		return KBS_ERR_PARSE;
	}
	if ((rc = hcsv_ca_cert_parse(p, HCSV_CA_CERT_LEN, hsk, why, whylen)) != KBS_OK)
		return rc;
	return hcsv_cert_parse(p + HCSV_CA_CERT_LEN, HCSV_CERT_LEN, cek, why, whylen);
}

/* Removes the v1 anonce mask: byte i ^= anonce_le[i % 4]. */
static void unmask(uint8_t *dst, const uint8_t *src, size_t n, uint32_t anonce)
{
	uint8_t a[4] = {(uint8_t)anonce, (uint8_t)(anonce >> 8), (uint8_t)(anonce >> 16),
			(uint8_t)(anonce >> 24)};

	for (size_t i = 0; i < n; i++)
		dst[i] = src[i] ^ a[i % 4];
}

int hcsv_report_parse(const uint8_t magic[16], uint32_t flags, const uint8_t *data, size_t len,
		      struct hcsv_report *r, char *why, size_t whylen)
{
	static const uint8_t ext[16] = "ATTESTATION_EXT";
	static const uint8_t zero[16];
	const uint8_t *p = data;
	uint32_t a;

	if (len != HCSV_REPORT_LEN) {
		snprintf(why, whylen, "csv: attestation report is %zu bytes, expected %d", len,
			 HCSV_REPORT_LEN);
		return KBS_ERR_PARSE;
	}
	memset(r, 0, sizeof(*r));
	if (memcmp(magic, zero, 16) == 0 || (memcmp(magic, ext, 16) == 0 && flags == 0)) {
		r->version = 1;
	} else if (memcmp(magic, ext, 16) == 0 && flags == 1) {
		r->version = 2;
	} else {
		snprintf(why, whylen, "csv: attestation report magic/flags (%u) not recognised",
			 flags);
		return KBS_ERR_PARSE;
	}
	memcpy(r->raw, data, len);
	a = r->version == 1 ? le32(p + 188) : 0;
	r->anonce = a;
	unmask(r->user_pubkey_digest, p, 32, a);
	unmask(r->vm_id, p + 32, 16, a);
	unmask(r->vm_version, p + 48, 16, a);
	unmask(r->report_data, p + 64, 64, a);
	unmask(r->mnonce, p + 128, 16, a);
	unmask(r->measure, p + 144, 32, a);
	r->policy = le32(p + 176) ^ a;
	r->sig_usage = le32(p + 180) ^ a;
	r->sig_algo = le32(p + 184) ^ a;
	if (r->version == 1) {
		r->signed_len = HCSV_REPORT_V1_SIGNED;
		put_sig(p + 192, &r->sig);
	} else {
		r->signed_len = HCSV_REPORT_V2_SIGNED;
		r->build = le32(p + 188);
		r->rtmr_version = le16(p + 192);
		memcpy(r->reserved0, p + 194, 14);
		for (int i = 0; i < 5; i++)
			memcpy(r->rtmr[i], p + 208 + 32 * i, 32);
		memcpy(r->reserved1, p + 368, 656);
		put_sig(p + 1024, &r->sig);
	}
	return KBS_OK;
}

/* ---- serde JSON forms ---- */

enum { F_U8, F_U16, F_U32, F_BYTES };

struct jfield {
	const char *path; /* dot-separated members; digits index arrays */
	unsigned char kind;
	unsigned short n; /* F_BYTES length */
};

#define SIGSLOT(i)                                                                                 \
	{"sigs." #i ".usage", F_U32, 0}, {"sigs." #i ".algo", F_U32, 0},                           \
	    {"sigs." #i ".signature.r", F_BYTES, 72}, {"sigs." #i ".signature.s", F_BYTES, 72},    \
	{                                                                                          \
		"sigs." #i "._reserved", F_BYTES, 368                                              \
	}

static const struct jfield csv_cert_layout[] = {
    {"body.ver", F_U32, 0},
    {"body.data.firmware.major", F_U8, 0},
    {"body.data.firmware.minor", F_U8, 0},
    {"body.data.reserved1", F_U16, 0},
    {"body.data.pubkey.usage", F_U32, 0},
    {"body.data.pubkey.algo", F_U32, 0},
    {"body.data.pubkey.key.g", F_U32, 0},
    {"body.data.pubkey.key.x", F_BYTES, 72},
    {"body.data.pubkey.key.y", F_BYTES, 72},
    {"body.data.uid_size", F_U16, 0},
    {"body.data.user_id", F_BYTES, 254},
    {"body.data.sid", F_BYTES, 16},
    {"body.data.reserved2", F_BYTES, 608},
    SIGSLOT(0),
    SIGSLOT(1),
};

static const struct jfield ca_cert_layout[] = {
    {"body.preamble.ver", F_U32, 0},
    {"body.preamble.data.kid", F_BYTES, 16},
    {"body.preamble.data.sid", F_BYTES, 16},
    {"body.preamble.data.usage", F_U32, 0},
    {"body.preamble.data.reserved", F_BYTES, 24},
    {"body.pubkey.g", F_U32, 0},
    {"body.pubkey.x", F_BYTES, 72},
    {"body.pubkey.y", F_BYTES, 72},
    {"body.uid_size", F_U16, 0},
    {"body.user_id", F_BYTES, 254},
    {"body.reserved", F_BYTES, 108},
    {"signature.r", F_BYTES, 72},
    {"signature.s", F_BYTES, 72},
    {"_reserved", F_BYTES, 112},
};

/* Walks a dot path; NULL when a member/element is missing. */
static const json_t *jpath(const json_t *j, const char *path)
{
	char seg[64];

	while (j && *path) {
		size_t n = strcspn(path, ".");

		if (n == 0 || n >= sizeof(seg))
			return NULL;
		memcpy(seg, path, n);
		seg[n] = 0;
		if (json_is_array(j) && seg[0] >= '0' && seg[0] <= '9' && n == 1)
			j = json_array_get(j, (size_t)(seg[0] - '0'));
		else
			j = json_object_get(j, seg);
		path += n;
		if (*path == '.')
			path++;
	}
	return j;
}

/* Byte array of exactly n integers 0..255 into out. */
static int jbytes(const json_t *a, uint8_t *out, size_t n)
{
	if (!json_is_array(a) || json_array_size(a) != n)
		return KBS_ERR_PARSE;
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(a, i);
		json_int_t v = json_integer_value(e);

		if (!json_is_integer(e) || v < 0 || v > 255)
			return KBS_ERR_PARSE;
		out[i] = (uint8_t)v;
	}
	return KBS_OK;
}

static int encode(const json_t *j, const struct jfield *f, size_t nf, uint8_t *out, size_t len,
		  const char *what, char *why, size_t whylen)
{
	size_t o = 0;

	if (!json_is_object(j)) {
		snprintf(why, whylen, "csv: %s must be a JSON object", what);
		return KBS_ERR_PARSE;
	}
	for (size_t i = 0; i < nf; i++) {
		const json_t *v = jpath(j, f[i].path);
		size_t w = f[i].kind == F_U8 ? 1 : f[i].kind == F_U16 ? 2 : f[i].kind == F_U32 ? 4 : f[i].n;
		json_int_t x;

		if (o + w > len)
			goto bad;
		if (f[i].kind == F_BYTES) {
			if (jbytes(v, out + o, w) != KBS_OK)
				goto bad;
		} else {
			x = json_integer_value(v);
			if (!json_is_integer(v) || x < 0 || (w < 8 && (uint64_t)x >> (8 * w)))
				goto bad;
			for (size_t k = 0; k < w; k++)
				out[o + k] = (uint8_t)((uint64_t)x >> (8 * k));
		}
		o += w;
		continue;
bad:
		snprintf(why, whylen, "csv: %s: member '%s' missing or malformed", what, f[i].path);
		return KBS_ERR_PARSE;
	}
	if (o != len) {
		snprintf(why, whylen, "csv: %s layout is %zu bytes, expected %zu", what, o, len);
		return KBS_ERR_INTERNAL;
	}
	return KBS_OK;
}

/* Sets path to v (stolen) in root, creating objects and arrays ("sigs.0") on the way. */
static int jset(json_t *root, const char *path, json_t *v)
{
	char seg[64];
	json_t *cur = root;

	if (!v)
		return KBS_ERR_NOMEM;
	for (;;) {
		size_t n = strcspn(path, ".");
		int last = path[n] == 0, next_index = !last && path[n + 1] >= '0' && path[n + 1] <= '9';
		json_t *child;

		if (n == 0 || n >= sizeof(seg))
			goto fail;
		memcpy(seg, path, n);
		seg[n] = 0;
		if (json_is_array(cur)) {
			size_t i = (size_t)(seg[0] - '0');

			child = json_array_get(cur, i);
			if (last)
				return json_array_insert_new(cur, i, v) == 0 ? KBS_OK : KBS_ERR_NOMEM;
			if (!child) {
				child = next_index ? json_array() : json_object();
				if (json_array_append_new(cur, child) != 0)
					goto fail;
			}
		} else {
			if (last)
				return json_object_set_new(cur, seg, v) == 0 ? KBS_OK : KBS_ERR_NOMEM;
			child = json_object_get(cur, seg);
			if (!child) {
				child = next_index ? json_array() : json_object();
				if (json_object_set_new(cur, seg, child) != 0)
					goto fail;
			}
		}
		cur = child;
		path += n + 1;
	}
fail:
	json_decref(v);
	return KBS_ERR_NOMEM;
}

static json_t *decode(const uint8_t *raw, const struct jfield *f, size_t nf)
{
	json_t *root = json_object();
	size_t o = 0;

	for (size_t i = 0; root && i < nf; i++) {
		size_t w = f[i].kind == F_U8 ? 1 : f[i].kind == F_U16 ? 2 : f[i].kind == F_U32 ? 4 : f[i].n;
		json_t *v;

		if (f[i].kind == F_BYTES) {
			v = json_array();
			for (size_t k = 0; v && k < w; k++)
				if (json_array_append_new(v, json_integer(raw[o + k])) != 0) {
					json_decref(v);
					v = NULL;
				}
		} else {
			uint64_t x = 0;

			for (size_t k = 0; k < w; k++)
				x |= (uint64_t)raw[o + k] << (8 * k);
			v = json_integer((json_int_t)x);
		}
		if (jset(root, f[i].path, v) != KBS_OK) {
			json_decref(root);
			root = NULL;
		}
		o += w;
	}
	return root;
}

json_t *hcsv_ca_cert_to_json(const struct hcsv_ca_cert *c)
{
	return decode(c->raw, ca_cert_layout, sizeof(ca_cert_layout) / sizeof(ca_cert_layout[0]));
}

json_t *hcsv_cert_to_json(const struct hcsv_cert *c)
{
	return decode(c->raw, csv_cert_layout, sizeof(csv_cert_layout) / sizeof(csv_cert_layout[0]));
}

int hcsv_ca_cert_from_json(const json_t *j, struct hcsv_ca_cert *c, char *why, size_t whylen)
{
	uint8_t raw[HCSV_CA_CERT_LEN];
	int rc = encode(j, ca_cert_layout, sizeof(ca_cert_layout) / sizeof(ca_cert_layout[0]), raw,
			sizeof(raw), "CA certificate", why, whylen);

	return rc ? rc : hcsv_ca_cert_parse(raw, sizeof(raw), c, why, whylen);
}

int hcsv_cert_from_json(const json_t *j, struct hcsv_cert *c, char *why, size_t whylen)
{
	uint8_t raw[HCSV_CERT_LEN];
	int rc = encode(j, csv_cert_layout, sizeof(csv_cert_layout) / sizeof(csv_cert_layout[0]),
			raw, sizeof(raw), "CSV certificate", why, whylen);

	return rc ? rc : hcsv_cert_parse(raw, sizeof(raw), c, why, whylen);
}

int hcsv_report_from_json(const json_t *j, struct hcsv_report *r, char *why, size_t whylen)
{
	uint8_t magic[16], data[HCSV_REPORT_LEN];
	const json_t *fl = json_object_get(j, "flags");
	json_int_t flags = json_integer_value(fl);

	if (!json_is_object(j) || jbytes(json_object_get(j, "magic"), magic, 16) != KBS_OK ||
	    !json_is_integer(fl) || flags < 0 || flags > 0xffffffffLL ||
	    jbytes(json_object_get(j, "data"), data, sizeof(data)) != KBS_OK) {
		snprintf(why, whylen,
			 "csv: attestation_report must be {\"magic\": [16 bytes], \"flags\": u32, "
			 "\"data\": [4096 bytes]}");
		return KBS_ERR_PARSE;
	}
	return hcsv_report_parse(magic, (uint32_t)flags, data, sizeof(data), r, why, whylen);
}

/* ---- SM2 ---- */

static EVP_PKEY *sm2_key(const struct hcsv_pubkey *k, int *rc)
{
	uint8_t pt[65];
	OSSL_PARAM_BLD *b = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;

	*rc = KBS_ERR_UNSUPPORTED;
	if (k->group != HCSV_GROUP_SM2_256)
		return NULL;
	*rc = KBS_ERR_CRYPTO;
	pt[0] = 0x04;
	for (int i = 0; i < 32; i++) {
		pt[1 + i] = k->x[31 - i];
		pt[33 + i] = k->y[31 - i];
	}
	if (!(b = OSSL_PARAM_BLD_new()) ||
	    !OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt)) ||
	    !(params = OSSL_PARAM_BLD_to_param(b)) ||
	    !(ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL)) ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
		key = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	if (key)
		*rc = KBS_OK;
	return key;
}

/* DER ECDSA-Sig-Value from the little-endian r, s. */
static int sig_der(const struct hcsv_sig *s, uint8_t **der, int *derlen)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_lebin2bn(s->r, 72, NULL), *sv = BN_lebin2bn(s->s, 72, NULL);
	int rc = KBS_ERR_CRYPTO;

	*der = NULL;
	if (!es || !r || !sv || ECDSA_SIG_set0(es, r, sv) != 1)
		goto out;
	r = sv = NULL;
	if ((*derlen = i2d_ECDSA_SIG(es, der)) <= 0)
		goto out;
	rc = KBS_OK;
out:
	BN_free(r);
	BN_free(sv);
	ECDSA_SIG_free(es);
	return rc;
}

int hcsv_sm2_verify(const struct hcsv_pubkey *key, const uint8_t *uid, size_t uid_len,
		    const uint8_t *msg, size_t msg_len, const struct hcsv_sig *sig)
{
	EVP_PKEY *pk;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *mctx = NULL;
	uint8_t *der = NULL;
	int derlen = 0, rc;

	if (!(pk = sm2_key(key, &rc)))
		return rc;
	rc = KBS_ERR_CRYPTO;
	if (sig_der(sig, &der, &derlen) != KBS_OK || !(mctx = EVP_MD_CTX_new()) ||
	    !(pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) ||
	    EVP_PKEY_CTX_set1_id(pctx, uid, (int)uid_len) != 1)
		goto out;
	EVP_MD_CTX_set_pkey_ctx(mctx, pctx);
	if (EVP_DigestVerifyInit(mctx, NULL, EVP_sm3(), NULL, pk) != 1)
		goto out;
	rc = EVP_DigestVerify(mctx, der, (size_t)derlen, msg, msg_len) == 1 ? KBS_OK
									   : KBS_ERR_VERIFY;
out:
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(pk);
	OPENSSL_free(der);
	return rc;
}

/* ---- chain steps ---- */

static const char *usage_name(uint32_t u)
{
	switch (u) {
	case HCSV_USAGE_HRK:
		return "HRK";
	case HCSV_USAGE_HSK:
		return "HSK";
	case HCSV_USAGE_OCA:
		return "OCA";
	case HCSV_USAGE_PEK:
		return "PEK";
	case HCSV_USAGE_PDH:
		return "PDH";
	case HCSV_USAGE_CEK:
		return "CEK";
	default:
		return "unknown";
	}
}

int hcsv_verify_ca_by_ca(const struct hcsv_ca_cert *signer, const struct hcsv_ca_cert *subj,
			 char *why, size_t whylen)
{
	if (signer->usage != HCSV_USAGE_HRK) {
		snprintf(why, whylen, "signer usage 0x%x (%s) is not HRK", signer->usage,
			 usage_name(signer->usage));
		return KBS_ERR_VERIFY;
	}
	if (memcmp(subj->sid, signer->kid, 16) != 0) {
		snprintf(why, whylen, "signer id (sid) does not match the HRK key id (kid)");
		return KBS_ERR_VERIFY;
	}
	if (hcsv_sm2_verify(&signer->key, signer->uid, signer->uid_size, subj->raw,
			    HCSV_CA_BODY_LEN, &subj->sig) != KBS_OK) {
		snprintf(why, whylen, "SM2 signature does not verify");
		return KBS_ERR_VERIFY;
	}
	return KBS_OK;
}

/* csv-rs: a slot is empty unless its usage is a known key usage and its algo an SM2 one. */
static int slot_used(const struct hcsv_cert_sig *s)
{
	switch (s->usage) {
	case HCSV_USAGE_CEK:
	case HCSV_USAGE_HRK:
	case HCSV_USAGE_HSK:
	case HCSV_USAGE_OCA:
	case HCSV_USAGE_PDH:
	case HCSV_USAGE_PEK:
		return s->algo == HCSV_ALGO_SM2_SA || s->algo == HCSV_ALGO_SM2_DH;
	default:
		return 0;
	}
}

static int verify_slots(const struct hcsv_pubkey *key, uint32_t usage, uint32_t algo,
			const uint8_t *uid, size_t uid_len, const struct hcsv_cert *subj,
			char *why, size_t whylen)
{
	int tried = 0;

	for (int i = 0; i < 2; i++) {
		const struct hcsv_cert_sig *s = &subj->sigs[i];

		if (!slot_used(s) || s->usage != usage || s->algo != algo)
			continue;
		tried = 1;
		if (hcsv_sm2_verify(key, uid, uid_len, subj->raw, HCSV_CERT_BODY_LEN, &s->sig) ==
		    KBS_OK)
			return KBS_OK;
	}
	if (tried)
		snprintf(why, whylen, "SM2 signature does not verify");
	else
		snprintf(why, whylen, "no signature slot by a %s key", usage_name(usage));
	return KBS_ERR_VERIFY;
}

int hcsv_verify_cert_by_ca(const struct hcsv_ca_cert *signer, const struct hcsv_cert *subj,
			   char *why, size_t whylen)
{
	return verify_slots(&signer->key, signer->usage, HCSV_ALGO_SM2_SA, signer->uid,
			    signer->uid_size, subj, why, whylen);
}

int hcsv_verify_cert_by_cert(const struct hcsv_cert *signer, const struct hcsv_cert *subj,
			     char *why, size_t whylen)
{
	return verify_slots(&signer->key, signer->key_usage, signer->key_algo, signer->uid,
			    signer->uid_size, subj, why, whylen);
}

int hcsv_verify_report(const struct hcsv_cert *pek, const struct hcsv_report *r, char *why,
		       size_t whylen)
{
	if (pek->key_usage != HCSV_USAGE_PEK) {
		snprintf(why, whylen, "signing key usage 0x%x (%s) is not PEK", pek->key_usage,
			 usage_name(pek->key_usage));
		return KBS_ERR_VERIFY;
	}
	if (hcsv_sm2_verify(&pek->key, pek->uid, pek->uid_size, r->raw, r->signed_len, &r->sig) !=
	    KBS_OK) {
		snprintf(why, whylen, "SM2 signature does not verify");
		return KBS_ERR_VERIFY;
	}
	return KBS_OK;
}
