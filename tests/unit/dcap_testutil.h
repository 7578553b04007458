/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_TESTS_DCAP_TESTUTIL_H
#define KBS_TESTS_DCAP_TESTUTIL_H

/*
 * DCAP quote surgery shared by the SGX and TDX verifier tests: the PEM certificates of a
 * quote's PCK chain, the quote rebuilt around another chain text, and a self-signed "Intel
 * SGX Root CA" with a key of our own. Include after cmocka.h (failures are cmocka asserts).
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/as/dcap_quote.h"

/* The idx-th certificate (0 = PCK leaf) of the PCK chain of quote q, as malloc'ed PEM text. */
static inline char *dcap_test_chain_cert(const uint8_t *q, size_t n, uint32_t tee, int idx)
{
	static const char end[] = "-----END CERTIFICATE-----\n";
	struct dcap_quote tq;
	char why[256];
	const char *p, *e;
	char *out;

	assert_int_equal(dcap_quote_parse(q, n, tee, &tq, why, sizeof(why)), KBS_OK);
	p = (const char *)tq.pck_chain;
	for (int i = 0; i < idx; i++)
		p = strstr(p + 1, "-----BEGIN CERTIFICATE-----");
	e = strstr(p, "-----END CERTIFICATE-----") + strlen(end);
	out = calloc(1, (size_t)(e - p) + 1);
	assert_non_null(out);
	memcpy(out, p, (size_t)(e - p));
	return out;
}

/* Adds d to the little-endian 32-bit length at o + off. */
static inline void dcap_test_add32(uint8_t *o, size_t off, long d)
{
	uint32_t x = (uint32_t)(o[off] | o[off + 1] << 8 | o[off + 2] << 16 |
				(uint32_t)o[off + 3] << 24) +
		     (uint32_t)d;

	for (int k = 0; k < 4; k++)
		o[off + k] = (uint8_t)(x >> (8 * k));
}

/*
 * Quote q of TEE tee rebuilt with pem as its PCK chain text: the chain's own length and the
 * signature data length follow the new size, and for TDX (version 4) also the QE
 * certification data (type 6) that wraps the chain, after the signature, key and type.
 */
static inline uint8_t *dcap_test_with_chain(const uint8_t *q, size_t n, uint32_t tee,
					    const char *pem, size_t *outlen)
{
	struct dcap_quote tq;
	char why[256];
	size_t pre, pl = strlen(pem), old;
	uint8_t *o;
	long delta;

	assert_int_equal(dcap_quote_parse(q, n, tee, &tq, why, sizeof(why)), KBS_OK);
	pre = (size_t)(tq.pck_chain - q);
	old = (size_t)(q[pre - 4] | q[pre - 3] << 8 | q[pre - 2] << 16 | (size_t)q[pre - 1] << 24);
	delta = (long)pl - (long)old;
	*outlen = pre + pl;
	o = calloc(1, *outlen);
	assert_non_null(o);
	memcpy(o, q, pre);
	memcpy(o + pre, pem, pl);
	dcap_test_add32(o, pre - 4, delta);
	if (tee == DCAP_TEE_TDX)
		dcap_test_add32(o, tq.signed_len + 4 + 130, delta);
	dcap_test_add32(o, tq.signed_len, delta);
	return o;
}

/* A self-signed "Intel SGX Root CA" (P-256, a key of our own) as malloc'ed PEM text. */
static inline char *dcap_test_foreign_root(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *nm = X509_NAME_new();
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out;
	long l;

	assert_true(k && x && nm && b);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
				   (const unsigned char *)"Intel SGX Root CA", -1, -1, 0);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_set_subject_name(x, nm);
	X509_set_issuer_name(x, nm);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365 * 30);
	X509_set_pubkey(x, k);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	PEM_write_bio_X509(b, x);
	l = BIO_get_mem_data(b, &data);
	out = calloc(1, (size_t)l + 1);
	assert_non_null(out);
	memcpy(out, data, (size_t)l);
	BIO_free(b);
	X509_NAME_free(nm);
	X509_free(x);
	EVP_PKEY_free(k);
	return out;
}

#endif
