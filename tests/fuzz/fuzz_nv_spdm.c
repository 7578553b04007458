// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the NVIDIA SPDM GET_MEASUREMENTS report parser (server/as/nv_spdm.c). Invariants:
 * every pointer the parser returns lies inside the input, the signature starts where the
 * signed region ends, the opaque data and the measurements claims build; a refusal always
 * says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/as/nv_spdm.h"

static void inside(const uint8_t *base, size_t size, const uint8_t *p, size_t len)
{
	if (p < base || len > size || (size_t)(p - base) > size - len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nv_spdm_report r;
	char why[256] = "";
	json_t *m;

	if (nv_spdm_parse(data, size, NV_HOPPER_SIG_LEN, &r, why, sizeof(why)) == KBS_OK) {
		inside(data, size, r.sig, r.sig_len);
		if (r.sig != data + r.signed_len || r.report_len != r.signed_len + r.sig_len ||
		    r.report_len > size || !json_is_object(r.opaque) || r.nblocks > 255)
			abort();
		for (size_t i = 0; i < r.nblocks; i++)
			inside(data, size, r.blocks[i].value, r.blocks[i].value_len);
		if (!(m = nv_spdm_measurements_json(&r)))
			abort();
		json_decref(m);
	} else if (!why[0]) {
		abort();
	}
	nv_spdm_report_release(&r);
	return 0;
}
