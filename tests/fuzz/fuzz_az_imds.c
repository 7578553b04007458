// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the parsers of the Azure IMDS answers (attester/az_imds.c): the /acc/tdquote answer
 * {"quote": base64} and the THIM certification answer {"vcekCert": PEM}. An accepted quote
 * is never empty; an accepted VCEK is a non-empty NUL-terminated string.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attester/az_imds.h"
#include "common/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf q = BUF_INIT;
	char *pem = NULL;

	if (az_imds_parse_quote(data, size, &q) == KBS_OK) {
		if (q.len == 0 || q.len > size)
			abort();
	} else if (q.len != 0) {
		abort();
	}
	buf_release(&q);
	if (az_imds_parse_certs(data, size, &pem) == KBS_OK) {
		if (!pem || !*pem || strlen(pem) > size)
			abort();
	} else if (pem) {
		abort();
	}
	free(pem);
	return 0;
}
