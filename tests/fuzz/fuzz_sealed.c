// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the sealed-secret parser (header, payload, kid and resource URI rules) and the
 * verification-key loader (JWK JSON or PEM) with the same bytes; a parsed secret must name a
 * valid resource path and a kid that is a kbs:/// URI or a plain file name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/rcar.h"
#include "broker/sealed.h"
#include "common/err.h"
#include "common/jose/jwk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sealed_ref r;
	struct jwk *k = NULL;
	char why[256];

	if (size > SEALED_MAX_LEN)
		return 0;
	if (sealed_parse((const char *)data, size, &r, why, sizeof(why)) == KBS_OK) {
		if (!rcar_resource_path_valid(r.path))
			abort();
		if (strchr(r.kid, '/') && (!r.key_path[0] || !rcar_resource_path_valid(r.key_path)))
			abort();
	}
	if (sealed_key_load(data, size, &k) == KBS_OK) {
		if (jwk_is_private(k))
			abort();
		(void)sealed_verify((const char *)data, size, k);
		jwk_free(k);
	}
	return 0;
}
