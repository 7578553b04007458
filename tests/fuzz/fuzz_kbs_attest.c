// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the /kbs/v0/attest body parser and the runtime-data re-serialisation that feeds
 * the report_data binding (JCS + SHA-384).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/as/as.h"
#include "server/kbs/kbs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kbs_attest_req ar;
	json_t *rd = NULL;
	uint8_t d[64];
	size_t dl;
	char why[300];

	if (kbs_parse_attest(data, size, 1 << 20, &ar, why, sizeof(why)) != KBS_OK)
		return 0;
	if (!ar.root || !ar.nonce || !ar.primary || !ar.additional)
		abort();
	if (kbs_runtime_data(ar.tee_pubkey, ar.nonce, ar.additional, &rd, why, sizeof(why)) ==
	    KBS_OK) {
		/* only string members survive, so JCS cannot fail on numbers */
		if (as_runtime_data_digest(rd, "sha384", d, &dl) != KBS_OK || dl != 48)
			abort();
		json_decref(rd);
	}
	json_decref(ar.root);
	return 0;
}
