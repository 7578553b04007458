// SPDX-License-Identifier: Apache-2.0
/*
 * configfs-tsm attester for SEV-SNP and TDX. See tsm.h.
 *
 * The SNP evidence carries the report as the sev crate's serde form (not raw bytes); the
 * field split is shared with the server's verifier (common/snp_report.c), so producer and
 * consumer agree on the generation-dependent TCB layout by construction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "attester/aael.h"
#include "attester/attester_impl.h"
#include "attester/sev_guest.h"
#include "attester/tsm.h"
#include "attester/util.h"
#include "common/b64.h"
#include "common/err.h"
#include "common/log.h"
#include "common/snp_report.h"

#define TSM_BLOB_MAX (1u << 20)

void tsm_cfg_from_env(struct tsm_cfg *cfg)
{
	const char *s;

	memset(cfg, 0, sizeof(*cfg));
	s = getenv("AA_TSM_REPORT_ROOT");
	cfg->root = s && *s ? s : TSM_REPORT_ROOT_DEFAULT;
	cfg->ccel_path = getenv("AA_CCEL_PATH");
	cfg->aael_path = getenv("AAEL_PATH");
}

static const char *root_of(const struct tsm_cfg *cfg)
{
	return cfg && cfg->root && *cfg->root ? cfg->root : TSM_REPORT_ROOT_DEFAULT;
}

static int do_mkdir(const struct tsm_cfg *cfg, const char *path)
{
	if (cfg && cfg->mkdir_fn)
		return cfg->mkdir_fn(path, cfg->hook_arg);
	return mkdir(path, 0700);
}

static void do_rmdir(const struct tsm_cfg *cfg, const char *path)
{
	int r = cfg && cfg->rmdir_fn ? cfg->rmdir_fn(path, cfg->hook_arg) : rmdir(path);

	if (r != 0)
		log_msg(LOG_LVL_WARN, "tsm: cannot remove %s", path);
}

/* Creates a fresh, uniquely named entry; path receives its name. */
static int new_entry(const struct tsm_cfg *cfg, char *path, size_t pathlen)
{
	const char *root = root_of(cfg);
	uint8_t rnd[8];
	char hex[17];
	struct stat st;

	if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode))
		return KBS_ERR_NOTFOUND;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return KBS_ERR_CRYPTO;
	hex_encode(rnd, sizeof(rnd), hex, sizeof(hex));
	if ((size_t)snprintf(path, pathlen, "%s/kbsfs-%s", root, hex) >= pathlen)
		return KBS_ERR_RANGE;
	if (do_mkdir(cfg, path) != 0) {
		log_msg(LOG_LVL_ERROR, "tsm: cannot create a report entry under %s", root);
		return KBS_ERR_IO;
	}
	return KBS_OK;
}

static int read_attr(const char *dir, const char *name, size_t max, uint8_t **p, size_t *n)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return KBS_ERR_RANGE;
	return attester_read_file(path, max, p, n);
}

static int entry_provider(const char *dir, char *out, size_t outlen)
{
	uint8_t *p = NULL;
	size_t n = 0;
	int rc = read_attr(dir, "provider", 256, &p, &n);

	if (rc)
		return rc;
	if (n && p[n - 1] == '\n')
		n--;
	if (n + 1 > outlen) {
		free(p);
		return KBS_ERR_RANGE;
	}
	memcpy(out, p, n);
	out[n] = 0;
	free(p);
	return KBS_OK;
}

int tsm_provider(const struct tsm_cfg *cfg, char *out, size_t outlen)
{
	char dir[4096];
	int rc = new_entry(cfg, dir, sizeof(dir));

	if (rc)
		return rc;
	rc = entry_provider(dir, out, outlen);
	do_rmdir(cfg, dir);
	return rc;
}

int tsm_report(const struct tsm_cfg *cfg, const char *provider, const uint8_t *report_data,
	       size_t len, struct buf *out, struct buf *aux)
{
	uint8_t inblob[TSM_REPORT_DATA_LEN];
	uint8_t *p = NULL;
	size_t n = 0;
	char dir[4096], path[4160], prov[64], *end = NULL;
	unsigned long gen;
	bool created = false;
	int rc;

	if (!provider || !out || (!report_data && len))
		return KBS_ERR_INVAL;
	if (len > TSM_REPORT_DATA_LEN)
		return KBS_ERR_RANGE;
	attester_fit(report_data, len, inblob, sizeof(inblob));
	rc = new_entry(cfg, dir, sizeof(dir));
	if (rc)
		return rc;
	created = true;
	rc = entry_provider(dir, prov, sizeof(prov));
	if (rc)
		goto out;
	if (strcmp(prov, provider) != 0) {
		log_msg(LOG_LVL_ERROR, "tsm: provider is '%s', expected '%s'", prov, provider);
		rc = KBS_ERR_UNSUPPORTED;
		goto out;
	}
	(void)snprintf(path, sizeof(path), "%s/inblob", dir);
	rc = attester_write_file(path, inblob, sizeof(inblob));
	if (rc)
		goto out;
	rc = read_attr(dir, "outblob", TSM_BLOB_MAX, &p, &n);
	if (rc)
		goto out;
	if (n == 0) {
		rc = KBS_ERR_PROTOCOL;
		goto out;
	}
	rc = buf_append(out, p, n);
	free(p);
	p = NULL;
	if (rc)
		goto out;
	if (aux) {
		rc = read_attr(dir, "auxblob", TSM_BLOB_MAX, &p, &n);
		if (rc == KBS_ERR_NOTFOUND) {
			rc = KBS_OK;
		} else if (rc == KBS_OK) {
			rc = buf_append(aux, p, n);
			free(p);
			p = NULL;
		}
		if (rc)
			goto out;
	}
	rc = read_attr(dir, "generation", 64, &p, &n);
	if (rc)
		goto out;
	errno = 0;
	gen = strtoul((const char *)p, &end, 10);
	if (errno || end == (char *)p || (*end && strcmp(end, "\n") != 0)) {
		rc = KBS_ERR_PROTOCOL;
		goto out;
	}
	/* each write to the entry bumps generation: >1 means someone else wrote to it too */
	if (gen != 1) {
		log_msg(LOG_LVL_ERROR, "tsm: report entry generation %lu (concurrent writer)", gen);
		rc = KBS_ERR_BUSY;
		goto out;
	}
	rc = KBS_OK;
out:
	free(p);
	if (created)
		do_rmdir(cfg, dir);
	return rc;
}

/* --- SNP --- */

struct cert_guid {
	const char *uuid;
	const char *type;
	int order; /* the sev crate's CertType order (the table is sorted by it) */
};

static const struct cert_guid cert_guids[] = {
	{"c0b406a4-a803-4952-9743-3fb6014cd0ae", "ARK", 1},
	{"4ab7b379-bbac-4fe4-a02f-05aef327c782", "ASK", 2},
	{"63da758d-e664-4564-adc5-f4b93be8accd", "VCEK", 3},
	{"a8074bc2-a25a-483e-aae6-39c045a0b8a1", "VLEK", 4},
	{"92f81bc3-5811-4d3d-97ff-d19f88dc67ea", "CRL", 5},
};

static void uuid_text(const uint8_t g[16], char out[37])
{
	static const char hx[] = "0123456789abcdef";
	size_t o = 0;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hx[g[i] >> 4];
		out[o++] = hx[g[i] & 15];
	}
	out[o] = 0;
}

struct cert_ent {
	int order;
	json_t *obj;
};

static int cmp_cert(const void *a, const void *b)
{
	const struct cert_ent *x = a, *y = b;

	return x->order - y->order;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int tsm_snp_cert_chain(const uint8_t *table, size_t len, json_t **out)
{
	struct cert_ent ents[64];
	size_t count = 0;
	json_t *arr = NULL;
	int rc = KBS_ERR_PARSE;

	if (!out || (!table && len))
		return KBS_ERR_INVAL;
	*out = NULL;
	for (size_t off = 0;; off += 24) {
		static const uint8_t zero[24];
		const uint8_t *e;
		uint32_t o, l;
		char uuid[37];
		const char *type = NULL;
		int order = 6;
		json_t *obj, *data;

		if (off > len || len - off < 24) {
			/* an empty blob means no table at all */
			if (off == 0 && len == 0)
				break;
			goto out;
		}
		e = table + off;
		if (memcmp(e, zero, 24) == 0)
			break;
		if (count == sizeof(ents) / sizeof(ents[0]))
			goto out;
		o = le32(e + 16);
		l = le32(e + 20);
		if (o > len || l > len - o)
			goto out;
		uuid_text(e, uuid);
		for (size_t i = 0; i < sizeof(cert_guids) / sizeof(cert_guids[0]); i++) {
			if (strcmp(uuid, cert_guids[i].uuid) == 0) {
				type = cert_guids[i].type;
				order = cert_guids[i].order;
			}
		}
		rc = KBS_ERR_NOMEM;
		obj = json_object();
		data = json_array();
		ents[count].order = order;
		ents[count].obj = obj;
		if (obj)
			count++;
		if (!obj || !data) {
			json_decref(data);
			goto out;
		}
		if (json_object_set_new(obj, "cert_type",
					type ? json_string(type) : json_pack("{s:s}", "OTHER", uuid)))
			goto out;
		for (uint32_t i = 0; i < l; i++)
			if (json_array_append_new(data, json_integer(table[o + i]))) {
				json_decref(data);
				goto out;
			}
		if (json_object_set_new(obj, "data", data))
			goto out;
		rc = KBS_ERR_PARSE;
	}
	if (count == 0) {
		*out = json_null();
		rc = KBS_OK;
		goto out;
	}
	qsort(ents, count, sizeof(ents[0]), cmp_cert);
	rc = KBS_ERR_NOMEM;
	arr = json_array();
	if (!arr)
		goto out;
	for (size_t i = 0; i < count; i++)
		if (json_array_append(arr, ents[i].obj))
			goto out;
	*out = arr;
	arr = NULL;
	rc = KBS_OK;
out:
	for (size_t i = 0; i < count; i++)
		json_decref(ents[i].obj);
	json_decref(arr);
	return rc;
}

int tsm_snp_evidence(const struct tsm_cfg *cfg, const uint8_t *report_data, size_t len,
		     json_t **evidence)
{
	struct buf out = BUF_INIT, aux = BUF_INIT;
	struct snp_report r;
	json_t *ev = NULL, *rep = NULL, *chain = NULL;
	char why[128];
	int rc;

	if (!evidence)
		return KBS_ERR_INVAL;
	*evidence = NULL;
	rc = tsm_report(cfg, "sev_guest", report_data, len, &out, &aux);
	if (rc == KBS_ERR_NOTFOUND && cfg &&
	    (cfg->sev_ioctl_fn ||
	     access(cfg->sev_device ? cfg->sev_device : SEV_GUEST_DEVICE, F_OK) == 0)) {
		struct sev_guest_cfg sc = {cfg->sev_device, cfg->sev_ioctl_fn, cfg->hook_arg};

		buf_reset(&out);
		buf_reset(&aux);
		rc = sev_guest_ext_report(&sc, report_data, len, &out, &aux);
	}
	if (rc)
		goto out;
	rc = snp_report_decode(out.p, out.len, &r, why, sizeof(why));
	if (rc) {
		log_msg(LOG_LVL_ERROR, "tsm: SNP report from outblob: %s", why);
		goto out;
	}
	rc = tsm_snp_cert_chain(aux.p, aux.len, &chain);
	if (rc)
		goto out;
	rc = KBS_ERR_NOMEM;
	rep = snp_report_to_json(&r);
	ev = json_object();
	if (!rep || !ev || json_object_set(ev, "attestation_report", rep) ||
	    json_object_set(ev, "cert_chain", chain))
		goto out;
	*evidence = ev;
	ev = NULL;
	rc = KBS_OK;
out:
	json_decref(ev);
	json_decref(rep);
	json_decref(chain);
	buf_release(&out);
	buf_release(&aux);
	return rc;
}

/* --- TDX --- */

int tsm_tdx_evidence(const struct tsm_cfg *cfg, const uint8_t *report_data, size_t len,
		     json_t **evidence)
{
	struct buf out = BUF_INIT;
	char *quote = NULL, *ccel = NULL;
	json_t *ev = NULL;
	int rc;

	if (!evidence)
		return KBS_ERR_INVAL;
	*evidence = NULL;
	rc = tsm_report(cfg, "tdx_guest", report_data, len, &out, NULL);
	if (rc == KBS_ERR_NOTFOUND) {
		/* /dev/tdx_guest alone gives a TDREPORT, not a quote (tdx_guest.h) */
		log_msg(LOG_LVL_ERROR, "tsm: a TDX quote needs configfs-tsm (%s, Linux >= 6.7); "
				       "there is no quote path through /dev/tdx_guest",
			root_of(cfg));
		rc = KBS_ERR_UNSUPPORTED;
	}
	if (rc)
		goto out;
	rc = aael_cc_eventlog(cfg ? cfg->ccel_path : NULL, cfg ? cfg->aael_path : NULL, &ccel);
	if (rc)
		goto out;
	rc = b64_encode_alloc(out.p, out.len, B64_STD, &quote);
	if (rc)
		goto out;
	rc = KBS_ERR_NOMEM;
	ev = json_object();
	if (!ev || json_object_set_new(ev, "cc_eventlog", ccel ? json_string(ccel) : json_null()) ||
	    json_object_set_new(ev, "quote", json_string(quote)))
		goto out;
	*evidence = ev;
	ev = NULL;
	rc = KBS_OK;
out:
	json_decref(ev);
	free(quote);
	free(ccel);
	buf_release(&out);
	return rc;
}

/* --- struct attester_ops glue --- */

static bool provider_is(const char *want)
{
	struct tsm_cfg cfg;
	char prov[64];

	tsm_cfg_from_env(&cfg);
	return tsm_provider(&cfg, prov, sizeof(prov)) == KBS_OK && strcmp(prov, want) == 0;
}

static bool tdx_detect(void)
{
	return access("/dev/tdx_guest", F_OK) == 0 || provider_is("tdx_guest");
}

static bool snp_detect(void)
{
	return access("/sys/devices/platform/sev-guest", F_OK) == 0 || provider_is("sev_guest");
}

static int tdx_get(const uint8_t *rd, size_t len, json_t **ev)
{
	struct tsm_cfg cfg;

	tsm_cfg_from_env(&cfg);
	return tsm_tdx_evidence(&cfg, rd, len, ev);
}

static int snp_get(const uint8_t *rd, size_t len, json_t **ev)
{
	struct tsm_cfg cfg;

	tsm_cfg_from_env(&cfg);
	return tsm_snp_evidence(&cfg, rd, len, ev);
}

const struct attester_ops attester_tdx_ops = {
	.tee = ATTESTER_TEE_TDX,
	.name = "tdx",
	.hardware = true,
	.report_data_max = TSM_REPORT_DATA_LEN,
	.detect = tdx_detect,
	.get_evidence = tdx_get,
};

const struct attester_ops attester_snp_ops = {
	.tee = ATTESTER_TEE_SNP,
	.name = "snp",
	.hardware = true,
	.report_data_max = TSM_REPORT_DATA_LEN,
	.detect = snp_detect,
	.get_evidence = snp_get,
};
