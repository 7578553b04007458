// SPDX-License-Identifier: Apache-2.0
/*
 * Intel SGX verifier. Order: evidence JSON → quote parse (v3) → shared DCAP checks (QE vendor,
 * PCK chain, QE report, attestation-key binding, SGX QE identity, quote signature) →
 * REPORTDATA → CONFIGID → claims.
 */
#include "server/as/verifier_sgx.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/as/sgx_quote.h"

int sgx_verifier_verify(const struct tdx_verifier *v, const struct as_verify_input *in,
			json_t **claims, char *why, size_t whylen)
{
	uint8_t *quote = NULL;
	struct dcap_quote q;
	X509 *leaf = NULL;
	json_t *c = NULL;
	int pca = 0, rc;

	*claims = NULL;
	if ((rc = dcap_evidence_quote(in->evidence, DCAP_TEE_SGX, &quote, &q, why, whylen)) !=
	    KBS_OK)
		goto out;
	if ((rc = dcap_verify_quote(v, &q, &dcap_sgx_qe, &leaf, NULL, &pca, why, whylen)) != KBS_OK)
		goto out;
	if ((rc = dcap_check_binding(in, "sgx", q.body + SGX_BODY_REPORTDATA,
				     q.body + SGX_BODY_CONFIGID, 64, "CONFIGID", why, whylen)) !=
	    KBS_OK)
		goto out;
	rc = KBS_ERR_NOMEM;
	if (!(c = sgx_quote_claims(&q)) || dcap_platform_instance_id(leaf, pca, c) != KBS_OK)
		goto out;
	if (json_object_set_new(c, "tcb_status", json_string("Unknown")) != 0)
		goto out;
	*claims = c;
	c = NULL;
	rc = KBS_OK;
out:
	if (rc == KBS_ERR_NOMEM && !*claims)
		snprintf(why, whylen, "out of memory");
	json_decref(c);
	X509_free(leaf);
	free(quote);
	return rc;
}

/* ---- process-wide instance for the verifier table ---- */

static struct tdx_verifier *g_sgx; /* written once under pthread_once, read-only after */
static char g_sgx_err[256];
static pthread_once_t g_sgx_once = PTHREAD_ONCE_INIT;

static void sgx_global_init(void)
{
	struct tdx_verifier_config cfg = {0};

	if (tdx_verifier_new(&cfg, &g_sgx, g_sgx_err, sizeof(g_sgx_err)) != KBS_OK)
		g_sgx = NULL;
}

static int sgx_verify(const struct as_verify_input *in, json_t **claims, char *why, size_t whylen)
{
	*claims = NULL;
	pthread_once(&g_sgx_once, sgx_global_init);
	if (!g_sgx) {
		snprintf(why, whylen, "sgx verifier unavailable: %s", g_sgx_err);
		return KBS_ERR_INTERNAL;
	}
	return sgx_verifier_verify(g_sgx, in, claims, why, whylen);
}

const struct as_verifier as_verifier_sgx = {
    .tee = "sgx",
    .tee_class = "cpu",
    .verify = sgx_verify,
};
