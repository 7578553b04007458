// SPDX-License-Identifier: Apache-2.0
#include "fs/cache.h"
#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CACHE_BUCKETS 1024u
#define CACHE_MAX_ENTRIES 8192u

enum res_state { RES_UNFETCHED = 0, RES_OK, RES_DENIED, RES_NOTFOUND, RES_ERROR };

static const char *const state_names[] = {"unfetched", "ok", "denied", "not_found", "error"};

struct res_error {
	bool set;
	int rc;
	long http_status;
	char type[64];
	char detail[256];
	int64_t at_ns;
};

struct entry {
	struct entry *next;
	char *path;
	bool declared;
	bool fetching;
	enum res_state state;
	struct kbsfs_value *cur; /* newest good value */
	uint64_t gen;
	uint64_t fetch_seq;
	int last_rc;
	int64_t last_ok_ns;	   /* last successful fetch or refresh */
	unsigned refresh_failures; /* consecutive */
	struct res_error err;
};

struct kbsfs_cache {
	struct kbsfs_cache_ops ops;
	pthread_mutex_t lock;
	pthread_cond_t done; /* a fetch finished */
	struct entry *buckets[CACHE_BUCKETS];
	size_t nentries;
	uint64_t nfetches;
	/* refresh thread */
	pthread_t thread;
	bool thread_running;
	bool stop;
	unsigned period_s;
	pthread_cond_t wake;
};

static int64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int kbsfs_errno(int kbs_err)
{
	switch (kbs_err) {
	case KBS_OK:
		return 0;
	case KBS_ERR_NOTFOUND:
		return ENOENT;
	case KBS_ERR_DENIED:
	case KBS_ERR_PERM:
	case KBS_ERR_AUTH:
	case KBS_ERR_VERIFY:
		return EACCES;
	case KBS_ERR_NOMEM:
	case KBS_ERR_LOCKMEM:
		return ENOMEM;
	default:
		/* network, timeout, 5xx, protocol errors: transient, retried on next access */
		return EIO;
	}
}

const char *kbsfs_errno_name(int e)
{
	switch (e) {
	case 0:
		return "OK";
	case ENOENT:
		return "ENOENT";
	case EACCES:
		return "EACCES";
	case ENOMEM:
		return "ENOMEM";
	case EROFS:
		return "EROFS";
	default:
		return "EIO";
	}
}

void kbsfs_value_ref(struct kbsfs_value *v)
{
	atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
}

void kbsfs_value_unref(struct kbsfs_value *v)
{
	if (!v)
		return;
	if (atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) == 1) {
		secbuf_free(&v->data);
		free(v);
	}
}

static uint32_t hash_path(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s) {
		h ^= (uint8_t)*s++;
		h *= 16777619u;
	}
	return h % CACHE_BUCKETS;
}

int kbsfs_cache_new(const struct kbsfs_cache_ops *ops, struct kbsfs_cache **out)
{
	struct kbsfs_cache *c;
	pthread_condattr_t ca;

	if (!ops || !ops->fetch || !out)
		return KBS_ERR_INVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return KBS_ERR_NOMEM;
	c->ops = *ops;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->done, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->wake, &ca);
	pthread_condattr_destroy(&ca);
	*out = c;
	return KBS_OK;
}

static void entry_free(struct entry *e)
{
	kbsfs_value_unref(e->cur);
	free(e->path);
	free(e);
}

void kbsfs_cache_free(struct kbsfs_cache *c)
{
	size_t i;

	if (!c)
		return;
	kbsfs_cache_stop_refresh(c);
	for (i = 0; i < CACHE_BUCKETS; i++) {
		struct entry *e = c->buckets[i], *n;

		for (; e; e = n) {
			n = e->next;
			entry_free(e);
		}
	}
	pthread_cond_destroy(&c->wake);
	pthread_cond_destroy(&c->done);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static struct entry *find_locked(struct kbsfs_cache *c, const char *path)
{
	struct entry *e;

	for (e = c->buckets[hash_path(path)]; e; e = e->next)
		if (!strcmp(e->path, path))
			return e;
	return NULL;
}

/* An entry nobody needs: a failed lookup of an undeclared name. */
static bool evictable(const struct entry *e)
{
	return !e->declared && !e->fetching && !e->cur;
}

static bool evict_one_locked(struct kbsfs_cache *c)
{
	size_t i;

	for (i = 0; i < CACHE_BUCKETS; i++) {
		struct entry **pp;

		for (pp = &c->buckets[i]; *pp; pp = &(*pp)->next) {
			if (evictable(*pp)) {
				struct entry *e = *pp;

				*pp = e->next;
				entry_free(e);
				c->nentries--;
				return true;
			}
		}
	}
	return false;
}

static int get_entry_locked(struct kbsfs_cache *c, const char *path, struct entry **out)
{
	struct entry *e = find_locked(c, path);
	uint32_t h;

	if (e) {
		*out = e;
		return KBS_OK;
	}
	if (c->nentries >= CACHE_MAX_ENTRIES && !evict_one_locked(c))
		return KBS_ERR_NOMEM;
	e = calloc(1, sizeof(*e));
	if (!e)
		return KBS_ERR_NOMEM;
	e->path = strdup(path);
	if (!e->path) {
		free(e);
		return KBS_ERR_NOMEM;
	}
	h = hash_path(path);
	e->next = c->buckets[h];
	c->buckets[h] = e;
	c->nentries++;
	*out = e;
	return KBS_OK;
}

int kbsfs_cache_declare(struct kbsfs_cache *c, const char *path)
{
	struct entry *e;
	int rc;

	pthread_mutex_lock(&c->lock);
	rc = get_entry_locked(c, path, &e);
	if (rc == KBS_OK)
		e->declared = true;
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* Printable ASCII only: the text ends up in JSON and logs. */
static void copy_text(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t i;

	for (i = 0; i + 1 < dstlen && i < srclen && src[i]; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : ' ';
	while (i > 0 && dst[i - 1] == ' ')
		i--;
	dst[i] = 0;
}

static void record_error_locked(struct entry *e, int rc, const struct broker_error *berr)
{
	e->err.set = true;
	e->err.rc = rc;
	e->err.http_status = berr->http_status;
	copy_text(e->err.type, sizeof(e->err.type), berr->type, sizeof(berr->type));
	copy_text(e->err.detail, sizeof(e->err.detail), berr->detail, sizeof(berr->detail));
	e->err.at_ns = now_ns(CLOCK_REALTIME);
}

static bool same_bytes(const struct kbsfs_value *v, const struct secbuf *b)
{
	return v->data.len == b->len && secmem_cmp(v->data.p, b->p, b->len) == 0;
}

static void drop_value_locked(struct entry *e)
{
	kbsfs_value_unref(e->cur);
	e->cur = NULL;
}

/*
 * Runs one fetch for e. Called with the lock held and e->fetching already set; the lock is
 * released during the fetch. Sets *change when an existing value was replaced or dropped.
 */
static int fetch_locked(struct kbsfs_cache *c, struct entry *e, int *change, int *change_err)
{
	struct secbuf sb = {NULL, 0};
	struct broker_error berr;
	struct kbsfs_value *v = NULL;
	int rc, en;

	*change = -1;
	*change_err = 0;
	memset(&berr, 0, sizeof(berr));
	pthread_mutex_unlock(&c->lock);
	/* the path string lives as long as the entry, and fetching entries are never freed */
	rc = c->ops.fetch(c->ops.fetch_ctx, e->path, &sb, &berr);
	if (rc == KBS_OK) {
		v = calloc(1, sizeof(*v));
		if (!v) {
			secbuf_free(&sb);
			rc = KBS_ERR_NOMEM;
			snprintf(berr.detail, sizeof(berr.detail), "out of memory");
		} else {
			atomic_init(&v->refs, 1);
			v->data = sb;
			v->fetched_ns = now_ns(CLOCK_REALTIME);
		}
	}
	pthread_mutex_lock(&c->lock);
	c->nfetches++;
	e->fetching = false;
	e->fetch_seq++;
	e->last_rc = rc;
	if (rc == KBS_OK) {
		e->state = RES_OK;
		e->last_ok_ns = v->fetched_ns;
		e->refresh_failures = 0;
		if (e->cur && same_bytes(e->cur, &v->data)) {
			kbsfs_value_unref(v);
		} else {
			v->gen = ++e->gen;
			if (e->cur)
				*change = KBSFS_CHANGED;
			kbsfs_value_unref(e->cur);
			e->cur = v;
		}
	} else {
		en = kbsfs_errno(rc);
		record_error_locked(e, rc, &berr);
		if (en == EACCES || en == ENOENT) {
			/* never keep serving a secret the server no longer releases */
			e->state = en == EACCES ? RES_DENIED : RES_NOTFOUND;
			if (e->cur) {
				*change = KBSFS_DROPPED;
				*change_err = en;
			}
			drop_value_locked(e);
		} else if (e->cur) {
			e->refresh_failures++; /* keep the last good value */
		} else {
			e->state = RES_ERROR;
		}
	}
	pthread_cond_broadcast(&c->done);
	return rc;
}

static void notify(struct kbsfs_cache *c, const char *path, int change, int err)
{
	if (change >= 0 && c->ops.changed)
		c->ops.changed(c->ops.changed_ctx, path, (enum kbsfs_change)change, err);
}

int kbsfs_cache_get(struct kbsfs_cache *c, const char *path, struct kbsfs_value **out)
{
	struct entry *e;
	char *path_copy = NULL;
	int rc, change = -1, change_err = 0;

	if (!c || !path || !out)
		return KBS_ERR_INVAL;
	*out = NULL;
	pthread_mutex_lock(&c->lock);
	rc = get_entry_locked(c, path, &e);
	while (rc == KBS_OK) {
		if (e->cur) {
			*out = e->cur;
			kbsfs_value_ref(*out);
			break;
		}
		if (e->fetching) {
			uint64_t seq = e->fetch_seq;

			while (e->fetching && e->fetch_seq == seq)
				pthread_cond_wait(&c->done, &c->lock);
			if (!e->cur) {
				rc = e->last_rc ? e->last_rc : KBS_ERR_IO;
				break;
			}
			continue;
		}
		e->fetching = true;
		rc = fetch_locked(c, e, &change, &change_err);
		if (change >= 0)
			path_copy = strdup(e->path);
	}
	pthread_mutex_unlock(&c->lock);
	/* (a fetch started here only ever adds a value; kept general) */
	if (path_copy)
		notify(c, path_copy, change, change_err);
	free(path_copy);
	return rc;
}

int kbsfs_cache_refresh(struct kbsfs_cache *c)
{
	struct entry **todo = NULL;
	size_t n = 0, i, k;
	int changed = 0;

	pthread_mutex_lock(&c->lock);
	todo = calloc(c->nentries ? c->nentries : 1, sizeof(*todo));
	if (!todo) {
		pthread_mutex_unlock(&c->lock);
		return KBS_ERR_NOMEM;
	}
	for (i = 0; i < CACHE_BUCKETS; i++)
		for (struct entry *e = c->buckets[i]; e; e = e->next)
			if (e->cur && !e->fetching) {
				/* marked now so that no eviction or second fetch touches it */
				e->fetching = true;
				todo[n++] = e;
			}
	for (k = 0; k < n; k++) {
		struct entry *e = todo[k];
		int change = -1, change_err = 0;
		char *path_copy;

		if (c->stop) {
			e->fetching = false;
			continue;
		}
		(void)fetch_locked(c, e, &change, &change_err);
		if (change < 0)
			continue;
		changed++;
		path_copy = strdup(e->path);
		pthread_mutex_unlock(&c->lock);
		if (path_copy)
			notify(c, path_copy, change, change_err);
		free(path_copy);
		pthread_mutex_lock(&c->lock);
	}
	pthread_cond_broadcast(&c->done);
	pthread_mutex_unlock(&c->lock);
	free(todo);
	return changed;
}

static void *refresh_main(void *arg)
{
	struct kbsfs_cache *c = arg;
	struct timespec until;

	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += c->period_s;
		while (!c->stop && pthread_cond_timedwait(&c->wake, &c->lock, &until) != ETIMEDOUT)
			;
		if (c->stop)
			break;
		pthread_mutex_unlock(&c->lock);
		int n = kbsfs_cache_refresh(c);
		if (n > 0)
			log_info("kbsfs: refresh changed %d resource(s)", n);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int kbsfs_cache_start_refresh(struct kbsfs_cache *c, unsigned period_s)
{
	if (!c || period_s == 0 || c->thread_running)
		return KBS_ERR_INVAL;
	c->period_s = period_s;
	c->stop = false;
	if (pthread_create(&c->thread, NULL, refresh_main, c) != 0)
		return KBS_ERR_IO;
	c->thread_running = true;
	return KBS_OK;
}

void kbsfs_cache_stop_refresh(struct kbsfs_cache *c)
{
	if (!c || !c->thread_running)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_broadcast(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	c->thread_running = false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int kbsfs_cache_list(struct kbsfs_cache *c, const char *dir, int (*fn)(void *ctx, const char *name),
		     void *ctx)
{
	size_t dlen = strlen(dir), n = 0, i, k;
	char **names;
	int rc = KBS_OK;

	pthread_mutex_lock(&c->lock);
	names = calloc(c->nentries ? c->nentries : 1, sizeof(*names));
	if (!names) {
		pthread_mutex_unlock(&c->lock);
		return KBS_ERR_NOMEM;
	}
	for (i = 0; i < CACHE_BUCKETS; i++) {
		for (struct entry *e = c->buckets[i]; e; e = e->next) {
			const char *rest, *slash;

			if (!e->declared && !e->cur)
				continue;
			if (dlen) {
				if (strncmp(e->path, dir, dlen) || e->path[dlen] != '/')
					continue;
				rest = e->path + dlen + 1;
			} else {
				rest = e->path;
			}
			slash = strchr(rest, '/');
			names[n] = slash ? strndup(rest, (size_t)(slash - rest)) : strdup(rest);
			if (!names[n]) {
				rc = KBS_ERR_NOMEM;
				break;
			}
			n++;
		}
	}
	pthread_mutex_unlock(&c->lock);
	qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n && rc == KBS_OK; i++) {
		if (i > 0 && !strcmp(names[i], names[i - 1]))
			continue;
		rc = fn(ctx, names[i]);
	}
	for (k = 0; k < n; k++)
		free(names[k]);
	free(names);
	return rc;
}

static json_t *time_json(int64_t ns)
{
	return ns ? json_integer(ns / 1000000000) : json_null();
}

static json_t *entry_status_locked(const struct entry *e)
{
	json_t *o = json_object(), *err;

	if (!o)
		return NULL;
	json_object_set_new(o, "state", json_string(state_names[e->state]));
	json_object_set_new(o, "declared", json_boolean(e->declared));
	json_object_set_new(o, "size",
			    e->cur ? json_integer((json_int_t)e->cur->data.len) : json_null());
	json_object_set_new(o, "version", json_integer((json_int_t)(e->cur ? e->cur->gen : 0)));
	json_object_set_new(o, "fetched_at", time_json(e->cur ? e->cur->fetched_ns : 0));
	json_object_set_new(o, "last_success", time_json(e->last_ok_ns));
	json_object_set_new(o, "refresh_failures", json_integer(e->refresh_failures));
	if (!e->err.set) {
		json_object_set_new(o, "last_error", json_null());
		return o;
	}
	err = json_object();
	if (err) {
		json_object_set_new(err, "code", json_string(kbs_errname(e->err.rc)));
		json_object_set_new(err, "errno",
				    json_string(kbsfs_errno_name(kbsfs_errno(e->err.rc))));
		json_object_set_new(err, "message", json_string(kbs_strerror(e->err.rc)));
		json_object_set_new(err, "http_status",
				    e->err.http_status ? json_integer(e->err.http_status)
						       : json_null());
		json_object_set_new(err, "type", json_string(e->err.type));
		/* detail comes from the KBS error body or the transport: never secret bytes */
		json_object_set_new(err, "detail", json_string(e->err.detail));
		json_object_set_new(err, "time", time_json(e->err.at_ns));
	}
	json_object_set_new(o, "last_error", err ? err : json_null());
	return o;
}

json_t *kbsfs_cache_status(struct kbsfs_cache *c)
{
	json_t *all = json_object();
	size_t i;

	if (!all)
		return NULL;
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < CACHE_BUCKETS; i++)
		for (struct entry *e = c->buckets[i]; e; e = e->next) {
			json_t *o = entry_status_locked(e);

			if (o)
				json_object_set_new(all, e->path, o);
		}
	pthread_mutex_unlock(&c->lock);
	return all;
}

uint64_t kbsfs_cache_fetches(struct kbsfs_cache *c)
{
	uint64_t n;

	pthread_mutex_lock(&c->lock);
	n = c->nfetches;
	pthread_mutex_unlock(&c->lock);
	return n;
}
