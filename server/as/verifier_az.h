/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_VERIFIER_AZ_H
#define KBS_AS_VERIFIER_AZ_H

#include <jansson.h>
#include <stddef.h>

#include "server/as/verifier.h"
#include "server/as/verifier_snp.h"
#include "server/as/verifier_tdx.h"

/*
 * Azure confidential VMs (evidence.md §4.5/§4.6; docs/verifiers.md): az-snp-vtpm and
 * az-tdx-vtpm. The vTPM quote is signed by the HCLAkPub key of the HCL runtime claims, whose
 * SHA-256 is bound into the hardware report (SNP REPORT_DATA / TD quote REPORTDATA), which is
 * verified by the snp / tdx verifier. The nonce is the report data, exactly.
 */

/* Verifies az-snp-vtpm evidence with snp (VCEK chain, TCB, signature, VMPL). */
int az_snp_verify(const struct snp_verifier *snp, const struct as_verify_input *in,
		  json_t **claims, char *why, size_t whylen);

/* Verifies az-tdx-vtpm evidence with tdx (PCK chain, QE, quote, collateral). */
int az_tdx_verify(const struct tdx_verifier *tdx, const struct as_verify_input *in,
		  json_t **claims, char *why, size_t whylen);

extern const struct as_verifier as_verifier_az_snp_vtpm;
extern const struct as_verifier as_verifier_az_tdx_vtpm;

#endif
