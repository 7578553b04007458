/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_JOSE_INTERNAL_H
#define KBS_JOSE_INTERNAL_H

/* Helpers shared by jwk.c, jws.c and jwe.c; not part of the public API. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/jose/jwk.h"

/* Largest EC coordinate (P-521): 66 bytes. */
#define JOSE_EC_COORD_MAX 66

/* Field size in bytes of a JOSE curve name, 0 if unknown. */
size_t jose_curve_size(const char *crv);

/* Curve name -> OpenSSL group name ("P-256" -> "prime256v1"), NULL if unknown. */
const char *jose_curve_group(const char *crv);

/*
 * Fixed-length public coordinates cached at key creation (EC: x and y, OKP: x), so hot paths
 * (JWE epk, thumbprints, header jwk) never re-export the key. Returns the coordinate length.
 */
size_t jwk_ec_coords(const struct jwk *k, const uint8_t **x, const uint8_t **y);

/* Appends base64url (unpadded) of in to b, no NUL counted in b->len. */
int jose_buf_append_b64u(struct buf *b, const uint8_t *in, size_t len);

/* Builds an EC public EVP_PKEY from fixed-length coordinates (point checked on curve). */
int jose_ec_pub_from_coords(const char *crv, const uint8_t *x, const uint8_t *y, size_t clen,
			    EVP_PKEY **out);

/* Parses JSON text with duplicate members rejected; must be an object. */
int jose_json_object(const char *text, size_t len, json_t **out);

/* True if alg is in the NULL-terminated list (NULL list = true). */
bool jose_alg_allowed(const char *const *allowed, const char *alg);

#endif
