// SPDX-License-Identifier: Apache-2.0
/*
 * cmocka tests for the kbsfs resource cache with a fake fetch function: single flight,
 * error mapping, rotation, "keep last good on transport failure", "drop on denial", listing
 * and the status document.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "fs/cache.h"

#define MAXRES 8

/* Fake KBS: per path a value or an error; counts calls; optional delay. */
struct fake {
	pthread_mutex_t lock;
	struct {
		char path[64];
		char value[128];
		int rc;
		char detail[64];
	} res[MAXRES];
	int nres;
	int calls;
	int delay_ms;
	int changes[2]; /* CHANGED, DROPPED */
	char last_changed[64];
	int last_err;
};

static struct fake *fake_new(void)
{
	struct fake *f = calloc(1, sizeof(*f));

	pthread_mutex_init(&f->lock, NULL);
	return f;
}

static void fake_set(struct fake *f, const char *path, const char *value, int rc,
		     const char *detail)
{
	int i;

	pthread_mutex_lock(&f->lock);
	for (i = 0; i < f->nres; i++)
		if (!strcmp(f->res[i].path, path))
			break;
	if (i == f->nres)
		f->nres++;
	snprintf(f->res[i].path, sizeof(f->res[i].path), "%s", path);
	snprintf(f->res[i].value, sizeof(f->res[i].value), "%s", value ? value : "");
	snprintf(f->res[i].detail, sizeof(f->res[i].detail), "%s", detail ? detail : "");
	f->res[i].rc = rc;
	pthread_mutex_unlock(&f->lock);
}

static int fake_fetch(void *ctx, const char *path, struct secbuf *out, struct broker_error *err)
{
	struct fake *f = ctx;
	int rc = KBS_ERR_NOTFOUND, i, delay;

	pthread_mutex_lock(&f->lock);
	f->calls++;
	delay = f->delay_ms;
	pthread_mutex_unlock(&f->lock);
	if (delay) {
		struct timespec ts = {0, delay * 1000000L};

		nanosleep(&ts, NULL);
	}
	pthread_mutex_lock(&f->lock);
	for (i = 0; i < f->nres; i++) {
		if (strcmp(f->res[i].path, path))
			continue;
		rc = f->res[i].rc;
		if (rc == KBS_OK)
			rc = secbuf_dup(out, f->res[i].value, strlen(f->res[i].value));
		snprintf(err->detail, sizeof(err->detail), "%s", f->res[i].detail);
		if (rc == KBS_ERR_DENIED) {
			err->http_status = 401;
			snprintf(err->type, sizeof(err->type), "PolicyDeny");
		}
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static void fake_changed(void *ctx, const char *path, enum kbsfs_change what, int err)
{
	struct fake *f = ctx;

	pthread_mutex_lock(&f->lock);
	f->changes[what]++;
	f->last_err = err;
	snprintf(f->last_changed, sizeof(f->last_changed), "%s", path);
	pthread_mutex_unlock(&f->lock);
}

static struct kbsfs_cache *cache_with(struct fake *f)
{
	struct kbsfs_cache_ops ops = {fake_fetch, f, fake_changed, f};
	struct kbsfs_cache *c = NULL;

	assert_int_equal(kbsfs_cache_new(&ops, &c), KBS_OK);
	return c;
}

static void assert_value(struct kbsfs_value *v, const char *s)
{
	assert_non_null(v);
	assert_int_equal(v->data.len, strlen(s));
	assert_memory_equal(v->data.p, s, strlen(s));
}

static void first_get_fetches_then_memory(void **state)
{
	struct fake *f = fake_new();
	struct kbsfs_cache *c = cache_with(f);
	struct kbsfs_value *v = NULL;

	fake_set(f, "default/akv/coco_one", "a secret", KBS_OK, NULL);
	assert_int_equal(kbsfs_cache_get(c, "default/akv/coco_one", &v), KBS_OK);
	assert_value(v, "a secret");
	assert_true(secmem_contains(v->data.p));
	assert_int_equal(v->gen, 1);
	kbsfs_value_unref(v);
	/* the KBS may vanish: later reads come from memory */
	fake_set(f, "default/akv/coco_one", NULL, KBS_ERR_NETWORK, "refused");
	for (int i = 0; i < 5; i++) {
		assert_int_equal(kbsfs_cache_get(c, "default/akv/coco_one", &v), KBS_OK);
		assert_value(v, "a secret");
		kbsfs_value_unref(v);
	}
	assert_int_equal(f->calls, 1);
	assert_int_equal(kbsfs_cache_fetches(c), 1);
	kbsfs_cache_free(c);
	kbsfs_cache_free(NULL);
	free(f);
}

static void errors_map_and_are_retried(void **state)
{
	struct fake *f = fake_new();
	struct kbsfs_cache *c = cache_with(f);
	struct kbsfs_value *v = NULL;

	assert_int_equal(kbsfs_cache_get(c, "a/b/missing", &v), KBS_ERR_NOTFOUND);
	assert_null(v);
	fake_set(f, "a/b/denied", NULL, KBS_ERR_DENIED, "rule allow=false");
	assert_int_equal(kbsfs_cache_get(c, "a/b/denied", &v), KBS_ERR_DENIED);
	fake_set(f, "a/b/down", NULL, KBS_ERR_NETWORK, "connection refused");
	assert_int_equal(kbsfs_cache_get(c, "a/b/down", &v), KBS_ERR_NETWORK);
	assert_int_equal(kbsfs_errno(KBS_ERR_NOTFOUND), ENOENT);
	assert_int_equal(kbsfs_errno(KBS_ERR_DENIED), EACCES);
	assert_int_equal(kbsfs_errno(KBS_ERR_AUTH), EACCES);
	assert_int_equal(kbsfs_errno(KBS_ERR_NETWORK), EIO);
	assert_int_equal(kbsfs_errno(KBS_ERR_TIMEOUT), EIO);
	assert_int_equal(kbsfs_errno(KBS_ERR_UNAVAILABLE), EIO);
	assert_int_equal(kbsfs_errno(KBS_ERR_PROTOCOL), EIO);
	assert_int_equal(kbsfs_errno(KBS_ERR_LOCKMEM), ENOMEM);
	assert_int_equal(kbsfs_errno(KBS_OK), 0);
	assert_string_equal(kbsfs_errno_name(EACCES), "EACCES");
	/* failures are not cached: the KBS comes back, the next access succeeds */
	int before = f->calls;
	fake_set(f, "a/b/down", "back", KBS_OK, NULL);
	assert_int_equal(kbsfs_cache_get(c, "a/b/down", &v), KBS_OK);
	assert_value(v, "back");
	kbsfs_value_unref(v);
	assert_int_equal(f->calls, before + 1);
	assert_int_equal(kbsfs_cache_get(c, "a/b/denied", &v), KBS_ERR_DENIED);
	assert_int_equal(f->calls, before + 2);
	kbsfs_cache_free(c);
	free(f);
}

struct racer {
	struct kbsfs_cache *c;
	int rc;
	char got[32];
};

static void *race_main(void *arg)
{
	struct racer *r = arg;
	struct kbsfs_value *v = NULL;

	r->rc = kbsfs_cache_get(r->c, "default/akv/coco_one", &v);
	if (v) {
		snprintf(r->got, sizeof(r->got), "%.*s", (int)v->data.len, (char *)v->data.p);
		kbsfs_value_unref(v);
	}
	return NULL;
}

static void concurrent_first_access_fetches_once(void **state)
{
	struct fake *f = fake_new();
	struct kbsfs_cache *c = cache_with(f);
	pthread_t t[50];
	struct racer r[50];

	f->delay_ms = 100; /* long enough for every thread to arrive while it runs */
	fake_set(f, "default/akv/coco_one", "a secret", KBS_OK, NULL);
	for (int i = 0; i < 50; i++) {
		r[i].c = c;
		r[i].rc = -99;
		assert_int_equal(pthread_create(&t[i], NULL, race_main, &r[i]), 0);
	}
	for (int i = 0; i < 50; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(r[i].rc, KBS_OK);
		assert_string_equal(r[i].got, "a secret");
	}
	assert_int_equal(f->calls, 1);
	kbsfs_cache_free(c);
	free(f);
}

static void concurrent_waiters_share_a_failure(void **state)
{
	struct fake *f = fake_new();
	struct kbsfs_cache *c = cache_with(f);
	pthread_t t[10];
	struct racer r[10];

	f->delay_ms = 100;
	fake_set(f, "default/akv/coco_one", NULL, KBS_ERR_DENIED, "no");
	for (int i = 0; i < 10; i++) {
		r[i].c = c;
		assert_int_equal(pthread_create(&t[i], NULL, race_main, &r[i]), 0);
	}
	for (int i = 0; i < 10; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(r[i].rc, KBS_ERR_DENIED);
	}
	/* a waiter that arrived during the fetch takes its result instead of fetching again */
	assert_true(f->calls < 10);
	kbsfs_cache_free(c);
	free(f);
}

static void refresh_rotates_atomically(void **state)
{
	struct fake *f = fake_new();
	struct kbsfs_cache *c = cache_with(f);
	struct kbsfs_value *old = NULL, *v = NULL;

	fake_set(f, "r/t/key", "version-one", KBS_OK, NULL);
	assert_int_equal(kbsfs_cache_get(c, "r/t/key", &old), KBS_OK);
	/* unchanged content: no new version, no notification */
	assert_int_equal(kbsfs_cache_refresh(c), 0);
	assert_int_equal(f->changes[KBSFS_CHANGED], 0);
	fake_set(f, "r/t/key", "version-two-longer", KBS_OK, NULL);
	assert_int_equal(kbsfs_cache_refresh(c), 1);
	assert_int_equal(f->changes[KBSFS_CHANGED], 1);
	assert_string_equal(f->last_changed, "r/t/key");
	/* a reader holding the old version still has all of it, unchanged */
	assert_value(old, "version-one");
	assert_int_equal(old->gen, 1);
	assert_int_equal(kbsfs_cache_get(c, "r/t/key", &v), KBS_OK);
	assert_value(v, "version-two-longer");
	assert_int_equal(v->gen, 2);
	assert_ptr_not_equal(v, old);
	kbsfs_value_unref(v);
	kbsfs_value_unref(old);
	kbsfs_cache_free(c);
	free(f);
}

static void refresh_failure_keeps_last_good_and_shows_it(void **state)
{
	struct fake *f = fake_new();
	struct kbsfs_cache *c = cache_with(f);
	struct kbsfs_value *v = NULL;

	fake_set(f, "r/t/key", "good", KBS_OK, NULL);
	assert_int_equal(kbsfs_cache_get(c, "r/t/key", &v), KBS_OK);
	kbsfs_value_unref(v);
	fake_set(f, "r/t/key", NULL, KBS_ERR_NETWORK, "connect: refused");
	assert_int_equal(kbsfs_cache_refresh(c), 0);
	assert_int_equal(kbsfs_cache_refresh(c), 0);
	assert_int_equal(kbsfs_cache_get(c, "r/t/key", &v), KBS_OK);
	assert_value(v, "good");
	kbsfs_value_unref(v);
	json_t *st = kbsfs_cache_status(c), *e = json_object_get(st, "r/t/key");
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "state")), "ok");
	assert_int_equal(json_integer_value(json_object_get(e, "refresh_failures")), 2);
	json_t *le = json_object_get(e, "last_error");
	assert_string_equal(json_string_value(json_object_get(le, "code")), "KBS_ERR_NETWORK");
	assert_string_equal(json_string_value(json_object_get(le, "errno")), "EIO");
	assert_string_equal(json_string_value(json_object_get(le, "detail")), "connect: refused");
	json_decref(st);
	kbsfs_cache_free(c);
	free(f);
}

static void refresh_denial_drops_the_value(void **state)
{
	struct fake *f = fake_new();
	struct kbsfs_cache *c = cache_with(f);
	struct kbsfs_value *v = NULL;

	fake_set(f, "r/t/key", "secret", KBS_OK, NULL);
	assert_int_equal(kbsfs_cache_get(c, "r/t/key", &v), KBS_OK);
	kbsfs_value_unref(v);
	fake_set(f, "r/t/key", NULL, KBS_ERR_DENIED, "tcb too old");
	assert_int_equal(kbsfs_cache_refresh(c), 1);
	assert_int_equal(f->changes[KBSFS_DROPPED], 1);
	assert_int_equal(f->last_err, EACCES);
	/* never stale data for a denied resource */
	v = NULL;
	assert_int_equal(kbsfs_cache_get(c, "r/t/key", &v), KBS_ERR_DENIED);
	assert_null(v);
	json_t *st = kbsfs_cache_status(c), *e = json_object_get(st, "r/t/key");
	assert_string_equal(json_string_value(json_object_get(e, "state")), "denied");
	assert_true(json_is_null(json_object_get(e, "size")));
	json_t *le = json_object_get(e, "last_error");
	assert_string_equal(json_string_value(json_object_get(le, "type")), "PolicyDeny");
	assert_string_equal(json_string_value(json_object_get(le, "detail")), "tcb too old");
	assert_int_equal(json_integer_value(json_object_get(le, "http_status")), 401);
	json_decref(st);
	/* deletion on the server behaves the same */
	fake_set(f, "r/t/gone", "x", KBS_OK, NULL);
	assert_int_equal(kbsfs_cache_get(c, "r/t/gone", &v), KBS_OK);
	kbsfs_value_unref(v);
	fake_set(f, "r/t/gone", NULL, KBS_ERR_NOTFOUND, "deleted");
	assert_int_equal(kbsfs_cache_refresh(c), 1);
	assert_int_equal(f->last_err, ENOENT);
	assert_int_equal(kbsfs_cache_get(c, "r/t/gone", &v), KBS_ERR_NOTFOUND);
	kbsfs_cache_free(c);
	free(f);
}

static int collect(void *ctx, const char *name)
{
	char *buf = ctx;
	size_t used = strlen(buf);

	snprintf(buf + used, 512 - used, "%s,", name);
	return KBS_OK;
}

static void listing_shows_declared_and_fetched(void **state)
{
	struct fake *f = fake_new();
	struct kbsfs_cache *c = cache_with(f);
	struct kbsfs_value *v = NULL;
	char buf[512];

	assert_int_equal(kbsfs_cache_declare(c, "default/akv/coco_one"), KBS_OK);
	assert_int_equal(kbsfs_cache_declare(c, "default/akv/b"), KBS_OK);
	assert_int_equal(kbsfs_cache_declare(c, "other/x/y"), KBS_OK);
	fake_set(f, "default/k8s/tok", "t", KBS_OK, NULL);
	assert_int_equal(kbsfs_cache_get(c, "default/k8s/tok", &v), KBS_OK);
	kbsfs_value_unref(v);
	/* a failed lookup of a typo does not appear */
	assert_int_equal(kbsfs_cache_get(c, "default/akv/typo", &v), KBS_ERR_NOTFOUND);
	buf[0] = 0;
	assert_int_equal(kbsfs_cache_list(c, "", collect, buf), KBS_OK);
	assert_string_equal(buf, "default,other,");
	buf[0] = 0;
	assert_int_equal(kbsfs_cache_list(c, "default", collect, buf), KBS_OK);
	assert_string_equal(buf, "akv,k8s,");
	buf[0] = 0;
	assert_int_equal(kbsfs_cache_list(c, "default/akv", collect, buf), KBS_OK);
	assert_string_equal(buf, "b,coco_one,");
	buf[0] = 0;
	assert_int_equal(kbsfs_cache_list(c, "defaul", collect, buf), KBS_OK);
	assert_string_equal(buf, "");
	/* declaring does not fetch: the mount never attests by itself */
	assert_int_equal(f->calls, 2);
	json_t *st = kbsfs_cache_status(c);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(st, "other/x/y"), "state")),
	    "unfetched");
	json_decref(st);
	kbsfs_cache_free(c);
	free(f);
}

static void status_never_contains_secret_bytes(void **state)
{
	struct fake *f = fake_new();
	struct kbsfs_cache *c = cache_with(f);
	struct kbsfs_value *v = NULL;

	fake_set(f, "a/b/c", "TOPSECRET-4711", KBS_OK, NULL);
	assert_int_equal(kbsfs_cache_get(c, "a/b/c", &v), KBS_OK);
	kbsfs_value_unref(v);
	json_t *st = kbsfs_cache_status(c);
	char *txt = json_dumps(st, 0);
	assert_non_null(txt);
	assert_null(strstr(txt, "TOPSECRET"));
	assert_non_null(strstr(txt, "\"size\": 14"));
	free(txt);
	json_decref(st);
	kbsfs_cache_free(c);
	free(f);
}

static void free_wipes_values(void **state)
{
	struct fake *f = fake_new();
	struct kbsfs_cache *c = cache_with(f);
	struct kbsfs_value *v = NULL;
	size_t before = secmem_used();

	fake_set(f, "a/b/c", "wipe-me-please", KBS_OK, NULL);
	assert_int_equal(kbsfs_cache_get(c, "a/b/c", &v), KBS_OK);
	uint8_t *raw = v->data.p;
	kbsfs_value_unref(v);
	assert_true(secmem_used() > before);
	kbsfs_cache_free(c);
	assert_int_equal(secmem_used(), before);
	/* the arena stays mapped: the bytes must be gone */
	assert_int_not_equal(memcmp(raw, "wipe-me-please", 14), 0);
	free(f);
}

static void refresh_thread_starts_and_stops(void **state)
{
	struct fake *f = fake_new();
	struct kbsfs_cache *c = cache_with(f);
	struct kbsfs_value *v = NULL;

	fake_set(f, "a/b/c", "one", KBS_OK, NULL);
	assert_int_equal(kbsfs_cache_get(c, "a/b/c", &v), KBS_OK);
	kbsfs_value_unref(v);
	assert_int_equal(kbsfs_cache_start_refresh(c, 0), KBS_ERR_INVAL);
	assert_int_equal(kbsfs_cache_start_refresh(c, 1), KBS_OK);
	assert_int_equal(kbsfs_cache_start_refresh(c, 1), KBS_ERR_INVAL);
	fake_set(f, "a/b/c", "two", KBS_OK, NULL);
	for (int i = 0; i < 40; i++) {
		struct timespec ts = {0, 100000000};

		pthread_mutex_lock(&f->lock);
		int n = f->changes[KBSFS_CHANGED];
		pthread_mutex_unlock(&f->lock);
		if (n)
			break;
		nanosleep(&ts, NULL);
	}
	assert_int_equal(f->changes[KBSFS_CHANGED], 1);
	kbsfs_cache_stop_refresh(c);
	kbsfs_cache_stop_refresh(c);
	kbsfs_cache_free(c);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(first_get_fetches_then_memory),
	    cmocka_unit_test(errors_map_and_are_retried),
	    cmocka_unit_test(concurrent_first_access_fetches_once),
	    cmocka_unit_test(concurrent_waiters_share_a_failure),
	    cmocka_unit_test(refresh_rotates_atomically),
	    cmocka_unit_test(refresh_failure_keeps_last_good_and_shows_it),
	    cmocka_unit_test(refresh_denial_drops_the_value),
	    cmocka_unit_test(listing_shows_declared_and_fetched),
	    cmocka_unit_test(status_never_contains_secret_bytes),
	    cmocka_unit_test(free_wipes_values),
	    cmocka_unit_test(refresh_thread_starts_and_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
