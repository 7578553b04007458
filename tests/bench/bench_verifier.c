// SPDX-License-Identifier: Apache-2.0
/*
 * bench_verifier: evidence verifications per second.
 *
 *   snp_verify        whole SNP check of Trustee's e2e Genoa evidence (JSON report → binary,
 *                     VCEK DER parse, ASK→VCEK RSA-PSS, report ECDSA P-384, TCB/hwID checks,
 *                     claims); built-in ARK/ASK parsed and checked once ("cached chain")
 *   snp_report_sig    the report signature alone with a parsed VCEK key (the P-384 floor,
 *                     comparable to `openssl speed ecdsap384` verify/s)
 *   tdx_verify        whole offline TDX check of tdx_quote_4.dat (base64, parse, PEM chain,
 *                     3 chain signatures, QE report, binding, quote signature, claims)
 *
 * Usage: bench_verifier <tests/data dir> [seconds-per-case] (default 2). Process CPU time.
 * Not part of ctest; see bench_verifier.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

#include "common/b64.h"
#include "common/err.h"
#include "common/snp_report.h"
#include "server/as/verifier_snp.h"
#include "server/as/verifier_tdx.h"
#include "server/as/x509util.h"

struct ctx {
	struct snp_verifier *snp;
	struct tdx_verifier *tdx;
	json_t *snp_ev, *tdx_ev;
	uint8_t report[SNP_REPORT_SIZE];
	EVP_PKEY *vcek;
};

static int op_snp(void *arg)
{
	struct ctx *c = arg;
	struct as_verify_input in = {.evidence = c->snp_ev};
	json_t *claims = NULL;
	char why[256];
	int rc = snp_verifier_verify(c->snp, &in, &claims, why, sizeof(why));

	json_decref(claims);
	return rc;
}

static int op_snp_sig(void *arg)
{
	struct ctx *c = arg;
	char why[256];

	return snp_verify_report_signature(c->report, c->vcek, why, sizeof(why));
}

static int op_tdx(void *arg)
{
	struct ctx *c = arg;
	struct as_verify_input in = {.evidence = c->tdx_ev};
	json_t *claims = NULL;
	char why[256];
	int rc = tdx_verifier_verify(c->tdx, &in, &claims, why, sizeof(why));

	json_decref(claims);
	return rc;
}

int main(int argc, char **argv)
{
	struct snp_verifier_config scfg = {0};
	struct tdx_verifier_config tcfg = {.now = 1767225600};
	double secs = argc > 2 ? atof(argv[2]) : 2.0, best[3] = {0};
	static const char *const names[3] = {"snp_verify", "snp_report_sig", "tdx_verify"};
	bench_op ops[3] = {op_snp, op_snp_sig, op_tdx};
	struct ctx c = {0};
	struct snp_report r;
	char why[256], *t, *b64 = NULL;
	size_t n;
	json_t *cc;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_verifier <tests/data dir> [seconds]\n");
		return 2;
	}
	if (snp_verifier_new(&scfg, &c.snp, why, sizeof(why)) != KBS_OK ||
	    tdx_verifier_new(&tcfg, &c.tdx, why, sizeof(why)) != KBS_OK) {
		fprintf(stderr, "bench_verifier: %s\n", why);
		return 1;
	}
	t = bench_slurp("bench_verifier", argv[1], "snp/e2e-evidence-genoa.json", &n);
	c.snp_ev = json_loadb(t, n, 0, NULL);
	free(t);
	if (!c.snp_ev ||
	    snp_report_from_json(json_object_get(c.snp_ev, "attestation_report"), &r, why,
				 sizeof(why)) != KBS_OK ||
	    snp_report_encode(&r, c.report) != KBS_OK)
		return 1;
	cc = json_object_get(json_array_get(json_object_get(c.snp_ev, "cert_chain"), 0), "data");
	{
		uint8_t *der = malloc(json_array_size(cc));
		X509 *x;

		for (size_t i = 0; i < json_array_size(cc); i++)
			der[i] = (uint8_t)json_integer_value(json_array_get(cc, i));
		x = x509u_from_der(der, json_array_size(cc));
		free(der);
		if (!x)
			return 1;
		c.vcek = X509_get_pubkey(x);
		X509_free(x);
	}
	t = bench_slurp("bench_verifier", argv[1], "tdx/tdx_quote_4.dat", &n);
	if (b64_encode_alloc((uint8_t *)t, n, B64_STD, &b64) != KBS_OK)
		return 1;
	free(t);
	c.tdx_ev = json_pack("{s:s}", "quote", b64);
	free(b64);
	/* interleaved rounds, best counts (as bench_jose) */
	for (int round = 0; round < 5; round++)
		for (int k = 0; k < 3; k++) {
			double v = bench_rate("bench_verifier", ops[k], &c, 8, secs / 5);

			if (v > best[k])
				best[k] = v;
		}
	for (int k = 0; k < 3; k++)
		printf("%s=%.0f ", names[k], best[k]);
	printf("\n");
	EVP_PKEY_free(c.vcek);
	json_decref(c.snp_ev);
	json_decref(c.tdx_ev);
	snp_verifier_free(c.snp);
	tdx_verifier_free(c.tdx);
	return 0;
}
