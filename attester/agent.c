// SPDX-License-Identifier: Apache-2.0
/*
 * attestation-agent library: config, TEE/init-data/AAEL set-up and the REST dispatcher with
 * upstream's exact statuses and bodies (reference guest-components.md §2.2/§2.3).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "attester/aael.h"
#include "attester/agent.h"
#include "attester/attester.h"
#include "attester/initdata.h"
#include "attester/tdx_guest.h"
#include "attester/tpm.h"
#include "attester/tsm.h"
#include "attester/util.h"
#include "broker/broker.h"
#include "broker/sealed.h"
#include "common/b64.h"
#include "common/err.h"
#include "common/http_client.h"
#include "common/http_util.h"
#include "common/json.h"
#include "common/log.h"
#include "common/secmem.h"
#include "common/toml.h"
#include "common/snp_report.h"

#define AA_RUNTIME_DATA_MAX 4096
#define AA_TDX_MEASUREMENTS "/sys/devices/virtual/misc/tdx_guest/measurements"
#define AA_BODY_MAX (64u << 10)

struct aa {
	enum attester_tee tee;
	int features;
	const char *version;
	struct aa_config cfg;
	struct initdata *initdata;
	struct aael *aael;
	bool eventlog_supported;
	char rtmr_path[512]; /* TDX register file for the AAEL */
	unsigned init_pcr;
	struct broker *broker; /* resource fetches (token and TEE key reused until expiry) */
	const char *sealed_key_dir; /* NULL = SEALED_KEY_DIR */
};

/* ---------------------------------------------------------------- features / cmdline */

int aa_feature_parse(const char *s, int *out)
{
	if (!s || !out)
		return KBS_ERR_INVAL;
	if (strcmp(s, "resource") == 0)
		*out = AA_FEATURE_RESOURCE;
	else if (strcmp(s, "attestation") == 0)
		*out = AA_FEATURE_ATTESTATION;
	else if (strcmp(s, "all") == 0)
		*out = AA_FEATURE_ALL;
	else
		return KBS_ERR_INVAL;
	return KBS_OK;
}

const char *aa_feature_name(int f)
{
	switch (f) {
	case AA_FEATURE_RESOURCE:
		return "resource";
	case AA_FEATURE_ATTESTATION:
		return "attestation";
	default:
		return "all";
	}
}

int aa_cmdline_feature(const char *path, int *out)
{
	static const char knob[] = "agent.guest_components_rest_api=";
	uint8_t *p = NULL;
	size_t n = 0;
	char *tok, *save = NULL, val[32] = "";
	bool found = false;
	int rc;

	rc = attester_read_file(path ? path : "/proc/cmdline", 1 << 16, &p, &n);
	if (rc)
		return rc == KBS_ERR_NOTFOUND ? KBS_ERR_IO : rc;
	for (tok = strtok_r((char *)p, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
		if (strncmp(tok, knob, sizeof(knob) - 1) == 0) {
			(void)snprintf(val, sizeof(val), "%s", tok + sizeof(knob) - 1);
			found = true;
		}
	}
	free(p);
	if (!found)
		return KBS_ERR_NOTFOUND;
	return aa_feature_parse(val, out);
}

/* ---------------------------------------------------------------- config */

void aa_config_init(struct aa_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->init_pcr = 17;
}

void aa_config_release(struct aa_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->kbs_url);
	free(cfg->kbs_cert);
	free(cfg->tee_key_algorithm);
	free(cfg->coco_as_url);
	free(cfg->log_level);
	aa_config_init(cfg);
}

static int cfg_str(json_t *root, const char *path, char **dst, char *why, size_t whylen)
{
	const char *s = NULL;
	struct json_err e;
	int rc;

	if (!json_has(root, path))
		return KBS_OK;
	rc = json_get_string(root, path, &s, &e);
	if (rc) {
		(void)snprintf(why, whylen, "'%s' must be a string", path);
		return KBS_ERR_INVAL;
	}
	free(*dst);
	*dst = strdup(s);
	return *dst ? KBS_OK : KBS_ERR_NOMEM;
}

int aa_config_load(const char *path, struct aa_config *cfg, char *why, size_t whylen)
{
	struct toml_doc *doc = NULL;
	struct toml_err te;
	json_t *root = NULL, *owned = NULL;
	const char *ext = strrchr(path, '.');
	struct json_err je;
	int64_t pcr = 17;
	bool en = false;
	int rc;

	if (ext && strcmp(ext, ".json") == 0) {
		uint8_t *p = NULL;
		size_t n = 0;

		rc = attester_read_file(path, 1 << 20, &p, &n);
		if (rc) {
			(void)snprintf(why, whylen, "cannot read %s", path);
			return rc;
		}
		rc = json_parse((const char *)p, n, 1 << 20, &owned, &je);
		free(p);
		if (rc) {
			(void)snprintf(why, whylen, "%s: invalid JSON", path);
			return KBS_ERR_PARSE;
		}
		root = owned;
	} else {
		rc = toml_parse_file(path, &doc, &te);
		if (rc) {
			(void)snprintf(why, whylen, "%s:%d: %s", path, te.line, te.msg);
			return rc;
		}
		root = toml_doc_root(doc);
	}
	if (!json_is_object(root)) {
		(void)snprintf(why, whylen, "%s: not a table", path);
		rc = KBS_ERR_PARSE;
		goto out;
	}
	if ((rc = cfg_str(root, "token_configs.kbs.url", &cfg->kbs_url, why, whylen)) ||
	    (rc = cfg_str(root, "token_configs.kbs.cert", &cfg->kbs_cert, why, whylen)) ||
	    (rc = cfg_str(root, "token_configs.kbs.tee_key_algorithm", &cfg->tee_key_algorithm,
			  why, whylen)) ||
	    (rc = cfg_str(root, "token_configs.coco_as.url", &cfg->coco_as_url, why, whylen)) ||
	    (rc = cfg_str(root, "log.level", &cfg->log_level, why, whylen)))
		goto out;
	if (json_opt_bool(root, "eventlog_config.enable_eventlog", false, &en, &je)) {
		(void)snprintf(why, whylen, "'eventlog_config.enable_eventlog' must be a boolean");
		rc = KBS_ERR_INVAL;
		goto out;
	}
	if (json_opt_int(root, "eventlog_config.init_pcr", 0, 23, 17, &pcr, &je)) {
		(void)snprintf(why, whylen, "'eventlog_config.init_pcr' must be an integer 0..23");
		rc = KBS_ERR_INVAL;
		goto out;
	}
	cfg->enable_eventlog = en;
	cfg->init_pcr = (unsigned)pcr;
	if (cfg->kbs_url) {
		size_t n = strlen(cfg->kbs_url);

		while (n && cfg->kbs_url[n - 1] == '/')
			cfg->kbs_url[--n] = 0;
	}
	if (cfg->tee_key_algorithm && strcmp(cfg->tee_key_algorithm, "ECDH-ES+A256KW-P256") &&
	    strcmp(cfg->tee_key_algorithm, "ECDH-ES+A256KW-P521") &&
	    strcmp(cfg->tee_key_algorithm, "RSA-OAEP-256")) {
		(void)snprintf(why, whylen, "unknown tee_key_algorithm '%s'",
			       cfg->tee_key_algorithm);
		rc = KBS_ERR_INVAL;
		goto out;
	}
	rc = KBS_OK;
out:
	json_decref(owned);
	toml_doc_free(doc);
	return rc;
}

/* ---------------------------------------------------------------- registers */

static int tdx_rtmr_read(void *arg, uint8_t *out, size_t len)
{
	struct aa *a = arg;
	uint8_t *p = NULL;
	size_t n = 0;
	int rc = attester_read_file(a->rtmr_path, 4096, &p, &n);

	if (rc)
		return rc;
	rc = n == len ? KBS_OK : KBS_ERR_PROTOCOL;
	if (!rc)
		memcpy(out, p, len);
	free(p);
	return rc;
}

static int tdx_rtmr_extend(void *arg, const uint8_t *d, size_t len)
{
	struct aa *a = arg;

	/* the kernel extends RTMR[N] := SHA384(RTMR[N] ‖ data) for a 48-byte write */
	return attester_write_file(a->rtmr_path, d, len);
}

static int tpm_open_pcr(struct tpm_ctx **c)
{
	struct tpm_attester_cfg cfg;

	tpm_attester_cfg_from_env(&cfg);
	cfg.ak_handle = 0; /* PCR access needs no AK */
	return tpm_open(&cfg, c);
}

static int tpm_reg_read(void *arg, uint8_t *out, size_t len)
{
	struct aa *a = arg;
	struct tpm_ctx *c = NULL;
	int rc = len == 32 ? tpm_open_pcr(&c) : KBS_ERR_INVAL;

	if (!rc)
		rc = tpm_pcr_read(c, a->init_pcr, out);
	tpm_close(c);
	return rc;
}

static int tpm_reg_extend(void *arg, const uint8_t *d, size_t len)
{
	struct aa *a = arg;
	struct tpm_ctx *c = NULL;
	int rc = len == 32 ? tpm_open_pcr(&c) : KBS_ERR_INVAL;

	if (!rc)
		rc = tpm_pcr_extend(c, a->init_pcr, d);
	tpm_close(c);
	return rc;
}

/* ---------------------------------------------------------------- init-data binding */

/* The TEE field against the digest fitted (zero-padded / truncated) to the field's size. */
static int field_matches(const uint8_t *dg, size_t dlen, const uint8_t *field, size_t flen)
{
	uint8_t want[64];

	if (flen > sizeof(want))
		return KBS_ERR_INVAL;
	attester_fit(dg, dlen, want, flen);
	return memcmp(want, field, flen) == 0 ? KBS_OK : KBS_ERR_VERIFY;
}

/* dg = the init-data digest (of --initdata-toml, or --initdata-digest as given). */
static int bind_initdata(struct aa *a, const uint8_t *dg, size_t dlen, const char *tdx_dir,
			 const struct tdx_guest_cfg *tdx_guest, char *why, size_t whylen)
{
	int rc;

	switch (a->tee) {
	case ATTESTER_TEE_TDX: {
		char path[600];
		uint8_t *p = NULL;
		size_t n = 0;

		(void)snprintf(path, sizeof(path), "%s/mrconfigid", tdx_dir);
		rc = attester_read_file(path, 4096, &p, &n);
		if (rc == KBS_ERR_NOTFOUND) {
			/* kernels before 6.16 have no measurements directory: MRCONFIGID from a
			 * TDREPORT (TDX_CMD_GET_REPORT0), as upstream falls back to */
			struct tdx_guest_cfg env_cfg;
			const struct tdx_guest_cfg *gc = tdx_guest;
			struct tdx_tdreport r;
			uint8_t td[TDX_TDREPORT_LEN];

			if (!gc) {
				tdx_guest_cfg_from_env(&env_cfg);
				gc = &env_cfg;
			}
			rc = tdx_guest_report(gc, NULL, 0, td);
			if (!rc)
				rc = tdx_tdreport_parse(td, sizeof(td), &r);
			if (rc) {
				(void)snprintf(why, whylen, "cannot read MRCONFIGID from %s or a "
							    "TDREPORT of %s",
					       path, gc->device ? gc->device : TDX_GUEST_DEVICE);
				return rc;
			}
			rc = field_matches(dg, dlen, r.mrconfigid, TDX_MR_LEN);
			if (rc)
				(void)snprintf(why, whylen,
					       "init-data digest does not match MRCONFIGID (TDREPORT)");
			return rc;
		}
		if (rc || n != 48) {
			free(p);
			(void)snprintf(why, whylen, "cannot read MRCONFIGID from %s", path);
			return rc ? rc : KBS_ERR_PROTOCOL;
		}
		rc = field_matches(dg, dlen, p, 48);
		free(p);
		if (rc)
			(void)snprintf(why, whylen, "init-data digest does not match MRCONFIGID");
		return rc;
	}
	case ATTESTER_TEE_SNP: {
		struct tsm_cfg cfg;
		struct snp_report r;
		json_t *ev = NULL;
		char w[128];

		/* HOSTDATA of a fresh report (configfs-tsm or the legacy ioctl) */
		tsm_cfg_from_env(&cfg);
		rc = tsm_snp_evidence(&cfg, NULL, 0, &ev);
		if (!rc)
			rc = snp_report_from_json(json_object_get(ev, "attestation_report"), &r, w,
						  sizeof(w));
		json_decref(ev);
		if (rc) {
			(void)snprintf(why, whylen, "cannot get an SNP report for HOSTDATA");
			return rc;
		}
		rc = field_matches(dg, dlen, r.host_data, 32);
		if (rc)
			(void)snprintf(why, whylen, "init-data digest does not match HOSTDATA");
		return rc;
	}
	case ATTESTER_TEE_TPM:
	case ATTESTER_TEE_AZ_SNP_VTPM:
	case ATTESTER_TEE_AZ_TDX_VTPM: {
		struct tpm_ctx *c = NULL;
		unsigned save = a->init_pcr;

		/* PCR 8 is extended on every start (upstream behaviour, §11 #12; the Azure vTPM
		 * attesters do the same) */
		if (dlen != 32) {
			(void)snprintf(why, whylen, "TPM init-data binding needs algorithm sha256");
			return KBS_ERR_UNSUPPORTED;
		}
		rc = tpm_open_pcr(&c);
		if (!rc) {
			a->init_pcr = 8;
			rc = tpm_pcr_extend(c, 8, dg);
			a->init_pcr = save;
		}
		tpm_close(c);
		if (rc)
			(void)snprintf(why, whylen, "cannot extend PCR 8 with the init-data digest");
		return rc;
	}
	default:
		log_msg(LOG_LVL_INFO, "aa: TEE %s cannot bind init-data locally; the verifier "
				      "checks it",
			attester_tee_name(a->tee));
		return KBS_OK;
	}
}

/* ---------------------------------------------------------------- lifecycle */

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int aa_new(const struct aa_config *cfg, const struct aa_options *opt, struct aa **out,
	   char *why, size_t whylen)
{
	struct aa *a = NULL;
	const char *tdx_dir;
	int rc;

	if (!cfg || !opt || !out)
		return KBS_ERR_INVAL;
	*out = NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return KBS_ERR_NOMEM;
	a->features = opt->features ? opt->features : AA_FEATURE_RESOURCE;
	a->version = opt->version ? opt->version : "kbsfs";
	a->sealed_key_dir = opt->sealed_key_dir;
	a->init_pcr = cfg->init_pcr;
	a->cfg.enable_eventlog = cfg->enable_eventlog;
	a->cfg.init_pcr = cfg->init_pcr;
	a->cfg.kbs_url = dup_or_null(cfg->kbs_url);
	a->cfg.kbs_cert = dup_or_null(cfg->kbs_cert);
	a->cfg.tee_key_algorithm = dup_or_null(cfg->tee_key_algorithm);
	a->cfg.coco_as_url = dup_or_null(cfg->coco_as_url);
	tdx_dir = opt->tdx_measurements ? opt->tdx_measurements : AA_TDX_MEASUREMENTS;
	rc = attester_select(opt->tee, opt->tee && strcmp(opt->tee, "sample") == 0, &a->tee);
	if (rc) {
		(void)snprintf(why, whylen, "no usable TEE (%s%s)", opt->tee ? "--tee " : "detection",
			       opt->tee ? opt->tee : "");
		goto out;
	}
	if (opt->initdata_toml) {
		const uint8_t *dg;
		size_t dlen = 0;

		rc = initdata_load_file(opt->initdata_toml, &a->initdata, why, whylen);
		if (rc)
			goto out;
		dg = initdata_digest(a->initdata, &dlen);
		rc = bind_initdata(a, dg, dlen, tdx_dir, opt->tdx_guest, why, whylen);
		if (rc)
			goto out;
	} else if (opt->initdata_digest) {
		/* upstream's --initdata-digest: standard base64; no TOML travels to the KBS */
		uint8_t dg[64];
		size_t dlen = 0;
		const char *s = opt->initdata_digest;

		rc = b64_decode(s, strlen(s), dg, sizeof(dg), &dlen, B64_STD);
		if (rc || dlen == 0) {
			(void)snprintf(why, whylen, "--initdata-digest: not standard base64 of 1 to 64 "
						    "bytes");
			rc = KBS_ERR_INVAL;
			goto out;
		}
		rc = bind_initdata(a, dg, dlen, tdx_dir, opt->tdx_guest, why, whylen);
		if (rc)
			goto out;
	}
	if (cfg->enable_eventlog) {
		struct aael_register reg = {NULL, NULL, a};
		const char *path = opt->eventlog_path ? opt->eventlog_path : AAEL_LOG_PATH_DEFAULT;
		uint16_t alg = 0;
		uint32_t record = cfg->init_pcr;

		if (a->tee == ATTESTER_TEE_TDX) {
			unsigned ccmr = aael_tdx_ccmr(cfg->init_pcr);

			(void)snprintf(a->rtmr_path, sizeof(a->rtmr_path), "%s/rtmr%u:sha384", tdx_dir,
				       ccmr - 1);
			if (access(a->rtmr_path, F_OK) == 0) {
				reg.read = tdx_rtmr_read;
				reg.extend = tdx_rtmr_extend;
				alg = AAEL_ALG_SHA384;
				record = ccmr;
			}
		} else if (a->tee == ATTESTER_TEE_TPM || a->tee == ATTESTER_TEE_AZ_SNP_VTPM ||
			   a->tee == ATTESTER_TEE_AZ_TDX_VTPM) {
			/* upstream's Azure attesters extend the vTPM PCR as the tpm one does */
			reg.read = tpm_reg_read;
			reg.extend = tpm_reg_extend;
			alg = AAEL_ALG_SHA256;
		}
		if (alg) {
			rc = aael_open(path, alg, record, &reg, &a->aael);
			if (rc) {
				(void)snprintf(why, whylen, "cannot open the event log %s (%s)", path,
					       kbs_strerror(rc));
				goto out;
			}
			a->eventlog_supported = true;
		} else {
			/* upstream aborts here; answering NOT_SUPPORTED is kinder (§11 #5) */
			log_msg(LOG_LVL_WARN, "aa: TEE %s cannot extend a measurement register; "
					      "AAEL requests will be answered 'not supported'",
				attester_tee_name(a->tee));
		}
	}
	if (cfg->kbs_url && (a->features & AA_FEATURE_RESOURCE)) {
		struct broker_config bc;
		size_t tl = 0;

		memset(&bc, 0, sizeof(bc));
		bc.kbs_url = cfg->kbs_url;
		bc.kbs_cert_pem = cfg->kbs_cert;
		bc.tee = attester_tee_name(a->tee);
		bc.allow_sample = a->tee == ATTESTER_TEE_SAMPLE;
		bc.tee_key_algorithm = cfg->tee_key_algorithm;
		bc.initdata_toml = a->initdata ? initdata_text(a->initdata, &tl) : NULL;
		rc = broker_new(&bc, &a->broker);
		if (rc) {
			(void)snprintf(why, whylen, "cannot set up the KBS client (%s)",
				       kbs_strerror(rc));
			goto out;
		}
	}
	log_msg(LOG_LVL_INFO, "aa: TEE %s, features %s, eventlog %s", attester_tee_name(a->tee),
		aa_feature_name(a->features),
		a->eventlog_supported ? "on" : (cfg->enable_eventlog ? "unsupported" : "off"));
	*out = a;
	a = NULL;
	rc = KBS_OK;
out:
	aa_free(a);
	return rc;
}

void aa_free(struct aa *a)
{
	if (!a)
		return;
	broker_free(a->broker);
	aael_close(a->aael);
	initdata_free(a->initdata);
	aa_config_release(&a->cfg);
	free(a);
}

const char *aa_tee(const struct aa *a)
{
	return a ? attester_tee_name(a->tee) : "none";
}

/* ---------------------------------------------------------------- helpers */

bool aa_addr_is_loopback(const char *addr)
{
	char host[64];
	const char *end;
	size_t n;

	if (!addr)
		return false;
	if (addr[0] == '[') {
		end = strchr(addr, ']');
		if (!end)
			return false;
		n = (size_t)(end - addr - 1);
		addr++;
	} else {
		end = strrchr(addr, ':');
		/* a bare IPv6 address has several colons: no port to strip */
		n = end && strchr(addr, ':') == end ? (size_t)(end - addr) : strlen(addr);
	}
	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, addr, n);
	host[n] = 0;
	if (strcmp(host, "::1") == 0)
		return true;
	if (strncmp(host, "127.", 4) == 0) {
		unsigned b[4];
		char tail;

		return sscanf(host, "%u.%u.%u.%u%c", &b[0], &b[1], &b[2], &b[3], &tail) == 4 &&
		       b[1] < 256 && b[2] < 256 && b[3] < 256;
	}
	return false;
}

/* Decodes one form-urlencoded component [p, p+n) into a new string. */
static char *form_decode(const char *p, size_t n, size_t *outlen)
{
	char *o = malloc(n + 1);

	if (o && http_form_decode(p, n, o, n + 1, outlen) != KBS_OK) {
		free(o); /* cannot happen: decoding never grows the text */
		o = NULL;
	}
	return o;
}

int aa_query_get(const char *query, const char *key, char **out, size_t *len)
{
	char *found = NULL;
	size_t flen = 0;

	if (!key || !out)
		return KBS_ERR_INVAL;
	*out = NULL;
	for (const char *p = query; p && *p;) {
		const char *amp = strchr(p, '&'), *eq;
		size_t seg = amp ? (size_t)(amp - p) : strlen(p), kl;
		char *k;

		eq = memchr(p, '=', seg);
		kl = eq ? (size_t)(eq - p) : seg;
		k = form_decode(p, kl, NULL);
		if (!k) {
			free(found);
			return KBS_ERR_NOMEM;
		}
		if (strcmp(k, key) == 0) {
			free(found);
			found = eq ? form_decode(eq + 1, seg - kl - 1, &flen) : strdup("");
			if (!eq)
				flen = 0;
			if (!found) {
				free(k);
				return KBS_ERR_NOMEM;
			}
		}
		free(k);
		p = amp ? amp + 1 : NULL;
	}
	if (!found)
		return KBS_ERR_NOTFOUND;
	*out = found;
	if (len)
		*len = flen;
	return KBS_OK;
}

static void reply(struct http_response *resp, int status, const char *ctype, const void *body,
		  size_t len)
{
	resp->status = status;
	if (ctype)
		(void)http_response_header(resp, "Content-Type", ctype);
	if (len)
		(void)buf_append(&resp->body, body, len);
}

int aa_reply_secret(struct http_response *resp, const char *ctype, const uint8_t *p, size_t len)
{
	int rc;

	if (!resp || (!p && len))
		return KBS_ERR_INVAL;
	/* wiped by the server once written; reserved first so no reallocation leaves a copy */
	resp->wipe_body = true;
	rc = buf_reserve(&resp->body, len);
	if (!rc)
		rc = buf_append(&resp->body, p, len);
	if (rc) {
		OPENSSL_cleanse(resp->body.p, resp->body.len);
		resp->body.len = 0;
		return rc;
	}
	resp->status = 200;
	if (ctype)
		(void)http_response_header(resp, "Content-Type", ctype);
	return KBS_OK;
}

/* JSON string escaping as jansson's compact output does it (ASCII input). */
static size_t json_esc(const char *s, size_t n, uint8_t *out)
{
	static const char hx[] = "0123456789ABCDEF";
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		char e = 0;

		switch (ch) {
		case '"': e = '"'; break;
		case '\\': e = '\\'; break;
		case '\n': e = 'n'; break;
		case '\r': e = 'r'; break;
		case '\t': e = 't'; break;
		case '\b': e = 'b'; break;
		case '\f': e = 'f'; break;
		default: break;
		}
		if (e) {
			if (out) {
				out[o] = '\\';
				out[o + 1] = (uint8_t)e;
			}
			o += 2;
		} else if (ch < 0x20) {
			if (out) {
				memcpy(out + o, "\\u00", 4);
				out[o + 4] = (uint8_t)hx[ch >> 4];
				out[o + 5] = (uint8_t)hx[ch & 15];
			}
			o += 6;
		} else {
			if (out)
				out[o] = ch;
			o++;
		}
	}
	return o;
}

int aa_token_json(const uint8_t *tok, size_t tok_len, const char *pem, struct secbuf *out)
{
	static const char a[] = "{\"token\":\"", b[] = "\",\"tee_keypair\":\"", c[] = "\"}";
	size_t tl, pl, n, o = 0;

	if (!tok || !pem || !out)
		return KBS_ERR_INVAL;
	tl = json_esc((const char *)tok, tok_len, NULL);
	pl = json_esc(pem, strlen(pem), NULL);
	n = sizeof(a) - 1 + tl + sizeof(b) - 1 + pl + sizeof(c) - 1;
	if (secbuf_alloc(out, n) != KBS_OK)
		return KBS_ERR_NOMEM;
	memcpy(out->p, a, sizeof(a) - 1);
	o = sizeof(a) - 1;
	o += json_esc((const char *)tok, tok_len, out->p + o);
	memcpy(out->p + o, b, sizeof(b) - 1);
	o += sizeof(b) - 1;
	o += json_esc(pem, strlen(pem), out->p + o);
	memcpy(out->p + o, c, sizeof(c) - 1);
	return KBS_OK;
}

static void reply_text(struct http_response *resp, int status, const char *text)
{
	reply(resp, status, NULL, text, strlen(text));
}

/* runtime_data (+ encoding) from the query; false after answering 400. */
static bool runtime_data(const struct http_request *req, struct http_response *resp,
			 uint8_t **rd, size_t *rdlen)
{
	const char *q = http_request_query(req);
	char *val = NULL, *enc = NULL;
	size_t vlen = 0;
	bool ok = false;

	*rd = NULL;
	if (aa_query_get(q, "runtime_data", &val, &vlen) != KBS_OK)
		goto out;
	if (aa_query_get(q, "encoding", &enc, NULL) == KBS_OK) {
		if (strcmp(enc, "base64") != 0 ||
		    b64_decode_alloc(val, vlen, B64_URL, rd, rdlen) != KBS_OK)
			goto out;
	} else {
		*rd = (uint8_t *)val;
		*rdlen = vlen;
		val = NULL;
	}
	ok = *rdlen <= AA_RUNTIME_DATA_MAX;
	if (!ok) {
		free(*rd);
		*rd = NULL;
	}
out:
	if (!ok)
		reply_text(resp, 400, "BAD REQUEST");
	free(val);
	free(enc);
	return ok;
}

/* ---------------------------------------------------------------- endpoints */

static void do_info(struct aa *a, struct http_response *resp)
{
	char ver[160];
	json_t *j = json_object();
	char *s = NULL;

	(void)snprintf(ver, sizeof(ver), "Guest Components Version: %s", a->version);
	if (!j || json_object_set_new(j, "version", json_string(ver)) ||
	    ((a->features & AA_FEATURE_ATTESTATION) &&
	     json_object_set_new(j, "tee", json_string(attester_tee_name(a->tee)))) ||
	    json_object_set_new(j, "feature", json_string(aa_feature_name(a->features))) ||
	    !(s = json_dumps(j, JSON_COMPACT))) {
		reply_text(resp, 500, "Internal Server Error");
	} else {
		reply(resp, 200, "application/json", s, strlen(s));
	}
	free(s);
	json_decref(j);
}

static void do_evidence(struct aa *a, const struct http_request *req, struct http_response *resp)
{
	uint8_t *rd = NULL;
	size_t len = 0;
	json_t *ev = NULL;
	char *s = NULL;
	int rc;

	if (!runtime_data(req, resp, &rd, &len))
		return;
	/* the bytes go to the attester unchanged as report data (no hashing), like upstream */
	rc = attester_get_evidence(a->tee, rd, len, &ev);
	if (rc || !(s = json_dumps(ev, JSON_COMPACT))) {
		log_msg(LOG_LVL_ERROR, "aa: evidence for %zu bytes of runtime data failed: %s", len,
			kbs_strerror(rc));
		reply_text(resp, 500, "ttrpc request error");
	} else {
		reply(resp, 200, "application/octet-stream", s, strlen(s));
	}
	free(s);
	json_decref(ev);
	free(rd);
}

static void do_additional_evidence(const struct http_request *req, struct http_response *resp)
{
	uint8_t *rd = NULL;
	size_t len = 0;

	if (!runtime_data(req, resp, &rd, &len))
		return;
	/* no additional device attesters: empty body, as upstream */
	reply(resp, 200, "application/octet-stream", NULL, 0);
	free(rd);
}

/* Fresh TEE key as upstream exports it: EC as PKCS#8 PEM, RSA as PKCS#1 PEM. */
static int tee_key_pem(const char *alg, char **pem)
{
	EVP_PKEY *k = NULL;
	BIO *bio = NULL;
	BUF_MEM *m = NULL;
	int ok, rc = KBS_ERR_CRYPTO;

	*pem = NULL;
	if (!alg || strcmp(alg, "ECDH-ES+A256KW-P256") == 0)
		k = EVP_EC_gen("P-256");
	else if (strcmp(alg, "ECDH-ES+A256KW-P521") == 0)
		k = EVP_EC_gen("P-521");
	else
		k = EVP_RSA_gen(2048);
	bio = BIO_new(BIO_s_secmem());
	if (!k || !bio)
		goto out;
	if (alg && strcmp(alg, "RSA-OAEP-256") == 0)
		ok = PEM_write_bio_PrivateKey_traditional(bio, k, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_bio_PKCS8PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
	if (!ok)
		goto out;
	BIO_get_mem_ptr(bio, &m);
	*pem = calloc(1, m->length + 1);
	if (!*pem) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	memcpy(*pem, m->data, m->length);
	rc = KBS_OK;
out:
	BIO_free(bio);
	EVP_PKEY_free(k);
	return rc;
}

/*
 * CoCo AS token as upstream's CoCoASTokenGetter gets it: evidence over empty report data,
 * POST <url>/attestation {"verification_requests":[{"tee","evidence": base64url(JSON)}],
 * "policy_ids":[]}; the 200 body is the token.
 */
static int coco_as_token(struct aa *a, struct buf *token)
{
	static const char *const hdrs[] = {"Content-Type: application/json", NULL};
	struct http_client *c = NULL;
	struct http_result res;
	json_t *ev = NULL, *req = NULL;
	char *evs = NULL, *evb = NULL, *body = NULL, url[1024];
	size_t n = 0;
	int rc;

	memset(&res, 0, sizeof(res));
	if ((size_t)snprintf(url, sizeof(url), "%s/attestation", a->cfg.coco_as_url) >=
	    sizeof(url))
		return KBS_ERR_RANGE;
	rc = attester_get_evidence(a->tee, NULL, 0, &ev);
	if (rc)
		goto out;
	rc = KBS_ERR_NOMEM;
	evs = json_dump_compact(ev, &n);
	if (!evs)
		goto out;
	rc = b64_encode_alloc((const uint8_t *)evs, n, B64_URL, &evb);
	if (rc)
		goto out;
	rc = KBS_ERR_NOMEM;
	req = json_pack("{s:[{s:s,s:s}],s:[]}", "verification_requests", "tee",
			attester_tee_name(a->tee), "evidence", evb, "policy_ids");
	if (!req || !(body = json_dump_compact(req, &n)))
		goto out;
	rc = http_client_new(NULL, &c);
	if (rc)
		goto out;
	rc = http_client_request(c, "POST", url, hdrs, body, n, 0, &res);
	if (rc)
		goto out;
	if (res.status != 200) {
		log_msg(LOG_LVL_ERROR, "aa: CoCo AS %s answered HTTP %ld", url, res.status);
		rc = KBS_ERR_PERM;
		goto out;
	}
	rc = buf_reserve(token, res.body.len);
	if (!rc)
		rc = buf_append(token, res.body.p, res.body.len);
out:
	if (res.body.p)
		OPENSSL_cleanse(res.body.p, res.body.len);
	http_result_release(&res);
	http_client_free(c);
	free(body);
	free(evb);
	free(evs);
	json_decref(req);
	json_decref(ev);
	return rc;
}

static void do_token(struct aa *a, const struct http_request *req, struct http_response *resp)
{
	struct broker_config bc;
	struct broker *b = NULL;
	struct broker_error err;
	struct secbuf tok = {0}, body = {0};
	char *type = NULL, *pem = NULL;
	size_t tl = 0;
	int rc;

	if (aa_query_get(http_request_query(req), "token_type", &type, NULL) != KBS_OK) {
		reply_text(resp, 400, "BAD REQUEST");
		return;
	}
	if (strcmp(type, "coco_as") == 0 && a->cfg.coco_as_url) {
		struct buf t = BUF_INIT;

		rc = coco_as_token(a, &t);
		if (rc) {
			log_msg(LOG_LVL_ERROR, "aa: CoCo AS token failed: %s", kbs_strerror(rc));
			reply_text(resp, 500, "ttrpc request error");
		} else if (aa_reply_secret(resp, "application/octet-stream", t.p, t.len)) {
			reply_text(resp, 500, "ttrpc request error");
		}
		OPENSSL_cleanse(t.p, t.len);
		buf_release(&t);
		goto out;
	}
	if (strcmp(type, "kbs") != 0 || !a->cfg.kbs_url) {
		log_msg(LOG_LVL_ERROR, "aa: token type '%s' not available%s", type,
			a->cfg.kbs_url ? "" : " (no [token_configs.kbs])");
		reply_text(resp, 500, "ttrpc request error");
		goto out;
	}
	/* like upstream: a new TEE key and a full attestation for every token request */
	rc = tee_key_pem(a->cfg.tee_key_algorithm, &pem);
	if (rc)
		goto fail;
	memset(&bc, 0, sizeof(bc));
	memset(&err, 0, sizeof(err));
	bc.kbs_url = a->cfg.kbs_url;
	bc.kbs_cert_pem = a->cfg.kbs_cert;
	bc.tee = attester_tee_name(a->tee);
	bc.allow_sample = a->tee == ATTESTER_TEE_SAMPLE;
	bc.tee_key_algorithm = a->cfg.tee_key_algorithm;
	bc.tee_key_pem = pem;
	bc.initdata_toml = a->initdata ? initdata_text(a->initdata, &tl) : NULL;
	rc = broker_new(&bc, &b);
	if (!rc)
		rc = broker_attest(b, 0, &tok, &err);
	if (rc)
		goto fail;
	/* token and TEE private key: built in secmem, wiped by the server after the write */
	rc = aa_token_json(tok.p, tok.len, pem, &body);
	if (!rc)
		rc = aa_reply_secret(resp, "application/octet-stream", body.p, body.len);
	if (rc)
		goto fail;
	goto out;
fail:
	log_msg(LOG_LVL_ERROR, "aa: KBS token failed: %s (HTTP %ld %s)", kbs_strerror(rc),
		err.http_status, err.type);
	reply_text(resp, 500, "ttrpc request error");
out:
	secbuf_free(&body);
	secbuf_free(&tok);
	broker_free(b);
	if (pem)
		OPENSSL_cleanse(pem, strlen(pem));
	free(pem);
	free(type);
}

static void aael_answer(struct http_response *resp, const char *json)
{
	reply(resp, 200, "application/json", json, strlen(json));
}

static void do_aael(struct aa *a, const struct http_request *req, struct http_response *resp)
{
	size_t n = 0;
	const uint8_t *body = http_request_body(req, &n);
	const char *dom = NULL, *op = NULL, *content = NULL;
	json_t *j = NULL;
	struct json_err e;
	char msg[160];
	int rc;

	rc = json_parse((const char *)body, n, AA_BODY_MAX, &j, &e);
	if (rc || !json_is_object(j) || json_get_string(j, "domain", &dom, &e) ||
	    json_get_string(j, "operation", &op, &e) || json_get_string(j, "content", &content, &e)) {
		(void)snprintf(msg, sizeof(msg), "Illegal AAEL eventry format: %s",
			       rc ? "expected a JSON object"
				  : "fields `domain`, `operation`, `content` must be strings");
		reply_text(resp, 500, msg);
		goto out;
	}
	if (!a->cfg.enable_eventlog) {
		aael_answer(resp, "{\"success\":\"false\",\"message\": \"Attestation Agent does not "
				  "enable eventlog recording\"}");
		goto out;
	}
	if (!a->eventlog_supported) {
		aael_answer(resp, "{\"success\":\"false\",\"message\": \"The platform does not "
				  "support runtime measurement\"}");
		goto out;
	}
	rc = aael_extend(a->aael, dom, op, content);
	if (rc) {
		log_msg(LOG_LVL_ERROR, "aa: AAEL entry refused: %s", kbs_strerror(rc));
		reply_text(resp, 500, "ttrpc request error");
		goto out;
	}
	aael_answer(resp, "{\"success\":\"true\"}");
out:
	json_decref(j);
}

static void do_resource(struct aa *a, const char *rest, struct http_response *resp)
{
	struct secbuf out = {0};
	struct broker_error err;
	int rc;

	memset(&err, 0, sizeof(err));
	if (!a->broker) {
		log_msg(LOG_LVL_ERROR, "aa: resource requested but no [token_configs.kbs] url");
		reply_text(resp, 500, "ttrpc request error");
		return;
	}
	rc = broker_get_resource(a->broker, rest + 1, 0, &out, &err);
	if (rc) {
		/* upstream passes no KBS status through: every failure is 500 (§2.2) */
		log_msg(LOG_LVL_ERROR, "aa: resource %s: %s (HTTP %ld %s)", rest + 1,
			kbs_strerror(rc), err.http_status, err.type);
		reply_text(resp, 500, "ttrpc request error");
		return;
	}
	if (aa_reply_secret(resp, "application/octet-stream", out.p, out.len))
		reply_text(resp, 500, "ttrpc request error");
	secbuf_free(&out);
}

/*
 * POST /cdh/unseal (kbsfs extension; upstream offers UnsealSecret over ttRPC only): the body is
 * a sealed secret ("sealed." + ES256 JWS naming kbs:///repo/type/tag); the answer is the
 * secret. The signature is checked with the key named by kid (fetched from the KBS for a
 * kbs:/// kid, else a file in the sealed-secret key directory) before anything is fetched.
 */
static void do_unseal(struct aa *a, const struct http_request *req, struct http_response *resp)
{
	struct secbuf out = {0};
	struct broker_error err;
	size_t n = 0;
	const uint8_t *body = http_request_body(req, &n);
	char why[400];
	int rc;

	memset(&err, 0, sizeof(err));
	if (!a->broker) {
		log_msg(LOG_LVL_ERROR, "aa: unseal requested but no [token_configs.kbs] url");
		reply_text(resp, 500, "ttrpc request error");
		return;
	}
	rc = sealed_unseal(a->broker, (const char *)body, body ? n : 0, a->sealed_key_dir, 0, &out,
			   &err, why, sizeof(why));
	if (rc == KBS_OK) {
		if (aa_reply_secret(resp, "application/octet-stream", out.p, out.len))
			reply_text(resp, 500, "ttrpc request error");
		secbuf_free(&out);
		return;
	}
	log_msg(LOG_LVL_ERROR, "aa: unseal refused: %s (%s)", why, kbs_strerror(rc));
	if (rc == KBS_ERR_PARSE || rc == KBS_ERR_UNSUPPORTED)
		reply_text(resp, 400, "invalid sealed secret");
	else if (rc == KBS_ERR_VERIFY || (rc == KBS_ERR_NOTFOUND && !err.http_status) ||
		 rc == KBS_ERR_IO)
		reply_text(resp, 403, "sealed secret not verified");
	else
		reply_text(resp, 500, "ttrpc request error");
}

/* Splits "/x/rest" at its second '/': root "/x", rest "/rest"; false if there is none. */
static bool split2(const char *path, char *root, size_t rootlen, const char **rest)
{
	const char *s = path[0] == '/' ? strchr(path + 1, '/') : NULL;

	if (!s || (size_t)(s - path) >= rootlen)
		return false;
	memcpy(root, path, (size_t)(s - path));
	root[s - path] = 0;
	*rest = s;
	return true;
}

int aa_http_handler(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct aa *a = ctx;
	const char *path = http_request_path(req), *method = http_request_method(req), *rest;
	char root[64];

	if (!aa_addr_is_loopback(http_request_peer(req))) {
		reply_text(resp, 403, "Forbidden");
		return 0;
	}
	if (strcmp(path, "/info") == 0) {
		if (strcmp(method, "GET") != 0)
			reply_text(resp, 405, "Method Not Allowed");
		else
			do_info(a, resp);
		return 0;
	}
	if (!split2(path, root, sizeof(root), &rest)) {
		reply_text(resp, 404, "URL NOT FOUND");
		return 0;
	}
	if (strcmp(root, "/aa") == 0) {
		bool get = strcmp(method, "GET") == 0;

		if (!(a->features & AA_FEATURE_ATTESTATION))
			reply_text(resp, 404, "Attestation Feature Not Enabled");
		else if (get && strcmp(rest, "/evidence") == 0)
			do_evidence(a, req, resp);
		else if (get && strcmp(rest, "/additional-evidence") == 0)
			do_additional_evidence(req, resp);
		else if (get && strcmp(rest, "/token") == 0)
			do_token(a, req, resp);
		else if (strcmp(method, "POST") == 0 && strcmp(rest, "/aael") == 0)
			do_aael(a, req, resp);
		else
			reply_text(resp, 404, "URL NOT FOUND");
		return 0;
	}
	if (strcmp(root, "/cdh") == 0) {
		char sub[64];
		const char *res;

		if (!(a->features & AA_FEATURE_RESOURCE))
			reply_text(resp, 404, "Resource Feature Not Enabled");
		else if (strcmp(rest, "/unseal") == 0 && strcmp(method, "POST") == 0)
			do_unseal(a, req, resp);
		else if (!split2(rest, sub, sizeof(sub), &res) || strcmp(sub, "/resource") != 0)
			reply_text(resp, 404, "URL NOT FOUND");
		else
			do_resource(a, res, resp); /* any method, query dropped: as upstream */
		return 0;
	}
	reply_text(resp, 404, "URL NOT FOUND");
	return 0;
}
