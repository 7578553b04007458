// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the guest-side HCL report check of the az-snp-vtpm attester: an accepted report
 * starts with "HCLA" and holds its declared variable data.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attester/az_vtpm.h"
#include "common/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t type = 0;

	if (az_hcl_report_type(data, size, &type) == KBS_OK) {
		uint32_t var = (uint32_t)data[0x4D0] | (uint32_t)data[0x4D1] << 8 |
			       (uint32_t)data[0x4D2] << 16 | (uint32_t)data[0x4D3] << 24;

		if (size < 0x4D4 || memcmp(data, "HCLA", 4) != 0 || var > size - 0x4D4)
			abort();
	}
	return 0;
}
