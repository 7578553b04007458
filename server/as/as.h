/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_AS_H
#define KBS_AS_AS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/jose/jwk.h"
#include "rvps/rvps.h"
#include "server/as/policy_hook.h"

/*
 * Attestation service: verifies evidence with the verifier of its TEE, appraises the claims
 * with the EAR policy "<policy_id>_<tee class>" and issues an attestation token (EAR, ES256,
 * kbs-protocol §11; or Trustee's legacy "Simple" token, RS384, §11.7). Used in-process by
 * `kbs` and served over HTTP by `restful-as`. Thread-safe after as_new().
 */

enum as_token_type { AS_TOKEN_EAR = 0, AS_TOKEN_SIMPLE };

struct as_config {
	int duration_min;        /* token lifetime, default 5 */
	char *issuer_name;       /* default "CoCo-Attestation-Service" */
	char *developer_name;    /* default "https://confidentialcontainers.org" */
	char *build_name;        /* default "kbsfs-attestation-service <version>" */
	char *profile_name;      /* default "tag:github.com,2024:confidential-containers/Trustee" */
	char *signer_key_path;   /* P-256 PEM; NULL = generate at start */
	char *signer_cert_path;  /* PEM chain -> x5c */
	char *signer_cert_url;   /* -> x5u */
	bool verbose_token;      /* default true */
	enum as_token_type token_type;
	char *state_dir;         /* persist policies and reference values here; NULL = memory */
	json_t *verifier_config; /* "verifier_config" object (checked), NULL = defaults */
	/* rvps_config: BuiltIn (store: rvps.storage, else LocalFs under state_dir, else
	 * Memory) or GrpcRemote (rvps.address) */
	struct rvps_config rvps;
};

/* Fills defaults. */
void as_config_init(struct as_config *cfg);
void as_config_release(struct as_config *cfg);

/*
 * Reads an AS configuration object: the restful-as JSON config (§12.4) or the KBS
 * [attestation_service] table (§10.4). Unknown and obsolete keys are ignored, wrong types
 * are errors naming the key (in why).
 */
int as_config_from_json(const json_t *obj, struct as_config *cfg, char *why, size_t whylen);

struct as_ctx;

int as_new(const struct as_config *cfg, struct as_ctx **out);
void as_free(struct as_ctx *as);

/* Engine for uploaded policies (the native one by default); engine must outlive as. */
void as_set_policy_engine(struct as_ctx *as, const struct policy_engine *engine);

/* Signing key of the EAR tokens (P-256, ES256); borrowed. */
const struct jwk *as_token_key(const struct as_ctx *as);
/* Signing key of Simple tokens (RSA, RS384) when configured, else NULL; borrowed. */
const struct jwk *as_simple_token_key(const struct as_ctx *as);
/* {"keys":[<signing JWK>]} (new reference). */
json_t *as_jwks(const struct as_ctx *as);

struct as_request {
	const char *tee;
	const json_t *evidence;
	/* runtime data: structured object (hashed with JCS + hash_alg), or raw bytes */
	const json_t *runtime_data;
	const uint8_t *runtime_data_raw;
	size_t runtime_data_raw_len;
	const char *hash_alg;           /* "sha256|sha384|sha512", NULL = sha384 */
	/* init-data: TOML text (hashed with its own `algorithm`), or a raw digest */
	const char *init_data_toml;
	size_t init_data_toml_len;
	const uint8_t *init_data_digest;
	size_t init_data_digest_len;
};

struct as_result {
	char *token;        /* malloc'ed JWT */
	char status[20];    /* worst ear.status over the submods ("affirming", ...) */
};

/*
 * Verifies reqs[0..n) (reqs[0] = primary CPU evidence, the rest devices) and issues one
 * token appraised with policy_id (NULL = "default"). On failure why says what failed.
 */
int as_evaluate(struct as_ctx *as, const struct as_request *reqs, size_t n,
		const char *policy_id, struct as_result *res, char *why, size_t whylen);
void as_result_release(struct as_result *res);

/* Stores an EAR policy (Rego text, verbatim) after the engine accepted it. */
int as_set_policy(struct as_ctx *as, const char *policy_id, const char *text, size_t len,
		  char *why, size_t whylen);
/* JSON array of {"policy-id": id} (new reference); NULL when the policy store fails. */
json_t *as_list_policies(struct as_ctx *as);

/*
 * Shared EAR policy store (the kbs plugs Trustee's `attestation_service_policy` namespace of
 * its Postgres storage in here). When set, every appraisal reads the policy text from the
 * store (no cache: a policy uploaded through another replica applies at the next request)
 * and uploads write to it instead of memory/state_dir. Callbacks return KBS_OK,
 * KBS_ERR_NOTFOUND or KBS_ERR_UNAVAILABLE (as_evaluate and as_set_policy pass the latter
 * on, so the caller answers 503). ids are policy ids ("default_cpu"), without ".rego".
 */
struct as_policy_store {
	void *ctx;
	/* malloc'ed text (NUL-terminated beyond *len) */
	int (*get)(void *ctx, const char *id, char **text, size_t *len);
	int (*put)(void *ctx, const char *id, const char *text, size_t len);
	/* appends every stored id to ids (a JSON array of strings); NULL = memory ids only */
	int (*list)(void *ctx, json_t *ids);
};

/* Installs store (copied; its ctx must outlive as); NULL = back to memory/state_dir. */
void as_set_policy_store(struct as_ctx *as, const struct as_policy_store *store);

/* RVPS: registers a message {"version","type":"sample|swid|corim","payload":b64} (§14.1). */
int as_rv_register(struct as_ctx *as, const char *msg, size_t len, char *why, size_t whylen);
/* New reference to the stored (unexpired) value, or NULL (absent, expired or unreachable). */
json_t *as_rv_query(struct as_ctx *as, const char *name);
/* The RVPS the AS consults (built-in store or remote client); borrowed. */
struct rvps *as_rvps(struct as_ctx *as);
/*
 * Moves the built-in RVPS onto a key-value backend (the kbs PostgreSQL store, table
 * reference_value). No effect with a GrpcRemote RVPS or an explicit rvps storage_type.
 */
int as_rvps_use_kv(struct as_ctx *as, const struct rvps_kv_ops *ops, void *ctx, char *why,
		   size_t whylen);

/* Hashes data with "sha256|sha384|sha512" (case-insensitive). out >= 64 bytes. */
int as_hash(const char *alg, const void *data, size_t len, uint8_t *out, size_t *outlen);

/*
 * Runtime-data digest exactly as the KBS binds it: alg(JCS(obj)). out >= 64 bytes.
 */
int as_runtime_data_digest(const json_t *obj, const char *alg, uint8_t *out, size_t *outlen);

#endif
