/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_SERVER_KBS_CONFIG_H
#define KBS_SERVER_KBS_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "server/as/as.h"

/*
 * KBS configuration: Trustee's kbs-config.toml (kbs-protocol §10) including the legacy
 * layouts of v0.10 .. v0.20. Unknown keys are warned about; a wrong type is an error naming
 * the key and its line. Everything has a default, so "[http_server]\ninsecure_http = true"
 * is a complete config (admin API then DenyAll, storage in memory).
 */
enum kbs_admin_mode {
	KBS_ADMIN_DENY_ALL = 0,
	KBS_ADMIN_INSECURE_ALLOW_ALL,
	KBS_ADMIN_AUTHENTICATED, /* bearer JWT + role ACL (Trustee >= v0.21) */
	KBS_ADMIN_LEGACY_KEYS,   /* v0.10..v0.20: any token signed by a listed key, no role */
};

struct kbs_idp {
	char *issuer;         /* NULL = not checked */
	char *audience;       /* NULL = not checked */
	char *public_key_uri; /* PEM path (file:// accepted) */
	char *jwk_set_uri;    /* JWKS path (file:// accepted) */
};

struct kbs_acl {
	char *role;
	char *regex; /* POSIX ERE, must start with ^/kbs and end with $ */
};

enum kbs_storage_type {
	KBS_STORAGE_MEMORY = 0,
	KBS_STORAGE_LOCALFS,
	KBS_STORAGE_LOCALJSON,
	KBS_STORAGE_POSTGRES,
	KBS_STORAGE_REDIS,
};

enum kbs_as_type { KBS_AS_BUILTIN = 0, KBS_AS_GRPC, KBS_AS_INTEL_TA, KBS_AS_NONE };

struct kbs_config {
	/* [http_server] */
	char **sockets;
	size_t nsockets;
	bool insecure_http;
	char *private_key;
	char *certificate;
	long payload_request_size_mib; /* default 2 */
	int worker_count;              /* 0 = CPUs */
	char *tls_profile;
	char *tls_min_version, *tls_max_version, *tls_ciphers, *tls_groups;

	/* [attestation_token] */
	char **trusted_certs_paths;
	size_t ntrusted_certs;
	char **trusted_jwk_sets;
	size_t ntrusted_jwk_sets;
	char **extra_teekey_paths;
	size_t nextra_teekey_paths;
	bool insecure_header_jwk;
	/* kbsfs extensions, set by main from the environment (not TOML keys) */
	long jwks_refresh_s; /* https trusted_jwk_sets refresh; 0 = default (300 s) */
	char *jwks_ca_file;  /* CA bundle for https JWK sets ($SSL_CERT_FILE); NULL = system */
	/* --check-config: kbs_new() creates nothing (no directory, file or database table);
	 * what a real start would create is logged as "would create" (kbs_config_check_only()) */
	bool check_only;

	/* [attestation_service] */
	enum kbs_as_type as_type;
	long session_timeout_min; /* `timeout`, default 5 */
	long session_lifetime_s;  /* kbsfs_timeout_seconds (ours): overrides timeout when > 0 */
	struct as_config as;
	char *as_addr;	   /* coco_as_grpc: as_addr (default http://127.0.0.1:50004) */
	long as_pool_size; /* coco_as_grpc: pool_size (default 100) */

	/* [admin] */
	enum kbs_admin_mode admin_mode;
	struct kbs_idp *idps;
	size_t nidps;
	struct kbs_acl *acls;
	size_t nacls;
	char **legacy_admin_keys; /* Ed25519/EC/RSA PEM paths (legacy modes) */
	size_t nlegacy_admin_keys;

	/* [storage_backend] + [[plugins]] name = "resource" */
	enum kbs_storage_type storage_type;
	char *storage_dir;      /* local_fs.dir_path; repository = <dir>/repository (flat) */
	char *repository_dir;   /* legacy tree layout dir (type = "LocalFs") */
	bool resource_plugin;   /* resource plugin enabled (default true) */
	/* [storage_backend.backends.postgres] (Trustee's keys; env POSTGRES_URL overrides) */
	char *pg_host, *pg_db, *pg_username, *pg_password;
	long pg_port;      /* default 5432 */
	long pg_pool_size; /* kbsfs extension: connections per replica, default 4 */
	/* top-level session_storage_type; sessions follow storage_type when not set */
	bool session_storage_set;
	enum kbs_storage_type session_storage_type;

	/*
	 * Resource backend other than the key-value storage: [[plugins]] name = "resource",
	 * storage_backend_type = "Pkcs11" | "Vault" | "AzureKeyVault"; the plugin table is kept
	 * (backend keys are checked by the backend's constructor).
	 */
	enum kbs_repo_backend {
		KBS_REPO_KVSTORAGE = 0,
		KBS_REPO_PKCS11,
		KBS_REPO_VAULT,
		KBS_REPO_AZURE_KV,
	} resource_backend;
	json_t *resource_backend_cfg;
	/* Trustee's separate [[plugins]] name = "pkcs11" (/kbs/v0/pkcs11/resource/...) */
	json_t *pkcs11_plugin_cfg;

	char *policy_path;      /* legacy [policy_engine] policy_path (read at start if present) */
	int nwarnings;          /* unknown keys seen */
};

void kbs_config_init(struct kbs_config *cfg);
void kbs_config_release(struct kbs_config *cfg);
/* --check-config: makes kbs_new() create nothing (cfg->check_only, also for the built-in
 * AS's RVPS store); what a real start would create is logged as "would create". */
void kbs_config_check_only(struct kbs_config *cfg);

/*
 * Parses TOML text (file name only for messages). On error returns KBS_ERR_INVAL/PARSE with
 * a message "file:line: key 'a.b': expected boolean, got string" in err.
 */
int kbs_config_parse(const char *text, size_t len, const char *file, struct kbs_config *cfg,
		     char *err, size_t errlen);
int kbs_config_load(const char *path, struct kbs_config *cfg, char *err, size_t errlen);

/* TLS settings for the HTTP server, resolved from [http_server] tls_*. */
struct kbs_tls_settings {
	int min_version, max_version; /* 12 or 13 */
	const char *cipher_list;      /* TLS 1.2 list (OpenSSL syntax), NULL = server default */
	const char *ciphersuites;     /* TLS 1.3 suites, NULL = OpenSSL's */
	const char *groups;           /* key exchange groups */
	char list_buf[1024], suites_buf[512], groups_buf[256];
};

/*
 * Applies tls_profile (default "intermediate": Mozilla's intermediate v5 lists, TLS 1.2+;
 * "old": Mozilla's old list but still TLS 1.2+; "modern": TLS 1.3 only; "custom": TLS 1.2+
 * with the server's defaults), then tls_min_version / tls_max_version, then tls_ciphers
 * (names starting with "TLS_" replace the TLS 1.3 suites, the others the TLS 1.2 list) and
 * tls_groups (default X25519:secp256r1:secp384r1). KBS_ERR_INVAL with a message naming the
 * key when the result is contradictory (min above max, a list for a disabled version only)
 * or does not fit.
 */
int kbs_config_tls(const struct kbs_config *cfg, struct kbs_tls_settings *out, char *err,
		   size_t errlen);

#endif
