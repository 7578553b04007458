/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_JOSE_JWE_H
#define KBS_JOSE_JWE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/jose/jwk.h"
#include "common/secmem.h"

/*
 * JWE flattened JSON serialisation (RFC 7516 §7.2.2) with enc A256GCM and
 * alg ECDH-ES+A256KW (P-256/P-384/P-521, Concat KDF), RSA-OAEP-256, RSA-OAEP, RSA1_5.
 * AAD = ASCII of the base64url protected header (no "aad" member).
 * Decryption also accepts ECDH-ES+A128KW/A192KW, enc A128GCM/A192GCM and
 * A128CBC-HS256/A192CBC-HS384/A256CBC-HS512 (RFC 7520 examples); an "aad" member, if
 * present, is authenticated as RFC 7516 §5.2 says.
 */

/* Largest JWE JSON document jwe_decrypt() accepts. */
#define JWE_MAX_JSON (32u << 20)

/*
 * Encrypts pt to recipient (public key). alg NULL = choose as Trustee's KBS does from the
 * key (kbs-protocol §4.3: RSA + jwk alg RSA1_5 -> RSA1_5, RSA + RSA-OAEP-256 -> RSA-OAEP-256,
 * EC P-256/P-521 -> ECDH-ES+A256KW; anything else KBS_ERR_UNSUPPORTED).
 * Output: compact JSON, members in Trustee's order
 * {"protected","encrypted_key","iv","ciphertext","tag"}, with the protected header in
 * Trustee's exact compact form (§5.2). Appended to out.
 */
int jwe_encrypt(const struct jwk *recipient, const char *alg, const uint8_t *pt, size_t pt_len,
		struct buf *out);

/*
 * Decrypts a flattened JWE JSON document with the recipient's private key. The plaintext is
 * written to secret memory. Unknown/unsupported alg or enc, duplicate members, bad base64,
 * wrong sizes and tag mismatches all fail; RSA1_5 decryption failures are indistinguishable
 * (same error, same code path via implicit rejection) from tag failures.
 * allowed_algs: NULL-terminated allow-list, or NULL for all supported.
 */
int jwe_decrypt(const struct jwk *recipient_priv, const char *json, size_t len,
		const char *const *allowed_algs, struct secbuf *pt);

#endif
