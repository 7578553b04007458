// SPDX-License-Identifier: Apache-2.0
/*
 * bench_verifier_cca: CCA verifications per second.
 *
 *   cca_verify   whole local CCA check of Trustee's cca-example-token.cbor (JSON byte array,
 *                strict CBOR parse, ta-store lookup, platform ES384 signature, RAK import and
 *                binding hash, realm ES384 signature, challenge, claims); two P-384 verifies
 *
 * Usage: bench_verifier_cca <tests/data dir> [seconds] (default 2). Process CPU time.
 * Not part of ctest; see bench_verifier_cca.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "server/as/cca_token.h"
#include "server/as/verifier_cca.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *dir, const char *rel, size_t *len)
{
	char path[1024];
	FILE *f;
	char *p;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (!(f = fopen(path, "rb"))) {
		fprintf(stderr, "bench_verifier_cca: cannot open %s\n", path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	if (!p || fread(p, 1, (size_t)n, f) != (size_t)n)
		exit(2);
	p[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return p;
}

int main(int argc, char **argv)
{
	double secs = argc > 2 ? atof(argv[2]) : 2.0, best = 0;
	size_t n, sn;
	char *tok, *store, why[256];
	struct cca_token t;
	uint8_t rd[64];
	json_t *a, *ev;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_verifier_cca <tests/data dir> [seconds]\n");
		return 2;
	}
	tok = slurp(argv[1], "cca/cca-example-token.cbor", &n);
	store = slurp(argv[1], "cca/tastore.json", &sn);
	if (cca_token_parse((uint8_t *)tok, n, &t, why, sizeof(why)) != KBS_OK)
		return 1;
	memcpy(rd, t.r_challenge.p, 64);
	a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer((uint8_t)tok[i]));
	ev = json_pack("{s:o}", "token", a);
	struct as_verify_input in = {.evidence = ev, .report_data = rd, .report_data_len = 64};
	for (int round = 0; round < 5; round++) {
		double t0 = now_s(), el;
		long k = 0;

		do {
			for (int i = 0; i < 8; i++) {
				json_t *c = NULL;
				if (cca_verify_with_store(store, sn, &in, &c, why, sizeof(why)) !=
				    KBS_OK) {
					fprintf(stderr, "bench_verifier_cca: %s\n", why);
					return 1;
				}
				json_decref(c);
			}
			k += 8;
			el = now_s() - t0;
		} while (el < secs / 5);
		if ((double)k / el > best)
			best = (double)k / el;
	}
	printf("cca_verify=%.0f\n", best);
	json_decref(ev);
	free(tok);
	free(store);
	return 0;
}
