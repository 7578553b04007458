// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the SGX v3 quote parser and the SGX verifier. Invariants: every pointer the parser
 * returns lies inside the input; the claims of a parsed quote build; verification never
 * crashes and accepts only with claims.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "server/as/sgx_quote.h"
#include "server/as/verifier_sgx.h"

static struct tdx_verifier *g_v;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct tdx_verifier_config cfg = {.now = 1767225600};
	char why[256];

	(void)argc;
	(void)argv;
	if (tdx_verifier_new(&cfg, &g_v, why, sizeof(why)) != KBS_OK)
		abort();
	return 0;
}

static void inside(const uint8_t *base, size_t size, const uint8_t *p, size_t len)
{
	if (p < base || len > size || (size_t)(p - base) > size - len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tdx_quote q;
	char why[256], *b64 = NULL;
	json_t *c, *ev;
	struct as_verify_input in = {0};
	int rc;

	if (sgx_quote_parse(data, size, &q, why, sizeof(why)) != KBS_OK)
		return 0;
	inside(data, size, q.header, 48);
	inside(data, size, q.body, q.body_size);
	inside(data, size, q.quote_sig, 128);
	inside(data, size, q.qe_report, SGX_REPORT_BODY_LEN + 64);
	inside(data, size, q.qe_auth, q.qe_auth_len);
	inside(data, size, q.pck_chain, q.pck_chain_len);
	if (q.signed_len > size)
		abort();
	c = sgx_quote_claims(&q);
	if (!c)
		abort();
	json_decref(c);
	if (b64_encode_alloc(data, size, B64_STD, &b64) != KBS_OK)
		return 0;
	ev = json_pack("{s:s}", "quote", b64);
	free(b64);
	in.evidence = ev;
	c = NULL;
	rc = sgx_verifier_verify(g_v, &in, &c, why, sizeof(why));
	if ((rc == KBS_OK) != (c != NULL))
		abort();
	json_decref(c);
	json_decref(ev);
	return 0;
}
