// SPDX-License-Identifier: Apache-2.0
#include "rvps/rvps.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "rvps/rvps_remote.h"
#include "rvps/rvps_store.h"

#define DEFAULT_LOCAL_FS "/opt/confidential-containers/storage/local_fs"
#define DEFAULT_LOCAL_JSON "/opt/confidential-containers/storage/local_json"

struct rvps {
	struct rvps_config cfg;
	pthread_mutex_t lock;
	struct rvps_store *store;   /* built-in */
	struct rvps_remote *remote; /* GrpcRemote */
	int64_t (*now)(void);
};

void rvps_config_init(struct rvps_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
}

void rvps_config_release(struct rvps_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->address);
	free(cfg->dir_path);
	free(cfg->file_dir_path);
	rvps_config_init(cfg);
}

static int dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	if (src && !(*dst = strdup(src)))
		return KBS_ERR_NOMEM;
	return KBS_OK;
}

int rvps_config_copy(struct rvps_config *dst, const struct rvps_config *src)
{
	rvps_config_init(dst);
	dst->mode = src->mode;
	dst->storage = src->storage;
	dst->kv = src->kv;
	dst->kv_ctx = src->kv_ctx;
	dst->validity_months = src->validity_months;
	dst->check_only = src->check_only;
	if (dup_opt(&dst->address, src->address) || dup_opt(&dst->dir_path, src->dir_path) ||
	    dup_opt(&dst->file_dir_path, src->file_dir_path)) {
		rvps_config_release(dst);
		return KBS_ERR_NOMEM;
	}
	return KBS_OK;
}

static int type_err(char *why, size_t whylen, const char *key, const char *want,
		    const json_t *v)
{
	snprintf(why, whylen, "key '%s': expected %s, got %s", key, want, json_type_name(v));
	return KBS_ERR_INVAL;
}

/* Optional string member; replaces *out when present. */
static int opt_str(const json_t *obj, const char *key, const char *path, char **out, char *why,
		   size_t whylen)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return KBS_OK;
	if (!json_is_string(v))
		return type_err(why, whylen, path, "string", v);
	free(*out);
	*out = strdup(json_string_value(v));
	return *out ? KBS_OK : KBS_ERR_NOMEM;
}

static int parse_storage_type(const char *s, enum rvps_storage *out, char *why, size_t whylen)
{
	if (!strcasecmp(s, "memory"))
		*out = RVPS_STORE_MEMORY;
	else if (!strcmp(s, "LocalFs") || !strcmp(s, "local_fs"))
		*out = RVPS_STORE_LOCALFS;
	else if (!strcmp(s, "LocalJson") || !strcmp(s, "local_json"))
		*out = RVPS_STORE_LOCALJSON;
	else if (!strcasecmp(s, "postgres") || !strcasecmp(s, "redis")) {
		snprintf(why, whylen, "storage_type '%s' is only available through the kbs "
				      "storage_backend", s);
		return KBS_ERR_UNSUPPORTED;
	} else {
		snprintf(why, whylen, "unknown storage_type '%.64s' (Memory, LocalFs, LocalJson)",
			 s);
		return KBS_ERR_INVAL;
	}
	return KBS_OK;
}

int rvps_storage_from_json(const json_t *obj, struct rvps_config *cfg, char *why,
			   size_t whylen)
{
	json_t *st, *be, *lfs = NULL, *ljs = NULL;
	int rc;

	if (!json_is_object(obj))
		return type_err(why, whylen, "storage", "object", obj);
	st = json_object_get(obj, "storage_type");
	be = json_object_get(obj, "backends");
	cfg->storage = RVPS_STORE_MEMORY;
	if (st && !json_is_string(st))
		return type_err(why, whylen, "storage.storage_type", "string", st);
	if (st && (rc = parse_storage_type(json_string_value(st), &cfg->storage, why, whylen)))
		return rc;
	if (be && !json_is_object(be))
		return type_err(why, whylen, "storage.backends", "object", be);
	if (be) {
		lfs = json_object_get(be, "local_fs");
		ljs = json_object_get(be, "local_json");
		if (lfs && !json_is_null(lfs) && !json_is_object(lfs))
			return type_err(why, whylen, "storage.backends.local_fs", "object", lfs);
		if (ljs && !json_is_null(ljs) && !json_is_object(ljs))
			return type_err(why, whylen, "storage.backends.local_json", "object", ljs);
	}
	if (cfg->storage == RVPS_STORE_LOCALFS) {
		if (!json_is_object(lfs)) {
			snprintf(why, whylen, "Local FS configuration is required");
			return KBS_ERR_INVAL;
		}
		if ((rc = dup_opt(&cfg->dir_path, DEFAULT_LOCAL_FS)) ||
		    (rc = opt_str(lfs, "dir_path", "storage.backends.local_fs.dir_path",
				  &cfg->dir_path, why, whylen)))
			return rc;
	}
	if (cfg->storage == RVPS_STORE_LOCALJSON) {
		if (!json_is_object(ljs)) {
			snprintf(why, whylen, "Local JSON configuration is required");
			return KBS_ERR_INVAL;
		}
		if ((rc = dup_opt(&cfg->file_dir_path, DEFAULT_LOCAL_JSON)) ||
		    (rc = opt_str(ljs, "file_dir_path", "storage.backends.local_json.file_dir_path",
				  &cfg->file_dir_path, why, whylen)))
			return rc;
	}
	return KBS_OK;
}

static int parse_extractors(const json_t *obj, char *why, size_t whylen)
{
	json_t *ex = json_object_get(obj, "extractors");

	if (ex && !json_is_null(ex) && !json_is_object(ex))
		return type_err(why, whylen, "extractors", "object", ex);
	/* swid_extractor has no settings; the sample, swid and corim extractors are always on */
	return KBS_OK;
}

int rvps_config_from_json(const json_t *obj, struct rvps_config *cfg, char *why, size_t whylen)
{
	json_t *st;
	int rc;

	if (!json_is_object(obj))
		return type_err(why, whylen, "(root)", "object", obj);
	if ((rc = parse_extractors(obj, why, whylen)) != KBS_OK)
		return rc;
	cfg->mode = RVPS_BUILTIN;
	cfg->storage = RVPS_STORE_MEMORY;
	st = json_object_get(obj, "storage");
	if (st && !json_is_null(st)) {
		/* Trustee <= v0.17 wrote {"type": "LocalFs", "file_path": ...}; the current
		 * StorageBackendConfig has no such keys, so Trustee falls back to Memory */
		if (json_is_object(st) && json_object_get(st, "type") &&
		    !json_object_get(st, "storage_type")) {
			log_warn("rvps: legacy storage config {\"type\",\"file_path\"} is not "
				 "read by Trustee >= v0.18 either; using Memory");
			return KBS_OK;
		}
		if ((rc = rvps_storage_from_json(st, cfg, why, whylen)) != KBS_OK)
			return rc;
	}
	return KBS_OK;
}

int rvps_config_from_as_json(const json_t *obj, struct rvps_config *cfg, char *why,
			     size_t whylen)
{
	json_t *t, *st;
	int rc;

	if (!json_is_object(obj))
		return type_err(why, whylen, "rvps_config", "table", obj);
	t = json_object_get(obj, "type");
	if (t && !json_is_string(t))
		return type_err(why, whylen, "rvps_config.type", "string", t);
	if (!t || !strcmp(json_string_value(t), "BuiltIn")) {
		cfg->mode = RVPS_BUILTIN;
		if ((rc = parse_extractors(obj, why, whylen)) != KBS_OK)
			return rc;
		st = json_object_get(obj, "storage_type");
		if (st && !json_is_null(st)) {
			if (!json_is_string(st))
				return type_err(why, whylen, "rvps_config.storage_type", "string",
						st);
			return parse_storage_type(json_string_value(st), &cfg->storage, why,
						  whylen);
		}
		return KBS_OK;
	}
	if (!strcmp(json_string_value(t), "GrpcRemote")) {
		cfg->mode = RVPS_GRPC_REMOTE;
		if ((rc = dup_opt(&cfg->address, RVPS_DEFAULT_ADDRESS)) ||
		    (rc = opt_str(obj, "address", "rvps_config.address", &cfg->address, why,
				  whylen)))
			return rc;
		return KBS_OK;
	}
	snprintf(why, whylen, "key 'rvps_config.type': unknown RVPS type '%.64s' (BuiltIn, "
			      "GrpcRemote)", json_string_value(t));
	return KBS_ERR_INVAL;
}

static int64_t sys_now(void)
{
	return (int64_t)time(NULL);
}

int rvps_new(const struct rvps_config *cfg, struct rvps **out, char *why, size_t whylen)
{
	struct rvps *r = calloc(1, sizeof(*r));
	int rc = KBS_ERR_NOMEM;

	*out = NULL;
	if (!r)
		return KBS_ERR_NOMEM;
	pthread_mutex_init(&r->lock, NULL);
	r->now = sys_now;
	if ((rc = rvps_config_copy(&r->cfg, cfg)) != KBS_OK)
		goto out;
	if (cfg->mode == RVPS_GRPC_REMOTE) {
		rc = rvps_remote_new(cfg->address ? cfg->address : RVPS_DEFAULT_ADDRESS,
				     &r->remote, why, whylen);
		if (rc != KBS_OK)
			goto out;
		log_info("rvps: remote RVPS at %s", cfg->address ? cfg->address
								 : RVPS_DEFAULT_ADDRESS);
	} else {
		if ((rc = rvps_store_open(cfg, &r->store, why, whylen)) != KBS_OK)
			goto out;
		log_info("rvps: reference values in %s", rvps_store_desc(r->store));
	}
	*out = r;
	r = NULL;
	rc = KBS_OK;
out:
	rvps_free(r);
	return rc;
}

void rvps_free(struct rvps *r)
{
	if (!r)
		return;
	rvps_store_free(r->store);
	rvps_remote_free(r->remote);
	rvps_config_release(&r->cfg);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void rvps_set_clock(struct rvps *r, int64_t (*now)(void))
{
	r->now = now ? now : sys_now;
}

int rvps_register(struct rvps *r, const char *msg, size_t len, char *why, size_t whylen)
{
	struct rvps_rv_list l = {0};
	int rc;

	if (r->remote)
		return rvps_remote_register(r->remote, msg, len, why, whylen);
	if ((rc = rvps_message_extract(msg, len, r->now(), r->cfg.validity_months, &l, why,
				       whylen)) != KBS_OK)
		goto out;
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < l.n && rc == KBS_OK; i++) {
		size_t n;
		char *rec = rvps_record_dump(&l.v[i], &n);
		if (!rec) {
			rc = KBS_ERR_NOMEM;
			snprintf(why, whylen, "cannot serialise reference value %.128s",
				 l.v[i].name);
			break;
		}
		if ((rc = rvps_store_set(r->store, l.v[i].name, rec, n)) != KBS_OK)
			snprintf(why, whylen, "cannot store reference value %.128s: %s",
				 l.v[i].name, kbs_strerror(rc));
		free(rec);
	}
	pthread_mutex_unlock(&r->lock);
	if (rc == KBS_OK)
		log_info("rvps: registered %zu reference value(s)", l.n);
out:
	rvps_rv_list_release(&l);
	return rc;
}

int rvps_query(struct rvps *r, const char *name, json_t **out, char *why, size_t whylen)
{
	struct rvps_rv rv = {0};
	struct buf b;
	int rc;

	*out = NULL;
	if (r->remote)
		return rvps_remote_query(r->remote, name, out, why, whylen);
	buf_init(&b, RVPS_MAX_MESSAGE);
	pthread_mutex_lock(&r->lock);
	rc = rvps_store_get(r->store, name, &b);
	pthread_mutex_unlock(&r->lock);
	if (rc == KBS_ERR_NOTFOUND) {
		snprintf(why, whylen, "reference value %.128s not found", name);
		goto out;
	}
	if (rc != KBS_OK) {
		snprintf(why, whylen, "cannot read reference value %.128s: %s", name,
			 kbs_strerror(rc));
		goto out;
	}
	if ((rc = rvps_record_parse(b.p, b.len, &rv)) != KBS_OK) {
		snprintf(why, whylen, "stored reference value %.128s is malformed", name);
		goto out;
	}
	/* Trustee returns expired values; we do not (documented in docs/rvps.md) */
	if (r->now() > rv.expiration) {
		log_info("rvps: reference value %.128s expired, not returned", name);
		snprintf(why, whylen, "reference value %.128s expired", name);
		rc = KBS_ERR_NOTFOUND;
		goto out;
	}
	*out = json_incref(rv.value);
	rc = KBS_OK;
out:
	rvps_rv_release(&rv);
	buf_release(&b);
	return rc;
}

int rvps_delete(struct rvps *r, const char *name, char *why, size_t whylen)
{
	int rc;

	if (r->remote) {
		snprintf(why, whylen, "the remote RVPS API has no delete");
		return KBS_ERR_UNSUPPORTED;
	}
	pthread_mutex_lock(&r->lock);
	rc = rvps_store_del(r->store, name);
	pthread_mutex_unlock(&r->lock);
	if (rc != KBS_OK)
		snprintf(why, whylen, "cannot delete reference value %.128s: %s", name,
			 kbs_strerror(rc));
	return rc;
}
