// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the TDREPORT split of the /dev/tdx_guest fallback (attester/tdx_guest.c): only a
 * 1024-byte report of type 0x81 is accepted, and every field lies inside it.
 */
#include <stdint.h>
#include <stdlib.h>

#include "attester/tdx_guest.h"
#include "common/err.h"

static void inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
	if (!p || p < data || p + n > data + size)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tdx_tdreport r;

	if (tdx_tdreport_parse(data, size, &r) != KBS_OK)
		return 0;
	if (size != TDX_TDREPORT_LEN || r.type != TDX_TDREPORT_TYPE)
		abort();
	inside(r.reportdata, TDX_REPORTDATA_LEN, data, size);
	inside(r.mrtd, TDX_MR_LEN, data, size);
	inside(r.mrconfigid, TDX_MR_LEN, data, size);
	inside(r.mrowner, TDX_MR_LEN, data, size);
	inside(r.mrownerconfig, TDX_MR_LEN, data, size);
	for (int i = 0; i < 4; i++)
		inside(r.rtmr[i], TDX_MR_LEN, data, size);
	return 0;
}
