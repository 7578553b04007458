/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_X509UTIL_H
#define KBS_AS_X509UTIL_H

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Small X.509 / DER helpers shared by the evidence verifiers (SNP VCEK/VLEK chains, TDX PCK
 * chains). Certificates are OpenSSL X509 objects owned by the caller (X509_free).
 */

/* Parses one DER certificate; the whole input must be the certificate. NULL on error. */
X509 *x509u_from_der(const uint8_t *der, size_t len);

/* Parses PEM if the input starts with "-----BEGIN CERTIFICATE-----", else DER. */
X509 *x509u_from_pem_or_der(const uint8_t *p, size_t len);

/*
 * Parses up to max PEM certificates from text (in order) into out[], *n = count.
 * Returns KBS_ERR_PARSE if a block does not parse or more than max are present.
 */
int x509u_pem_chain(const char *pem, size_t len, X509 **out, size_t max, size_t *n);

/* KBS_OK if cert's signature verifies with issuer's public key, else KBS_ERR_VERIFY. */
int x509u_signed_by(X509 *cert, X509 *issuer);

/* Same, with a bare public key. */
int x509u_signed_by_key(X509 *cert, EVP_PKEY *key);

/*
 * Finds the extension with the dotted OID and returns the content of its extnValue
 * OCTET STRING (borrowed from cert). KBS_ERR_NOTFOUND if absent.
 */
int x509u_ext(X509 *cert, const char *oid, const uint8_t **val, size_t *len);

/* Subject CN into out (NUL-terminated); KBS_ERR_NOTFOUND if none, KBS_ERR_RANGE if too long. */
int x509u_subject_cn(X509 *cert, char *out, size_t outlen);

/* SHA-256 of the DER encoding. */
int x509u_sha256(X509 *cert, uint8_t out[32]);

/* KBS_OK if now lies within notBefore..notAfter, else KBS_ERR_EXPIRED. */
int x509u_check_time(X509 *cert, time_t now);

/*
 * DER reader: reads one TLV at *p (before end). Only definite lengths of up to 4 bytes and
 * single-byte tags are accepted. On success *p points behind the element.
 */
int x509u_der_next(const uint8_t **p, const uint8_t *end, uint8_t *tag, const uint8_t **val,
		   size_t *len);

/* Decodes a DER INTEGER TLV (the whole input) as a non-negative value < 2^32. */
int x509u_der_uint(const uint8_t *p, size_t len, uint32_t *out);

/* Decodes the content of an INTEGER (no tag/length) as a non-negative value < 2^32. */
int x509u_int_content(const uint8_t *p, size_t len, uint32_t *out);

/* Dotted text of a DER OBJECT IDENTIFIER content (no tag/length). */
int x509u_oid_text(const uint8_t *p, size_t len, char *out, size_t outlen);

/* Raw ECDSA r||s (each n bytes, big-endian) to a DER ECDSA-Sig-Value; *der is OPENSSL_malloc'ed. */
int x509u_ecdsa_raw_to_der(const uint8_t *r, const uint8_t *s, size_t n, int little_endian,
			   uint8_t **der, size_t *derlen);

/* Verifies a DER ECDSA signature over data with key and digest md ("SHA256", "SHA384"). */
int x509u_verify_ecdsa(EVP_PKEY *key, const char *md, const uint8_t *data, size_t len,
		       const uint8_t *der, size_t derlen);

/* P-256 public key from a raw 64-byte X||Y point. */
EVP_PKEY *x509u_p256_from_xy(const uint8_t xy[64]);

#endif
