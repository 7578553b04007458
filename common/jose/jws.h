/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_JOSE_JWS_H
#define KBS_JOSE_JWS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/jose/jwk.h"

/*
 * JWS compact serialisation and JWT (RFC 7515/7519) for ES256, ES384, RS256, RS384, PS256,
 * EdDSA. Every verify call passes an explicit allow-list of algorithms; "none" and all HMAC
 * algorithms are always rejected; the key type must match the algorithm.
 * Also accepted: ES512, RS512, PS384, PS512. Headers with "crit" are rejected.
 */

/* Largest compact JWS accepted by the verify functions. */
#define JWS_MAX_LEN (16u << 20)

/*
 * Signs payload. header_extra (may be NULL) supplies additional protected header members
 * (e.g. "typ", "kid", "jwk"); "alg" is set from alg and emitted first.
 * *out: malloc'ed compact JWS.
 */
int jws_sign(const struct jwk *key, const char *alg, const json_t *header_extra,
	     const void *payload, size_t payload_len, char **out);

/*
 * Verifies a compact JWS against key with one of allowed_algs (NULL-terminated).
 * On success *header (new ref, may pass NULL) and *payload (malloc'ed, +1 NUL) are set.
 */
int jws_verify(const char *compact, size_t len, const struct jwk *key,
	       const char *const *allowed_algs, json_t **header, uint8_t **payload,
	       size_t *payload_len);

/* Parses the protected header without verifying (to pick a key by kid/jwk). */
int jws_peek_header(const char *compact, size_t len, json_t **header);

struct jwt_verify_opts {
	const char *const *allowed_algs; /* NULL-terminated, required */
	struct jwk *const *keys;         /* trusted keys; tried in order (kid match first) */
	size_t nkeys;
	/*
	 * Tokens that carry their own key in the "jwk" header (EAR tokens): accepted only when
	 * that key's RFC 7638 thumbprint equals the thumbprint of one of `keys`. With
	 * insecure_header_jwk the header key is trusted as is (Trustee's insecure switch).
	 */
	bool insecure_header_jwk;
	int64_t leeway_s;   /* clock skew allowed for exp/nbf/iat, default 0 */
	time_t now;         /* 0 = time(NULL) */
	bool require_exp;   /* missing exp is an error when true */
};

/*
 * Verifies a JWT and its time claims (exp, nbf; iat not in the future beyond leeway).
 * Returns KBS_ERR_EXPIRED for exp/nbf failures, KBS_ERR_VERIFY for bad signatures or
 * untrusted keys, KBS_ERR_UNSUPPORTED for disallowed algorithms. *claims new reference.
 */
int jwt_verify(const char *compact, size_t len, const struct jwt_verify_opts *opts,
	       json_t **claims, json_t **header);

/* Signs claims (serialised compactly in insertion order) as a JWT. */
int jwt_sign(const struct jwk *key, const char *alg, const json_t *header_extra,
	     const json_t *claims, char **out);

#endif
