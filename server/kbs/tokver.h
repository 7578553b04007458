/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_SERVER_TOKVER_H
#define KBS_SERVER_TOKVER_H

#include <jansson.h>
#include <stddef.h>

#include "common/jose/jwk.h"
#include "server/kbs/kbs_config.h"

/*
 * Attestation-token verification for resource requests (kbs-protocol §7.2).
 * Trusted: the in-process AS's signing key (always, by RFC 7638 thumbprint of the header
 * jwk), keys from trusted_jwk_sets (by kid; local files), header jwk whose x5c chains to a
 * certificate in trusted_certs_paths, and with insecure_header_jwk any header jwk.
 * exp is required, 60 s leeway. Verified tokens are cached by SHA-256 digest until exp.
 */
struct kbs_tokver;

/* as_keys: the in-process AS's signing keys (NULL entries skipped). */
int kbs_tokver_new(const struct kbs_config *cfg, const struct jwk *const *as_keys,
		   size_t nas_keys, struct kbs_tokver **out, char *err, size_t errlen);
void kbs_tokver_free(struct kbs_tokver *t);

/*
 * *claims: new reference to claims shared with the cache (read-only for the caller).
 * *teekey (may be NULL): new reference to the TEE public key found in the claims
 * (extra_teekey_paths, then Trustee's built-in pointers, §7.3), or NULL if none is usable;
 * parsed once per token. KBS_ERR_EXPIRED, KBS_ERR_VERIFY (bad signature, untrusted key),
 * KBS_ERR_PARSE; why names the cause. *cached set when served from the cache (may be NULL).
 */
int kbs_tokver_verify(struct kbs_tokver *t, const char *token, size_t len, json_t **claims,
		      struct jwk **teekey, int *cached, char *why, size_t whylen);

/* RFC 6901 JSON pointer lookup (borrowed result or NULL). */
json_t *kbs_json_pointer(json_t *root, const char *ptr);

#endif
