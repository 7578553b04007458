// SPDX-License-Identifier: Apache-2.0
/*
 * bench_verifier_sgx: SGX verifications per second.
 *
 *   sgx_verify   whole offline SGX check of Trustee's occlum_quote.dat (base64, v3 parse, PEM
 *                chain, 3 chain signatures, QE report signature, binding, QE identity, quote
 *                signature, REPORTDATA, claims); five P-256 verifies per quote
 *
 * Usage: bench_verifier_sgx <tests/data dir> [seconds] (default 2). Process CPU time.
 * Not part of ctest; see bench_verifier_sgx.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

#include "common/b64.h"
#include "common/err.h"
#include "server/as/verifier_sgx.h"

struct job {
	const struct tdx_verifier *v;
	const json_t *ev;
};

static int once(void *arg)
{
	const struct job *j = arg;
	const struct tdx_verifier *v = j->v;
	const json_t *ev = j->ev;
	struct as_verify_input in = {
	    .evidence = ev, .report_data = (const uint8_t *)"test", .report_data_len = 4};
	json_t *claims = NULL;
	char why[256];
	int rc = sgx_verifier_verify(v, &in, &claims, why, sizeof(why));

	if (rc != KBS_OK)
		fprintf(stderr, "bench_verifier_sgx: %s\n", why);
	json_decref(claims);
	return rc;
}

int main(int argc, char **argv)
{
	struct tdx_verifier_config cfg = {.now = 1767225600};
	struct tdx_verifier *v = NULL;
	double secs = argc > 2 ? atof(argv[2]) : 2.0;
	char why[256], *b64 = NULL, *q;
	size_t n;
	json_t *ev;
	struct job j;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_verifier_sgx <tests/data dir> [seconds]\n");
		return 2;
	}
	q = bench_slurp("bench_verifier_sgx", argv[1], "sgx/occlum_quote.dat", &n);
	if (b64_encode_alloc((uint8_t *)q, n, B64_STD, &b64) != KBS_OK)
		return 1;
	free(q);
	ev = json_pack("{s:s}", "quote", b64);
	free(b64);
	if (tdx_verifier_new(&cfg, &v, why, sizeof(why)) != KBS_OK) {
		fprintf(stderr, "bench_verifier_sgx: %s\n", why);
		return 1;
	}
	/* five rounds, best count (as bench_verifier) */
	j.v = v;
	j.ev = ev;
	printf("sgx_verify=%.0f\n", bench_best_rate("bench_verifier_sgx", once, &j, 8, secs, 5));
	json_decref(ev);
	tdx_verifier_free(v);
	return 0;
}
