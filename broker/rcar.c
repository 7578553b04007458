// SPDX-License-Identifier: Apache-2.0
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "broker/rcar.h"
#include "common/b64.h"
#include "common/err.h"
#include "common/jcs.h"
#include "common/json.h"

/* Bodies from the KBS are small; anything bigger is not a protocol message. */
#define RCAR_MAX_BODY (1u << 20)
#define RCAR_MAX_NONCE 8192
#define RCAR_MAX_TOKEN (256u * 1024)

const char *rcar_hash_name(enum rcar_hash h)
{
	switch (h) {
	case RCAR_HASH_SHA256:
		return "sha256";
	case RCAR_HASH_SHA512:
		return "sha512";
	case RCAR_HASH_SHA384:
	default:
		return "sha384";
	}
}

int rcar_auth_body(const char *tee, struct buf *out)
{
	json_t *o = NULL, *algs;
	char *s = NULL;
	size_t n;
	int rc = KBS_ERR_NOMEM;

	if (!tee || !out)
		return KBS_ERR_INVAL;
	/* the guest client advertises sm3 too; we cannot compute it, so we do not offer it */
	algs = json_pack("[sss]", "sha256", "sha384", "sha512");
	o = json_pack("{s:s, s:s, s:{s:o}}", "version", RCAR_PROTOCOL_VERSION, "tee", tee,
		      "extra-params", "supported-hash-algorithms", algs);
	if (!o)
		goto out;
	s = json_dump_compact(o, &n);
	if (!s)
		goto out;
	rc = buf_append(out, s, n);
out:
	free(s);
	json_decref(o);
	return rc;
}

static int parse_obj(const char *body, size_t len, json_t **out)
{
	json_t *j = NULL;
	int rc;

	if (!body)
		return KBS_ERR_INVAL;
	rc = json_parse(body, len, RCAR_MAX_BODY, &j, NULL);
	if (rc)
		return rc == KBS_ERR_RANGE ? KBS_ERR_RANGE : KBS_ERR_PARSE;
	if (!json_is_object(j)) {
		json_decref(j);
		return KBS_ERR_PARSE;
	}
	*out = j;
	return KBS_OK;
}

int rcar_parse_challenge(const char *body, size_t len, char **nonce, enum rcar_hash *hash)
{
	json_t *j = NULL, *ep, *sel;
	const char *n;
	int rc;

	if (!nonce || !hash)
		return KBS_ERR_INVAL;
	*nonce = NULL;
	rc = parse_obj(body, len, &j);
	if (rc)
		return rc;
	rc = KBS_ERR_PROTOCOL;
	if (json_get_string(j, "nonce", &n, NULL) != KBS_OK || !*n ||
	    strlen(n) > RCAR_MAX_NONCE)
		goto out;
	*hash = RCAR_HASH_SHA384;
	ep = json_object_get(j, "extra-params");
	sel = json_is_object(ep) ? json_object_get(ep, "selected-hash-algorithm") : NULL;
	if (sel) {
		const char *a = json_string_value(sel);

		if (!a)
			goto out;
		if (strcasecmp(a, "sha256") == 0)
			*hash = RCAR_HASH_SHA256;
		else if (strcasecmp(a, "sha384") == 0)
			*hash = RCAR_HASH_SHA384;
		else if (strcasecmp(a, "sha512") == 0)
			*hash = RCAR_HASH_SHA512;
		else {
			rc = KBS_ERR_UNSUPPORTED;
			goto out;
		}
	}
	rc = KBS_ERR_NOMEM;
	*nonce = strdup(n);
	if (*nonce)
		rc = KBS_OK;
out:
	json_decref(j);
	return rc;
}

int rcar_runtime_digest(const char *nonce, const json_t *tee_pubkey, const char *additional,
			enum rcar_hash hash, uint8_t out[64], size_t *outlen)
{
	struct buf b = BUF_INIT;
	json_t *rd = NULL;
	const EVP_MD *md;
	unsigned int dlen = 0;
	int rc = KBS_ERR_NOMEM;

	if (!nonce || !tee_pubkey || !additional || !out || !outlen)
		return KBS_ERR_INVAL;
	md = hash == RCAR_HASH_SHA256 ? EVP_sha256()
	     : hash == RCAR_HASH_SHA512 ? EVP_sha512() : EVP_sha384();
	/* JCS sorts the members, so insertion order does not matter for the digest */
	rd = json_pack("{s:O, s:s, s:s}", "tee-pubkey", tee_pubkey, "nonce", nonce,
		       "additional-evidence", additional);
	if (!rd)
		goto out;
	rc = jcs_serialize(rd, &b);
	if (rc)
		goto out;
	rc = KBS_ERR_CRYPTO;
	if (!EVP_Digest(b.p, b.len, out, &dlen, md, NULL))
		goto out;
	*outlen = dlen;
	rc = KBS_OK;
out:
	buf_release(&b);
	json_decref(rd);
	return rc;
}

int rcar_attest_body(const char *initdata_toml, const char *nonce, const json_t *tee_pubkey,
		     const json_t *evidence, const char *additional, struct buf *out)
{
	json_t *o = NULL, *init;
	char *s = NULL;
	size_t n;
	int rc = KBS_ERR_NOMEM;

	if (!nonce || !tee_pubkey || !evidence || !additional || !out)
		return KBS_ERR_INVAL;
	init = initdata_toml ? json_pack("{s:s, s:s}", "format", "toml", "body", initdata_toml)
			     : json_null();
	o = json_pack("{s:o, s:{s:s, s:O}, s:{s:O, s:s}}", "init-data", init, "runtime-data",
		      "nonce", nonce, "tee-pubkey", tee_pubkey, "tee-evidence",
		      "primary_evidence", evidence, "additional_evidence", additional);
	if (!o)
		goto out;
	s = json_dump_compact(o, &n);
	if (!s)
		goto out;
	rc = buf_append(out, s, n);
out:
	free(s);
	json_decref(o);
	return rc;
}

int rcar_parse_attest_response(const char *body, size_t len, char **token)
{
	json_t *j = NULL;
	const char *t;
	int rc;

	if (!token)
		return KBS_ERR_INVAL;
	*token = NULL;
	rc = parse_obj(body, len, &j);
	if (rc)
		return rc;
	rc = KBS_ERR_PROTOCOL;
	if (json_get_string(j, "token", &t, NULL) != KBS_OK || !*t || strlen(t) > RCAR_MAX_TOKEN)
		goto out;
	/* the token travels in an HTTP header later: refuse anything but JWT characters */
	for (const char *p = t; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			goto out;
	rc = KBS_ERR_NOMEM;
	*token = strdup(t);
	if (*token)
		rc = KBS_OK;
out:
	json_decref(j);
	return rc;
}

static void copy_trunc(char *dst, size_t cap, const char *src)
{
	size_t n;

	if (!dst || !cap)
		return;
	n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
	/* keep the text printable: the detail ends up in logs and status files */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
			dst[i] = ' ';
}

int rcar_parse_error(const char *body, size_t len, char *type, size_t typelen, char *detail,
		     size_t detaillen)
{
	json_t *j = NULL, *jt, *jd;
	const char *t, *slash;
	int rc;

	if (type && typelen)
		type[0] = '\0';
	if (detail && detaillen)
		detail[0] = '\0';
	rc = parse_obj(body, len, &j);
	if (rc)
		return KBS_ERR_PARSE;
	rc = KBS_ERR_PARSE;
	jt = json_object_get(j, "type");
	jd = json_object_get(j, "detail");
	if (!json_is_string(jt) || (jd && !json_is_string(jd)))
		goto out;
	t = json_string_value(jt);
	slash = strrchr(t, '/');
	copy_trunc(type, typelen, slash ? slash + 1 : t);
	if (jd)
		copy_trunc(detail, detaillen, json_string_value(jd));
	rc = KBS_OK;
out:
	json_decref(j);
	return rc;
}

struct type_map {
	const char *name;
	int err;
	enum rcar_action action;
};

/*
 * Trustee's error names (kbs-protocol §6) plus the pre-v0.11 ones old servers still send.
 * Ours (docs/kbs.md) use the same names.
 */
static const struct type_map type_table[] = {
	{"TokenNotFound", KBS_ERR_AUTH, RCAR_ACT_REATTEST},
	{"TokenVerifierError", KBS_ERR_AUTH, RCAR_ACT_REATTEST},
	{"ExpiredCookie", KBS_ERR_AUTH, RCAR_ACT_REATTEST},
	{"InvalidCookie", KBS_ERR_AUTH, RCAR_ACT_REATTEST},
	{"MissingCookie", KBS_ERR_AUTH, RCAR_ACT_REATTEST},
	{"UnAuthenticatedCookie", KBS_ERR_AUTH, RCAR_ACT_REATTEST},
	{"TokenParseFailed", KBS_ERR_AUTH, RCAR_ACT_REATTEST},
	{"PolicyDeny", KBS_ERR_DENIED, RCAR_ACT_FAIL},
	{"PolicyReject", KBS_ERR_DENIED, RCAR_ACT_FAIL},
	/* Trustee reports a missing resource only as PluginInternalError */
	{"PluginInternalError", KBS_ERR_NOTFOUND, RCAR_ACT_FAIL},
	{"ResourceNotFound", KBS_ERR_NOTFOUND, RCAR_ACT_FAIL},
	{"ReadSecretFailed", KBS_ERR_NOTFOUND, RCAR_ACT_FAIL},
	{"PluginNotFound", KBS_ERR_NOTFOUND, RCAR_ACT_FAIL},
	{"InvalidRequestPath", KBS_ERR_NOTFOUND, RCAR_ACT_FAIL},
	{"AttestationError", KBS_ERR_AUTH, RCAR_ACT_FAIL},
	{"AttestationFailed", KBS_ERR_AUTH, RCAR_ACT_FAIL},
	{"JweError", KBS_ERR_CRYPTO, RCAR_ACT_FAIL},
	{"JWEFailed", KBS_ERR_CRYPTO, RCAR_ACT_FAIL},
	{"AdminAuthInitialization", KBS_ERR_PERM, RCAR_ACT_FAIL},
	{"AdminAuthAccess", KBS_ERR_PERM, RCAR_ACT_FAIL},
	{"PolicyEngineError", KBS_ERR_DENIED, RCAR_ACT_FAIL},
};

int rcar_classify(long status, const char *type, enum rcar_action *action)
{
	enum rcar_action act = RCAR_ACT_FAIL;
	int err;

	if (type && *type) {
		for (size_t i = 0; i < sizeof(type_table) / sizeof(type_table[0]); i++) {
			if (strcmp(type, type_table[i].name) == 0) {
				if (action)
					*action = type_table[i].action;
				return type_table[i].err;
			}
		}
	}
	/* no (known) error type: fall back to the status */
	if (status == 401) {
		/* a bare 401 without a KBS body is treated like a missing token */
		err = KBS_ERR_AUTH;
		if (!(type && *type))
			act = RCAR_ACT_REATTEST;
	} else if (status == 403) {
		err = KBS_ERR_DENIED;
	} else if (status == 404) {
		err = KBS_ERR_NOTFOUND;
	} else if (status == 408 || status == 429 || status == 502 || status == 503 ||
		   status == 504) {
		err = KBS_ERR_UNAVAILABLE;
		act = RCAR_ACT_RETRY;
	} else if (status >= 500) {
		err = KBS_ERR_UNAVAILABLE;
	} else {
		err = KBS_ERR_PROTOCOL;
	}
	if (action)
		*action = act;
	return err;
}

int rcar_token_exp(const char *jwt, size_t len, int64_t *exp)
{
	const char *d1, *d2;
	uint8_t *payload = NULL;
	size_t plen;
	json_t *j = NULL, *e;
	int rc = KBS_ERR_PARSE;

	if (!jwt || !exp)
		return KBS_ERR_INVAL;
	d1 = memchr(jwt, '.', len);
	if (!d1)
		return KBS_ERR_PARSE;
	d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - jwt));
	if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - jwt)))
		return KBS_ERR_PARSE;
	if (b64_decode_alloc(d1 + 1, (size_t)(d2 - d1 - 1), B64_URL, &payload, &plen) != KBS_OK)
		goto out;
	if (json_parse((const char *)payload, plen, RCAR_MAX_TOKEN, &j, NULL) != KBS_OK ||
	    !json_is_object(j))
		goto out;
	e = json_object_get(j, "exp");
	if (!e) {
		rc = KBS_ERR_NOTFOUND;
		goto out;
	}
	if (json_is_integer(e)) {
		*exp = (int64_t)json_integer_value(e);
	} else if (json_is_real(e) && json_real_value(e) > -9.0e18 &&
		   json_real_value(e) < 9.0e18) {
		*exp = (int64_t)json_real_value(e);
	} else {
		rc = KBS_ERR_NOTFOUND;
		goto out;
	}
	rc = KBS_OK;
out:
	json_decref(j);
	free(payload);
	return rc;
}

bool rcar_token_fresh(int64_t exp, int64_t now, int64_t margin_s)
{
	if (margin_s < 0)
		margin_s = 0;
	/* written so that no overflow is possible for any exp/now */
	if (now > INT64_MAX - margin_s)
		return false;
	return exp > now + margin_s;
}

long rcar_backoff_ms(int attempt, long initial_ms, long cap_ms, uint32_t rnd)
{
	long step = initial_ms > 0 ? initial_ms : 1, half;

	if (cap_ms < step)
		cap_ms = step;
	for (int i = 0; i < attempt && step < cap_ms; i++)
		step = step > cap_ms / 2 ? cap_ms : step * 2;
	if (step > cap_ms)
		step = cap_ms;
	half = step / 2;
	return (step - half) + (long)((uint64_t)rnd * (uint64_t)(half + 1) >> 32);
}

static bool seg_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

bool rcar_resource_path_valid(const char *path)
{
	int segs = 0;
	const char *p = path;

	if (!p || strlen(p) > 1024)
		return false;
	while (*p) {
		const char *s = p;

		if (*p == '.')
			return false;
		while (*p && *p != '/') {
			if (!seg_char(*p))
				return false;
			p++;
		}
		if (p == s)
			return false;
		segs++;
		if (*p == '/') {
			p++;
			if (!*p)
				return false;
		}
	}
	return segs == 3;
}
