/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_ATTESTER_TPM_H
#define KBS_ATTESTER_TPM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * TPM 2.0 evidence through the tpm2-tss ESAPI (reference guest-components.md §4.5,
 * evidence.md §3.5, kbs-protocol.md §13.5).
 *
 * Evidence:
 *   {"ak_public":"<std b64 DER SubjectPublicKeyInfo>",
 *    "tpm_quote":{"signature":"<std b64 TPMT_SIGNATURE>","message":"<std b64 TPMS_ATTEST>",
 *                 "pcrs":["<64 hex>", ... one per quoted PCR, ascending]},
 *    "eventlog":"<std b64 firmware event log>",      (only if eventlog_path is readable)
 *    "aa_eventlog":"<std b64 AAEL file>"}              (only if aael_path is readable)
 * The two event-log members are extras: Trustee's tpm verifier ignores unknown members.
 *
 * qualifyingData = the report data truncated or zero-padded to 32 bytes (Trustee compares
 * the first 32 bytes of the runtime-data digest). RSASSA-SHA256, SHA-256 PCR bank.
 */

#define TPM_AK_HANDLE_DEFAULT 0x81010002u
#define TPM_PCR_ALL 0x00ffffffu
#define TPM_REPORT_DATA_LEN 32

struct tpm_attester_cfg {
	const char *tcti;          /* tctildr config, e.g. "device:/dev/tpm0",
				      "swtpm:host=127.0.0.1,port=2321" */
	uint32_t ak_handle;        /* persistent handle of the AK; 0 = PCR access only */
	bool create_ak;            /* create (RSA 2048, RSASSA-SHA256) + persist if absent */
	uint32_t pcr_mask;         /* bit i = quote PCR i of the SHA-256 bank */
	const char *eventlog_path; /* firmware event log, NULL = not included */
	const char *aael_path;     /* AAEL file, NULL = not included */
	uint8_t locality;          /* locality for PCR extends (0-4; PCR 17 needs 4) */
	char tcti_storage[256];    /* backing store for tcti when built from a device path */
};

struct tpm_ctx;

/*
 * Defaults as upstream, from the environment: AA_TPM_TCTI (kbsfs), else AA_TPM_DEVICE, else
 * the first of /dev/tpm0..2 ("device:<path>"); AA_TPM_AK_HANDLE (hex) else 0x81010002;
 * AA_TPM_CREATE_AK=1 allows creating the AK; AA_TPM_LOCALITY (0-4) for PCR extends; PCRs 0-23; event log from AA_TPM_EVENTLOG_PATH
 * or /sys/kernel/security/tpm0/binary_bios_measurements; AAEL from AAEL_PATH or
 * /run/attestation-agent/eventlog. The strings point into the environment, static text or
 * cfg->tcti_storage.
 */
void tpm_attester_cfg_from_env(struct tpm_attester_cfg *cfg);

/* True if a TPM interface is configured or present (no TPM command is sent). */
bool tpm_attester_detect(const struct tpm_attester_cfg *cfg);

/*
 * Connects to the TPM and loads the AK from cfg->ak_handle (creating and persisting it if
 * allowed). The AK must be an RSA signing key. cfg strings must outlive the context.
 */
int tpm_open(const struct tpm_attester_cfg *cfg, struct tpm_ctx **out);
void tpm_close(struct tpm_ctx *ctx);

/* Evidence (shape above) for report_data of any length. *evidence is a new reference. */
int tpm_evidence(struct tpm_ctx *ctx, const uint8_t *report_data, size_t len, json_t **evidence);

/* Reads PCR pcr (0..23) of the SHA-256 bank. */
int tpm_pcr_read(struct tpm_ctx *ctx, unsigned pcr, uint8_t out[32]);

/* Extends PCR pcr (0..23) of the SHA-256 bank with a 32-byte digest. */
int tpm_pcr_extend(struct tpm_ctx *ctx, unsigned pcr, const uint8_t digest[32]);

/*
 * Quote over cfg.pcr_mask (SHA-256 bank) with nonce as qualifying data, unmodified (up to 64
 * bytes). *out = {"signature","message","pcrs"}: base64 TPMT_SIGNATURE / TPMS_ATTEST for
 * az = false (tpm evidence), hex raw RSA signature / TPMS_ATTEST for az = true (Azure vTPM
 * evidence). Retried if a PCR changes between the quote and the PCR read.
 */
int tpm_quote_json(struct tpm_ctx *ctx, const uint8_t *nonce, size_t len, bool az, json_t **out);

/* Data size of NV index (KBS_ERR_NOTFOUND if undefined). */
int tpm_nv_size(struct tpm_ctx *ctx, uint32_t index, size_t *size);

/* Reads the whole NV index with owner authorization into a new malloc'ed buffer. */
int tpm_nv_read(struct tpm_ctx *ctx, uint32_t index, uint8_t **out, size_t *len);

/*
 * Writes len (1..1024) bytes at offset 0 of an owner read/write NV index, defining it (or
 * redefining it with the new size) first as Azure's guest library does.
 */
int tpm_nv_write(struct tpm_ctx *ctx, uint32_t index, const uint8_t *data, size_t len);

/* Pads (zeros) or truncates report data to the 32-byte qualifying data. */
void tpm_report_data(const uint8_t *in, size_t len, uint8_t out[TPM_REPORT_DATA_LEN]);

#endif
