/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_JOSE_JWK_H
#define KBS_JOSE_JWK_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * JSON Web Keys (RFC 7517/7518/8037) on OpenSSL 3 EVP_PKEY: RSA, EC P-256/P-384/P-521 and
 * OKP Ed25519, public or private. A struct jwk is immutable after creation and may be shared
 * between threads (reference counted with jwk_ref/jwk_free).
 */
enum jwk_kind {
	JWK_RSA_2048 = 1,
	JWK_RSA_3072,
	JWK_RSA_4096,
	JWK_EC_P256,
	JWK_EC_P384,
	JWK_EC_P521,
	JWK_OKP_ED25519,
};

struct jwk;

int jwk_generate(enum jwk_kind kind, struct jwk **out);
/*
 * Parses a JWK JSON object. Private members (d, p, q, ...) make a private key; they are
 * decoded into secret memory and checked against the public members. "kty":"oct" is
 * KBS_ERR_UNSUPPORTED (no symmetric keys), RSA below 2048 bits too. jwk_from_json_text also
 * wipes the private members of its own parse tree.
 */
int jwk_from_json(const json_t *obj, struct jwk **out);
int jwk_from_json_text(const char *text, size_t len, struct jwk **out);
/* PEM: SPKI / PKCS#8 / PKCS#1 RSA / SEC1 EC, public or private. */
int jwk_from_pem(const char *pem, size_t len, struct jwk **out);
int jwk_from_pem_file(const char *path, struct jwk **out);
/* Wraps an existing key (takes a new reference on pkey). */
int jwk_from_pkey(EVP_PKEY *pkey, struct jwk **out);

/*
 * JWK JSON with members in RFC 7638 lexicographic order; private members only if asked.
 * Private exports (here and jwk_to_pem) leave secret memory: only for key files and tests.
 */
int jwk_to_json(const struct jwk *k, bool include_private, json_t **out);
/* PEM text (SPKI for public, PKCS#8 for private); malloc'ed, NUL-terminated. */
int jwk_to_pem(const struct jwk *k, bool include_private, char **out);

/* RFC 7638 SHA-256 thumbprint: raw 32 bytes and/or base64url text (44 bytes buffer). */
int jwk_thumbprint(const struct jwk *k, uint8_t raw[32], char *b64, size_t b64len);

bool jwk_is_private(const struct jwk *k);
/* "RSA", "EC", "OKP" */
const char *jwk_kty(const struct jwk *k);
/* "P-256", "P-384", "P-521", "Ed25519", or NULL for RSA */
const char *jwk_crv(const struct jwk *k);
/* The JWK "kid" member if the key was parsed from JSON with one, else NULL. */
const char *jwk_kid(const struct jwk *k);
/* The JWK "alg" member if one was given or set, else NULL. */
const char *jwk_alg(const struct jwk *k);
/* Returns a new key object sharing the key material with alg set (alg copied). */
int jwk_with_alg(const struct jwk *k, const char *alg, struct jwk **out);
/* Borrowed EVP_PKEY. */
EVP_PKEY *jwk_pkey(const struct jwk *k);
/* Public half of a private key. */
int jwk_public(const struct jwk *k, struct jwk **out);

/*
 * The TEE public key JSON exactly as the Trustee guest client serialises it in
 * runtime-data.tee-pubkey (kbs-protocol §4): EC -> {"kty","crv","alg","x","y"} in the guest's
 * member order, RSA -> {"kty","alg","n","e"}; alg must be given ("ECDH-ES+A256KW",
 * "RSA-OAEP-256", "RSA1_5"). Coordinates fixed length, unpadded base64url.
 */
int jwk_tee_pubkey_json(const struct jwk *k, const char *alg, json_t **out);

struct jwk *jwk_ref(struct jwk *k);
void jwk_free(struct jwk *k);

#endif
