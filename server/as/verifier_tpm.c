// SPDX-License-Identifier: Apache-2.0
/*
 * TPM 2.0 verifier. Order: evidence JSON → AK public key → TPMT_SIGNATURE / TPMS_ATTEST
 * parse → quote signature by the AK (scheme per AK key type) → PCR list against the
 * selection and pcrDigest → AK trust (trusted key directory, AK certificate to the configured
 * CA, or explicitly allowed unverified) → extraData = expected report data → PCR 8 = init-data
 * → firmware event log and AAEL replay against the quoted PCRs → claims.
 */
#include "server/as/verifier_tpm.h"

#include <dirent.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/log.h"
#include "server/as/tcg_eventlog.h"
#include "server/as/tpm_quote.h"
#include "server/as/x509util.h"

#define MAX_B64 (16u << 20)
#define MAX_KEY_FILE (64u << 10)
#define MAX_AK_CHAIN 8
#define DEFAULT_MAX_AKS 100
#define AK_CACHE 16

struct ak_key {
	uint8_t *der;
	size_t len;
};

/* Parsed AK keys by SHA-256 of their DER: OpenSSL 3's key decoding costs several RSA verifies. */
struct ak_cache_entry {
	uint8_t hash[32];
	EVP_PKEY *key;
};

struct tpm_verifier {
	struct ak_key *aks;
	size_t naks;
	X509_STORE *ca;
	bool allow_unverified;
	time_t now;
	pthread_mutex_t lock;
	bool lock_ok;
	struct ak_cache_entry cache[AK_CACHE];
	size_t cache_next;
};

void tpm_verifier_free(struct tpm_verifier *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->naks; i++)
		free(v->aks[i].der);
	free(v->aks);
	X509_STORE_free(v->ca);
	for (size_t i = 0; i < AK_CACHE; i++)
		EVP_PKEY_free(v->cache[i].key);
	if (v->lock_ok)
		pthread_mutex_destroy(&v->lock);
	free(v);
}

/* DER SubjectPublicKeyInfo of a PEM or DER public key file's content; NULL if neither. */
static EVP_PKEY *parse_pubkey(const uint8_t *p, size_t len)
{
	const unsigned char *q = p;
	EVP_PKEY *k = NULL;

	if (len > 10 && memcmp(p, "-----BEGIN", 10) == 0) {
		BIO *b = BIO_new_mem_buf(p, (int)len);

		if (b)
			k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
		BIO_free(b);
	} else {
		k = d2i_PUBKEY(NULL, &q, (long)len);
		if (k && q != p + len) {
			EVP_PKEY_free(k);
			k = NULL;
		}
	}
	ERR_clear_error();
	return k;
}

static int pubkey_der(EVP_PKEY *k, uint8_t **der, size_t *len)
{
	unsigned char *out = NULL;
	int n = i2d_PUBKEY(k, &out);

	if (n <= 0)
		return KBS_ERR_CRYPTO;
	*der = malloc((size_t)n);
	if (!*der) {
		OPENSSL_free(out);
		return KBS_ERR_NOMEM;
	}
	memcpy(*der, out, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(out);
	return KBS_OK;
}

static int read_small_file(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	size_t n;

	if (!f)
		return KBS_ERR_IO;
	p = malloc(MAX_KEY_FILE + 1);
	if (!p) {
		fclose(f);
		return KBS_ERR_NOMEM;
	}
	n = fread(p, 1, MAX_KEY_FILE + 1, f);
	fclose(f);
	if (n > MAX_KEY_FILE) {
		free(p);
		return KBS_ERR_RANGE;
	}
	*out = p;
	*len = n;
	return KBS_OK;
}

static int load_ak_dir(struct tpm_verifier *v, const char *dir, unsigned max, char *why,
		       size_t whylen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = KBS_OK;

	(void)why;
	(void)whylen;
	if (!d) {
		/* Trustee ignores this key, so configs name directories that do not exist */
		log_msg(LOG_LVL_WARN, "tpm: cannot open trusted_ak_keys_dir '%s': no AK trusted by it",
			dir);
		return KBS_OK;
	}
	v->aks = calloc(max, sizeof(*v->aks));
	if (!v->aks) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;
		uint8_t *p = NULL;
		size_t n = 0;
		EVP_PKEY *k;

		if (e->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path) ||
		    stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (v->naks == max) {
			log_msg(LOG_LVL_WARN, "tpm: more than %u keys in %s, ignoring the rest",
				max, dir);
			break;
		}
		if (read_small_file(path, &p, &n) != KBS_OK) {
			log_msg(LOG_LVL_WARN, "tpm: cannot read trusted AK file %s", path);
			continue;
		}
		k = parse_pubkey(p, n);
		free(p);
		if (!k) {
			log_msg(LOG_LVL_WARN, "tpm: %s is not a PEM or DER public key, ignored",
				path);
			continue;
		}
		rc = pubkey_der(k, &v->aks[v->naks].der, &v->aks[v->naks].len);
		EVP_PKEY_free(k);
		if (rc)
			goto out;
		v->naks++;
	}
	log_msg(LOG_LVL_INFO, "tpm: %zu trusted AK keys from %s", v->naks, dir);
out:
	closedir(d);
	return rc;
}

int tpm_verifier_new(const struct tpm_verifier_config *cfg, struct tpm_verifier **out, char *why,
		     size_t whylen)
{
	struct tpm_verifier *v;
	int rc;

	*out = NULL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return KBS_ERR_NOMEM;
	if (pthread_mutex_init(&v->lock, NULL) != 0) {
		free(v);
		return KBS_ERR_INTERNAL;
	}
	v->lock_ok = true;
	v->allow_unverified = cfg && cfg->allow_unverified_ak;
	v->now = cfg ? cfg->now : 0;
	if (cfg && cfg->trusted_ak_keys_dir && *cfg->trusted_ak_keys_dir) {
		rc = load_ak_dir(v, cfg->trusted_ak_keys_dir,
				 cfg->max_trusted_ak_keys ? cfg->max_trusted_ak_keys
							  : DEFAULT_MAX_AKS,
				 why, whylen);
		if (rc)
			goto out;
	}
	if (cfg && cfg->ak_ca_path && *cfg->ak_ca_path) {
		v->ca = X509_STORE_new();
		if (!v->ca) {
			rc = KBS_ERR_NOMEM;
			goto out;
		}
		if (X509_STORE_load_file(v->ca, cfg->ak_ca_path) != 1) {
			ERR_clear_error();
			snprintf(why, whylen, "tpm: cannot load the AK CA bundle '%s'",
				 cfg->ak_ca_path);
			rc = KBS_ERR_IO;
			goto out;
		}
	}
	*out = v;
	v = NULL;
	rc = KBS_OK;
out:
	tpm_verifier_free(v);
	return rc;
}

/* The AK public key from its DER (whole input), through the cache; caller frees. */
static EVP_PKEY *ak_parse(const struct tpm_verifier *cv, const uint8_t *der, size_t len)
{
	struct tpm_verifier *v = (struct tpm_verifier *)cv; /* only the cache changes */
	const unsigned char *pp = der;
	uint8_t h[32];
	unsigned int hn = 0;
	EVP_PKEY *k = NULL;

	if (EVP_Digest(der, len, h, &hn, EVP_sha256(), NULL) != 1)
		return NULL;
	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < AK_CACHE && !k; i++)
		if (v->cache[i].key && memcmp(v->cache[i].hash, h, 32) == 0 &&
		    EVP_PKEY_up_ref(v->cache[i].key) == 1)
			k = v->cache[i].key;
	pthread_mutex_unlock(&v->lock);
	if (k)
		return k;
	k = d2i_PUBKEY(NULL, &pp, (long)len);
	ERR_clear_error();
	if (!k || pp != der + len) {
		EVP_PKEY_free(k);
		return NULL;
	}
	pthread_mutex_lock(&v->lock);
	if (EVP_PKEY_up_ref(k) == 1) {
		struct ak_cache_entry *e = &v->cache[v->cache_next++ % AK_CACHE];

		EVP_PKEY_free(e->key);
		e->key = k;
		memcpy(e->hash, h, 32);
	}
	pthread_mutex_unlock(&v->lock);
	return k;
}

/* Decodes the standard-base64 string member key of obj (required). */
static int b64_member(const json_t *obj, const char *key, const char *what, uint8_t **out,
		      size_t *len, char *why, size_t whylen)
{
	const json_t *s = json_object_get(obj, key);

	*out = NULL;
	if (!json_is_string(s) || json_string_length(s) > MAX_B64) {
		snprintf(why, whylen, "tpm evidence: %s is missing or not a string", what);
		return KBS_ERR_PARSE;
	}
	if (b64_decode_alloc(json_string_value(s), json_string_length(s), B64_STD, out, len) !=
	    KBS_OK) {
		snprintf(why, whylen, "tpm evidence: %s is not standard base64", what);
		return KBS_ERR_PARSE;
	}
	return KBS_OK;
}

/*
 * AK trust. *how = "trusted_ak_keys_dir", "ak_certificate" or "unverified".
 */
static int check_ak_trust(const struct tpm_verifier *v, EVP_PKEY *ak, const json_t *ev,
			  const char **how, char *why, size_t whylen)
{
	const json_t *cert = json_object_get(ev, "ak_cert");
	uint8_t *der = NULL;
	size_t len = 0;
	X509 *chain[MAX_AK_CHAIN] = {0};
	size_t n = 0;
	STACK_OF(X509) *untrusted = NULL;
	X509_STORE_CTX *ctx = NULL;
	char cert_why[200] = "";
	int rc;

	if (v->naks) {
		if ((rc = pubkey_der(ak, &der, &len)) != KBS_OK)
			return rc;
		for (size_t i = 0; i < v->naks; i++) {
			if (v->aks[i].len == len && memcmp(v->aks[i].der, der, len) == 0) {
				*how = "trusted_ak_keys_dir";
				free(der);
				return KBS_OK;
			}
		}
		free(der);
	}
	if (v->ca && json_is_string(cert)) {
		rc = x509u_pem_chain(json_string_value(cert), json_string_length(cert), chain,
				     MAX_AK_CHAIN, &n);
		if (rc || n == 0) {
			snprintf(cert_why, sizeof(cert_why), "ak_cert is not a PEM certificate chain");
			goto refuse;
		}
		untrusted = sk_X509_new_null();
		ctx = X509_STORE_CTX_new();
		if (!untrusted || !ctx) {
			rc = KBS_ERR_NOMEM;
			goto out;
		}
		for (size_t i = 1; i < n; i++)
			if (!sk_X509_push(untrusted, chain[i])) {
				rc = KBS_ERR_NOMEM;
				goto out;
			}
		if (X509_STORE_CTX_init(ctx, v->ca, chain[0], untrusted) != 1) {
			rc = KBS_ERR_CRYPTO;
			goto out;
		}
		if (v->now)
			X509_STORE_CTX_set_time(ctx, 0, v->now);
		if (X509_verify_cert(ctx) != 1) {
			snprintf(cert_why, sizeof(cert_why),
				 "AK certificate does not chain to the AK CA: %s",
				 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
			goto refuse;
		}
		if (EVP_PKEY_eq(X509_get0_pubkey(chain[0]), ak) != 1) {
			snprintf(cert_why, sizeof(cert_why),
				 "AK certificate certifies another key than ak_public");
			goto refuse;
		}
		*how = "ak_certificate";
		rc = KBS_OK;
		goto out;
	}
refuse:
	if (cert_why[0]) {
		/* a certificate that was offered and failed is never silently ignored */
		snprintf(why, whylen, "tpm: %s", cert_why);
		rc = KBS_ERR_VERIFY;
		goto out;
	}
	if (v->allow_unverified) {
		*how = "unverified";
		rc = KBS_OK;
		goto out;
	}
	snprintf(why, whylen,
		 "tpm: AK is not trusted (not in trusted_ak_keys_dir, no AK certificate chaining "
		 "to the AK CA)");
	rc = KBS_ERR_VERIFY;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	for (size_t i = 0; i < n; i++)
		X509_free(chain[i]);
	return rc;
}

/* Replays the optional event logs; every PCR they extend must equal its quoted value. */
static int check_eventlogs(const json_t *ev, uint16_t alg, const uint8_t (*quoted)[64],
			   uint32_t quoted_mask, char *why, size_t whylen)
{
	static const char *const members[2] = {"eventlog", "aa_eventlog"};
	struct tcg_replay r;
	bool any = false;
	int rc;

	if (tcg_replay_init(&r, alg) != KBS_OK) {
		snprintf(why, whylen, "tpm: cannot replay event logs for bank 0x%04x", alg);
		return KBS_ERR_UNSUPPORTED;
	}
	for (int i = 0; i < 2; i++) {
		const json_t *s = json_object_get(ev, members[i]);
		uint8_t *log = NULL;
		size_t len = 0;
		char ewhy[200] = "";

		if (!s || json_is_null(s) || (json_is_string(s) && json_string_length(s) == 0))
			continue;
		if ((rc = b64_member(ev, members[i], members[i], &log, &len, why, whylen)))
			return rc;
		rc = i == 0 ? tcg_replay_firmware_log(&r, log, len, ewhy, sizeof(ewhy))
			    : tcg_replay_aael(&r, log, len, ewhy, sizeof(ewhy));
		free(log);
		if (rc) {
			snprintf(why, whylen, "tpm: %s: %s", members[i], ewhy);
			return rc;
		}
		any = true;
	}
	if (!any)
		return KBS_OK;
	for (unsigned i = 0; i < TCG_NPCRS; i++) {
		if (!(r.touched & (1u << i)))
			continue;
		if (!(quoted_mask & (1u << i))) {
			snprintf(why, whylen, "tpm: event log extends PCR %u, which is not quoted",
				 i);
			return KBS_ERR_VERIFY;
		}
		if (CRYPTO_memcmp(r.pcr[i], quoted[i], r.dlen) != 0) {
			snprintf(why, whylen, "tpm: event log replay does not match PCR %u", i);
			return KBS_ERR_VERIFY;
		}
	}
	return KBS_OK;
}

static json_t *hexj(const uint8_t *p, size_t n)
{
	char buf[257];

	if (n > 128 || hex_encode(p, n, buf, sizeof(buf)) != KBS_OK)
		return NULL;
	return json_string(buf);
}

#define FAIL(code, ...)                                                                            \
	do {                                                                                       \
		snprintf(why, whylen, __VA_ARGS__);                                                \
		rc = (code);                                                                       \
		goto out;                                                                          \
	} while (0)

int tpm_verifier_verify(const struct tpm_verifier *v, const struct as_verify_input *in,
			json_t **claims, char *why, size_t whylen)
{
	const json_t *ev = in->evidence, *q, *pcrs, *akj;
	uint8_t *akder = NULL, *sigb = NULL, *msg = NULL;
	size_t aklen = 0, siglen = 0, msglen = 0;
	EVP_PKEY *ak = NULL;
	struct tpm_signature sig;
	struct tpm_attest a;
	uint8_t pcr[TCG_NPCRS][64];
	uint32_t mask = 0;
	unsigned idx[32], npcr;
	size_t dlen;
	const EVP_MD *sig_md;
	uint8_t dig[64], fit[64];
	unsigned int dn = 0;
	const char *trust = NULL;
	json_t *c = NULL;
	int rc;

	*claims = NULL;
	if (whylen)
		why[0] = '\0';
	if (!json_is_object(ev))
		FAIL(KBS_ERR_PARSE, "tpm evidence is not a JSON object");
	akj = json_object_get(ev, "ak_public");
	if ((rc = b64_member(ev, "ak_public", "ak_public", &akder, &aklen, why, whylen)))
		goto out;
	ak = ak_parse(v, akder, aklen);
	if (!ak)
		FAIL(KBS_ERR_PARSE, "tpm evidence: ak_public is not a DER SubjectPublicKeyInfo");
	q = json_object_get(ev, "tpm_quote");
	if (!json_is_object(q))
		FAIL(KBS_ERR_PARSE, "tpm evidence: tpm_quote is missing");
	if ((rc = b64_member(q, "signature", "tpm_quote.signature", &sigb, &siglen, why, whylen)) ||
	    (rc = b64_member(q, "message", "tpm_quote.message", &msg, &msglen, why, whylen)))
		goto out;
	if ((rc = tpm_signature_parse(sigb, siglen, &sig, why, whylen)) ||
	    (rc = tpm_attest_parse(msg, msglen, &a, why, whylen)))
		goto out;
	if ((rc = tpm_signature_verify(ak, &sig, msg, msglen, why, whylen)))
		goto out;

	/* PCR values: one bank, the listed values are exactly the selected PCRs */
	if (a.nbanks != 1)
		FAIL(KBS_ERR_UNSUPPORTED, "tpm quote: %u PCR banks selected (one supported)",
		     a.nbanks);
	dlen = tpm_alg_len(a.banks[0].alg);
	if (!dlen || !tpm_alg_md(a.banks[0].alg))
		FAIL(KBS_ERR_UNSUPPORTED, "tpm quote: unsupported PCR bank 0x%04x",
		     a.banks[0].alg);
	npcr = tpm_bank_pcrs(&a.banks[0], idx);
	pcrs = json_object_get(q, "pcrs");
	if (!json_is_array(pcrs) || json_array_size(pcrs) != npcr)
		FAIL(KBS_ERR_VERIFY, "tpm quote: pcrs lists %zu values but %u PCRs are quoted",
		     json_is_array(pcrs) ? json_array_size(pcrs) : 0, npcr);
	memset(pcr, 0, sizeof(pcr));
	for (unsigned i = 0; i < npcr; i++) {
		const json_t *s = json_array_get(pcrs, i);
		size_t n = 0;

		if (idx[i] >= TCG_NPCRS || !json_is_string(s) ||
		    json_string_length(s) != 2 * dlen ||
		    hex_decode(json_string_value(s), 2 * dlen, pcr[idx[i]], 64, &n) != KBS_OK)
			FAIL(KBS_ERR_PARSE, "tpm quote: pcrs[%u] is not a %zu-byte hex value", i,
			     dlen);
		mask |= 1u << idx[i];
	}
	sig_md = tpm_alg_md(sig.hash_alg);
	{
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		int ok = md && EVP_DigestInit_ex(md, sig_md, NULL) == 1;

		for (unsigned i = 0; ok && i < npcr; i++)
			ok = EVP_DigestUpdate(md, pcr[idx[i]], dlen) == 1;
		ok = ok && EVP_DigestFinal_ex(md, dig, &dn) == 1;
		EVP_MD_CTX_free(md);
		if (!ok)
			FAIL(KBS_ERR_CRYPTO, "tpm: cannot hash the PCR values");
	}
	if (a.pcr_digest_len != dn || CRYPTO_memcmp(dig, a.pcr_digest, dn) != 0)
		FAIL(KBS_ERR_VERIFY, "tpm quote: pcrDigest does not match the listed PCR values");

	if ((rc = check_ak_trust(v, ak, ev, &trust, why, whylen)))
		goto out;

	if (in->report_data) {
		if (a.extra_len != 32 && a.extra_len != 64)
			FAIL(KBS_ERR_VERIFY, "tpm quote: extraData of %zu bytes (32 or 64 expected)",
			     a.extra_len);
		/* 32 bytes from current attesters; 64 from older ones (Trustee's sample) */
		as_fit_report_data(in->report_data, in->report_data_len, fit, a.extra_len);
		if (CRYPTO_memcmp(fit, a.extra, a.extra_len) != 0)
			FAIL(KBS_ERR_VERIFY,
			     "tpm quote: extraData does not match the runtime data digest");
	}
	if (in->init_data_digest) {
		uint8_t buf[64] = {0}, want[32];
		unsigned int n = 0;

		if (in->init_data_digest_len != 32)
			FAIL(KBS_ERR_VERIFY, "tpm: init-data digest must be 32 bytes, got %zu",
			     in->init_data_digest_len);
		if (a.banks[0].alg != TPM_ALG_SHA256 || !(mask & (1u << 8)))
			FAIL(KBS_ERR_VERIFY, "tpm: PCR 8 of the SHA-256 bank is not quoted");
		memcpy(buf + 32, in->init_data_digest, 32);
		if (EVP_Digest(buf, 64, want, &n, EVP_sha256(), NULL) != 1)
			FAIL(KBS_ERR_CRYPTO, "tpm: cannot hash the init-data digest");
		if (CRYPTO_memcmp(want, pcr[8], 32) != 0)
			FAIL(KBS_ERR_VERIFY, "tpm: PCR 8 does not match the init-data digest");
	}
	if ((rc = check_eventlogs(ev, a.banks[0].alg, (const uint8_t (*)[64])pcr, mask, why,
				  whylen)))
		goto out;

	rc = KBS_ERR_NOMEM;
	c = json_object();
	if (!c)
		goto out;
	for (unsigned i = 0; i < npcr; i++) {
		char key[8];

		snprintf(key, sizeof(key), "pcr%02u", idx[i]);
		if (json_object_set_new(c, key, hexj(pcr[idx[i]], dlen)))
			goto out;
	}
	if ((mask & (1u << 8)) && json_object_set_new(c, "init_data", hexj(pcr[8], dlen)))
		goto out;
	if (json_object_set_new(c, "report_data", hexj(a.extra, a.extra_len)) ||
	    json_object_set(c, "ak_public", (json_t *)akj) ||
	    json_object_set_new(c, "ak_trust", json_string(trust)))
		goto out;
	*claims = c;
	c = NULL;
	log_debug("tpm: verified quote (%u PCRs, AK %s)", npcr, trust);
	rc = KBS_OK;
out:
	if (rc == KBS_ERR_NOMEM && !why[0])
		snprintf(why, whylen, "out of memory");
	json_decref(c);
	EVP_PKEY_free(ak);
	free(akder);
	free(sigb);
	free(msg);
	return rc;
}

/* ---- table entry ---- */

static int tpm_create(const struct as_verifier_config *c, void **state, char *why,
		      size_t whylen)
{
	struct tpm_verifier_config tc = {.trusted_ak_keys_dir = c->tpm_trusted_ak_keys_dir,
					 .max_trusted_ak_keys = c->tpm_max_trusted_ak_keys,
					 .ak_ca_path = c->tpm_ak_ca_path,
					 .allow_unverified_ak = c->tpm_allow_unverified_ak};

	return tpm_verifier_new(&tc, (struct tpm_verifier **)state, why, whylen);
}

static void tpm_destroy(void *state)
{
	tpm_verifier_free(state);
}

static int tpm_verify(const struct as_verify_input *in, json_t **claims, char *why, size_t whylen)
{
	/* without a state from the AS: the defaults (no trusted AK: every AK is refused) */
	const void *st = in->state ? in->state
				   : as_verifier_default_state(&as_verifier_tpm, why, whylen);

	*claims = NULL;
	return st ? tpm_verifier_verify(st, in, claims, why, whylen) : KBS_ERR_INTERNAL;
}

const struct as_verifier as_verifier_tpm = {
    .tee = "tpm",
    .tee_class = "cpu",
    .create = tpm_create,
    .destroy = tpm_destroy,
    .verify = tpm_verify,
};
