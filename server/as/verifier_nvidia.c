// SPDX-License-Identifier: Apache-2.0
/*
 * NVIDIA GPU verifier (local, Hopper). Per device: evidence JSON → report bytes (hex, else
 * base64) → SPDM parse → PEM chain → report signature (leaf key, ECDSA P-384 / SHA-384) →
 * chain (root pinned, FWID match, path validation) → request nonce = report data → claims.
 * Check order and error texts follow Trustee's deps/verifier/src/nvidia so logs compare.
 */
#include "server/as/verifier_nvidia.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/log.h"
#include "server/as/vendor_certs.h"
#include "server/as/x509util.h"

#define MAX_CHAIN 16
#define MAX_DEVICES 64
#define MAX_REPORT_TEXT (4u << 20)
#define FWID_OID "2.23.133.5.4.1"
#define FWID_LEN 48
#define CHAIN_CACHE 16

/* A device chain that passed chain_verify, by SHA-256 of its PEM bytes. */
struct chain_entry {
	uint8_t hash[32];
	X509 *certs[MAX_CHAIN];
	size_t n;
};

struct nv_verifier {
	X509 *root;
	bool remote; /* nvidia_verifier {"type":"Remote"}: NRAS, not available here */
	pthread_mutex_t lock;
	bool lock_ok;
	struct chain_entry cache[CHAIN_CACHE];
	size_t next;
};

#define FAIL(code, ...)                                                                            \
	do {                                                                                       \
		snprintf(why, whylen, __VA_ARGS__);                                                \
		rc = (code);                                                                       \
		goto out;                                                                          \
	} while (0)

int nv_verifier_new(const char *root_pem, size_t len, struct nv_verifier **out, char *why,
		    size_t whylen)
{
	struct nv_verifier *v = calloc(1, sizeof(*v));
	int rc = KBS_ERR_NOMEM;

	*out = NULL;
	if (!v)
		FAIL(KBS_ERR_NOMEM, "out of memory");
	if (!root_pem) {
		root_pem = vendor_nvidia_device_root_pem;
		len = strlen(root_pem);
	}
	if (!(v->root = x509u_from_pem_or_der((const uint8_t *)root_pem, len)))
		FAIL(KBS_ERR_PARSE, "nvidia: the trust anchor is not a PEM certificate");
	if (pthread_mutex_init(&v->lock, NULL) != 0)
		FAIL(KBS_ERR_NOMEM, "out of memory");
	v->lock_ok = true;
	*out = v;
	v = NULL;
	rc = KBS_OK;
out:
	nv_verifier_free(v);
	return rc;
}

void nv_verifier_free(struct nv_verifier *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < CHAIN_CACHE; i++)
		for (size_t k = 0; k < v->cache[i].n; k++)
			X509_free(v->cache[i].certs[k]);
	if (v->lock_ok)
		pthread_mutex_destroy(&v->lock);
	X509_free(v->root);
	free(v);
}

int nv_cert_fwid(X509 *cert, char out[97], char *why, size_t whylen)
{
	ASN1_OBJECT *oid = OBJ_txt2obj(FWID_OID, 1);
	const uint8_t *val;
	size_t len;
	int rc, idx;

	out[0] = 0;
	if (!oid)
		return KBS_ERR_NOMEM;
	idx = X509_get_ext_by_OBJ(cert, oid, -1);
	if (idx >= 0 && X509_get_ext_by_OBJ(cert, oid, idx) >= 0) {
		/* x509-parser's get_extension_unique refuses repeated extensions */
		ASN1_OBJECT_free(oid);
		snprintf(why, whylen, "FwId oid found more than once in the NVIDIA signing "
				      "certificate");
		return KBS_ERR_VERIFY;
	}
	ASN1_OBJECT_free(oid);
	rc = x509u_ext(cert, FWID_OID, &val, &len);
	if (rc == KBS_ERR_NOTFOUND) {
		snprintf(why, whylen, "FwId oid not found in the NVIDIA signing certificate");
		return KBS_ERR_VERIFY;
	}
	if (rc != KBS_OK)
		return rc;
	/* the FWID digest is the last 48 bytes of the TCG DICE TcbInfo extension */
	if (len < FWID_LEN) {
		snprintf(why, whylen, "Unexpected fwid oid size");
		return KBS_ERR_VERIFY;
	}
	hex_encode(val + len - FWID_LEN, FWID_LEN, out, 97);
	out[96] = 0;
	return KBS_OK;
}

static void free_chain(X509 **c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		X509_free(c[i]);
}

/* The chain checks on parsed certificates (leaf first, root last). */
static int chain_verify(const struct nv_verifier *v, X509 **c, size_t n, const char *expected_fwid,
			char *why, size_t whylen)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *untrusted = NULL;
	char fwid[97];
	int rc;

	if (n < 2)
		FAIL(KBS_ERR_VERIFY,
		     "Certificate chain must have at least the root CA and signing certificates");
	/* Trustee compares SHA-1 fingerprints; X509_cmp compares the encodings */
	if (X509_cmp(c[n - 1], v->root) != 0)
		FAIL(KBS_ERR_VERIFY, "Root CA in the certificate chain is not trusted");
	if ((rc = nv_cert_fwid(c[0], fwid, why, whylen)) != KBS_OK)
		goto out;
	if (strcmp(fwid, expected_fwid) != 0)
		FAIL(KBS_ERR_VERIFY, "Fwid mismatch: certificate %s, evidence %.96s", fwid,
		     expected_fwid);
	rc = KBS_ERR_NOMEM;
	if (!(store = X509_STORE_new()) || X509_STORE_add_cert(store, v->root) != 1 ||
	    !(untrusted = sk_X509_new_null()) || !(ctx = X509_STORE_CTX_new()))
		FAIL(KBS_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i + 1 < n; i++)
		if (!sk_X509_push(untrusted, c[i]))
			FAIL(KBS_ERR_NOMEM, "out of memory");
	if (X509_STORE_CTX_init(ctx, store, c[0], untrusted) != 1)
		FAIL(KBS_ERR_NOMEM, "out of memory");
	if (X509_verify_cert(ctx) != 1) {
		log_debug("nvidia: chain: %s",
			  X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		FAIL(KBS_ERR_VERIFY, "Report certificate chain failed to verify");
	}
	rc = KBS_OK;
out:
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted); /* certificates are owned by c */
	X509_STORE_free(store);
	ERR_clear_error();
	return rc;
}

int nv_cert_chain_verify(const struct nv_verifier *v, const char *pem, size_t len,
			 const char *expected_fwid, char *why, size_t whylen)
{
	X509 *c[MAX_CHAIN];
	size_t n = 0;
	int rc;

	if (x509u_pem_chain(pem, len, c, MAX_CHAIN, &n) != KBS_OK) {
		snprintf(why, whylen, "NVIDIA certificate chain is not a list of PEM certificates");
		return KBS_ERR_PARSE;
	}
	rc = chain_verify(v, c, n, expected_fwid, why, whylen);
	free_chain(c, n);
	return rc;
}

static int verify_signature(const struct nv_spdm_report *r, const uint8_t *report, X509 *leaf,
			    char *why, size_t whylen)
{
	EVP_PKEY *key = X509_get0_pubkey(leaf);
	uint8_t *der = NULL;
	size_t derlen;
	int rc;

	if (r->sig_len != NV_HOPPER_SIG_LEN)
		FAIL(KBS_ERR_VERIFY, "Invalid raw ECDSA P-384 signature");
	if (!key || EVP_PKEY_base_id(key) != EVP_PKEY_EC)
		FAIL(KBS_ERR_VERIFY, "NVIDIA report signature verification error: the signing "
				     "certificate has no EC key.");
	if ((rc = x509u_ecdsa_raw_to_der(r->sig, r->sig + 48, 48, 0, &der, &derlen)) != KBS_OK)
		FAIL(rc, "NVIDIA report signature verification error: bad signature encoding.");
	if (x509u_verify_ecdsa(key, "SHA384", report, r->signed_len, der, derlen) != KBS_OK)
		FAIL(KBS_ERR_VERIFY, "NVIDIA report signature verification failed.");
	rc = KBS_OK;
out:
	OPENSSL_free(der);
	return rc;
}

/* A cached verified chain with these PEM bytes: its certificates up-ref'ed into c. */
static bool cache_get(const struct nv_verifier *cv, const uint8_t h[32], X509 **c, size_t *n)
{
	struct nv_verifier *v = (struct nv_verifier *)cv; /* only the cache changes */
	bool hit = false;

	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < CHAIN_CACHE && !hit; i++) {
		struct chain_entry *e = &v->cache[i];

		if (!e->n || memcmp(e->hash, h, 32) != 0)
			continue;
		for (size_t k = 0; k < e->n; k++) {
			X509_up_ref(e->certs[k]);
			c[k] = e->certs[k];
		}
		*n = e->n;
		hit = true;
	}
	pthread_mutex_unlock(&v->lock);
	return hit;
}

static void cache_put(const struct nv_verifier *cv, const uint8_t h[32], X509 **c, size_t n)
{
	struct nv_verifier *v = (struct nv_verifier *)cv;
	struct chain_entry *e;

	pthread_mutex_lock(&v->lock);
	e = &v->cache[v->next++ % CHAIN_CACHE];
	for (size_t k = 0; k < e->n; k++)
		X509_free(e->certs[k]);
	for (size_t k = 0; k < n; k++) {
		X509_up_ref(c[k]);
		e->certs[k] = c[k];
	}
	e->n = n;
	memcpy(e->hash, h, 32);
	pthread_mutex_unlock(&v->lock);
}

/*
 * A chain seen before (same PEM bytes) already passed path validation against this
 * verifier's root: only what depends on the report (FWID) and on the time is checked again.
 */
static int cached_chain_verify(X509 **c, size_t n, const char *expected_fwid, char *why,
			       size_t whylen)
{
	char fwid[97];
	int rc;

	for (size_t i = 0; i < n; i++)
		if (x509u_check_time(c[i], time(NULL)) != KBS_OK) {
			snprintf(why, whylen, "Report certificate chain failed to verify");
			return KBS_ERR_VERIFY;
		}
	if ((rc = nv_cert_fwid(c[0], fwid, why, whylen)) != KBS_OK)
		return rc;
	if (strcmp(fwid, expected_fwid) != 0) {
		snprintf(why, whylen, "Fwid mismatch: certificate %s, evidence %.96s", fwid,
			 expected_fwid);
		return KBS_ERR_VERIFY;
	}
	return KBS_OK;
}

int nv_verify_report(const struct nv_verifier *v, const uint8_t *report, size_t len,
		     const char *pem, size_t pemlen, const uint8_t nonce[NV_SPDM_NONCE_LEN],
		     const char *arch, const char *uuid, json_t **claims, char *why,
		     size_t whylen)
{
	struct nv_spdm_report *r = calloc(1, sizeof(*r));
	X509 *c[MAX_CHAIN];
	size_t n = 0;
	const char *fwid;
	json_t *m = NULL;
	uint8_t h[32];
	unsigned int hn = 0;
	bool hashed, hit = false;
	int rc;

	*claims = NULL;
	if (!r)
		FAIL(KBS_ERR_NOMEM, "out of memory");
	if ((rc = nv_spdm_parse(report, len, NV_HOPPER_SIG_LEN, r, why, whylen)) != KBS_OK)
		goto out;
	hashed = EVP_Digest(pem, pemlen, h, &hn, EVP_sha256(), NULL) == 1;
	if (hashed)
		hit = cache_get(v, h, c, &n);
	if (!hit && x509u_pem_chain(pem, pemlen, c, MAX_CHAIN, &n) != KBS_OK)
		FAIL(KBS_ERR_PARSE, "NVIDIA certificate chain is not a list of PEM certificates");
	if ((rc = verify_signature(r, report, c[0], why, whylen)) != KBS_OK)
		goto out;
	fwid = json_string_value(json_object_get(r->opaque, "fwid"));
	if (!json_object_get(r->opaque, "fwid"))
		FAIL(KBS_ERR_VERIFY, "Nvidia report fwid not found");
	if (!fwid)
		FAIL(KBS_ERR_VERIFY, "Nvidia report fwid value mismatch");
	rc = hit ? cached_chain_verify(c, n, fwid, why, whylen)
		 : chain_verify(v, c, n, fwid, why, whylen);
	if (rc != KBS_OK)
		goto out;
	if (!hit && hashed)
		cache_put(v, h, c, n);
	if (CRYPTO_memcmp(r->req_nonce, nonce, NV_SPDM_NONCE_LEN) != 0)
		FAIL(KBS_ERR_VERIFY, "Nvidia report nonce mismatch");
	if (!(m = nv_spdm_measurements_json(r)) ||
	    !(*claims = json_pack("{s:s,s:s,s:O,s:O}", "arch", arch, "uuid", uuid, "measurements",
				  m, "config", r->opaque)))
		FAIL(KBS_ERR_NOMEM, "out of memory");
	rc = KBS_OK;
out:
	json_decref(m);
	free_chain(c, n);
	nv_spdm_report_release(r);
	free(r);
	return rc;
}

/* Trustee's Architecture enum: serde names and aliases, Display names. */
static const char *arch_name(const char *s)
{
	if (!strcmp(s, "Hopper") || !strcmp(s, "HOPPER"))
		return "Hopper";
	if (!strcmp(s, "Blackwell") || !strcmp(s, "BLACKWELL"))
		return "Blackwell";
	if (!strcmp(s, "LS10"))
		return "LS10";
	return NULL;
}

/* Report bytes: hex (the original encoding), else standard base64 (Trustee). */
static int report_bytes(const char *s, uint8_t **out, size_t *len)
{
	size_t n = strlen(s);

	if (n % 2 == 0) {
		uint8_t *b = malloc(n / 2 + 1);
		if (!b)
			return KBS_ERR_NOMEM;
		if (hex_decode(s, n, b, n / 2 + 1, len) == KBS_OK) {
			*out = b;
			return KBS_OK;
		}
		free(b);
	}
	return b64_decode_alloc(s, n, B64_STD, out, len);
}

static int one_device(const struct nv_verifier *v, size_t i, const json_t *d,
		      const uint8_t nonce[NV_SPDM_NONCE_LEN], json_t **claims, char *why,
		      size_t whylen)
{
	const char *arch, *uuid = "unknown", *ev, *cert;
	const json_t *u = json_object_get(d, "uuid");
	uint8_t *rep = NULL, *pem = NULL;
	size_t replen, pemlen;
	char inner[512];
	int rc;

	arch = json_string_value(json_object_get(d, "arch"));
	ev = json_string_value(json_object_get(d, "evidence"));
	cert = json_string_value(json_object_get(d, "certificate"));
	if (u && !json_is_null(u))
		uuid = json_string_value(u);
	if (!json_is_object(d) || !arch || !ev || !cert || !uuid || !arch_name(arch))
		FAIL(KBS_ERR_PARSE,
		     "nvidia: Failed to deserialize the NVIDIA device evidence (device %zu needs "
		     "arch HOPPER|BLACKWELL|LS10, evidence, certificate and an optional uuid)",
		     i);
	if (strcmp(arch_name(arch), "Hopper") != 0)
		FAIL(KBS_ERR_UNSUPPORTED, "nvidia: device %zu: Device architecture not supported",
		     i);
	if (strlen(ev) > MAX_REPORT_TEXT || strlen(cert) > MAX_REPORT_TEXT)
		FAIL(KBS_ERR_RANGE, "nvidia: device %zu: evidence too large", i);
	if ((rc = report_bytes(ev, &rep, &replen)) != KBS_OK)
		FAIL(rc == KBS_ERR_NOMEM ? rc : KBS_ERR_PARSE,
		     "nvidia: device %zu: evidence is neither hex nor base64", i);
	if ((rc = b64_decode_alloc(cert, strlen(cert), B64_STD, &pem, &pemlen)) != KBS_OK)
		FAIL(rc == KBS_ERR_NOMEM ? rc : KBS_ERR_PARSE,
		     "nvidia: device %zu: certificate is not base64", i);
	rc = nv_verify_report(v, rep, replen, (const char *)pem, pemlen, nonce, arch_name(arch),
			      uuid, claims, inner, sizeof(inner));
	if (rc != KBS_OK)
		snprintf(why, whylen, "nvidia: device %zu (%.64s): %s", i, uuid, inner);
out:
	free(rep);
	free(pem);
	return rc;
}

int nv_verifier_verify(const struct nv_verifier *v, const struct as_verify_input *in,
		       json_t **devices, char *why, size_t whylen)
{
	struct nv_verifier *tmp = NULL;
	const json_t *list = json_object_get(in->evidence, "device_evidence_list");
	json_t *out = NULL, *claims = NULL;
	uint8_t nonce[NV_SPDM_NONCE_LEN];
	const json_t *d;
	size_t i;
	int rc;

	*devices = NULL;
	if (!v) {
		if ((rc = nv_verifier_new(NULL, 0, &tmp, why, whylen)) != KBS_OK)
			return rc;
		v = tmp;
	}
	if (v->remote)
		FAIL(KBS_ERR_UNSUPPORTED, "nvidia: the remote verifier (NRAS) is not supported by "
					  "this build; configure nvidia_verifier type Local");
	if (!json_is_object(in->evidence) || !json_is_array(list))
		FAIL(KBS_ERR_PARSE, "nvidia: Failed to deserialize the NVIDIA device evidence "
				    "(expected {\"device_evidence_list\":[…]})");
	/* Trustee accepts an empty list and adds no device; that would attest nothing */
	if (json_array_size(list) == 0 || json_array_size(list) > MAX_DEVICES)
		FAIL(KBS_ERR_PARSE, "nvidia: device_evidence_list must hold 1..%d devices",
		     MAX_DEVICES);
	if (!in->report_data)
		FAIL(KBS_ERR_VERIFY, "nvidia: Nvidia report data not provided");
	as_fit_report_data(in->report_data, in->report_data_len, nonce, sizeof(nonce));
	if (!(out = json_array()))
		FAIL(KBS_ERR_NOMEM, "out of memory");
	json_array_foreach(list, i, d) {
		if ((rc = one_device(v, i, d, nonce, &claims, why, whylen)) != KBS_OK)
			goto out;
		if (json_array_append_new(out, json_pack("{s:s,s:o}", "class", "gpu", "claims",
							 claims)) != 0)
			FAIL(KBS_ERR_NOMEM, "out of memory");
		claims = NULL;
	}
	*devices = out;
	out = NULL;
	rc = KBS_OK;
out:
	json_decref(out);
	nv_verifier_free(tmp);
	return rc;
}

static int create(const struct as_verifier_config *cfg, void **state, char *why, size_t whylen)
{
	struct nv_verifier *v = NULL;
	char *pem = NULL;
	size_t len = 0;
	int rc;

	*state = NULL;
	if (cfg->nvidia_root_path) {
		FILE *f = fopen(cfg->nvidia_root_path, "rb");
		long n = -1;
		if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < (1 << 20) &&
		    fseek(f, 0, SEEK_SET) == 0 && (pem = malloc((size_t)n + 1)) &&
		    fread(pem, 1, (size_t)n, f) == (size_t)n)
			len = (size_t)n;
		if (f)
			fclose(f);
		if (!len) {
			free(pem);
			snprintf(why, whylen, "nvidia_verifier.root_cert_path: cannot read %s",
				 cfg->nvidia_root_path);
			return KBS_ERR_IO;
		}
	}
	rc = nv_verifier_new(pem, len, &v, why, whylen);
	free(pem);
	if (rc != KBS_OK)
		return rc;
	v->remote = cfg->nvidia_remote;
	if (v->remote)
		log_msg(LOG_LVL_WARN, "attestation service: nvidia_verifier type Remote (NRAS) is "
				      "not supported; NVIDIA evidence will be refused");
	*state = v;
	return KBS_OK;
}

static void destroy(void *state)
{
	nv_verifier_free(state);
}

static int verify_devices(const struct as_verify_input *in, json_t **devices, char *why,
			  size_t whylen)
{
	return nv_verifier_verify(in->state, in, devices, why, whylen);
}

const struct as_verifier as_verifier_nvidia = {
    .tee = "nvidia",
    .tee_class = "gpu",
    .create = create,
    .destroy = destroy,
    .verify_devices = verify_devices,
};
