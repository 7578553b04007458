/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_ATTESTER_TSM_H
#define KBS_ATTESTER_TSM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/*
 * configfs-tsm reports (Linux ≥ 6.7, /sys/kernel/config/tsm/report) for SEV-SNP and TDX
 * (reference guest-components.md §4.3/§4.4, evidence.md §1.7/§2.8).
 *
 * One report = mkdir a fresh entry; provider must read "<provider>\n"; write the 64-byte
 * report data to inblob; read outblob (and auxblob for SNP certificates); read generation:
 * a value other than 1 means another writer used the entry in between (KBS_ERR_BUSY); rmdir.
 *
 * Evidence:
 * SNP falls back to SNP_GET_EXT_REPORT on /dev/sev-guest when the report root is missing.
 *
 *   snp: {"attestation_report": {…Trustee/sev serde form…}, "cert_chain": null | [{"cert_type":
 *         "ARK"|"ASK"|"VCEK"|"VLEK"|"CRL"|{"OTHER":"<uuid>"}, "data": [bytes]}, …]}
 *   tdx: {"cc_eventlog": "<std b64>" | null, "quote": "<std b64 of outblob>"}
 */

#define TSM_REPORT_ROOT_DEFAULT "/sys/kernel/config/tsm/report"
#define TSM_REPORT_DATA_LEN 64

struct tsm_cfg {
	const char *root;       /* report directory; NULL = TSM_REPORT_ROOT_DEFAULT */
	const char *ccel_path;  /* TDX: ACPI CCEL table (NULL = default, "" = none) */
	const char *aael_path;  /* TDX: AAEL file (NULL = default, "" = none) */
	/*
	 * Test hooks (NULL = mkdir(2)/rmdir(2)): a fake tree in tests needs to populate the entry
	 * the way configfs does when it is created, and to remove it again.
	 */
	int (*mkdir_fn)(const char *path, void *arg);
	int (*rmdir_fn)(const char *path, void *arg);
	void *hook_arg;
	/*
	 * SNP without configfs-tsm: the legacy /dev/sev-guest ioctl (sev_guest.h). sev_device
	 * NULL = /dev/sev-guest; sev_ioctl_fn is a test hook (called with hook_arg).
	 */
	const char *sev_device;
	int (*sev_ioctl_fn)(int fd, unsigned long req, void *arg, void *hook_arg);
};

/* Defaults from the environment: AA_TSM_REPORT_ROOT, AA_CCEL_PATH, AAEL_PATH. */
void tsm_cfg_from_env(struct tsm_cfg *cfg);

/*
 * One report from provider ("sev_guest", "tdx_guest"): report_data (≤ 64 bytes, zero-padded)
 * into inblob; outblob (and auxblob if aux != NULL; missing auxblob = empty) appended to
 * the buffers. KBS_ERR_RANGE if report_data is longer than 64 bytes, KBS_ERR_UNSUPPORTED if
 * the provider differs, KBS_ERR_BUSY on a generation race, KBS_ERR_NOTFOUND if root is
 * missing.
 */
int tsm_report(const struct tsm_cfg *cfg, const char *provider, const uint8_t *report_data,
	       size_t len, struct buf *out, struct buf *aux);

/* Provider name of a fresh entry under cfg->root (without the newline), for detection. */
int tsm_provider(const struct tsm_cfg *cfg, char *out, size_t outlen);

/* Evidence JSON of the SNP / TDX attester through configfs-tsm (shapes above). */
int tsm_snp_evidence(const struct tsm_cfg *cfg, const uint8_t *report_data, size_t len,
		     json_t **evidence);
int tsm_tdx_evidence(const struct tsm_cfg *cfg, const uint8_t *report_data, size_t len,
		     json_t **evidence);

/*
 * The SNP certificate table (auxblob / extended report) as Trustee's cert_chain array, sorted
 * by type; an empty table gives JSON null. KBS_ERR_PARSE if malformed.
 */
int tsm_snp_cert_chain(const uint8_t *table, size_t len, json_t **out);

#endif
