// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the AAEL readers: the TCG record walker/replayer (every accepted record re-encodes to
 * the same bytes), the CCEL trimmer (kept prefix within the input) and the WAL-style entry
 * check. Input: first byte selects the reader.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attester/aael.h"
#include "common/err.h"

static int reencode(const struct aael_event *ev, void *arg)
{
	struct buf *b = arg;

	return aael_record(ev->pcr_index, ev->alg, (const char *)ev->text, ev->text_len, b, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf b = BUF_INIT;
	uint8_t reg[64] = {0};
	size_t keep = 0;

	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		if (aael_parse(data + 1, size - 1, reencode, &b) == KBS_OK) {
			if (b.len != size - 1 || memcmp(b.p, data + 1, b.len) != 0)
				abort();
		}
		(void)aael_replay(data + 1, size - 1, 4, AAEL_ALG_SHA384, reg);
		(void)aael_replay(data + 1, size - 1, 17, AAEL_ALG_SHA256, reg);
		break;
	case 1:
		if (aael_ccel_trim(data + 1, size - 1, &keep) == KBS_OK && keep > size - 1)
			abort();
		break;
	default: {
		char *s = malloc(size);

		if (!s)
			return 0;
		memcpy(s, data + 1, size - 1);
		s[size - 1] = 0;
		(void)aael_entry_check("domain", "op", s);
		(void)aael_entry_check(s, "op", "c");
		free(s);
	}
	}
	buf_release(&b);
	return 0;
}
