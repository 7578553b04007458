/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_SERVER_REPO_H
#define KBS_SERVER_REPO_H

#include <stdbool.h>
#include <stddef.h>

#include "common/secmem.h"

/*
 * Resource repository backends. A resource is addressed by three validated path components
 * (kbs_resource_path_parse); backends never see unvalidated names. Values are read into
 * secret memory. Adding a backend: one file implementing struct repo_ops + a constructor.
 */
#define KBS_SEG_MAX 128           /* bytes per path component */
#define KBS_RESOURCE_MAX (16u << 20) /* largest resource a backend will read */

struct repo;

struct repo_ops {
	const char *name;
	/* KBS_ERR_NOTFOUND if absent, KBS_ERR_PERM if the name escapes the store. */
	int (*read)(struct repo *r, const char *const seg[3], struct secbuf *out);
	/* Creates or replaces atomically and durably. */
	int (*write)(struct repo *r, const char *const seg[3], const void *data, size_t len);
	/* KBS_ERR_NOTFOUND if absent. */
	int (*remove)(struct repo *r, const char *const seg[3]);
	void (*destroy)(struct repo *r);
};

struct repo {
	const struct repo_ops *ops;
};

enum repo_layout {
	REPO_LAYOUT_FLAT = 0, /* Trustee >= v0.19 KV: <dir>/<repo>\x2F<type>\x2F<tag> */
	REPO_LAYOUT_TREE,     /* Trustee <= v0.18 / CSI mounts: <dir>/<repo>/<type>/<tag> */
};

/*
 * LocalFs backend on directory dir (created if missing when create is set). Reads try the
 * flat name first, then the tree path (both layouts are always readable); writes use
 * `layout`. All opens are confined beneath dir (openat2 RESOLVE_BENEATH); symlinks that stay
 * inside (Kubernetes "..data" links) work, symlinks that escape are refused.
 */
int repo_localfs_new(const char *dir, enum repo_layout layout, bool create, struct repo **out);
/* In-memory backend (Trustee's default Memory storage). */
int repo_memory_new(struct repo **out);

void repo_free(struct repo *r);

/*
 * Validates "repo/type/tag" (kbs-protocol §8): exactly three non-empty components, each
 * [A-Za-z0-9_-][A-Za-z0-9_.-]* and at most KBS_SEG_MAX bytes. Copies them into seg.
 * why names the problem (without echoing more than the offending component's position).
 */
int kbs_resource_path_parse(const char *path, char seg[3][KBS_SEG_MAX + 1], char *why,
			    size_t whylen);

#endif
