/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_TPM_QUOTE_H
#define KBS_AS_TPM_QUOTE_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

/*
 * TPM 2.0 quote structures (evidence.md §3.1-3.3; TPM 2.0 Part 2), big-endian:
 * TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE and TPMT_SIGNATURE. The parsers keep pointers into
 * the caller's buffer and require the whole input to be consumed.
 */

#define TPM_GENERATED_VALUE 0xFF544347u
#define TPM_ST_ATTEST_QUOTE 0x8018u

#define TPM_ALG_SHA1 0x0004u
#define TPM_ALG_SHA256 0x000Bu
#define TPM_ALG_SHA384 0x000Cu
#define TPM_ALG_SHA512 0x000Du
#define TPM_ALG_SM3_256 0x0012u
#define TPM_ALG_RSASSA 0x0014u
#define TPM_ALG_RSAPSS 0x0016u
#define TPM_ALG_ECDSA 0x0018u

#define TPM_MAX_BANKS 8
#define TPM_PCR_SELECT_MAX 4 /* bytes of a selection bitmap: PCRs 0..31 */

struct tpm_pcr_bank_sel {
	uint16_t alg;
	uint8_t size;			     /* sizeofSelect */
	uint8_t bits[TPM_PCR_SELECT_MAX]; /* byte i bit j = PCR 8i+j */
};

struct tpm_attest {
	uint32_t magic;
	uint16_t type;
	const uint8_t *signer; /* qualifiedSigner (TPM2B_NAME content) */
	size_t signer_len;
	const uint8_t *extra; /* extraData: the nonce */
	size_t extra_len;
	uint64_t clock;
	uint32_t reset_count, restart_count;
	uint8_t safe;
	uint64_t firmware_version;
	uint32_t nbanks;
	struct tpm_pcr_bank_sel banks[TPM_MAX_BANKS];
	const uint8_t *pcr_digest;
	size_t pcr_digest_len;
};

struct tpm_signature {
	uint16_t sig_alg;  /* TPM_ALG_RSASSA, _RSAPSS or _ECDSA */
	uint16_t hash_alg; /* TPM_ALG_SHA* */
	const uint8_t *sig; /* RSA: the signature; ECDSA: r */
	size_t sig_len;
	const uint8_t *s; /* ECDSA: s */
	size_t s_len;
};

/*
 * Parses a TPMS_ATTEST quote: magic TPM_GENERATED_VALUE, type TPM_ST_ATTEST_QUOTE, at most
 * TPM_MAX_BANKS selections of at most TPM_PCR_SELECT_MAX bytes, nothing after pcrDigest.
 * why names the failed field.
 */
int tpm_attest_parse(const uint8_t *p, size_t len, struct tpm_attest *a, char *why,
		     size_t whylen);

/* Parses a TPMT_SIGNATURE (RSASSA, RSAPSS or ECDSA with a SHA hash); the whole input. */
int tpm_signature_parse(const uint8_t *p, size_t len, struct tpm_signature *s, char *why,
			size_t whylen);

/* Digest of a TPM hash algorithm id; NULL if not a supported SHA. */
const EVP_MD *tpm_alg_md(uint16_t alg);

/* Digest length of a TPM hash algorithm id (SHA-1/256/384/512, SM3-256); 0 if unknown. */
size_t tpm_alg_len(uint16_t alg);

/*
 * Verifies sig over msg with the AK public key. The scheme must suit the key (RSASSA or
 * RSAPSS for an RSA key, ECDSA for an EC key); RSA-PSS accepts any salt length.
 */
int tpm_signature_verify(EVP_PKEY *ak, const struct tpm_signature *sig, const uint8_t *msg,
			 size_t len, char *why, size_t whylen);

/* Number of PCRs selected in a bank and their indexes (ascending) in idx[32]. */
unsigned tpm_bank_pcrs(const struct tpm_pcr_bank_sel *b, unsigned idx[32]);

#endif
