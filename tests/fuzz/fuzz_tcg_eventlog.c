// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the TCG event log replay (firmware log with spec-ID header, and AAEL records).
 * Invariants: no read past the input; an accepted firmware log also replays when followed by
 * an end marker, to the same PCRs; only PCRs 0..23 are ever touched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/as/tcg_eventlog.h"
#include "server/as/tpm_quote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t algs[] = {TPM_ALG_SHA256, TPM_ALG_SHA384};
	struct tcg_replay a, b;
	char why[256];
	uint8_t *copy;

	for (size_t i = 0; i < 2; i++) {
		if (tcg_replay_init(&a, algs[i]) != KBS_OK)
			abort();
		(void)tcg_replay_aael(&a, data, size, why, sizeof(why));
		if (a.touched >> TCG_NPCRS)
			abort();
		if (tcg_replay_init(&a, algs[i]) != KBS_OK ||
		    tcg_replay_firmware_log(&a, data, size, why, sizeof(why)) != KBS_OK)
			continue;
		copy = malloc(size + 8);
		if (!copy)
			return 0;
		memcpy(copy, data, size);
		memset(copy + size, 0xff, 8);
		if (tcg_replay_init(&b, algs[i]) != KBS_OK ||
		    tcg_replay_firmware_log(&b, copy, size + 8, why, sizeof(why)) != KBS_OK ||
		    memcmp(a.pcr, b.pcr, sizeof(a.pcr)) != 0 || a.touched != b.touched)
			abort();
		free(copy);
	}
	return 0;
}
