// SPDX-License-Identifier: Apache-2.0
/* Fuzzes the /kbs/v0/auth body parser: accepted bodies always carry a known tee. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/kbs/kbs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *root = NULL;
	const char *tee = NULL;
	char why[300];

	if (kbs_parse_auth(data, size, 1 << 20, &root, &tee, why, sizeof(why)) == KBS_OK) {
		if (!root || !tee || !*tee)
			abort();
		json_decref(root);
	} else if (root || tee) {
		abort();
	}
	return 0;
}
