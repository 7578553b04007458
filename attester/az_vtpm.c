// SPDX-License-Identifier: Apache-2.0
/* Azure vTPM attesters (az-snp-vtpm, az-tdx-vtpm): see az_vtpm.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "attester/attester_impl.h"
#include "attester/az_imds.h"
#include "attester/az_vtpm.h"
#include "attester/tpm.h"
#include "attester/util.h"
#include "common/b64.h"
#include "common/err.h"
#include "common/log.h"

#define HCL_HW_REPORT_OFF 0x20u
#define HCL_REPORT_TYPE_OFF 0x4C8u
#define HCL_VARDATA_SIZE_OFF 0x4D0u
#define HCL_VARDATA_OFF 0x4D4u
#define AZ_USERDATA_LEN 64u
#define AZ_VCEK_MAX (64u << 10)

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int az_hcl_report_type(const uint8_t *buf, size_t len, uint32_t *type)
{
	uint32_t var;

	if (!buf || !type)
		return KBS_ERR_INVAL;
	if (len < HCL_VARDATA_OFF || memcmp(buf, "HCLA", 4) != 0)
		return KBS_ERR_PARSE;
	var = le32(buf + HCL_VARDATA_SIZE_OFF);
	if (var > len - HCL_VARDATA_OFF)
		return KBS_ERR_PARSE;
	*type = le32(buf + HCL_REPORT_TYPE_OFF);
	return KBS_OK;
}

int az_hcl_td_report(const uint8_t *buf, size_t len, const uint8_t **td_report)
{
	uint32_t type = 0;
	int rc;

	if (!td_report)
		return KBS_ERR_INVAL;
	*td_report = NULL;
	rc = az_hcl_report_type(buf, len, &type);
	if (rc)
		return rc;
	/* TDREPORT_STRUCT starts with REPORTTYPE.type = 0x81 (TDX) */
	if (type != AZ_HCL_REPORT_TYPE_TDX || buf[HCL_HW_REPORT_OFF] != AZ_TDREPORT_TYPE_TDX)
		return KBS_ERR_PARSE;
	*td_report = buf + HCL_HW_REPORT_OFF;
	return KBS_OK;
}

static void az_cfg(struct tpm_attester_cfg *cfg)
{
	const char *s = getenv("AA_TPM_AK_HANDLE");

	tpm_attester_cfg_from_env(cfg);
	if (!s || !*s)
		cfg->ak_handle = AZ_VTPM_AK_HANDLE;
	cfg->pcr_mask = TPM_PCR_ALL;
}

/* HCL report type in the vTPM, or 0 when there is no TPM or no HCL report. */
static uint32_t hcl_type_present(void)
{
	struct tpm_attester_cfg cfg;
	struct tpm_ctx *c = NULL;
	uint8_t *rep = NULL;
	size_t len = 0;
	uint32_t type = 0;

	az_cfg(&cfg);
	cfg.ak_handle = 0; /* detection needs no AK */
	if (!tpm_attester_detect(&cfg) || tpm_open(&cfg, &c) != KBS_OK)
		return 0;
	if (tpm_nv_read(c, AZ_HCL_REPORT_NV_INDEX, &rep, &len) != KBS_OK ||
	    az_hcl_report_type(rep, len, &type) != KBS_OK)
		type = 0;
	free(rep);
	tpm_close(c);
	return type;
}

static bool az_snp_detect(void)
{
	return hcl_type_present() == AZ_HCL_REPORT_TYPE_SNP;
}

static bool az_tdx_detect(void)
{
	return hcl_type_present() == AZ_HCL_REPORT_TYPE_TDX;
}

/* Padded base64url, the form Trustee's guest emits. */
static int add_b64url_padded(json_t *obj, const char *key, const uint8_t *p, size_t n)
{
	char *s = NULL;
	int rc = b64_encode_alloc(p, n, B64_STD, &s);

	if (rc)
		return rc;
	for (char *q = s; *q; q++) {
		if (*q == '+')
			*q = '-';
		else if (*q == '/')
			*q = '_';
	}
	rc = json_object_set_new(obj, key, json_string(s)) ? KBS_ERR_NOMEM : KBS_OK;
	free(s);
	return rc;
}

/* DER of the first certificate in a PEM text. */
static int pem_cert_der(const uint8_t *pem, size_t n, uint8_t **der, size_t *der_len)
{
	uint8_t *d = NULL;
	BIO *bio = NULL;
	X509 *x = NULL;
	int len, rc = KBS_ERR_PARSE;

	if (n > INT32_MAX)
		return KBS_ERR_RANGE;
	bio = BIO_new_mem_buf(pem, (int)n);
	if (!bio || !(x = PEM_read_bio_X509(bio, NULL, NULL, NULL)))
		goto out;
	len = i2d_X509(x, NULL);
	if (len <= 0 || !(d = malloc((size_t)len))) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	{
		unsigned char *q = d;

		if (i2d_X509(x, &q) != len)
			goto out;
	}
	*der = d;
	*der_len = (size_t)len;
	d = NULL;
	rc = KBS_OK;
out:
	free(d);
	X509_free(x);
	BIO_free(bio);
	return rc;
}

/* VCEK DER: from the PEM file AA_AZ_VCEK_PATH if set, else from IMDS as upstream does. */
static int load_vcek(uint8_t **der, size_t *der_len)
{
	const char *path = getenv("AA_AZ_VCEK_PATH");
	struct az_imds_cfg imds;
	uint8_t *pem = NULL;
	char *ipem = NULL;
	size_t n = 0;
	int rc;

	if (path && *path) {
		rc = attester_read_file(path, AZ_VCEK_MAX, &pem, &n);
	} else {
		az_imds_cfg_from_env(&imds);
		rc = az_imds_vcek_pem(&imds, &ipem);
		pem = (uint8_t *)ipem;
		n = ipem ? strlen(ipem) : 0;
	}
	if (rc) {
		log_msg(LOG_LVL_ERROR, "az-snp-vtpm: no VCEK from %s (%s)",
			path && *path ? path : "IMDS", kbs_strerror(rc));
		goto out;
	}
	rc = pem_cert_der(pem, n, der, der_len);
	if (rc)
		log_msg(LOG_LVL_ERROR, "az-snp-vtpm: the VCEK from %s is not a PEM certificate",
			path && *path ? path : "IMDS");
out:
	free(pem);
	return rc;
}

static void wait_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (ms > 0 && nanosleep(&ts, &ts) != 0)
		;
}

/*
 * Opens the vTPM, writes the report data as user-data, waits for the paravisor to regenerate
 * the HCL report and reads it back; fails unless it has the wanted report type.
 */
static int hcl_refresh(const char *tee, uint32_t want, const uint8_t *report_data, size_t len,
		       struct tpm_ctx **ctx, uint8_t **hcl, size_t *hcl_len)
{
	struct tpm_attester_cfg cfg;
	struct tpm_ctx *c = NULL;
	uint8_t userdata[AZ_USERDATA_LEN];
	const char *w = getenv("AA_AZ_REPORT_WAIT_MS");
	long wait = 3000;
	uint32_t type = 0;
	int rc;

	if (w && *w)
		wait = strtol(w, NULL, 10);
	az_cfg(&cfg);
	rc = tpm_open(&cfg, &c);
	if (rc)
		return rc;
	attester_fit(report_data, len, userdata, sizeof(userdata));
	rc = tpm_nv_write(c, AZ_HCL_USERDATA_NV_INDEX, userdata, sizeof(userdata));
	if (rc)
		goto out;
	wait_ms(wait);
	rc = tpm_nv_read(c, AZ_HCL_REPORT_NV_INDEX, hcl, hcl_len);
	if (rc)
		goto out;
	rc = az_hcl_report_type(*hcl, *hcl_len, &type);
	if (!rc && type != want)
		rc = KBS_ERR_UNSUPPORTED;
	if (rc) {
		log_msg(LOG_LVL_ERROR, "%s: NV 0x%x holds no HCL report of type %u", tee,
			AZ_HCL_REPORT_NV_INDEX, want);
		free(*hcl);
		*hcl = NULL;
		goto out;
	}
	*ctx = c;
	c = NULL;
out:
	tpm_close(c);
	return rc;
}

/* {"version":2,"tpm_quote":…,"hcl_report":…,<key>:…}, upstream's member order. */
static int az_evidence(json_t *quote, const uint8_t *hcl, size_t hcl_len, const char *key,
		       const uint8_t *p, size_t n, json_t **evidence)
{
	json_t *ev = json_object();
	int rc = KBS_ERR_NOMEM;

	if (!ev || json_object_set_new(ev, "version", json_integer(2)) ||
	    json_object_set(ev, "tpm_quote", quote))
		goto out;
	rc = add_b64url_padded(ev, "hcl_report", hcl, hcl_len);
	if (!rc)
		rc = add_b64url_padded(ev, key, p, n);
	if (rc)
		goto out;
	*evidence = ev;
	ev = NULL;
out:
	json_decref(ev);
	return rc;
}

static int az_snp_get_evidence(const uint8_t *report_data, size_t len, json_t **evidence)
{
	struct tpm_ctx *c = NULL;
	uint8_t *hcl = NULL, *vcek = NULL;
	size_t hcl_len = 0, vcek_len = 0;
	json_t *quote = NULL;
	int rc;

	rc = load_vcek(&vcek, &vcek_len);
	if (rc)
		return rc;
	rc = hcl_refresh("az-snp-vtpm", AZ_HCL_REPORT_TYPE_SNP, report_data, len, &c, &hcl,
			 &hcl_len);
	if (rc)
		goto out;
	rc = tpm_quote_json(c, report_data, len, true, &quote);
	if (!rc)
		rc = az_evidence(quote, hcl, hcl_len, "vcek", vcek, vcek_len, evidence);
out:
	json_decref(quote);
	free(hcl);
	free(vcek);
	tpm_close(c);
	return rc;
}

static int az_tdx_get_evidence(const uint8_t *report_data, size_t len, json_t **evidence)
{
	struct az_imds_cfg imds;
	struct tpm_ctx *c = NULL;
	struct buf td_quote = BUF_INIT;
	const uint8_t *td = NULL;
	uint8_t *hcl = NULL;
	size_t hcl_len = 0;
	json_t *quote = NULL;
	int rc;

	rc = hcl_refresh("az-tdx-vtpm", AZ_HCL_REPORT_TYPE_TDX, report_data, len, &c, &hcl,
			 &hcl_len);
	if (rc)
		goto out;
	rc = az_hcl_td_report(hcl, hcl_len, &td);
	if (rc) {
		log_msg(LOG_LVL_ERROR, "az-tdx-vtpm: the HCL report holds no TDREPORT");
		goto out;
	}
	/* the TD quote for the TDREPORT inside the HCL report comes from IMDS */
	az_imds_cfg_from_env(&imds);
	rc = az_imds_td_quote(&imds, td, AZ_TD_REPORT_LEN, &td_quote);
	if (rc) {
		log_msg(LOG_LVL_ERROR, "az-tdx-vtpm: no TD quote from IMDS (%s)", kbs_strerror(rc));
		goto out;
	}
	rc = tpm_quote_json(c, report_data, len, true, &quote);
	if (!rc)
		rc = az_evidence(quote, hcl, hcl_len, "td_quote", td_quote.p, td_quote.len,
				 evidence);
out:
	json_decref(quote);
	buf_release(&td_quote);
	free(hcl);
	tpm_close(c);
	return rc;
}

const struct attester_ops attester_az_snp_vtpm_ops = {
	.tee = ATTESTER_TEE_AZ_SNP_VTPM,
	.name = "az-snp-vtpm",
	.hardware = true,
	.report_data_max = 64,
	.detect = az_snp_detect,
	.get_evidence = az_snp_get_evidence,
};

const struct attester_ops attester_az_tdx_vtpm_ops = {
	.tee = ATTESTER_TEE_AZ_TDX_VTPM,
	.name = "az-tdx-vtpm",
	.hardware = true,
	.report_data_max = 64,
	.detect = az_tdx_detect,
	.get_evidence = az_tdx_get_evidence,
};
