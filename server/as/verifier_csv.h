/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_VERIFIER_CSV_H
#define KBS_AS_VERIFIER_CSV_H

#include <jansson.h>

#include "server/as/verifier.h"

/*
 * Hygon CSV verifier (kbs-protocol §13; docs/verifiers.md "Hygon CSV"). Evidence (Trustee's
 * CsvEvidence): {"attestation_report": {"magic","flags","data"}, "cert_chain": {"pek": <CSV
 * cert>, "hsk_cek": {"hsk","cek"} (optional)}, "serial_number": [bytes], "cc_eventlog":
 * "<base64>" (optional)}. Checks, each named in why when it fails: report and certificate
 * formats; HSK and CEK from the evidence, else the offline store
 * <cert_dir>/hsk_cek/<chip id>/hsk_cek.cert, else the Hygon KDS (<kds_url>/hsk_cek?snumber=<chip
 * id>, only when configured; the answer is cached in the store once it verifies); HRK
 * self-signature, HRK -> HSK -> CEK -> PEK -> report SM2/SM3 signatures; report data (64
 * bytes, zero-padded digest); for v2 reports a cc_eventlog replayed with SM3 must give RTMR1-4.
 * Init-data is not bound (Trustee: CSV has no init-data field; a warning is logged).
 */

struct csv_verifier_config {
	const char *cert_dir; /* offline store root; NULL = none */
	const char *kds_url;  /* e.g. "https://cert.hygon.cn"; NULL = never fetch */
	const char *hrk_path; /* 832-byte HRK file replacing the built-in one; NULL = built-in */
};

struct csv_verifier;

/* Loads and self-checks the root. KBS_ERR_VERIFY/KBS_ERR_IO/KBS_ERR_PARSE with why. */
int csv_verifier_new(const struct csv_verifier_config *cfg, struct csv_verifier **out, char *why,
		     size_t whylen);
void csv_verifier_free(struct csv_verifier *v);

/* The whole check; claims as Trustee names them (version, policy{…}, measure, …). */
int csv_verifier_verify(const struct csv_verifier *v, const struct as_verify_input *in,
			json_t **claims, char *why, size_t whylen);

extern const struct as_verifier as_verifier_csv;

#endif
