// SPDX-License-Identifier: Apache-2.0
/*
 * az-snp-vtpm and az-tdx-vtpm. Order (Trustee's): report data required → evidence (v0/v1/v2)
 * → HCL report → HCLAkPub → vTPM quote (signature, nonce = report data, pcrDigest) →
 * SHA-256(runtime claims) = hardware report data → v2 user-data → hardware report by the
 * snp / tdx verifier → PCR 8 = init-data → claims.
 */
#include "server/as/verifier_az.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/log.h"
#include "server/as/az_vtpm.h"
#include "common/snp_report.h"
#include "server/as/tdx_quote.h"

/* Checks shared by both TEEs up to the hardware report. */
static int common_checks(const struct as_verify_input *in, int tdx, struct az_evidence *e,
			 struct hcl_report *h, uint8_t var_hash[32], char *why, size_t whylen)
{
	const char *tee = tdx ? "az-tdx-vtpm" : "az-snp-vtpm";
	EVP_PKEY *ak = NULL;
	unsigned int n = 0;
	int rc;

	if (!in->report_data) {
		snprintf(why, whylen, "%s: report data must be provided", tee);
		return KBS_ERR_INVAL;
	}
	if ((rc = az_evidence_parse(in->evidence, tdx, e, why, whylen)))
		return rc;
	if ((rc = hcl_report_parse(e->hcl, e->hcl_len, h, why, whylen)))
		return rc;
	if (h->report_type != (tdx ? HCL_TYPE_TDX : HCL_TYPE_SNP)) {
		snprintf(why, whylen, "%s: HCL report type %u is not %s", tee, h->report_type,
			 tdx ? "TDX (4)" : "SNP (2)");
		return KBS_ERR_VERIFY;
	}
	if ((rc = hcl_ak_pub(h, &ak, why, whylen)))
		return rc;
	rc = az_tpm_quote_check(e, ak, in->report_data, in->report_data_len, why, whylen);
	EVP_PKEY_free(ak);
	if (rc)
		return rc;
	if (EVP_Digest(h->var_data, h->var_len, var_hash, &n, EVP_sha256(), NULL) != 1)
		return KBS_ERR_CRYPTO;
	return KBS_OK;
}

static int set_str(json_t *o, const char *k, const char *v)
{
	return json_object_set_new(o, k, json_string(v)) ? KBS_ERR_NOMEM : KBS_OK;
}

static int set_uint(json_t *o, const char *k, unsigned v)
{
	char b[16];

	snprintf(b, sizeof(b), "%u", v);
	return set_str(o, k, b);
}

/* Trustee's az-snp-vtpm claims: SNP values as strings, measurement in standard base64. */
static json_t *snp_claims(const struct snp_report *r)
{
	json_t *c = json_object();
	char m[80];

	if (!c || b64_encode(r->measurement, 48, m, sizeof(m), B64_STD) != KBS_OK ||
	    set_uint(c, "policy_abi_major", (unsigned)((r->policy >> 8) & 0xff)) ||
	    set_uint(c, "policy_abi_minor", (unsigned)(r->policy & 0xff)) ||
	    set_str(c, "policy_smt_allowed", r->policy & SNP_POLICY_SMT ? "true" : "false") ||
	    set_str(c, "policy_migrate_ma", r->policy & SNP_POLICY_MIGRATE_MA ? "true" : "false") ||
	    set_str(c, "policy_debug_allowed", r->policy & SNP_POLICY_DEBUG ? "true" : "false") ||
	    set_str(c, "policy_single_socket",
		    r->policy & SNP_POLICY_SINGLE_SOCKET ? "true" : "false") ||
	    set_uint(c, "reported_tcb_bootloader", r->reported_tcb.bootloader) ||
	    set_uint(c, "reported_tcb_tee", r->reported_tcb.tee) ||
	    set_uint(c, "reported_tcb_snp", r->reported_tcb.snp) ||
	    set_uint(c, "reported_tcb_microcode", r->reported_tcb.microcode) ||
	    set_str(c, "platform_tsme_enabled", r->plat_info & SNP_PLAT_TSME_EN ? "true" : "false") ||
	    set_str(c, "platform_smt_enabled", r->plat_info & SNP_PLAT_SMT_EN ? "true" : "false") ||
	    set_str(c, "measurement", m)) {
		json_decref(c);
		return NULL;
	}
	return c;
}

static json_t *bytes_array(const uint8_t *p, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_integer(p[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

int az_snp_verify(const struct snp_verifier *snp, const struct as_verify_input *in,
		  json_t **claims, char *why, size_t whylen)
{
	struct az_evidence e = {0};
	struct hcl_report h;
	struct snp_report r;
	uint8_t var_hash[32], bin[SNP_REPORT_SIZE];
	json_t *sev = NULL, *sc = NULL, *c = NULL;
	struct as_verify_input sin = {0};
	int rc;

	*claims = NULL;
	if ((rc = common_checks(in, 0, &e, &h, var_hash, why, whylen)))
		goto out;
	if ((rc = snp_report_decode(h.hw_report, HCL_HW_REPORT_LEN, &r, why, whylen)))
		goto out;
	rc = KBS_ERR_VERIFY;
	if (CRYPTO_memcmp(var_hash, r.report_data, 32) != 0) {
		snprintf(why, whylen,
			 "az-snp-vtpm: HCL variable data digest doesn't match SNP report data");
		goto out;
	}
	if (e.version == 2 &&
	    (rc = az_user_data_check(&h, in->report_data, in->report_data_len, why, whylen)))
		goto out;
	/* the snp verifier checks the JSON form: it must re-encode to the exact bytes */
	if (snp_report_encode(&r, bin) != KBS_OK ||
	    memcmp(bin, h.hw_report, SNP_REPORT_SIZE) != 0) {
		snprintf(why, whylen, "az-snp-vtpm: SNP report has non-zero reserved bytes");
		rc = KBS_ERR_VERIFY;
		goto out;
	}
	rc = KBS_ERR_NOMEM;
	sev = json_pack("{s:o,s:[{s:s,s:o}]}", "attestation_report", snp_report_to_json(&r),
			"cert_chain", "cert_type", "VCEK", "data", bytes_array(e.vcek, e.vcek_len));
	if (!sev)
		goto out;
	sin.evidence = sev;
	if ((rc = snp_verifier_verify(snp, &sin, &sc, why, whylen)))
		goto out;
	if (in->init_data_digest &&
	    (rc = az_init_data_check(&e, in->init_data_digest, in->init_data_digest_len, why,
				     whylen)))
		goto out;
	rc = KBS_ERR_NOMEM;
	if (!(c = snp_claims(&r)) ||
	    az_add_tpm_claims(c, &e, in->report_data, in->report_data_len) != KBS_OK)
		goto out;
	*claims = c;
	c = NULL;
	log_debug("az-snp-vtpm: verified (evidence v%d, %s)", e.version, snp_gen_name(r.gen));
	rc = KBS_OK;
out:
	if (rc == KBS_ERR_NOMEM)
		snprintf(why, whylen, "out of memory");
	json_decref(c);
	json_decref(sc);
	json_decref(sev);
	az_evidence_release(&e);
	return rc;
}

int az_tdx_verify(const struct tdx_verifier *tdx, const struct as_verify_input *in,
		  json_t **claims, char *why, size_t whylen)
{
	struct az_evidence e = {0};
	struct hcl_report h;
	struct dcap_quote q;
	uint8_t var_hash[32];
	char *b64 = NULL;
	json_t *tev = NULL, *c = NULL;
	struct as_verify_input tin = {0};
	int rc;

	*claims = NULL;
	if ((rc = common_checks(in, 1, &e, &h, var_hash, why, whylen)))
		goto out;
	if ((rc = dcap_quote_parse(e.td_quote, e.td_quote_len, DCAP_TEE_TDX, &q, why, whylen)))
		goto out;
	rc = KBS_ERR_NOMEM;
	if (b64_encode_alloc(e.td_quote, e.td_quote_len, B64_STD, &b64) != KBS_OK ||
	    !(tev = json_pack("{s:s,s:n}", "quote", b64, "cc_eventlog")))
		goto out;
	tin.evidence = tev;
	if ((rc = tdx_verifier_verify(tdx, &tin, &c, why, whylen)))
		goto out;
	rc = KBS_ERR_VERIFY;
	if (CRYPTO_memcmp(var_hash, q.body + TDX_BODY_REPORTDATA, 32) != 0) {
		snprintf(why, whylen,
			 "az-tdx-vtpm: TDX Quote report data mismatch (HCL variable data digest)");
		goto out;
	}
	if (e.version == 2 &&
	    (rc = az_user_data_check(&h, in->report_data, in->report_data_len, why, whylen)))
		goto out;
	if (in->init_data_digest &&
	    (rc = az_init_data_check(&e, in->init_data_digest, in->init_data_digest_len, why,
				     whylen)))
		goto out;
	rc = KBS_ERR_NOMEM;
	if (az_add_tpm_claims(c, &e, in->report_data, in->report_data_len) != KBS_OK)
		goto out;
	*claims = c;
	c = NULL;
	log_debug("az-tdx-vtpm: verified (evidence v%d, quote v%u)", e.version, q.version);
	rc = KBS_OK;
out:
	if (rc == KBS_ERR_NOMEM)
		snprintf(why, whylen, "out of memory");
	json_decref(c);
	json_decref(tev);
	free(b64);
	az_evidence_release(&e);
	return rc;
}

/* ---- table entries: one snp / tdx verifier instance each ---- */

static int az_snp_create(const struct as_verifier_config *c, void **state, char *why,
			 size_t whylen)
{
	struct snp_verifier_config sc = {
	    .vcek_dir = NULL, .kds_url = NULL, .max_vmpl = c->snp_max_vmpl};

	/* the VCEK always travels in the evidence: no cache, no network */
	return snp_verifier_new(&sc, (struct snp_verifier **)state, why, whylen);
}

static void az_snp_destroy(void *state)
{
	snp_verifier_free(state);
}

static int az_tdx_create(const struct as_verifier_config *c, void **state, char *why,
			 size_t whylen)
{
	struct tdx_verifier_config tc = {.collateral_dir = c->tdx_collateral_dir};

	return tdx_verifier_new(&tc, (struct tdx_verifier **)state, why, whylen);
}

static void az_tdx_destroy(void *state)
{
	tdx_verifier_free(state);
}

static int verify_snp(const struct as_verify_input *in, json_t **claims, char *why,
		      size_t whylen)
{
	/* without a state from the AS: the defaults */
	const struct as_verifier *v = &as_verifier_az_snp_vtpm;
	const void *st = in->state ? in->state : as_verifier_default_state(v, why, whylen);

	*claims = NULL;
	return st ? az_snp_verify(st, in, claims, why, whylen) : KBS_ERR_INTERNAL;
}

static int verify_tdx(const struct as_verify_input *in, json_t **claims, char *why,
		      size_t whylen)
{
	const struct as_verifier *v = &as_verifier_az_tdx_vtpm;
	const void *st = in->state ? in->state : as_verifier_default_state(v, why, whylen);

	*claims = NULL;
	return st ? az_tdx_verify(st, in, claims, why, whylen) : KBS_ERR_INTERNAL;
}

const struct as_verifier as_verifier_az_snp_vtpm = {
    .tee = "az-snp-vtpm",
    .tee_class = "cpu",
    .create = az_snp_create,
    .destroy = az_snp_destroy,
    .verify = verify_snp,
};

const struct as_verifier as_verifier_az_tdx_vtpm = {
    .tee = "az-tdx-vtpm",
    .tee_class = "cpu",
    .create = az_tdx_create,
    .destroy = az_tdx_destroy,
    .verify = verify_tdx,
};
