/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_SERVER_TOKVER_H
#define KBS_SERVER_TOKVER_H

#include <jansson.h>
#include <stddef.h>

#include "common/jose/jwk.h"
#include "server/kbs/kbs_config.h"

/*
 * Attestation-token verification for resource requests (kbs-protocol §7.2).
 * Which key verifies a token is decided by its JOSE header, as in Trustee:
 *  - header "jwk": the in-process AS's own signing key (by RFC 7638 thumbprint), else with
 *    insecure_header_jwk the header key as is, else the key must arrive with an x5c chain:
 *    x5c[0] carries exactly the header key (RSA or EC P-256), x5c[1..] are untrusted
 *    intermediates, every certificate of every trusted_certs_paths file is an anchor
 *    (partial chains allowed), validity dates are checked; the jwk's "alg" must be present
 *    and equal the header "alg".
 *  - header "kid" (no jwk): the key with that kid in the union of trusted_jwk_sets (files,
 *    file:// or https:// URLs); it must carry "alg" equal to the header "alg". https sets are
 *    fetched at start, refreshed every cfg->jwks_refresh_s seconds (default 300) and at most
 *    every 10 s when a token names an unknown kid; a failed refresh keeps the last good set.
 *  - neither: only the in-process AS keys.
 * exp is required, 60 s leeway. Verified tokens are cached by SHA-256 digest until exp.
 * Every refusal text starts with the name of the failed check ("x5c: ...", "kid: ...",
 * "exp: ...", "signature: ...", "alg: ...", "jwk: ...", "header: ...").
 */
struct kbs_tokver;

/* Default refresh interval of https trusted_jwk_sets, seconds. */
#define KBS_TOKVER_JWKS_REFRESH_S 300
/* Least time between two fetches of one https set triggered by unknown kids, seconds. */
#define KBS_TOKVER_JWKS_MIN_REFETCH_S 10

/*
 * as_keys: the in-process AS's signing keys (NULL entries skipped; nas_keys may be 0 for a
 * KBS without an AS). Fails (KBS_ERR_INVAL, err set) when nothing could ever be trusted: no
 * AS key, no trusted_certs_paths, no trusted_jwk_sets and insecure_header_jwk false.
 */
int kbs_tokver_new(const struct kbs_config *cfg, const struct jwk *const *as_keys,
		   size_t nas_keys, struct kbs_tokver **out, char *err, size_t errlen);
void kbs_tokver_free(struct kbs_tokver *t);

/*
 * *claims: new reference to claims shared with the cache (read-only for the caller).
 * *teekey (may be NULL): new reference to the TEE public key found in the claims
 * (extra_teekey_paths, then Trustee's built-in pointers, §7.3), or NULL if none is usable;
 * parsed once per token. KBS_ERR_EXPIRED, KBS_ERR_VERIFY (bad signature, untrusted key),
 * KBS_ERR_PARSE; why names the check that failed. *cached set when served from the cache
 * (may be NULL).
 */
int kbs_tokver_verify(struct kbs_tokver *t, const char *token, size_t len, json_t **claims,
		      struct jwk **teekey, int *cached, char *why, size_t whylen);

/*
 * Trustee's JWK endorsement check alone (§7.2 step 2, without the AS-key and insecure
 * shortcuts): jwk's x5c chain to the trust anchors, leaf key == jwk, jwk "alg" present and
 * equal to alg (alg NULL: only presence). KBS_OK or KBS_ERR_VERIFY with why set.
 */
int kbs_tokver_endorse_jwk(struct kbs_tokver *t, const json_t *jwk, const char *alg, char *why,
			   size_t whylen);

/*
 * Parses one x5c entry: standard base64 with or without padding, URL-safe alphabet accepted,
 * whitespace ignored (Trustee's leniency). *out: malloc'ed DER.
 */
int kbs_tokver_x5c_decode(const char *s, uint8_t **out, size_t *outlen);

/* RFC 6901 JSON pointer lookup (borrowed result or NULL). */
json_t *kbs_json_pointer(json_t *root, const char *ptr);

#endif
