/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_ATTESTER_AGENT_H
#define KBS_ATTESTER_AGENT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/http_server.h"

/*
 * attestation-agent: the guest-components Attestation Agent plus the api-server-rest front
 * in one process (reference guest-components.md §2, §3, §6.1). REST on loopback only.
 */

enum aa_feature {
	AA_FEATURE_RESOURCE = 1,
	AA_FEATURE_ATTESTATION = 2,
	AA_FEATURE_ALL = 3,
};

/* "resource" | "attestation" | "all" → enum; KBS_ERR_INVAL for anything else. */
int aa_feature_parse(const char *s, int *out);
const char *aa_feature_name(int f);

/*
 * Reads agent.guest_components_rest_api=<level> from a kernel command line file (last
 * occurrence wins). KBS_ERR_NOTFOUND if the knob is absent, KBS_ERR_INVAL for a bad value,
 * KBS_ERR_IO if the file cannot be read.
 */
int aa_cmdline_feature(const char *cmdline_path, int *out);

/* aa.toml keys as upstream (§6.1). Strings are malloc'ed; NULL = not set. */
struct aa_config {
	char *kbs_url;		 /* [token_configs.kbs] url (trailing '/' trimmed) */
	char *kbs_cert;		 /* [token_configs.kbs] cert (PEM) */
	char *tee_key_algorithm; /* [token_configs.kbs] tee_key_algorithm, default P256 */
	char *coco_as_url;	 /* [token_configs.coco_as] url */
	bool enable_eventlog;	 /* [eventlog_config] enable_eventlog, default false */
	unsigned init_pcr;	 /* [eventlog_config] init_pcr, default 17 */
	char *log_level;	 /* [log] level, default "info" */
};

void aa_config_init(struct aa_config *cfg);
/*
 * Loads a config file; the format follows the extension like upstream (.json = JSON,
 * anything else TOML). Unknown keys are ignored; wrong types are errors (why says which).
 */
int aa_config_load(const char *path, struct aa_config *cfg, char *why, size_t whylen);
void aa_config_release(struct aa_config *cfg);

struct tdx_guest_cfg;

struct aa_options {
	int features;			 /* AA_FEATURE_* */
	const char *tee;		 /* "auto" or a TEE name; the sample TEE only when named */
	const char *initdata_toml;	 /* --initdata-toml path, or NULL */
	const char *initdata_digest;	 /* --initdata-digest (std base64); ignored with initdata_toml */
	const char *eventlog_path;	 /* AAEL file, default /run/attestation-agent/eventlog */
	const char *tdx_measurements;	 /* default /sys/devices/virtual/misc/tdx_guest/measurements */
	/* TDREPORT source when tdx_measurements has no mrconfigid (NULL = /dev/tdx_guest or
	 * AA_TDX_GUEST_DEVICE); tests pass an ioctl hook here */
	const struct tdx_guest_cfg *tdx_guest;
	const char *version;		 /* shown by GET /info */
	const char *sealed_key_dir;	 /* POST /cdh/unseal key files (kid = file name), default
					    /run/confidential-containers/cdh/sealed-secret */
};

struct aa;

/*
 * Selects the TEE, loads and binds init-data (mismatch refuses: KBS_ERR_VERIFY), opens the
 * AAEL (with write-ahead recovery) if enabled and the TEE can extend a register.
 */
int aa_new(const struct aa_config *cfg, const struct aa_options *opt, struct aa **out,
	   char *why, size_t whylen);
void aa_free(struct aa *a);
const char *aa_tee(const struct aa *a);

/*
 * A 200 answer carrying a secret (resource, unsealed secret, token): the body is copied once
 * into room reserved beforehand and resp->wipe_body is set, so the server zeroes it (and its
 * output buffer) after the write. On failure the partial body is wiped.
 */
int aa_reply_secret(struct http_response *resp, const char *ctype, const uint8_t *p, size_t len);

/*
 * The /aa/token?token_type=kbs body {"token":"…","tee_keypair":"…"} (jansson's compact form)
 * built directly in secmem.
 */
struct secbuf;
int aa_token_json(const uint8_t *tok, size_t tok_len, const char *pem, struct secbuf *out);

/* http_handler_fn for the REST API (ctx = struct aa *). */
int aa_http_handler(void *ctx, const struct http_request *req, struct http_response *resp);

/* True for an IPv4 127/8 or IPv6 ::1 address text (with or without ":port" / brackets). */
bool aa_addr_is_loopback(const char *addr);

/*
 * Value of key in an application/x-www-form-urlencoded query ('+' = space, %XX decoded,
 * last occurrence wins) into a new malloc'ed string (*len bytes, NUL-terminated).
 * KBS_ERR_NOTFOUND if absent.
 */
int aa_query_get(const char *query, const char *key, char **out, size_t *len);

#endif
