/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_HYGON_CSV_H
#define KBS_AS_HYGON_CSV_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Hygon CSV binary formats (docs/verifiers.md "Hygon CSV"), all little-endian, laid out as the
 * Hygon csv-rs crate's #[repr(C)] structs:
 *
 *   CA certificate (HRK, HSK), 832 bytes: body (576: ver, kid[16], sid[16], usage, 24 reserved,
 *     SM2 public key {group, x[72], y[72]}, uid_size u16, user_id[254], 108 reserved),
 *     signature {r[72], s[72]}, 112 reserved. Signed region: the body.
 *   CSV certificate (CEK, PEK, ...), 2084 bytes: body (1044: ver, firmware major/minor,
 *     reserved u16, key usage, key algo, SM2 public key, uid_size, user_id[254], sid[16], 608
 *     reserved) and two signature slots (520 each: usage, algo, {r, s}, 368 reserved).
 *   Attestation report, 4096 bytes: v1 (legacy, magic all zero or "ATTESTATION_EXT" with
 *     flags 0) tee_info of 0x150 bytes whose signed region is the first 180 bytes, every field
 *     XOR-masked with the 4-byte anonce; v2 (extended, "ATTESTATION_EXT" with flags 1)
 *     tee_info of 0x490 bytes, signed region the first 1024 bytes, not masked, with five SM3
 *     runtime measurement registers. Then the signer block (PEK certificate, serial number).
 *
 * Integers and key coordinates are little-endian; SM2 signatures use SM3 with the signer
 * certificate's user_id[0..uid_size] as the SM2 distinguishing identifier (Z value).
 */

#define HCSV_CA_CERT_LEN 832
#define HCSV_CA_BODY_LEN 576
#define HCSV_CERT_LEN 2084
#define HCSV_CERT_BODY_LEN 1044
#define HCSV_HSK_CEK_LEN (HCSV_CA_CERT_LEN + HCSV_CERT_LEN)
#define HCSV_REPORT_LEN 4096
#define HCSV_REPORT_V1_SIGNED 180
#define HCSV_REPORT_V2_SIGNED 1024
#define HCSV_REPORT_V1_TEE_INFO 0x150
#define HCSV_REPORT_V2_TEE_INFO 0x490

#define HCSV_USAGE_HRK 0x0000u
#define HCSV_USAGE_HSK 0x0013u
#define HCSV_USAGE_OCA 0x1001u
#define HCSV_USAGE_PEK 0x1002u
#define HCSV_USAGE_PDH 0x1003u
#define HCSV_USAGE_CEK 0x1004u
#define HCSV_ALGO_SM2_SA 0x0004u
#define HCSV_ALGO_SM2_DH 0x0005u
#define HCSV_GROUP_SM2_256 3u

struct hcsv_pubkey {
	uint32_t group;
	uint8_t x[72], y[72]; /* little-endian, the first 32 bytes used */
};

struct hcsv_sig {
	uint8_t r[72], s[72]; /* little-endian */
};

struct hcsv_ca_cert {
	uint8_t raw[HCSV_CA_CERT_LEN];
	uint32_t ver, usage;
	uint8_t kid[16], sid[16];
	struct hcsv_pubkey key;
	uint16_t uid_size; /* <= 254 (checked) */
	uint8_t uid[254];
	struct hcsv_sig sig;
};

struct hcsv_cert_sig {
	uint32_t usage, algo;
	struct hcsv_sig sig;
};

struct hcsv_cert {
	uint8_t raw[HCSV_CERT_LEN];
	uint32_t ver, key_usage, key_algo;
	uint8_t fw_major, fw_minor;
	struct hcsv_pubkey key;
	uint16_t uid_size; /* <= 254 (checked) */
	uint8_t uid[254];
	uint8_t sid[16];
	struct hcsv_cert_sig sigs[2];
};

struct hcsv_report {
	unsigned version; /* 1 or 2 */
	uint8_t raw[HCSV_REPORT_LEN];
	size_t signed_len; /* HCSV_REPORT_V1_SIGNED or HCSV_REPORT_V2_SIGNED */
	uint32_t anonce;   /* v1 only (0 for v2) */
	/* plaintext values (the v1 anonce mask removed) */
	uint8_t user_pubkey_digest[32], vm_id[16], vm_version[16], report_data[64], mnonce[16],
	    measure[32];
	uint32_t policy, sig_usage, sig_algo;
	/* v2 only */
	uint32_t build;
	uint16_t rtmr_version;
	uint8_t reserved0[14];
	uint8_t rtmr[5][32];
	uint8_t reserved1[656];
	struct hcsv_sig sig;
};

/* Parses an 832-byte CA certificate. KBS_ERR_PARSE (why filled) on a wrong length/uid_size. */
int hcsv_ca_cert_parse(const uint8_t *p, size_t len, struct hcsv_ca_cert *c, char *why,
		       size_t whylen);

/* Parses a 2084-byte CSV certificate. */
int hcsv_cert_parse(const uint8_t *p, size_t len, struct hcsv_cert *c, char *why, size_t whylen);

/* Parses the KDS hsk_cek answer: exactly an HSK (CA format) followed by a CEK (CSV format). */
int hcsv_hsk_cek_parse(const uint8_t *p, size_t len, struct hcsv_ca_cert *hsk,
		       struct hcsv_cert *cek, char *why, size_t whylen);

/*
 * Parses a report from the wrapper's magic (16 bytes) and flags and its 4096-byte data.
 * Unknown magic/flags combinations are KBS_ERR_PARSE.
 */
int hcsv_report_parse(const uint8_t magic[16], uint32_t flags, const uint8_t *data, size_t len,
		      struct hcsv_report *r, char *why, size_t whylen);

/*
 * The serde JSON forms the guest attester sends (csv-rs structs serialized by serde_json:
 * nested objects, byte arrays as arrays of integers). Each is re-encoded to the binary form
 * (every field present, byte arrays of the exact length) and parsed as above.
 */
int hcsv_ca_cert_from_json(const json_t *j, struct hcsv_ca_cert *c, char *why, size_t whylen);
int hcsv_cert_from_json(const json_t *j, struct hcsv_cert *c, char *why, size_t whylen);
/* The reverse: the serde JSON form of a parsed certificate (NULL on allocation failure). */
json_t *hcsv_ca_cert_to_json(const struct hcsv_ca_cert *c);
json_t *hcsv_cert_to_json(const struct hcsv_cert *c);
/* {"magic":[16 bytes],"flags":u32,"data":[4096 bytes]} */
int hcsv_report_from_json(const json_t *j, struct hcsv_report *r, char *why, size_t whylen);

/*
 * SM2-with-SM3 verification of sig over msg with key and distinguishing identifier uid.
 * KBS_OK, KBS_ERR_VERIFY (bad signature), KBS_ERR_UNSUPPORTED (group not SM2-256) or
 * KBS_ERR_CRYPTO (key not on the curve).
 */
int hcsv_sm2_verify(const struct hcsv_pubkey *key, const uint8_t *uid, size_t uid_len,
		    const uint8_t *msg, size_t msg_len, const struct hcsv_sig *sig);

/*
 * Chain steps, with csv-rs's rules. CA by CA (HRK self, HRK -> HSK): the signer's usage is
 * HRK, the subject's sid equals the signer's kid. CSV cert by CA (HSK -> CEK) or by CSV cert
 * (CEK -> PEK): one signature slot whose usage and algorithm equal the signer key's verifies.
 * Report by PEK: the PEK's key usage is PEK. KBS_ERR_VERIFY with why on failure.
 */
int hcsv_verify_ca_by_ca(const struct hcsv_ca_cert *signer, const struct hcsv_ca_cert *subj,
			 char *why, size_t whylen);
int hcsv_verify_cert_by_ca(const struct hcsv_ca_cert *signer, const struct hcsv_cert *subj,
			   char *why, size_t whylen);
int hcsv_verify_cert_by_cert(const struct hcsv_cert *signer, const struct hcsv_cert *subj,
			     char *why, size_t whylen);
int hcsv_verify_report(const struct hcsv_cert *pek, const struct hcsv_report *r, char *why,
		       size_t whylen);

/* The built-in Hygon Root Key certificate (HCSV_CA_CERT_LEN bytes; hygon_hrk.c). */
extern const uint8_t hcsv_builtin_hrk[HCSV_CA_CERT_LEN];

#endif
