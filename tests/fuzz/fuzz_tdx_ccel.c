// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the CC event log parser / RTMR replay. Invariants: no read past the input; an
 * accepted log also replays when followed by an end marker, to the same RTMRs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/as/tdx_ccel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t a[4][48], b[4][48], *copy;
	size_t na, nb;
	char why[256];

	if (tdx_ccel_replay(data, size, a, &na, why, sizeof(why)) != KBS_OK)
		return 0;
	copy = malloc(size + 8);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	memset(copy + size, 0xff, 8);
	if (tdx_ccel_replay(copy, size + 8, b, &nb, why, sizeof(why)) != KBS_OK || na != nb ||
	    memcmp(a, b, sizeof(a)) != 0)
		abort();
	free(copy);
	return 0;
}
