// SPDX-License-Identifier: Apache-2.0
/*
 * bench_verifier_csv: Hygon CSV verifications per second.
 *
 *   csv_verify      whole CSV check of a generated evidence (tests/unit/hcsv_testutil.h: SM2
 *                   keys made at start, HSK/CEK carried in the evidence): JSON -> binary
 *                   report and three certificates, HRK->HSK, HSK->CEK, CEK->PEK, PEK->report
 *                   (four SM2/SM3 verifies), report data, claims
 *   sample_report   Trustee's csv_evidence.json: report and PEK from JSON, PEK->report (one
 *                   SM2/SM3 verify; its chip's HSK/CEK are not available)
 *
 * Usage: bench_verifier_csv <tests/data dir> [seconds] (default 2). Process CPU time.
 * Not part of ctest; see bench_verifier_csv.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "server/as/hygon_csv.h"
#include "server/as/verifier_csv.h"
#include "tests/unit/hcsv_testutil.h"

#include "bench_util.h"

static const uint8_t rd[48] = {1, 2, 3};

struct args {
	const struct csv_verifier *v;
	const json_t *ev;
};

static int full(void *arg)
{
	const struct args *a = arg;
	const struct csv_verifier *v = a->v;
	const json_t *ev = a->ev;
	struct as_verify_input in = {.evidence = ev, .report_data = rd, .report_data_len = 48};
	json_t *claims = NULL;
	char why[256];
	int rc = csv_verifier_verify(v, &in, &claims, why, sizeof(why));

	if (rc != KBS_OK)
		fprintf(stderr, "bench_verifier_csv: %s\n", why);
	json_decref(claims);
	return rc;
}

static int sample(void *arg)
{
	const json_t *ev = ((const struct args *)arg)->ev;
	struct hcsv_report r;
	struct hcsv_cert pek;
	char why[256];

	if (hcsv_report_from_json(json_object_get(ev, "attestation_report"), &r, why,
				  sizeof(why)) != KBS_OK ||
	    hcsv_cert_from_json(json_object_get(json_object_get(ev, "cert_chain"), "pek"), &pek,
				why, sizeof(why)) != KBS_OK ||
	    hcsv_verify_report(&pek, &r, why, sizeof(why)) != KBS_OK) {
		fprintf(stderr, "bench_verifier_csv: %s\n", why);
		return KBS_ERR_VERIFY;
	}
	return KBS_OK;
}

int main(int argc, char **argv)
{
	struct gen_chain c;
	struct gen_report_fields f = {.version = 1, .anonce = 0x01020304};
	struct csv_verifier_config cfg = {0};
	struct csv_verifier *v = NULL;
	uint8_t report[HCSV_REPORT_LEN];
	double secs = argc > 2 ? atof(argv[2]) : 2.0;
	char why[256], path[1024], hrk[] = "/tmp/bench-csv-hrk-XXXXXX";
	json_t *ev, *sev;
	struct args full_args, sample_args;
	FILE *fp;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_verifier_csv <tests/data dir> [seconds]\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/csv/csv_evidence.json", argv[1]);
	if (!(sev = json_load_file(path, 0, NULL))) {
		fprintf(stderr, "bench_verifier_csv: cannot read %s\n", path);
		return 2;
	}
	gen_chain_new(&c);
	memcpy(f.report_data, rd, sizeof(rd));
	gen_report(report, &f, &c.pek);
	ev = gen_evidence(&c, report, 1, true, "BENCHCHIP", NULL);
	if ((fd = mkstemp(hrk)) < 0 || !(fp = fdopen(fd, "wb")) ||
	    fwrite(c.hrk_raw, 1, HCSV_CA_CERT_LEN, fp) != HCSV_CA_CERT_LEN || fclose(fp) != 0)
		return 2;
	cfg.hrk_path = hrk;
	if (csv_verifier_new(&cfg, &v, why, sizeof(why)) != KBS_OK) {
		fprintf(stderr, "bench_verifier_csv: %s\n", why);
		return 1;
	}
	unlink(hrk);
	full_args = (struct args){v, ev};
	sample_args = (struct args){v, sev};
	printf("csv_verify=%.0f\n",
	       bench_best_rate("bench_verifier_csv", full, &full_args, 8, secs, 5));
	printf("sample_report=%.0f\n",
	       bench_best_rate("bench_verifier_csv", sample, &sample_args, 8, secs, 5));
	csv_verifier_free(v);
	gen_chain_free(&c);
	json_decref(ev);
	json_decref(sev);
	return 0;
}
