// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the strict CBOR reader and the CCA token parser, then the whole CCA verification
 * against Trustee's ta-store. Invariants: every pointer the parser returns lies inside the
 * input; cbor_check and cca_token_parse agree that accepted tokens are well-formed;
 * verification never crashes and accepts only with claims.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/cbor.h"
#include "server/as/cca_token.h"
#include "server/as/verifier_cca.h"

/* Trustee's tastore.json (deps/verifier/test_data/cca/conf/tastore.json) */
static const char store[] =
    "[{\"pkey\":{\"crv\":\"P-384\",\"kty\":\"EC\","
    "\"x\":\"IShnxS4rlQiwpCCpBWDzlNLfqiG911FP8akBr-fh94uxHU5m-Kijivp2r2oxxN6M\","
    "\"y\":\"hM4tr8mWQli1P61xh3T0ViDREbF26DGOEYfbAjWjGNN7pZf-6A4OTHYqEryz6m7U\"},"
    "\"implementation-id\":\"7f454c4602010100000000000000000003003e00010000005058000000000000\","
    "\"instance-id\":\"0107060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918\"}]";

static void inside(const uint8_t *base, size_t size, const struct cca_bytes *b)
{
	if (b->len && (b->p < base || b->len > size || (size_t)(b->p - base) > size - b->len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cca_token t;
	char why[256];
	json_t *ev, *a, *c = NULL;
	struct as_verify_input in = {0};
	uint8_t rd[64] = {0};
	int rc;

	(void)cbor_check(data, size);
	if (cca_token_parse(data, size, &t, why, sizeof(why)) != KBS_OK)
		return 0;
	if (cbor_check(data, size) != KBS_OK)
		abort();
	inside(data, size, &t.platform.payload);
	inside(data, size, &t.platform.sig);
	inside(data, size, &t.realm.payload);
	inside(data, size, &t.realm.sig);
	inside(data, size, &t.r_rak);
	inside(data, size, &t.r_challenge);
	for (int i = 0; i < 4; i++)
		inside(data, size, &t.r_rem[i]);
	memcpy(rd, t.r_challenge.p, t.r_challenge.len < 64 ? t.r_challenge.len : 64);
	a = json_array();
	for (size_t i = 0; i < size; i++)
		json_array_append_new(a, json_integer(data[i]));
	ev = json_pack("{s:o}", "token", a);
	in.evidence = ev;
	in.report_data = rd;
	in.report_data_len = 64;
	rc = cca_verify_with_store(store, sizeof(store) - 1, &in, &c, why, sizeof(why));
	if ((rc == KBS_OK) != (c != NULL))
		abort();
	json_decref(c);
	json_decref(ev);
	return 0;
}
