// SPDX-License-Identifier: Apache-2.0
/*
 * Hygon CSV verifier. Order: evidence JSON -> report, PEK, serial number -> HSK/CEK (evidence,
 * offline store, KDS) -> HRK self-signature -> HRK->HSK -> HSK->CEK -> CEK->PEK -> PEK->report
 * -> report data -> (v2) event log replay -> claims.
 */
#include "server/as/verifier_csv.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/http_client.h"
#include "common/log.h"
#include "server/as/hygon_csv.h"
#include "server/as/tcg_eventlog.h"
#include "server/as/tpm_quote.h"

#define MAX_SERIAL 64
#define MAX_EVENTLOG (4u << 20)

struct csv_verifier {
	char *cert_dir;
	char *kds_url;
	struct hcsv_ca_cert hrk;
};

void csv_verifier_free(struct csv_verifier *v)
{
	if (!v)
		return;
	free(v->cert_dir);
	free(v->kds_url);
	free(v);
}

/* Reads a whole small file; *len = its size. */
static int read_file(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t n;
	int extra;

	if (!f)
		return errno == ENOENT ? KBS_ERR_NOTFOUND : KBS_ERR_IO;
	n = fread(buf, 1, cap, f);
	extra = fgetc(f);
	fclose(f);
	if (extra != EOF)
		return KBS_ERR_RANGE;
	*len = n;
	return KBS_OK;
}

int csv_verifier_new(const struct csv_verifier_config *cfg, struct csv_verifier **out, char *why,
		     size_t whylen)
{
	struct csv_verifier *v = calloc(1, sizeof(*v));
	uint8_t buf[HCSV_CA_CERT_LEN];
	const uint8_t *root = hcsv_builtin_hrk;
	size_t n = HCSV_CA_CERT_LEN;
	char w[160];
	int rc = KBS_ERR_NOMEM;

	*out = NULL;
	if (!v)
		goto out;
	if (cfg && cfg->cert_dir && !(v->cert_dir = strdup(cfg->cert_dir)))
		goto out;
	if (cfg && cfg->kds_url && !(v->kds_url = strdup(cfg->kds_url)))
		goto out;
	if (cfg && cfg->hrk_path) {
		if ((rc = read_file(cfg->hrk_path, buf, sizeof(buf), &n)) != KBS_OK) {
			snprintf(why, whylen, "csv: cannot read HRK %s (%s)", cfg->hrk_path,
				 kbs_strerror(rc));
			goto out;
		}
		root = buf;
	}
	if ((rc = hcsv_ca_cert_parse(root, n, &v->hrk, why, whylen)) != KBS_OK)
		goto out;
	if (v->hrk.usage != HCSV_USAGE_HRK ||
	    hcsv_verify_ca_by_ca(&v->hrk, &v->hrk, w, sizeof(w)) != KBS_OK) {
		snprintf(why, whylen, "csv: HRK cert Signature verification failed: %s",
			 v->hrk.usage != HCSV_USAGE_HRK ? "usage is not HRK" : w);
		rc = KBS_ERR_VERIFY;
		goto out;
	}
	*out = v;
	v = NULL;
	rc = KBS_OK;
out:
	if (rc == KBS_ERR_NOMEM)
		snprintf(why, whylen, "out of memory");
	csv_verifier_free(v);
	return rc;
}

/* ---- evidence ---- */

struct csv_evidence {
	struct hcsv_report report;
	struct hcsv_cert pek, cek;
	struct hcsv_ca_cert hsk;
	bool have_hsk_cek;
	char chip_id[MAX_SERIAL + 1];
	uint8_t *eventlog; /* decoded cc_eventlog, NULL if absent */
	size_t eventlog_len;
};

/* serial_number bytes -> chip id: UTF-8 with trailing NULs trimmed (Trustee), restricted here to
 * [A-Za-z0-9_-] because it names a directory and a URL query value. */
static int chip_id(const json_t *sn, char *out, char *why, size_t whylen)
{
	size_t n = json_array_size(sn), len = 0;

	if (!json_is_array(sn) || n == 0 || n > MAX_SERIAL)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(sn, i);
		json_int_t c = json_integer_value(e);

		if (!json_is_integer(e) || c < 0 || c > 255)
			goto bad;
		out[i] = (char)c;
	}
	len = n;
	while (len > 0 && out[len - 1] == 0)
		len--;
	out[len] = 0;
	if (len == 0)
		goto bad;
	for (size_t i = 0; i < len; i++) {
		char c = out[i];

		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      c == '-' || c == '_')) {
			snprintf(why, whylen,
				 "csv: serial_number is not a chip id ([A-Za-z0-9_-], NUL-padded)");
			return KBS_ERR_PARSE;
		}
	}
	return KBS_OK;
bad:
	snprintf(why, whylen, "csv: serial_number must be a byte array of 1..%d bytes",
		 MAX_SERIAL);
	return KBS_ERR_PARSE;
}

static int parse_evidence(const json_t *ev, struct csv_evidence *e, char *why, size_t whylen)
{
	json_t *parsed = NULL;
	const json_t *chain, *hc, *el;
	int rc = KBS_ERR_PARSE;

	if (json_is_string(ev)) {
		parsed = json_loads(json_string_value(ev), JSON_REJECT_DUPLICATES, NULL);
		ev = parsed;
	}
	if (!json_is_object(ev)) {
		snprintf(why, whylen, "csv: evidence must be a JSON object");
		goto out;
	}
	if ((rc = hcsv_report_from_json(json_object_get(ev, "attestation_report"), &e->report, why,
					whylen)) != KBS_OK)
		goto out;
	chain = json_object_get(ev, "cert_chain");
	if (!json_is_object(chain)) {
		snprintf(why, whylen, "csv: evidence has no cert_chain object");
		rc = KBS_ERR_PARSE;
		goto out;
	}
	if ((rc = hcsv_cert_from_json(json_object_get(chain, "pek"), &e->pek, why, whylen)) !=
	    KBS_OK)
		goto out;
	hc = json_object_get(chain, "hsk_cek");
	if (hc && !json_is_null(hc)) {
		if ((rc = hcsv_ca_cert_from_json(json_object_get(hc, "hsk"), &e->hsk, why,
						 whylen)) != KBS_OK ||
		    (rc = hcsv_cert_from_json(json_object_get(hc, "cek"), &e->cek, why, whylen)) !=
			KBS_OK)
			goto out;
		e->have_hsk_cek = true;
	}
	if ((rc = chip_id(json_object_get(ev, "serial_number"), e->chip_id, why, whylen)) !=
	    KBS_OK)
		goto out;
	el = json_object_get(ev, "cc_eventlog");
	if (el && !json_is_null(el)) {
		if (!json_is_string(el) || json_string_length(el) > MAX_EVENTLOG ||
		    b64_decode_alloc(json_string_value(el), json_string_length(el), B64_STD,
				     &e->eventlog, &e->eventlog_len) != KBS_OK) {
			snprintf(why, whylen, "csv: cc_eventlog is not standard base64");
			rc = KBS_ERR_PARSE;
			goto out;
		}
	}
	rc = KBS_OK;
out:
	json_decref(parsed);
	return rc;
}

/* ---- HSK/CEK sources ---- */

static int store_path(const struct csv_verifier *v, const char *chip, char *path, size_t len)
{
	int n = snprintf(path, len, "%s/hsk_cek/%s/hsk_cek.cert", v->cert_dir, chip);

	return n < 0 || (size_t)n >= len ? KBS_ERR_RANGE : KBS_OK;
}

/* Writes the verified KDS answer into the store (best effort: tmp file + rename). */
static void store_hsk_cek(const struct csv_verifier *v, const char *chip, const uint8_t *p,
			  size_t len)
{
	char dir[1024], path[1100], tmp[1200];
	FILE *f;
	int ok;

	if (!v->cert_dir || store_path(v, chip, path, sizeof(path)) != KBS_OK)
		return;
	snprintf(dir, sizeof(dir), "%s/hsk_cek", v->cert_dir);
	(void)mkdir(v->cert_dir, 0755);
	(void)mkdir(dir, 0755);
	snprintf(dir, sizeof(dir), "%s/hsk_cek/%s", v->cert_dir, chip);
	(void)mkdir(dir, 0755);
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	if (!(f = fopen(tmp, "wb")))
		return;
	ok = fwrite(p, 1, len, f) == len;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0)
		(void)unlink(tmp);
}

static int kds_fetch(const struct csv_verifier *v, const char *chip, uint8_t *buf, size_t *len,
		     char *why, size_t whylen)
{
	struct http_client_config hc = {.timeout_ms = 10000, .max_retries = 2};
	struct http_client *cl = NULL;
	struct http_result res = {0};
	char url[1024];
	int n = snprintf(url, sizeof(url), "%s/hsk_cek?snumber=%s", v->kds_url, chip);
	int rc = KBS_ERR_NETWORK;

	if (n < 0 || (size_t)n >= sizeof(url))
		return KBS_ERR_RANGE;
	if (http_client_new(&hc, &cl) != KBS_OK)
		return KBS_ERR_NOMEM;
	if (http_client_request(cl, "GET", url, NULL, NULL, 0, http_now_ms() + 30000, &res) !=
	    KBS_OK) {
		snprintf(why, whylen, "csv: Hygon KDS request failed (%s)", res.error);
	} else if (res.status != 200) {
		snprintf(why, whylen, "csv: Hygon KDS answered HTTP %ld for chip %s", res.status,
			 chip);
	} else if (res.body.len != HCSV_HSK_CEK_LEN) {
		snprintf(why, whylen, "csv: Hygon KDS answer is %zu bytes, expected %d",
			 res.body.len, HCSV_HSK_CEK_LEN);
		rc = KBS_ERR_PARSE;
	} else {
		memcpy(buf, res.body.p, res.body.len);
		*len = res.body.len;
		rc = KBS_OK;
	}
	http_result_release(&res);
	http_client_free(cl);
	return rc;
}

/* HSK and CEK for e->chip_id when the evidence has none. *fetched: came from the KDS. */
static int find_hsk_cek(const struct csv_verifier *v, struct csv_evidence *e, uint8_t *raw,
			size_t *rawlen, bool *fetched, char *why, size_t whylen)
{
	char path[1100];
	int rc = KBS_ERR_NOTFOUND;

	*fetched = false;
	if (v->cert_dir && store_path(v, e->chip_id, path, sizeof(path)) == KBS_OK) {
		rc = read_file(path, raw, HCSV_HSK_CEK_LEN, rawlen);
		if (rc == KBS_ERR_RANGE) {
			snprintf(why, whylen, "csv: %s is longer than %d bytes", path,
				 HCSV_HSK_CEK_LEN);
			return KBS_ERR_PARSE;
		}
		if (rc != KBS_OK && rc != KBS_ERR_NOTFOUND) {
			snprintf(why, whylen, "csv: cannot read %s", path);
			return rc;
		}
	}
	if (rc == KBS_ERR_NOTFOUND) {
		if (!v->kds_url) {
			snprintf(why, whylen,
				 "csv: no HSK/CEK for chip %s (not in the evidence, not in the "
				 "offline store %s, Hygon KDS not configured)",
				 e->chip_id, v->cert_dir ? v->cert_dir : "(none)");
			return KBS_ERR_NOTFOUND;
		}
		if ((rc = kds_fetch(v, e->chip_id, raw, rawlen, why, whylen)) != KBS_OK)
			return rc;
		*fetched = true;
	}
	return hcsv_hsk_cek_parse(raw, *rawlen, &e->hsk, &e->cek, why, whylen);
}

/* ---- claims ---- */

static json_t *hexj(const uint8_t *p, size_t n)
{
	char s[2 * 656 + 1];

	if (hex_encode(p, n, s, sizeof(s)) != KBS_OK)
		return NULL;
	return json_string(s);
}

static json_t *le32hex(uint32_t x)
{
	uint8_t b[4] = {(uint8_t)x, (uint8_t)(x >> 8), (uint8_t)(x >> 16), (uint8_t)(x >> 24)};

	return hexj(b, 4);
}

static json_t *policy_claims(uint32_t p)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "nodbg",
			 (json_int_t)(p & 1), "noks", (json_int_t)(p >> 1 & 1), "es",
			 (json_int_t)(p >> 2 & 1), "nosend", (json_int_t)(p >> 3 & 1), "domain",
			 (json_int_t)(p >> 4 & 1), "csv", (json_int_t)(p >> 5 & 1), "csv3",
			 (json_int_t)(p >> 6 & 1), "asid_reuse", (json_int_t)(p >> 7 & 1),
			 "hsk_version", (json_int_t)(p >> 8 & 0xf), "cek_version",
			 (json_int_t)(p >> 12 & 0xf), "api_major", (json_int_t)(p >> 16 & 0xff),
			 "api_minor", (json_int_t)(p >> 24 & 0xff));
}

static json_t *claims_of(const struct csv_evidence *e)
{
	const struct hcsv_report *r = &e->report;
	json_t *c = json_pack(
	    "{s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:s}", "version", r->version == 1 ? "1" : "2",
	    "policy", policy_claims(r->policy), "user_pubkey_digest",
	    hexj(r->user_pubkey_digest, 32), "vm_id", hexj(r->vm_id, 16), "vm_version",
	    hexj(r->vm_version, 16), "report_data", hexj(r->report_data, 64), "mnonce",
	    hexj(r->mnonce, 16), "measure", hexj(r->measure, 32), "sig_usage",
	    le32hex(r->sig_usage), "sig_algo", le32hex(r->sig_algo), "serial_number", e->chip_id);
	char name[8];

	if (!c)
		return NULL;
	if (r->version == 1) {
		if (json_object_set_new(c, "anonce", le32hex(r->anonce)) != 0)
			goto fail;
		return c;
	}
	if (json_object_set_new(c, "build", json_integer(r->build)) != 0 ||
	    json_object_set_new(c, "rtmr_version", json_integer(r->rtmr_version)) != 0 ||
	    json_object_set_new(c, "reserved0", hexj(r->reserved0, 14)) != 0 ||
	    json_object_set_new(c, "reserved1", hexj(r->reserved1, 656)) != 0)
		goto fail;
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "rtmr%d", i);
		if (json_object_set_new(c, name, hexj(r->rtmr[i], 32)) != 0)
			goto fail;
	}
	return c;
fail:
	json_decref(c);
	return NULL;
}

/* v2: the event log replayed with SM3 must give RTMR1..4 (Trustee: MR indexes 1..4). */
static int check_eventlog(const struct csv_evidence *e, char *why, size_t whylen)
{
	struct tcg_replay *rp = malloc(sizeof(*rp));
	char w[200];
	int rc = KBS_ERR_VERIFY;

	if (!rp)
		return KBS_ERR_NOMEM;
	if (tcg_replay_init(rp, TPM_ALG_SM3_256) != KBS_OK) {
		snprintf(why, whylen, "csv: SM3 not available for the event log replay");
		rc = KBS_ERR_UNSUPPORTED;
		goto out;
	}
	if (tcg_replay_firmware_log(rp, e->eventlog, e->eventlog_len, w, sizeof(w)) != KBS_OK) {
		snprintf(why, whylen, "csv: Parse CC Eventlog failed: %s", w);
		rc = KBS_ERR_PARSE;
		goto out;
	}
	for (int i = 1; i <= 4; i++) {
		if (CRYPTO_memcmp(rp->pcr[i], e->report.rtmr[i], 32) != 0) {
			snprintf(why, whylen,
				 "csv: Eventlog does not pass measurement replay CC Event Log "
				 "Measurement Register [index = %d] (rtmr%d)",
				 i, i);
			goto out;
		}
	}
	rc = KBS_OK;
out:
	free(rp);
	return rc;
}

int csv_verifier_verify(const struct csv_verifier *v, const struct as_verify_input *in,
			json_t **claims, char *why, size_t whylen)
{
	struct csv_evidence *e = calloc(1, sizeof(*e));
	uint8_t raw[HCSV_HSK_CEK_LEN], fit[64];
	size_t rawlen = 0;
	bool fetched = false;
	char w[200];
	int rc = KBS_ERR_NOMEM;

	*claims = NULL;
	if (!e) {
		snprintf(why, whylen, "out of memory");
		return rc;
	}
	if ((rc = parse_evidence(in->evidence, e, why, whylen)) != KBS_OK)
		goto out;
	if (!e->have_hsk_cek &&
	    (rc = find_hsk_cek(v, e, raw, &rawlen, &fetched, why, whylen)) != KBS_OK)
		goto out;
	rc = KBS_ERR_VERIFY;
	if (hcsv_verify_ca_by_ca(&v->hrk, &e->hsk, w, sizeof(w)) != KBS_OK) {
		snprintf(why, whylen, "csv: HSK cert Signature validation failed: %s", w);
		goto out;
	}
	if (e->hsk.usage != HCSV_USAGE_HSK) {
		snprintf(why, whylen, "csv: HSK cert Signature validation failed: usage 0x%x is "
				      "not HSK", e->hsk.usage);
		goto out;
	}
	if (hcsv_verify_cert_by_ca(&e->hsk, &e->cek, w, sizeof(w)) != KBS_OK) {
		snprintf(why, whylen, "csv: CEK cert Signature validation failed: %s", w);
		goto out;
	}
	if (e->cek.key_usage != HCSV_USAGE_CEK) {
		snprintf(why, whylen, "csv: CEK cert Signature validation failed: key usage 0x%x "
				      "is not CEK", e->cek.key_usage);
		goto out;
	}
	if (fetched)
		store_hsk_cek(v, e->chip_id, raw, rawlen);
	if (hcsv_verify_cert_by_cert(&e->cek, &e->pek, w, sizeof(w)) != KBS_OK) {
		snprintf(why, whylen, "csv: PEK cert Signature validation failed: %s", w);
		goto out;
	}
	if (hcsv_verify_report(&e->pek, &e->report, w, sizeof(w)) != KBS_OK) {
		snprintf(why, whylen, "csv: Attestation Report Signature validation failed: %s", w);
		goto out;
	}
	if (in->report_data) {
		as_fit_report_data(in->report_data, in->report_data_len, fit, sizeof(fit));
		if (CRYPTO_memcmp(fit, e->report.report_data, sizeof(fit)) != 0) {
			snprintf(why, whylen, "csv: REPORT_DATA is different from that in CSV Quote");
			goto out;
		}
	}
	if (in->init_data_digest)
		log_warn("csv: CSV does not support init data hash mechanism; init-data not bound");
	if (e->report.version == 2 && e->eventlog &&
	    (rc = check_eventlog(e, why, whylen)) != KBS_OK)
		goto out;
	if (!(*claims = claims_of(e))) {
		snprintf(why, whylen, "out of memory");
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	rc = KBS_OK;
out:
	free(e->eventlog);
	free(e);
	return rc;
}

/* ---- table entry ---- */

static int csv_create(const struct as_verifier_config *c, void **state, char *why, size_t whylen)
{
	struct csv_verifier_config cc = {
	    .cert_dir = c->csv_cert_dir, .kds_url = c->csv_kds_url, .hrk_path = c->csv_hrk_path};

	return csv_verifier_new(&cc, (struct csv_verifier **)state, why, whylen);
}

static void csv_destroy(void *state)
{
	csv_verifier_free(state);
}

static int csv_verify(const struct as_verify_input *in, json_t **claims, char *why, size_t whylen)
{
	/* without a state from the AS: the defaults and the environment fallbacks */
	const void *st = in->state ? in->state
				   : as_verifier_default_state(&as_verifier_csv, why, whylen);

	*claims = NULL;
	return st ? csv_verifier_verify(st, in, claims, why, whylen) : KBS_ERR_INTERNAL;
}

const struct as_verifier as_verifier_csv = {
    .tee = "csv",
    .tee_class = "cpu",
    .create = csv_create,
    .destroy = csv_destroy,
    .verify = csv_verify,
};
