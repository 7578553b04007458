// SPDX-License-Identifier: Apache-2.0
#include "server/kbs/kbs_config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/toml.h"

struct cp {
	const struct toml_doc *doc;
	const char *file;
	char *err;
	size_t errlen;
	struct kbs_config *cfg;
};

static void cfg_free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void kbs_config_init(struct kbs_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->payload_request_size_mib = 2;
	cfg->session_timeout_min = 5;
	cfg->resource_plugin = true;
	cfg->pg_port = 5432;
	cfg->pg_pool_size = 4;
	cfg->as_pool_size = 100;
	cfg->admin_mode = KBS_ADMIN_DENY_ALL;
	as_config_init(&cfg->as);
}

void kbs_config_check_only(struct kbs_config *cfg)
{
	cfg->check_only = true;
	cfg->as.rvps.check_only = true;
}

void kbs_config_release(struct kbs_config *cfg)
{
	if (!cfg)
		return;
	cfg_free_strv(cfg->sockets, cfg->nsockets);
	free(cfg->private_key);
	free(cfg->certificate);
	free(cfg->tls_profile);
	free(cfg->tls_min_version);
	free(cfg->tls_max_version);
	free(cfg->tls_ciphers);
	free(cfg->tls_groups);
	cfg_free_strv(cfg->trusted_certs_paths, cfg->ntrusted_certs);
	cfg_free_strv(cfg->trusted_jwk_sets, cfg->ntrusted_jwk_sets);
	free(cfg->jwks_ca_file);
	free(cfg->as_addr);
	cfg_free_strv(cfg->extra_teekey_paths, cfg->nextra_teekey_paths);
	as_config_release(&cfg->as);
	for (size_t i = 0; i < cfg->nidps; i++) {
		free(cfg->idps[i].issuer);
		free(cfg->idps[i].audience);
		free(cfg->idps[i].public_key_uri);
		free(cfg->idps[i].jwk_set_uri);
	}
	free(cfg->idps);
	for (size_t i = 0; i < cfg->nacls; i++) {
		free(cfg->acls[i].role);
		free(cfg->acls[i].regex);
	}
	free(cfg->acls);
	cfg_free_strv(cfg->legacy_admin_keys, cfg->nlegacy_admin_keys);
	free(cfg->storage_dir);
	free(cfg->pg_host);
	free(cfg->pg_db);
	free(cfg->pg_username);
	free(cfg->pg_password);
	free(cfg->repository_dir);
	json_decref(cfg->resource_backend_cfg);
	json_decref(cfg->pkcs11_plugin_cfg);
	free(cfg->policy_path);
	kbs_config_init(cfg);
}

static void join(char *out, size_t outlen, const char *tbl, const char *key)
{
	snprintf(out, outlen, "%s%s%s", tbl, *tbl ? "." : "", key);
}

static int line_of(struct cp *p, const char *path)
{
	int line = 0, col = 0;

	if (p->doc && toml_key_position(p->doc, path, &line, &col) == 0)
		return line;
	return 0;
}

static int fail(struct cp *p, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct cp *p, const char *path, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	int line = line_of(p, path);

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(p->err, p->errlen, "%s:%d: key '%s': %s", p->file, line, path, msg);
	else
		snprintf(p->err, p->errlen, "%s: key '%s': %s", p->file, path, msg);
	return KBS_ERR_INVAL;
}

static int type_err(struct cp *p, const char *path, const char *want, const json_t *v)
{
	return fail(p, path, "expected %s, got %s", want, json_type_name(v));
}

static void warn_unknown(struct cp *p, const json_t *tbl, const char *tblpath,
			 const char *const *known)
{
	const char *k;
	json_t *v;
	char path[256];

	if (!json_is_object(tbl))
		return;
	json_object_foreach((json_t *)tbl, k, v) {
		const char *const *kn;
		for (kn = known; *kn; kn++)
			if (strcmp(*kn, k) == 0)
				break;
		if (*kn)
			continue;
		join(path, sizeof(path), tblpath, k);
		int line = line_of(p, path);
		log_warn("%s:%d: unknown configuration key '%s' ignored", p->file, line, path);
		p->cfg->nwarnings++;
	}
}

static int get_table(struct cp *p, const json_t *tbl, const char *tblpath, const char *key,
		     json_t **out)
{
	json_t *v = json_object_get(tbl, key);
	char path[256];

	*out = NULL;
	if (!v)
		return KBS_OK;
	join(path, sizeof(path), tblpath, key);
	if (!json_is_object(v))
		return type_err(p, path, "table", v);
	*out = v;
	return KBS_OK;
}

static int get_str(struct cp *p, const json_t *tbl, const char *tblpath, const char *key,
		   char **out)
{
	json_t *v = json_object_get(tbl, key);
	char path[256];

	if (!v)
		return KBS_OK;
	join(path, sizeof(path), tblpath, key);
	if (!json_is_string(v))
		return type_err(p, path, "string", v);
	free(*out);
	*out = strdup(json_string_value(v));
	return *out ? KBS_OK : KBS_ERR_NOMEM;
}

/* Borrowed string or NULL. */
static int peek_str(struct cp *p, const json_t *tbl, const char *tblpath, const char *key,
		    const char **out)
{
	json_t *v = json_object_get(tbl, key);
	char path[256];

	*out = NULL;
	if (!v)
		return KBS_OK;
	join(path, sizeof(path), tblpath, key);
	if (!json_is_string(v))
		return type_err(p, path, "string", v);
	*out = json_string_value(v);
	return KBS_OK;
}

static int get_bool(struct cp *p, const json_t *tbl, const char *tblpath, const char *key,
		    bool *out)
{
	json_t *v = json_object_get(tbl, key);
	char path[256];

	if (!v)
		return KBS_OK;
	join(path, sizeof(path), tblpath, key);
	if (!json_is_boolean(v))
		return type_err(p, path, "boolean", v);
	*out = json_is_true(v);
	return KBS_OK;
}

static int get_int(struct cp *p, const json_t *tbl, const char *tblpath, const char *key,
		   long min, long max, long *out)
{
	json_t *v = json_object_get(tbl, key);
	char path[256];

	if (!v)
		return KBS_OK;
	join(path, sizeof(path), tblpath, key);
	if (!json_is_integer(v))
		return type_err(p, path, "integer", v);
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return fail(p, path, "value %lld out of range %ld..%ld",
			    (long long)json_integer_value(v), min, max);
	*out = (long)json_integer_value(v);
	return KBS_OK;
}

static int get_strv(struct cp *p, const json_t *tbl, const char *tblpath, const char *key,
		    char ***out, size_t *n)
{
	json_t *v = json_object_get(tbl, key), *e;
	char path[256];
	size_t i;

	if (!v)
		return KBS_OK;
	join(path, sizeof(path), tblpath, key);
	if (!json_is_array(v))
		return type_err(p, path, "array of strings", v);
	json_array_foreach(v, i, e)
		if (!json_is_string(e))
			return fail(p, path, "element %zu: expected string, got %s", i,
				    json_type_name(e));
	cfg_free_strv(*out, *n);
	*n = 0;
	*out = calloc(json_array_size(v) + 1, sizeof(char *));
	if (!*out)
		return KBS_ERR_NOMEM;
	json_array_foreach(v, i, e) {
		(*out)[i] = strdup(json_string_value(e));
		if (!(*out)[i])
			return KBS_ERR_NOMEM;
		*n = i + 1;
	}
	return KBS_OK;
}

static int push_str(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(char *));

	if (!nv)
		return KBS_ERR_NOMEM;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return KBS_ERR_NOMEM;
	(*n)++;
	nv[*n] = NULL;
	return KBS_OK;
}

/* "file:///x" -> "/x"; plain paths unchanged. */
static const char *strip_file_uri(const char *u)
{
	return strncmp(u, "file://", 7) == 0 ? u + 7 : u;
}

/* ------------------------------------------------------------------ sections */

static int parse_http(struct cp *p, const json_t *t)
{
	static const char *const known[] = {"sockets", "insecure_http", "private_key",
					    "certificate", "payload_request_size", "worker_count",
					    "tls_profile", "tls_min_version", "tls_max_version",
					    "tls_ciphers", "tls_groups", NULL};
	struct kbs_config *c = p->cfg;
	const char *T = "http_server";
	long wc = 0;
	int rc;

	if ((rc = get_strv(p, t, T, "sockets", &c->sockets, &c->nsockets)) ||
	    (rc = get_bool(p, t, T, "insecure_http", &c->insecure_http)) ||
	    (rc = get_str(p, t, T, "private_key", &c->private_key)) ||
	    (rc = get_str(p, t, T, "certificate", &c->certificate)) ||
	    (rc = get_int(p, t, T, "payload_request_size", 1, 1024,
			  &c->payload_request_size_mib)) ||
	    (rc = get_int(p, t, T, "worker_count", 1, 1024, &wc)) ||
	    (rc = get_str(p, t, T, "tls_profile", &c->tls_profile)) ||
	    (rc = get_str(p, t, T, "tls_min_version", &c->tls_min_version)) ||
	    (rc = get_str(p, t, T, "tls_max_version", &c->tls_max_version)) ||
	    (rc = get_str(p, t, T, "tls_ciphers", &c->tls_ciphers)) ||
	    (rc = get_str(p, t, T, "tls_groups", &c->tls_groups)))
		return rc;
	c->worker_count = (int)wc;
	if (c->tls_profile && strcmp(c->tls_profile, "old") && strcmp(c->tls_profile, "intermediate") &&
	    strcmp(c->tls_profile, "modern") && strcmp(c->tls_profile, "custom"))
		return fail(p, "http_server.tls_profile",
			    "expected old, intermediate, modern or custom");
	for (int i = 0; i < 2; i++) {
		const char *v = i ? c->tls_max_version : c->tls_min_version;
		if (v && strcmp(v, "1.2") && strcmp(v, "1.3"))
			return fail(p, i ? "http_server.tls_max_version" : "http_server.tls_min_version",
				    "expected \"1.2\" or \"1.3\"");
	}
	if (c->tls_min_version && c->tls_max_version &&
	    strcmp(c->tls_min_version, c->tls_max_version) > 0)
		return fail(p, "http_server.tls_min_version", "greater than tls_max_version");
	warn_unknown(p, t, T, known);
	return KBS_OK;
}

static int parse_token(struct cp *p, const json_t *t, const char *T)
{
	static const char *const known[] = {"trusted_certs_paths", "trusted_jwk_sets",
					    "jwk_set_uris", "extra_teekey_paths",
					    "insecure_header_jwk", "insecure_key",
					    "attestation_token_type", NULL};
	struct kbs_config *c = p->cfg;
	bool legacy_insecure = false;
	int rc;

	if ((rc = get_strv(p, t, T, "trusted_certs_paths", &c->trusted_certs_paths,
			   &c->ntrusted_certs)) ||
	    (rc = get_strv(p, t, T, "trusted_jwk_sets", &c->trusted_jwk_sets,
			   &c->ntrusted_jwk_sets)) ||
	    (rc = get_strv(p, t, T, "extra_teekey_paths", &c->extra_teekey_paths,
			   &c->nextra_teekey_paths)) ||
	    (rc = get_bool(p, t, T, "insecure_header_jwk", &c->insecure_header_jwk)) ||
	    (rc = get_bool(p, t, T, "insecure_key", &legacy_insecure)))
		return rc;
	if (json_object_get(t, "jwk_set_uris") && !c->trusted_jwk_sets &&
	    (rc = get_strv(p, t, T, "jwk_set_uris", &c->trusted_jwk_sets,
			   &c->ntrusted_jwk_sets)))
		return rc;
	if (legacy_insecure)
		c->insecure_header_jwk = true;
	warn_unknown(p, t, T, known);
	return KBS_OK;
}

static int parse_as(struct cp *p, const json_t *t, const char *T)
{
	static const char *const known[] = {
		"type", "timeout", "rvps_config", "attestation_token_broker", "verifier_config",
		"storage_type", "work_dir", "policy_engine", "as_addr", "pool_size", "base_url",
		"api_key", "certs_file", "policy_ids", "allow_unmatched_policy",
		"attestation_token_config", "kbsfs_timeout_seconds", NULL};
	struct kbs_config *c = p->cfg;
	const char *type = NULL;
	char why[300];
	int rc;

	if ((rc = peek_str(p, t, T, "type", &type)) ||
	    (rc = get_int(p, t, T, "timeout", 1, 1440, &c->session_timeout_min)) ||
	    /* kbsfs extension: the lifetime in seconds (tests, short-lived setups) */
	    (rc = get_int(p, t, T, "kbsfs_timeout_seconds", 1, 86400, &c->session_lifetime_s)))
		return rc;
	if (!type || strcasecmp(type, "coco_as_builtin") == 0 ||
	    strcmp(type, "CoCoASBuiltIn") == 0)
		c->as_type = KBS_AS_BUILTIN;
	else if (strcasecmp(type, "coco_as_grpc") == 0 || strcmp(type, "CoCoASGrpc") == 0)
		c->as_type = KBS_AS_GRPC;
	else if (strcasecmp(type, "intel_ta") == 0 || strcmp(type, "IntelTA") == 0)
		c->as_type = KBS_AS_INTEL_TA;
	else
		return fail(p, "attestation_service.type",
			    "unknown attestation service type '%s' (coco_as_builtin, "
			    "coco_as_grpc, intel_ta)", type);
	if (c->as_type == KBS_AS_GRPC &&
	    ((rc = get_str(p, t, T, "as_addr", &c->as_addr)) ||
	     (rc = get_int(p, t, T, "pool_size", 1, 100000, &c->as_pool_size))))
		return rc;
	if (as_config_from_json(t, &c->as, why, sizeof(why)) != KBS_OK) {
		char path[256];
		const char *q = strchr(why, '\'');
		const char *e = q ? strchr(q + 1, '\'') : NULL;
		if (q && e && (size_t)(e - q - 1) < sizeof(path) - 40) {
			/* "key 'a.b': msg" from the AS parser: name the key once, with its line */
			const char *msg = why;
			snprintf(path, sizeof(path), "%s.%.*s", T, (int)(e - q - 1), q + 1);
			if (q == why + 4 && strncmp(why, "key ", 4) == 0 && e[1] == ':' && e[2] == ' ')
				msg = e + 3;
			return fail(p, path, "%s", msg);
		}
		return fail(p, T, "%s", why);
	}
	warn_unknown(p, t, T, known);
	return KBS_OK;
}

static int parse_idps(struct cp *p, const json_t *arr, const char *path)
{
	struct kbs_config *c = p->cfg;
	size_t i;
	json_t *e;

	if (!json_is_array(arr))
		return type_err(p, path, "array of tables", arr);
	c->idps = calloc(json_array_size(arr) + 1, sizeof(*c->idps));
	if (!c->idps)
		return KBS_ERR_NOMEM;
	json_array_foreach(arr, i, e) {
		static const char *const known[] = {"issuer", "audience", "public_key_uri",
						    "jwk_set_uri", NULL};
		struct kbs_idp *d = &c->idps[i];
		char ep[256];
		int rc;

		snprintf(ep, sizeof(ep), "%s[%zu]", path, i);
		if (!json_is_object(e))
			return type_err(p, path, "array of tables", e);
		c->nidps = i + 1;
		if ((rc = get_str(p, e, ep, "issuer", &d->issuer)) ||
		    (rc = get_str(p, e, ep, "audience", &d->audience)) ||
		    (rc = get_str(p, e, ep, "public_key_uri", &d->public_key_uri)) ||
		    (rc = get_str(p, e, ep, "jwk_set_uri", &d->jwk_set_uri)))
			return rc;
		if (!d->public_key_uri && !d->jwk_set_uri)
			return fail(p, path, "identity provider %zu needs public_key_uri or "
					     "jwk_set_uri", i);
		warn_unknown(p, e, ep, known);
	}
	return KBS_OK;
}

static int parse_acls(struct cp *p, const json_t *arr, const char *path)
{
	struct kbs_config *c = p->cfg;
	size_t i;
	json_t *e;

	if (!json_is_array(arr))
		return type_err(p, path, "array of tables", arr);
	c->acls = calloc(json_array_size(arr) + 1, sizeof(*c->acls));
	if (!c->acls)
		return KBS_ERR_NOMEM;
	json_array_foreach(arr, i, e) {
		static const char *const known[] = {"role", "allowed_endpoints", NULL};
		struct kbs_acl *a = &c->acls[i];
		char ep[256];
		int rc;
		size_t n;

		snprintf(ep, sizeof(ep), "%s[%zu]", path, i);
		if (!json_is_object(e))
			return type_err(p, path, "array of tables", e);
		c->nacls = i + 1;
		if ((rc = get_str(p, e, ep, "role", &a->role)) ||
		    (rc = get_str(p, e, ep, "allowed_endpoints", &a->regex)))
			return rc;
		if (!a->role || !a->regex)
			return fail(p, path, "ACL %zu needs role and allowed_endpoints", i);
		n = strlen(a->regex);
		if (strncmp(a->regex, "^/kbs", 5) != 0 || n < 6 || a->regex[n - 1] != '$')
			return fail(p, path, "Admin Role regex must be anchored (^/kbs ... $)");
		warn_unknown(p, e, ep, known);
	}
	return KBS_OK;
}

static int parse_admin(struct cp *p, const json_t *t)
{
	static const char *const known[] = {"authorization_mode", "authentication",
					    "authorization", "type", "personas",
					    "auth_public_key", "insecure_api", NULL};
	struct kbs_config *c = p->cfg;
	const char *mode = NULL, *type = NULL, *pk = NULL;
	bool insecure_api = false;
	json_t *authn = NULL, *authz = NULL, *bj = NULL, *racl = NULL, *v;
	int rc;

	if ((rc = peek_str(p, t, "admin", "authorization_mode", &mode)) ||
	    (rc = peek_str(p, t, "admin", "type", &type)) ||
	    (rc = peek_str(p, t, "admin", "auth_public_key", &pk)) ||
	    (rc = get_bool(p, t, "admin", "insecure_api", &insecure_api)))
		return rc;
	if (mode) {
		if (strcmp(mode, "DenyAll") == 0)
			c->admin_mode = KBS_ADMIN_DENY_ALL;
		else if (strcmp(mode, "InsecureAllowAll") == 0)
			c->admin_mode = KBS_ADMIN_INSECURE_ALLOW_ALL;
		else if (strcmp(mode, "AuthenticatedAuthorization") == 0)
			c->admin_mode = KBS_ADMIN_AUTHENTICATED;
		else
			return fail(p, "admin.authorization_mode",
				    "expected DenyAll, InsecureAllowAll or "
				    "AuthenticatedAuthorization");
	} else if (type) {
		/* v0.14 .. v0.20 */
		if (strcmp(type, "DenyAll") == 0)
			c->admin_mode = KBS_ADMIN_DENY_ALL;
		else if (strcmp(type, "InsecureAllowAll") == 0)
			c->admin_mode = KBS_ADMIN_INSECURE_ALLOW_ALL;
		else if (strcmp(type, "Simple") == 0)
			c->admin_mode = KBS_ADMIN_LEGACY_KEYS;
		else
			return fail(p, "admin.type", "expected Simple, InsecureAllowAll or DenyAll");
	} else if (insecure_api) {
		c->admin_mode = KBS_ADMIN_INSECURE_ALLOW_ALL; /* v0.11 .. v0.13 */
	} else if (pk) {
		c->admin_mode = KBS_ADMIN_LEGACY_KEYS;
	}
	if (pk && (rc = push_str(&c->legacy_admin_keys, &c->nlegacy_admin_keys, pk)))
		return rc;
	if ((v = json_object_get(t, "personas"))) {
		size_t i;
		json_t *e;
		if (!json_is_array(v))
			return type_err(p, "admin.personas", "array of tables", v);
		json_array_foreach(v, i, e) {
			const char *kp = NULL;
			char ep[48];

			snprintf(ep, sizeof(ep), "admin.personas[%zu]", i);
			if (!json_is_object(e))
				return type_err(p, ep, "table", e);
			if ((rc = peek_str(p, e, ep, "public_key_path", &kp)))
				return rc;
			if (!kp)
				return fail(p, ep, "persona %zu has no public_key_path", i);
			if ((rc = push_str(&c->legacy_admin_keys, &c->nlegacy_admin_keys, kp)))
				return rc;
		}
	}
	if ((rc = get_table(p, t, "admin", "authentication", &authn)) ||
	    (rc = get_table(p, t, "admin", "authorization", &authz)))
		return rc;
	if (authn && (rc = get_table(p, authn, "admin.authentication", "bearer_jwt", &bj)))
		return rc;
	if (bj && (v = json_object_get(bj, "identity_providers")) &&
	    (rc = parse_idps(p, v, "admin.authentication.bearer_jwt.identity_providers")))
		return rc;
	if (authz && (rc = get_table(p, authz, "admin.authorization", "regex_acl", &racl)))
		return rc;
	if (racl && (v = json_object_get(racl, "acls")) &&
	    (rc = parse_acls(p, v, "admin.authorization.regex_acl.acls")))
		return rc;
	/* no identity provider: parses (as in Trustee); kbs_admin_new() refuses to start */
	if (c->admin_mode == KBS_ADMIN_AUTHENTICATED && c->nacls == 0) {
		/* Documented default: the role "admin" may call every admin endpoint. */
		c->acls = calloc(1, sizeof(*c->acls));
		if (!c->acls)
			return KBS_ERR_NOMEM;
		c->acls[0].role = strdup("admin");
		c->acls[0].regex = strdup("^/kbs/.+$");
		c->nacls = 1;
		if (!c->acls[0].role || !c->acls[0].regex)
			return KBS_ERR_NOMEM;
	}
	if (c->admin_mode == KBS_ADMIN_LEGACY_KEYS && c->nlegacy_admin_keys == 0)
		return fail(p, "admin", "legacy admin mode needs auth_public_key or personas");
	warn_unknown(p, t, "admin", known);
	return KBS_OK;
}

static int parse_storage_type(struct cp *p, const char *s, const char *path,
			      enum kbs_storage_type *out)
{
	if (!strcasecmp(s, "memory"))
		*out = KBS_STORAGE_MEMORY;
	else if (!strcmp(s, "LocalFs") || !strcmp(s, "local_fs") || !strcmp(s, "localfs"))
		*out = KBS_STORAGE_LOCALFS;
	else if (!strcmp(s, "LocalJson") || !strcmp(s, "local_json") || !strcmp(s, "localjson"))
		*out = KBS_STORAGE_LOCALJSON;
	else if (!strcasecmp(s, "postgres"))
		*out = KBS_STORAGE_POSTGRES;
	else if (!strcasecmp(s, "redis"))
		*out = KBS_STORAGE_REDIS;
	else
		return fail(p, path, "unknown storage type '%s' (Memory, LocalFs, LocalJson, "
				     "Postgres, Redis)", s);
	return KBS_OK;
}

static int parse_storage(struct cp *p, const json_t *t)
{
	static const char *const known[] = {"storage_type", "backends", NULL};
	struct kbs_config *c = p->cfg;
	const char *st = NULL;
	json_t *be = NULL, *lfs = NULL, *pg = NULL;
	int rc;

	if ((rc = peek_str(p, t, "storage_backend", "storage_type", &st)) ||
	    (rc = get_table(p, t, "storage_backend", "backends", &be)))
		return rc;
	if (st && (rc = parse_storage_type(p, st, "storage_backend.storage_type",
					   &c->storage_type)))
		return rc;
	if (be && (rc = get_table(p, be, "storage_backend.backends", "local_fs", &lfs)))
		return rc;
	if (lfs) {
		c->storage_dir = strdup("/opt/confidential-containers/storage/local_fs");
		if (!c->storage_dir)
			return KBS_ERR_NOMEM;
		if ((rc = get_str(p, lfs, "storage_backend.backends.local_fs", "dir_path",
				  &c->storage_dir)))
			return rc;
	}
	if (be && (rc = get_table(p, be, "storage_backend.backends", "postgres", &pg)))
		return rc;
	if (pg) {
		static const char *const pknown[] = {"host", "port", "db", "username", "password",
						     "pool_size", NULL};
		static const char *const tp = "storage_backend.backends.postgres";
		if ((rc = get_str(p, pg, tp, "host", &c->pg_host)) ||
		    (rc = get_str(p, pg, tp, "db", &c->pg_db)) ||
		    (rc = get_str(p, pg, tp, "username", &c->pg_username)) ||
		    (rc = get_str(p, pg, tp, "password", &c->pg_password)) ||
		    (rc = get_int(p, pg, tp, "port", 1, 65535, &c->pg_port)) ||
		    (rc = get_int(p, pg, tp, "pool_size", 1, 1024, &c->pg_pool_size)))
			return rc;
		warn_unknown(p, pg, tp, pknown);
	}
	if (c->storage_type == KBS_STORAGE_LOCALFS && !lfs)
		return fail(p, "storage_backend.backends.local_fs",
			    "Local FS configuration is required for storage_type LocalFs");
	warn_unknown(p, t, "storage_backend", known);
	return KBS_OK;
}

static int parse_plugins(struct cp *p, const json_t *arr)
{
	struct kbs_config *c = p->cfg;
	size_t i;
	json_t *e;

	if (!json_is_array(arr))
		return type_err(p, "plugins", "array of tables", arr);
	json_array_foreach(arr, i, e) {
		const char *name = NULL, *type = NULL;
		char ep[32], kp[64]; /* "plugins[i]": line numbers of this entry's keys */
		int rc;

		snprintf(ep, sizeof(ep), "plugins[%zu]", i);
		if (!json_is_object(e))
			return type_err(p, ep, "table", e);
		if ((rc = peek_str(p, e, ep, "name", &name)))
			return rc;
		if (!name)
			return fail(p, ep, "plugin entry %zu has no name", i);
		if (strcmp(name, "pkcs11") == 0) {
			json_decref(c->pkcs11_plugin_cfg);
			c->pkcs11_plugin_cfg = json_incref((json_t *)e);
			continue;
		}
		if (strcmp(name, "resource") != 0) {
			join(kp, sizeof(kp), ep, "name");
			log_warn("%s:%d: plugin '%s' is not supported by this KBS; ignored", p->file,
				 line_of(p, kp), name);
			p->cfg->nwarnings++;
			continue;
		}
		static const char *const known[] = {"name", "type", "dir_path",
						    "storage_backend_type", NULL};
		if ((rc = peek_str(p, e, ep, "type", &type)))
			return rc;
		if (type) {
			join(kp, sizeof(kp), ep, "type");
			if (strcmp(type, "LocalFs") != 0)
				return fail(p, kp, "resource backend '%s' not supported (LocalFs)",
					    type);
			/* v0.18 and older: tree layout; no dir_path means "" (the cwd) */
			free(c->repository_dir);
			c->repository_dir = strdup(".");
			if (!c->repository_dir)
				return KBS_ERR_NOMEM;
			if ((rc = get_str(p, e, ep, "dir_path", &c->repository_dir)))
				return rc;
		}
		const char *sbt = NULL;
		if ((rc = peek_str(p, e, ep, "storage_backend_type", &sbt)))
			return rc;
		c->resource_backend = KBS_REPO_KVSTORAGE;
		if (!sbt || strcasecmp(sbt, "kvstorage") == 0) {
			warn_unknown(p, e, ep, known);
			continue;
		}
		if (strcasecmp(sbt, "pkcs11") == 0)
			c->resource_backend = KBS_REPO_PKCS11;
		else if (strcasecmp(sbt, "vault") == 0)
			c->resource_backend = KBS_REPO_VAULT;
		else if (strcasecmp(sbt, "azurekeyvault") == 0 ||
			 strcasecmp(sbt, "azure_key_vault") == 0)
			c->resource_backend = KBS_REPO_AZURE_KV;
		else {
			join(kp, sizeof(kp), ep, "storage_backend_type");
			return fail(p, kp,
				    "resource storage backend '%s' not supported (kvstorage, "
				    "Pkcs11, Vault, AzureKeyVault)",
				    sbt);
		}
		/* the backend's own keys are checked when it is opened */
		json_decref(c->resource_backend_cfg);
		c->resource_backend_cfg = json_incref((json_t *)e);
	}
	return KBS_OK;
}

/* Trustee v0.10: flat top-level keys and *_config tables. */
static int parse_legacy_v010(struct cp *p, const json_t *root)
{
	struct kbs_config *c = p->cfg;
	json_t *t;
	bool b = false;
	int rc;

	if ((rc = get_strv(p, root, "", "sockets", &c->sockets, &c->nsockets)) ||
	    (rc = get_bool(p, root, "", "insecure_http", &c->insecure_http)) ||
	    (rc = get_str(p, root, "", "private_key", &c->private_key)) ||
	    (rc = get_str(p, root, "", "certificate", &c->certificate)) ||
	    (rc = get_int(p, root, "", "timeout", 1, 1440, &c->session_timeout_min)))
		return rc;
	if ((rc = get_bool(p, root, "", "insecure_api", &b)))
		return rc;
	if (b)
		c->admin_mode = KBS_ADMIN_INSECURE_ALLOW_ALL;
	const char *pk = NULL;
	if ((rc = peek_str(p, root, "", "auth_public_key", &pk)))
		return rc;
	if (pk) {
		if (!b)
			c->admin_mode = KBS_ADMIN_LEGACY_KEYS;
		if ((rc = push_str(&c->legacy_admin_keys, &c->nlegacy_admin_keys, pk)))
			return rc;
	}
	if ((rc = get_table(p, root, "", "repository_config", &t)))
		return rc;
	if (t) {
		const char *type = NULL;
		if ((rc = peek_str(p, t, "repository_config", "type", &type)))
			return rc;
		if (type && strcmp(type, "LocalFs") != 0)
			return fail(p, "repository_config.type", "only LocalFs is supported");
		c->repository_dir = strdup("/opt/confidential-containers/kbs/repository");
		if (!c->repository_dir)
			return KBS_ERR_NOMEM;
		if ((rc = get_str(p, t, "repository_config", "dir_path", &c->repository_dir)))
			return rc;
	}
	if ((rc = get_table(p, root, "", "as_config", &t)))
		return rc;
	if (t) {
		char why[300];
		if (as_config_from_json(t, &c->as, why, sizeof(why)) != KBS_OK)
			return fail(p, "as_config", "%s", why);
	}
	if ((rc = get_table(p, root, "", "attestation_token_config", &t)))
		return rc;
	if (t && (rc = parse_token(p, t, "attestation_token_config")))
		return rc;
	if ((rc = get_table(p, root, "", "policy_engine_config", &t)))
		return rc;
	if (t && (rc = get_str(p, t, "policy_engine_config", "policy_path", &c->policy_path)))
		return rc;
	return KBS_OK;
}

static int parse_root(struct cp *p, const json_t *root)
{
	static const char *const known[] = {
		"http_server", "attestation_token", "attestation_service", "admin",
		"storage_backend", "plugins", "policy_engine", "session_storage_type",
		/* v0.10 */
		"sockets", "insecure_http", "insecure_api", "auth_public_key", "private_key",
		"certificate", "timeout", "attestation_token_config", "repository_config",
		"as_config", "policy_engine_config", NULL};
	struct kbs_config *c = p->cfg;
	json_t *t, *v;
	const char *sst = NULL;
	int rc;

	if ((rc = parse_legacy_v010(p, root)))
		return rc;
	if ((rc = get_table(p, root, "", "http_server", &t)))
		return rc;
	if (t && (rc = parse_http(p, t)))
		return rc;
	if ((rc = get_table(p, root, "", "attestation_token", &t)))
		return rc;
	if (t && (rc = parse_token(p, t, "attestation_token")))
		return rc;
	if ((rc = get_table(p, root, "", "attestation_service", &t)))
		return rc;
	if (t && (rc = parse_as(p, t, "attestation_service")))
		return rc;
	if ((rc = get_table(p, root, "", "admin", &t)))
		return rc;
	if (t && (rc = parse_admin(p, t)))
		return rc;
	if ((rc = get_table(p, root, "", "storage_backend", &t)))
		return rc;
	if (t && (rc = parse_storage(p, t)))
		return rc;
	if ((v = json_object_get(root, "plugins")) && (rc = parse_plugins(p, v)))
		return rc;
	if ((rc = get_table(p, root, "", "policy_engine", &t)))
		return rc;
	if (t && (rc = get_str(p, t, "policy_engine", "policy_path", &c->policy_path)))
		return rc;
	if ((rc = peek_str(p, root, "", "session_storage_type", &sst)))
		return rc;
	if (sst) {
		enum kbs_storage_type tmp;
		if ((rc = parse_storage_type(p, sst, "session_storage_type", &tmp)))
			return rc;
		c->session_storage_set = true;
		c->session_storage_type = tmp;
	}
	warn_unknown(p, root, "", known);
	if (c->storage_type == KBS_STORAGE_LOCALFS && c->storage_dir && !c->as.state_dir) {
		c->as.state_dir = strdup(c->storage_dir);
		if (!c->as.state_dir)
			return KBS_ERR_NOMEM;
	}
	for (size_t i = 0; i < c->nidps; i++) {
		/* file:// URIs are plain paths for us */
		char **u[2] = {&c->idps[i].public_key_uri, &c->idps[i].jwk_set_uri};
		for (int j = 0; j < 2; j++) {
			if (*u[j] && strip_file_uri(*u[j]) != *u[j]) {
				char *s = strdup(strip_file_uri(*u[j]));
				if (!s)
					return KBS_ERR_NOMEM;
				free(*u[j]);
				*u[j] = s;
			}
		}
	}
	return KBS_OK;
}

int kbs_config_parse(const char *text, size_t len, const char *file, struct kbs_config *cfg,
		     char *err, size_t errlen)
{
	struct toml_doc *doc = NULL;
	struct toml_err terr;
	struct cp p = {NULL, file ? file : "<config>", err, errlen, cfg};
	int rc;

	err[0] = '\0';
	rc = toml_parse(text, len, &doc, &terr);
	if (rc != KBS_OK) {
		snprintf(err, errlen, "%s:%d:%d: %s", p.file, terr.line, terr.column, terr.msg);
		return rc;
	}
	p.doc = doc;
	rc = parse_root(&p, toml_doc_root(doc));
	if (rc == KBS_ERR_NOMEM)
		snprintf(err, errlen, "%s: out of memory", p.file);
	toml_doc_free(doc);
	return rc;
}

int kbs_config_load(const char *path, struct kbs_config *cfg, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t n = 0;
	int rc = KBS_ERR_IO;

	if (!f) {
		snprintf(err, errlen, "%s: cannot open configuration file", path);
		return KBS_ERR_IO;
	}
	text = malloc(1 << 20);
	if (!text) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	n = fread(text, 1, (1 << 20), f);
	if (ferror(f) || n == (1 << 20)) {
		snprintf(err, errlen, "%s: unreadable or larger than 1 MiB", path);
		goto out;
	}
	rc = kbs_config_parse(text, n, path, cfg, err, errlen);
out:
	free(text);
	fclose(f);
	return rc;
}

/* ------------------------------------------------------------------ TLS settings */

/* Mozilla server-side TLS recommendations, version 5 (TLS 1.2 parts). */
static const char tls_list_intermediate[] =
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
static const char tls_list_old[] =
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305:"
	"ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:"
	"ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:"
	"ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:DHE-RSA-AES128-SHA256:"
	"DHE-RSA-AES256-SHA256:AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256:"
	"AES256-SHA256:AES128-SHA:AES256-SHA:DES-CBC3-SHA";
static const char tls_suites_mozilla[] =
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

/* Appends one cipher name to a ':'-separated list; false if it does not fit. */
static bool tls_list_add(char *list, size_t cap, const char *name, size_t n)
{
	size_t len = strlen(list);

	if (len + (len ? 1 : 0) + n + 1 > cap)
		return false;
	if (len)
		list[len++] = ':';
	memcpy(list + len, name, n);
	list[len + n] = '\0';
	return true;
}

int kbs_config_tls(const struct kbs_config *cfg, struct kbs_tls_settings *out, char *err,
		   size_t errlen)
{
	const char *profile = cfg->tls_profile ? cfg->tls_profile : "intermediate";

	memset(out, 0, sizeof(*out));
	out->min_version = 12;
	out->max_version = 13;
	if (strcmp(profile, "modern") == 0) {
		out->min_version = 13;
	} else if (strcmp(profile, "old") == 0) {
		out->cipher_list = tls_list_old;
		out->ciphersuites = tls_suites_mozilla;
	} else if (strcmp(profile, "intermediate") == 0) {
		out->cipher_list = tls_list_intermediate;
		out->ciphersuites = tls_suites_mozilla;
	} else if (strcmp(profile, "custom") != 0) {
		snprintf(err, errlen, "key 'http_server.tls_profile': expected old, intermediate, "
				      "modern or custom");
		return KBS_ERR_INVAL;
	}
	if (cfg->tls_min_version)
		out->min_version = strcmp(cfg->tls_min_version, "1.3") == 0 ? 13 : 12;
	if (cfg->tls_max_version)
		out->max_version = strcmp(cfg->tls_max_version, "1.2") == 0 ? 12 : 13;
	if (out->min_version > out->max_version) {
		snprintf(err, errlen, "key 'http_server.tls_max_version': TLS 1.%d is below the "
				      "minimum TLS 1.%d (tls_profile %s)",
			 out->max_version - 10, out->min_version - 10, profile);
		return KBS_ERR_INVAL;
	}
	if (cfg->tls_ciphers) {
		const char *p = cfg->tls_ciphers;

		while (*p) {
			size_t n = strcspn(p, ": ,;");
			bool v13 = n > 4 && strncmp(p, "TLS_", 4) == 0;

			if (n > 0 && !tls_list_add(v13 ? out->suites_buf : out->list_buf,
						   v13 ? sizeof(out->suites_buf)
						       : sizeof(out->list_buf),
						   p, n)) {
				snprintf(err, errlen, "key 'http_server.tls_ciphers': too long");
				return KBS_ERR_INVAL;
			}
			p += n;
			p += strspn(p, ": ,;");
		}
		if ((out->min_version == 13 || !out->list_buf[0]) &&
		    (out->max_version == 12 || !out->suites_buf[0])) {
			snprintf(err, errlen, "key 'http_server.tls_ciphers': no cipher for an "
					      "enabled TLS version (TLS 1.%d..1.%d; TLS 1.3 suite "
					      "names start with TLS_)",
				 out->min_version - 10, out->max_version - 10);
			return KBS_ERR_INVAL;
		}
		if (out->list_buf[0])
			out->cipher_list = out->list_buf;
		if (out->suites_buf[0])
			out->ciphersuites = out->suites_buf;
	}
	if (snprintf(out->groups_buf, sizeof(out->groups_buf), "%s",
		     cfg->tls_groups ? cfg->tls_groups : "X25519:secp256r1:secp384r1") >=
	    (int)sizeof(out->groups_buf)) {
		snprintf(err, errlen, "key 'http_server.tls_groups': too long");
		return KBS_ERR_INVAL;
	}
	out->groups = out->groups_buf;
	return KBS_OK;
}
