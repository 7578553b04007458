/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_VERIFIER_H
#define KBS_AS_VERIFIER_H

#include <jansson.h>
#include <stdbool.h>
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
	const void *state;                /* from as_verifier.create; NULL = process-wide default */
	const json_t *evidence;           /* TEE evidence JSON */
	const uint8_t *report_data;       /* expected digest, NULL = do not check */
	size_t report_data_len;
	const uint8_t *init_data_digest;  /* NULL when no init-data was supplied */
	size_t init_data_digest_len;
};

/*
 * Verifier configuration: the AS config's "verifier_config" object (Trustee's keys where they
 * exist, kbsfs extension keys otherwise; docs/verifiers.md "Configuration"). Strings are
 * malloc'ed; NULL = unset.
 */
struct as_verifier_config {
	/* snp_verifier (also az-snp-vtpm) */
	char *snp_vcek_dir;	/* vcek_sources [{"type":"OfflineStore","path":…}] */
	char *snp_kds_url;	/* vcek_sources [{"type":"KDS","base_url":…}]; NULL = no network */
	unsigned snp_max_vmpl;	/* "max_vmpl" (extension), 0..3 */
	/* dcap_verifier (tdx, az-tdx-vtpm) */
	char *tdx_collateral_dir; /* "collateral_dir" (extension); NULL = tcb_status Unknown */
	/* tpm_verifier */
	char *tpm_trusted_ak_keys_dir;	/* "trusted_ak_keys_dir" (Trustee) */
	unsigned tpm_max_trusted_ak_keys; /* "max_trusted_ak_keys" (Trustee), 0 = 100 */
	char *tpm_ak_ca_path;		/* "ak_ca_certs" (extension): PEM bundle */
	bool tpm_allow_unverified_ak;	/* "allow_unverified_ak" (extension) */
	/* csv_verifier (all extension keys; Trustee hard-codes these) */
	char *csv_cert_dir;	/* hsk_cek_sources [{"type":"OfflineStore","path":…}] */
	char *csv_kds_url;	/* hsk_cek_sources [{"type":"KDS","base_url":…}]; NULL = no network */
	char *csv_hrk_path;	/* "hrk_path": replaces the built-in Hygon Root Key */
	/* nvidia_verifier */
	bool nvidia_remote;		/* "type": "Remote" (NRAS): accepted, evidence refused */
	char *nvidia_root_path;		/* "root_cert_path" (extension): PEM trust anchor */
};

/*
 * Reads a "verifier_config" object (NULL = not configured). Unset values fall back to the
 * documented environment variables (KBSFS_SNP_VCEK_DIR, KBSFS_SNP_KDS_URL, KBSFS_SNP_MAX_VMPL,
 * KBSFS_TDX_COLLATERAL_DIR, KBSFS_CSV_CERT_DIR, KBSFS_CSV_KDS_URL, KBSFS_CSV_HRK_PATH), then to
 * the defaults. Wrong types name the key in why.
 */
int as_verifier_config_from_json(const json_t *vc, struct as_verifier_config *cfg, char *why,
				 size_t whylen);
void as_verifier_config_release(struct as_verifier_config *cfg);

struct as_verifier {
	const char *tee;       /* wire name: "sample", "snp", ... */
	const char *tee_class; /* "cpu", "gpu", ... (EAR submod prefix, policy suffix) */
	/*
	 * Optional: builds the verifier's state from the configuration (passed back in
	 * as_verify_input.state); destroy frees it. NULL for stateless verifiers.
	 */
	int (*create)(const struct as_verifier_config *cfg, void **state, char *why,
		      size_t whylen);
	void (*destroy)(void *state);
	/* Returns KBS_OK and *claims (new reference), or an error with why filled. */
	int (*verify)(const struct as_verify_input *in, json_t **claims, char *why,
		      size_t whylen);
	/*
	 * Instead of verify, for evidence that covers several devices (NVIDIA's
	 * device_evidence_list): *devices = JSON array of {"class": "<tee class>", "claims":
	 * {...}}, one EAR submod each (Trustee's Vec<(claims, TeeClass)>).
	 */
	int (*verify_devices)(const struct as_verify_input *in, json_t **devices, char *why,
			      size_t whylen);
};

/* Looks a verifier up by TEE name; NULL if this build has none. */
const struct as_verifier *as_verifier_find(const char *tee);

/* The i-th verifier of the table (0-based); NULL past the end. */
const struct as_verifier *as_verifier_at(size_t i);

/*
 * The process-wide state of table entry v built once with its create() from the default
 * configuration and the environment fallbacks (as_verifier_config_from_json(NULL)), for a
 * verification without an attestation service (as_verify_input.state NULL). NULL, with why
 * naming the cause, when it cannot be built.
 */
const void *as_verifier_default_state(const struct as_verifier *v, char *why, size_t whylen);

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
