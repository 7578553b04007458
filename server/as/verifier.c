// SPDX-License-Identifier: Apache-2.0
#include "server/as/verifier.h"

#include "server/as/verifier_az.h"
#include "server/as/verifier_cca.h"
#include "server/as/verifier_csv.h"
#include "server/as/verifier_nvidia.h"
#include "server/as/verifier_sgx.h"
#include "server/as/verifier_snp.h"
#include "server/as/verifier_tdx.h"
#include "server/as/verifier_tpm.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define DEFAULT_VCEK_DIR "/opt/confidential-containers/attestation-service/kds-store"
#define DEFAULT_KDS_URL "https://kdsintf.amd.com"
#define DEFAULT_CSV_CERT_DIR "/opt/hygon/csv"
#define DEFAULT_CSV_KDS_URL "https://cert.hygon.cn"

/* Adding a TEE: write verifier_<tee>.c and add it here. */
static const struct as_verifier *const verifiers[] = {
	&as_verifier_sample,
	&as_verifier_sampledevice,
	&as_verifier_snp,
	&as_verifier_tdx,
	&as_verifier_tpm,
	&as_verifier_sgx,
	&as_verifier_az_snp_vtpm,
	&as_verifier_az_tdx_vtpm,
	&as_verifier_cca,
	&as_verifier_csv,
	&as_verifier_nvidia,
};

static const char *const names[] = {"sample",      "sampledevice", "snp", "tdx", "tpm", "sgx",
				    "az-snp-vtpm", "az-tdx-vtpm",  "cca", "csv", "nvidia", NULL};

const struct as_verifier *as_verifier_find(const char *tee)
{
	if (!tee)
		return NULL;
	for (size_t i = 0; i < sizeof(verifiers) / sizeof(verifiers[0]); i++)
		if (strcmp(verifiers[i]->tee, tee) == 0)
			return verifiers[i];
	return NULL;
}

const struct as_verifier *as_verifier_at(size_t i)
{
	return i < sizeof(verifiers) / sizeof(verifiers[0]) ? verifiers[i] : NULL;
}

const char *const *as_verifier_names(void)
{
	return names;
}

/*
 * Default states, one per table entry, built on first use and kept for the process (they are
 * read-only once built, so verifications never take the lock again after a first success).
 */
static struct {
	pthread_mutex_t lock;
	bool tried[sizeof(verifiers) / sizeof(verifiers[0])];
	void *state[sizeof(verifiers) / sizeof(verifiers[0])];
	char err[sizeof(verifiers) / sizeof(verifiers[0])][256];
} g_default = {.lock = PTHREAD_MUTEX_INITIALIZER};

const void *as_verifier_default_state(const struct as_verifier *v, char *why, size_t whylen)
{
	struct as_verifier_config c;
	const void *st = NULL;
	size_t i = 0;

	while (i < sizeof(verifiers) / sizeof(verifiers[0]) && verifiers[i] != v)
		i++;
	if (i == sizeof(verifiers) / sizeof(verifiers[0]) || !v->create) {
		snprintf(why, whylen, "%s verifier unavailable: no default state", v ? v->tee : "?");
		return NULL;
	}
	pthread_mutex_lock(&g_default.lock);
	if (!g_default.tried[i]) {
		g_default.tried[i] = true;
		if (as_verifier_config_from_json(NULL, &c, g_default.err[i],
						 sizeof(g_default.err[i])) == KBS_OK) {
			if (v->create(&c, &g_default.state[i], g_default.err[i],
				      sizeof(g_default.err[i])) != KBS_OK)
				g_default.state[i] = NULL;
			as_verifier_config_release(&c);
		}
	}
	st = g_default.state[i];
	if (!st)
		snprintf(why, whylen, "%s verifier unavailable: %s", v->tee, g_default.err[i]);
	pthread_mutex_unlock(&g_default.lock);
	return st;
}

void as_fit_report_data(const uint8_t *digest, size_t len, uint8_t *out, size_t field_len)
{
	size_t n = len < field_len ? len : field_len;

	memset(out, 0, field_len);
	memcpy(out, digest, n);
}

/* ---- configuration ---- */

void as_verifier_config_release(struct as_verifier_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->snp_vcek_dir);
	free(cfg->snp_kds_url);
	free(cfg->tdx_collateral_dir);
	free(cfg->tpm_trusted_ak_keys_dir);
	free(cfg->tpm_ak_ca_path);
	free(cfg->csv_cert_dir);
	free(cfg->csv_kds_url);
	free(cfg->csv_hrk_path);
	free(cfg->nvidia_root_path);
	memset(cfg, 0, sizeof(*cfg));
}

#define BAD(...)                                                                                   \
	do {                                                                                       \
		snprintf(why, whylen, __VA_ARGS__);                                                \
		return KBS_ERR_INVAL;                                                              \
	} while (0)

/* Optional string member; *out replaced. */
static int opt_str(const json_t *obj, const char *sect, const char *key, char **out, char *why,
		   size_t whylen)
{
	const json_t *v = json_object_get(obj, key);

	if (!v)
		return KBS_OK;
	if (!json_is_string(v) || !json_string_length(v))
		BAD("key 'verifier_config.%s.%s': expected non-empty string", sect, key);
	free(*out);
	*out = strdup(json_string_value(v));
	return *out ? KBS_OK : KBS_ERR_NOMEM;
}

static int opt_uint(const json_t *obj, const char *sect, const char *key, unsigned max,
		    unsigned *out, char *why, size_t whylen)
{
	const json_t *v = json_object_get(obj, key);

	if (!v)
		return KBS_OK;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
		BAD("key 'verifier_config.%s.%s': expected integer 0..%u", sect, key, max);
	*out = (unsigned)json_integer_value(v);
	return KBS_OK;
}

static const json_t *section(const json_t *vc, const char *name, int *rc, char *why,
			     size_t whylen)
{
	const json_t *s = vc ? json_object_get(vc, name) : NULL;

	*rc = KBS_OK;
	if (s && json_is_null(s))
		return NULL;
	if (s && !json_is_object(s)) {
		snprintf(why, whylen, "key 'verifier_config.%s': expected table", name);
		*rc = KBS_ERR_INVAL;
		return NULL;
	}
	return s;
}

/*
 * A sources array (Trustee's snp vcek_sources, our csv hsk_cek_sources): the first
 * OfflineStore path and the first KDS base_url; a listed type without its key gets the default.
 */
static int cert_sources(const json_t *src, const char *key, char **dir, const char *def_dir,
			char **url, const char *def_url, char *why, size_t whylen)
{
	size_t i;
	const json_t *e;
	bool have_store = false, have_kds = false;
	char sect[96];

	snprintf(sect, sizeof(sect), "%s[]", key);
	if (!json_is_array(src))
		BAD("key 'verifier_config.%s': expected array", key);
	json_array_foreach(src, i, e) {
		const char *t = json_string_value(json_object_get(e, "type"));
		int rc;

		if (!json_is_object(e) || !t)
			BAD("verifier_config.%s[%zu]: expected {\"type\":…}", key, i);
		if (strcmp(t, "OfflineStore") == 0 && !have_store) {
			have_store = true;
			free(*dir);
			if (!(*dir = strdup(def_dir)))
				return KBS_ERR_NOMEM;
			if ((rc = opt_str(e, sect, "path", dir, why, whylen)))
				return rc;
		} else if (strcmp(t, "KDS") == 0 && !have_kds) {
			have_kds = true;
			free(*url);
			if (!(*url = strdup(def_url)))
				return KBS_ERR_NOMEM;
			if ((rc = opt_str(e, sect, "base_url", url, why, whylen)))
				return rc;
		} else if (strcmp(t, "OfflineStore") != 0 && strcmp(t, "KDS") != 0) {
			BAD("verifier_config.%s[%zu]: unknown type '%s'", key, i, t);
		}
	}
	if (!have_store) {
		/* only KDS listed: no cache directory */
		free(*dir);
		*dir = NULL;
	}
	return KBS_OK;
}

static int env_str(const char *name, char **out)
{
	const char *e = getenv(name);

	if (!e || !*e)
		return KBS_OK;
	free(*out);
	*out = strdup(e);
	return *out ? KBS_OK : KBS_ERR_NOMEM;
}

int as_verifier_config_from_json(const json_t *vc, struct as_verifier_config *cfg, char *why,
				 size_t whylen)
{
	const json_t *snp, *dcap, *tpm, *csv, *nv, *v;
	const char *e;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if (vc && json_is_null(vc))
		vc = NULL;
	if (vc && !json_is_object(vc)) {
		snprintf(why, whylen, "key 'verifier_config': expected table");
		return KBS_ERR_INVAL;
	}
	/* defaults, then the documented environment fallbacks, then the configuration */
	rc = KBS_ERR_NOMEM;
	if (!(cfg->snp_vcek_dir = strdup(DEFAULT_VCEK_DIR)))
		goto out;
	if ((rc = env_str("KBSFS_SNP_VCEK_DIR", &cfg->snp_vcek_dir)) ||
	    (rc = env_str("KBSFS_SNP_KDS_URL", &cfg->snp_kds_url)) ||
	    (rc = env_str("KBSFS_TDX_COLLATERAL_DIR", &cfg->tdx_collateral_dir)))
		goto out;
	rc = KBS_ERR_NOMEM;
	if (!(cfg->csv_cert_dir = strdup(DEFAULT_CSV_CERT_DIR)))
		goto out;
	if ((rc = env_str("KBSFS_CSV_CERT_DIR", &cfg->csv_cert_dir)) ||
	    (rc = env_str("KBSFS_CSV_KDS_URL", &cfg->csv_kds_url)) ||
	    (rc = env_str("KBSFS_CSV_HRK_PATH", &cfg->csv_hrk_path)))
		goto out;
	e = getenv("KBSFS_SNP_MAX_VMPL");
	if (e && *e) {
		char *end;
		unsigned long m = strtoul(e, &end, 10);

		if (*end || m > 3) {
			snprintf(why, whylen, "KBSFS_SNP_MAX_VMPL must be 0..3, got '%s'", e);
			rc = KBS_ERR_INVAL;
			goto out;
		}
		cfg->snp_max_vmpl = (unsigned)m;
	}
	snp = section(vc, "snp_verifier", &rc, why, whylen);
	if (rc)
		goto out;
	if (snp && (v = json_object_get(snp, "vcek_sources")) &&
	    (rc = cert_sources(v, "snp_verifier.vcek_sources", &cfg->snp_vcek_dir,
			       DEFAULT_VCEK_DIR, &cfg->snp_kds_url, DEFAULT_KDS_URL, why, whylen)))
		goto out;
	if (snp && (rc = opt_uint(snp, "snp_verifier", "max_vmpl", 3, &cfg->snp_max_vmpl, why,
				  whylen)))
		goto out;
	dcap = section(vc, "dcap_verifier", &rc, why, whylen);
	if (rc)
		goto out;
	if (dcap && (rc = opt_str(dcap, "dcap_verifier", "collateral_dir",
				  &cfg->tdx_collateral_dir, why, whylen)))
		goto out;
	tpm = section(vc, "tpm_verifier", &rc, why, whylen);
	if (rc)
		goto out;
	if (tpm) {
		if ((rc = opt_str(tpm, "tpm_verifier", "trusted_ak_keys_dir",
				  &cfg->tpm_trusted_ak_keys_dir, why, whylen)) ||
		    (rc = opt_uint(tpm, "tpm_verifier", "max_trusted_ak_keys", 100000,
				   &cfg->tpm_max_trusted_ak_keys, why, whylen)) ||
		    (rc = opt_str(tpm, "tpm_verifier", "ak_ca_certs", &cfg->tpm_ak_ca_path, why,
				  whylen)))
			goto out;
		if ((v = json_object_get(tpm, "allow_unverified_ak"))) {
			if (!json_is_boolean(v)) {
				snprintf(why, whylen,
					 "key 'verifier_config.tpm_verifier.allow_unverified_ak': "
					 "expected boolean");
				rc = KBS_ERR_INVAL;
				goto out;
			}
			cfg->tpm_allow_unverified_ak = json_is_true(v);
		}
	}
	csv = section(vc, "csv_verifier", &rc, why, whylen);
	if (rc)
		goto out;
	if (csv && (v = json_object_get(csv, "hsk_cek_sources")) &&
	    (rc = cert_sources(v, "csv_verifier.hsk_cek_sources", &cfg->csv_cert_dir,
			       DEFAULT_CSV_CERT_DIR, &cfg->csv_kds_url, DEFAULT_CSV_KDS_URL, why,
			       whylen)))
		goto out;
	if (csv && (rc = opt_str(csv, "csv_verifier", "hrk_path", &cfg->csv_hrk_path, why,
				 whylen)))
		goto out;
	nv = section(vc, "nvidia_verifier", &rc, why, whylen);
	if (rc)
		goto out;
	if (nv) {
		/* Trustee: {"type":"Local"|"local"} (default) or {"type":"Remote", "verifier_url"} */
		const char *t = json_string_value(json_object_get(nv, "type"));
		if (json_object_get(nv, "type") &&
		    (!t || (strcmp(t, "Local") && strcmp(t, "local") && strcmp(t, "Remote") &&
			    strcmp(t, "remote")))) {
			snprintf(why, whylen, "key 'verifier_config.nvidia_verifier.type': expected "
					      "\"Local\" or \"Remote\"");
			rc = KBS_ERR_INVAL;
			goto out;
		}
		cfg->nvidia_remote = t && (t[0] == 'R' || t[0] == 'r');
		if ((rc = opt_str(nv, "nvidia_verifier", "root_cert_path", &cfg->nvidia_root_path,
				  why, whylen)))
			goto out;
	}
	rc = KBS_OK;
out:
	if (rc) {
		if (rc == KBS_ERR_NOMEM)
			snprintf(why, whylen, "out of memory");
		as_verifier_config_release(cfg);
	}
	return rc;
}
