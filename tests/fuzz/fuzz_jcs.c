// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes RFC 8785 canonicalisation. Canonical output must be valid JSON that canonicalises to
 * itself; the number formatter must print every finite double so that it reads back exactly.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/jcs.h"

static void check_number(const uint8_t *data, size_t size)
{
	double d;
	char s[JCS_NUMBER_MAX];
	int rc;

	if (size < sizeof(d))
		return;
	memcpy(&d, data, sizeof(d));
	rc = jcs_format_number(d, s, sizeof(s));
	if (!isfinite(d)) {
		if (rc != KBS_ERR_INVAL)
			abort();
		return;
	}
	if (rc != KBS_OK || strtod(s, NULL) != (d == 0 ? 0.0 : d))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf b = BUF_INIT, again = BUF_INIT;
	int rc;

	check_number(data, size);
	if (size > (1 << 16))
		return 0;
	if (jcs_canonicalize_text((const char *)data, size, &b) != KBS_OK) {
		if (b.len != 0)
			abort();
		goto out;
	}
	rc = jcs_canonicalize_text((const char *)b.p, b.len, &again);
	/*
	 * A real of magnitude 2^53..1e21 is printed without exponent, which jansson then reads
	 * as an integer (beyond 2^53: KBS_ERR_RANGE, beyond int64: KBS_ERR_PARSE). Everything
	 * else must be a fixed point.
	 */
	if (rc == KBS_ERR_RANGE || rc == KBS_ERR_PARSE)
		goto out;
	if (rc != KBS_OK || again.len != b.len || memcmp(again.p, b.p, b.len) != 0)
		abort();
out:
	buf_release(&again);
	buf_release(&b);
	return 0;
}
