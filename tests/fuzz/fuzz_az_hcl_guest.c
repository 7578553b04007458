// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the guest-side HCL report checks of the Azure vTPM attesters: an accepted report
 * starts with "HCLA" and holds its declared variable data; a TDREPORT is only taken from a
 * TDX report (type 4) and lies inside the buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attester/az_vtpm.h"
#include "common/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t type = 0;
	const uint8_t *td = NULL;

	if (az_hcl_td_report(data, size, &td) == KBS_OK) {
		if (az_hcl_report_type(data, size, &type) != KBS_OK ||
		    type != AZ_HCL_REPORT_TYPE_TDX || td != data + 0x20 ||
		    td[0] != AZ_TDREPORT_TYPE_TDX || 0x20 + AZ_TD_REPORT_LEN > size)
			abort();
	} else if (td) {
		abort();
	}
	if (az_hcl_report_type(data, size, &type) == KBS_OK) {
		uint32_t var = (uint32_t)data[0x4D0] | (uint32_t)data[0x4D1] << 8 |
			       (uint32_t)data[0x4D2] << 16 | (uint32_t)data[0x4D3] << 24;

		if (size < 0x4D4 || memcmp(data, "HCLA", 4) != 0 || var > size - 0x4D4)
			abort();
	}
	return 0;
}
