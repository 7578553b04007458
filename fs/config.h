/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_FS_CONFIG_H
#define KBS_FS_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/*
 * kbsfs settings, from "-o key=value" mount options and/or a TOML file (config=FILE).
 * Mount options win over the file: a value set from the command line is never overwritten
 * by kbsfs_config_apply_json(). The file may be a kbsfs file or a guest-components cdh.toml /
 * aa.toml; the KBC settings ([kbc] url/kbs_cert, [token_configs.kbs] url/cert/
 * tee_key_algorithm) and [[credentials]] resource URIs are taken from those.
 */
struct kbsfs_config {
	char *kbs_url;
	char *kbs_cert_file; /* PEM file to trust for the KBS */
	char *kbs_cert_pem;  /* inline PEM (cdh.toml kbs_cert) */
	char *tee;	     /* "auto" or a TEE name */
	bool allow_sample;
	char *tee_key_algorithm;
	char *initdata_file;
	char *config_file;
	uid_t uid;
	gid_t gid;
	mode_t mode;		  /* permission bits of secret files, default 0400 */
	unsigned refresh_s;	  /* background refresh period, 0 = off */
	unsigned cache_timeout_s; /* kernel entry/attr timeout, default 3600 */
	unsigned timeout_s;	  /* per KBS request, default 10 */
	size_t secmem_size;	  /* secret arena size, default 1 MiB */
	int log_level;		  /* enum log_level */
	char **resources;	  /* normalised "repo/type/tag", deduplicated */
	/*
	 * Workload identity sent to the KBS with every resource request (query string; the
	 * KBS gives it to the resource policy as data.query). Set by kbsfs-csi from the pod's
	 * volume context. Not attested: the mounting host vouches for it.
	 */
	char *pod_namespace, *pod_name, *pod_uid, *service_account;
	bool privsep;	   /* broker in a separate kbsfs-fetch process (default) */
	char *fetcher;	   /* kbsfs-fetch path override */
	unsigned fetch_idle_s; /* kbsfs-fetch exits this long after its last request */
	size_t nresources;
	unsigned set_mask; /* internal: which fields came from the command line */
	/* internal, set by kbsfs_main: the daemon runs in the background and its stdio goes to
	 * /dev/null once mounted, so helper processes started earlier must not keep the
	 * caller's stdout/stderr (a pipe would stay open after `kbsfs` returned) */
	bool detached;
};

int kbsfs_config_new(struct kbsfs_config **out);
void kbsfs_config_free(struct kbsfs_config *c);

/*
 * Applies one mount option "key" or "key=value". Returns KBS_OK if consumed,
 * KBS_ERR_NOTFOUND if the key is not a kbsfs option (the caller passes it on to FUSE), or
 * KBS_ERR_INVAL with a message in err.
 */
int kbsfs_config_set_opt(struct kbsfs_config *c, const char *opt, char *err, size_t errlen);

/* Applies a parsed TOML document (as JSON); values already set by options are kept. */
int kbsfs_config_apply_json(struct kbsfs_config *c, json_t *root, char *err, size_t errlen);

/* Loads c->config_file (TOML) if set and applies it. */
int kbsfs_config_load_file(struct kbsfs_config *c, char *err, size_t errlen);

/* Checks required settings after everything was applied. */
int kbsfs_config_finish(struct kbsfs_config *c, char *err, size_t errlen);

/* Adds one resource (any form kbsfs_path_normalize accepts); duplicates are ignored. */
int kbsfs_config_add_resource(struct kbsfs_config *c, const char *ref, size_t len);

/*
 * Writes the resource-request query string for the workload identity options
 * ("pod_namespace=a&pod_name=p&pod_uid=u&service_account=sa", only the options set; "" when
 * none). Values are restricted to [A-Za-z0-9._-] when set, so no encoding is needed.
 * Returns KBS_OK or KBS_ERR_RANGE if out is too small.
 */
int kbsfs_config_resource_query(const struct kbsfs_config *c, char *out, size_t outlen);

/* Prints the man-page style option reference. */
void kbsfs_config_usage(FILE *f, const char *prog);

#endif
