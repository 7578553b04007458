// SPDX-License-Identifier: Apache-2.0
#include "rvps/rvps.h"

#include <stdio.h>

#include "common/err.h"

int rvps_extract_corim(const uint8_t *p, size_t n, int64_t exp, struct rvps_rv_list *out,
		       char *why, size_t whylen)
{
	snprintf(why, whylen, "corim: not supported yet");
	return KBS_ERR_UNSUPPORTED;
}
