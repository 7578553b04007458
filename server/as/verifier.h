/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_VERIFIER_H
#define KBS_AS_VERIFIER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Evidence verifiers. Each TEE is one file (verifier_<tee>.c) defining one
 * `const struct as_verifier` and one entry in the table in verifier.c.
 *
 * verify() parses and checks the evidence, compares the TEE's report-data field with the
 * expected runtime-data digest (fitted to the field as kbs-protocol §3.2 prescribes for that
 * TEE) and its init-data field with the init-data digest (§3.3), and returns the claims JSON
 * (including "report_data" and, where the TEE carries it, "init_data").
 */
struct as_verify_input {
	const json_t *evidence;           /* TEE evidence JSON */
	const uint8_t *report_data;       /* expected digest, NULL = do not check */
	size_t report_data_len;
	const uint8_t *init_data_digest;  /* NULL when no init-data was supplied */
	size_t init_data_digest_len;
};

struct as_verifier {
	const char *tee;       /* wire name: "sample", "snp", ... */
	const char *tee_class; /* "cpu", "gpu", ... (EAR submod prefix, policy suffix) */
	/* Returns KBS_OK and *claims (new reference), or an error with why filled. */
	int (*verify)(const struct as_verify_input *in, json_t **claims, char *why,
		      size_t whylen);
};

/* Looks a verifier up by TEE name; NULL if this build has none. */
const struct as_verifier *as_verifier_find(const char *tee);

/* NULL-terminated list of TEE names with a verifier (for --help and errors). */
const char *const *as_verifier_names(void);

/*
 * Fits a digest to a fixed-size report-data field the way Trustee does: zero-pad when
 * shorter, keep the leading bytes when longer. out must hold field_len bytes.
 */
void as_fit_report_data(const uint8_t *digest, size_t len, uint8_t *out, size_t field_len);

extern const struct as_verifier as_verifier_sample;
extern const struct as_verifier as_verifier_sampledevice;

#endif
