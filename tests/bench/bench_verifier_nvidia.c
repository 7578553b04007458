// SPDX-License-Identifier: Apache-2.0
/*
 * bench_verifier_nvidia: NVIDIA GPU verifications per second.
 *
 *   nvidia_verify   whole local check of one device of Trustee's hopperAttestationReport.txt
 *                   (evidence JSON, hex and base64 decoding, SPDM parse with opaque data, PEM
 *                   chain of five certificates, report signature, root pin, FWID, path
 *                   validation, nonce, claims)
 *   report_sig      the report signature alone (one ECDSA P-384 verify over SHA-384 of the
 *                   signed region, with a pre-parsed key): the primitive's ceiling
 *
 * Usage: bench_verifier_nvidia <tests/data dir> [seconds] (default 2). Process CPU time.
 * Not part of ctest; see bench_verifier_nvidia.sh.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "server/as/nv_spdm.h"
#include "server/as/verifier_nvidia.h"
#include "server/as/x509util.h"

#include "bench_util.h"

#define NONCE "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb"

struct full {
	const struct nv_verifier *v;
	struct as_verify_input in;
};

static int full_once(void *arg)
{
	struct full *f = arg;
	json_t *d = NULL;
	char why[512];
	int rc = nv_verifier_verify(f->v, &f->in, &d, why, sizeof(why));

	if (rc != KBS_OK)
		fprintf(stderr, "bench_verifier_nvidia: %s\n", why);
	json_decref(d);
	return rc;
}

struct sig {
	EVP_PKEY *key;
	const uint8_t *data;
	size_t len;
	uint8_t *der;
	size_t derlen;
};

static int sig_once(void *arg)
{
	struct sig *s = arg;

	return x509u_verify_ecdsa(s->key, "SHA384", s->data, s->len, s->der, s->derlen);
}

int main(int argc, char **argv)
{
	double secs = argc > 2 ? atof(argv[2]) : 2.0;
	size_t hl, cl, bl, nl;
	char *hex, *chain, *cb64 = NULL, why[512];
	uint8_t nonce[32], *bin;
	struct nv_verifier *v = NULL;
	struct nv_spdm_report *r = calloc(1, sizeof(*r));
	struct full f = {0};
	struct sig s = {0};
	json_t *ev;
	X509 *leaf;
	BIO *bio;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_verifier_nvidia <tests/data dir> [seconds]\n");
		return 2;
	}
	hex = bench_slurp("bench_verifier_nvidia", argv[1], "nvidia/hopperAttestationReport.txt", &hl);
	chain = bench_slurp("bench_verifier_nvidia", argv[1], "nvidia/hopper_cert_chain_case1.txt", &cl);
	if (b64_encode_alloc((const uint8_t *)chain, cl, B64_STD, &cb64) != KBS_OK ||
	    hex_decode(NONCE, strlen(NONCE), nonce, sizeof(nonce), &nl) != KBS_OK)
		return 1;
	ev = json_pack("{s:[{s:s,s:s,s:s,s:s}]}", "device_evidence_list", "arch", "HOPPER", "uuid",
		       "bench", "evidence", hex, "certificate", cb64);
	if (nv_verifier_new(NULL, 0, &v, why, sizeof(why)) != KBS_OK || !ev || !r)
		return 1;
	f.v = v;
	f.in.evidence = ev;
	f.in.report_data = nonce;
	f.in.report_data_len = sizeof(nonce);
	printf("nvidia_verify=%.0f\n", bench_best_rate("bench_verifier_nvidia", full_once, &f, 8, secs, 5));

	bin = malloc(hl / 2);
	if (!bin || hex_decode(hex, hl, bin, hl / 2, &bl) != KBS_OK ||
	    nv_spdm_parse(bin, bl, NV_HOPPER_SIG_LEN, r, why, sizeof(why)) != KBS_OK)
		return 1;
	bio = BIO_new_mem_buf(chain, (int)cl);
	leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (!leaf || x509u_ecdsa_raw_to_der(r->sig, r->sig + 48, 48, 0, &s.der, &s.derlen) != KBS_OK)
		return 1;
	s.key = X509_get0_pubkey(leaf);
	s.data = bin;
	s.len = r->signed_len;
	printf("report_sig=%.0f\n", bench_best_rate("bench_verifier_nvidia", sig_once, &s, 8, secs, 5));

	OPENSSL_free(s.der);
	X509_free(leaf);
	BIO_free(bio);
	nv_spdm_report_release(r);
	free(r);
	free(bin);
	json_decref(ev);
	nv_verifier_free(v);
	free(cb64);
	free(chain);
	free(hex);
	return 0;
}
