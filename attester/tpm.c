// SPDX-License-Identifier: Apache-2.0
/*
 * TPM 2.0 attester on the tpm2-tss ESAPI. See tpm.h for the evidence shape.
 *
 * The quote and the PCR values are taken by two commands (a TPM cannot return both at once),
 * so after reading the PCRs we recompute the quoted pcrDigest from them and retry if a PCR
 * was extended in between: the verifier would otherwise reject the evidence.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <tss2/tss2_tcti.h>

#include "attester/attester_impl.h"
#include "attester/tpm.h"
#include "attester/tss.h"
#include "attester/util.h"
#include "common/b64.h"
#include "common/err.h"
#include "common/log.h"

#define TPM_EVENTLOG_MAX (16u << 20)
#define TPM_QUOTE_TRIES 3
#define TPM_NV_CHUNK 1024
#define TPM_NV_READ_MAX 65536

struct tpm_ctx {
	struct tpm_attester_cfg cfg;
	struct tss_api *tss; /* tpm2-tss, loaded when the context is opened */
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	ESYS_TR ak;
	uint8_t *ak_der; /* DER SubjectPublicKeyInfo */
	size_t ak_der_len;
};

static const char *default_devices[] = {"/dev/tpm0", "/dev/tpm1", "/dev/tpm2"};

void tpm_attester_cfg_from_env(struct tpm_attester_cfg *cfg)
{
	const char *s;

	memset(cfg, 0, sizeof(*cfg));
	cfg->ak_handle = TPM_AK_HANDLE_DEFAULT;
	cfg->pcr_mask = TPM_PCR_ALL;
	cfg->eventlog_path = getenv("AA_TPM_EVENTLOG_PATH");
	if (!cfg->eventlog_path || !*cfg->eventlog_path)
		cfg->eventlog_path = "/sys/kernel/security/tpm0/binary_bios_measurements";
	cfg->aael_path = getenv("AAEL_PATH");
	if (!cfg->aael_path || !*cfg->aael_path)
		cfg->aael_path = "/run/attestation-agent/eventlog";
	s = getenv("AA_TPM_AK_HANDLE");
	if (s && *s) {
		char *end = NULL;
		unsigned long v = strtoul(s, &end, 16);

		if (end && !*end && v >= 0x81000000ul && v <= 0x81ffffffu)
			cfg->ak_handle = (uint32_t)v;
		else
			log_msg(LOG_LVL_WARN, "tpm: ignoring AA_TPM_AK_HANDLE=%s (not a persistent handle)",
				s);
	}
	s = getenv("AA_TPM_LOCALITY");
	if (s && *s >= '0' && *s <= '4' && !s[1])
		cfg->locality = (uint8_t)(*s - '0');
	s = getenv("AA_TPM_CREATE_AK");
	cfg->create_ak = s && strcmp(s, "1") == 0;
	s = getenv("AA_TPM_TCTI");
	if (s && *s) {
		cfg->tcti = s;
		return;
	}
	s = getenv("AA_TPM_DEVICE");
	if (s && *s) {
		if (access(s, F_OK) == 0 &&
		    (size_t)snprintf(cfg->tcti_storage, sizeof(cfg->tcti_storage), "device:%s", s) <
			    sizeof(cfg->tcti_storage))
			cfg->tcti = cfg->tcti_storage;
		return;
	}
	for (size_t i = 0; i < sizeof(default_devices) / sizeof(default_devices[0]); i++) {
		if (access(default_devices[i], F_OK) == 0) {
			(void)snprintf(cfg->tcti_storage, sizeof(cfg->tcti_storage), "device:%s",
				       default_devices[i]);
			cfg->tcti = cfg->tcti_storage;
			return;
		}
	}
}

bool tpm_attester_detect(const struct tpm_attester_cfg *cfg)
{
	return cfg && cfg->tcti && *cfg->tcti;
}

void tpm_report_data(const uint8_t *in, size_t len, uint8_t out[TPM_REPORT_DATA_LEN])
{
	attester_fit(in, len, out, TPM_REPORT_DATA_LEN);
}

static int tss_fail(const struct tpm_ctx *c, const char *what, TSS2_RC r)
{
	log_msg(LOG_LVL_ERROR, "tpm: %s failed: %s", what, c->tss->Tss2_RC_Decode(r));
	return KBS_ERR_IO;
}

/* Restricted RSA 2048 signing key, RSASSA-SHA256, fixed to this TPM: the usual AK template. */
static void ak_template(TPM2B_PUBLIC *pub)
{
	memset(pub, 0, sizeof(*pub));
	pub->publicArea.type = TPM2_ALG_RSA;
	pub->publicArea.nameAlg = TPM2_ALG_SHA256;
	pub->publicArea.objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT |
					   TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
					   TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH;
	pub->publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
	pub->publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
	pub->publicArea.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
	pub->publicArea.parameters.rsaDetail.keyBits = 2048;
	pub->publicArea.parameters.rsaDetail.exponent = 0;
}

static int create_ak(struct tpm_ctx *c)
{
	TPM2B_SENSITIVE_CREATE sens;
	TPM2B_PUBLIC tmpl;
	TPM2B_DATA outside = {.size = 0};
	TPML_PCR_SELECTION creation_pcr = {.count = 0};
	ESYS_TR obj = ESYS_TR_NONE;
	TSS2_RC r;
	int rc;

	memset(&sens, 0, sizeof(sens));
	ak_template(&tmpl);
	r = c->tss->Esys_CreatePrimary(c->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
			       ESYS_TR_NONE, &sens, &tmpl, &outside, &creation_pcr, &obj, NULL,
			       NULL, NULL, NULL);
	if (r != TSS2_RC_SUCCESS)
		return tss_fail(c, "CreatePrimary (AK)", r);
	r = c->tss->Esys_EvictControl(c->esys, ESYS_TR_RH_OWNER, obj, ESYS_TR_PASSWORD, ESYS_TR_NONE,
			      ESYS_TR_NONE, c->cfg.ak_handle, &c->ak);
	if (r != TSS2_RC_SUCCESS) {
		rc = tss_fail(c, "EvictControl (persist AK)", r);
		goto out;
	}
	log_msg(LOG_LVL_INFO, "tpm: created AK at persistent handle 0x%x", c->cfg.ak_handle);
	rc = KBS_OK;
out:
	c->tss->Esys_FlushContext(c->esys, obj);
	return rc;
}

/* DER SubjectPublicKeyInfo of the AK (RSA only, as Trustee's verifier expects). */
static int ak_public_der(struct tpm_ctx *c)
{
	TPM2B_PUBLIC *pub = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *n = NULL, *e = NULL;
	unsigned char *der = NULL;
	uint32_t exp;
	TSS2_RC r;
	int len, rc = KBS_ERR_CRYPTO;

	r = c->tss->Esys_ReadPublic(c->esys, c->ak, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL,
			    NULL);
	if (r != TSS2_RC_SUCCESS)
		return tss_fail(c, "ReadPublic (AK)", r);
	if (pub->publicArea.type != TPM2_ALG_RSA ||
	    !(pub->publicArea.objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT)) {
		log_msg(LOG_LVL_ERROR, "tpm: AK at 0x%x is not an RSA signing key",
			c->cfg.ak_handle);
		rc = KBS_ERR_UNSUPPORTED;
		goto out;
	}
	exp = pub->publicArea.parameters.rsaDetail.exponent;
	if (!exp)
		exp = 65537;
	n = BN_bin2bn(pub->publicArea.unique.rsa.buffer, pub->publicArea.unique.rsa.size, NULL);
	e = BN_new();
	bld = OSSL_PARAM_BLD_new();
	if (!n || !e || !bld || !BN_set_word(e, exp) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (!params || !pctx || EVP_PKEY_fromdata_init(pctx) <= 0 ||
	    EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;
	len = i2d_PUBKEY(pkey, &der);
	if (len <= 0)
		goto out;
	c->ak_der = malloc((size_t)len);
	if (!c->ak_der) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	memcpy(c->ak_der, der, (size_t)len);
	c->ak_der_len = (size_t)len;
	rc = KBS_OK;
out:
	OPENSSL_free(der);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	c->tss->Esys_Free(pub);
	return rc;
}

int tpm_open(const struct tpm_attester_cfg *cfg, struct tpm_ctx **out)
{
	struct tpm_ctx *c = NULL;
	TSS2_RC r;
	int rc;

	if (!cfg || !out)
		return KBS_ERR_INVAL;
	*out = NULL;
	if (!cfg->tcti || !*cfg->tcti)
		return KBS_ERR_UNSUPPORTED;
	c = calloc(1, sizeof(*c));
	if (!c)
		return KBS_ERR_NOMEM;
	c->cfg = *cfg;
	if (cfg->tcti == cfg->tcti_storage)
		c->cfg.tcti = c->cfg.tcti_storage;
	c->ak = ESYS_TR_NONE;
	rc = tss_api_load(NULL, &c->tss, NULL, 0);
	if (rc)
		goto out;
	r = c->tss->Tss2_TctiLdr_Initialize(cfg->tcti, &c->tcti);
	if (r != TSS2_RC_SUCCESS) {
		log_msg(LOG_LVL_ERROR, "tpm: cannot open TCTI '%s'", cfg->tcti);
		rc = KBS_ERR_UNAVAILABLE;
		goto out;
	}
	r = c->tss->Esys_Initialize(&c->esys, c->tcti, NULL);
	if (r != TSS2_RC_SUCCESS) {
		rc = tss_fail(c, "Esys_Initialize", r);
		goto out;
	}
	if (cfg->ak_handle == 0) {
		/* PCR access only: no AK needed */
		*out = c;
		return KBS_OK;
	}
	r = c->tss->Esys_TR_FromTPMPublic(c->esys, cfg->ak_handle, ESYS_TR_NONE, ESYS_TR_NONE,
				  ESYS_TR_NONE, &c->ak);
	if (r != TSS2_RC_SUCCESS) {
		if (!cfg->create_ak) {
			log_msg(LOG_LVL_ERROR,
				"tpm: no AK at persistent handle 0x%x (provision one, or allow "
				"creation)",
				cfg->ak_handle);
			rc = KBS_ERR_NOTFOUND;
			goto out;
		}
		c->ak = ESYS_TR_NONE;
		rc = create_ak(c);
		if (rc)
			goto out;
	}
	rc = ak_public_der(c);
	if (rc)
		goto out;
	*out = c;
	c = NULL;
out:
	tpm_close(c);
	return rc;
}

void tpm_close(struct tpm_ctx *c)
{
	if (!c)
		return;
	if (c->esys) {
		if (c->ak != ESYS_TR_NONE)
			c->tss->Esys_TR_Close(c->esys, &c->ak);
		c->tss->Esys_Finalize(&c->esys);
	}
	if (c->tcti)
		c->tss->Tss2_TctiLdr_Finalize(&c->tcti);
	tss_api_free(c->tss);
	free(c->ak_der);
	free(c);
}

static void pcr_select(TPML_PCR_SELECTION *sel, uint32_t mask)
{
	memset(sel, 0, sizeof(*sel));
	sel->count = 1;
	sel->pcrSelections[0].hash = TPM2_ALG_SHA256;
	sel->pcrSelections[0].sizeofSelect = 3;
	sel->pcrSelections[0].pcrSelect[0] = (uint8_t)(mask & 0xff);
	sel->pcrSelections[0].pcrSelect[1] = (uint8_t)((mask >> 8) & 0xff);
	sel->pcrSelections[0].pcrSelect[2] = (uint8_t)((mask >> 16) & 0xff);
}

int tpm_pcr_read(struct tpm_ctx *c, unsigned pcr, uint8_t out[32])
{
	TPML_PCR_SELECTION sel, *sel_out = NULL;
	TPML_DIGEST *vals = NULL;
	UINT32 counter;
	TSS2_RC r;
	int rc = KBS_ERR_PROTOCOL;

	if (!c || pcr > 23 || !out)
		return KBS_ERR_INVAL;
	pcr_select(&sel, 1u << pcr);
	r = c->tss->Esys_PCR_Read(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, &counter,
			  &sel_out, &vals);
	if (r != TSS2_RC_SUCCESS)
		return tss_fail(c, "PCR_Read", r);
	if (vals->count != 1 || vals->digests[0].size != 32)
		goto out;
	memcpy(out, vals->digests[0].buffer, 32);
	rc = KBS_OK;
out:
	c->tss->Esys_Free(sel_out);
	c->tss->Esys_Free(vals);
	return rc;
}

int tpm_pcr_extend(struct tpm_ctx *c, unsigned pcr, const uint8_t digest[32])
{
	TPML_DIGEST_VALUES dv;
	TSS2_RC r;

	if (!c || pcr > 23 || !digest)
		return KBS_ERR_INVAL;
	memset(&dv, 0, sizeof(dv));
	dv.count = 1;
	dv.digests[0].hashAlg = TPM2_ALG_SHA256;
	memcpy(dv.digests[0].digest.sha256, digest, 32);
	/* PCRs 17-22 are reserved for localities 2-4 (PC Client profile) */
	if (c->cfg.locality) {
		r = Tss2_Tcti_SetLocality(c->tcti, c->cfg.locality);
		if (r != TSS2_RC_SUCCESS)
			return tss_fail(c, "SetLocality", r);
	}
	r = c->tss->Esys_PCR_Extend(c->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
			    ESYS_TR_NONE, &dv);
	if (c->cfg.locality)
		(void)Tss2_Tcti_SetLocality(c->tcti, 0);
	if (r != TSS2_RC_SUCCESS)
		return tss_fail(c, "PCR_Extend", r);
	return KBS_OK;
}

static int add_b64(json_t *obj, const char *key, const uint8_t *p, size_t n)
{
	char *s = NULL;
	int rc = b64_encode_alloc(p, n, B64_STD, &s);

	if (rc)
		return rc;
	rc = json_object_set_new(obj, key, json_string(s)) ? KBS_ERR_NOMEM : KBS_OK;
	free(s);
	return rc;
}

/* Adds key = b64(file) if the file exists and is not empty; a missing file is not an error. */
static int add_file_b64(json_t *obj, const char *key, const char *path)
{
	uint8_t *p = NULL;
	size_t n = 0;
	int rc;

	if (!path || !*path)
		return KBS_OK;
	rc = attester_read_file(path, TPM_EVENTLOG_MAX, &p, &n);
	if (rc == KBS_ERR_NOTFOUND || (rc == KBS_ERR_IO && access(path, R_OK) != 0))
		return KBS_OK;
	if (rc)
		return rc;
	if (n)
		rc = add_b64(obj, key, p, n);
	free(p);
	return rc;
}

static int add_hex(json_t *obj, const char *key, const uint8_t *p, size_t n)
{
	char *s = malloc(2 * n + 1);
	int rc = KBS_ERR_NOMEM;

	if (!s)
		return rc;
	hex_encode(p, n, s, 2 * n + 1);
	rc = json_object_set_new(obj, key, json_string(s)) ? KBS_ERR_NOMEM : KBS_OK;
	free(s);
	return rc;
}

/*
 * Unbound, unsalted HMAC session with parameter encryption both ways (XOR, SHA-256), as
 * upstream's tpm attester opens for its quote: the AK is authorised by HMAC instead of a
 * cleartext password and the qualifying data / TPMS_ATTEST travel encrypted.
 */
static int start_enc_session(struct tpm_ctx *c, ESYS_TR *sess)
{
	TPMT_SYM_DEF sym;
	TSS2_RC r;

	memset(&sym, 0, sizeof(sym));
	sym.algorithm = TPM2_ALG_XOR;
	sym.keyBits.exclusiveOr = TPM2_ALG_SHA256;
	sym.mode.sym = TPM2_ALG_NULL;
	r = c->tss->Esys_StartAuthSession(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
					  ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_HMAC, &sym,
					  TPM2_ALG_SHA256, sess);
	if (r != TSS2_RC_SUCCESS)
		return tss_fail(c, "StartAuthSession", r);
	r = c->tss->Esys_TRSess_SetAttributes(c->esys, *sess,
					      TPMA_SESSION_DECRYPT | TPMA_SESSION_ENCRYPT |
						      TPMA_SESSION_CONTINUESESSION,
					      0xff);
	if (r != TSS2_RC_SUCCESS) {
		c->tss->Esys_FlushContext(c->esys, *sess);
		*sess = ESYS_TR_NONE;
		return tss_fail(c, "TRSess_SetAttributes", r);
	}
	return KBS_OK;
}

/*
 * One quote + PCR read; KBS_ERR_BUSY if a PCR changed in between. az = Azure vTPM form:
 * hex members and the raw RSA signature instead of the base64 TPMT_SIGNATURE.
 */
static int quote_once(struct tpm_ctx *c, const uint8_t *qd, size_t qdlen, bool az,
		      json_t *quote)
{
	TPM2B_DATA qualifying = {.size = (UINT16)qdlen};
	TPMT_SIG_SCHEME scheme;
	TPML_PCR_SELECTION sel;
	TPM2B_ATTEST *quoted = NULL;
	TPMT_SIGNATURE *sig = NULL;
	TPMS_ATTEST attest;
	uint8_t sigbuf[sizeof(TPMT_SIGNATURE)];
	uint8_t pcr[32], dig[32];
	size_t off = 0;
	EVP_MD_CTX *md = NULL;
	json_t *pcrs = NULL;
	char hex[65];
	ESYS_TR sess = ESYS_TR_PASSWORD;
	TSS2_RC r;
	int rc;

	if (qdlen > sizeof(qualifying.buffer))
		return KBS_ERR_RANGE;
	if (qdlen)
		memcpy(qualifying.buffer, qd, qdlen);
	memset(&scheme, 0, sizeof(scheme));
	scheme.scheme = TPM2_ALG_RSASSA;
	scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
	pcr_select(&sel, c->cfg.pcr_mask);
	/* Azure's guest libraries quote with a password session; keep their exchange */
	if (!az) {
		rc = start_enc_session(c, &sess);
		if (rc)
			return rc;
	}
	r = c->tss->Esys_Quote(c->esys, c->ak, sess, ESYS_TR_NONE, ESYS_TR_NONE, &qualifying,
			       &scheme, &sel, &quoted, &sig);
	if (sess != ESYS_TR_PASSWORD)
		c->tss->Esys_FlushContext(c->esys, sess);
	if (r != TSS2_RC_SUCCESS)
		return tss_fail(c, "Quote", r);
	rc = KBS_ERR_PROTOCOL;
	if (c->tss->Tss2_MU_TPMT_SIGNATURE_Marshal(sig, sigbuf, sizeof(sigbuf), &off) != TSS2_RC_SUCCESS)
		goto out;
	{
		size_t aoff = 0;

		memset(&attest, 0, sizeof(attest));
		if (c->tss->Tss2_MU_TPMS_ATTEST_Unmarshal(quoted->attestationData, quoted->size, &aoff,
						  &attest) != TSS2_RC_SUCCESS ||
		    attest.type != TPM2_ST_ATTEST_QUOTE || attest.attested.quote.pcrDigest.size != 32)
			goto out;
	}
	rc = KBS_ERR_NOMEM;
	pcrs = json_array();
	md = EVP_MD_CTX_new();
	if (!pcrs || !md)
		goto out;
	rc = KBS_ERR_CRYPTO;
	if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		goto out;
	for (unsigned i = 0; i < 24; i++) {
		if (!(c->cfg.pcr_mask & (1u << i)))
			continue;
		rc = tpm_pcr_read(c, i, pcr);
		if (rc)
			goto out;
		if (!EVP_DigestUpdate(md, pcr, 32)) {
			rc = KBS_ERR_CRYPTO;
			goto out;
		}
		hex_encode(pcr, 32, hex, sizeof(hex));
		if (json_array_append_new(pcrs, json_string(hex))) {
			rc = KBS_ERR_NOMEM;
			goto out;
		}
	}
	rc = KBS_ERR_CRYPTO;
	if (!EVP_DigestFinal_ex(md, dig, NULL))
		goto out;
	if (memcmp(dig, attest.attested.quote.pcrDigest.buffer, 32) != 0) {
		rc = KBS_ERR_BUSY;
		goto out;
	}
	if (az) {
		if (sig->sigAlg != TPM2_ALG_RSASSA) {
			rc = KBS_ERR_PROTOCOL;
			goto out;
		}
		rc = add_hex(quote, "signature", sig->signature.rsassa.sig.buffer,
			     sig->signature.rsassa.sig.size);
		if (!rc)
			rc = add_hex(quote, "message", quoted->attestationData, quoted->size);
	} else {
		rc = add_b64(quote, "signature", sigbuf, off);
		if (!rc)
			rc = add_b64(quote, "message", quoted->attestationData, quoted->size);
	}
	if (!rc && json_object_set(quote, "pcrs", pcrs))
		rc = KBS_ERR_NOMEM;
out:
	EVP_MD_CTX_free(md);
	json_decref(pcrs);
	c->tss->Esys_Free(quoted);
	c->tss->Esys_Free(sig);
	return rc;
}

int tpm_quote_json(struct tpm_ctx *c, const uint8_t *nonce, size_t len, bool az, json_t **out)
{
	json_t *quote = NULL;
	int rc = KBS_ERR_BUSY;

	if (!c || !out || (!nonce && len) || c->ak == ESYS_TR_NONE)
		return KBS_ERR_INVAL;
	*out = NULL;
	for (int i = 0; i < TPM_QUOTE_TRIES && rc == KBS_ERR_BUSY; i++) {
		json_decref(quote);
		quote = json_object();
		if (!quote)
			return KBS_ERR_NOMEM;
		rc = quote_once(c, nonce, len, az, quote);
	}
	if (rc) {
		json_decref(quote);
		return rc;
	}
	*out = quote;
	return KBS_OK;
}

int tpm_nv_size(struct tpm_ctx *c, uint32_t index, size_t *size)
{
	TPM2B_NV_PUBLIC *pub = NULL;
	ESYS_TR nv = ESYS_TR_NONE;
	TSS2_RC r;

	if (!c || !size)
		return KBS_ERR_INVAL;
	r = c->tss->Esys_TR_FromTPMPublic(c->esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv);
	if (r != TSS2_RC_SUCCESS)
		return KBS_ERR_NOTFOUND;
	r = c->tss->Esys_NV_ReadPublic(c->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL);
	c->tss->Esys_TR_Close(c->esys, &nv);
	if (r != TSS2_RC_SUCCESS)
		return tss_fail(c, "NV_ReadPublic", r);
	*size = pub->nvPublic.dataSize;
	c->tss->Esys_Free(pub);
	return KBS_OK;
}

int tpm_nv_read(struct tpm_ctx *c, uint32_t index, uint8_t **out, size_t *len)
{
	ESYS_TR nv = ESYS_TR_NONE;
	uint8_t *buf = NULL;
	size_t size = 0, off = 0;
	TSS2_RC r;
	int rc;

	if (!out || !len)
		return KBS_ERR_INVAL;
	*out = NULL;
	*len = 0;
	rc = tpm_nv_size(c, index, &size);
	if (rc)
		return rc;
	if (!size || size > TPM_NV_READ_MAX)
		return KBS_ERR_RANGE;
	r = c->tss->Esys_TR_FromTPMPublic(c->esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv);
	if (r != TSS2_RC_SUCCESS)
		return KBS_ERR_NOTFOUND;
	buf = malloc(size);
	rc = KBS_ERR_NOMEM;
	if (!buf)
		goto out;
	while (off < size) {
		TPM2B_MAX_NV_BUFFER *chunk = NULL;
		UINT16 n = (UINT16)(size - off > TPM_NV_CHUNK ? TPM_NV_CHUNK : size - off);

		/* owner authorization, as Azure's guest library reads the HCL report */
		r = c->tss->Esys_NV_Read(c->esys, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE,
				 ESYS_TR_NONE, n, (UINT16)off, &chunk);
		if (r != TSS2_RC_SUCCESS) {
			rc = tss_fail(c, "NV_Read", r);
			goto out;
		}
		if (chunk->size != n) {
			c->tss->Esys_Free(chunk);
			rc = KBS_ERR_PROTOCOL;
			goto out;
		}
		memcpy(buf + off, chunk->buffer, n);
		c->tss->Esys_Free(chunk);
		off += n;
	}
	*out = buf;
	*len = size;
	buf = NULL;
	rc = KBS_OK;
out:
	free(buf);
	c->tss->Esys_TR_Close(c->esys, &nv);
	return rc;
}

int tpm_nv_write(struct tpm_ctx *c, uint32_t index, const uint8_t *data, size_t len)
{
	TPM2B_NV_PUBLIC pub;
	TPM2B_AUTH auth = {.size = 0};
	TPM2B_MAX_NV_BUFFER buf;
	ESYS_TR nv = ESYS_TR_NONE;
	size_t size = 0;
	TSS2_RC r;
	int rc;

	if (!c || !data || !len || len > TPM_NV_CHUNK)
		return KBS_ERR_INVAL;
	rc = tpm_nv_size(c, index, &size);
	if (rc && rc != KBS_ERR_NOTFOUND)
		return rc;
	if (!rc) {
		r = c->tss->Esys_TR_FromTPMPublic(c->esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
					  &nv);
		if (r != TSS2_RC_SUCCESS)
			return tss_fail(c, "TR_FromTPMPublic (NV)", r);
		if (size != len) {
			/* redefined with the new size, as Azure's guest library does */
			r = c->tss->Esys_NV_UndefineSpace(c->esys, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD,
						  ESYS_TR_NONE, ESYS_TR_NONE);
			if (r != TSS2_RC_SUCCESS) {
				c->tss->Esys_TR_Close(c->esys, &nv);
				return tss_fail(c, "NV_UndefineSpace", r);
			}
			nv = ESYS_TR_NONE;
		}
	}
	if (nv == ESYS_TR_NONE) {
		memset(&pub, 0, sizeof(pub));
		pub.nvPublic.nvIndex = index;
		pub.nvPublic.nameAlg = TPM2_ALG_SHA256;
		pub.nvPublic.attributes = TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD;
		pub.nvPublic.dataSize = (UINT16)len;
		r = c->tss->Esys_NV_DefineSpace(c->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
					ESYS_TR_NONE, &auth, &pub, &nv);
		if (r != TSS2_RC_SUCCESS)
			return tss_fail(c, "NV_DefineSpace", r);
	}
	buf.size = (UINT16)len;
	memcpy(buf.buffer, data, len);
	r = c->tss->Esys_NV_Write(c->esys, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE,
			  ESYS_TR_NONE, &buf, 0);
	c->tss->Esys_TR_Close(c->esys, &nv);
	if (r != TSS2_RC_SUCCESS)
		return tss_fail(c, "NV_Write", r);
	return KBS_OK;
}

int tpm_evidence(struct tpm_ctx *c, const uint8_t *report_data, size_t len, json_t **evidence)
{
	uint8_t qd[TPM_REPORT_DATA_LEN];
	json_t *ev = NULL, *quote = NULL;
	int rc;

	if (!c || !evidence || (!report_data && len))
		return KBS_ERR_INVAL;
	*evidence = NULL;
	if (!c->ak_der)
		return KBS_ERR_INVAL;
	tpm_report_data(report_data, len, qd);
	rc = KBS_ERR_NOMEM;
	ev = json_object();
	if (!ev)
		goto out;
	rc = add_b64(ev, "ak_public", c->ak_der, c->ak_der_len);
	if (rc)
		goto out;
	rc = tpm_quote_json(c, qd, sizeof(qd), false, &quote);
	if (rc)
		goto out;
	rc = KBS_ERR_NOMEM;
	if (json_object_set(ev, "tpm_quote", quote))
		goto out;
	rc = add_file_b64(ev, "eventlog", c->cfg.eventlog_path);
	if (!rc)
		rc = add_file_b64(ev, "aa_eventlog", c->cfg.aael_path);
	if (rc)
		goto out;
	*evidence = ev;
	ev = NULL;
out:
	json_decref(quote);
	json_decref(ev);
	return rc;
}

/* --- struct attester_ops glue: configuration from the environment, like upstream --- */

static bool tpm_ops_detect(void)
{
	struct tpm_attester_cfg cfg;

	tpm_attester_cfg_from_env(&cfg);
	return tpm_attester_detect(&cfg);
}

static int tpm_ops_get_evidence(const uint8_t *report_data, size_t len, json_t **evidence)
{
	struct tpm_attester_cfg cfg;
	struct tpm_ctx *c = NULL;
	int rc;

	tpm_attester_cfg_from_env(&cfg);
	rc = tpm_open(&cfg, &c);
	if (!rc)
		rc = tpm_evidence(c, report_data, len, evidence);
	tpm_close(c);
	return rc;
}

const struct attester_ops attester_tpm_ops = {
	.tee = ATTESTER_TEE_TPM,
	.name = "tpm",
	.hardware = true,
	.report_data_max = 0,
	.detect = tpm_ops_detect,
	.get_evidence = tpm_ops_get_evidence,
};
