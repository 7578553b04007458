/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_FS_CACHE_H
#define KBS_FS_CACHE_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"
#include "common/secmem.h"

/*
 * The kbsfs resource cache: one entry per "repo/type/tag", holding the current secret value
 * (in secret memory) and the state shown in .kbsfs/status. It knows nothing about FUSE: the
 * fetch function and the change notification are callbacks, so the logic is unit-tested with
 * a fake fetcher.
 *
 * - kbsfs_cache_get() returns the cached value or fetches it; concurrent callers for the same
 *   path share one fetch (single flight). Failures are not cached: the next call fetches again.
 * - Values are immutable and reference counted; a refresh publishes a new value atomically,
 *   so a reader holding a value never sees a mix of two versions.
 * - Refresh: a failure that means "no longer allowed" (denied, not found, attestation refused)
 *   drops the value at once; a transport failure keeps the last good value.
 */
struct kbsfs_value {
	atomic_uint refs;
	uint64_t gen;	    /* version number, starts at 1, +1 on every change */
	int64_t fetched_ns; /* CLOCK_REALTIME when this version was fetched */
	struct secbuf data;
};

void kbsfs_value_ref(struct kbsfs_value *v);
/* Drops a reference; the last one wipes the bytes. NULL is a no-op. */
void kbsfs_value_unref(struct kbsfs_value *v);

/* Same contract as broker_get_resource(); *out must be secret memory (secbuf). */
typedef int (*kbsfs_fetch_fn)(void *ctx, const char *path, struct secbuf *out,
			      struct broker_error *err);

enum kbsfs_change {
	KBSFS_CHANGED, /* a new value replaced the old one */
	KBSFS_DROPPED, /* the value was removed (denied, deleted); err = EACCES or ENOENT */
};
/* Called without any cache lock held, from the thread that noticed the change. */
typedef void (*kbsfs_change_fn)(void *ctx, const char *path, enum kbsfs_change what, int err);

struct kbsfs_cache_ops {
	kbsfs_fetch_fn fetch;
	void *fetch_ctx;
	kbsfs_change_fn changed; /* optional */
	void *changed_ctx;
};

struct kbsfs_cache;

int kbsfs_cache_new(const struct kbsfs_cache_ops *ops, struct kbsfs_cache **out);
/* Stops the refresh thread and wipes every value still owned by the cache. */
void kbsfs_cache_free(struct kbsfs_cache *c);

/* Declares a configured resource: listed in directories and status before first access. */
int kbsfs_cache_declare(struct kbsfs_cache *c, const char *path);

/*
 * Returns a reference to the current value of path, fetching it first if there is none.
 * Returns KBS_OK or the fetch error (not cached: the next call fetches again).
 */
int kbsfs_cache_get(struct kbsfs_cache *c, const char *path, struct kbsfs_value **out);

/* Re-fetches every resource that has a value; returns the number that changed or dropped. */
int kbsfs_cache_refresh(struct kbsfs_cache *c);

/* Starts a background thread calling kbsfs_cache_refresh() every period_s seconds. */
int kbsfs_cache_start_refresh(struct kbsfs_cache *c, unsigned period_s);
void kbsfs_cache_stop_refresh(struct kbsfs_cache *c);

/*
 * Calls fn(name) once for every distinct child of the directory dir ("" = root, "repo",
 * "repo/type") among declared resources and those with a value, in sorted order.
 */
int kbsfs_cache_list(struct kbsfs_cache *c, const char *dir, int (*fn)(void *ctx, const char *name),
		     void *ctx);

/* {"<path>": {"state":..., ...}, ...}: never secret bytes. New reference. */
json_t *kbsfs_cache_status(struct kbsfs_cache *c);

/* Number of fetch calls made so far (for tests and status). */
uint64_t kbsfs_cache_fetches(struct kbsfs_cache *c);

/* The one place where kbs_err codes become errno values (positive). */
int kbsfs_errno(int kbs_err);
/* "EACCES", "ENOENT", ... for status output. */
const char *kbsfs_errno_name(int e);

#endif
