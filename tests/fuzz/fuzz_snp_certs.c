// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the SEV-SNP certificate table reader (configfs-tsm auxblob / extended report):
 * accepted tables give null or an array whose entries have a cert_type and byte data that
 * lies inside the input.
 */
#include <stdint.h>
#include <stdlib.h>

#include "attester/tsm.h"
#include "common/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *out = NULL;
	size_t i, total = 0;
	json_t *e;

	if (tsm_snp_cert_chain(data, size, &out) != KBS_OK)
		return 0;
	if (!json_is_null(out)) {
		if (!json_is_array(out) || json_array_size(out) == 0)
			abort();
		json_array_foreach(out, i, e) {
			if (!json_object_get(e, "cert_type"))
				abort();
			total += json_array_size(json_object_get(e, "data"));
		}
		if (total > size * json_array_size(out))
			abort();
	}
	json_decref(out);
	return 0;
}
