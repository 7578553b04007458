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

#include "bench_util.h"

#include "common/err.h"
#include "server/as/cca_token.h"
#include "server/as/verifier_cca.h"

struct job {
	const char *store;
	size_t sn;
	const struct as_verify_input *in;
};

static int once(void *arg)
{
	const struct job *j = arg;
	json_t *c = NULL;
	char why[256];
	int rc = cca_verify_with_store(j->store, j->sn, j->in, &c, why, sizeof(why));

	if (rc != KBS_OK)
		fprintf(stderr, "bench_verifier_cca: %s\n", why);
	json_decref(c);
	return rc;
}

int main(int argc, char **argv)
{
	double secs = argc > 2 ? atof(argv[2]) : 2.0;
	size_t n, sn;
	char *tok, *store, why[256];
	struct cca_token t;
	uint8_t rd[64];
	json_t *a, *ev;
	struct job j;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_verifier_cca <tests/data dir> [seconds]\n");
		return 2;
	}
	tok = bench_slurp("bench_verifier_cca", argv[1], "cca/cca-example-token.cbor", &n);
	store = bench_slurp("bench_verifier_cca", argv[1], "cca/tastore.json", &sn);
	if (cca_token_parse((uint8_t *)tok, n, &t, why, sizeof(why)) != KBS_OK)
		return 1;
	memcpy(rd, t.r_challenge.p, 64);
	a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer((uint8_t)tok[i]));
	ev = json_pack("{s:o}", "token", a);
	struct as_verify_input in = {.evidence = ev, .report_data = rd, .report_data_len = 64};
	j.store = store;
	j.sn = sn;
	j.in = &in;
	printf("cca_verify=%.0f\n", bench_best_rate("bench_verifier_cca", once, &j, 8, secs, 5));
	json_decref(ev);
	free(tok);
	free(store);
	return 0;
}
