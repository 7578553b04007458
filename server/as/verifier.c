// SPDX-License-Identifier: Apache-2.0
#include "server/as/verifier.h"

#include "server/as/verifier_sgx.h"
#include "server/as/verifier_snp.h"
#include "server/as/verifier_tdx.h"
#include "server/as/verifier_tpm.h"

#include <string.h>

/* Adding a TEE: write verifier_<tee>.c and add it here. */
static const struct as_verifier *const verifiers[] = {
	&as_verifier_sample,
	&as_verifier_sampledevice,
	&as_verifier_snp,
	&as_verifier_tdx,
	&as_verifier_tpm,
	&as_verifier_sgx,
};

static const char *const names[] = {"sample", "sampledevice", "snp", "tdx", "tpm", "sgx", NULL};

const struct as_verifier *as_verifier_find(const char *tee)
{
	if (!tee)
		return NULL;
	for (size_t i = 0; i < sizeof(verifiers) / sizeof(verifiers[0]); i++)
		if (strcmp(verifiers[i]->tee, tee) == 0)
			return verifiers[i];
	return NULL;
}

const char *const *as_verifier_names(void)
{
	return names;
}

void as_fit_report_data(const uint8_t *digest, size_t len, uint8_t *out, size_t field_len)
{
	size_t n = len < field_len ? len : field_len;

	memset(out, 0, field_len);
	memcpy(out, digest, n);
}
