/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_ATTESTER_AZ_VTPM_H
#define KBS_ATTESTER_AZ_VTPM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Azure confidential VM attester (az-snp-vtpm), reference evidence.md §4. The paravisor
 * (HCL) keeps its report in vTPM NV index 0x01400001 and regenerates it with the 64 bytes
 * the guest writes to NV index 0x01400002 as user-data; the vTPM AK at 0x81000003 quotes
 * SHA-256 PCRs 0-23 with the report data, unmodified, as nonce.
 *
 * Evidence (Trustee v2, as the current guest attester):
 *   {"version":2,"tpm_quote":{"signature":"<hex raw RSA sig>","message":"<hex TPMS_ATTEST>",
 *    "pcrs":["<hex>", x24]},"hcl_report":"<base64url padded>","vcek":"<base64url padded DER>"}
 *
 * Environment (besides the TPM ones of tpm.h): AA_TPM_AK_HANDLE overrides 0x81000003;
 * AA_AZ_REPORT_WAIT_MS (default 3000, as upstream) is the wait after the user-data write;
 * AA_AZ_VCEK_PATH names the VCEK PEM (upstream fetches it from IMDS, not implemented here).
 */

#define AZ_HCL_REPORT_NV_INDEX 0x01400001u
#define AZ_HCL_USERDATA_NV_INDEX 0x01400002u
#define AZ_VTPM_AK_HANDLE 0x81000003u
#define AZ_HCL_REPORT_TYPE_SNP 2u
#define AZ_HCL_REPORT_TYPE_TDX 4u

/*
 * Reads report_type (0x4C8) of an HCL report after checking the "HCLA" signature and that
 * the buffer holds the declared variable data. KBS_ERR_PARSE otherwise.
 */
int az_hcl_report_type(const uint8_t *buf, size_t len, uint32_t *type);

#endif
