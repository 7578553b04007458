/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_ATTESTER_ATTESTER_H
#define KBS_ATTESTER_ATTESTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Guest evidence. One file per TEE (attester/<tee>.c) provides a struct attester_ops; the
 * table in attester.c lists them in detection order. Evidence JSON has exactly the shape the
 * Trustee verifier for that TEE expects (reference guest-components.md §4).
 *
 * The sample TEE is never detected: it is a software stand-in and is only used when a caller
 * names it explicitly (see attester_select()).
 */
enum attester_tee {
	ATTESTER_TEE_NONE = 0,
	ATTESTER_TEE_SAMPLE,
	ATTESTER_TEE_SNP,
	ATTESTER_TEE_TDX,
	ATTESTER_TEE_TPM,
	ATTESTER_TEE_AZ_SNP_VTPM,
	ATTESTER_TEE_AZ_TDX_VTPM,
	ATTESTER_TEE__COUNT
};

/* Per-TEE implementation (attester/<tee>.c). */
struct attester_ops {
	enum attester_tee tee;
	const char *name;          /* wire name used in /auth ("sample", "snp", ...) */
	bool hardware;             /* false for the sample TEE: never auto-detected */
	size_t report_data_max;    /* longest accepted report data (0 = any length) */
	/* True if this TEE's device interface is present on this machine. */
	bool (*detect)(void);
	/* Evidence for the raw report data (the TEE fits it to its field itself). */
	int (*get_evidence)(const uint8_t *report_data, size_t len, json_t **evidence);
};

/* Wire name of a TEE ("sample", "snp", ...); "none" for ATTESTER_TEE_NONE. */
const char *attester_tee_name(enum attester_tee tee);

/* Parses a wire name; KBS_ERR_NOTFOUND if unknown. */
int attester_tee_from_name(const char *name, enum attester_tee *out);

/* True if an implementation for tee is compiled in. */
bool attester_supported(enum attester_tee tee);

/*
 * First hardware TEE whose device interface is present, in table order, or
 * ATTESTER_TEE_NONE. Never returns ATTESTER_TEE_SAMPLE.
 */
enum attester_tee attester_detect(void);

/*
 * Chooses the TEE for a configuration value: "auto" (or NULL/empty) = attester_detect(),
 * falling back to sample only if allow_sample; a TEE name = that TEE (sample requires
 * allow_sample, KBS_ERR_PERM otherwise). KBS_ERR_UNSUPPORTED when nothing usable exists,
 * KBS_ERR_INVAL for an unknown name.
 */
int attester_select(const char *tee_cfg, bool allow_sample, enum attester_tee *out);

/*
 * Evidence for report_data (the raw runtime-data digest, 32/48/64 bytes in the KBS flow;
 * each TEE pads or truncates as its verifier expects). *evidence is a new reference.
 * KBS_ERR_RANGE if the TEE cannot carry len bytes, KBS_ERR_UNSUPPORTED if not compiled in.
 */
int attester_get_evidence(enum attester_tee tee, const uint8_t *report_data, size_t len,
			  json_t **evidence);

#endif
