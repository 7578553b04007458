// SPDX-License-Identifier: Apache-2.0
/* The KBS context (kbs_new/kbs_free), request routing and what the handlers share. */
#include "server/kbs/kbs_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "server/kbs/admin.h"
#include "server/kbs/kbs_error.h"
#include "server/kbs/metrics.h"
#include "server/kbs/pgstore.h"
#include "server/kbs/repo.h"
#include "server/kbs/repo_pg.h"
#include "server/kbs/repo_http.h"
#include "server/kbs/repo_pkcs11.h"
#include "server/kbs/session.h"
#include "server/kbs/session_pg.h"
#include "server/kbs/tokver.h"
#include "server/kbs/as_grpc.h"

/* Our own text of Trustee's default decision: the resource plugin for every TEE except
 * the sample TEE (kbs-protocol §15.1). */
const char kbs_default_resource_policy[] =
	"# kbsfs default resource policy: Trustee's default decision.\n"
	"# Any attested TEE may read resources, except the sample (test) TEE.\n"
	"package policy\n"
	"\n"
	"default allow = false\n"
	"\n"
	"allow if {\n"
	"\tdata.plugin == \"resource\"\n"
	"\tnot input[\"submods\"][\"cpu0\"][\"ear.veraison.annotated-evidence\"][\"sample\"]\n"
	"}\n";


/* Session store dispatch: shared table on Postgres, else the in-process store. */
int kbs_sess_create(struct kbs_ctx *k, const char *tee, long lifetime_s, time_t now, char *id,
		    char *nonce, time_t *expires)
{
	return k->pg_sessions
		   ? kbs_pgsess_create(k->pg, tee, lifetime_s, now, id, nonce, expires)
		   : kbs_session_create(k->sessions, tee, lifetime_s, now, id, nonce, expires);
}

int kbs_sess_get(struct kbs_ctx *k, const char *id, time_t now, struct kbs_session_info *out)
{
	return k->pg_sessions ? kbs_pgsess_get(k->pg, id, now, out)
			      : kbs_session_get(k->sessions, id, now, out);
}

int kbs_sess_consume_nonce(struct kbs_ctx *k, const char *id, const char *nonce, time_t now)
{
	return k->pg_sessions ? kbs_pgsess_consume_nonce(k->pg, id, nonce, now)
			      : kbs_session_consume_nonce(k->sessions, id, nonce, now);
}

int kbs_sess_set_token(struct kbs_ctx *k, const char *id, const char *token)
{
	return k->pg_sessions ? kbs_pgsess_set_token(k->pg, id, token)
			      : kbs_session_set_token(k->sessions, id, token);
}

/* 503 naming the backend: never an answer computed without the database. */
int kbs_respond_unavailable(struct http_response *resp, const char *what)
{
	int rc = kbs_error_respond(resp, KBS_WERR_POSTGRES_UNAVAILABLE,
				   "%s: database unreachable, retry later", what);
	if (rc == KBS_OK)
		rc = http_response_header(resp, "Retry-After", "1");
	return rc;
}

/*
 * 503 naming the resource backend that failed (Postgres, PKCS#11, Vault, Azure Key Vault):
 * the same wire error family as a database outage, never a 401/404 that would be cached.
 */
int kbs_respond_repo_unavailable(const struct repo *r, struct http_response *resp, const char *what)
{
	const char *n = r->ops->name;
	enum kbs_werr e = strcmp(n, "PKCS#11") == 0	    ? KBS_WERR_PKCS11_UNAVAILABLE
			  : strcmp(n, "Vault") == 0	    ? KBS_WERR_VAULT_UNAVAILABLE
			  : strcmp(n, "AzureKeyVault") == 0 ? KBS_WERR_AZURE_KV_UNAVAILABLE
							    : KBS_WERR_POSTGRES_UNAVAILABLE;
	int rc;

	if (e == KBS_WERR_POSTGRES_UNAVAILABLE)
		return kbs_respond_unavailable(resp, what);
	rc = kbs_error_respond(resp, e, "%s: backend unreachable, retry later", what);
	if (rc == KBS_OK)
		rc = http_response_header(resp, "Retry-After", "1");
	return rc;
}

/* Opens the resource backend selected by [[plugins]] storage_backend_type. */
static int open_resource_backend(const struct kbs_config *cfg, struct repo **out, char *err,
				 size_t errlen)
{
	switch (cfg->resource_backend) {
	case KBS_REPO_PKCS11:
		return repo_pkcs11_from_json(cfg->resource_backend_cfg, out, err, errlen);
	case KBS_REPO_VAULT:
		return repo_vault_from_json(cfg->resource_backend_cfg, out, err, errlen);
	case KBS_REPO_AZURE_KV:
		return repo_akv_from_json(cfg->resource_backend_cfg, out, err, errlen);
	default:
		snprintf(err, errlen, "resource backend not supported by this build");
		return KBS_ERR_UNSUPPORTED;
	}
}

/* ------------------------------------------------------------------ EAR policies in Postgres */

/* Trustee's attestation_service_policy namespace: key "<policy_id>.rego", value = Rego text. */
/* RVPS records (Trustee's JSON) in Trustee's reference_value table, key = name. */
static int pg_rv_get(void *ctx, const char *key, struct buf *out)
{
	return pgstore_get(ctx, PGSTORE_NS_REFVAL, key, out);
}

static int pg_rv_set(void *ctx, const char *key, const void *val, size_t len)
{
	return pgstore_set(ctx, PGSTORE_NS_REFVAL, key, val, len, true);
}

static int pg_rv_del(void *ctx, const char *key)
{
	return pgstore_delete(ctx, PGSTORE_NS_REFVAL, key);
}

static const struct rvps_kv_ops pg_rv_ops = {pg_rv_get, pg_rv_set, pg_rv_del};

static int pg_policy_key(const char *id, char *key, size_t len)
{
	int n = snprintf(key, len, "%s.rego", id);
	return n < 0 || (size_t)n >= len ? KBS_ERR_RANGE : KBS_OK;
}

static int pg_policy_get(void *ctx, const char *id, char **text, size_t *len)
{
	struct buf b;
	char key[200];
	int rc = pg_policy_key(id, key, sizeof(key));

	*text = NULL;
	buf_init(&b, MAX_POLICY_TEXT);
	if (rc == KBS_OK && (rc = pgstore_get(ctx, PGSTORE_NS_AS_POLICY, key, &b)) == KBS_OK)
		rc = (*text = buf_steal(&b, len)) ? KBS_OK : KBS_ERR_NOMEM;
	buf_release(&b);
	return rc;
}

static int pg_policy_put(void *ctx, const char *id, const char *text, size_t len)
{
	char key[200];
	int rc = pg_policy_key(id, key, sizeof(key));

	return rc ? rc : pgstore_set(ctx, PGSTORE_NS_AS_POLICY, key, text, len, true);
}

/* ------------------------------------------------------------------ policy store */

static int write_file_atomic(const char *dir, const char *name, const char *data, size_t len)
{
	int rc;
	char path[4096], tmp[4200];
	FILE *f;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return KBS_ERR_RANGE;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return KBS_ERR_IO;
	rc = fwrite(data, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0
		     ? KBS_OK
		     : KBS_ERR_IO;
	if (fclose(f) != 0)
		rc = KBS_ERR_IO;
	if (rc == KBS_OK && rename(tmp, path) != 0)
		rc = KBS_ERR_IO;
	if (rc != KBS_OK)
		remove(tmp);
	return rc;
}

static int read_small_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *t;
	size_t n;

	*out = NULL;
	if (!f)
		return errno == ENOENT ? KBS_ERR_NOTFOUND : KBS_ERR_IO;
	t = malloc(MAX_POLICY_TEXT + 1);
	if (!t) {
		fclose(f);
		return KBS_ERR_NOMEM;
	}
	n = fread(t, 1, MAX_POLICY_TEXT, f);
	fclose(f);
	t[n] = '\0';
	*out = t;
	*len = n;
	return KBS_OK;
}

int kbs_set_resource_policy(struct kbs_ctx *k, const char *text, size_t len, bool persist,
			    char *why, size_t whylen)
{
	const struct policy_engine *eng;
	char *copy;
	int rc;

	pthread_rwlock_rdlock(&k->policy_lock);
	eng = k->engine;
	pthread_rwlock_unlock(&k->policy_lock);
	if ((rc = eng->check(eng->ctx, text, len, why, whylen)) != KBS_OK)
		return rc;
	copy = malloc(len + 1);
	if (!copy)
		return KBS_ERR_NOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	if (persist && k->pg) {
		if ((rc = pgstore_set(k->pg, PGSTORE_NS_KBS, PG_POLICY_KEY, text, len, true)) !=
		    KBS_OK) {
			snprintf(why, whylen, "cannot store the policy in Postgres (%s)",
				 kbs_strerror(rc));
			free(copy);
			return rc;
		}
	}
	if (persist && k->policy_dir) {
		mkdir(k->policy_dir, 0700);
		if ((rc = write_file_atomic(k->policy_dir, "resource-policy.rego", text, len)) !=
		    KBS_OK) {
			snprintf(why, whylen, "cannot store the policy durably");
			free(copy);
			return rc;
		}
	}
	pthread_rwlock_wrlock(&k->policy_lock);
	free(k->resource_policy);
	k->resource_policy = copy;
	k->resource_policy_len = len;
	pthread_rwlock_unlock(&k->policy_lock);
	return KBS_OK;
}

/* ------------------------------------------------------------------ lifecycle */

static bool dir_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int kbs_new(const struct kbs_config *cfg, struct kbs_ctx **out, char *err, size_t errlen)
{
	struct kbs_ctx *k = calloc(1, sizeof(*k));
	char why[300];
	int rc = KBS_ERR_NOMEM;

	*out = NULL;
	if (!k)
		return KBS_ERR_NOMEM;
	pthread_rwlock_init(&k->policy_lock, NULL);
	k->cfg = (struct kbs_config *)cfg;
	k->engine = policy_rego_engine();
	k->max_body = (size_t)cfg->payload_request_size_mib << 20;
	if (cfg->as_type == KBS_AS_INTEL_TA) {
		snprintf(err, errlen,
			 "attestation_service.type: intel_ta is not supported by this "
			 "KBS (coco_as_builtin or coco_as_grpc)");
		rc = KBS_ERR_UNSUPPORTED;
		goto out;
	}
	/* KBS_AS_NONE: passport mode, resources for tokens of trusted issuers only */
	if (cfg->as_type == KBS_AS_BUILTIN && (rc = as_new(&cfg->as, &k->as)) != KBS_OK) {
		snprintf(err, errlen, "attestation service: %s", kbs_strerror(rc));
		goto out;
	}
	if (cfg->as_type == KBS_AS_GRPC &&
	    (rc = kbs_as_grpc_new(cfg->as_addr, cfg->as_pool_size, &k->asg)) != KBS_OK) {
		snprintf(err, errlen, "attestation_service (coco_as_grpc, %s): %s",
			 cfg->as_addr ? cfg->as_addr : "http://127.0.0.1:50004", kbs_strerror(rc));
		goto out;
	}
	if ((rc = kbs_sessions_new(0, &k->sessions)) != KBS_OK ||
	    (rc = kbs_metrics_new(&k->metrics)) != KBS_OK)
		goto out;
	if ((rc = kbs_admin_new(cfg, &k->admin, err, errlen)) != KBS_OK)
		goto out;
	{
		const struct jwk *keys[2] = {NULL, NULL};
		if (k->as) {
			keys[0] = as_token_key(k->as);
			keys[1] = as_simple_token_key(k->as);
		}
		rc = kbs_tokver_new(cfg, keys, k->as ? 2 : 0, &k->tokver, err, errlen);
		if (rc != KBS_OK)
			goto out;
	}
	/* repository */
	if (cfg->repository_dir && cfg->check_only && !dir_exists(cfg->repository_dir)) {
		log_info("kbs: would create %s (configuration check: nothing created)",
			 cfg->repository_dir);
		rc = repo_memory_new(&k->repo);
		if (rc != KBS_OK)
			goto out;
	} else if (cfg->repository_dir) {
		rc = repo_localfs_new(cfg->repository_dir, REPO_LAYOUT_TREE, !cfg->check_only,
				      &k->repo);
		if (rc != KBS_OK) {
			snprintf(err, errlen, "repository %s: %s", cfg->repository_dir,
				 kbs_strerror(rc));
			goto out;
		}
		log_info("kbs: resources in %s (tree layout <repo>/<type>/<tag>)",
			 cfg->repository_dir);
	} else if (cfg->storage_type == KBS_STORAGE_LOCALFS) {
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s/repository", cfg->storage_dir);
		if (cfg->check_only && !dir_exists(dir)) {
			log_info("kbs: would create %s (configuration check: nothing created)",
				 dir);
			rc = repo_memory_new(&k->repo);
		} else {
			rc = repo_localfs_new(dir, REPO_LAYOUT_FLAT, !cfg->check_only, &k->repo);
		}
		if (rc != KBS_OK) {
			snprintf(err, errlen, "repository %s: %s", dir, kbs_strerror(rc));
			goto out;
		}
		log_info("kbs: resources in %s", dir);
	} else if (cfg->storage_type == KBS_STORAGE_POSTGRES) {
		struct pgstore_params pp = {cfg->pg_host,	  (int)cfg->pg_port,
					    cfg->pg_db,		  cfg->pg_username,
					    cfg->pg_password,	  getenv("POSTGRES_URL"),
					    (int)cfg->pg_pool_size, 0,
					    cfg->check_only};
		if ((rc = pgstore_new(&pp, &k->pg, err, errlen)) != KBS_OK)
			goto out;
		if (cfg->check_only) {
			/* reachable; the rest of the check runs on memory, nothing is written */
			if ((rc = repo_memory_new(&k->repo)) != KBS_OK)
				goto out;
			log_info("kbs: Postgres reachable (configuration check: nothing created)");
		} else {
			if ((rc = repo_pg_new(k->pg, &k->repo)) != KBS_OK)
				goto out;
			k->pg_sessions = !cfg->session_storage_set ||
					 cfg->session_storage_type == KBS_STORAGE_POSTGRES;
			/* no list: the kbs has no policy-listing endpoint (restful-as lists its
			 * own) */
			struct as_policy_store ps = {k->pg, pg_policy_get, pg_policy_put, NULL};
			as_set_policy_store(k->as, &ps);
			if ((rc = as_rvps_use_kv(k->as, &pg_rv_ops, k->pg, err, errlen)) !=
			    KBS_OK)
				goto out;
			log_info("kbs: resources, resource policy, attestation policies, "
				 "reference values%s in Postgres",
				 k->pg_sessions ? " and sessions" : "");
		}
	} else if (cfg->storage_type == KBS_STORAGE_MEMORY) {
		if ((rc = repo_memory_new(&k->repo)) != KBS_OK)
			goto out;
		log_info("kbs: resources in memory (not persisted)");
	} else {
		snprintf(err, errlen, "storage_backend.storage_type: only Memory, LocalFs and "
				      "Postgres are supported");
		rc = KBS_ERR_UNSUPPORTED;
		goto out;
	}
	if (cfg->resource_backend != KBS_REPO_KVSTORAGE) {
		struct repo *be = NULL;
		if ((rc = open_resource_backend(cfg, &be, err, errlen)) != KBS_OK)
			goto out;
		repo_free(k->repo);
	repo_free(k->p11_repo);
		k->repo = be;
		log_info("kbs: resources in the %s backend (%s)", be->ops->name,
			 be->ops->write ? "read-write" : "read-only");
	}
	if (cfg->pkcs11_plugin_cfg) {
		if ((rc = repo_pkcs11_from_json(cfg->pkcs11_plugin_cfg, &k->p11_repo, err,
						errlen)) != KBS_OK)
			goto out;
		log_info("kbs: pkcs11 plugin enabled (/kbs/v0/pkcs11/resource/...)");
	}
	/* resource policy: persisted copy, else legacy policy_path, else the default */
	if (cfg->storage_type == KBS_STORAGE_LOCALFS && cfg->storage_dir) {
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s/kbs", cfg->storage_dir);
		if (!(k->policy_dir = strdup(dir)))
			goto out;
	}
	{
		char *text = NULL;
		size_t len = 0;
		char path[4200];
		const char *src = NULL;
		rc = KBS_ERR_NOTFOUND;
		if (k->pg) {
			struct buf b;
			buf_init(&b, MAX_POLICY_TEXT);
			rc = pgstore_get(k->pg, PGSTORE_NS_KBS, PG_POLICY_KEY, &b);
			if (rc == KBS_OK) {
				text = buf_steal(&b, &len);
				src = "Postgres kbs/" PG_POLICY_KEY;
				rc = text ? KBS_OK : KBS_ERR_NOMEM;
			}
			buf_release(&b);
			if (rc != KBS_OK && rc != KBS_ERR_NOTFOUND) {
				snprintf(err, errlen, "resource policy from Postgres: %s",
					 kbs_strerror(rc));
				goto out;
			}
		}
		if (k->policy_dir) {
			snprintf(path, sizeof(path), "%s/resource-policy.rego", k->policy_dir);
			rc = read_small_file(path, &text, &len);
			src = path;
		}
		if (rc == KBS_ERR_NOTFOUND && cfg->policy_path) {
			rc = read_small_file(cfg->policy_path, &text, &len);
			src = cfg->policy_path;
			if (rc == KBS_ERR_NOTFOUND)
				log_warn("kbs: policy_path %s does not exist; using the default "
					 "policy", cfg->policy_path);
		}
		if (rc == KBS_OK) {
			rc = kbs_set_resource_policy(k, text, len, false, why, sizeof(why));
			free(text);
			if (rc != KBS_OK) {
				snprintf(err, errlen, "resource policy %s: %s", src, why);
				goto out;
			}
			log_info("kbs: resource policy loaded from %s", src);
		} else {
			rc = kbs_set_resource_policy(k, kbs_default_resource_policy,
						 strlen(kbs_default_resource_policy),
						 !cfg->check_only, why, sizeof(why));
			if (rc != KBS_OK) {
				snprintf(err, errlen, "default resource policy: %s", why);
				goto out;
			}
			if (cfg->check_only && k->policy_dir)
				log_info("kbs: would create %s/resource-policy.rego (configuration "
					 "check: nothing created)",
					 k->policy_dir);
		}
	}
	*out = k;
	k = NULL;
	rc = KBS_OK;
out:
	kbs_free(k);
	return rc;
}

void kbs_free(struct kbs_ctx *k)
{
	if (!k)
		return;
	as_free(k->as);
	kbs_sessions_free(k->sessions);
	kbs_admin_free(k->admin);
	kbs_tokver_free(k->tokver);
	kbs_as_grpc_free(k->asg);
	repo_free(k->repo);
	pgstore_free(k->pg);
	kbs_metrics_free(k->metrics);
	free(k->resource_policy);
	free(k->policy_dir);
	pthread_rwlock_destroy(&k->policy_lock);
	free(k);
}

void kbs_set_policy_engine(struct kbs_ctx *k, const struct policy_engine *engine)
{
	pthread_rwlock_wrlock(&k->policy_lock);
	k->engine = engine ? engine : policy_rego_engine();
	pthread_rwlock_unlock(&k->policy_lock);
	if (k->as)
		as_set_policy_engine(k->as, engine);
}

struct as_ctx *kbs_as(struct kbs_ctx *k)
{
	return k->as;
}

void kbs_set_http_server(struct kbs_ctx *k, const struct http_server *srv)
{
	k->http = srv;
}

/* ------------------------------------------------------------------ routing */

static int route(struct kbs_ctx *k, const struct http_request *req, struct http_response *resp,
		 enum kbs_endpoint *ep)
{
	const char *path = http_request_path(req), *m = http_request_method(req);
	const char *rest, *slash;
	char plugin[64];
	size_t n;
	bool get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0;
	bool del = strcmp(m, "DELETE") == 0, put = strcmp(m, "PUT") == 0;

	*ep = KBS_EP_OTHER;
	if (strcmp(path, "/metrics") == 0) {
		*ep = KBS_EP_METRICS;
		if (!get)
			return kbs_error_respond(resp, KBS_WERR_METHOD_NOT_ALLOWED, "use GET");
		resp->status = 200;
		buf_reset(&resp->body);
		int rc = kbs_metrics_render(k->metrics, k->pg_sessions ? (size_t)pgstore_count(k->pg, PGSTORE_NS_SESSION)
							 : kbs_sessions_count(k->sessions),
					    &resp->body);
		if (rc == KBS_OK)
			rc = kbs_metrics_render_workers(k->http, &resp->body);
		if (rc == KBS_OK)
			rc = http_response_header(resp, "Content-Type",
						  "text/plain; version=0.0.4; charset=utf-8");
		return rc;
	}
	if (strcmp(path, "/healthz") == 0 || strcmp(path, "/health") == 0) {
		*ep = KBS_EP_HEALTH;
		if (!get)
			return kbs_error_respond(resp, KBS_WERR_METHOD_NOT_ALLOWED, "use GET");
		resp->status = 200;
		buf_reset(&resp->body);
		return KBS_OK;
	}
	if (strncmp(path, KBS_PREFIX, strlen(KBS_PREFIX)) != 0)
		return kbs_error_respond(resp, KBS_WERR_INVALID_REQUEST_PATH, "%.200s", path);
	if (!get && !post && !del && !put)
		return kbs_error_respond(resp, KBS_WERR_METHOD_NOT_ALLOWED, "%.16s", m);
	rest = path + strlen(KBS_PREFIX);
	slash = strchr(rest, '/');
	n = slash ? (size_t)(slash - rest) : strlen(rest);
	if (n >= sizeof(plugin))
		n = sizeof(plugin) - 1;
	memcpy(plugin, rest, n);
	plugin[n] = '\0';
	rest = slash ? slash + 1 : "";

	if ((k->as || k->asg) && strcmp(plugin, "auth") == 0 && post && !slash) {
		*ep = KBS_EP_AUTH;
		return kbs_handle_auth(k, req, resp);
	}
	if ((k->as || k->asg) && strcmp(plugin, "attest") == 0 && post && !slash) {
		*ep = KBS_EP_ATTEST;
		return kbs_handle_attest(k, req, resp);
	}
	if (strcmp(plugin, "resource-policy") == 0 && (post || get) && !slash) {
		*ep = KBS_EP_RESOURCE_POLICY;
		return kbs_handle_resource_policy(k, req, resp, get);
	}
	if ((k->as || k->asg) && strcmp(plugin, "attestation-policy") == 0 && post && !slash) {
		*ep = KBS_EP_ATTESTATION_POLICY;
		return kbs_handle_attestation_policy(k, req, resp);
	}
	if (k->as && strcmp(plugin, "reference-value") == 0 &&
	    ((post && !slash) || (get && *rest))) {
		*ep = KBS_EP_REFERENCE_VALUE;
		return kbs_handle_reference_value(k, req, resp, rest, get);
	}
	if (strcmp(plugin, "resource") == 0 && k->cfg->resource_plugin) {
		*ep = KBS_EP_RESOURCE;
		if (get)
			return kbs_handle_resource_get(k, k->repo, "resource", req, resp, rest);
		if (post || del)
			return kbs_handle_resource_write(k, k->repo, req, resp, rest, del);
		return kbs_error_respond(resp, KBS_WERR_PLUGIN_INTERNAL,
					 "method %s not supported by the resource plugin", m);
	}
	if (strcmp(plugin, "pkcs11") == 0 && k->p11_repo && strncmp(rest, "resource/", 9) == 0) {
		/* Trustee's pkcs11 plugin: GET attested + encrypted, POST admin */
		*ep = KBS_EP_RESOURCE;
		if (get)
			return kbs_handle_resource_get(k, k->p11_repo, "pkcs11", req, resp, rest + 9);
		if (post)
			return kbs_handle_resource_write(k, k->p11_repo, req, resp, rest + 9, false);
		return kbs_error_respond(resp, KBS_WERR_PLUGIN_INTERNAL,
					 "method %s not supported by the pkcs11 plugin", m);
	}
	return kbs_error_respond(resp, KBS_WERR_PLUGIN_NOT_FOUND, "%.64s", plugin);
}

int kbs_handle(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct kbs_ctx *k = ctx;
	struct timespec t0, t1;
	enum kbs_endpoint ep;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = route(k, req, resp, &ep);
	if (rc != KBS_OK && resp->status < 400) {
		log_error("kbs: %s %s failed internally: %s", http_request_method(req),
			  http_request_path(req), kbs_strerror(rc));
		kbs_error_respond(resp, KBS_WERR_PLUGIN_INTERNAL, "internal error");
	}
	if (resp->status == 0)
		resp->status = 200;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (ep != KBS_EP_METRICS)
		kbs_metrics_request(k->metrics, ep, resp->status,
				    (double)(t1.tv_sec - t0.tv_sec) +
					    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return KBS_OK;
}
