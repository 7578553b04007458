// SPDX-License-Identifier: Apache-2.0
#include "fs/config.h"
#include "common/err.h"
#include "common/log.h"
#include "fs/path.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifdef KBSFS_HAVE_TOML
#include "common/toml.h"
#endif

#define KBSFS_MAX_RESOURCES 4096

enum opt_id {
	O_KBS_URL,
	O_KBS_CERT,
	O_TEE,
	O_ALLOW_SAMPLE,
	O_TEE_KEY_ALG,
	O_INITDATA,
	O_UID,
	O_GID,
	O_MODE,
	O_REFRESH,
	O_CACHE_TIMEOUT,
	O_TIMEOUT,
	O_SECMEM,
	O_LOG_LEVEL,
	O_RESOURCES,
	O_CONFIG,
	O_POD_NAMESPACE,
	O_POD_NAME,
	O_POD_UID,
	O_SERVICE_ACCOUNT,
	O_PRIVSEP,
	O_FETCHER,
	O_FETCH_IDLE,
	O__COUNT
};

static const struct {
	const char *name;
	enum opt_id id;
} opt_names[] = {
    {"kbs_url", O_KBS_URL},
    {"kbs_cert", O_KBS_CERT},
    {"tee", O_TEE},
    {"allow_sample", O_ALLOW_SAMPLE},
    {"tee_key_algorithm", O_TEE_KEY_ALG},
    {"initdata", O_INITDATA},
    {"uid", O_UID},
    {"gid", O_GID},
    {"mode", O_MODE},
    {"refresh", O_REFRESH},
    {"cache_timeout", O_CACHE_TIMEOUT},
    {"timeout", O_TIMEOUT},
    {"secmem", O_SECMEM},
    {"log_level", O_LOG_LEVEL},
    {"resources", O_RESOURCES},
    {"config", O_CONFIG},
    {"pod_namespace", O_POD_NAMESPACE},
    {"pod_name", O_POD_NAME},
    {"pod_uid", O_POD_UID},
    {"service_account", O_SERVICE_ACCOUNT},
    {"privsep", O_PRIVSEP},
    {"fetcher", O_FETCHER},
    {"fetch_idle", O_FETCH_IDLE},
};

static const char *const tee_names[] = {"auto", "sample",      "tpm",	     "snp",
					"tdx",	"az-snp-vtpm", "az-tdx-vtpm"};
static const char *const key_algs[] = {"ECDH-ES+A256KW-P256", "ECDH-ES+A256KW-P521",
				       "RSA-OAEP-256"};

int kbsfs_config_new(struct kbsfs_config **out)
{
	struct kbsfs_config *c = calloc(1, sizeof(*c));

	if (!c)
		return KBS_ERR_NOMEM;
	c->uid = getuid();
	c->gid = getgid();
	c->mode = 0400;
	c->cache_timeout_s = 3600;
	c->timeout_s = 10;
	c->secmem_size = 1u << 20;
	c->log_level = LOG_LVL_INFO;
	c->privsep = true;
	c->fetch_idle_s = 60;
	*out = c;
	return KBS_OK;
}

void kbsfs_config_free(struct kbsfs_config *c)
{
	size_t i;

	if (!c)
		return;
	free(c->kbs_url);
	free(c->kbs_cert_file);
	free(c->kbs_cert_pem);
	free(c->tee);
	free(c->tee_key_algorithm);
	free(c->initdata_file);
	free(c->config_file);
	free(c->pod_namespace);
	free(c->pod_name);
	free(c->pod_uid);
	free(c->service_account);
	free(c->fetcher);
	for (i = 0; i < c->nresources; i++)
		free(c->resources[i]);
	free(c->resources);
	free(c);
}

static int set_str(char **dst, const char *v)
{
	char *d = strdup(v);

	if (!d)
		return KBS_ERR_NOMEM;
	free(*dst);
	*dst = d;
	return KBS_OK;
}

static int parse_uint(const char *v, int base, unsigned long long max, unsigned long long *out)
{
	char *end;
	unsigned long long x;

	if (!v || !*v || *v == '-' || *v == '+' || *v == ' ')
		return KBS_ERR_INVAL;
	errno = 0;
	x = strtoull(v, &end, base);
	if (errno || end == v)
		return KBS_ERR_INVAL;
	if (*end)
		return KBS_ERR_INVAL;
	if (x > max)
		return KBS_ERR_RANGE;
	*out = x;
	return KBS_OK;
}

/* "1048576", "512K", "2M" */
static int parse_size(const char *v, size_t *out)
{
	char num[32];
	size_t n = strlen(v), mult = 1;
	unsigned long long x;
	int rc;

	if (n == 0 || n >= sizeof(num))
		return KBS_ERR_INVAL;
	memcpy(num, v, n + 1);
	if (num[n - 1] == 'K' || num[n - 1] == 'k')
		mult = 1024;
	else if (num[n - 1] == 'M' || num[n - 1] == 'm')
		mult = 1024 * 1024;
	if (mult != 1)
		num[n - 1] = 0;
	rc = parse_uint(num, 10, 1024ull * 1024 * 1024, &x);
	if (rc)
		return rc;
	x *= mult;
	if (x < 64 * 1024 || x > 1024ull * 1024 * 1024)
		return KBS_ERR_RANGE;
	*out = (size_t)x;
	return KBS_OK;
}

static int parse_bool(const char *v, bool *out)
{
	if (!v || !strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
	    !strcasecmp(v, "on")) {
		*out = true;
		return KBS_OK;
	}
	if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
	    !strcasecmp(v, "off")) {
		*out = false;
		return KBS_OK;
	}
	return KBS_ERR_INVAL;
}

static bool in_list(const char *v, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v, list[i]))
			return true;
	return false;
}

int kbsfs_config_add_resource(struct kbsfs_config *c, const char *ref, size_t len)
{
	char path[KBSFS_PATH_MAX + 1];
	char **grown;
	size_t i;
	int rc;

	rc = kbsfs_path_normalize(ref, len, path, sizeof(path));
	if (rc)
		return rc;
	for (i = 0; i < c->nresources; i++)
		if (!strcmp(c->resources[i], path))
			return KBS_OK;
	if (c->nresources >= KBSFS_MAX_RESOURCES)
		return KBS_ERR_RANGE;
	grown = realloc(c->resources, (c->nresources + 1) * sizeof(*grown));
	if (!grown)
		return KBS_ERR_NOMEM;
	c->resources = grown;
	c->resources[c->nresources] = strdup(path);
	if (!c->resources[c->nresources])
		return KBS_ERR_NOMEM;
	c->nresources++;
	return KBS_OK;
}

/* "a/b/c:d/e/f" (':' separated; a "kbs:///..." URI keeps its own colon). */
static int add_resource_list(struct kbsfs_config *c, const char *v, char *err, size_t errlen)
{
	const char *p = v;

	while (*p) {
		const char *end = strchr(p, ':');
		size_t len;
		int rc;

		/* "kbs:" or "kbs+resource:" followed by "//" is a URI scheme, not a separator */
		while (end && !strncmp(end, "://", 3))
			end = strchr(end + 1, ':');
		len = end ? (size_t)(end - p) : strlen(p);
		if (len > 0) {
			rc = kbsfs_config_add_resource(c, p, len);
			if (rc) {
				char one[64];

				snprintf(one, sizeof(one), "%.*s", (int)(len < 60 ? len : 60), p);
				kbs_set_err(err, errlen, "resources: invalid resource path '%s'%s",
					    one,
					    rc == KBS_ERR_RANGE ? " (too long or too many)" : "");
				return KBS_ERR_INVAL;
			}
		}
		if (!end)
			break;
		p = end + 1;
	}
	return KBS_OK;
}

/* Applies one option value; from_file = true never overrides a command-line value. */
static int apply(struct kbsfs_config *c, enum opt_id id, const char *v, bool from_file, char *err,
		 size_t errlen)
{
	unsigned long long x;
	bool bv;
	int rc = KBS_OK;
	const char *name = opt_names[id].name;

	if (from_file && (c->set_mask & (1u << id)) && id != O_RESOURCES)
		return KBS_OK;
	if (!v && id != O_ALLOW_SAMPLE) {
		kbs_set_err(err, errlen, "option '%s' needs a value", name);
		return KBS_ERR_INVAL;
	}
	switch (id) {
	case O_KBS_URL:
		if (strncmp(v, "https://", 8) && strncmp(v, "http://", 7)) {
			kbs_set_err(err, errlen, "kbs_url: '%s' is not an http(s) URL", v);
			return KBS_ERR_INVAL;
		}
		rc = set_str(&c->kbs_url, v);
		break;
	case O_KBS_CERT:
		/* cdh.toml carries the PEM itself; the mount option names a file */
		if (strstr(v, "-----BEGIN")) {
			rc = set_str(&c->kbs_cert_pem, v);
			free(c->kbs_cert_file);
			c->kbs_cert_file = NULL;
		} else {
			rc = set_str(&c->kbs_cert_file, v);
			free(c->kbs_cert_pem);
			c->kbs_cert_pem = NULL;
		}
		break;
	case O_TEE:
		if (!in_list(v, tee_names, sizeof(tee_names) / sizeof(tee_names[0]))) {
			kbs_set_err(
			    err, errlen,
			    "tee: unknown TEE '%s' (auto, sample, tpm, snp, tdx, az-snp-vtpm, "
			    "az-tdx-vtpm)",
			    v);
			return KBS_ERR_INVAL;
		}
		rc = set_str(&c->tee, v);
		break;
	case O_ALLOW_SAMPLE:
		if (parse_bool(v, &bv)) {
			kbs_set_err(err, errlen, "allow_sample: expected a boolean, got '%s'", v);
			return KBS_ERR_INVAL;
		}
		c->allow_sample = bv;
		break;
	case O_TEE_KEY_ALG:
		if (!in_list(v, key_algs, sizeof(key_algs) / sizeof(key_algs[0]))) {
			kbs_set_err(err, errlen, "tee_key_algorithm: unsupported '%s'", v);
			return KBS_ERR_INVAL;
		}
		rc = set_str(&c->tee_key_algorithm, v);
		break;
	case O_INITDATA:
		rc = set_str(&c->initdata_file, v);
		break;
	case O_CONFIG:
		rc = set_str(&c->config_file, v);
		break;
	case O_UID:
	case O_GID:
		if (parse_uint(v, 10, UINT32_MAX - 1, &x)) {
			kbs_set_err(err, errlen, "%s: expected a numeric id, got '%s'", name, v);
			return KBS_ERR_INVAL;
		}
		if (id == O_UID)
			c->uid = (uid_t)x;
		else
			c->gid = (gid_t)x;
		break;
	case O_MODE:
		if (parse_uint(v, 8, 0777, &x)) {
			kbs_set_err(err, errlen,
				    "mode: expected octal permission bits <= 0777, got '%s'", v);
			return KBS_ERR_INVAL;
		}
		c->mode = (mode_t)x;
		break;
	case O_REFRESH:
	case O_CACHE_TIMEOUT:
	case O_TIMEOUT:
		if (parse_uint(v, 10, 30ull * 86400, &x) || (id == O_TIMEOUT && x == 0)) {
			kbs_set_err(err, errlen, "%s: expected seconds, got '%s'", name, v);
			return KBS_ERR_INVAL;
		}
		if (id == O_REFRESH)
			c->refresh_s = (unsigned)x;
		else if (id == O_CACHE_TIMEOUT)
			c->cache_timeout_s = (unsigned)x;
		else
			c->timeout_s = (unsigned)x;
		break;
	case O_SECMEM:
		if (parse_size(v, &c->secmem_size)) {
			kbs_set_err(err, errlen,
				    "secmem: expected a size between 64K and 1024M, got '%s'", v);
			return KBS_ERR_INVAL;
		}
		break;
	case O_LOG_LEVEL: {
		int l = log_level_parse(v);

		if (l < 0) {
			kbs_set_err(err, errlen, "log_level: unknown level '%s'", v);
			return KBS_ERR_INVAL;
		}
		c->log_level = l;
		break;
	}
	case O_RESOURCES:
		rc = add_resource_list(c, v, err, errlen);
		break;
	case O_POD_NAMESPACE:
	case O_POD_NAME:
	case O_POD_UID:
	case O_SERVICE_ACCOUNT:
		/* Kubernetes names (DNS labels/subdomains) and UIDs: no query encoding needed */
		if (!v[0] || strlen(v) > 253 ||
		    strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
			strlen(v)) {
			kbs_set_err(err, errlen, "%s: expected 1-253 characters of [A-Za-z0-9._-]",
				    name);
			return KBS_ERR_INVAL;
		}
		rc = set_str(id == O_POD_NAMESPACE ? &c->pod_namespace
			     : id == O_POD_NAME	   ? &c->pod_name
			     : id == O_POD_UID	   ? &c->pod_uid
						   : &c->service_account,
			     v);
		break;
	case O_PRIVSEP:
		if (parse_bool(v, &bv)) {
			kbs_set_err(err, errlen, "privsep: expected a boolean, got '%s'", v);
			return KBS_ERR_INVAL;
		}
		c->privsep = bv;
		break;
	case O_FETCHER:
		if (v[0] != '/') {
			kbs_set_err(err, errlen, "fetcher: expected an absolute path, got '%s'", v);
			return KBS_ERR_INVAL;
		}
		rc = set_str(&c->fetcher, v);
		break;
	case O_FETCH_IDLE:
		if (parse_uint(v, 10, 30ull * 86400, &x) || x == 0) {
			kbs_set_err(err, errlen, "fetch_idle: expected seconds > 0, got '%s'", v);
			return KBS_ERR_INVAL;
		}
		c->fetch_idle_s = (unsigned)x;
		break;
	case O__COUNT:
		return KBS_ERR_INTERNAL;
	}
	if (rc == KBS_OK && !from_file)
		c->set_mask |= 1u << id;
	return rc;
}

int kbsfs_config_set_opt(struct kbsfs_config *c, const char *opt, char *err, size_t errlen)
{
	const char *eq;
	size_t klen, i;

	if (!c || !opt)
		return KBS_ERR_INVAL;
	eq = strchr(opt, '=');
	klen = eq ? (size_t)(eq - opt) : strlen(opt);
	for (i = 0; i < sizeof(opt_names) / sizeof(opt_names[0]); i++) {
		if (strlen(opt_names[i].name) == klen && !strncmp(opt, opt_names[i].name, klen))
			return apply(c, opt_names[i].id, eq ? eq + 1 : NULL, false, err, errlen);
	}
	return KBS_ERR_NOTFOUND;
}

static int json_opt_to_str(json_t *v, char *tmp, size_t tmplen, const char **out)
{
	if (json_is_string(v)) {
		*out = json_string_value(v);
		return KBS_OK;
	}
	if (json_is_boolean(v)) {
		*out = json_is_true(v) ? "true" : "false";
		return KBS_OK;
	}
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return KBS_ERR_INVAL;
		snprintf(tmp, tmplen, "%lld", (long long)json_integer_value(v));
		*out = tmp;
		return KBS_OK;
	}
	return KBS_ERR_INVAL;
}

/* Keys of cdh.toml / aa.toml that kbsfs accepts and ignores. */
static const char *const ignored_keys[] = {"socket",
					   "aa",
					   "image",
					   "skip_sealed_secret_verification",
					   "eventlog_config",
					   "credentials",
					   "kbc",
					   "token_configs",
					   "log",
					   "kbsfs"};

static int apply_table(struct kbsfs_config *c, json_t *tab, const char *where, char *err,
		       size_t errlen)
{
	const char *key;
	json_t *v;
	int rc;

	json_object_foreach(tab, key, v)
	{
		size_t i;
		bool found = false;

		for (i = 0; i < sizeof(opt_names) / sizeof(opt_names[0]); i++) {
			char tmp[32];
			const char *s;
			enum opt_id id = opt_names[i].id;

			if (strcmp(key, opt_names[i].name))
				continue;
			found = true;
			if (id == O_CONFIG) {
				kbs_set_err(err, errlen, "%s: 'config' cannot be nested", where);
				return KBS_ERR_INVAL;
			}
			if (id == O_RESOURCES && json_is_array(v)) {
				size_t k;
				json_t *e;

				json_array_foreach(v, k, e)
				{
					if (!json_is_string(e)) {
						kbs_set_err(err, errlen,
							    "%s: resources[] must be strings",
							    where);
						return KBS_ERR_INVAL;
					}
					rc = apply(c, id, json_string_value(e), true, err, errlen);
					if (rc)
						return rc;
				}
				break;
			}
			if (id == O_MODE && json_is_integer(v)) {
				/* TOML 0o400 arrives as the integer 256: format it back to octal */
				if (json_integer_value(v) < 0 || json_integer_value(v) > 0777) {
					kbs_set_err(err, errlen, "%s: mode out of range", where);
					return KBS_ERR_INVAL;
				}
				snprintf(tmp, sizeof(tmp), "%llo",
					 (unsigned long long)json_integer_value(v));
				s = tmp;
			} else if (json_opt_to_str(v, tmp, sizeof(tmp), &s)) {
				kbs_set_err(err, errlen, "%s: key '%s' has the wrong type", where,
					    key);
				return KBS_ERR_INVAL;
			}
			rc = apply(c, id, s, true, err, errlen);
			if (rc)
				return rc;
			break;
		}
		if (found)
			continue;
		for (i = 0; i < sizeof(ignored_keys) / sizeof(ignored_keys[0]); i++)
			if (!strcmp(key, ignored_keys[i]))
				found = true;
		if (!found) {
			kbs_set_err(err, errlen, "%s: unknown key '%s'", where, key);
			return KBS_ERR_INVAL;
		}
	}
	return KBS_OK;
}

static int apply_str_member(struct kbsfs_config *c, json_t *obj, const char *member, enum opt_id id,
			    const char *where, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, member);

	if (!v)
		return KBS_OK;
	if (!json_is_string(v)) {
		kbs_set_err(err, errlen, "%s.%s: expected a string", where, member);
		return KBS_ERR_INVAL;
	}
	/* cdh.toml writes url = "" for offline KBCs: treat as absent */
	if (id == O_KBS_URL && json_string_value(v)[0] == 0)
		return KBS_OK;
	return apply(c, id, json_string_value(v), true, err, errlen);
}

int kbsfs_config_apply_json(struct kbsfs_config *c, json_t *root, char *err, size_t errlen)
{
	json_t *t, *v;
	size_t i;
	int rc;

	if (!c || !json_is_object(root))
		return KBS_ERR_INVAL;
	rc = apply_table(c, root, "config", err, errlen);
	if (rc)
		return rc;
	t = json_object_get(root, "kbsfs");
	if (t) {
		if (!json_is_object(t)) {
			kbs_set_err(err, errlen, "config: [kbsfs] must be a table");
			return KBS_ERR_INVAL;
		}
		rc = apply_table(c, t, "[kbsfs]", err, errlen);
		if (rc)
			return rc;
	}
	/* guest-components cdh.toml: [kbc] name/url/kbs_cert */
	t = json_object_get(root, "kbc");
	if (t) {
		if (!json_is_object(t)) {
			kbs_set_err(err, errlen, "config: [kbc] must be a table");
			return KBS_ERR_INVAL;
		}
		v = json_object_get(t, "name");
		if (v && (!json_is_string(v) || strcmp(json_string_value(v), "cc_kbc"))) {
			kbs_set_err(err, errlen,
				    "[kbc] name: kbsfs talks to a KBS only (cc_kbc), not '%s'",
				    json_is_string(v) ? json_string_value(v) : "?");
			return KBS_ERR_INVAL;
		}
		if ((rc = apply_str_member(c, t, "url", O_KBS_URL, "[kbc]", err, errlen)) ||
		    (rc = apply_str_member(c, t, "kbs_cert", O_KBS_CERT, "[kbc]", err, errlen)))
			return rc;
	}
	/* aa.toml: [token_configs.kbs] url/cert/tee_key_algorithm */
	t = json_object_get(root, "token_configs");
	if (t && json_is_object(t) && (t = json_object_get(t, "kbs")) && json_is_object(t)) {
		if ((rc = apply_str_member(c, t, "url", O_KBS_URL, "[token_configs.kbs]", err,
					   errlen)) ||
		    (rc = apply_str_member(c, t, "cert", O_KBS_CERT, "[token_configs.kbs]", err,
					   errlen)) ||
		    (rc = apply_str_member(c, t, "tee_key_algorithm", O_TEE_KEY_ALG,
					   "[token_configs.kbs]", err, errlen)))
			return rc;
	}
	/* cdh.toml: [[credentials]] resource_uri = "kbs:///repo/type/tag" (path is ignored) */
	t = json_object_get(root, "credentials");
	if (t) {
		if (!json_is_array(t)) {
			kbs_set_err(err, errlen, "config: credentials must be an array of tables");
			return KBS_ERR_INVAL;
		}
		json_array_foreach(t, i, v)
		{
			json_t *u = json_is_object(v) ? json_object_get(v, "resource_uri") : NULL;

			if (!json_is_string(u) ||
			    kbsfs_config_add_resource(c, json_string_value(u),
						      strlen(json_string_value(u)))) {
				kbs_set_err(err, errlen,
					    "[[credentials]]: entry needs a valid resource_uri "
					    "(kbs:///repo/type/tag)");
				return KBS_ERR_INVAL;
			}
		}
	}
	/* cdh.toml/aa.toml: [log] level */
	t = json_object_get(root, "log");
	if (t && json_is_object(t) && (v = json_object_get(t, "level")) && json_is_string(v) &&
	    !(c->set_mask & (1u << O_LOG_LEVEL))) {
		int l = log_level_parse(json_string_value(v));

		if (l >= 0)
			c->log_level = l;
	}
	return KBS_OK;
}

int kbsfs_config_load_file(struct kbsfs_config *c, char *err, size_t errlen)
{
	if (!c->config_file)
		return KBS_OK;
#ifdef KBSFS_HAVE_TOML
	{
		struct toml_doc *doc = NULL;
		struct toml_err terr;
		int rc;

		memset(&terr, 0, sizeof(terr));
		rc = toml_parse_file(c->config_file, &doc, &terr);
		if (rc) {
			if (err && errlen)
				snprintf(err, errlen, "%s:%d:%d: %s", c->config_file, terr.line,
					 terr.column, terr.msg[0] ? terr.msg : kbs_strerror(rc));
			return rc;
		}
		rc = kbsfs_config_apply_json(c, toml_doc_root(doc), err, errlen);
		toml_doc_free(doc);
		return rc;
	}
#else
	kbs_set_err(err, errlen, "config=%s: this build has no TOML support", c->config_file);
	return KBS_ERR_UNSUPPORTED;
#endif
}

/* A background kbsfs runs in "/": relative file names must be resolved before that. */
static int make_absolute(char **path, const char *what, char *err, size_t errlen)
{
	char *abs;

	if (!*path || (*path)[0] == '/')
		return KBS_OK;
	abs = realpath(*path, NULL);
	if (!abs) {
		kbs_set_err(err, errlen, "%s=%s: %s", what, *path, strerror(errno));
		return KBS_ERR_INVAL;
	}
	free(*path);
	*path = abs;
	return KBS_OK;
}

int kbsfs_config_finish(struct kbsfs_config *c, char *err, size_t errlen)
{
	int rc;

	if ((rc = make_absolute(&c->kbs_cert_file, "kbs_cert", err, errlen)) ||
	    (rc = make_absolute(&c->initdata_file, "initdata", err, errlen)))
		return rc;
	if (!c->kbs_url) {
		kbs_set_err(
		    err, errlen,
		    "no KBS configured: give -o kbs_url=URL or a config file with kbs_url / "
		    "[kbc] url");
		return KBS_ERR_INVAL;
	}
	if (!c->tee && set_str(&c->tee, "auto"))
		return KBS_ERR_NOMEM;
	if (!strcmp(c->tee, "sample") && !c->allow_sample) {
		kbs_set_err(err, errlen,
			    "tee=sample gives no protection: it needs the explicit allow_sample "
			    "option");
		return KBS_ERR_INVAL;
	}
	return KBS_OK;
}

int kbsfs_config_resource_query(const struct kbsfs_config *c, char *out, size_t outlen)
{
	const char *keys[] = {"pod_namespace", "pod_name", "pod_uid", "service_account"};
	const char *vals[] = {c->pod_namespace, c->pod_name, c->pod_uid, c->service_account};
	size_t i, o = 0;
	int n;

	if (!outlen)
		return KBS_ERR_RANGE;
	out[0] = 0;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!vals[i])
			continue;
		n = snprintf(out + o, outlen - o, "%s%s=%s", o ? "&" : "", keys[i], vals[i]);
		if (n < 0 || (size_t)n >= outlen - o) {
			out[0] = 0;
			return KBS_ERR_RANGE;
		}
		o += (size_t)n;
	}
	return KBS_OK;
}

void kbsfs_config_usage(FILE *f, const char *prog)
{
	fprintf(
	    f,
	    "NAME\n"
	    "    kbsfs - attestation-gated secrets from a KBS as read-only files\n"
	    "\n"
	    "SYNOPSIS\n"
	    "    %s MOUNTPOINT -o kbs_url=URL[,OPTION...] [-f] [-d] [-s]\n"
	    "    %s MOUNTPOINT -o config=FILE[,OPTION...]\n"
	    "\n"
	    "DESCRIPTION\n"
	    "    Mounts a FUSE file system in which MOUNTPOINT/REPO/TYPE/TAG is the KBS resource\n"
	    "    REPO/TYPE/TAG. The mount does not attest; the first lookup or open of a\n"
	    "    secret attests (once, shared by all callers) and fetches it; later reads are\n"
	    "    served from locked memory. Files are read-only. MOUNTPOINT/.kbsfs/status\n"
	    "    describes the attestation and every resource as JSON (never secret bytes).\n"
	    "\n"
	    "OPTIONS\n"
	    "    -o kbs_url=URL         KBS base URL, e.g. https://kbs.example:8080 (required)\n"
	    "    -o kbs_cert=FILE       PEM certificate(s) to trust for the KBS TLS server\n"
	    "    -o tee=TEE             auto (default), sample, tpm, snp, tdx, az-snp-vtpm,\n"
	    "                           az-tdx-vtpm\n"
	    "    -o allow_sample        allow sample (fake) evidence; required with tee=sample\n"
	    "                           and for tee=auto to fall back to sample. Testing only.\n"
	    "    -o tee_key_algorithm=A ECDH-ES+A256KW-P256 (default), ECDH-ES+A256KW-P521,\n"
	    "                           RSA-OAEP-256\n"
	    "    -o initdata=FILE       init-data TOML sent with the attestation\n"
	    "    -o uid=N,gid=N         owner of the files (default: the mounting user)\n"
	    "    -o mode=0400           permission bits of secret files (default 0400)\n"
	    "    -o refresh=SECONDS     re-fetch cached secrets in the background every\n"
	    "                           SECONDS (default 0 = never); a failed refresh keeps the\n"
	    "                           last good value, a denied or deleted one is dropped\n"
	    "    -o resources=R1:R2:... resources listed in directories before first access\n"
	    "                           (repo/type/tag or kbs:///repo/type/tag)\n"
	    "    -o config=FILE         TOML file with the options above as keys (top level or\n"
	    "                           [kbsfs]); also reads guest-components cdh.toml ([kbc]\n"
	    "                           url, kbs_cert; [[credentials]] resource_uri) and aa.toml\n"
	    "                           ([token_configs.kbs] url, cert, tee_key_algorithm).\n"
	    "                           Mount options win over the file.\n"
	    "    -o pod_namespace=NS, pod_name=NAME, pod_uid=UID, service_account=SA\n"
	    "                           workload identity sent with every resource request\n"
	    "                           (query string; the KBS resource policy reads it as\n"
	    "                           data.query.pod_namespace etc.). Set by kbsfs-csi; not\n"
	    "                           attested: the host that mounts vouches for it.\n"
	    "    -o fetch_idle=SECONDS  the kbsfs-fetch process (KBS client: TLS, attestation,\n"
	    "                           TEE key, token) exits SECONDS after its last request\n"
	    "                           or at token expiry (default 60); the next miss starts\n"
	    "                           a new one, which attests again\n"
	    "    -o fetcher=PATH        kbsfs-fetch executable (default: next to kbsfs, then\n"
	    "                           the install libexec directory)\n"
	    "    -o privsep=0           debugging/compatibility: run the KBS client inside the\n"
	    "                           kbsfs process (no kbsfs-fetch child)\n"
	    "    -o cache_timeout=S     kernel dentry/attribute cache time (default 3600);\n"
	    "                           changes are pushed to the kernel explicitly\n"
	    "    -o timeout=S           per-request KBS timeout (default 10)\n"
	    "    -o secmem=SIZE         locked secret memory (default 1M; K/M suffixes)\n"
	    "    -o log_level=LEVEL     error, warn, info (default), debug\n"
	    "    -f                     stay in the foreground\n"
	    "    -d                     FUSE debug output (implies -f)\n"
	    "    -s                     single-threaded request loop\n"
	    "    -h, --help             this text;  -V, --version  version\n"
	    "    Other -o options are passed to FUSE. kbsfs always mounts with ro,\n"
	    "    default_permissions, and allow_other (when permitted for the user).\n"
	    "\n"
	    "ERRORS\n"
	    "    ENOENT  no such resource (KBS 404) or not a resource path\n"
	    "    EACCES  the KBS policy denied the resource or the attestation was refused\n"
	    "    EIO     the KBS is unreachable or failed; retried on the next access\n"
	    "    EROFS   any attempt to modify the file system\n"
	    "\n"
	    "SIGNALS\n"
	    "    SIGTERM, SIGINT, SIGHUP unmount cleanly and wipe all secrets; so does\n"
	    "    fusermount3 -u MOUNTPOINT.\n",
	    prog, prog);
}
