// SPDX-License-Identifier: Apache-2.0
/*
 * bench_verifier_tpm_az: TPM and Azure vTPM verifications per second.
 *
 *   tpm_verify      whole TPM check of Trustee's tpm_evidence.json (base64, DER AK parse,
 *                   TPMT_SIGNATURE / TPMS_ATTEST parse, RSASSA-2048 verify, PCR digest,
 *                   nonce, claims); AK accepted as unverified (no trust lookup)
 *   tpm_quote_sig   the quote signature alone (RSA-2048 PKCS#1 v1.5, parsed key): the floor,
 *                   comparable to `openssl speed rsa2048` verify/s
 *   az_snp_verify   whole az-snp-vtpm check of Trustee's evidence-v1.json (HCL parse, JWK AK,
 *                   vTPM quote RSA-2048, runtime-claims digest, SNP chain ASK→VCEK (cached
 *                   after the first time), P-384 report signature, claims)
 *   az_tdx_verify   whole az-tdx-vtpm check of Trustee's evidence-v1.json (HCL, vTPM quote,
 *                   offline DCAP check of the TD quote, claims)
 *
 * Usage: bench_verifier_tpm_az <tests/data dir> [seconds-per-case] (default 2). Process CPU
 * time. Not part of ctest; see bench_verifier_tpm_az.sh.
 */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

#include "common/b64.h"
#include "common/err.h"
#include "server/as/tpm_quote.h"
#include "server/as/verifier_az.h"
#include "server/as/verifier_tpm.h"

static json_t *load(const char *dir, const char *rel)
{
	char path[1024];
	json_t *j;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	j = json_load_file(path, 0, NULL);
	if (!j) {
		fprintf(stderr, "bench_verifier_tpm_az: cannot load %s\n", path);
		exit(2);
	}
	return j;
}

static uint8_t *b64m(const json_t *o, const char *k, size_t *n)
{
	uint8_t *p = NULL;
	const char *s = json_string_value(json_object_get(o, k));

	if (!s || b64_decode_alloc(s, strlen(s), B64_STD, &p, n) != KBS_OK)
		exit(2);
	return p;
}

struct ctx {
	struct tpm_verifier *tpm;
	struct snp_verifier *snp;
	struct tdx_verifier *tdx;
	json_t *tpm_ev, *az_snp_ev, *az_tdx_ev;
	uint8_t nonce[48];
	EVP_PKEY *ak;
	struct tpm_signature sig;
	uint8_t *sigb, *msg;
	size_t msglen;
};

static int op_tpm(void *arg)
{
	struct ctx *c = arg;
	struct as_verify_input in = {.evidence = c->tpm_ev, .report_data = c->nonce,
				     .report_data_len = 48};
	json_t *claims = NULL;
	char why[256];
	int rc = tpm_verifier_verify(c->tpm, &in, &claims, why, sizeof(why));

	json_decref(claims);
	return rc;
}

static int op_tpm_sig(void *arg)
{
	struct ctx *c = arg;
	char why[256];

	return tpm_signature_verify(c->ak, &c->sig, c->msg, c->msglen, why, sizeof(why));
}

static int op_az_snp(void *arg)
{
	struct ctx *c = arg;
	struct as_verify_input in = {.evidence = c->az_snp_ev,
				     .report_data = (const uint8_t *)"challenge",
				     .report_data_len = 9};
	json_t *claims = NULL;
	char why[256];
	int rc = az_snp_verify(c->snp, &in, &claims, why, sizeof(why));

	json_decref(claims);
	return rc;
}

static int op_az_tdx(void *arg)
{
	struct ctx *c = arg;
	struct as_verify_input in = {.evidence = c->az_tdx_ev,
				     .report_data = (const uint8_t *)"challenge",
				     .report_data_len = 9};
	json_t *claims = NULL;
	char why[256];
	int rc = az_tdx_verify(c->tdx, &in, &claims, why, sizeof(why));

	if (rc)
		fprintf(stderr, "%s\n", why);
	json_decref(claims);
	return rc;
}

int main(int argc, char **argv)
{
	double secs = argc > 2 ? atof(argv[2]) : 2.0, best[4] = {0};
	static const char *const names[4] = {"tpm_verify", "tpm_quote_sig", "az_snp_verify",
					     "az_tdx_verify"};
	bench_op ops[4] = {op_tpm, op_tpm_sig, op_az_snp, op_az_tdx};
	struct ctx c = {0};
	struct tpm_attest a;
	char why[256];
	size_t n;
	uint8_t *akder;
	const unsigned char *pp;
	json_t *q;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_verifier_tpm_az <tests/data dir> [seconds]\n");
		return 2;
	}
	if (tpm_verifier_new(&(struct tpm_verifier_config){.allow_unverified_ak = true}, &c.tpm,
			     why, sizeof(why)) != KBS_OK ||
	    snp_verifier_new(&(struct snp_verifier_config){0}, &c.snp, why, sizeof(why)) !=
		KBS_OK ||
	    tdx_verifier_new(&(struct tdx_verifier_config){0}, &c.tdx, why, sizeof(why)) !=
		KBS_OK) {
		fprintf(stderr, "bench_verifier_tpm_az: %s\n", why);
		return 1;
	}
	c.tpm_ev = load(argv[1], "tpm/tpm_evidence.json");
	c.az_snp_ev = load(argv[1], "az/snp/evidence-v1.json");
	c.az_tdx_ev = load(argv[1], "az/tdx/evidence-v1.json");
	q = json_object_get(c.tpm_ev, "tpm_quote");
	c.msg = b64m(q, "message", &c.msglen);
	c.sigb = b64m(q, "signature", &n);
	if (tpm_attest_parse(c.msg, c.msglen, &a, why, sizeof(why)) != KBS_OK ||
	    tpm_signature_parse(c.sigb, n, &c.sig, why, sizeof(why)) != KBS_OK)
		return 1;
	memcpy(c.nonce, a.extra, 48);
	akder = b64m(c.tpm_ev, "ak_public", &n);
	pp = akder;
	c.ak = d2i_PUBKEY(NULL, &pp, (long)n);
	free(akder);
	if (!c.ak)
		return 1;
	/* interleaved rounds, best counts (as bench_verifier) */
	for (int round = 0; round < 5; round++)
		for (int k = 0; k < 4; k++) {
			double v = bench_rate("bench_verifier_tpm_az", ops[k], &c, 8, secs / 5);

			if (v > best[k])
				best[k] = v;
		}
	for (int k = 0; k < 4; k++)
		printf("%s=%.0f ", names[k], best[k]);
	printf("\n");
	EVP_PKEY_free(c.ak);
	free(c.msg);
	free(c.sigb);
	json_decref(c.tpm_ev);
	json_decref(c.az_snp_ev);
	json_decref(c.az_tdx_ev);
	tpm_verifier_free(c.tpm);
	snp_verifier_free(c.snp);
	tdx_verifier_free(c.tdx);
	return 0;
}
