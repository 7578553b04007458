// SPDX-License-Identifier: Apache-2.0
/* Azure Key Vault resource backend over the REST API (secrets, api-version 7.4). */
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/http_client.h"
#include "common/log.h"
#include "server/kbs/repo_http.h"

#define AKV_SCOPE "https%3A%2F%2Fvault.azure.net%2F.default"
#define AKV_B64_CT "application/octet-stream;base64"
#define AKV_MAX_TOKEN 16384

struct repo_akv {
	struct repo base;
	struct http_client *http;
	pthread_mutex_t mu;
	char url[512];       /* https://<vault>.vault.azure.net, no trailing '/' */
	char token_url[768]; /* <authority>/<tenant>/oauth2/v2.0/token */
	char client_id[128];
	char *client_secret; /* wiped on free */
	char token_file[512];
	bool imds;            /* managed identity: token from the instance metadata service */
	char imds_url[768];   /* full IMDS token URL */
	char api_version[16];
	bool writable;
	long timeout_ms;
	char *bearer;        /* "Authorization: Bearer <access token>", wiped on free */
	time_t bearer_exp;
};

static void wipe_free(char **p)
{
	if (*p) {
		OPENSSL_cleanse(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

/* application/x-www-form-urlencoded value */
static int form_append(struct buf *b, const char *k, const char *v, size_t vlen)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = buf_printf(b, "%s%s=", b->len ? "&" : "", k);

	for (size_t i = 0; i < vlen && rc == KBS_OK; i++) {
		unsigned char c = (unsigned char)v[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			rc = buf_append_byte(b, c);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			rc = buf_append(b, e, 3);
		}
	}
	return rc;
}

/* Reads the workload-identity token file (a JWT issued by the cluster, re-read each time). */
static int read_assertion(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "r");
	char chunk[4096];
	size_t n;
	int rc = KBS_OK;

	if (!f)
		return KBS_ERR_PERM;
	while (rc == KBS_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = buf_append(out, chunk, n);
	fclose(f);
	while (rc == KBS_OK && out->len && (out->p[out->len - 1] == '\n' ||
					    out->p[out->len - 1] == '\r' ||
					    out->p[out->len - 1] == ' '))
		out->p[--out->len] = '\0';
	return rc == KBS_OK && out->len == 0 ? KBS_ERR_PERM : rc;
}

/* Managed identity: GET the IMDS token endpoint with "Metadata: true". Caller holds mu. */
static int fetch_imds(struct repo_akv *r, struct http_result *res)
{
	const char *hdrs[] = {"Metadata: true", NULL};
	int rc = http_client_request(r->http, "GET", r->imds_url, hdrs, NULL, 0,
				     http_now_ms() + r->timeout_ms, res);

	return rc == KBS_ERR_NETWORK || rc == KBS_ERR_TIMEOUT ? KBS_ERR_UNAVAILABLE : rc;
}

/*
 * Token for the vault: client-credentials grant at the Microsoft identity platform (client
 * secret or federated assertion), or the managed identity's token from IMDS. Caller holds mu.
 */
static int fetch_token(struct repo_akv *r)
{
	struct buf form = BUF_INIT, assertion = BUF_INIT;
	struct http_result res;
	const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
	json_t *doc = NULL;
	long long expires = 3600;
	size_t hl;
	int rc;

	if (r->imds) {
		rc = fetch_imds(r, &res);
		goto answer;
	}
	rc = form_append(&form, "grant_type", "client_credentials", 18);
	if (rc == KBS_OK)
		rc = form_append(&form, "client_id", r->client_id, strlen(r->client_id));
	if (rc == KBS_OK)
		rc = buf_printf(&form, "&scope=%s", AKV_SCOPE);
	if (rc == KBS_OK && r->client_secret) {
		rc = form_append(&form, "client_secret", r->client_secret,
				 strlen(r->client_secret));
	} else if (rc == KBS_OK) {
		if ((rc = read_assertion(r->token_file, &assertion)) != KBS_OK) {
			log_warn("repo-akv: federated token file %s unreadable or empty",
				 r->token_file);
			goto out;
		}
		rc = form_append(&form, "client_assertion_type",
				 "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", 54);
		if (rc == KBS_OK)
			rc = form_append(&form, "client_assertion", (const char *)assertion.p,
					 assertion.len);
	}
	if (rc != KBS_OK)
		goto out;
	rc = http_client_request(r->http, "POST", r->token_url, hdrs, form.p, form.len,
				 http_now_ms() + r->timeout_ms, &res);
	if (rc == KBS_ERR_NETWORK || rc == KBS_ERR_TIMEOUT)
		rc = KBS_ERR_UNAVAILABLE;
answer:
	if (rc == KBS_OK) {
		rc = res.status == 400 ? KBS_ERR_PERM : repo_http_status_err(res.status);
		if (rc != KBS_OK) {
			/* AAD error body: {"error":"invalid_client","error_description":...} */
			doc = json_loadb((const char *)res.body.p, res.body.len, 0, NULL);
			const char *code = json_string_value(json_object_get(doc, "error"));
			log_warn("repo-akv: token request to %s refused: HTTP %ld %.64s",
				 r->imds ? r->imds_url : r->token_url, res.status,
				 code ? code : "");
		}
	}
	if (rc == KBS_OK) {
		char *tok = NULL;
		if ((rc = repo_akv_parse_token(res.body.p, res.body.len, &tok, &expires)) !=
		    KBS_OK) {
			log_warn("repo-akv: token response from %s has no usable access_token",
				 r->imds ? r->imds_url : r->token_url);
			rc = KBS_ERR_PERM;
		} else {
			wipe_free(&r->bearer);
			hl = strlen(tok) + 32;
			if (!(r->bearer = malloc(hl))) {
				rc = KBS_ERR_NOMEM;
			} else {
				snprintf(r->bearer, hl, "Authorization: Bearer %s", tok);
				/* renew a minute early so a request never carries a dying token */
				r->bearer_exp = time(NULL) + (expires > 120 ? expires - 60 : 60);
			}
			wipe_free(&tok);
		}
	}
	repo_http_json_wipe(doc);
	if (res.body.p)
		OPENSSL_cleanse(res.body.p, res.body.len);
	http_result_release(&res);
out:
	if (form.p)
		OPENSSL_cleanse(form.p, form.len);
	if (assertion.p)
		OPENSSL_cleanse(assertion.p, assertion.len);
	buf_release(&form);
	buf_release(&assertion);
	return rc;
}

/* Copies the current bearer header (fetching a token if needed) into *hdr (wipe_free it). */
static int bearer(struct repo_akv *r, bool force, char **hdr)
{
	int rc = KBS_OK;

	*hdr = NULL;
	pthread_mutex_lock(&r->mu);
	if (force || !r->bearer || time(NULL) >= r->bearer_exp)
		rc = fetch_token(r);
	if (rc == KBS_OK && !(*hdr = strdup(r->bearer)))
		rc = KBS_ERR_NOMEM;
	pthread_mutex_unlock(&r->mu);
	return rc;
}

#define AKV_MAX_RETRY_AFTER_S 5

/*
 * One Key Vault call: a 401 renews the token once (it may have been revoked or expired
 * early); a 429 or 503 waits once for the Retry-After the vault names (1 s when it names
 * none) if that is at most AKV_MAX_RETRY_AFTER_S, then gives up with KBS_ERR_UNAVAILABLE
 * (the guest retries later; holding a request thread longer would help nobody).
 */
static int akv_call(struct repo_akv *r, const char *method, const char *url, const char *body,
		    struct http_result *res)
{
	bool renewed = false, waited = false;
	char *auth = NULL;
	int rc;

	for (;;) {
		const char *hdrs[] = {NULL, "Content-Type: application/json", NULL};
		if ((rc = bearer(r, renewed, &auth)) != KBS_OK)
			return rc;
		hdrs[0] = auth;
		rc = http_client_request(r->http, method, url, hdrs, body,
					 body ? strlen(body) : 0, http_now_ms() + r->timeout_ms,
					 res);
		wipe_free(&auth);
		if (rc == KBS_ERR_NETWORK || rc == KBS_ERR_TIMEOUT)
			return KBS_ERR_UNAVAILABLE;
		if (rc != KBS_OK)
			return rc;
		if (res->status == 401 && !renewed) {
			renewed = true;
			http_result_release(res);
			continue;
		}
		if ((res->status == 429 || res->status == 503) && !waited &&
		    res->retry_after_s <= AKV_MAX_RETRY_AFTER_S) {
			unsigned wait_s = res->retry_after_s < 0 ? 1u : (unsigned)res->retry_after_s;

			waited = true;
			http_result_release(res);
			sleep(wait_s);
			continue;
		}
		break;
	}
	rc = repo_http_status_err(res->status);
	if (rc != KBS_OK && rc != KBS_ERR_NOTFOUND) {
		json_t *e = json_loadb((const char *)res->body.p, res->body.len, 0, NULL);
		const char *code = json_string_value(json_object_get(json_object_get(e, "error"),
								     "code"));
		log_warn("repo-akv: %s %s: HTTP %ld %.64s", method, url, res->status,
			 code ? code : "");
		json_decref(e);
	}
	return rc;
}

static bool is_version(const char *s)
{
	size_t n = strlen(s);

	if (n != 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (hex_digit(s[i]) < 0)
			return false;
	return true;
}

/* Secret URL of a resource; KBS_ERR_NOTFOUND for a tag Key Vault cannot name. */
static int secret_url(struct repo_akv *r, const char *const seg[3], bool versioned, char *out,
		      size_t len)
{
	char name[128];
	size_t n = strlen(seg[2]);
	int w;

	if (n >= sizeof(name))
		return KBS_ERR_NOTFOUND;
	for (size_t i = 0; i <= n; i++) {
		char c = seg[2][i];
		if (c == '.')
			return KBS_ERR_NOTFOUND; /* Key Vault names: [0-9A-Za-z-]{1,127} */
		name[i] = c == '_' ? '-' : c;
	}
	if (versioned && is_version(seg[1]))
		w = snprintf(out, len, "%s/secrets/%s/%s?api-version=%s", r->url, name, seg[1],
			     r->api_version);
	else
		w = snprintf(out, len, "%s/secrets/%s?api-version=%s", r->url, name,
			     r->api_version);
	return w < 0 || (size_t)w >= len ? KBS_ERR_RANGE : KBS_OK;
}

int repo_akv_parse_token(const void *body, size_t len, char **token, long long *expires_in)
{
	json_t *doc = json_loadb(body, len, 0, NULL), *tok, *exp;
	int rc = KBS_ERR_PARSE;

	*token = NULL;
	*expires_in = 3600;
	tok = json_object_get(doc, "access_token");
	exp = json_object_get(doc, "expires_in");
	/* the v2 endpoint sends a number; older (v1, ADFS) ones a string */
	if (json_is_integer(exp))
		*expires_in = json_integer_value(exp);
	else if (json_is_string(exp))
		*expires_in = strtoll(json_string_value(exp), NULL, 10);
	if (*expires_in < 0 || *expires_in > 86400 * 7)
		*expires_in = 3600;
	if (json_is_string(tok) && json_string_length(tok) > 0 &&
	    json_string_length(tok) <= AKV_MAX_TOKEN &&
	    strlen(json_string_value(tok)) == json_string_length(tok) &&
	    !strpbrk(json_string_value(tok), "\r\n"))
		rc = (*token = strdup(json_string_value(tok))) ? KBS_OK : KBS_ERR_NOMEM;
	repo_http_json_wipe(doc);
	return rc;
}

int repo_akv_parse_bundle(const void *body, size_t len, struct secbuf *out)
{
	json_t *doc = json_loadb(body, len, 0, NULL), *v;
	const char *ct;
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	int rc = KBS_ERR_PARSE;

	v = json_object_get(doc, "value");
	ct = json_string_value(json_object_get(doc, "contentType"));
	if (!json_is_string(v))
		goto out;
	if (ct && strcmp(ct, AKV_B64_CT) == 0) {
		/* written by kbs (binary-safe): base64 of the resource */
		if (b64_decode_alloc(json_string_value(v), json_string_length(v), B64_STD, &raw,
				     &rawlen) == KBS_OK)
			rc = rawlen > KBS_RESOURCE_MAX ? KBS_ERR_RANGE
						       : secbuf_dup(out, raw, rawlen);
	} else {
		rc = json_string_length(v) > KBS_RESOURCE_MAX
			     ? KBS_ERR_RANGE
			     : secbuf_dup(out, json_string_value(v), json_string_length(v));
	}
out:
	if (raw) {
		OPENSSL_cleanse(raw, rawlen);
		free(raw);
	}
	repo_http_json_wipe(doc);
	return rc;
}

static int akv_read(struct repo *base, const char *const seg[3], struct secbuf *out)
{
	struct repo_akv *r = (struct repo_akv *)base;
	struct http_result res = {0};
	char url[1024];
	int rc;

	if ((rc = secret_url(r, seg, true, url, sizeof(url))) != KBS_OK)
		return rc;
	rc = akv_call(r, "GET", url, NULL, &res);
	if (rc == KBS_OK &&
	    (rc = repo_akv_parse_bundle(res.body.p, res.body.len, out)) == KBS_ERR_PARSE)
		log_warn("repo-akv: %s: no usable \"value\" in the secret bundle", url);
	if (res.body.p)
		OPENSSL_cleanse(res.body.p, res.body.len);
	http_result_release(&res);
	return rc;
}

static int akv_write(struct repo *base, const char *const seg[3], const void *data, size_t len)
{
	struct repo_akv *r = (struct repo_akv *)base;
	struct http_result res = {0};
	char url[1024], *b64 = NULL, *body = NULL;
	json_t *j = NULL;
	int rc;

	if (!r->writable)
		return KBS_ERR_UNSUPPORTED;
	if (len > KBS_RESOURCE_MAX)
		return KBS_ERR_RANGE;
	if ((rc = secret_url(r, seg, false, url, sizeof(url))) != KBS_OK)
		return rc == KBS_ERR_NOTFOUND ? KBS_ERR_INVAL : rc;
	if ((rc = b64_encode_alloc(data, len, B64_STD, &b64)) != KBS_OK)
		return rc;
	j = json_pack("{s:s,s:s}", "value", b64, "contentType", AKV_B64_CT);
	body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	rc = body ? akv_call(r, "PUT", url, body, &res) : KBS_ERR_NOMEM;
	if (res.body.p)
		OPENSSL_cleanse(res.body.p, res.body.len);
	http_result_release(&res);
	wipe_free(&body);
	repo_http_json_wipe(j);
	wipe_free(&b64);
	return rc;
}

static int akv_remove(struct repo *base, const char *const seg[3])
{
	struct repo_akv *r = (struct repo_akv *)base;
	struct http_result res = {0};
	char url[1024];
	int rc;

	if (!r->writable)
		return KBS_ERR_UNSUPPORTED;
	if ((rc = secret_url(r, seg, false, url, sizeof(url))) != KBS_OK)
		return rc;
	rc = akv_call(r, "DELETE", url, NULL, &res);
	if (res.body.p)
		OPENSSL_cleanse(res.body.p, res.body.len);
	http_result_release(&res);
	return rc;
}

static void akv_destroy(struct repo *base)
{
	struct repo_akv *r = (struct repo_akv *)base;

	http_client_free(r->http);
	wipe_free(&r->client_secret);
	wipe_free(&r->bearer);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static const struct repo_ops akv_ops = {"AzureKeyVault", akv_read, akv_write, akv_remove,
					akv_destroy};
/* read-only (the default): no write/remove, so the kbs answers "read-only" itself */
static const struct repo_ops akv_ro_ops = {"AzureKeyVault", akv_read, NULL, NULL, akv_destroy};

static const char *str_key(const json_t *cfg, const char *k)
{
	return json_string_value(json_object_get(cfg, k));
}

static void trim_slash(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
}

int repo_akv_from_json(const json_t *cfg, struct repo **out, char *err, size_t errlen)
{
	struct repo_akv *r = NULL;
	struct http_client_config hc = {0};
	const char *url = str_key(cfg, "vault_url"), *tenant = str_key(cfg, "tenant_id");
	const char *client = str_key(cfg, "client_id"), *secret = str_key(cfg, "client_secret");
	const char *tfile = str_key(cfg, "federated_token_file");
	const char *auth = str_key(cfg, "authority_host"), *apiv = str_key(cfg, "api_version");
	const char *imds = str_key(cfg, "imds_endpoint");
	const json_t *v, *mi = json_object_get(cfg, "managed_identity");
	char authority[512];
	int rc = KBS_ERR_INVAL;

	*out = NULL;
	if (!tfile)
		tfile = getenv("AZURE_FEDERATED_TOKEN_FILE");
	if (!client)
		client = getenv("AZURE_CLIENT_ID");
	if (!tenant)
		tenant = getenv("AZURE_TENANT_ID");
	if (!auth)
		auth = getenv("AZURE_AUTHORITY_HOST");
	if (mi && !json_is_boolean(mi)) {
		snprintf(err, errlen, "azure key vault: managed_identity must be a boolean");
		return KBS_ERR_INVAL;
	}
	if (!url || strncmp(url, "https://", 8) ||
	    (!json_is_true(mi) && (!tenant || !client || (!secret && !tfile)))) {
		snprintf(err, errlen, "azure key vault: vault_url (https://...) and either "
				      "managed_identity = true or tenant_id, client_id and "
				      "client_secret or federated_token_file are required");
		return KBS_ERR_INVAL;
	}
	if (json_is_true(mi)) {
		/* client_id selects a user-assigned identity; tenant is implied */
		tenant = "managed-identity";
		secret = NULL;
		tfile = NULL;
	}
	if (strpbrk(tenant, "/?#&") || strlen(tenant) > 100 ||
	    (client && (strlen(client) > 100 || strpbrk(client, "/?#&")))) {
		snprintf(err, errlen, "azure key vault: tenant_id or client_id malformed");
		return KBS_ERR_INVAL;
	}
	if (!(r = calloc(1, sizeof(*r))))
		return KBS_ERR_NOMEM;
	pthread_mutex_init(&r->mu, NULL);
	r->timeout_ms = 10000;
	if ((v = json_object_get(cfg, "writable")) && !json_is_boolean(v)) {
		snprintf(err, errlen, "azure key vault: writable must be a boolean");
		goto out;
	}
	r->writable = json_is_true(v);
	r->base.ops = r->writable ? &akv_ops : &akv_ro_ops;
	snprintf(r->url, sizeof(r->url), "%s", url);
	trim_slash(r->url);
	snprintf(authority, sizeof(authority), "%s",
		 auth ? auth : "https://login.microsoftonline.com/");
	trim_slash(authority);
	if (strncmp(authority, "https://", 8) != 0) {
		snprintf(err, errlen, "azure key vault: authority_host must be https://");
		goto out;
	}
	snprintf(r->token_url, sizeof(r->token_url), "%s/%s/oauth2/v2.0/token", authority,
		 tenant);
	snprintf(r->client_id, sizeof(r->client_id), "%s", client ? client : "");
	if ((r->imds = json_is_true(mi))) {
		char base[512];
		snprintf(base, sizeof(base), "%s", imds ? imds : "http://169.254.169.254");
		trim_slash(base);
		if (strncmp(base, "http://", 7) && strncmp(base, "https://", 8)) {
			snprintf(err, errlen, "azure key vault: imds_endpoint must be http(s)://");
			goto out;
		}
		snprintf(r->imds_url, sizeof(r->imds_url),
			 "%s/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
			 "https%%3A%%2F%%2Fvault.azure.net%s%s",
			 base, client ? "&client_id=" : "", client ? client : "");
	}
	snprintf(r->api_version, sizeof(r->api_version), "%s", apiv ? apiv : "7.4");
	if (secret && !(r->client_secret = strdup(secret))) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	if (!secret && tfile)
		snprintf(r->token_file, sizeof(r->token_file), "%s", tfile);
	hc.ca_file = str_key(cfg, "ca_file");
	hc.max_retries = 1;
	hc.timeout_ms = r->timeout_ms;
	if ((rc = http_client_new(&hc, &r->http)) != KBS_OK) {
		snprintf(err, errlen, "azure key vault: HTTP client: %s", kbs_strerror(rc));
		goto out;
	}
	log_info("repo-akv: %s (tenant %s, client %s, %s), %s", r->url, tenant,
		 client ? client : "system-assigned",
		 r->imds ? "managed identity" : secret ? "client secret" : "federated token file",
		 r->writable ? "read-write" : "read-only");
	*out = &r->base;
	r = NULL;
	rc = KBS_OK;
out:
	if (r)
		akv_destroy(&r->base);
	return rc;
}
