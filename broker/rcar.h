/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_BROKER_RCAR_H
#define KBS_BROKER_RCAR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/buf.h"

/*
 * Pure (network-free) parts of the KBS protocol used by the broker: message bodies, the
 * runtime-data binding, error classification, token expiry and retry backoff. Everything here
 * parses or builds bytes only, so it is unit-tested and fuzzed in isolation.
 */

#define RCAR_PROTOCOL_VERSION "0.4.0"

enum rcar_hash { RCAR_HASH_SHA256 = 0, RCAR_HASH_SHA384, RCAR_HASH_SHA512 };

/* What the broker does with a KBS error response. */
enum rcar_action {
	RCAR_ACT_FAIL = 0,   /* give up with the mapped error code */
	RCAR_ACT_REATTEST,   /* token missing/invalid/expired: attest once more, then retry */
	RCAR_ACT_RETRY,      /* transient server trouble (5xx from a proxy): retry with backoff */
};

/* {"version":"0.4.0","tee":<tee>,"extra-params":{"supported-hash-algorithms":[...]}} */
int rcar_auth_body(const char *tee, struct buf *out);

/*
 * Parses the /auth challenge: nonce (non-empty string, at most 8 KiB) and the hash algorithm
 * (extra-params.selected-hash-algorithm if present, case-insensitive sha256/sha384/sha512,
 * else SHA-384; "sm3" and anything else is KBS_ERR_UNSUPPORTED). *nonce is malloc'ed.
 */
int rcar_parse_challenge(const char *body, size_t len, char **nonce, enum rcar_hash *hash);

/*
 * Report data for the primary evidence: H(JCS({"tee-pubkey":K,"nonce":N,
 * "additional-evidence":A})). out must hold 64 bytes; *outlen = digest length.
 */
int rcar_runtime_digest(const char *nonce, const json_t *tee_pubkey, const char *additional,
			enum rcar_hash hash, uint8_t out[64], size_t *outlen);

/*
 * Attestation body in the member order of the guest client:
 * {"init-data":null|{"format":"toml","body":T},"runtime-data":{"nonce","tee-pubkey"},
 *  "tee-evidence":{"primary_evidence":E,"additional_evidence":A}}
 */
int rcar_attest_body(const char *initdata_toml, const char *nonce, const json_t *tee_pubkey,
		     const json_t *evidence, const char *additional, struct buf *out);

/* Extracts the "token" string of an /attest response (other members ignored). malloc'ed. */
int rcar_parse_attest_response(const char *body, size_t len, char **token);

/*
 * KBS error body {"type":".../errors/<Name>","detail":"..."}: copies <Name> (the part after the
 * last '/') and the detail, truncated to fit. KBS_ERR_PARSE if the body is not such an object.
 */
int rcar_parse_error(const char *body, size_t len, char *type, size_t typelen, char *detail,
		     size_t detaillen);

/*
 * Maps an HTTP status and KBS error type name (may be "" when the body was not a KBS error) to
 * an error code and action. The type decides where there is one: Trustee answers 401 for
 * nearly everything. PluginInternalError is how Trustee reports a missing resource, so it maps
 * to KBS_ERR_NOTFOUND (documented in docs/kbs-client.md and in broker_status()).
 */
int rcar_classify(long status, const char *type, enum rcar_action *action);

/*
 * Expiry of a JWT from its unverified payload ("exp", Unix seconds). KBS_ERR_NOTFOUND if the
 * token has no numeric exp, KBS_ERR_PARSE if it is not a JWT with a JSON payload.
 */
int rcar_token_exp(const char *jwt, size_t len, int64_t *exp);

/* True if a token expiring at exp is still usable at now with margin_s seconds to spare. */
bool rcar_token_fresh(int64_t exp, int64_t now, int64_t margin_s);

/*
 * Delay before retry number attempt (0-based): capped exponential (initial * 2^attempt, at
 * most cap_ms) with "equal jitter": half the step is fixed, the other half is rnd-scaled, so
 * clients spread out but never retry instantly. rnd is a uniform random 32-bit value.
 */
long rcar_backoff_ms(int attempt, long initial_ms, long cap_ms, uint32_t rnd);

/* Resource path check: exactly three segments of [A-Za-z0-9_.-], none starting with '.'. */
bool rcar_resource_path_valid(const char *path);

const char *rcar_hash_name(enum rcar_hash h);

#endif
