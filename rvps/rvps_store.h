/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_RVPS_STORE_H
#define KBS_RVPS_STORE_H

#include "common/buf.h"
#include "rvps/rvps.h"

/*
 * Key-value stores of the namespace "reference_value" in Trustee's layouts:
 *  Memory    map in this process;
 *  LocalFs   <dir_path>/reference_value/<key with '/' -> "\x2F">, file = value bytes;
 *  LocalJson <file_dir_path>/reference_value, one JSON object key -> base64url (padded);
 *  KV        caller's rvps_kv_ops (the kbs Postgres table reference_value).
 * Writes to files are atomic and durable (temporary file, fsync, rename, fsync of the
 * directory). Not thread-safe: struct rvps serialises calls.
 */
struct rvps_store;

int rvps_store_open(const struct rvps_config *cfg, struct rvps_store **out, char *why,
		    size_t whylen);
void rvps_store_free(struct rvps_store *s);
/* KBS_ERR_NOTFOUND when absent. */
int rvps_store_get(struct rvps_store *s, const char *key, struct buf *out);
int rvps_store_set(struct rvps_store *s, const char *key, const void *val, size_t len);
int rvps_store_del(struct rvps_store *s, const char *key);
/* Human-readable location for logs ("LocalFs /x/reference_value"). */
const char *rvps_store_desc(const struct rvps_store *s);

#endif
