// SPDX-License-Identifier: Apache-2.0
/*
 * AMD SEV-SNP verifier. Order of checks (Trustee's, plus the ones it skips):
 * report JSON → exact binary report → CPU generation → VCEK/VLEK (cert_chain, else cache
 * directory, else KDS when configured) → ARK → ASK/ASVK → VEK signatures with the built-in
 * roots → signing-key kind → report signature → TCB and hwID extensions vs the report →
 * VMPL → REPORT_DATA → HOST_DATA → claims.
 */
#include "server/as/verifier_snp.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/http_client.h"
#include "common/log.h"
#include "server/as/vendor_certs.h"
#include "server/as/x509util.h"

#define OID_AMD "1.3.6.1.4.1.3704.1."
#define MAX_CERT_DER (16 * 1024)
#define MAX_CHAIN_ENTRIES 16

struct amd_roots {
	enum snp_gen gen;
	X509 *ask, *ark, *asvk;
};

#define VEK_CACHE_SIZE 32

/* A VCEK/VLEK already verified against the built-in ASK/ASVK of gen (by DER SHA-256). */
struct vek_cache_entry {
	uint8_t sha256[32];
	X509 *vek;
	int kind;
	enum snp_gen gen;
};

struct snp_verifier {
	struct amd_roots roots[3]; /* Milan, Genoa, Turin */
	/* Parsing a VCEK and checking ASK->VCEK costs more than the report signature itself;
	 * verified VEKs are kept here (the only mutable state, under lock). */
	pthread_mutex_t lock;
	struct vek_cache_entry cache[VEK_CACHE_SIZE];
	unsigned cache_next;
	bool lock_ok;
	char *vcek_dir;
	char *kds_url;
	unsigned max_vmpl;
};

static void roots_release(struct amd_roots *r)
{
	X509_free(r->ask);
	X509_free(r->ark);
	X509_free(r->asvk);
	memset(r, 0, sizeof(*r));
}

static int roots_load(struct amd_roots *r, enum snp_gen gen, const char *pem, char *why,
		      size_t whylen)
{
	X509 *c[3];
	size_t n = 0;

	r->gen = gen;
	if (x509u_pem_chain(pem, strlen(pem), c, 3, &n) != KBS_OK || n != 3) {
		for (size_t i = 0; i < n; i++)
			X509_free(c[i]);
		snprintf(why, whylen, "built-in AMD %s certificates do not parse",
			 snp_gen_name(gen));
		return KBS_ERR_INTERNAL;
	}
	r->ask = c[0];
	r->ark = c[1];
	r->asvk = c[2];
	if (x509u_signed_by(r->ark, r->ark) != KBS_OK ||
	    x509u_signed_by(r->ask, r->ark) != KBS_OK ||
	    x509u_signed_by(r->asvk, r->ark) != KBS_OK) {
		snprintf(why, whylen, "built-in AMD %s chain does not verify", snp_gen_name(gen));
		return KBS_ERR_INTERNAL;
	}
	return KBS_OK;
}

int snp_verifier_new(const struct snp_verifier_config *cfg, struct snp_verifier **out, char *why,
		     size_t whylen)
{
	static const enum snp_gen gens[3] = {SNP_GEN_MILAN, SNP_GEN_GENOA, SNP_GEN_TURIN};
	const char *pems[3] = {vendor_amd_milan_pem, vendor_amd_genoa_pem, vendor_amd_turin_pem};
	struct snp_verifier *v = calloc(1, sizeof(*v));
	int rc = KBS_ERR_NOMEM;

	*out = NULL;
	if (!v) {
		snprintf(why, whylen, "out of memory");
		return KBS_ERR_NOMEM;
	}
	for (int i = 0; i < 3; i++)
		if ((rc = roots_load(&v->roots[i], gens[i], pems[i], why, whylen)) != KBS_OK)
			goto out;
	rc = KBS_ERR_NOMEM;
	if (cfg && cfg->vcek_dir && !(v->vcek_dir = strdup(cfg->vcek_dir)))
		goto out;
	if (cfg && cfg->kds_url && !(v->kds_url = strdup(cfg->kds_url)))
		goto out;
	v->max_vmpl = cfg ? cfg->max_vmpl : 0;
	if (pthread_mutex_init(&v->lock, NULL) != 0) {
		rc = KBS_ERR_INTERNAL;
		goto out;
	}
	v->lock_ok = true;
	*out = v;
	v = NULL;
	rc = KBS_OK;
out:
	snp_verifier_free(v);
	return rc;
}

void snp_verifier_free(struct snp_verifier *v)
{
	if (!v)
		return;
	for (int i = 0; i < 3; i++)
		roots_release(&v->roots[i]);
	for (int i = 0; i < VEK_CACHE_SIZE; i++)
		X509_free(v->cache[i].vek);
	if (v->lock_ok)
		pthread_mutex_destroy(&v->lock);
	free(v->vcek_dir);
	free(v->kds_url);
	free(v);
}

static const struct amd_roots *roots_for(const struct snp_verifier *v, enum snp_gen g)
{
	for (int i = 0; i < 3; i++)
		if (v->roots[i].gen == g)
			return &v->roots[i];
	return NULL;
}

/* ---- report signature and VEK extensions ---- */

int snp_verify_report_signature(const uint8_t report[SNP_REPORT_SIZE], EVP_PKEY *vek, char *why,
				size_t whylen)
{
	static const uint8_t zero[144];
	uint8_t *der = NULL;
	size_t derlen = 0;
	int rc;

	if (EVP_PKEY_get_base_id(vek) != EVP_PKEY_EC || EVP_PKEY_get_bits(vek) != 384) {
		snprintf(why, whylen, "snp: VCEK/VLEK key is not EC P-384");
		return KBS_ERR_VERIFY;
	}
	if (memcmp(report + 0x2A0, zero, sizeof(zero)) == 0) {
		snprintf(why, whylen, "snp: report is not signed (all-zero signature)");
		return KBS_ERR_VERIFY;
	}
	rc = x509u_ecdsa_raw_to_der(report + 0x2A0, report + 0x2E8, 72, 1, &der, &derlen);
	if (rc != KBS_OK) {
		snprintf(why, whylen, "snp: cannot encode report signature");
		return rc;
	}
	rc = x509u_verify_ecdsa(vek, "SHA384", report, SNP_SIGNED_LEN, der, derlen);
	OPENSSL_free(der);
	if (rc != KBS_OK)
		snprintf(why, whylen, "snp: report signature does not verify with the VCEK/VLEK");
	return rc;
}

int snp_vek_hwid(X509 *vek, const uint8_t **hwid, size_t *len)
{
	const uint8_t *p, *val;
	size_t l, vl;
	uint8_t tag;
	int rc;

	if ((rc = x509u_ext(vek, OID_AMD "4", &p, &l)) != KBS_OK)
		return rc;
	/* newer certificates wrap the bytes in an OCTET STRING, older ones carry them raw */
	if ((l == 66 || l == 10) && p[0] == 0x04) {
		const uint8_t *q = p;

		if (x509u_der_next(&q, p + l, &tag, &val, &vl) == KBS_OK && q == p + l &&
		    (vl == 64 || vl == 8)) {
			*hwid = val;
			*len = vl;
			return KBS_OK;
		}
	}
	if (l != 64 && l != 8)
		return KBS_ERR_PARSE;
	*hwid = p;
	*len = l;
	return KBS_OK;
}

static int ext_uint(X509 *c, const char *oid, uint32_t *out)
{
	const uint8_t *p;
	size_t l;
	int rc;

	if ((rc = x509u_ext(c, oid, &p, &l)) != KBS_OK)
		return rc;
	return x509u_der_uint(p, l, out);
}

int snp_vek_check_report(X509 *vek, bool is_vlek, const struct snp_report *r, char *why,
			 size_t whylen)
{
	static const struct {
		const char *oid, *name;
		size_t member;
	} spl[] = {
	    {OID_AMD "3.1", "blSPL", offsetof(struct snp_tcb, bootloader)},
	    {OID_AMD "3.2", "teeSPL", offsetof(struct snp_tcb, tee)},
	    {OID_AMD "3.3", "snpSPL", offsetof(struct snp_tcb, snp)},
	    {OID_AMD "3.8", "ucodeSPL", offsetof(struct snp_tcb, microcode)},
	    {OID_AMD "3.9", "fmcSPL", offsetof(struct snp_tcb, fmc)},
	};
	size_t n = r->gen == SNP_GEN_TURIN ? 5 : 4;
	const uint8_t *hw;
	size_t hwlen, want;
	uint32_t val;

	for (size_t i = 0; i < n; i++) {
		uint8_t rep = *((const uint8_t *)&r->reported_tcb + spl[i].member);

		if (ext_uint(vek, spl[i].oid, &val) != KBS_OK) {
			snprintf(why, whylen, "snp: VCEK/VLEK has no valid %s extension",
				 spl[i].name);
			return KBS_ERR_VERIFY;
		}
		if (val != rep) {
			snprintf(why, whylen,
				 "snp: reported TCB %s %u does not match the VCEK/VLEK %s %u",
				 spl[i].name, rep, spl[i].name, val);
			return KBS_ERR_VERIFY;
		}
	}
	if (is_vlek)
		return KBS_OK; /* VLEKs are per cloud provider: cspID instead of hwID */
	if (snp_vek_hwid(vek, &hw, &hwlen) != KBS_OK) {
		snprintf(why, whylen, "snp: VCEK has no valid hwID extension");
		return KBS_ERR_VERIFY;
	}
	want = r->gen == SNP_GEN_TURIN ? 8 : 64;
	if (hwlen != want || CRYPTO_memcmp(hw, r->chip_id, want) != 0) {
		snprintf(why, whylen, "snp: VCEK hwID does not match the report CHIP_ID");
		return KBS_ERR_VERIFY;
	}
	return KBS_OK;
}

int snp_tcb_prefix(const struct snp_tcb *t, bool turin, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "bl%02u_tee%02u_snp%02u_ucode%02u", t->bootloader, t->tee,
			 t->snp, t->microcode);

	if (n < 0 || (size_t)n >= outlen)
		return KBS_ERR_RANGE;
	if (turin) {
		int m = snprintf(out + n, outlen - (size_t)n, "_fmc%02u", t->fmc);

		if (m < 0 || (size_t)m >= outlen - (size_t)n)
			return KBS_ERR_RANGE;
	}
	return KBS_OK;
}

/* ---- obtaining the VEK ---- */

enum vek_kind { VEK_NONE = 0, VEK_VCEK, VEK_VLEK };

struct chain {
	X509 *ark, *ask, *vek;
	enum vek_kind kind;
	uint8_t vek_sha256[32];
	bool vek_hashed;
	enum snp_gen cached_gen; /* != UNKNOWN: VEK found in the verified cache */
	const char *source;	 /* "cert_chain", "cache", "KDS" */
};

static void chain_release(struct chain *c)
{
	X509_free(c->ark);
	X509_free(c->ask);
	X509_free(c->vek);
	memset(c, 0, sizeof(*c));
}

/* Verified VEK with this DER hash and kind, or NULL (new reference). */
static X509 *vek_cache_get(const struct snp_verifier *cv, struct chain *c)
{
	struct snp_verifier *v = (struct snp_verifier *)cv; /* the lock and cache only */
	X509 *x = NULL;

	pthread_mutex_lock(&v->lock);
	for (int i = 0; i < VEK_CACHE_SIZE; i++)
		if (v->cache[i].vek && v->cache[i].kind == (int)c->kind &&
		    memcmp(v->cache[i].sha256, c->vek_sha256, 32) == 0) {
			x = v->cache[i].vek;
			X509_up_ref(x);
			c->cached_gen = v->cache[i].gen;
			break;
		}
	pthread_mutex_unlock(&v->lock);
	return x;
}

static void vek_cache_put(const struct snp_verifier *cv, const struct chain *c, enum snp_gen gen)
{
	struct snp_verifier *v = (struct snp_verifier *)cv;
	struct vek_cache_entry *e;

	if (!c->vek_hashed || c->cached_gen != SNP_GEN_UNKNOWN)
		return;
	pthread_mutex_lock(&v->lock);
	e = &v->cache[v->cache_next++ % VEK_CACHE_SIZE];
	X509_free(e->vek);
	memcpy(e->sha256, c->vek_sha256, 32);
	e->vek = c->vek;
	X509_up_ref(e->vek);
	e->kind = (int)c->kind;
	e->gen = gen;
	pthread_mutex_unlock(&v->lock);
}

static int entry_cert(const struct snp_verifier *v, const json_t *e, size_t idx, X509 **out,
		      struct chain *c, char *why, size_t whylen)
{
	json_t *d = json_object_get(e, "data");
	size_t n = json_array_size(d);
	uint8_t *buf;

	if (!json_is_array(d) || n == 0 || n > MAX_CERT_DER) {
		snprintf(why, whylen, "snp evidence: cert_chain[%zu].data must be a byte array",
			 idx);
		return KBS_ERR_PARSE;
	}
	buf = malloc(n);
	if (!buf)
		return KBS_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *b = json_array_get(d, i);

		if (!json_is_integer(b) || json_integer_value(b) < 0 ||
		    json_integer_value(b) > 255) {
			free(buf);
			snprintf(why, whylen,
				 "snp evidence: cert_chain[%zu].data[%zu] is not a byte", idx, i);
			return KBS_ERR_PARSE;
		}
		buf[i] = (uint8_t)json_integer_value(b);
	}
	if (c) {
		SHA256(buf, n, c->vek_sha256);
		c->vek_hashed = true;
		if ((*out = vek_cache_get(v, c))) {
			free(buf);
			return KBS_OK;
		}
	}
	*out = x509u_from_pem_or_der(buf, n);
	free(buf);
	if (!*out) {
		snprintf(why, whylen, "snp evidence: cert_chain[%zu] is not a certificate", idx);
		return KBS_ERR_PARSE;
	}
	return KBS_OK;
}

/* Reads ARK, ASK and the first VCEK/VLEK of the evidence's cert_chain (others ignored). */
static int chain_from_evidence(const struct snp_verifier *v, const json_t *cc, struct chain *c,
			       char *why, size_t whylen)
{
	size_t i;
	json_t *e;
	int rc;

	if (!cc || json_is_null(cc))
		return KBS_OK;
	if (!json_is_array(cc) || json_array_size(cc) > MAX_CHAIN_ENTRIES) {
		snprintf(why, whylen, "snp evidence: cert_chain must be an array of at most %d",
			 MAX_CHAIN_ENTRIES);
		return KBS_ERR_PARSE;
	}
	json_array_foreach(cc, i, e)
	{
		const char *t = json_string_value(json_object_get(e, "cert_type"));
		X509 **slot = NULL;
		enum vek_kind k = VEK_NONE;

		if (!json_is_object(e)) {
			snprintf(why, whylen, "snp evidence: cert_chain[%zu] is not an object", i);
			return KBS_ERR_PARSE;
		}
		if (!t)
			continue; /* {"OTHER": uuid}: not ours */
		if (strcmp(t, "ARK") == 0)
			slot = &c->ark;
		else if (strcmp(t, "ASK") == 0)
			slot = &c->ask;
		else if (strcmp(t, "VCEK") == 0)
			k = VEK_VCEK;
		else if (strcmp(t, "VLEK") == 0)
			k = VEK_VLEK;
		else
			continue; /* CRL, Empty */
		if (k != VEK_NONE) {
			if (c->vek)
				continue; /* first VCEK/VLEK wins */
			slot = &c->vek;
			c->kind = k;
		} else if (*slot) {
			snprintf(why, whylen, "snp evidence: cert_chain has two %s entries", t);
			return KBS_ERR_PARSE;
		}
		if ((rc = entry_cert(v, e, i, slot, k != VEK_NONE ? c : NULL, why, whylen)) !=
		    KBS_OK)
			return rc;
	}
	if (c->vek)
		c->source = "cert_chain";
	return KBS_OK;
}

static int hwid_hex(const struct snp_report *r, char *out, size_t outlen)
{
	size_t n = r->gen == SNP_GEN_TURIN ? 8 : 64;

	if (outlen < 2 * n + 1)
		return KBS_ERR_RANGE;
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", r->chip_id[i]);
	return KBS_OK;
}

static bool chip_id_zero(const struct snp_report *r)
{
	for (size_t i = 0; i < 64; i++)
		if (r->chip_id[i])
			return false;
	return true;
}

static X509 *read_cert_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n;
	X509 *x;

	if (!f)
		return NULL;
	buf = malloc(MAX_CERT_DER + 1);
	if (!buf) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, MAX_CERT_DER + 1, f);
	fclose(f);
	x = n <= MAX_CERT_DER ? x509u_from_pem_or_der(buf, n) : NULL;
	free(buf);
	return x;
}

static int cache_paths(const struct snp_verifier *v, const struct snp_report *r, char *dir,
		       size_t dirlen, char *prefix, size_t prelen)
{
	char hw[129];
	int n;

	if (hwid_hex(r, hw, sizeof(hw)) != KBS_OK ||
	    snp_tcb_prefix(&r->reported_tcb, r->gen == SNP_GEN_TURIN, prefix, prelen) != KBS_OK)
		return KBS_ERR_RANGE;
	n = snprintf(dir, dirlen, "%s/vcek/%s", v->vcek_dir, hw);
	return n < 0 || (size_t)n >= dirlen ? KBS_ERR_RANGE : KBS_OK;
}

static X509 *vcek_from_cache(const struct snp_verifier *v, const struct snp_report *r)
{
	char dir[4096], prefix[64], path[4200];
	X509 *x;

	if (!v->vcek_dir || cache_paths(v, r, dir, sizeof(dir), prefix, sizeof(prefix)) != KBS_OK)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s_vcek.der", dir, prefix);
	if ((x = read_cert_file(path)))
		return x;
	snprintf(path, sizeof(path), "%s/vcek.der", dir);
	return read_cert_file(path);
}

/* Best effort: a failed cache write only costs another fetch. */
static void vcek_cache_store(const struct snp_verifier *v, const struct snp_report *r,
			     const uint8_t *der, size_t len)
{
	char dir[4096], prefix[64], path[4200], tmp[4300];
	FILE *f;
	int ok;

	if (!v->vcek_dir || cache_paths(v, r, dir, sizeof(dir), prefix, sizeof(prefix)) != KBS_OK)
		return;
	snprintf(path, sizeof(path), "%s/vcek", v->vcek_dir);
	(void)mkdir(v->vcek_dir, 0755);
	(void)mkdir(path, 0755);
	(void)mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/%s_vcek.der", dir, prefix);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	f = fopen(tmp, "wb");
	if (!f)
		return;
	ok = fwrite(der, 1, len, f) == len;
	ok &= fclose(f) == 0;
	if (!ok || rename(tmp, path) != 0)
		(void)unlink(tmp);
}

static X509 *vcek_from_kds(const struct snp_verifier *v, const struct snp_report *r,
			   enum snp_gen product, char *why, size_t whylen)
{
	struct http_client_config hc = {.timeout_ms = 10000, .max_retries = 2};
	struct http_client *cl = NULL;
	struct http_result res = {0};
	char hw[129], url[1024];
	const struct snp_tcb *t = &r->reported_tcb;
	X509 *x = NULL;
	int n;

	if (hwid_hex(r, hw, sizeof(hw)) != KBS_OK)
		return NULL;
	if (product == SNP_GEN_TURIN)
		n = snprintf(url, sizeof(url),
			     "%s/vcek/v1/Turin/%s?fmcSPL=%02u&blSPL=%02u&teeSPL=%02u&snpSPL=%02u&"
			     "ucodeSPL=%02u",
			     v->kds_url, hw, t->fmc, t->bootloader, t->tee, t->snp, t->microcode);
	else
		n = snprintf(url, sizeof(url),
			     "%s/vcek/v1/%s/%s?blSPL=%02u&teeSPL=%02u&snpSPL=%02u&ucodeSPL=%02u",
			     v->kds_url, snp_gen_name(product), hw, t->bootloader, t->tee, t->snp,
			     t->microcode);
	if (n < 0 || (size_t)n >= sizeof(url))
		return NULL;
	if (http_client_new(&hc, &cl) != KBS_OK)
		return NULL;
	if (http_client_request(cl, "GET", url, NULL, NULL, 0, http_now_ms() + 30000, &res) !=
	    KBS_OK) {
		snprintf(why, whylen, "snp: AMD KDS request failed (%s)", res.error);
	} else if (res.status != 200) {
		snprintf(why, whylen, "snp: AMD KDS answered HTTP %ld for the VCEK", res.status);
	} else if (!(x = x509u_from_der(res.body.p, res.body.len))) {
		snprintf(why, whylen, "snp: AMD KDS returned no DER certificate");
	} else {
		vcek_cache_store(v, r, res.body.p, res.body.len);
	}
	http_result_release(&res);
	http_client_free(cl);
	return x;
}

/* ---- chain ---- */

/* Checks ARK → ASK/ASVK → VEK for one generation with the built-in roots. */
static int chain_check(const struct amd_roots *rt, const struct chain *c, char *why, size_t whylen)
{
	X509 *issuer = c->kind == VEK_VLEK ? rt->asvk : rt->ask;
	const char *iname = c->kind == VEK_VLEK ? "ASVK" : "ASK";

	if (c->ark && X509_cmp(c->ark, rt->ark) != 0 &&
	    x509u_signed_by(c->ark, rt->ark) != KBS_OK) {
		snprintf(why, whylen, "snp: cert_chain ARK is not the built-in AMD ARK-%s",
			 snp_gen_name(rt->gen));
		return KBS_ERR_VERIFY;
	}
	if (c->ask) {
		if (x509u_signed_by(c->ask, rt->ark) != KBS_OK) {
			snprintf(why, whylen, "snp: cert_chain %s is not signed by ARK-%s", iname,
				 snp_gen_name(rt->gen));
			return KBS_ERR_VERIFY;
		}
		issuer = c->ask;
	}
	if (x509u_signed_by(c->vek, issuer) != KBS_OK) {
		snprintf(why, whylen, "snp: %s is not signed by the %s %s",
			 c->kind == VEK_VLEK ? "VLEK" : "VCEK", snp_gen_name(rt->gen), iname);
		return KBS_ERR_VERIFY;
	}
	return KBS_OK;
}

/* Picks the generation whose chain signs the VEK (v2 reports: Milan or Genoa). */
static int chain_verify(const struct snp_verifier *v, const struct snp_report *r,
			const struct chain *c, enum snp_gen *gen, char *why, size_t whylen)
{
	int rc;

	/* a VEK verified before against the built-in issuer: only supplied ARK/ASK need checks */
	if (c->cached_gen != SNP_GEN_UNKNOWN && !c->ark && !c->ask &&
	    (c->cached_gen == r->gen ||
	     (r->gen == SNP_GEN_MILAN_OR_GENOA && c->cached_gen != SNP_GEN_TURIN))) {
		*gen = c->cached_gen;
		return KBS_OK;
	}
	if (r->gen != SNP_GEN_MILAN_OR_GENOA) {
		*gen = r->gen;
		return chain_check(roots_for(v, r->gen), c, why, whylen);
	}
	if (chain_check(roots_for(v, SNP_GEN_MILAN), c, why, whylen) == KBS_OK) {
		*gen = SNP_GEN_MILAN;
		return KBS_OK;
	}
	if ((rc = chain_check(roots_for(v, SNP_GEN_GENOA), c, why, whylen)) == KBS_OK) {
		*gen = SNP_GEN_GENOA;
		return KBS_OK;
	}
	snprintf(why, whylen, "snp: %s chains to neither the Milan nor the Genoa AMD roots",
		 c->kind == VEK_VLEK ? "VLEK" : "VCEK");
	return rc;
}

static int obtain_vek(const struct snp_verifier *v, const json_t *ev, const struct snp_report *r,
		      struct chain *c, char *why, size_t whylen)
{
	int rc;

	if ((rc = chain_from_evidence(v, json_object_get(ev, "cert_chain"), c, why, whylen)) !=
	    KBS_OK)
		return rc;
	if (c->vek)
		return KBS_OK;
	if (chip_id_zero(r)) {
		snprintf(why, whylen,
			 "snp: no VCEK/VLEK in cert_chain and CHIP_ID is masked: "
			 "cannot look a VCEK up");
		return KBS_ERR_VERIFY;
	}
	c->kind = VEK_VCEK;
	if ((c->vek = vcek_from_cache(v, r))) {
		c->source = "cache";
		return KBS_OK;
	}
	if (!v->kds_url) {
		snprintf(why, whylen,
			 "snp: no VCEK: none in cert_chain, none in the cache directory (%s), "
			 "KDS fetching not configured",
			 v->vcek_dir ? v->vcek_dir : "none");
		return KBS_ERR_VERIFY;
	}
	snprintf(why, whylen, "snp: AMD KDS did not provide the VCEK");
	if (r->gen == SNP_GEN_MILAN_OR_GENOA) {
		c->vek = vcek_from_kds(v, r, SNP_GEN_MILAN, why, whylen);
		if (!c->vek)
			c->vek = vcek_from_kds(v, r, SNP_GEN_GENOA, why, whylen);
	} else {
		c->vek = vcek_from_kds(v, r, r->gen, why, whylen);
	}
	if (!c->vek)
		return KBS_ERR_VERIFY;
	c->source = "KDS";
	return KBS_OK;
}

/* ---- claims ---- */

static json_t *hex(const uint8_t *p, size_t n)
{
	char s[257];

	if (n > 128)
		return NULL;
	for (size_t i = 0; i < n; i++)
		snprintf(s + 2 * i, 3, "%02x", p[i]);
	s[2 * n] = 0;
	return json_string(s);
}

static json_t *make_claims(const struct snp_report *r)
{
	const struct snp_tcb *t = &r->reported_tcb;

	return json_pack(
	    "{s:i,s:i,s:b,s:b,s:b,s:b,s:i,s:i,s:i,s:i,s:b,s:b,s:o,s:o,s:o,s:o,s:I}",
	    "policy_abi_major", (int)((r->policy >> 8) & 0xff), "policy_abi_minor",
	    (int)(r->policy & 0xff), "policy_smt_allowed", !!(r->policy & SNP_POLICY_SMT),
	    "policy_migrate_ma", !!(r->policy & SNP_POLICY_MIGRATE_MA), "policy_debug_allowed",
	    !!(r->policy & SNP_POLICY_DEBUG), "policy_single_socket",
	    !!(r->policy & SNP_POLICY_SINGLE_SOCKET), "reported_tcb_bootloader", t->bootloader,
	    "reported_tcb_tee", t->tee, "reported_tcb_snp", t->snp, "reported_tcb_microcode",
	    t->microcode, "platform_tsme_enabled", !!(r->plat_info & SNP_PLAT_TSME_EN),
	    "platform_smt_enabled", !!(r->plat_info & SNP_PLAT_SMT_EN), "measurement",
	    hex(r->measurement, 48), "report_data", hex(r->report_data, 64), "init_data",
	    hex(r->host_data, 32), "chip_id", hex(r->chip_id, 64), "vmpl", (json_int_t)r->vmpl);
}

/* ---- the verifier ---- */

int snp_verifier_verify(const struct snp_verifier *v, const struct as_verify_input *in,
			json_t **claims, char *why, size_t whylen)
{
	const json_t *ev = in->evidence;
	struct snp_report r;
	struct chain c = {0};
	uint8_t bin[SNP_REPORT_SIZE], fit[64];
	enum snp_gen gen = SNP_GEN_UNKNOWN;
	unsigned want_key;
	int rc;

	*claims = NULL;
	if (!json_is_object(ev)) {
		snprintf(why, whylen, "snp evidence is not a JSON object");
		return KBS_ERR_PARSE;
	}
	if ((rc = snp_report_from_json(json_object_get(ev, "attestation_report"), &r, why,
				       whylen)) != KBS_OK)
		goto out;
	if (r.sig_algo != 1) {
		snprintf(why, whylen, "snp: signature algorithm %u is not ECDSA P-384 (1)",
			 r.sig_algo);
		rc = KBS_ERR_UNSUPPORTED;
		goto out;
	}
	if ((rc = snp_report_encode(&r, bin)) != KBS_OK) {
		snprintf(why, whylen, "snp: cannot encode the report");
		goto out;
	}
	if ((rc = obtain_vek(v, ev, &r, &c, why, whylen)) != KBS_OK)
		goto out;
	if ((rc = chain_verify(v, &r, &c, &gen, why, whylen)) != KBS_OK)
		goto out;
	if (!c.ask)
		vek_cache_put(v, &c, gen);
	want_key = c.kind == VEK_VLEK ? 1 : 0;
	if (SNP_KEYINFO_SIGNING_KEY(r.key_info) != want_key) {
		snprintf(why, whylen, "snp: report signing key %u does not match the %s",
			 SNP_KEYINFO_SIGNING_KEY(r.key_info), c.kind == VEK_VLEK ? "VLEK" : "VCEK");
		rc = KBS_ERR_VERIFY;
		goto out;
	}
	if ((rc = snp_verify_report_signature(bin, X509_get0_pubkey(c.vek), why, whylen)) != KBS_OK)
		goto out;
	if ((rc = snp_vek_check_report(c.vek, c.kind == VEK_VLEK, &r, why, whylen)) != KBS_OK)
		goto out;
	rc = KBS_ERR_VERIFY;
	if (r.vmpl > v->max_vmpl) {
		snprintf(why, whylen, "snp: VMPL %u above the accepted maximum %u", r.vmpl,
			 v->max_vmpl);
		goto out;
	}
	if (in->report_data) {
		as_fit_report_data(in->report_data, in->report_data_len, fit, 64);
		if (CRYPTO_memcmp(fit, r.report_data, 64) != 0) {
			snprintf(why, whylen,
				 "snp: REPORT_DATA does not match the runtime data digest");
			goto out;
		}
	}
	if (in->init_data_digest) {
		as_fit_report_data(in->init_data_digest, in->init_data_digest_len, fit, 32);
		if (CRYPTO_memcmp(fit, r.host_data, 32) != 0) {
			snprintf(why, whylen, "snp: HOST_DATA does not match the init-data digest");
			goto out;
		}
	}
	*claims = make_claims(&r);
	if (!*claims) {
		snprintf(why, whylen, "out of memory");
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	log_debug("snp: verified %s report v%u (VEK from %s)", snp_gen_name(gen), r.version,
		  c.source);
	rc = KBS_OK;
out:
	chain_release(&c);
	return rc;
}

/* ---- table entry ---- */

static int snp_create(const struct as_verifier_config *c, void **state, char *why,
		      size_t whylen)
{
	struct snp_verifier_config sc = {
	    .vcek_dir = c->snp_vcek_dir, .kds_url = c->snp_kds_url, .max_vmpl = c->snp_max_vmpl};

	return snp_verifier_new(&sc, (struct snp_verifier **)state, why, whylen);
}

static void snp_destroy(void *state)
{
	snp_verifier_free(state);
}

static int snp_verify(const struct as_verify_input *in, json_t **claims, char *why, size_t whylen)
{
	/* without a state from the AS: the defaults and the environment fallbacks */
	const void *st = in->state ? in->state
				   : as_verifier_default_state(&as_verifier_snp, why, whylen);

	*claims = NULL;
	return st ? snp_verifier_verify(st, in, claims, why, whylen) : KBS_ERR_INTERNAL;
}

const struct as_verifier as_verifier_snp = {
    .tee = "snp",
    .tee_class = "cpu",
    .create = snp_create,
    .destroy = snp_destroy,
    .verify = snp_verify,
};
