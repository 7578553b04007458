// SPDX-License-Identifier: Apache-2.0
#include "server/kbs/kbs.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/http_util.h"
#include "common/jose/jwe.h"
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

#define KBS_PREFIX "/kbs/v0/"
#define MAX_POLICY_TEXT (256 * 1024)

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

static const char *const known_tees[] = {"az-snp-vtpm", "az-tdx-vtpm", "nvidia", "sgx",
					 "snp", "tdx", "cca", "csv", "se", "hygondcu", "tpm",
					 "sample", "sampledevice", NULL};

struct kbs_ctx {
	struct kbs_config *cfg; /* borrowed */
	struct as_ctx *as;
	struct kbs_sessions *sessions;
	struct kbs_admin *admin;
	struct kbs_tokver *tokver;
	struct kbs_as_grpc *asg; /* coco_as_grpc: remote AS (k->as is NULL then) */
	struct repo *repo;
	struct repo *p11_repo; /* Trustee's separate "pkcs11" plugin, NULL when not configured */
	struct kbs_metrics *metrics;
	const struct policy_engine *engine;
	pthread_rwlock_t policy_lock;
	char *resource_policy;
	size_t resource_policy_len;
	char *policy_dir; /* <storage>/kbs, NULL = memory only */
	size_t max_body;
	/* Postgres storage: resources, the resource policy (read at every request, so an
	 * upload on one replica applies on all) and, unless session_storage_type says
	 * otherwise, RCAR sessions. */
	struct pgstore *pg;
	bool pg_sessions;
};

#define PG_POLICY_KEY "resource-policy.rego"

/* Session store dispatch: shared table on Postgres, else the in-process store. */
static int sess_create(struct kbs_ctx *k, const char *tee, long lifetime_s, time_t now,
		       char *id, char *nonce, time_t *expires)
{
	return k->pg_sessions ? kbs_pgsess_create(k->pg, tee, lifetime_s, now, id, nonce, expires)
			      : kbs_session_create(k->sessions, tee, lifetime_s, now, id, nonce,
						   expires);
}

static int sess_get(struct kbs_ctx *k, const char *id, time_t now, struct kbs_session_info *out)
{
	return k->pg_sessions ? kbs_pgsess_get(k->pg, id, now, out)
			      : kbs_session_get(k->sessions, id, now, out);
}

static int sess_consume_nonce(struct kbs_ctx *k, const char *id, const char *nonce, time_t now)
{
	return k->pg_sessions ? kbs_pgsess_consume_nonce(k->pg, id, nonce, now)
			      : kbs_session_consume_nonce(k->sessions, id, nonce, now);
}

static int sess_set_token(struct kbs_ctx *k, const char *id, const char *token)
{
	return k->pg_sessions ? kbs_pgsess_set_token(k->pg, id, token)
			      : kbs_session_set_token(k->sessions, id, token);
}

/* 503 naming the backend: never an answer computed without the database. */
static int respond_unavailable(struct http_response *resp, const char *what)
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
static int respond_repo_unavailable(const struct repo *r, struct http_response *resp,
				    const char *what)
{
	const char *n = r->ops->name;
	enum kbs_werr e = strcmp(n, "PKCS#11") == 0	    ? KBS_WERR_PKCS11_UNAVAILABLE
			  : strcmp(n, "Vault") == 0	    ? KBS_WERR_VAULT_UNAVAILABLE
			  : strcmp(n, "AzureKeyVault") == 0 ? KBS_WERR_AZURE_KV_UNAVAILABLE
							    : KBS_WERR_POSTGRES_UNAVAILABLE;
	int rc;

	if (e == KBS_WERR_POSTGRES_UNAVAILABLE)
		return respond_unavailable(resp, what);
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

/* ------------------------------------------------------------------ helpers */

static int respond_json(struct http_response *resp, int status, const json_t *j)
{
	/* any JSON value: a reference value may be a single string, number or boolean */
	char *txt = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	int rc;

	if (!txt)
		return KBS_ERR_NOMEM;
	resp->status = status;
	buf_reset(&resp->body);
	rc = buf_append_str(&resp->body, txt);
	free(txt);
	if (rc == KBS_OK)
		rc = http_response_header(resp, "Content-Type", "application/json");
	return rc;
}

static void http_date(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static int set_cookie(struct http_response *resp, const char *id, time_t expires)
{
	char date[64], v[160];

	http_date(expires, date, sizeof(date));
	snprintf(v, sizeof(v), "kbs-session-id=%s; Expires=%s", id, date);
	return http_response_header(resp, "Set-Cookie", v);
}

static const char *bearer(const struct http_request *req)
{
	const char *a = http_request_header(req, "Authorization");

	if (!a || strncasecmp(a, "Bearer ", 7) != 0)
		return NULL;
	a += 7;
	while (*a == ' ')
		a++;
	return *a ? a : NULL;
}

/* Flat string map of the query string, form-decoded; undecodable pairs are skipped. */
static json_t *parse_query(const char *q)
{
	json_t *m = json_object();
	char key[256], val[1024];

	if (!m || !q)
		return m;
	for (const char *p = q; *p;) {
		size_t seg = strcspn(p, "&"), kl = strcspn(p, "=&"), klen, vlen = 0;

		if (http_form_decode(p, kl, key, sizeof(key), &klen) == KBS_OK && klen &&
		    !memchr(key, 0, klen) &&
		    (kl == seg || http_form_decode(p + kl + 1, seg - kl - 1, val, sizeof(val),
						   &vlen) == KBS_OK) &&
		    !memchr(val, 0, vlen)) {
			if (kl == seg)
				val[0] = '\0';
			json_object_set_new(m, key, json_string(val)); /* NULL if not UTF-8 */
		}
		p += seg + (p[seg] == '&');
	}
	return m;
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

static int set_resource_policy(struct kbs_ctx *k, const char *text, size_t len, bool persist,
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
	if (cfg->repository_dir) {
		rc = repo_localfs_new(cfg->repository_dir, REPO_LAYOUT_TREE, true, &k->repo);
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
		rc = repo_localfs_new(dir, REPO_LAYOUT_FLAT, true, &k->repo);
		if (rc != KBS_OK) {
			snprintf(err, errlen, "repository %s: %s", dir, kbs_strerror(rc));
			goto out;
		}
		log_info("kbs: resources in %s", dir);
	} else if (cfg->storage_type == KBS_STORAGE_POSTGRES) {
		struct pgstore_params pp = {cfg->pg_host,	  (int)cfg->pg_port,
					    cfg->pg_db,		  cfg->pg_username,
					    cfg->pg_password,	  getenv("POSTGRES_URL"),
					    (int)cfg->pg_pool_size, 0};
		if ((rc = pgstore_new(&pp, &k->pg, err, errlen)) != KBS_OK ||
		    (rc = repo_pg_new(k->pg, &k->repo)) != KBS_OK)
			goto out;
		k->pg_sessions = !cfg->session_storage_set ||
				 cfg->session_storage_type == KBS_STORAGE_POSTGRES;
		/* no list: the kbs has no policy-listing endpoint (restful-as lists its own) */
		struct as_policy_store ps = {k->pg, pg_policy_get, pg_policy_put, NULL};
		as_set_policy_store(k->as, &ps);
		if ((rc = as_rvps_use_kv(k->as, &pg_rv_ops, k->pg, err, errlen)) != KBS_OK)
			goto out;
		log_info("kbs: resources, resource policy, attestation policies, reference values%s "
			 "in Postgres",
			 k->pg_sessions ? " and sessions" : "");
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
			rc = set_resource_policy(k, text, len, false, why, sizeof(why));
			free(text);
			if (rc != KBS_OK) {
				snprintf(err, errlen, "resource policy %s: %s", src, why);
				goto out;
			}
			log_info("kbs: resource policy loaded from %s", src);
		} else {
			rc = set_resource_policy(k, kbs_default_resource_policy,
						 strlen(kbs_default_resource_policy), true, why,
						 sizeof(why));
			if (rc != KBS_OK) {
				snprintf(err, errlen, "default resource policy: %s", why);
				goto out;
			}
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

/* ------------------------------------------------------------------ RCAR */

static int parse_body(struct kbs_ctx *k, const struct http_request *req, json_t **out,
		      char *why, size_t whylen)
{
	size_t len;
	const uint8_t *body = http_request_body(req, &len);
	struct json_err jerr;
	int rc;

	*out = NULL;
	rc = json_parse((const char *)body, len, k->max_body, out, &jerr);
	if (rc != KBS_OK)
		snprintf(why, whylen, "request body is not valid JSON: %s", jerr.msg);
	else if (!json_is_object(*out)) {
		snprintf(why, whylen, "request body is not a JSON object");
		json_decref(*out);
		*out = NULL;
		rc = KBS_ERR_PARSE;
	}
	return rc;
}

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

static int handle_auth(struct kbs_ctx *k, const struct http_request *req,
		       struct http_response *resp)
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
	rc = sess_create(k, tee,
				k->cfg->session_lifetime_s > 0 ? k->cfg->session_lifetime_s
								: k->cfg->session_timeout_min * 60,
				time(NULL), id, nonce, &expires);
	if (rc == KBS_ERR_UNAVAILABLE) {
		json_decref(body);
		return respond_unavailable(resp, "RCAR handshake Auth");
	}
	if (rc != KBS_OK) {
		snprintf(why, sizeof(why), "cannot create session (%s)", kbs_strerror(rc));
		goto fail;
	}
	/* base64 nonce: no JSON escaping needed */
	resp->status = 200;
	buf_reset(&resp->body);
	if (buf_printf(&resp->body, "{\"nonce\":\"%s\",\"extra-params\":\"\"}", nonce) != KBS_OK ||
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

static int respond_token(struct http_response *resp, const char *id, time_t expires,
			 const char *token)
{
	int rc;

	/* a JWS compact token is base64url and dots: no JSON escaping needed */
	if (strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") !=
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

static int handle_attest(struct kbs_ctx *k, const struct http_request *req,
			 struct http_response *resp)
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
	rc = sess_get(k, id, time(NULL), &s);
	if (rc == KBS_ERR_UNAVAILABLE)
		return respond_unavailable(resp, "RCAR handshake Attest");
	if (rc != KBS_OK) {
		snprintf(why, sizeof(why), "session %s", rc == KBS_ERR_EXPIRED ? "expired" :
							 "unknown");
		goto fail;
	}
	if (s.attested && s.token) {
		/* Trustee returns the stored token again without re-verifying */
		rc = respond_token(resp, id, s.expires, s.token);
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
	rc = sess_consume_nonce(k, id, nonce, time(NULL));
	if (rc == KBS_ERR_UNAVAILABLE) {
		rc = respond_unavailable(resp, "RCAR handshake Attest");
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
		rc = respond_unavailable(resp, "attestation policy");
		goto done;
	}
	if (rc != KBS_OK)
		goto fail;
	if ((rc = sess_set_token(k, id, res.token)) == KBS_ERR_UNAVAILABLE) {
		rc = respond_unavailable(resp, "RCAR handshake Attest");
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
	rc = respond_token(resp, id, s.expires, res.token);
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

/* ------------------------------------------------------------------ resources */

static int eval_resource_policy(struct kbs_ctx *k, json_t *claims, const char *plugin,
				const char seg[3][KBS_SEG_MAX + 1], int nseg, const char *query,
				char *rule, size_t rulelen, char *why, size_t whylen)
{
	const struct policy_engine *eng;
	json_t *data, *segs, *result = NULL;
	char *text;
	size_t len;
	int rc;

	segs = json_array();
	for (int i = 0; i < nseg && segs; i++)
		json_array_append_new(segs, json_string(seg[i]));
	data = json_pack("{s:s,s:o,s:o}", "plugin", plugin, "resource-path", segs, "query",
			 parse_query(query));
	if (!data)
		return KBS_ERR_NOMEM;
	pthread_rwlock_rdlock(&k->policy_lock);
	eng = k->engine;
	len = k->resource_policy_len;
	text = k->pg ? NULL : malloc(len + 1);
	if (text)
		memcpy(text, k->resource_policy, len + 1);
	pthread_rwlock_unlock(&k->policy_lock);
	if (k->pg) {
		/* the shared copy, read at every request: no replica serves a stale policy */
		struct buf b;
		buf_init(&b, MAX_POLICY_TEXT);
		rc = pgstore_get(k->pg, PGSTORE_NS_KBS, PG_POLICY_KEY, &b);
		if (rc == KBS_OK && !(text = buf_steal(&b, &len)))
			rc = KBS_ERR_NOMEM;
		buf_release(&b);
		if (rc != KBS_OK) {
			snprintf(why, whylen, "resource policy unavailable (%s)", kbs_strerror(rc));
			json_decref(data);
			return rc == KBS_ERR_NOTFOUND ? KBS_ERR_INTERNAL : rc;
		}
	}
	if (!text) {
		json_decref(data);
		return KBS_ERR_NOMEM;
	}
	kbs_metrics_inc(k->metrics, KBS_CNT_POLICY_EVALUATIONS);
	rc = eng->eval(eng->ctx, text, len, "data.policy.allow", claims, data, NULL, &result, rule,
		       rulelen, why, whylen);
	if (rc != KBS_OK) {
		kbs_metrics_inc(k->metrics, KBS_CNT_POLICY_ERRORS);
	} else if (!json_is_true(result)) {
		kbs_metrics_inc(k->metrics, KBS_CNT_POLICY_VIOLATIONS);
		if (!rule[0])
			snprintf(rule, rulelen, "allow is %s", result ? "not true" : "undefined");
		rc = KBS_ERR_DENIED;
	} else {
		kbs_metrics_inc(k->metrics, KBS_CNT_POLICY_APPROVALS);
	}
	json_decref(result);
	json_decref(data);
	free(text);
	return rc;
}

static int handle_resource_get(struct kbs_ctx *k, struct repo *repo, const char *plugin,
			       const struct http_request *req, struct http_response *resp,
			       const char *rpath)
{
	char id[KBS_SESSION_ID_LEN + 8], why[300] = "", rule[320] = "";
	char seg[3][KBS_SEG_MAX + 1];
	const char *segp[3] = {seg[0], seg[1], seg[2]};
	struct kbs_session_info s = {0};
	const char *tok = NULL;
	json_t *claims = NULL;
	struct jwk *tk = NULL;
	struct secbuf pt = {0};
	int rc, cached = 0;

	if (http_request_cookie(req, "kbs-session-id", id, sizeof(id)) == KBS_OK) {
		rc = sess_get(k, id, time(NULL), &s);
		if (rc == KBS_ERR_UNAVAILABLE) {
			rc = respond_unavailable(resp, "session lookup");
			goto out;
		}
		if (rc == KBS_OK && s.attested)
			tok = s.token;
	}
	if (!tok)
		tok = bearer(req);
	if (!tok) {
		rc = kbs_error_respond(resp, KBS_WERR_TOKEN_NOT_FOUND,
				       "no attested kbs-session-id cookie and no Authorization: "
				       "Bearer token");
		goto out;
	}
	rc = kbs_tokver_verify(k->tokver, tok, strlen(tok), &claims, &tk, &cached, why,
			       sizeof(why));
	if (cached)
		kbs_metrics_inc(k->metrics, KBS_CNT_TOKEN_CACHE_HITS);
	if (rc != KBS_OK) {
		rc = kbs_error_respond(resp, KBS_WERR_TOKEN_VERIFIER, "%s", why);
		goto out;
	}
	if (kbs_resource_path_parse(rpath, seg, why, sizeof(why)) != KBS_OK) {
		rc = kbs_error_respond(resp, KBS_WERR_PLUGIN_INTERNAL, "invalid resource path: %s",
				       why);
		goto out;
	}
	rc = eval_resource_policy(k, claims, plugin, seg, 3, http_request_query(req), rule,
				  sizeof(rule), why, sizeof(why));
	if (rc == KBS_ERR_DENIED) {
		log_info("kbs: resource %s/%s/%s denied to %s by policy rule %s", seg[0], seg[1],
			 seg[2], http_request_peer(req), rule);
		rc = kbs_error_respond(resp, KBS_WERR_POLICY_DENY,
				       "resource %s/%s/%s denied by policy rule: %s", seg[0],
				       seg[1], seg[2], rule);
		goto out;
	}
	if (rc == KBS_ERR_UNAVAILABLE) {
		rc = respond_unavailable(resp, "resource policy");
		goto out;
	}
	if (rc != KBS_OK) {
		rc = kbs_error_respond(resp, KBS_WERR_POLICY_ENGINE, "%s", why);
		goto out;
	}
	rc = repo->ops->read(repo, segp, &pt);
	if (rc == KBS_ERR_UNAVAILABLE) {
		rc = respond_repo_unavailable(repo, resp, "resource read");
		goto out;
	}
	if (rc != KBS_OK) {
		bool fs = strcmp(repo->ops->name, "LocalFs") == 0;
		rc = kbs_error_respond(resp, KBS_WERR_PLUGIN_INTERNAL, "resource %s/%s/%s %s%s",
				       seg[0], seg[1], seg[2],
				       rc == KBS_ERR_NOTFOUND		? "not found"
				       : rc == KBS_ERR_PERM && fs	? "refused: path escapes the "
									  "repository"
				       : rc == KBS_ERR_PERM		? "refused: access denied by "
									  "the backend "
									: "could not be read",
				       rc == KBS_ERR_PERM && !fs ? repo->ops->name : "");
		goto out;
	}
	kbs_metrics_inc(k->metrics, KBS_CNT_RESOURCE_READS);
	if (!tk) {
		rc = kbs_error_respond(resp, KBS_WERR_TOKEN_VERIFIER,
				       "no usable TEE public key in the token claims");
		goto out;
	}
	buf_reset(&resp->body);
	rc = jwe_encrypt(tk, NULL, pt.p, pt.len, &resp->body);
	if (rc != KBS_OK) {
		rc = kbs_error_respond(resp, KBS_WERR_JWE, "cannot encrypt to the TEE key (%s)",
				       kbs_strerror(rc));
		goto out;
	}
	resp->status = 200;
	rc = http_response_header(resp, "Content-Type", "application/json");
out:
	secbuf_free(&pt);
	jwk_free(tk);
	json_decref(claims);
	kbs_session_info_release(&s);
	return rc;
}

static void request_uri(const struct http_request *req, char *out, size_t outlen)
{
	const char *q = http_request_query(req);

	snprintf(out, outlen, "%s%s%s", http_request_path(req), q ? "?" : "", q ? q : "");
}

/* Admin gate. endpoint NULL = plugin admin call (Trustee reports AdminAuthInitialization). */
static bool admin_ok(struct kbs_ctx *k, const struct http_request *req,
		     struct http_response *resp, const char *endpoint)
{
	char uri[2048], why[400];

	request_uri(req, uri, sizeof(uri));
	if (kbs_admin_check(k->admin, http_request_header(req, "Authorization"), uri, why,
			    sizeof(why)) == KBS_OK)
		return true;
	log_info("kbs: admin call %s %s from %s refused: %s", http_request_method(req),
		 http_request_path(req), http_request_peer(req), why);
	if (endpoint)
		kbs_error_respond(resp, KBS_WERR_ADMIN_AUTH_ACCESS, "%s: %s", endpoint,
				  why);
	else
		kbs_error_respond(resp, KBS_WERR_ADMIN_AUTH_INIT, "%s", why);
	return false;
}

static int handle_resource_write(struct kbs_ctx *k, struct repo *repo,
				 const struct http_request *req, struct http_response *resp,
				 const char *rpath, bool del)
{
	char seg[3][KBS_SEG_MAX + 1], why[300];
	const char *segp[3] = {seg[0], seg[1], seg[2]};
	const uint8_t *body;
	size_t len;
	int rc;

	if (!admin_ok(k, req, resp, NULL))
		return KBS_OK;
	if (kbs_resource_path_parse(rpath, seg, why, sizeof(why)) != KBS_OK)
		return kbs_error_respond(resp, KBS_WERR_PLUGIN_INTERNAL,
					 "invalid resource path: %s", why);
	if ((del && !repo->ops->remove) || (!del && !repo->ops->write))
		return kbs_error_respond(resp, KBS_WERR_PLUGIN_INTERNAL,
					 "resource backend %s is read-only", repo->ops->name);
	if (del) {
		rc = repo->ops->remove(repo, segp);
		if (rc == KBS_ERR_UNAVAILABLE)
			return respond_repo_unavailable(repo, resp, "resource delete");
		if (rc != KBS_OK)
			return kbs_error_respond(resp, KBS_WERR_PLUGIN_INTERNAL,
						 "resource %s/%s/%s %s", seg[0], seg[1], seg[2],
						 rc == KBS_ERR_NOTFOUND ? "not found"
									: "could not be deleted");
		kbs_metrics_inc(k->metrics, KBS_CNT_RESOURCE_DELETES);
		log_info("kbs: resource %s/%s/%s deleted", seg[0], seg[1], seg[2]);
	} else {
		char dg[32];
		body = http_request_body(req, &len);
		rc = repo->ops->write(repo, segp, body, len);
		if (rc == KBS_ERR_UNAVAILABLE)
			return respond_repo_unavailable(repo, resp, "resource write");
		if (rc != KBS_OK)
			return kbs_error_respond(resp, KBS_WERR_PLUGIN_INTERNAL,
						 "resource %s/%s/%s could not be stored (%s)", seg[0],
						 seg[1], seg[2], kbs_strerror(rc));
		kbs_metrics_inc(k->metrics, KBS_CNT_RESOURCE_WRITES);
		log_digest(body, len, dg, sizeof(dg));
		log_info("kbs: resource %s/%s/%s stored (%zu bytes, %s)", seg[0], seg[1], seg[2],
			 len, dg);
	}
	resp->status = 200;
	buf_reset(&resp->body);
	return http_response_header(resp, "Content-Type", "text/xml");
}

/* ------------------------------------------------------------------ admin endpoints */

static int handle_resource_policy(struct kbs_ctx *k, const struct http_request *req,
				  struct http_response *resp, bool get)
{
	json_t *body = NULL;
	const char *p64;
	uint8_t *text = NULL;
	size_t len;
	char why[400];
	int rc;

	if (!admin_ok(k, req, resp, "resource-policy"))
		return KBS_OK;
	if (get) {
		json_t *ids = json_pack("[s]", "resource-policy");
		rc = ids ? respond_json(resp, 200, ids) : KBS_ERR_NOMEM;
		json_decref(ids);
		return rc;
	}
	if (parse_body(k, req, &body, why, sizeof(why)) != KBS_OK ||
	    !(p64 = json_string_value(json_object_get(body, "policy")))) {
		json_decref(body);
		return kbs_error_respond(resp, KBS_WERR_PARSE_POLICY,
					 "body must be {\"policy\":\"<base64url Rego>\"}");
	}
	if (b64_decode_alloc(p64, strlen(p64), B64_URL, &text, &len) != KBS_OK) {
		json_decref(body);
		return kbs_error_respond(resp, KBS_WERR_PARSE_POLICY,
					 "policy is not base64url without padding");
	}
	rc = set_resource_policy(k, (const char *)text, len, true, why, sizeof(why));
	free(text);
	json_decref(body);
	if (rc == KBS_ERR_UNAVAILABLE)
		return respond_unavailable(resp, "resource policy upload");
	if (rc != KBS_OK)
		return kbs_error_respond(resp, KBS_WERR_POLICY_ENGINE, "%s", why);
	log_info("kbs: resource policy replaced (%zu bytes)", len);
	resp->status = 200;
	buf_reset(&resp->body);
	return KBS_OK;
}

static int handle_attestation_policy(struct kbs_ctx *k, const struct http_request *req,
				     struct http_response *resp)
{
	json_t *body = NULL;
	const char *p64, *id;
	uint8_t *text = NULL;
	size_t len;
	char why[400];
	int rc;

	if (!admin_ok(k, req, resp, "attestation-policy"))
		return KBS_OK;
	if (parse_body(k, req, &body, why, sizeof(why)) != KBS_OK ||
	    !(p64 = json_string_value(json_object_get(body, "policy"))) ||
	    !(id = json_string_value(json_object_get(body, "policy_id")))) {
		json_decref(body);
		return kbs_error_respond(resp, KBS_WERR_ATTESTATION,
					 "body must be {\"policy_id\":...,\"policy\":\"<base64url "
					 "Rego>\"}");
	}
	if (b64_decode_alloc(p64, strlen(p64), B64_URL, &text, &len) != KBS_OK) {
		json_decref(body);
		return kbs_error_respond(resp, KBS_WERR_ATTESTATION,
					 "policy is not base64url without padding");
	}
	rc = k->asg ? kbs_as_grpc_set_policy(k->asg, id, (const char *)text, len, why, sizeof(why))
		    : as_set_policy(k->as, id, (const char *)text, len, why, sizeof(why));
	free(text);
	if (rc == KBS_ERR_UNAVAILABLE) {
		json_decref(body);
		return respond_unavailable(resp, "attestation policy");
	}
	if (rc != KBS_OK) {
		rc = kbs_error_respond(resp, KBS_WERR_ATTESTATION, "set attestation policy %.64s: "
				       "%s", id, why);
		json_decref(body);
		return rc;
	}
	log_info("kbs: attestation policy %s replaced (%zu bytes)", id, len);
	json_decref(body);
	resp->status = 200;
	buf_reset(&resp->body);
	return KBS_OK;
}

static int handle_reference_value(struct kbs_ctx *k, const struct http_request *req,
				  struct http_response *resp, const char *rest, bool get)
{
	char why[300];
	int rc;

	if (!admin_ok(k, req, resp, "reference-value"))
		return KBS_OK;
	if (get) {
		json_t *v = NULL;
		/* the RVPS says why: absent, expired, store or remote RVPS unavailable */
		if (rvps_query(as_rvps(k->as), rest, &v, why, sizeof(why)) != KBS_OK)
			return kbs_error_respond(resp, KBS_WERR_RVPS, "%s", why);
		rc = respond_json(resp, 200, v);
		json_decref(v);
		return rc;
	}
	size_t len;
	const uint8_t *body = http_request_body(req, &len);
	if (as_rv_register(k->as, (const char *)body, len, why, sizeof(why)) != KBS_OK)
		return kbs_error_respond(resp, KBS_WERR_RVPS, "%s", why);
	resp->status = 200;
	buf_reset(&resp->body);
	return http_response_header(resp, "Content-Type", "application/json");
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
		return handle_auth(k, req, resp);
	}
	if ((k->as || k->asg) && strcmp(plugin, "attest") == 0 && post && !slash) {
		*ep = KBS_EP_ATTEST;
		return handle_attest(k, req, resp);
	}
	if (strcmp(plugin, "resource-policy") == 0 && (post || get) && !slash) {
		*ep = KBS_EP_RESOURCE_POLICY;
		return handle_resource_policy(k, req, resp, get);
	}
	if ((k->as || k->asg) && strcmp(plugin, "attestation-policy") == 0 && post && !slash) {
		*ep = KBS_EP_ATTESTATION_POLICY;
		return handle_attestation_policy(k, req, resp);
	}
	if (k->as && strcmp(plugin, "reference-value") == 0 &&
	    ((post && !slash) || (get && *rest))) {
		*ep = KBS_EP_REFERENCE_VALUE;
		return handle_reference_value(k, req, resp, rest, get);
	}
	if (strcmp(plugin, "resource") == 0 && k->cfg->resource_plugin) {
		*ep = KBS_EP_RESOURCE;
		if (get)
			return handle_resource_get(k, k->repo, "resource", req, resp, rest);
		if (post || del)
			return handle_resource_write(k, k->repo, req, resp, rest, del);
		return kbs_error_respond(resp, KBS_WERR_PLUGIN_INTERNAL,
					 "method %s not supported by the resource plugin", m);
	}
	if (strcmp(plugin, "pkcs11") == 0 && k->p11_repo && strncmp(rest, "resource/", 9) == 0) {
		/* Trustee's pkcs11 plugin: GET attested + encrypted, POST admin */
		*ep = KBS_EP_RESOURCE;
		if (get)
			return handle_resource_get(k, k->p11_repo, "pkcs11", req, resp, rest + 9);
		if (post)
			return handle_resource_write(k, k->p11_repo, req, resp, rest + 9, false);
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
