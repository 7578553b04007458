/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_RVPS_RVPS_H
#define KBS_RVPS_RVPS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/*
 * Reference Value Provider Service (kbs-protocol §14). Registration messages
 * {"version":"0.1.0","type":"sample|swid|corim","payload":"<base64 std>"} are run through the
 * extractor named by `type`; every reference value produced is stored as Trustee's record
 * {"version","name","expiration","value"} under its name in the namespace "reference_value"
 * of the configured store (Memory, LocalFs, LocalJson, or a key-value backend supplied by the
 * caller such as the kbs Postgres store). Unlike Trustee, a query never returns a record
 * whose expiration has passed. With type GrpcRemote every call goes to a remote `rvps`
 * daemon (reference.ReferenceValueProviderService) instead. Thread-safe.
 */

#define RVPS_MESSAGE_VERSION "0.1.0"
#define RVPS_NAMESPACE "reference_value"
#define RVPS_DEFAULT_ADDRESS "127.0.0.1:50003"
#define RVPS_MAX_MESSAGE (8u << 20)
#define RVPS_MAX_NAME 512

enum rvps_mode { RVPS_BUILTIN = 0, RVPS_GRPC_REMOTE };

enum rvps_storage {
	RVPS_STORE_DEFAULT = 0, /* not configured: the embedding component decides */
	RVPS_STORE_MEMORY,
	RVPS_STORE_LOCALFS,
	RVPS_STORE_LOCALJSON,
	RVPS_STORE_KV, /* caller-supplied backend (rvps_config.kv) */
};

/* A key-value backend (e.g. the kbs PostgreSQL store); keys are reference value names. */
struct rvps_kv_ops {
	/* Reads key into out; KBS_ERR_NOTFOUND when absent. */
	int (*get)(void *ctx, const char *key, struct buf *out);
	/* Inserts or overwrites key. */
	int (*set)(void *ctx, const char *key, const void *val, size_t len);
	/* Removes key; KBS_ERR_NOTFOUND when absent. */
	int (*del)(void *ctx, const char *key);
};

struct rvps_config {
	enum rvps_mode mode;
	char *address;         /* GrpcRemote; NULL = RVPS_DEFAULT_ADDRESS */
	enum rvps_storage storage;
	char *dir_path;        /* LocalFs: records in <dir_path>/reference_value/ */
	char *file_dir_path;   /* LocalJson: object file <file_dir_path>/reference_value */
	const struct rvps_kv_ops *kv; /* RVPS_STORE_KV, borrowed */
	void *kv_ctx;
	int validity_months;   /* lifetime of new records; 0 = 12 like Trustee */
	bool check_only;       /* validation run: create nothing; a missing LocalFs/LocalJson
				* directory or file is logged as "would create" and the store
				* is kept in memory */
};

void rvps_config_init(struct rvps_config *cfg);
void rvps_config_release(struct rvps_config *cfg);
/* Deep copy (kv pointers are borrowed by both). */
int rvps_config_copy(struct rvps_config *dst, const struct rvps_config *src);

/*
 * Parses a Trustee StorageBackendConfig object {"storage_type", "backends":{"local_fs":
 * {"dir_path"}, "local_json":{"file_dir_path"}}} into cfg->storage and its paths (Trustee's
 * defaults for absent paths). Postgres/Redis are UNSUPPORTED here (the kbs supplies its own
 * store). Wrong types are errors naming the key.
 */
int rvps_storage_from_json(const json_t *obj, struct rvps_config *cfg, char *why,
			   size_t whylen);

/*
 * Parses the `rvps` daemon configuration {"storage": StorageBackendConfig, "extractors":
 * {"swid_extractor": {}}} (§14.5).
 */
int rvps_config_from_json(const json_t *obj, struct rvps_config *cfg, char *why, size_t whylen);

/*
 * Parses the AS/KBS `rvps_config` table: {type = "BuiltIn", storage_type?, extractors?} or
 * {type = "GrpcRemote", address}. An absent type means BuiltIn.
 */
int rvps_config_from_as_json(const json_t *obj, struct rvps_config *cfg, char *why,
			     size_t whylen);

struct rvps;

/* Opens the store (creating its directory/file) or prepares the remote client. */
int rvps_new(const struct rvps_config *cfg, struct rvps **out, char *why, size_t whylen);
void rvps_free(struct rvps *r);

/* Registers every reference value of a message (§14.1). why names what failed. */
int rvps_register(struct rvps *r, const char *msg, size_t len, char *why, size_t whylen);

/*
 * Looks name up; *out is a new reference to the stored value. KBS_ERR_NOTFOUND when absent
 * or expired; other errors (store unreadable, remote down) are reported as such.
 */
int rvps_query(struct rvps *r, const char *name, json_t **out, char *why, size_t whylen);

/* Removes name; KBS_ERR_NOTFOUND when absent. Built-in stores only. */
int rvps_delete(struct rvps *r, const char *name, char *why, size_t whylen);

/* Tests: the clock used for expiration (NULL = time()). */
void rvps_set_clock(struct rvps *r, int64_t (*now)(void));

/* True if name uses only A-Z a-z 0-9 - _ . / and is not "." or ".." (Trustee's key set). */
bool rvps_name_valid(const char *name);

/* ------------------------------------------------------------ messages and records */

struct rvps_rv {
	char *name;
	json_t *value;
	int64_t expiration; /* Unix seconds */
};

struct rvps_rv_list {
	struct rvps_rv *v;
	size_t n, cap;
};

void rvps_rv_list_release(struct rvps_rv_list *l);

/*
 * Parses a registration message and runs its extractor; appends the reference values to out
 * with expiration = now + months (calendar months, seconds precision, clamped to the end of
 * the month like Trustee). KBS_ERR_UNSUPPORTED for an unknown type.
 */
int rvps_message_extract(const char *msg, size_t len, int64_t now, int months,
			 struct rvps_rv_list *out, char *why, size_t whylen);

/* Extractors on the decoded payload bytes. */
int rvps_extract_sample(const uint8_t *p, size_t n, int64_t exp, struct rvps_rv_list *out,
			char *why, size_t whylen);
int rvps_extract_swid(const uint8_t *p, size_t n, int64_t exp, struct rvps_rv_list *out,
		      char *why, size_t whylen);
int rvps_extract_corim(const uint8_t *p, size_t n, int64_t exp, struct rvps_rv_list *out,
		       char *why, size_t whylen);

/* Appends one value (takes the reference to value, also on failure). */
int rvps_rv_list_add(struct rvps_rv_list *l, const char *name, json_t *value, int64_t exp);

/* Serialises a record as Trustee stores it (malloc'ed compact JSON text). */
char *rvps_record_dump(const struct rvps_rv *rv, size_t *len);
/* Parses a stored record; expiration must be "YYYY-MM-DDTHH:MM:SSZ". */
int rvps_record_parse(const uint8_t *p, size_t n, struct rvps_rv *out);
void rvps_rv_release(struct rvps_rv *rv);

/* now + months as Trustee computes it (chrono checked_add_months). */
int64_t rvps_add_months(int64_t now, int months);
/* "YYYY-MM-DDTHH:MM:SSZ" <-> Unix seconds. */
int rvps_time_format(int64_t t, char *out, size_t outlen);
int rvps_time_parse(const char *s, int64_t *out);

#endif
