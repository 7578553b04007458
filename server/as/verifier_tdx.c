// SPDX-License-Identifier: Apache-2.0
/*
 * Intel TDX verifier. Order: evidence JSON → quote parse (v4/v5) → QE vendor → PCK chain
 * (3 PEM certificates, root key = built-in Intel SGX Root CA, signatures, names, validity) →
 * QE report signature (PCK key) → QE report data = SHA-256(attestation key || QE auth data) →
 * QE identity → quote signature (attestation key) → REPORTDATA → MRCONFIGID → claims.
 */
#include "server/as/verifier_tdx.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/log.h"
#include "server/as/tdx_ccel.h"
#include "server/as/tdx_collateral.h"
#include "server/as/vendor_certs.h"
#include "server/as/x509util.h"

#define MAX_QUOTE_LEN (64 * 1024)
#define MAX_EVENTLOG_B64 (16u << 20)

/* Uncompressed P-256 point of the Intel SGX Root CA key (evidence.md §2.5). */
static const char intel_root_point_hex[] =
    "040ba9c4c0c0c86193a3fe23d6b02cda10a8bbd4e88e48b4458561a36e705525f567918e2edc88e40d860bd0cc"
    "4ee26aacc988e505a953558c453f6b0904ae7394";

/* Intel's TD quoting enclave identity (TD_QE, evidence.md §2.4). */
static const uint8_t intel_qe_vendor_id[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
					       0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};
const struct dcap_qe_identity dcap_td_qe = {
    "tdx", "TD quoting enclave", "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5",
    2};
/* SGX ECDSA quoting enclave (QE3): same MISCSELECT/ATTRIBUTES policy, own signer and product */
const struct dcap_qe_identity dcap_sgx_qe = {
    "sgx", "SGX quoting enclave",
    "8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff", 1};
#define TD_QE_MISCSELECT 0x00000000u
#define TD_QE_MISCSELECT_MASK 0xFFFFFFFFu
static const uint8_t td_qe_attributes[16] = {0x11};
static const uint8_t td_qe_attributes_mask[16] = {0xFB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};

#define PCK_CACHE 32

/* A PCK chain that passed verify_chain_full, by SHA-256 of its PEM bytes in the quote. */
struct pck_cache_entry {
	uint8_t hash[32];
	X509 *chain[3];
	int platform_ca;
};

struct tdx_verifier {
	X509 *root;
	uint8_t root_point[65];
	char *collateral_dir;
	time_t now;
	pthread_mutex_t lock;
	bool lock_ok;
	struct pck_cache_entry pck[PCK_CACHE];
	size_t pck_next;
};

static int unhex(const char *h, uint8_t *out, size_t n)
{
	if (strlen(h) != 2 * n)
		return KBS_ERR_INVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(h + 2 * i, "%2x", &v) != 1)
			return KBS_ERR_INVAL;
		out[i] = (uint8_t)v;
	}
	return KBS_OK;
}

static int ec_point(EVP_PKEY *k, uint8_t out[65])
{
	size_t n = 0;

	if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC || EVP_PKEY_get_bits(k) != 256)
		return KBS_ERR_VERIFY;
	if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out, 65, &n) !=
		1 ||
	    n != 65)
		return KBS_ERR_VERIFY;
	return KBS_OK;
}

int tdx_verifier_new(const struct tdx_verifier_config *cfg, struct tdx_verifier **out, char *why,
		     size_t whylen)
{
	struct tdx_verifier *v = calloc(1, sizeof(*v));
	uint8_t pinned[65];
	size_t n = 0;
	int rc = KBS_ERR_INTERNAL;

	*out = NULL;
	if (!v) {
		snprintf(why, whylen, "out of memory");
		return KBS_ERR_NOMEM;
	}
	if (x509u_pem_chain(vendor_intel_sgx_root_pem, strlen(vendor_intel_sgx_root_pem), &v->root,
			    1, &n) != KBS_OK ||
	    unhex(intel_root_point_hex, pinned, 65) != KBS_OK ||
	    ec_point(X509_get0_pubkey(v->root), v->root_point) != KBS_OK ||
	    memcmp(pinned, v->root_point, 65) != 0 || x509u_signed_by(v->root, v->root) != KBS_OK) {
		snprintf(why, whylen, "built-in Intel SGX Root CA is invalid");
		goto out;
	}
	if (cfg && cfg->collateral_dir && !(v->collateral_dir = strdup(cfg->collateral_dir))) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	v->now = cfg ? cfg->now : 0;
	if (pthread_mutex_init(&v->lock, NULL) != 0)
		goto out;
	v->lock_ok = true;
	*out = v;
	v = NULL;
	rc = KBS_OK;
out:
	tdx_verifier_free(v);
	return rc;
}

void tdx_verifier_free(struct tdx_verifier *v)
{
	if (!v)
		return;
	X509_free(v->root);
	free(v->collateral_dir);
	for (size_t i = 0; i < PCK_CACHE; i++)
		for (int k = 0; k < 3; k++)
			X509_free(v->pck[i].chain[k]);
	if (v->lock_ok)
		pthread_mutex_destroy(&v->lock);
	free(v);
}

int tdx_pck_ext(X509 *leaf, unsigned arc, uint8_t *tag, const uint8_t **val, size_t *len)
{
	const uint8_t *p, *end, *seq, *item, *oid;
	size_t l, sl, il, ol;
	char want[64], got[64];
	uint8_t t;
	int rc;

	if ((rc = x509u_ext(leaf, "1.2.840.113741.1.13.1", &p, &l)) != KBS_OK)
		return rc;
	end = p + l;
	if (x509u_der_next(&p, end, &t, &seq, &sl) != KBS_OK || t != 0x30 || p != end)
		return KBS_ERR_PARSE;
	snprintf(want, sizeof(want), "1.2.840.113741.1.13.1.%u", arc);
	p = seq;
	end = seq + sl;
	while (p < end) {
		const uint8_t *q;

		if (x509u_der_next(&p, end, &t, &item, &il) != KBS_OK || t != 0x30)
			return KBS_ERR_PARSE;
		q = item;
		if (x509u_der_next(&q, item + il, &t, &oid, &ol) != KBS_OK || t != 0x06)
			return KBS_ERR_PARSE;
		if (x509u_oid_text(oid, ol, got, sizeof(got)) != KBS_OK)
			return KBS_ERR_PARSE;
		if (strcmp(got, want) != 0)
			continue;
		if (x509u_der_next(&q, item + il, tag, val, len) != KBS_OK)
			return KBS_ERR_PARSE;
		return KBS_OK;
	}
	return KBS_ERR_NOTFOUND;
}

static int check_cn(const char *tee, X509 *c, const char *a, const char *b, const char *what,
		    char *why, size_t whylen)
{
	char cn[128];

	if (x509u_subject_cn(c, cn, sizeof(cn)) == KBS_OK &&
	    (strcmp(cn, a) == 0 || (b && strcmp(cn, b) == 0)))
		return KBS_OK;
	snprintf(why, whylen, "%s: PCK chain %s has an unexpected subject CN", tee, what);
	return KBS_ERR_VERIFY;
}

static int verify_chain_full(const struct tdx_verifier *v, const char *tee,
			     const struct dcap_quote *q, X509 **chain, int *platform_ca, char *why,
			     size_t whylen)
{
	static const char *const names[3] = {"PCK leaf", "intermediate CA", "root CA"};
	time_t now = v->now ? v->now : time(NULL);
	uint8_t pt[65];
	size_t n = 0;
	char cn[128];

	if (x509u_pem_chain((const char *)q->pck_chain, q->pck_chain_len, chain, 3, &n) != KBS_OK ||
	    n != 3) {
		for (size_t i = 0; i < n; i++)
			X509_free(chain[i]);
		memset(chain, 0, 3 * sizeof(*chain));
		snprintf(why, whylen, "%s: PCK chain is not 3 PEM certificates", tee);
		return KBS_ERR_VERIFY;
	}
	if (ec_point(X509_get0_pubkey(chain[2]), pt) != KBS_OK ||
	    CRYPTO_memcmp(pt, v->root_point, 65) != 0) {
		snprintf(why, whylen, "%s: PCK chain root is not the Intel SGX Root CA", tee);
		return KBS_ERR_VERIFY;
	}
	if (x509u_signed_by(chain[2], chain[2]) != KBS_OK) {
		snprintf(why, whylen, "%s: PCK chain root self-signature does not verify", tee);
		return KBS_ERR_VERIFY;
	}
	if (x509u_signed_by(chain[1], chain[2]) != KBS_OK) {
		snprintf(why, whylen, "%s: PCK intermediate CA is not signed by the Intel root",
			 tee);
		return KBS_ERR_VERIFY;
	}
	if (x509u_signed_by(chain[0], chain[1]) != KBS_OK) {
		snprintf(why, whylen, "%s: PCK certificate is not signed by the intermediate CA",
			 tee);
		return KBS_ERR_VERIFY;
	}
	if (check_cn(tee, chain[2], "Intel SGX Root CA", NULL, "root", why, whylen) ||
	    check_cn(tee, chain[1], "Intel SGX PCK Platform CA", "Intel SGX PCK Processor CA",
		     "intermediate", why, whylen) ||
	    check_cn(tee, chain[0], "Intel SGX PCK Certificate", NULL, "leaf", why, whylen))
		return KBS_ERR_VERIFY;
	for (int i = 0; i < 3; i++)
		if (x509u_check_time(chain[i], now) != KBS_OK) {
			snprintf(why, whylen, "%s: PCK chain %s is expired or not yet valid", tee,
				 names[i]);
			return KBS_ERR_VERIFY;
		}
	x509u_subject_cn(chain[1], cn, sizeof(cn));
	*platform_ca = strcmp(cn, "Intel SGX PCK Platform CA") == 0;
	return KBS_OK;
}

/*
 * verify_chain_full through a cache of verified chains: a repeated chain (same PEM bytes)
 * skips the PEM parse and the three signatures; the validity period is still checked.
 */
static int verify_chain(const struct tdx_verifier *cv, const char *tee, const struct dcap_quote *q,
			X509 **chain, int *platform_ca, char *why, size_t whylen)
{
	static const char *const names[3] = {"PCK leaf", "intermediate CA", "root CA"};
	struct tdx_verifier *v = (struct tdx_verifier *)cv; /* only the cache changes */
	time_t now = v->now ? v->now : time(NULL);
	uint8_t h[32];
	unsigned int hn = 0;
	int hit = 0, rc;

	if (EVP_Digest(q->pck_chain, q->pck_chain_len, h, &hn, EVP_sha256(), NULL) != 1)
		return verify_chain_full(v, tee, q, chain, platform_ca, why, whylen);
	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < PCK_CACHE && !hit; i++) {
		struct pck_cache_entry *e = &v->pck[i];

		if (!e->chain[0] || memcmp(e->hash, h, 32) != 0)
			continue;
		for (int k = 0; k < 3; k++) {
			X509_up_ref(e->chain[k]);
			chain[k] = e->chain[k];
		}
		*platform_ca = e->platform_ca;
		hit = 1;
	}
	pthread_mutex_unlock(&v->lock);
	if (hit) {
		for (int i = 0; i < 3; i++)
			if (x509u_check_time(chain[i], now) != KBS_OK) {
				snprintf(why, whylen, "%s: PCK chain %s is expired or not yet valid",
					 tee, names[i]);
				return KBS_ERR_VERIFY;
			}
		return KBS_OK;
	}
	rc = verify_chain_full(v, tee, q, chain, platform_ca, why, whylen);
	if (rc != KBS_OK)
		return rc;
	pthread_mutex_lock(&v->lock);
	{
		struct pck_cache_entry *e = &v->pck[v->pck_next++ % PCK_CACHE];

		for (int k = 0; k < 3; k++) {
			X509_free(e->chain[k]);
			X509_up_ref(chain[k]);
			e->chain[k] = chain[k];
		}
		memcpy(e->hash, h, 32);
		e->platform_ca = *platform_ca;
	}
	pthread_mutex_unlock(&v->lock);
	return KBS_OK;
}

static int verify_sig_raw(EVP_PKEY *k, const uint8_t *sig, const uint8_t *data, size_t len)
{
	uint8_t *der = NULL;
	size_t derlen;
	int rc;

	if ((rc = x509u_ecdsa_raw_to_der(sig, sig + 32, 32, 0, &der, &derlen)) != KBS_OK)
		return rc;
	rc = x509u_verify_ecdsa(k, "SHA256", data, len, der, derlen);
	OPENSSL_free(der);
	return rc;
}

static int check_qe_identity(const struct dcap_qe_identity *id, const uint8_t *qe, char *why,
			     size_t whylen)
{
	uint8_t mrsigner[32];
	uint32_t misc =
	    (uint32_t)qe[DCAP_QE_MISCSELECT] | (uint32_t)qe[DCAP_QE_MISCSELECT + 1] << 8 |
	    (uint32_t)qe[DCAP_QE_MISCSELECT + 2] << 16 | (uint32_t)qe[DCAP_QE_MISCSELECT + 3] << 24;
	unsigned prodid = qe[DCAP_QE_ISVPRODID] | qe[DCAP_QE_ISVPRODID + 1] << 8;

	const char *tee = id->tee;

	if (unhex(id->mrsigner_hex, mrsigner, 32) != KBS_OK) {
		snprintf(why, whylen, "%s: bad built-in QE MRSIGNER", tee);
		return KBS_ERR_INTERNAL;
	}
	if (memcmp(qe + DCAP_QE_MRSIGNER, mrsigner, 32) != 0) {
		snprintf(why, whylen, "%s: QE MRSIGNER is not Intel's %s", tee, id->name);
		return KBS_ERR_VERIFY;
	}
	if (prodid != id->isvprodid) {
		snprintf(why, whylen, "%s: QE ISVPRODID %u is not the %s (%u)", tee, prodid,
			 id->name, id->isvprodid);
		return KBS_ERR_VERIFY;
	}
	if ((misc & TD_QE_MISCSELECT_MASK) != TD_QE_MISCSELECT) {
		snprintf(why, whylen, "%s: QE MISCSELECT does not match the %s identity", tee,
			 id->name);
		return KBS_ERR_VERIFY;
	}
	for (int i = 0; i < 16; i++)
		if ((qe[DCAP_QE_ATTRIBUTES + i] & td_qe_attributes_mask[i]) !=
		    td_qe_attributes[i]) {
			snprintf(why, whylen, "%s: QE ATTRIBUTES do not match the %s identity", tee,
				 id->name);
			return KBS_ERR_VERIFY;
		}
	return KBS_OK;
}

int dcap_verify_quote(const struct tdx_verifier *v, const struct dcap_quote *q,
		      const struct dcap_qe_identity *id, X509 **leaf, X509 **inter,
		      int *platform_ca, char *why, size_t whylen)
{
	const char *tee = id->tee;
	static const uint8_t zero32[32];
	X509 *chain[3] = {NULL, NULL, NULL};
	EVP_PKEY *ak = NULL;
	uint8_t h[32], pt[65];
	int pca = 0, rc;

	if (memcmp(q->header + 12, intel_qe_vendor_id, 16) != 0) {
		snprintf(why, whylen, "%s: QE vendor id is not Intel's", tee);
		rc = KBS_ERR_VERIFY;
		goto out;
	}
	if ((rc = verify_chain(v, tee, q, chain, &pca, why, whylen)) != KBS_OK)
		goto out;
	rc = KBS_ERR_VERIFY;
	if (ec_point(X509_get0_pubkey(chain[0]), pt) != KBS_OK) {
		snprintf(why, whylen, "%s: PCK key is not EC P-256", tee);
		goto out;
	}
	if (verify_sig_raw(X509_get0_pubkey(chain[0]), q->qe_report_sig, q->qe_report,
			   DCAP_QE_REPORT_LEN) != KBS_OK) {
		snprintf(why, whylen, "%s: QE report signature does not verify with the PCK key",
			 tee);
		goto out;
	}
	{
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		unsigned int hl = 0;
		int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
			 EVP_DigestUpdate(md, q->att_key, 64) == 1 &&
			 EVP_DigestUpdate(md, q->qe_auth, q->qe_auth_len) == 1 &&
			 EVP_DigestFinal_ex(md, h, &hl) == 1;

		EVP_MD_CTX_free(md);
		if (!ok) {
			rc = KBS_ERR_CRYPTO;
			snprintf(why, whylen, "%s: SHA-256 failed", tee);
			goto out;
		}
	}
	if (CRYPTO_memcmp(h, q->qe_report + DCAP_QE_REPORTDATA, 32) != 0 ||
	    memcmp(q->qe_report + DCAP_QE_REPORTDATA + 32, zero32, 32) != 0) {
		snprintf(why, whylen,
			 "%s: QE report data does not bind the attestation key (SHA-256 mismatch)",
			 tee);
		goto out;
	}
	if ((rc = check_qe_identity(id, q->qe_report, why, whylen)) != KBS_OK)
		goto out;
	rc = KBS_ERR_VERIFY;
	ak = x509u_p256_from_xy(q->att_key);
	if (!ak) {
		snprintf(why, whylen, "%s: attestation key is not a P-256 point", tee);
		goto out;
	}
	if (verify_sig_raw(ak, q->quote_sig, q->header, q->signed_len) != KBS_OK) {
		snprintf(why, whylen,
			 "%s: quote signature does not verify with the attestation key", tee);
		goto out;
	}
	if (leaf) {
		*leaf = chain[0];
		chain[0] = NULL;
	}
	if (inter) {
		*inter = chain[1];
		chain[1] = NULL;
	}
	if (platform_ca)
		*platform_ca = pca;
	rc = KBS_OK;
out:
	EVP_PKEY_free(ak);
	for (int i = 0; i < 3; i++)
		X509_free(chain[i]);
	return rc;
}

int tdx_verify_quote(const struct tdx_verifier *v, const struct dcap_quote *q, X509 **leaf,
		     X509 **inter, int *platform_ca, char *why, size_t whylen)
{
	return dcap_verify_quote(v, q, &dcap_td_qe, leaf, inter, platform_ca, why, whylen);
}

int dcap_evidence_quote(const json_t *ev, uint32_t tee_type, uint8_t **quote, struct dcap_quote *q,
			char *why, size_t whylen)
{
	const char *tee = tee_type == DCAP_TEE_SGX ? "sgx" : "tdx";
	const char *b64;
	size_t qlen = 0;
	int rc;

	*quote = NULL;
	if (!json_is_object(ev)) {
		snprintf(why, whylen, "%s evidence is not a JSON object", tee);
		return KBS_ERR_PARSE;
	}
	b64 = json_string_value(json_object_get(ev, "quote"));
	if (!b64 || !*b64) {
		snprintf(why, whylen, "%s evidence: member 'quote' must be a non-empty string",
			 tee);
		return KBS_ERR_PARSE;
	}
	if (strlen(b64) > MAX_QUOTE_LEN * 4 / 3 + 4 ||
	    b64_decode_alloc(b64, strlen(b64), B64_STD, quote, &qlen) != KBS_OK) {
		snprintf(why, whylen, "%s evidence: 'quote' is not standard base64 (or too long)",
			 tee);
		return KBS_ERR_PARSE;
	}
	if ((rc = dcap_quote_parse(*quote, qlen, tee_type, q, why, whylen)) != KBS_OK) {
		free(*quote);
		*quote = NULL;
	}
	return rc;
}

int dcap_check_binding(const struct as_verify_input *in, const char *tee, const uint8_t *rd,
		       const uint8_t *cfg, size_t cfglen, const char *cfgname, char *why,
		       size_t whylen)
{
	uint8_t fit[64];

	if (in->report_data) {
		as_fit_report_data(in->report_data, in->report_data_len, fit, 64);
		if (CRYPTO_memcmp(fit, rd, 64) != 0) {
			snprintf(why, whylen,
				 "%s: REPORTDATA does not match the runtime data digest", tee);
			return KBS_ERR_VERIFY;
		}
	}
	if (in->init_data_digest) {
		as_fit_report_data(in->init_data_digest, in->init_data_digest_len, fit, cfglen);
		if (CRYPTO_memcmp(fit, cfg, cfglen) != 0) {
			snprintf(why, whylen, "%s: %s does not match the init-data digest", tee,
				 cfgname);
			return KBS_ERR_VERIFY;
		}
	}
	return KBS_OK;
}

int dcap_platform_instance_id(X509 *leaf, int platform_ca, json_t *claims)
{
	const uint8_t *val;
	size_t len;
	uint8_t tag;

	/* byte-reversed hex, as Trustee prints it */
	if (platform_ca && tdx_pck_ext(leaf, 6, &tag, &val, &len) == KBS_OK && tag == 0x04 &&
	    len == 16 &&
	    json_object_set_new(claims, "platform_instance_id", dcap_hex(val, 16, 1)) != 0)
		return KBS_ERR_NOMEM;
	return KBS_OK;
}

/* Replays a supplied CC event log into RTMR0..3 and requires the quote's values. */
static int check_eventlog(const json_t *el, const struct dcap_quote *q, char *why, size_t whylen)
{
	const char *b64 = json_string_value(el);
	uint8_t *log = NULL, rtmr[4][48];
	size_t len = 0, n = 0;
	int rc;

	if (!el || json_is_null(el) || (b64 && !*b64))
		return KBS_OK;
	if (!b64 || strlen(b64) > MAX_EVENTLOG_B64 ||
	    b64_decode_alloc(b64, strlen(b64), B64_STD, &log, &len) != KBS_OK) {
		snprintf(why, whylen, "tdx evidence: 'cc_eventlog' is not standard base64");
		return KBS_ERR_PARSE;
	}
	rc = tdx_ccel_replay(log, len, rtmr, &n, why, whylen);
	free(log);
	if (rc != KBS_OK)
		return rc;
	for (int i = 0; i < 4; i++)
		if (CRYPTO_memcmp(rtmr[i], q->body + TDX_BODY_RTMR0 + 48 * i, 48) != 0) {
			snprintf(why, whylen, "tdx: event log replay does not match RTMR%d", i);
			return KBS_ERR_VERIFY;
		}
	return KBS_OK;
}

int tdx_verifier_verify(const struct tdx_verifier *v, const struct as_verify_input *in,
			json_t **claims, char *why, size_t whylen)
{
	const json_t *ev = in->evidence;
	uint8_t *quote = NULL, rkid[48];
	struct dcap_quote q;
	X509 *leaf = NULL, *inter = NULL;
	json_t *c = NULL;
	int pca = 0, rc;

	*claims = NULL;
	if ((rc = dcap_evidence_quote(ev, DCAP_TEE_TDX, &quote, &q, why, whylen)) != KBS_OK)
		goto out;
	if ((rc = tdx_verify_quote(v, &q, &leaf, &inter, &pca, why, whylen)) != KBS_OK)
		goto out;
	if ((rc = dcap_check_binding(in, "tdx", q.body + TDX_BODY_REPORTDATA,
				     q.body + TDX_BODY_MRCONFIGID, 48, "MRCONFIGID", why,
				     whylen)) != KBS_OK)
		goto out;
	if ((rc = check_eventlog(json_object_get(ev, "cc_eventlog"), &q, why, whylen)) != KBS_OK)
		goto out;
	rc = KBS_ERR_NOMEM;
	c = tdx_quote_claims(&q);
	if (!c || dcap_platform_instance_id(leaf, pca, c) != KBS_OK)
		goto out;
	SHA384(v->root_point, 65, rkid);
	if (v->collateral_dir) {
		rc = tdx_collateral_evaluate(v->collateral_dir, v->root, &q, leaf, inter,
					     v->now ? v->now : time(NULL), c, why, whylen);
		if (rc != KBS_OK)
			goto out;
		rc = KBS_ERR_NOMEM;
	} else if (json_object_set_new(c, "tcb_status", json_string("Unknown")) != 0) {
		goto out;
	}
	{
		char s[97];

		for (int i = 0; i < 48; i++)
			snprintf(s + 2 * i, 3, "%02x", rkid[i]);
		if (json_object_set_new(c, "root_key_id", json_string(s)) != 0)
			goto out;
	}
	*claims = c;
	c = NULL;
	rc = KBS_OK;
out:
	if (rc == KBS_ERR_NOMEM && !*claims)
		snprintf(why, whylen, "out of memory");
	json_decref(c);
	X509_free(leaf);
	X509_free(inter);
	free(quote);
	return rc;
}

/* ---- table entry ---- */

static int tdx_create(const struct as_verifier_config *c, void **state, char *why,
		      size_t whylen)
{
	struct tdx_verifier_config tc = {.collateral_dir = c->tdx_collateral_dir};

	return tdx_verifier_new(&tc, (struct tdx_verifier **)state, why, whylen);
}

static void tdx_destroy(void *state)
{
	tdx_verifier_free(state);
}

static int tdx_verify(const struct as_verify_input *in, json_t **claims, char *why, size_t whylen)
{
	/* without a state from the AS: the defaults and the environment fallbacks */
	const void *st = in->state ? in->state
				   : as_verifier_default_state(&as_verifier_tdx, why, whylen);

	*claims = NULL;
	return st ? tdx_verifier_verify(st, in, claims, why, whylen) : KBS_ERR_INTERNAL;
}

const struct as_verifier as_verifier_tdx = {
    .tee = "tdx",
    .tee_class = "cpu",
    .create = tdx_create,
    .destroy = tdx_destroy,
    .verify = tdx_verify,
};
