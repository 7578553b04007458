// SPDX-License-Identifier: Apache-2.0
/* Fuzzes resource path validation: accepted paths never contain traversal components. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/kbs/repo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char seg[3][KBS_SEG_MAX + 1], why[200];
	char *p = malloc(size + 1);

	if (!p)
		return 0;
	memcpy(p, data, size);
	p[size] = '\0';
	if (kbs_resource_path_parse(p, seg, why, sizeof(why)) == KBS_OK) {
		for (int i = 0; i < 3; i++) {
			size_t n = strlen(seg[i]);
			if (n == 0 || n > KBS_SEG_MAX || seg[i][0] == '.' || strchr(seg[i], '/'))
				abort();
		}
	}
	free(p);
	return 0;
}
