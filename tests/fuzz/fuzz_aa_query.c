// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the attestation-agent query reader and the loopback address rule with arbitrary
 * text: values never exceed the query length and are NUL-terminated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attester/agent.h"
#include "common/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *q = malloc(size + 1), *v = NULL;
	size_t n = 0;

	if (!q)
		return 0;
	memcpy(q, data, size);
	q[size] = 0;
	if (aa_query_get(q, "runtime_data", &v, &n) == KBS_OK) {
		if (n > size || v[n] != 0)
			abort();
		free(v);
	}
	(void)aa_addr_is_loopback(q);
	free(q);
	return 0;
}
