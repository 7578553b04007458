// SPDX-License-Identifier: Apache-2.0
/* HashiCorp Vault KV v1/v2 resource backend (Trustee's `Vault` storage_backend_type). */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/http_client.h"
#include "common/log.h"
#include "server/kbs/repo_http.h"

struct repo_vault {
	struct repo base;
	struct http_client *http;
	char url[512];   /* vault_url without trailing '/' */
	char mount[128]; /* mount_path without surrounding '/' */
	char *token_hdr; /* "X-Vault-Token: <token>", wiped on free */
	int kv;          /* 1 or 2 */
	long timeout_ms;
};

/* <url>/v1/<mount>/[data/|metadata/]<repo>/<type>/<tag> */
static int vault_url(struct repo_vault *r, const char *const seg[3], const char *v2part,
		     char *out, size_t len)
{
	int n = snprintf(out, len, "%s/v1/%s/%s%s%s/%s/%s", r->url, r->mount,
			 r->kv == 2 ? v2part : "", r->kv == 2 ? "/" : "", seg[0], seg[1], seg[2]);
	return n < 0 || (size_t)n >= len ? KBS_ERR_RANGE : KBS_OK;
}

static int request(struct repo_vault *r, const char *method, const char *url, const char *body,
		   struct http_result *res)
{
	const char *hdrs[] = {r->token_hdr, "Content-Type: application/json", NULL};
	int rc = http_client_request(r->http, method, url, hdrs, body, body ? strlen(body) : 0,
				     http_now_ms() + r->timeout_ms, res);

	if (rc == KBS_ERR_NETWORK || rc == KBS_ERR_TIMEOUT)
		return KBS_ERR_UNAVAILABLE;
	if (rc != KBS_OK)
		return rc;
	rc = repo_http_status_err(res->status);
	if (rc != KBS_OK && rc != KBS_ERR_NOTFOUND) {
		/* Vault's error JSON {"errors":[...]} names the cause; it never holds a value */
		json_t *e = json_loadb((const char *)res->body.p, res->body.len, 0, NULL);
		json_t *e0 = json_array_get(json_object_get(e, "errors"), 0);
		log_warn("repo-vault: %s %s: HTTP %ld%s%.200s", method, url, res->status,
			 json_is_string(e0) ? ": " : "", json_is_string(e0) ? json_string_value(e0)
									   : "");
		json_decref(e);
	}
	return rc;
}

int repo_vault_parse(int kv, const void *body, size_t len, struct secbuf *out)
{
	json_t *doc = json_loadb(body, len, 0, NULL), *v;
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	int rc = KBS_ERR_PARSE;

	v = json_object_get(doc, "data");
	if (kv == 2)
		v = json_object_get(v, "data");
	v = json_object_get(v, "data");
	if (json_is_string(v) && b64_decode_alloc(json_string_value(v), json_string_length(v),
						  B64_STD, &raw, &rawlen) == KBS_OK)
		rc = rawlen > KBS_RESOURCE_MAX ? KBS_ERR_RANGE : secbuf_dup(out, raw, rawlen);
	if (raw) {
		OPENSSL_cleanse(raw, rawlen);
		free(raw);
	}
	repo_http_json_wipe(doc);
	return rc;
}

static int vault_read(struct repo *base, const char *const seg[3], struct secbuf *out)
{
	struct repo_vault *r = (struct repo_vault *)base;
	struct http_result res;
	char url[1024];
	int rc;

	if ((rc = vault_url(r, seg, "data", url, sizeof(url))) != KBS_OK)
		return rc;
	rc = request(r, "GET", url, NULL, &res);
	if (rc == KBS_OK && (rc = repo_vault_parse(r->kv, res.body.p, res.body.len, out)) ==
				    KBS_ERR_PARSE)
		log_warn("repo-vault: %s: no base64 string field \"data\" in the secret", url);
	if (res.body.p)
		OPENSSL_cleanse(res.body.p, res.body.len);
	http_result_release(&res);
	return rc;
}

static int vault_write(struct repo *base, const char *const seg[3], const void *data, size_t len)
{
	struct repo_vault *r = (struct repo_vault *)base;
	struct http_result res;
	char url[1024];
	char *b64 = NULL, *body = NULL;
	json_t *j = NULL;
	int rc;

	if (len > KBS_RESOURCE_MAX)
		return KBS_ERR_RANGE;
	if ((rc = vault_url(r, seg, "data", url, sizeof(url))) != KBS_OK)
		return rc;
	if ((rc = b64_encode_alloc(data, len, B64_STD, &b64)) != KBS_OK)
		return rc;
	/* v1 body {"data": b64} (Trustee's), v2 wraps it: {"data": {"data": b64}} */
	j = r->kv == 2 ? json_pack("{s:{s:s}}", "data", "data", b64)
		       : json_pack("{s:s}", "data", b64);
	body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (!body) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	rc = request(r, "POST", url, body, &res);
	http_result_release(&res);
out:
	if (body) {
		OPENSSL_cleanse(body, strlen(body));
		free(body);
	}
	repo_http_json_wipe(j);
	OPENSSL_cleanse(b64, strlen(b64));
	free(b64);
	return rc;
}

static int vault_remove(struct repo *base, const char *const seg[3])
{
	struct repo_vault *r = (struct repo_vault *)base;
	struct http_result res;
	char url[1024];
	int rc;

	/* Vault answers 204 for a missing path too; Trustee reports a missing resource */
	if ((rc = vault_url(r, seg, "data", url, sizeof(url))) != KBS_OK)
		return rc;
	rc = request(r, "GET", url, NULL, &res);
	if (res.body.p)
		OPENSSL_cleanse(res.body.p, res.body.len);
	http_result_release(&res);
	if (rc != KBS_OK)
		return rc;
	/* v2: all versions and the metadata, so the path is gone as in v1 */
	if ((rc = vault_url(r, seg, "metadata", url, sizeof(url))) != KBS_OK)
		return rc;
	rc = request(r, "DELETE", url, NULL, &res);
	http_result_release(&res);
	return rc;
}

static void vault_destroy(struct repo *base)
{
	struct repo_vault *r = (struct repo_vault *)base;

	http_client_free(r->http);
	if (r->token_hdr) {
		OPENSSL_cleanse(r->token_hdr, strlen(r->token_hdr));
		free(r->token_hdr);
	}
	free(r);
}

static const struct repo_ops vault_ops = {"Vault", vault_read, vault_write, vault_remove,
					  vault_destroy};

static const char *str_key(const json_t *cfg, const char *k)
{
	return json_string_value(json_object_get(cfg, k));
}

int repo_vault_from_json(const json_t *cfg, struct repo **out, char *err, size_t errlen)
{
	struct repo_vault *r = NULL;
	struct http_client_config hc = {0};
	const char *url = str_key(cfg, "vault_url"), *token = str_key(cfg, "token");
	const char *mount = str_key(cfg, "mount_path");
	const json_t *ca = json_object_get(cfg, "ca_certs"), *v;
	struct buf pem = BUF_INIT;
	size_t tlen;
	int rc = KBS_ERR_INVAL;

	*out = NULL;
	if (!url || !token || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))) {
		snprintf(err, errlen, "vault: `vault_url` (http[s]://...) and `token` are required");
		return KBS_ERR_INVAL;
	}
	if (!(r = calloc(1, sizeof(*r))))
		return KBS_ERR_NOMEM;
	r->base.ops = &vault_ops;
	r->kv = 1;
	r->timeout_ms = 10000;
	if ((v = json_object_get(cfg, "kv_version"))) {
		if (!json_is_integer(v) || (json_integer_value(v) != 1 &&
					    json_integer_value(v) != 2)) {
			snprintf(err, errlen, "vault: kv_version must be 1 or 2");
			goto out;
		}
		r->kv = (int)json_integer_value(v);
	}
	if ((v = json_object_get(cfg, "timeout_ms"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 100) {
			snprintf(err, errlen, "vault: timeout_ms must be an integer >= 100");
			goto out;
		}
		r->timeout_ms = (long)json_integer_value(v);
	}
	if ((v = json_object_get(cfg, "verify_ssl")) && json_is_false(v))
		log_warn("vault: verify_ssl = false is not honoured: the server certificate is "
			 "always verified (add its CA to ca_certs)");
	snprintf(r->url, sizeof(r->url), "%s", url);
	while (strlen(r->url) > 0 && r->url[strlen(r->url) - 1] == '/')
		r->url[strlen(r->url) - 1] = '\0';
	mount = mount ? mount : "secret";
	while (*mount == '/')
		mount++;
	snprintf(r->mount, sizeof(r->mount), "%s", mount);
	while (strlen(r->mount) > 0 && r->mount[strlen(r->mount) - 1] == '/')
		r->mount[strlen(r->mount) - 1] = '\0';
	if (!r->mount[0] || strchr(token, '\r') || strchr(token, '\n')) {
		snprintf(err, errlen, "vault: mount_path is empty or token has a line break");
		goto out;
	}
	tlen = strlen("X-Vault-Token: ") + strlen(token) + 1;
	if (!(r->token_hdr = malloc(tlen))) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	snprintf(r->token_hdr, tlen, "X-Vault-Token: %s", token);
	/* ca_certs: every listed PEM file is trusted (concatenated) */
	if (json_is_array(ca) && json_array_size(ca) > 0) {
		size_t i;
		json_array_foreach(ca, i, v) {
			FILE *f = json_is_string(v) ? fopen(json_string_value(v), "r") : NULL;
			char chunk[4096];
			size_t n;
			if (!f) {
				snprintf(err, errlen, "vault: ca_certs[%zu] cannot be read", i);
				goto out;
			}
			while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
				buf_append(&pem, chunk, n);
			fclose(f);
			buf_append_str(&pem, "\n");
		}
		hc.ca_pem = (const char *)pem.p;
	}
	hc.max_retries = 1;
	hc.timeout_ms = r->timeout_ms;
	if ((rc = http_client_new(&hc, &r->http)) != KBS_OK) {
		snprintf(err, errlen, "vault: HTTP client: %s", kbs_strerror(rc));
		goto out;
	}
	log_info("repo-vault: %s mount %s (KV v%d), read-write", r->url, r->mount, r->kv);
	*out = &r->base;
	r = NULL;
	rc = KBS_OK;
out:
	buf_release(&pem);
	if (r)
		vault_destroy(&r->base);
	return rc;
}
