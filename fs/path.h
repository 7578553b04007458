/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_FS_PATH_H
#define KBS_FS_PATH_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Resource paths as kbsfs exposes them: exactly three segments "repo/type/tag", each matching
 * the Trustee resource grammar [A-Za-z0-9_-][A-Za-z0-9_.-]* (so never "." or ".." and never a
 * name starting with a dot, which keeps ".kbsfs" apart from every repository name).
 */
#define KBSFS_SEG_MAX 255
#define KBSFS_PATH_MAX (3 * KBSFS_SEG_MAX + 3)

/* True if s[0..len) is one valid path segment. */
bool kbsfs_seg_valid(const char *s, size_t len);

/* True if path is a valid "repo/type/tag". */
bool kbsfs_path_valid(const char *path);

/*
 * Normalises a resource reference from configuration into "repo/type/tag": accepts the bare
 * path, a leading "/", or a resource URI "kbs:///repo/type/tag" / "kbs+resource:///...".
 * Writes a NUL-terminated path into out. Returns KBS_OK or KBS_ERR_INVAL / KBS_ERR_RANGE.
 */
int kbsfs_path_normalize(const char *in, size_t len, char *out, size_t outlen);

#endif
