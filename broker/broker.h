/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_BROKER_BROKER_H
#define KBS_BROKER_BROKER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/secmem.h"

/*
 * Guest KBS client: RCAR handshake (auth -> evidence -> attest), token + TEE key cache,
 * resource fetch with JWE decryption into secret memory. Thread-safe: concurrent callers
 * share one attestation (single flight).
 *
 * Error mapping (the error *type* in the KBS body decides, not the HTTP status alone):
 *   token missing/invalid/expired     -> re-attest once, then retry the GET
 *   PolicyDeny                        -> KBS_ERR_DENIED   (kbsfs: EACCES)
 *   resource not found (ours), or Trustee's PluginInternalError -> KBS_ERR_NOTFOUND (ENOENT)
 *   KBS unreachable / 5xx / timeouts  -> KBS_ERR_NETWORK or KBS_ERR_TIMEOUT (EIO)
 *   attestation refused               -> KBS_ERR_AUTH
 */
struct broker_config {
	const char *kbs_url;          /* "https://host:port" (no trailing /kbs/v0) */
	const char *kbs_cert_file;    /* PEM to trust for the KBS (Trustee's kbs_cert), optional */
	const char *kbs_cert_pem;     /* inline PEM alternative */
	const char *tee;              /* "auto" (default) or a tee name: sample, snp, tdx, tpm,
					 az-snp-vtpm, az-tdx-vtpm */
	bool allow_sample;            /* sample evidence only when explicitly allowed */
	const char *tee_key_algorithm;/* "ECDH-ES+A256KW-P256" (default), "-P521", "RSA-OAEP-256" */
	long request_timeout_ms;      /* per HTTP attempt, default 10000 */
	int max_retries;              /* network retries, default 4 */
	int token_refresh_margin_s;   /* re-attest this long before token expiry, default 30 */
	const char *initdata_toml;    /* optional init-data TOML text sent with the attestation */
	const char *tee_key_pem;      /* optional fixed TEE private key (PKCS#1 RSA or PKCS#8 EC
					 P-256/P-521 PEM, kbs-client --tee-key-file); default is
					 a fresh key of tee_key_algorithm for every attestation */
	long backoff_initial_ms;      /* first retry delay, default 200 */
	long backoff_max_ms;          /* retry delay cap, default 5000 */
	const char *resource_query;   /* optional query string appended to every resource GET
					 ("k=v&k=v", characters [A-Za-z0-9._~%=&-] only, at
					 most 1024); the KBS hands it to the resource policy as
					 data.query (kbsfs: the pod identity) */
};

struct broker;

int broker_new(const struct broker_config *cfg, struct broker **out);
void broker_free(struct broker *b);

/*
 * Generates the TEE key of the next attestation now, so that its generation (RSA-2048: 0.2-2 s
 * on a loaded machine) is not spent inside a request's deadline; that attestation takes it
 * (still one fresh key per attestation). No-op with a fixed key (tee_key_pem) or when a key
 * is already waiting. kbsfs-fetch calls it when it starts.
 */
int broker_prepare_key(struct broker *b);

struct broker_error {
	long http_status;    /* last HTTP status, 0 if none */
	char type[64];       /* KBS error type ("PolicyDeny", ...), empty if none */
	char detail[256];    /* KBS error detail or transport error; never secret bytes */
};

/*
 * Fetches repo/type/tag. Attests first if there is no valid token. deadline_ms is an absolute
 * http_now_ms() deadline (0 = broker default of 60 s from now). *out is secret memory.
 */
int broker_get_resource(struct broker *b, const char *path, int64_t deadline_ms,
			struct secbuf *out, struct broker_error *err);

/* Forces a fresh attestation (used by `kbs-client attest`); returns the token if asked. */
int broker_attest(struct broker *b, int64_t deadline_ms, struct secbuf *token,
		  struct broker_error *err);

/*
 * Installs an attestation token obtained elsewhere (kbs-client get-resource
 * --attestation-token). Requires cfg->tee_key_pem: the token's tee-pubkey must be that key.
 * The token is used until it expires or the KBS rejects it (then the broker re-attests).
 */
int broker_set_token(struct broker *b, const char *token, size_t len);

/* Name of the TEE the broker attests as ("sample", "snp", ...). */
const char *broker_tee(const struct broker *b);

/*
 * Status JSON for kbsfs's .kbsfs/status: {"tee": ..., "attested": bool, "token_expiry":
 * unix seconds or null, "attestations": n, "last_error": {...} or null}. No token, no key.
 * Also: "tee_key_algorithm", "fetches", "reattestations", "connections" (TCP connections
 * opened to the KBS so far) and "error_mapping" (how KBS error types map to errno, including
 * Trustee's PluginInternalError -> ENOENT).
 */
json_t *broker_status(struct broker *b);

#endif
