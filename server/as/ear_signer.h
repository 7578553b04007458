/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_EAR_SIGNER_H
#define KBS_AS_EAR_SIGNER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/jose/jwk.h"

/*
 * ES256 compact-JWS signer for the attestation service's EAR tokens (kbs-protocol §11.1),
 * built for the RCAR hot path: the protected header never changes for a key, so its base64url
 * text is rendered once; the P-256 signing contexts are initialised once and reused from a
 * small pool (EVP_DigestSignInit on every token cost a third as much as the signature
 * itself). Thread-safe. The output is byte-for-byte what jws_sign() would produce for the
 * same header member order.
 */
struct ear_signer;

/*
 * key: P-256 private key (borrowed, must outlive the signer). header: the complete protected
 * header object, serialised compactly in its member order (e.g. {"typ","alg","jwk"}).
 */
int ear_signer_new(const struct jwk *key, const json_t *header, struct ear_signer **out);
void ear_signer_free(struct ear_signer *s);

/*
 * Appends "<b64url(header)>.<b64url(payload)>.<b64url(r||s)>" to out. On failure out is
 * left at its previous length.
 */
int ear_signer_sign(struct ear_signer *s, const uint8_t *payload, size_t len, struct buf *out);

/*
 * Appends the compact JSON text of v: the same bytes as json_dumps(v, JSON_COMPACT) (members
 * in insertion order, jansson's escaping and real formatting) without jansson's per-container
 * loop-check bookkeeping (a snprintf and a hash insert per object), which made dumping the
 * EAR claims cost as much as parsing them. Values nested deeper than 2048 fail with
 * KBS_ERR_RANGE. On failure out is left at its previous length.
 */
int ear_json_append(struct buf *out, const json_t *v);

/*
 * Converts a DER ECDSA-Sig-Value (SEQUENCE { INTEGER r, INTEGER s }) to the JWS form r||s,
 * each left-padded to clen bytes. KBS_ERR_PARSE for malformed DER or integers wider than
 * clen. Exposed for the unit tests.
 */
int ear_ecdsa_der_to_raw(const uint8_t *der, size_t len, size_t clen, uint8_t *out);

#endif
