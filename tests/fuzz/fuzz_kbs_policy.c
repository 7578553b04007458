// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the native policy engine's recogniser on uploaded policy text: normalisation is
 * idempotent and evaluation of anything accepted yields a boolean.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/as/policy_hook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct policy_engine *e = policy_native_engine();
	char *n1 = NULL, *n2 = NULL, why[400], rule[128];
	json_t *res = NULL, *in, *d;

	if (policy_native_normalize((const char *)data, size, &n1) == KBS_OK) {
		if (policy_native_normalize(n1, strlen(n1), &n2) != KBS_OK || strcmp(n1, n2) != 0)
			abort();
	}
	free(n1);
	free(n2);
	if (e->check(e->ctx, (const char *)data, size, why, sizeof(why)) == KBS_OK) {
		in = json_object();
		d = json_pack("{s:s}", "plugin", "resource");
		if (e->eval(e->ctx, (const char *)data, size, "data.policy.allow", in, d, NULL, &res,
			    rule, sizeof(rule), why, sizeof(why)) == KBS_OK &&
		    res && !json_is_boolean(res))
			abort();
		json_decref(res);
		json_decref(in);
		json_decref(d);
	}
	return 0;
}
