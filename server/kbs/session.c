// SPDX-License-Identifier: Apache-2.0
#include "server/kbs/session.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"

#define NBUCKETS 4096

struct sess {
	char id[KBS_SESSION_ID_LEN + 1];
	struct kbs_session_info info;
	struct sess *next;
};

struct kbs_sessions {
	pthread_mutex_t lock;
	struct sess *buckets[NBUCKETS];
	size_t count, max;
	time_t last_sweep;
};

static unsigned bucket_of(const char *id)
{
	uint32_t h = 2166136261u;

	for (; *id; id++)
		h = (h ^ (uint8_t)*id) * 16777619u;
	return h % NBUCKETS;
}

static void sess_free(struct sess *e)
{
	free(e->info.token);
	OPENSSL_cleanse(e, sizeof(*e));
	free(e);
}

int kbs_sessions_new(size_t max_sessions, struct kbs_sessions **out)
{
	struct kbs_sessions *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return KBS_ERR_NOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->max = max_sessions ? max_sessions : 100000;
	*out = s;
	return KBS_OK;
}

void kbs_sessions_free(struct kbs_sessions *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < NBUCKETS; i++) {
		while (s->buckets[i]) {
			struct sess *e = s->buckets[i];
			s->buckets[i] = e->next;
			sess_free(e);
		}
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void sweep_locked(struct kbs_sessions *s, time_t now)
{
	for (size_t i = 0; i < NBUCKETS; i++) {
		struct sess **pp = &s->buckets[i];
		while (*pp) {
			if ((*pp)->info.expires <= now) {
				struct sess *d = *pp;
				*pp = d->next;
				sess_free(d);
				s->count--;
			} else {
				pp = &(*pp)->next;
			}
		}
	}
	s->last_sweep = now;
}

static struct sess **find_locked(struct kbs_sessions *s, const char *id)
{
	struct sess **pp = &s->buckets[bucket_of(id)];

	while (*pp && strcmp((*pp)->id, id) != 0)
		pp = &(*pp)->next;
	return pp;
}

int kbs_session_create(struct kbs_sessions *s, const char *tee, long lifetime_s, time_t now,
		       char *id, char *nonce, time_t *expires)
{
	uint8_t rnd[48], *rid = rnd, *rnonce = rnd + 16; /* one DRBG call for both */
	struct sess *e;
	int rc;

	if (!tee || strlen(tee) >= sizeof(e->info.tee))
		return KBS_ERR_INVAL;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return KBS_ERR_CRYPTO;
	rid[6] = (uint8_t)((rid[6] & 0x0f) | 0x40); /* UUIDv4 */
	rid[8] = (uint8_t)((rid[8] & 0x3f) | 0x80);
	e = calloc(1, sizeof(*e));
	if (!e)
		return KBS_ERR_NOMEM;
	hex_encode(rid, 16, e->id, sizeof(e->id));
	rc = b64_encode(rnonce, 32, e->info.nonce, sizeof(e->info.nonce), B64_STD);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	if (rc != KBS_OK) {
		free(e);
		return rc;
	}
	memcpy(e->info.tee, tee, strlen(tee) + 1);
	e->info.expires = now + lifetime_s;
	pthread_mutex_lock(&s->lock);
	if (now - s->last_sweep >= 60 || s->count >= s->max)
		sweep_locked(s, now);
	if (s->count >= s->max) {
		pthread_mutex_unlock(&s->lock);
		free(e);
		return KBS_ERR_BUSY;
	}
	unsigned b = bucket_of(e->id);
	e->next = s->buckets[b];
	s->buckets[b] = e;
	s->count++;
	pthread_mutex_unlock(&s->lock);
	memcpy(id, e->id, KBS_SESSION_ID_LEN + 1);
	memcpy(nonce, e->info.nonce, KBS_NONCE_LEN + 1);
	*expires = now + lifetime_s;
	return KBS_OK;
}

/* Finds a live session; deletes it if expired. Lock held. */
static int lookup_locked(struct kbs_sessions *s, const char *id, time_t now, struct sess **out)
{
	struct sess **pp;

	if (strlen(id) != KBS_SESSION_ID_LEN)
		return KBS_ERR_NOTFOUND;
	pp = find_locked(s, id);
	if (!*pp)
		return KBS_ERR_NOTFOUND;
	if ((*pp)->info.expires <= now) {
		struct sess *d = *pp;
		*pp = d->next;
		sess_free(d);
		s->count--;
		return KBS_ERR_EXPIRED;
	}
	*out = *pp;
	return KBS_OK;
}

int kbs_session_get(struct kbs_sessions *s, const char *id, time_t now,
		    struct kbs_session_info *out)
{
	struct sess *e;
	int rc;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->lock);
	rc = lookup_locked(s, id, now, &e);
	if (rc == KBS_OK) {
		*out = e->info;
		out->token = NULL;
		if (e->info.token && !(out->token = strdup(e->info.token)))
			rc = KBS_ERR_NOMEM;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void kbs_session_info_release(struct kbs_session_info *info)
{
	if (!info)
		return;
	free(info->token);
	info->token = NULL;
}

int kbs_session_consume_nonce(struct kbs_sessions *s, const char *id, const char *nonce,
			      time_t now)
{
	struct sess *e;
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = lookup_locked(s, id, now, &e);
	if (rc == KBS_OK) {
		if (e->info.nonce_used)
			rc = KBS_ERR_PERM;
		else if (!nonce || strlen(nonce) != KBS_NONCE_LEN ||
			 CRYPTO_memcmp(nonce, e->info.nonce, KBS_NONCE_LEN) != 0)
			rc = KBS_ERR_VERIFY;
		else
			e->info.nonce_used = true;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int kbs_session_set_token(struct kbs_sessions *s, const char *id, const char *token)
{
	struct sess **pp;
	char *t = strdup(token);
	int rc = KBS_ERR_NOTFOUND;

	if (!t)
		return KBS_ERR_NOMEM;
	pthread_mutex_lock(&s->lock);
	pp = find_locked(s, id);
	if (*pp) {
		free((*pp)->info.token);
		(*pp)->info.token = t;
		(*pp)->info.attested = true;
		t = NULL;
		rc = KBS_OK;
	}
	pthread_mutex_unlock(&s->lock);
	free(t);
	return rc;
}

size_t kbs_sessions_count(struct kbs_sessions *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->count;
	pthread_mutex_unlock(&s->lock);
	return n;
}
