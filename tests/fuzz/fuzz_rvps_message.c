// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes RVPS registration messages (JSON envelope, base64 payload, sample/swid/corim
 * extractors) and stored-record parsing with arbitrary text: every extracted value has a
 * valid name and a value; a record that parses dumps and parses back to the same name and
 * expiration.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "rvps/rvps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rvps_rv_list l = {0};
	struct rvps_rv rv, back;
	char why[300];
	size_t n;

	if (rvps_message_extract((const char *)data, size, 1700000000, 12, &l, why,
				 sizeof(why)) == KBS_OK) {
		for (size_t i = 0; i < l.n; i++)
			if (!rvps_name_valid(l.v[i].name) || !l.v[i].value)
				abort();
	}
	rvps_rv_list_release(&l);
	/* swid extractor straight on the bytes (XML) */
	if (rvps_extract_swid(data, size, 0, &l, why, sizeof(why)) == KBS_OK)
		for (size_t i = 0; i < l.n; i++)
			if (!rvps_name_valid(l.v[i].name) || !json_is_array(l.v[i].value))
				abort();
	rvps_rv_list_release(&l);
	if (rvps_record_parse(data, size, &rv) == KBS_OK) {
		char *t = rvps_record_dump(&rv, &n);
		if (t) {
			if (rvps_record_parse((const uint8_t *)t, n, &back) != KBS_OK ||
			    strcmp(back.name, rv.name) || back.expiration != rv.expiration)
				abort();
			rvps_rv_release(&back);
			free(t);
		}
		rvps_rv_release(&rv);
	}
	return 0;
}
