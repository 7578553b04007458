// SPDX-License-Identifier: Apache-2.0
/* POST /kbs/v0/auth and /kbs/v0/attest: the RCAR handshake (kbs-protocol §2). */
#include "server/kbs/kbs_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/b64.h"
#include "common/civil.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "server/kbs/as_grpc.h"
#include "server/kbs/kbs_error.h"
#include "server/kbs/metrics.h"
#include "server/kbs/session.h"

static const char *const known_tees[] = {"az-snp-vtpm", "az-tdx-vtpm", "nvidia", "sgx",
					 "snp", "tdx", "cca", "csv", "se", "hygondcu", "tpm",
					 "sample", "sampledevice", NULL};

/* Two decimal digits of v (0..99) and a separator. */
static char *put2(char *p, int64_t v, char sep)
{
	*p++ = (char)('0' + v / 10);
	*p++ = (char)('0' + v % 10);
	*p++ = sep;
	return p;
}

size_t kbs_http_date(time_t t, char out[KBS_HTTP_DATE_LEN + 1])
{
	static const char wd[] = "ThuFriSatSunMonTueWed"; /* 1970-01-01 was a Thursday */
	static const char mo[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int64_t days = (int64_t)t / 86400, sec = (int64_t)t % 86400, y, m, d;
	char *p = out;

	if (sec < 0) {
		sec += 86400;
		days--;
	}
	civil_date_from_days(days, &y, &m, &d);
	if (y < 1970 || y > 9999) { /* beyond the format's four digits: the nearest end */
		memcpy(out, y < 1970 ? "Thu, 01 Jan 1970 00:00:00 GMT" : "Fri, 31 Dec 9999 23:59:59 GMT",
		       KBS_HTTP_DATE_LEN + 1);
		return KBS_HTTP_DATE_LEN;
	}
	memcpy(p, wd + 3 * (((days % 7) + 7) % 7), 3);
	p += 3;
	*p++ = ',';
	*p++ = ' ';
	p = put2(p, d, ' ');
	memcpy(p, mo + 3 * (m - 1), 3);
	p += 3;
	*p++ = ' ';
	for (int64_t div = 1000; div; div /= 10)
		*p++ = (char)('0' + (y / div) % 10);
	*p++ = ' ';
	p = put2(p, sec / 3600, ':');
	p = put2(p, sec / 60 % 60, ':');
	p = put2(p, sec % 60, ' ');
	memcpy(p, "GMT", 4);
	return KBS_HTTP_DATE_LEN;
}

/* "kbs-session-id=<id>; Expires=<IMF-fixdate>", assembled without printf (once per RCAR step) */
static int set_cookie(struct http_response *resp, const char *id, time_t expires)
{
	static const char pre[] = "kbs-session-id=", mid[] = "; Expires=";
	char v[sizeof(pre) + KBS_SESSION_ID_LEN + sizeof(mid) + KBS_HTTP_DATE_LEN + 8];
	size_t idl = strlen(id), n = 0;

	if (idl > KBS_SESSION_ID_LEN)
		return KBS_ERR_INTERNAL;
	memcpy(v, pre, sizeof(pre) - 1);
	n += sizeof(pre) - 1;
	memcpy(v + n, id, idl);
	n += idl;
	memcpy(v + n, mid, sizeof(mid) - 1);
	n += sizeof(mid) - 1;
	kbs_http_date(expires, v + n);
	return http_response_header(resp, "Set-Cookie", v);
}

int kbs_protocol_version_ok(const char *v)
{
	/* semver "=0.4.0": exact major.minor.patch, no pre-release; build metadata ignored */
	if (!v || strncmp(v, "0.4.0", 5) != 0)
		return 0;
	if (v[5] == '\0')
		return 1;
	if (v[5] != '+' || v[6] == '\0')
		return 0;
	for (const char *p = v + 6; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
			return 0;
	return 1;
}

static bool tee_known(const char *tee)
{
	for (const char *const *t = known_tees; *t; t++)
		if (strcmp(*t, tee) == 0)
			return true;
	return false;
}

static bool b64u_len_ok(json_t *v, size_t min, size_t max)
{
	const char *s = json_string_value(v);
	uint8_t buf[1300];
	size_t n;

	if (!s || strlen(s) > b64_encoded_len(sizeof(buf), B64_URL))
		return false;
	if (b64_decode(s, strlen(s), buf, sizeof(buf), &n, B64_URL) != KBS_OK)
		return false;
	return n >= min && n <= max;
}

/* Structural check of a re-serialised tee-pubkey: known kty/crv/alg, decodable members of the
 * right size. */
static bool tee_pubkey_shape_ok(json_t *k)
{
	const char *kty = json_string_value(json_object_get(k, "kty"));
	const char *alg = json_string_value(json_object_get(k, "alg"));

	if (!kty || !alg)
		return false;
	if (strcmp(kty, "EC") == 0) {
		const char *crv = json_string_value(json_object_get(k, "crv"));
		size_t n = !crv ? 0 : !strcmp(crv, "P-256") ? 32 : !strcmp(crv, "P-384") ? 48
			: !strcmp(crv, "P-521") ? 66 : 0;
		return n && b64u_len_ok(json_object_get(k, "x"), n, n) &&
		       b64u_len_ok(json_object_get(k, "y"), n, n);
	}
	if (strcmp(kty, "RSA") == 0)
		return b64u_len_ok(json_object_get(k, "n"), 256, 1024) &&
		       b64u_len_ok(json_object_get(k, "e"), 1, 8);
	if (strcmp(kty, "AKP") == 0)
		return b64u_len_ok(json_object_get(k, "pub"), 1, 1200);
	return false;
}

int kbs_runtime_data(const json_t *tee_pubkey, const char *nonce, const char *additional,
		     json_t **out, char *why, size_t whylen)
{
	const char *kty = json_string_value(json_object_get(tee_pubkey, "kty"));
	json_t *k = NULL;

	*out = NULL;
	if (!json_is_object(tee_pubkey) || !kty) {
		snprintf(why, whylen, "tee-pubkey is not a JWK object with kty");
		return KBS_ERR_INVAL;
	}
	static const char *const ec[] = {"alg", "crv", "kty", "x", "y", NULL};
	static const char *const rsa[] = {"alg", "e", "kty", "n", NULL};
	static const char *const akp[] = {"alg", "kty", "pub", NULL};
	const char *const *members;
	if (strcmp(kty, "EC") == 0)
		members = ec;
	else if (strcmp(kty, "RSA") == 0)
		members = rsa;
	else if (strcmp(kty, "AKP") == 0)
		members = akp;
	else {
		snprintf(why, whylen, "tee-pubkey kty '%.16s' not supported", kty);
		return KBS_ERR_UNSUPPORTED;
	}
	k = json_object();
	if (!k)
		return KBS_ERR_NOMEM;
	for (; *members; members++) {
		json_t *v = json_object_get(tee_pubkey, *members);
		if (!json_is_string(v)) {
			snprintf(why, whylen, "tee-pubkey member '%s' missing or not a string",
				 *members);
			json_decref(k);
			return KBS_ERR_INVAL;
		}
		json_object_set(k, *members, v);
	}
	if (additional)
		*out = json_pack("{s:o,s:s,s:s}", "tee-pubkey", k, "nonce", nonce,
				 "additional-evidence", additional);
	else
		*out = json_pack("{s:o,s:s}", "tee-pubkey", k, "nonce", nonce);
	return *out ? KBS_OK : KBS_ERR_NOMEM;
}

/* ------------------------------------------------------------------ RCAR */

int kbs_parse_auth(const void *body, size_t len, size_t max, json_t **root, const char **tee,
		   char *why, size_t whylen)
{
	struct json_err jerr;
	const char *version;
	json_t *j = NULL;
	int rc;

	*root = NULL;
	*tee = NULL;
	if ((rc = json_parse(body, len, max, &j, &jerr)) != KBS_OK) {
		snprintf(why, whylen, "request body is not valid JSON: %s", jerr.msg);
		return rc;
	}
	rc = KBS_ERR_INVAL;
	version = json_string_value(json_object_get(j, "version"));
	*tee = json_string_value(json_object_get(j, "tee"));
	if (!json_is_object(j) || !version || !*tee || !json_object_get(j, "extra-params")) {
		snprintf(why, whylen, "request needs string members version and tee and member "
				      "extra-params");
		goto fail;
	}
	if (!kbs_protocol_version_ok(version)) {
		snprintf(why, whylen,
			 "KBS Client Protocol Version Mismatch: expect =0.4.0 while the request is "
			 "%.40s", version);
		rc = KBS_ERR_PROTOCOL;
		goto fail;
	}
	if (!tee_known(*tee)) {
		snprintf(why, whylen, "unknown tee '%.32s'", *tee);
		goto fail;
	}
	*root = j;
	return KBS_OK;
fail:
	*tee = NULL;
	json_decref(j);
	return rc;
}

int kbs_handle_auth(struct kbs_ctx *k, const struct http_request *req, struct http_response *resp)
{
	json_t *body = NULL, *out = NULL;
	const char *tee;
	char why[300] = "", id[KBS_SESSION_ID_LEN + 1], nonce[KBS_NONCE_LEN + 1];
	const uint8_t *raw;
	size_t len;
	time_t expires;
	int rc;

	raw = http_request_body(req, &len);
	if ((rc = kbs_parse_auth(raw, len, k->max_body, &body, &tee, why, sizeof(why))) != KBS_OK)
		goto fail;
	rc = kbs_sess_create(k, tee,
			     k->cfg->session_lifetime_s > 0 ? k->cfg->session_lifetime_s
							    : k->cfg->session_timeout_min * 60,
			     time(NULL), id, nonce, &expires);
	if (rc == KBS_ERR_UNAVAILABLE) {
		json_decref(body);
		return kbs_respond_unavailable(resp, "RCAR handshake Auth");
	}
	if (rc != KBS_OK) {
		snprintf(why, sizeof(why), "cannot create session (%s)", kbs_strerror(rc));
		goto fail;
	}
	/* base64 nonce: no JSON escaping needed */
	resp->status = 200;
	buf_reset(&resp->body);
	if (buf_append_str(&resp->body, "{\"nonce\":\"") != KBS_OK ||
	    buf_append_str(&resp->body, nonce) != KBS_OK ||
	    buf_append_str(&resp->body, "\",\"extra-params\":\"\"}") != KBS_OK ||
	    http_response_header(resp, "Content-Type", "application/json") != KBS_OK ||
	    set_cookie(resp, id, expires) != KBS_OK) {
		snprintf(why, sizeof(why), "out of memory");
		goto fail;
	}
	json_decref(out);
	json_decref(body);
	return KBS_OK;
fail:
	json_decref(out);
	json_decref(body);
	log_info("kbs: auth refused from %s: %s", http_request_peer(req), why);
	return kbs_error_respond(resp, KBS_WERR_ATTESTATION, "RCAR handshake Auth failed: %s",
				 why);
}

int kbs_parse_attest(const void *body, size_t len, size_t max, struct kbs_attest_req *out,
		     char *why, size_t whylen)
{
	struct json_err jerr;
	json_t *j = NULL, *rt, *ev, *rd, *idata;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = json_parse(body, len, max, &j, &jerr)) != KBS_OK) {
		snprintf(why, whylen, "request body is not valid JSON: %s", jerr.msg);
		return rc;
	}
	rc = KBS_ERR_INVAL;
	rt = json_object_get(j, "runtime-data");
	ev = json_object_get(j, "tee-evidence");
	out->nonce = json_string_value(json_object_get(rt, "nonce"));
	out->tee_pubkey = json_object_get(rt, "tee-pubkey");
	if (!json_is_object(j) || !json_is_object(rt) || !out->nonce ||
	    !json_is_object(out->tee_pubkey) || !json_is_object(ev)) {
		snprintf(why, whylen, "body needs runtime-data{nonce,tee-pubkey} and tee-evidence");
		goto fail;
	}
	out->primary = json_object_get(ev, "primary_evidence");
	rd = json_object_get(ev, "additional_evidence");
	if (!out->primary || (rd && !json_is_string(rd))) {
		snprintf(why, whylen, "tee-evidence needs primary_evidence and a string "
				      "additional_evidence");
		goto fail;
	}
	out->additional = rd ? json_string_value(rd) : "";
	idata = json_object_get(j, "init-data");
	if (idata && !json_is_null(idata)) {
		const char *fmt = json_string_value(json_object_get(idata, "format"));
		out->init_toml = json_string_value(json_object_get(idata, "body"));
		if (!fmt || strcmp(fmt, "toml") != 0 || !out->init_toml) {
			snprintf(why, whylen, "Unsupported initdata format (expected "
					      "{\"format\":\"toml\",\"body\":...})");
			goto fail;
		}
	}
	out->root = j;
	return KBS_OK;
fail:
	json_decref(j);
	memset(out, 0, sizeof(*out));
	return rc;
}

/*
 * {"token":"<token>"} + the session cookie. A JWS compact token is base64url and dots, so it
 * needs no JSON escaping; the in-process AS's signer emits nothing else, so only a token from
 * a remote AS (coco_as_grpc) is checked (a scan of its ~4 KB per RCAR otherwise).
 */
static int respond_token(struct kbs_ctx *k, struct http_response *resp, const char *id,
			 time_t expires, const char *token)
{
	int rc;

	if (k->asg &&
	    strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") !=
		    strlen(token))
		return KBS_ERR_INTERNAL;
	resp->status = 200;
	buf_reset(&resp->body);
	if ((rc = buf_append_str(&resp->body, "{\"token\":\"")) != KBS_OK ||
	    (rc = buf_append_str(&resp->body, token)) != KBS_OK ||
	    (rc = buf_append_str(&resp->body, "\"}")) != KBS_OK ||
	    (rc = http_response_header(resp, "Content-Type", "application/json")) != KBS_OK)
		return rc;
	return set_cookie(resp, id, expires);
}

int kbs_handle_attest(struct kbs_ctx *k, const struct http_request *req, struct http_response *resp)
{
	char id[KBS_SESSION_ID_LEN + 8], why[400] = "";
	struct kbs_session_info s = {0};
	json_t *body = NULL, *pk, *primary, *addl_map = NULL;
	struct kbs_attest_req ar;
	json_t *rdata = NULL, *dev_rdata[8] = {0};
	struct as_request areq[9];
	struct as_result res = {0};
	const char *nonce, *addl = "", *init_text = NULL;
	size_t nreq = 1;
	bool counted = false;
	int rc;

	memset(areq, 0, sizeof(areq));
	if (http_request_cookie(req, "kbs-session-id", id, sizeof(id)) != KBS_OK) {
		snprintf(why, sizeof(why), "no kbs-session-id cookie (call /auth first)");
		goto fail;
	}
	rc = kbs_sess_get(k, id, time(NULL), &s);
	if (rc == KBS_ERR_UNAVAILABLE)
		return kbs_respond_unavailable(resp, "RCAR handshake Attest");
	if (rc != KBS_OK) {
		snprintf(why, sizeof(why), "session %s", rc == KBS_ERR_EXPIRED ? "expired" :
							 "unknown");
		goto fail;
	}
	if (s.attested && s.token) {
		/* Trustee returns the stored token again without re-verifying */
		rc = respond_token(k, resp, id, s.expires, s.token);
		kbs_session_info_release(&s);
		return rc;
	}
	{
		size_t blen;
		const uint8_t *raw = http_request_body(req, &blen);
		if ((rc = kbs_parse_attest(raw, blen, k->max_body, &ar, why, sizeof(why))) !=
		    KBS_OK)
			goto fail;
	}
	body = ar.root;
	nonce = ar.nonce;
	pk = ar.tee_pubkey;
	primary = ar.primary;
	addl = ar.additional;
	init_text = ar.init_toml;
	rc = kbs_sess_consume_nonce(k, id, nonce, time(NULL));
	if (rc == KBS_ERR_UNAVAILABLE) {
		rc = kbs_respond_unavailable(resp, "RCAR handshake Attest");
		goto done;
	}
	if (rc != KBS_OK) {
		snprintf(why, sizeof(why), "%s",
			 rc == KBS_ERR_PERM     ? "nonce already used (start again with /auth)"
			 : rc == KBS_ERR_VERIFY ? "nonce does not match the session's challenge"
			 : rc == KBS_ERR_EXPIRED ? "session expired"
						 : "session unknown");
		goto fail;
	}
	counted = true;
	if ((rc = kbs_runtime_data(pk, nonce, addl, &rdata, why, sizeof(why))) != KBS_OK)
		goto fail;
	/* Shape only (the point itself is validated when a resource is encrypted to it):
	 * a full EC key import costs as much as the token signature. */
	if (!tee_pubkey_shape_ok(json_object_get(rdata, "tee-pubkey"))) {
		snprintf(why, sizeof(why), "tee-pubkey is not a usable public key");
		goto fail;
	}
	areq[0].tee = s.tee;
	areq[0].evidence = primary;
	areq[0].runtime_data = rdata;
	if (init_text) {
		areq[0].init_data_toml = init_text;
		areq[0].init_data_toml_len = strlen(init_text);
	}
	if (addl[0]) {
		struct json_err jerr;
		const char *dtee;
		json_t *dev;
		if (json_parse(addl, strlen(addl), k->max_body, &addl_map, &jerr) != KBS_OK ||
		    !json_is_object(addl_map)) {
			snprintf(why, sizeof(why), "additional_evidence is not a JSON object text");
			goto fail;
		}
		json_object_foreach(addl_map, dtee, dev) {
			if (nreq >= 9) {
				snprintf(why, sizeof(why), "too many additional evidences");
				goto fail;
			}
			rc = kbs_runtime_data(pk, nonce, NULL, &dev_rdata[nreq - 1], why,
					      sizeof(why));
			if (rc != KBS_OK)
				goto fail;
			areq[nreq].tee = dtee;
			areq[nreq].evidence = dev;
			areq[nreq].runtime_data = dev_rdata[nreq - 1];
			nreq++;
		}
	}
	rc = k->asg ? kbs_as_grpc_evaluate(k->asg, areq, nreq, "default", &res, why, sizeof(why))
		    : as_evaluate(k->as, areq, nreq, "default", &res, why, sizeof(why));
	if (rc == KBS_ERR_UNAVAILABLE) {
		rc = kbs_respond_unavailable(resp, "attestation policy");
		goto done;
	}
	if (rc != KBS_OK)
		goto fail;
	if ((rc = kbs_sess_set_token(k, id, res.token)) == KBS_ERR_UNAVAILABLE) {
		rc = kbs_respond_unavailable(resp, "RCAR handshake Attest");
		goto done;
	}
	if (rc != KBS_OK) {
		snprintf(why, sizeof(why), "session vanished");
		goto fail;
	}
	kbs_metrics_attestation(k->metrics, s.tee, 1);
	if (log_get_level() >= LOG_LVL_INFO) /* spares formatting the peer address */
		log_info("kbs: attestation of %s (%s) succeeded: ear.status %s", s.tee,
			 http_request_peer(req), res.status);
	rc = respond_token(k, resp, id, s.expires, res.token);
	goto done;
fail:
	if (counted || s.tee[0])
		kbs_metrics_attestation(k->metrics, s.tee[0] ? s.tee : "other", 0);
	log_info("kbs: attestation refused from %s: %s", http_request_peer(req), why);
	rc = kbs_error_respond(resp, KBS_WERR_ATTESTATION, "RCAR handshake Attest failed: %s",
			       why);
done:
	as_result_release(&res);
	json_decref(rdata);
	for (size_t i = 0; i < 8; i++)
		json_decref(dev_rdata[i]);
	json_decref(addl_map);
	json_decref(body);
	kbs_session_info_release(&s);
	return rc;
}
