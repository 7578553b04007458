/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_FS_OPS_H
#define KBS_FS_OPS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "fs/cache.h"

/*
 * The kbsfs FUSE file system (low-level API): inode table, lookup/getattr/read/readdir,
 * the .kbsfs/status file, and kernel cache invalidation when the cache reports a change.
 *
 * Tree: /<repo>/<type>/<tag> are the resources; any valid repo or type name is a directory
 * (its content is only known once a resource below it is fetched); /.kbsfs/status is JSON.
 */
struct kbsfs_fs_params {
	uid_t uid;
	gid_t gid;
	mode_t mode;		  /* secret files; directories get x where r is set */
	unsigned cache_timeout_s; /* kernel entry/attr timeout for resources and directories */
	bool no_open;		  /* use the kernel's no-open mode when it offers it */
	kbsfs_fetch_fn fetch;
	void *fetch_ctx;
	json_t *(*attestation_status)(void *ctx); /* optional, new reference */
	void *status_ctx;
	json_t *info;		      /* static members for the status file (borrowed, copied) */
	const char *const *resources; /* declared resources ("repo/type/tag") */
	size_t nresources;
};

struct kbsfs_fs;

int kbsfs_fs_new(const struct kbsfs_fs_params *p, struct kbsfs_fs **out);
/* Wipes every secret the file system holds. Call after the session ended. */
void kbsfs_fs_free(struct kbsfs_fs *fs);

/* Operation table for fuse_session_new(); userdata must be the kbsfs_fs. */
const struct fuse_lowlevel_ops *kbsfs_fs_lowlevel_ops(void);

/*
 * Starts the kernel notification thread (needs the session, for invalidations) and the
 * background refresh (refresh_s > 0). Call after fuse_session_mount().
 */
int kbsfs_fs_start(struct kbsfs_fs *fs, struct fuse_session *se, unsigned refresh_s);
/* Stops the background threads; safe to call twice. */
void kbsfs_fs_stop(struct kbsfs_fs *fs);

/* The status document (what .kbsfs/status shows). New reference. */
json_t *kbsfs_fs_status(struct kbsfs_fs *fs);

struct kbsfs_cache *kbsfs_fs_cache(struct kbsfs_fs *fs);

#endif
