/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_ATTESTER_AAEL_H
#define KBS_ATTESTER_AAEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/*
 * Attestation Agent Event Log (reference guest-components.md §5).
 *
 * Entry text "<domain> <operation> <content>"; one TCG crypto-agile record per entry
 * (little-endian): PCRIndex u32, EventType 6 (EV_EVENT_TAG), DigestCount 1, AlgorithmId u16,
 * digest, EventSize u32 = 8 + n, TaggedEventID 0x4141454C, TaggedEventSize n, text.
 * digest = H(tagged event = the 8-byte tag header ‖ text). The register is extended with the
 * digest; a write-ahead file makes extend + append atomic across crashes (§5.5).
 */

#define AAEL_EV_EVENT_TAG 6u
#define AAEL_TAGGED_EVENT_ID 0x4141454Cu
#define AAEL_ALG_SHA256 0x000Bu
#define AAEL_ALG_SHA384 0x000Cu
#define AAEL_ALG_SHA512 0x000Du
#define AAEL_DIGEST_MAX 64
#define AAEL_TEXT_MAX (64u << 10) /* longest entry text we write or accept */
#define AAEL_LOG_PATH_DEFAULT "/run/attestation-agent/eventlog"
#define AAEL_WAL_NAME ".wal_event_entry"
#define AAEL_CCEL_PATH_DEFAULT "/sys/firmware/acpi/tables/data/CCEL"

/* Digest length of an algorithm id (0 if unsupported). */
size_t aael_alg_len(uint16_t alg);

/*
 * Validates an entry (kbsfs' stricter rule, §5.1/§11 #7): domain and operation non-empty,
 * printable ASCII without whitespace; content printable (UTF-8 allowed) without control
 * characters; total text ≤ AAEL_TEXT_MAX. KBS_ERR_INVAL otherwise.
 */
int aael_entry_check(const char *domain, const char *operation, const char *content);

/* The TCG record for one entry; digest (alg length) returned too if non-NULL. */
int aael_record(uint32_t pcr_index, uint16_t alg, const char *text, size_t textlen,
		struct buf *out, uint8_t *digest);

/* One parsed record (pointers into the parsed buffer). */
struct aael_event {
	uint32_t pcr_index;
	uint16_t alg;
	const uint8_t *digest;
	size_t digest_len;
	const uint8_t *text;
	size_t text_len;
};

/*
 * Walks an AAEL file image: calls cb for each record (cb may be NULL; a non-zero return
 * stops the walk and is returned). KBS_ERR_PARSE on a malformed or truncated record, a
 * record that is not a tagged AAEL event, or a digest that does not match its text.
 */
int aael_parse(const uint8_t *p, size_t len, int (*cb)(const struct aael_event *, void *),
	       void *arg);

/*
 * Replays the records for pcr_index into reg (digest length of alg, initial value given):
 * reg = H(reg ‖ digest) for each. Records of another algorithm are an error.
 */
int aael_replay(const uint8_t *p, size_t len, uint32_t pcr_index, uint16_t alg, uint8_t *reg);

/* Register backend: read / extend one measurement register with a digest of len bytes. */
struct aael_register {
	int (*read)(void *arg, uint8_t *out, size_t len);
	int (*extend)(void *arg, const uint8_t *digest, size_t len);
	void *arg;
};

struct aael;

/*
 * Opens the log (created if missing, parent directory created 0700) and runs write-ahead
 * recovery from "<dir of log>/.wal_event_entry" (§5.5). record_pcr = PCRIndex written into
 * records (TDX: CCMR index, TPM: the PCR). KBS_ERR_VERIFY if the WAL cannot be reconciled
 * with the register, KBS_ERR_PARSE if the WAL is malformed.
 */
int aael_open(const char *log_path, uint16_t alg, uint32_t record_pcr,
	      const struct aael_register *reg, struct aael **out);
void aael_close(struct aael *a);

/* Validates, measures, logs one entry (read, WAL, extend, append + fdatasync, drop WAL). */
int aael_extend(struct aael *a, const char *domain, const char *operation, const char *content);

/*
 * Builds the TDX/CSV cc_eventlog (§5.6): trimmed CCEL (or EL_HEADER if there is none but
 * an AAEL exists), then the AAEL file, then 8 × 0xFF, standard base64. *b64 = NULL when
 * neither exists (JSON null). NULL paths = defaults ("" = none).
 */
int aael_cc_eventlog(const char *ccel_path, const char *aael_path, char **b64);

/* Length of the CCEL prefix kept by the trimming rule of §5.6 step 1. */
int aael_ccel_trim(const uint8_t *p, size_t len, size_t *keep);

/* PCR → CC measurement register index on TDX (§4.3): 1,7→1; 2-6→2; 8-15→3; else 4. */
unsigned aael_tdx_ccmr(unsigned pcr);

/* The fixed 69-byte EV_NO_ACTION header used when there is no CCEL. */
extern const uint8_t aael_el_header[69];

#endif
