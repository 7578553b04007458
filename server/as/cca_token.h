/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_CCA_TOKEN_H
#define KBS_AS_CCA_TOKEN_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Arm CCA attestation token (RMM spec, CCA platform token profile): CBOR tag 399 map
 * {44234: platform token, 44241: realm token}, each a byte string holding a COSE_Sign1
 * (tag 18). All pointers point into the caller's buffer.
 */

struct cca_bytes {
	const uint8_t *p;
	size_t len;
};

struct cca_sign1 {
	int64_t alg; /* COSE alg: -7 ES256, -35 ES384, -36 ES512 */
	struct cca_bytes prot, payload, sig;
};

struct cca_token {
	struct cca_sign1 platform, realm;
	/* platform claims */
	struct cca_bytes p_profile, p_challenge, p_impl_id, p_inst_id, p_config, p_hash_alg,
	    p_verification_service;
	int64_t p_lifecycle;
	/* realm claims */
	struct cca_bytes r_challenge, r_rpv, r_rak, r_rak_hash_alg, r_hash_alg, r_rim, r_rem[4];
};

/* Parses the token and both claim sets; why names the offending item. */
int cca_token_parse(const uint8_t *buf, size_t len, struct cca_token *t, char *why, size_t whylen);

/* COSE_Sign1 signature check (Sig_structure "Signature1", empty external AAD) with key. */
int cca_sign1_verify(const struct cca_sign1 *s, EVP_PKEY *key);

/* EC public key from an uncompressed SEC1 point (65, 97 or 133 bytes: P-256/384/521). */
EVP_PKEY *cca_ec_point_key(const uint8_t *p, size_t len);

#endif
