// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the strict CBOR reader and the CoRIM extractor on it with arbitrary bytes: a
 * buffer cbor_check() accepts is walked item by item to its end without reading past it;
 * the extractor never crashes and leaves no values behind when it fails.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cbor.h"
#include "common/err.h"
#include "rvps/rvps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rvps_rv_list l = {0};
	struct cbor_cur c;
	struct cbor_item it;
	char why[200];
	int rc;

	if (cbor_check(data, size) == KBS_OK) {
		/* a well-formed item: its flat walk stays inside the buffer and ends on it */
		size_t steps = 0;
		cbor_init(&c, data, size);
		while (!cbor_at_end(&c)) {
			if (cbor_next(&c, &it) != KBS_OK || c.off > size)
				abort();
			if ((it.major == CBOR_BYTES || it.major == CBOR_TEXT) &&
			    (it.data < data || it.data + it.arg > data + size))
				abort();
			if (++steps > size)
				abort();
		}
	}
	rc = rvps_extract_corim(data, size, 0, &l, why, sizeof(why));
	if (rc != KBS_OK && l.n != 0)
		abort();
	for (size_t i = 0; i < l.n; i++)
		if (!rvps_name_valid(l.v[i].name))
			abort();
	rvps_rv_list_release(&l);
	return 0;
}
