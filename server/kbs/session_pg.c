// SPDX-License-Identifier: Apache-2.0
#include "server/kbs/session_pg.h"

#include <jansson.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"

#define SESSION_VALUE_MAX 65536
#define CAS_ATTEMPTS 8

static _Atomic long long last_sweep;

static int valid_id(const char *id)
{
	size_t n = strlen(id);

	if (n != KBS_SESSION_ID_LEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return 1;
}

static int encode(const struct kbs_session_info *in, struct buf *out)
{
	json_t *j = json_pack("{s:s,s:s,s:b,s:b,s:I,s:s?}", "tee", in->tee, "nonce", in->nonce,
			      "nonce_used", in->nonce_used, "attested", in->attested, "expires",
			      (json_int_t)in->expires, "token", in->token);
	char *t;
	int rc;

	if (!j)
		return KBS_ERR_NOMEM;
	t = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (!t)
		return KBS_ERR_NOMEM;
	buf_reset(out);
	rc = buf_append_str(out, t);
	free(t);
	return rc;
}

static int decode(const struct buf *in, struct kbs_session_info *out)
{
	json_t *j = json_loadb((const char *)in->p, in->len, 0, NULL);
	const char *tee, *nonce, *token;
	json_t *exp;
	int rc = KBS_ERR_PARSE;

	memset(out, 0, sizeof(*out));
	if (!j)
		return KBS_ERR_PARSE;
	tee = json_string_value(json_object_get(j, "tee"));
	nonce = json_string_value(json_object_get(j, "nonce"));
	token = json_string_value(json_object_get(j, "token"));
	exp = json_object_get(j, "expires");
	if (!tee || !nonce || !json_is_integer(exp) || strlen(tee) >= sizeof(out->tee) ||
	    strlen(nonce) > KBS_NONCE_LEN)
		goto out;
	memcpy(out->tee, tee, strlen(tee) + 1);
	memcpy(out->nonce, nonce, strlen(nonce) + 1);
	out->nonce_used = json_is_true(json_object_get(j, "nonce_used"));
	out->attested = json_is_true(json_object_get(j, "attested"));
	out->expires = (time_t)json_integer_value(exp);
	rc = KBS_OK;
	if (token && !(out->token = strdup(token)))
		rc = KBS_ERR_NOMEM;
out:
	json_decref(j);
	return rc;
}

static void maybe_sweep(struct pgstore *pg, time_t now)
{
	long long prev = atomic_load(&last_sweep);
	long n;

	if (now - prev < 60 || !atomic_compare_exchange_strong(&last_sweep, &prev, now))
		return;
	if (pgstore_sweep_sessions(pg, now, &n) == KBS_OK && n > 0)
		log_debug("kbs: swept %ld expired sessions", n);
}

int kbs_pgsess_create(struct pgstore *pg, const char *tee, long lifetime_s, time_t now, char *id,
		      char *nonce, time_t *expires)
{
	struct kbs_session_info info = {0};
	uint8_t rid[16], rnonce[32];
	struct buf v;
	int rc;

	if (!tee || strlen(tee) >= sizeof(info.tee))
		return KBS_ERR_INVAL;
	maybe_sweep(pg, now);
	if (RAND_bytes(rid, sizeof(rid)) != 1 || RAND_bytes(rnonce, sizeof(rnonce)) != 1)
		return KBS_ERR_CRYPTO;
	rid[6] = (uint8_t)((rid[6] & 0x0f) | 0x40); /* UUIDv4 */
	rid[8] = (uint8_t)((rid[8] & 0x3f) | 0x80);
	hex_encode(rid, sizeof(rid), id, KBS_SESSION_ID_LEN + 1);
	if ((rc = b64_encode(rnonce, sizeof(rnonce), info.nonce, sizeof(info.nonce), B64_STD)))
		return rc;
	memcpy(info.tee, tee, strlen(tee) + 1);
	info.expires = now + lifetime_s;
	buf_init(&v, SESSION_VALUE_MAX);
	if ((rc = encode(&info, &v)) == KBS_OK)
		rc = pgstore_set(pg, PGSTORE_NS_SESSION, id, v.p, v.len, false);
	buf_release(&v);
	if (rc != KBS_OK)
		return rc;
	memcpy(nonce, info.nonce, KBS_NONCE_LEN + 1);
	*expires = info.expires;
	return KBS_OK;
}

/* Reads the raw value and its decoding; deletes and reports expired sessions. */
static int load(struct pgstore *pg, const char *id, time_t now, struct buf *raw,
		struct kbs_session_info *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (!valid_id(id))
		return KBS_ERR_NOTFOUND;
	if ((rc = pgstore_get(pg, PGSTORE_NS_SESSION, id, raw)) != KBS_OK)
		return rc;
	if ((rc = decode(raw, out)) != KBS_OK)
		return KBS_ERR_NOTFOUND; /* a value we do not understand is no session of ours */
	if (out->expires <= now) {
		kbs_session_info_release(out);
		pgstore_delete(pg, PGSTORE_NS_SESSION, id);
		return KBS_ERR_EXPIRED;
	}
	return KBS_OK;
}

int kbs_pgsess_get(struct pgstore *pg, const char *id, time_t now, struct kbs_session_info *out)
{
	struct buf raw;
	int rc;

	buf_init(&raw, SESSION_VALUE_MAX);
	rc = load(pg, id, now, &raw, out);
	buf_release(&raw);
	return rc;
}

int kbs_pgsess_consume_nonce(struct pgstore *pg, const char *id, const char *nonce, time_t now)
{
	struct kbs_session_info info = {0};
	struct buf raw, nv;
	int rc = KBS_ERR_BUSY;

	buf_init(&raw, SESSION_VALUE_MAX);
	buf_init(&nv, SESSION_VALUE_MAX);
	for (int i = 0; i < CAS_ATTEMPTS && rc == KBS_ERR_BUSY; i++) {
		if ((rc = load(pg, id, now, &raw, &info)) != KBS_OK)
			break;
		if (info.nonce_used)
			rc = KBS_ERR_PERM;
		else if (strcmp(info.nonce, nonce) != 0)
			rc = KBS_ERR_VERIFY;
		else {
			info.nonce_used = true;
			if ((rc = encode(&info, &nv)) == KBS_OK)
				rc = pgstore_cas(pg, PGSTORE_NS_SESSION, id, raw.p, raw.len, nv.p,
						 nv.len);
		}
		kbs_session_info_release(&info);
	}
	buf_release(&raw);
	buf_release(&nv);
	return rc;
}

int kbs_pgsess_set_token(struct pgstore *pg, const char *id, const char *token)
{
	struct kbs_session_info info = {0};
	struct buf raw, nv;
	int rc = KBS_ERR_BUSY;

	buf_init(&raw, SESSION_VALUE_MAX);
	buf_init(&nv, SESSION_VALUE_MAX);
	for (int i = 0; i < CAS_ATTEMPTS && rc == KBS_ERR_BUSY; i++) {
		if ((rc = load(pg, id, time(NULL), &raw, &info)) != KBS_OK)
			break;
		free(info.token);
		info.token = (char *)token;
		info.attested = true;
		rc = encode(&info, &nv);
		info.token = NULL;
		if (rc == KBS_OK)
			rc = pgstore_cas(pg, PGSTORE_NS_SESSION, id, raw.p, raw.len, nv.p, nv.len);
		kbs_session_info_release(&info);
	}
	buf_release(&raw);
	buf_release(&nv);
	return rc;
}
