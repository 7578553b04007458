/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_TCG_EVENTLOG_H
#define KBS_AS_TCG_EVENTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * TCG PC Client "crypto agile" event logs (evidence.md §3.4; TCG PC Client Platform Firmware
 * Profile §10), little-endian: the firmware log (binary_bios_measurements: a SHA-1-format
 * header event carrying "Spec ID Event03", then TCG_PCR_EVENT2 records) and the Attestation
 * Agent event log (AAEL: TCG_PCR_EVENT2 records only, EV_EVENT_TAG "AAEL" events).
 *
 * Replay into a bank of 24 PCRs: PCR = H(PCR || digest) for every event of the chosen
 * algorithm that is not EV_NO_ACTION. A StartupLocality EV_NO_ACTION event sets PCR 0's
 * initial value (last byte = locality).
 */

#define TCG_EV_NO_ACTION 0x00000003u
#define TCG_EV_EVENT_TAG 0x00000006u
#define TCG_AAEL_TAG 0x4141454Cu
#define TCG_EVENTLOG_MAX_EVENTS 100000
#define TCG_NPCRS 24
#define TCG_MAX_ALGS 16

/*
 * Walk over the TCG_PCR_EVENT2 records of a log, shared by the PCR replays below and the TDX
 * CC event log (tdx_ccel.c). Every length is bounds-checked against the buffer.
 */
struct tcg_log {
	const uint8_t *log;
	size_t len, off;
	bool marker;	  /* an all-zero / all-0xFF 8-byte marker ends the log (firmware logs) */
	const char *what; /* prefix of the refusal texts ("event log", "tdx event log") */
	uint32_t nalgs;
	struct {
		uint16_t id, size;
	} algs[TCG_MAX_ALGS]; /* digest sizes: the spec-ID header's, or the known ones */
};

struct tcg_event {
	size_t off; /* offset of the record in the log */
	uint32_t index, type;
	const uint8_t *digest; /* digest of the algorithm asked for; NULL if the record has none */
	const uint8_t *data;
	size_t dlen;
};

/*
 * Starts a firmware-format log: reads the spec-ID header event (SHA-1 format, "Spec ID
 * Event03", up to TCG_MAX_ALGS digest sizes); the records follow it and end at len or at an
 * all-zero / all-0xFF 8-byte marker. KBS_ERR_PARSE (why) for a bad header.
 */
int tcg_log_begin(struct tcg_log *l, const uint8_t *log, size_t len, const char *what, char *why,
		  size_t whylen);

/* Starts a headerless log (AAEL): SHA-1/256/384/512 digest sizes, records until len. */
void tcg_log_begin_headerless(struct tcg_log *l, const uint8_t *log, size_t len, const char *what);

/* Digest size of algorithm alg in this log; 0 if the log does not carry it. */
size_t tcg_log_digest_size(const struct tcg_log *l, uint16_t alg);

/*
 * Reads the next record into ev (ev->digest: the alg digest, which must be dsize bytes long).
 * KBS_ERR_NOTFOUND at the end of the log; KBS_ERR_PARSE (why) for a malformed record or stray
 * bytes after the last one.
 */
int tcg_log_next(struct tcg_log *l, uint16_t alg, size_t dsize, struct tcg_event *ev, char *why,
		 size_t whylen);

struct tcg_replay {
	uint16_t alg;		       /* TPM hash algorithm id of the bank replayed */
	size_t dlen;		       /* its digest length */
	uint8_t pcr[TCG_NPCRS][64];    /* running values (set the initial values before) */
	uint32_t touched;	       /* bit i: an event extended PCR i */
	size_t nevents;		       /* events seen (all logs) */
	bool pcr0_extended;
};

/*
 * Initialises r for bank alg: PCRs 0-16 and 23 zero, 17-22 all 0xFF (their value after
 * TPM2_Startup without a dynamic launch). KBS_ERR_UNSUPPORTED for an unknown algorithm.
 */
int tcg_replay_init(struct tcg_replay *r, uint16_t alg);

/*
 * Parses and replays a firmware event log (with the spec-ID header). The log ends at len or at
 * an all-zero / all-0xFF 8-byte marker. why names the problem.
 */
int tcg_replay_firmware_log(struct tcg_replay *r, const uint8_t *log, size_t len, char *why,
			    size_t whylen);

/*
 * Parses and replays an AAEL (headerless TCG_PCR_EVENT2 records). Every record must be an
 * EV_EVENT_TAG "AAEL" event whose digest is H(tagged event) (8-byte tag header || text).
 */
int tcg_replay_aael(struct tcg_replay *r, const uint8_t *log, size_t len, char *why,
		    size_t whylen);

#endif
