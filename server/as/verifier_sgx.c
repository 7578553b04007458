// SPDX-License-Identifier: Apache-2.0
/*
 * Intel SGX verifier. Order: evidence JSON → quote parse (v3) → shared DCAP checks (QE vendor,
 * PCK chain, QE report, attestation-key binding, SGX QE identity, quote signature) →
 * REPORTDATA → CONFIGID → claims.
 */
#include "server/as/verifier_sgx.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "server/as/sgx_quote.h"

#define MAX_QUOTE_LEN (64 * 1024)

/* byte-reversed hex, as Trustee prints the platform instance id (TDX does the same) */
static json_t *hex_reversed(const uint8_t *p, size_t n)
{
	char s[2 * 32 + 1];

	if (n > 32)
		return NULL;
	for (size_t i = 0; i < n; i++)
		snprintf(s + 2 * i, 3, "%02x", p[n - 1 - i]);
	s[2 * n] = 0;
	return json_string(s);
}

int sgx_verifier_verify(const struct tdx_verifier *v, const struct as_verify_input *in,
			json_t **claims, char *why, size_t whylen)
{
	const json_t *ev = in->evidence;
	const char *b64;
	uint8_t *quote = NULL, fit[64];
	size_t qlen = 0;
	struct tdx_quote q;
	X509 *leaf = NULL;
	json_t *c = NULL;
	int pca = 0, rc;

	*claims = NULL;
	if (!json_is_object(ev)) {
		snprintf(why, whylen, "sgx evidence is not a JSON object");
		return KBS_ERR_PARSE;
	}
	b64 = json_string_value(json_object_get(ev, "quote"));
	if (!b64 || !*b64) {
		snprintf(why, whylen, "sgx evidence: member 'quote' must be a non-empty string");
		return KBS_ERR_PARSE;
	}
	if (strlen(b64) > MAX_QUOTE_LEN * 4 / 3 + 4 ||
	    b64_decode_alloc(b64, strlen(b64), B64_STD, &quote, &qlen) != KBS_OK) {
		snprintf(why, whylen, "sgx evidence: 'quote' is not standard base64 (or too long)");
		return KBS_ERR_PARSE;
	}
	if ((rc = sgx_quote_parse(quote, qlen, &q, why, whylen)) != KBS_OK)
		goto out;
	if ((rc = dcap_verify_quote(v, &q, &dcap_sgx_qe, &leaf, NULL, &pca, why, whylen)) != KBS_OK)
		goto out;
	rc = KBS_ERR_VERIFY;
	if (in->report_data) {
		as_fit_report_data(in->report_data, in->report_data_len, fit, 64);
		if (CRYPTO_memcmp(fit, q.body + SGX_BODY_REPORTDATA, 64) != 0) {
			snprintf(why, whylen,
				 "sgx: REPORTDATA does not match the runtime data digest");
			goto out;
		}
	}
	if (in->init_data_digest) {
		as_fit_report_data(in->init_data_digest, in->init_data_digest_len, fit, 64);
		if (CRYPTO_memcmp(fit, q.body + SGX_BODY_CONFIGID, 64) != 0) {
			snprintf(why, whylen, "sgx: CONFIGID does not match the init-data digest");
			goto out;
		}
	}
	rc = KBS_ERR_NOMEM;
	if (!(c = sgx_quote_claims(&q)))
		goto out;
	if (pca) {
		const uint8_t *val;
		size_t len;
		uint8_t tag;

		if (tdx_pck_ext(leaf, 6, &tag, &val, &len) == KBS_OK && tag == 0x04 && len == 16 &&
		    json_object_set_new(c, "platform_instance_id", hex_reversed(val, 16)) != 0)
			goto out;
	}
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
