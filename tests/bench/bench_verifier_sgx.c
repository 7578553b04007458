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

#include "common/b64.h"
#include "common/err.h"
#include "server/as/verifier_sgx.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int once(const struct tdx_verifier *v, const json_t *ev)
{
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
	double secs = argc > 2 ? atof(argv[2]) : 2.0, best = 0;
	char why[256], path[1024], *b64 = NULL;
	uint8_t *q;
	long n;
	FILE *f;
	json_t *ev;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_verifier_sgx <tests/data dir> [seconds]\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/sgx/occlum_quote.dat", argv[1]);
	if (!(f = fopen(path, "rb"))) {
		fprintf(stderr, "bench_verifier_sgx: cannot open %s\n", path);
		return 2;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	q = malloc((size_t)n);
	if (!q || fread(q, 1, (size_t)n, f) != (size_t)n)
		return 2;
	fclose(f);
	if (b64_encode_alloc(q, (size_t)n, B64_STD, &b64) != KBS_OK)
		return 1;
	free(q);
	ev = json_pack("{s:s}", "quote", b64);
	free(b64);
	if (tdx_verifier_new(&cfg, &v, why, sizeof(why)) != KBS_OK) {
		fprintf(stderr, "bench_verifier_sgx: %s\n", why);
		return 1;
	}
	/* five rounds, best count (as bench_verifier) */
	for (int round = 0; round < 5; round++) {
		double t0 = now_s(), t;
		long k = 0;

		do {
			for (int i = 0; i < 8; i++)
				if (once(v, ev) != KBS_OK)
					return 1;
			k += 8;
			t = now_s() - t0;
		} while (t < secs / 5);
		if ((double)k / t > best)
			best = (double)k / t;
	}
	printf("sgx_verify=%.0f\n", best);
	json_decref(ev);
	tdx_verifier_free(v);
	return 0;
}
