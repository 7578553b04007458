// SPDX-License-Identifier: Apache-2.0
#include <string.h>

#include "attester/attester_impl.h"
#include "common/err.h"
#include "common/log.h"

/* Wire names, indexed by enum attester_tee (also for TEEs without an implementation yet). */
static const char *const tee_names[ATTESTER_TEE__COUNT] = {
	[ATTESTER_TEE_NONE] = "none",
	[ATTESTER_TEE_SAMPLE] = "sample",
	[ATTESTER_TEE_SNP] = "snp",
	[ATTESTER_TEE_TDX] = "tdx",
	[ATTESTER_TEE_TPM] = "tpm",
	[ATTESTER_TEE_AZ_SNP_VTPM] = "az-snp-vtpm",
	[ATTESTER_TEE_AZ_TDX_VTPM] = "az-tdx-vtpm",
};

/*
 * Implementations in detection order. Azure vTPM variants come before plain snp/tdx/tpm (an
 * Azure CVM also exposes a TPM); they are told apart by the HCL report type in the vTPM.
 */
static const struct attester_ops *const attesters[] = {
	&attester_az_snp_vtpm_ops,
	&attester_az_tdx_vtpm_ops,
	&attester_tdx_ops,
	&attester_snp_ops,
	&attester_tpm_ops,
	&attester_sample_ops,
};

static const struct attester_ops *find_ops(enum attester_tee tee)
{
	for (size_t i = 0; i < sizeof(attesters) / sizeof(attesters[0]); i++)
		if (attesters[i]->tee == tee)
			return attesters[i];
	return NULL;
}

const char *attester_tee_name(enum attester_tee tee)
{
	if ((int)tee < 0 || tee >= ATTESTER_TEE__COUNT)
		return "none";
	return tee_names[tee];
}

int attester_tee_from_name(const char *name, enum attester_tee *out)
{
	if (!name || !out)
		return KBS_ERR_INVAL;
	for (int i = ATTESTER_TEE_SAMPLE; i < ATTESTER_TEE__COUNT; i++) {
		if (strcmp(name, tee_names[i]) == 0) {
			*out = (enum attester_tee)i;
			return KBS_OK;
		}
	}
	return KBS_ERR_NOTFOUND;
}

bool attester_supported(enum attester_tee tee)
{
	return find_ops(tee) != NULL;
}

enum attester_tee attester_detect(void)
{
	for (size_t i = 0; i < sizeof(attesters) / sizeof(attesters[0]); i++)
		if (attesters[i]->hardware && attesters[i]->detect())
			return attesters[i]->tee;
	return ATTESTER_TEE_NONE;
}

int attester_select(const char *tee_cfg, bool allow_sample, enum attester_tee *out)
{
	enum attester_tee tee;

	if (!out)
		return KBS_ERR_INVAL;
	if (!tee_cfg || !*tee_cfg || strcmp(tee_cfg, "auto") == 0) {
		tee = attester_detect();
		if (tee == ATTESTER_TEE_NONE) {
			if (!allow_sample)
				return KBS_ERR_UNSUPPORTED;
			log_info("attester: no hardware TEE detected, using the sample TEE "
				 "(allowed by configuration)");
			tee = ATTESTER_TEE_SAMPLE;
		}
		*out = tee;
		return KBS_OK;
	}
	if (attester_tee_from_name(tee_cfg, &tee) != KBS_OK)
		return KBS_ERR_INVAL;
	if (tee == ATTESTER_TEE_SAMPLE && !allow_sample)
		return KBS_ERR_PERM;
	if (!attester_supported(tee))
		return KBS_ERR_UNSUPPORTED;
	*out = tee;
	return KBS_OK;
}

int attester_get_evidence(enum attester_tee tee, const uint8_t *report_data, size_t len,
			  json_t **evidence)
{
	const struct attester_ops *ops = find_ops(tee);

	if (!evidence)
		return KBS_ERR_INVAL;
	*evidence = NULL;
	if (!ops)
		return KBS_ERR_UNSUPPORTED;
	if (ops->report_data_max && len > ops->report_data_max)
		return KBS_ERR_RANGE;
	return ops->get_evidence(report_data, len, evidence);
}
