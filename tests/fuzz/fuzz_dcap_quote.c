// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the DCAP quote reader as an SGX (v3) and as a TDX (v4/v5) quote, and the SGX and TDX
 * verifiers on it. Invariants: every pointer the reader returns lies inside the input; a quote
 * is read as one TEE's at most; the claims of a parsed quote build; verification never crashes
 * and accepts only with claims.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "server/as/sgx_quote.h"
#include "server/as/tdx_quote.h"
#include "server/as/verifier_sgx.h"
#include "server/as/verifier_tdx.h"

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

static void one_tee(const uint8_t *data, size_t size, uint32_t tee, const char *b64)
{
	struct dcap_quote q;
	char why[256];
	json_t *c, *ev;
	struct as_verify_input in = {0};
	int rc;

	if (dcap_quote_parse(data, size, tee, &q, why, sizeof(why)) != KBS_OK)
		return;
	inside(data, size, q.header, DCAP_HEADER_LEN);
	inside(data, size, q.body, q.body_size);
	inside(data, size, q.quote_sig, 128);
	inside(data, size, q.qe_report, DCAP_QE_REPORT_LEN + 64);
	inside(data, size, q.qe_auth, q.qe_auth_len);
	inside(data, size, q.pck_chain, q.pck_chain_len);
	if (q.signed_len > size || q.tee_type != tee)
		abort();
	c = tee == DCAP_TEE_SGX ? sgx_quote_claims(&q) : tdx_quote_claims(&q);
	if (!c)
		abort();
	json_decref(c);
	if (!b64)
		return;
	ev = json_pack("{s:s}", "quote", b64);
	in.evidence = ev;
	c = NULL;
	rc = tee == DCAP_TEE_SGX ? sgx_verifier_verify(g_v, &in, &c, why, sizeof(why))
				 : tdx_verifier_verify(g_v, &in, &c, why, sizeof(why));
	if ((rc == KBS_OK) != (c != NULL))
		abort();
	json_decref(c);
	json_decref(ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dcap_quote q;
	char why[256], *b64 = NULL;

	if (dcap_quote_parse(data, size, DCAP_TEE_SGX, &q, why, sizeof(why)) == KBS_OK &&
	    dcap_quote_parse(data, size, DCAP_TEE_TDX, &q, why, sizeof(why)) == KBS_OK)
		abort(); /* the header names one TEE */
	if (b64_encode_alloc(data, size, B64_STD, &b64) != KBS_OK)
		b64 = NULL;
	one_tee(data, size, DCAP_TEE_SGX, b64);
	one_tee(data, size, DCAP_TEE_TDX, b64);
	free(b64);
	return 0;
}
