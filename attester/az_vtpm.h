/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_ATTESTER_AZ_VTPM_H
#define KBS_ATTESTER_AZ_VTPM_H

#include <stddef.h>
#include <stdint.h>

#include "attester/az_imds.h"

/*
 * Azure confidential VM attesters (az-snp-vtpm, az-tdx-vtpm), reference evidence.md §4. The paravisor
 * (HCL) keeps its report in vTPM NV index 0x01400001 and regenerates it with the 64 bytes
 * the guest writes to NV index 0x01400002 as user-data; the vTPM AK at 0x81000003 quotes
 * SHA-256 PCRs 0-23 with the report data, unmodified, as nonce.
 *
 * Evidence (Trustee v2, as the current guest attester):
 *   {"version":2,"tpm_quote":{"signature":"<hex raw RSA sig>","message":"<hex TPMS_ATTEST>",
 *    "pcrs":["<hex>", x24]},"hcl_report":"<base64url padded>","vcek":"<base64url padded DER>"}
 *
 * az-tdx-vtpm (Trustee v2 as well): the HCL report carries the 1024-byte TDREPORT at 0x20;
 * Azure IMDS turns it into a TD quote (az_imds.h):
 *   {"version":2,"tpm_quote":{…as above…},"hcl_report":"<base64url padded>",
 *    "td_quote":"<base64url padded>"}
 *
 * Environment (besides the TPM ones of tpm.h): AA_TPM_AK_HANDLE overrides 0x81000003;
 * AA_AZ_REPORT_WAIT_MS (default 3000, as upstream) is the wait after the user-data write;
 * AA_AZ_VCEK_PATH names a VCEK PEM file (default: fetched from IMDS as upstream does);
 * AA_AZ_IMDS_URL replaces the IMDS base URL http://169.254.169.254.
 */

#define AZ_HCL_REPORT_NV_INDEX 0x01400001u
#define AZ_HCL_USERDATA_NV_INDEX 0x01400002u
#define AZ_VTPM_AK_HANDLE 0x81000003u
#define AZ_HCL_REPORT_TYPE_SNP 2u
#define AZ_HCL_REPORT_TYPE_TDX 4u
#define AZ_TDREPORT_TYPE_TDX 0x81u

/*
 * Reads report_type (0x4C8) of an HCL report after checking the "HCLA" signature and that
 * the buffer holds the declared variable data. KBS_ERR_PARSE otherwise.
 */
int az_hcl_report_type(const uint8_t *buf, size_t len, uint32_t *type);

/*
 * The TDREPORT (AZ_TD_REPORT_LEN = 1024 bytes, az_imds.h) inside a TDX HCL report: checks as
 * az_hcl_report_type, report type 4 and TDREPORT type byte 0x81. *td_report points into buf.
 * KBS_ERR_PARSE otherwise.
 */
int az_hcl_td_report(const uint8_t *buf, size_t len, const uint8_t **td_report);

#endif
