/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_ATTESTER_IMPL_H
#define KBS_ATTESTER_IMPL_H

#include "attester/attester.h"

/* One declaration per attester/<tee>.c; attester.c puts them in its table. */
extern const struct attester_ops attester_sample_ops;
extern const struct attester_ops attester_tpm_ops;
extern const struct attester_ops attester_tdx_ops;
extern const struct attester_ops attester_snp_ops;
extern const struct attester_ops attester_az_snp_vtpm_ops;
extern const struct attester_ops attester_az_tdx_vtpm_ops;

#endif
