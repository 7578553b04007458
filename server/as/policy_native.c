// SPDX-License-Identifier: Apache-2.0
/*
 * Native policy engine: recognises a small, documented set of policy shapes and evaluates
 * them in C. Anything else fails closed (KBS_ERR_UNSUPPORTED) until the Rego engine
 * (server/policy/) is plugged in through the same struct policy_engine.
 *
 * Recognition works on normalised text (policy_native_normalize), so comments, blank lines,
 * indentation, ":=" versus "=" and the rego.v1 "if" keyword do not matter.
 */
#include "server/as/policy_hook.h"

#include <ctype.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/buf.h"
#include "common/err.h"

enum shape {
	SHAPE_NONE = 0,
	SHAPE_ALLOW_ALL,      /* allow = true / default allow = true */
	SHAPE_DENY_ALL,       /* allow = false / default allow = false */
	SHAPE_RESOURCE_ONLY,  /* Trustee allow_all.rego: data.plugin == "resource" */
	SHAPE_KBS_DEFAULT,    /* Trustee default.rego: resource plugin and not the sample TEE */
	SHAPE_AFFIRMING,      /* Trustee affirming.rego */
	SHAPE_EAR_DEFAULT_CPU,/* Trustee ear_default_policy_cpu.rego (built-in "builtin:default_cpu") */
	SHAPE_EAR_DEFAULT_GPU,/* Trustee ear_default_policy_gpu.rego (built-in "builtin:default_gpu") */
};

struct known {
	enum shape shape;
	const char *name;
	const char *rego; /* a representative text; normalised at lookup time */
};

/* Written here from the behaviour described in kbs-protocol.md §15.1. */
static const struct known known_shapes[] = {
	{SHAPE_ALLOW_ALL, "allow-all", "package policy\ndefault allow = true\n"},
	{SHAPE_ALLOW_ALL, "allow-all", "package policy\nallow = true\n"},
	{SHAPE_DENY_ALL, "deny-all", "package policy\ndefault allow = false\n"},
	{SHAPE_DENY_ALL, "deny-all", "package policy\nallow = false\n"},
	{SHAPE_RESOURCE_ONLY, "resource-plugin-only",
	 "package policy\ndefault allow = false\nplugin = data.plugin\n"
	 "allow if {\n plugin == \"resource\"\n}\n"},
	{SHAPE_RESOURCE_ONLY, "resource-plugin-only",
	 "package policy\ndefault allow = false\nallow if {\n data.plugin == \"resource\"\n}\n"},
	{SHAPE_KBS_DEFAULT, "trustee-default",
	 "package policy\ndefault allow = false\nplugin = data.plugin\nallow if {\n"
	 " plugin == \"resource\"\n"
	 " not input[\"submods\"][\"cpu0\"][\"ear.veraison.annotated-evidence\"][\"sample\"]\n}\n"},
	{SHAPE_KBS_DEFAULT, "trustee-default",
	 "package policy\ndefault allow = false\nallow if {\n data.plugin == \"resource\"\n"
	 " not input[\"submods\"][\"cpu0\"][\"ear.veraison.annotated-evidence\"][\"sample\"]\n}\n"},
	{SHAPE_AFFIRMING, "affirming",
	 "package policy\ndefault allow = false\nallow if {\n not any_not_affirming\n"
	 " count(input.submods) > 0\n}\nany_not_affirming if {\n some _, submod in input.submods\n"
	 " submod[\"ear.status\"] != \"affirming\"\n}\n"},
};

/*
 * SHA-256 (hex) of the normalised text of Trustee's shipped EAR default policies, so an
 * uploaded copy of them is recognised too.
 */
static const char ear_default_cpu_digest[] =
	"9a42d90609c795e5d15531f468fba458c9cc6dfe625cecfc2f0189c788760697";
static const char ear_default_gpu_digest[] =
	"65004f07c296972a7a95d4c38d4bd2fbb7fe56a72b564d20a5370ae430e6c3bf";

static const char *const shape_names[] = {
	"allow-all (allow = true)",
	"deny-all (allow = false)",
	"resource-plugin-only (Trustee allow_all.rego)",
	"trustee-default (Trustee default.rego)",
	"affirming (Trustee affirming.rego)",
	"builtin:default_cpu (Trustee ear_default_policy_cpu.rego)",
	"builtin:default_gpu (Trustee ear_default_policy_gpu.rego)",
	NULL,
};

const char *const *policy_native_shapes(void)
{
	return shape_names;
}

static bool is_ident(int c)
{
	return isalnum(c) || c == '_';
}

/* Emits one token, separated from the previous one by a single space. */
static int emit(struct buf *b, const char *t, size_t n)
{
	int rc;

	if (b->len > 0 && (rc = buf_append_byte(b, ' ')) != KBS_OK)
		return rc;
	return buf_append(b, t, n);
}

/* True if only whitespace, comments and further "if" tokens separate pos from a "{". */
static bool if_before_body(const char *text, size_t len, size_t j)
{
	while (j < len) {
		if (isspace((unsigned char)text[j])) {
			j++;
		} else if (text[j] == '#') {
			while (j < len && text[j] != '\n')
				j++;
		} else if (len - j >= 2 && memcmp(text + j, "if", 2) == 0 &&
			   (len - j == 2 || (!is_ident((unsigned char)text[j + 2]) &&
					     text[j + 2] != '.'))) {
			j += 2;
		} else {
			return text[j] == '{';
		}
	}
	return false;
}

int policy_native_normalize(const char *text, size_t len, char **out)
{
	struct buf b = BUF_INIT;
	size_t i = 0;
	bool line_start = true;
	int rc = KBS_ERR_NOMEM;

	*out = NULL;
	if (memchr(text, '\0', len))
		return KBS_ERR_PARSE; /* policy text never contains NUL */
	buf_init(&b, len * 2 + 64);
	while (i < len) {
		char c = text[i];

		if (c == '\n') {
			line_start = true;
			i++;
			continue;
		}
		if (isspace((unsigned char)c)) {
			i++;
			continue;
		}
		if (c == '#') {
			while (i < len && text[i] != '\n')
				i++;
			continue;
		}
		/* an import statement: the token "import" first on its line */
		if (line_start && len - i >= 6 && memcmp(text + i, "import", 6) == 0 &&
		    (len - i == 6 ||
		     (!is_ident((unsigned char)text[i + 6]) && text[i + 6] != '.'))) {
			while (i < len && text[i] != '\n')
				i++;
			continue;
		}
		line_start = false;
		if (c == '"' || c == '`') {
			size_t s = i++;
			while (i < len && text[i] != c) {
				if (c == '"' && text[i] == '\\' && i + 1 < len)
					i++;
				if (text[i] == '\n' && c == '"') {
					rc = KBS_ERR_PARSE;
					goto out;
				}
				i++;
			}
			if (i >= len) {
				rc = KBS_ERR_PARSE;
				goto out;
			}
			i++;
			if ((rc = emit(&b, text + s, i - s)) != KBS_OK)
				goto out;
			continue;
		}
		if (is_ident((unsigned char)c) || c == '.') {
			size_t s = i;
			while (i < len && (is_ident((unsigned char)text[i]) || text[i] == '.'))
				i++;
			/* rego.v1 "if" before a body is decoration for our purposes */
			if (i - s == 2 && memcmp(text + s, "if", 2) == 0 &&
			    if_before_body(text, len, i))
				continue;
			if ((rc = emit(&b, text + s, i - s)) != KBS_OK)
				goto out;
			continue;
		}
		if (len - i >= 2 && text[i + 1] == '=' && strchr(":=!<>", c)) {
			if (c == ':')
				rc = emit(&b, "=", 1);
			else
				rc = emit(&b, text + i, 2);
			if (rc != KBS_OK)
				goto out;
			i += 2;
			continue;
		}
		if ((rc = emit(&b, text + i, 1)) != KBS_OK)
			goto out;
		i++;
	}
	if ((rc = buf_append(&b, "", 0)) != KBS_OK)
		goto out;
	*out = buf_steal(&b, NULL);
	if (!*out)
		rc = KBS_ERR_NOMEM;
out:
	buf_release(&b);
	return rc;
}

static int digest_hex(const char *s, char hex[65])
{
	uint8_t d[SHA256_DIGEST_LENGTH];

	SHA256((const uint8_t *)s, strlen(s), d);
	return hex_encode(d, sizeof(d), hex, 65);
}

static enum shape classify(const char *text, size_t len, const char **name)
{
	char *norm = NULL, *kn = NULL;
	enum shape sh = SHAPE_NONE;
	char hex[65];

	*name = NULL;
	if (len == 19 && memcmp(text, "builtin:default_cpu", 19) == 0) {
		*name = "builtin:default_cpu";
		return SHAPE_EAR_DEFAULT_CPU;
	}
	if (len == 19 && memcmp(text, "builtin:default_gpu", 19) == 0) {
		*name = "builtin:default_gpu";
		return SHAPE_EAR_DEFAULT_GPU;
	}
	if (policy_native_normalize(text, len, &norm) != KBS_OK)
		return SHAPE_NONE;
	for (size_t i = 0; i < sizeof(known_shapes) / sizeof(known_shapes[0]); i++) {
		const struct known *k = &known_shapes[i];
		if (policy_native_normalize(k->rego, strlen(k->rego), &kn) != KBS_OK)
			break;
		if (strcmp(kn, norm) == 0) {
			sh = k->shape;
			*name = k->name;
		}
		free(kn);
		kn = NULL;
		if (sh != SHAPE_NONE)
			goto out;
	}
	if (digest_hex(norm, hex) == KBS_OK) {
		if (strcmp(hex, ear_default_cpu_digest) == 0) {
			sh = SHAPE_EAR_DEFAULT_CPU;
			*name = "trustee ear_default_policy_cpu";
		} else if (strcmp(hex, ear_default_gpu_digest) == 0) {
			sh = SHAPE_EAR_DEFAULT_GPU;
			*name = "trustee ear_default_policy_gpu";
		}
	}
out:
	free(norm);
	return sh;
}

static int native_check(void *ctx, const char *text, size_t len, char *why, size_t whylen)
{
	const char *name;

	(void)ctx;
	if (classify(text, len, &name) != SHAPE_NONE)
		return KBS_OK;
	snprintf(why, whylen,
		 "policy is not one of the shapes the native policy engine evaluates "
		 "(no Rego engine is built in); supported: allow-all, deny-all, "
		 "resource-plugin-only, trustee-default, affirming, trustee EAR defaults");
	return KBS_ERR_UNSUPPORTED;
}

static json_t *jpath(const json_t *v, const char *const *keys)
{
	for (; *keys && v; keys++)
		v = json_is_object(v) ? json_object_get(v, *keys) : NULL;
	return (json_t *)v;
}

/* Rego truthiness for a reference used as a statement: defined and not false. */
static bool defined_true(const json_t *v)
{
	return v && !json_is_false(v);
}

static bool json_in(const json_t *needle, const json_t *hay)
{
	size_t i;
	json_t *e;

	if (!needle || !hay)
		return false;
	if (json_is_array(hay)) {
		json_array_foreach(hay, i, e)
			if (json_equal(e, needle))
				return true;
		return false;
	}
	if (json_is_object(hay)) {
		const char *k;
		json_object_foreach((json_t *)hay, k, e)
			if (json_equal(e, needle))
				return true;
	}
	return false;
}

static json_t *rv(const struct policy_host *host, const char *id)
{
	if (!host || !host->rv_query)
		return NULL;
	return host->rv_query(host->ctx, id);
}

static int eval_resource(enum shape sh, const json_t *input, const json_t *data, json_t **result,
			 char *rule, size_t rulelen)
{
	const char *plugin = json_string_value(json_object_get(data, "plugin"));
	bool allow = false;
	bool is_resource = plugin && strcmp(plugin, "resource") == 0;

	switch (sh) {
	case SHAPE_ALLOW_ALL:
		allow = true;
		snprintf(rule, rulelen, "allow = true");
		break;
	case SHAPE_DENY_ALL:
		snprintf(rule, rulelen, "default allow = false");
		break;
	case SHAPE_RESOURCE_ONLY:
		allow = is_resource;
		snprintf(rule, rulelen, allow ? "allow (plugin == \"resource\")"
					      : "default allow = false (plugin is not \"resource\")");
		break;
	case SHAPE_KBS_DEFAULT: {
		static const char *const p[] = {"submods", "cpu0", "ear.veraison.annotated-evidence",
						"sample", NULL};
		bool sample = defined_true(jpath(input, p));
		allow = is_resource && !sample;
		if (allow)
			snprintf(rule, rulelen, "allow (resource plugin, not the sample TEE)");
		else if (sample)
			snprintf(rule, rulelen, "default allow = false (trustee-default policy denies "
						"the sample TEE)");
		else
			snprintf(rule, rulelen, "default allow = false (plugin is not \"resource\")");
		break;
	}
	case SHAPE_AFFIRMING: {
		json_t *sub = json_object_get(input, "submods");
		const char *k;
		json_t *v;
		bool all = json_is_object(sub) && json_object_size(sub) > 0;
		if (json_is_object(sub)) {
			json_object_foreach(sub, k, v) {
				const char *st = json_string_value(json_object_get(v, "ear.status"));
				if (!st || strcmp(st, "affirming") != 0)
					all = false;
			}
		}
		allow = all;
		snprintf(rule, rulelen, allow ? "allow (every submod affirming)"
					      : "default allow = false (not every submod is "
						"affirming)");
		break;
	}
	default:
		return KBS_ERR_UNSUPPORTED;
	}
	*result = json_boolean(allow);
	return *result ? KBS_OK : KBS_ERR_NOMEM;
}

static int set_claim(json_t *tc, const char *name, int v)
{
	return json_object_set_new(tc, name, json_integer(v)) == 0 ? KBS_OK : KBS_ERR_NOMEM;
}

static json_t *default_vector(int executables, int hardware, int configuration)
{
	json_t *tc = json_object();

	if (!tc)
		return NULL;
	if (set_claim(tc, "executables", executables) || set_claim(tc, "hardware", hardware) ||
	    set_claim(tc, "configuration", configuration) || set_claim(tc, "file-system", 0) ||
	    set_claim(tc, "instance-identity", 0) || set_claim(tc, "runtime-opaque", 0) ||
	    set_claim(tc, "storage-opaque", 0) || set_claim(tc, "sourced-data", 0)) {
		json_decref(tc);
		return NULL;
	}
	return tc;
}

/* The sample branch of Trustee's default_cpu policy; other TEEs get the defaults. */
static json_t *ear_cpu_vector(const json_t *input, const struct policy_host *host)
{
	int executables = 33, hardware = 97, configuration = 36;
	json_t *sample = json_object_get(input, "sample");

	if (defined_true(sample)) {
		json_t *r = rv(host, "launch_digest");
		if (json_in(json_object_get(sample, "launch_digest"), r))
			executables = 3;
		json_decref(r);

		json_t *svn = rv(host, "svn"), *maj = rv(host, "major_version"),
		       *minr = rv(host, "minimum_minor_version");
		json_t *pv = json_object_get(sample, "platform_version");
		json_t *pmaj = json_object_get(pv, "major"), *pmin = json_object_get(pv, "minor");
		if (json_in(json_object_get(sample, "svn"), svn) && pmaj && maj &&
		    json_is_number(pmaj) && json_is_number(maj) &&
		    json_number_value(pmaj) == json_number_value(maj) && pmin && minr &&
		    json_is_number(pmin) && json_is_number(minr) &&
		    json_number_value(pmin) >= json_number_value(minr))
			hardware = 2;
		json_decref(svn);
		json_decref(maj);
		json_decref(minr);

		if (json_is_false(json_object_get(sample, "debug")))
			configuration = 2;
	}
	return default_vector(executables, hardware, configuration);
}

static json_t *ear_gpu_vector(const json_t *input, const struct policy_host *host)
{
	int hardware = 97;
	json_t *sd = json_object_get(input, "sampledevice");

	if (defined_true(sd)) {
		/* Trustee reads data.reference.device_svn, which nothing populates; we use the
		 * reference value of the same name so the check can pass when it is set. */
		json_t *r = rv(host, "device_svn");
		if (json_in(json_object_get(sd, "svn"), r))
			hardware = 2;
		json_decref(r);
	}
	return default_vector(33, hardware, 36);
}

/* ear.trustee.identifiers extension of the default cpu policy. */
static json_t *ear_cpu_extensions(const json_t *input)
{
	static const char *const cp[] = {"init_data_claims", "agent_policy_claims", "containers",
					 NULL};
	static const char *const imgp[] = {"OCI", "Annotations", "io.kubernetes.cri.image-name",
					   NULL};
	static const char *const uidp[] = {"OCI", "Process", "User", "UID", NULL};
	json_t *containers = jpath(input, cp);
	json_t *images = json_array(), *uids = json_array(), *validated = json_object();
	json_t *ext = NULL, *value = NULL, *arr = NULL;
	size_t i;
	json_t *c;

	if (!images || !uids || !validated)
		goto out;
	if (json_is_array(containers)) {
		json_array_foreach(containers, i, c) {
			json_t *img = jpath(c, imgp), *uid = jpath(c, uidp);
			if (img)
				json_array_append(images, img);
			if (uid)
				json_array_append(uids, uid);
		}
	}
	if (json_array_size(images) > 0)
		json_object_set(validated, "container_images", images);
	if (json_array_size(uids) > 0)
		json_object_set(validated, "container_uids", uids);
	value = json_pack("{s:O}", "validated", validated);
	ext = json_pack("{s:s,s:i,s:O}", "name", "ear.trustee.identifiers", "key", -18, "value",
			value);
	if (ext)
		arr = json_pack("[O]", ext);
out:
	json_decref(images);
	json_decref(uids);
	json_decref(validated);
	json_decref(value);
	json_decref(ext);
	return arr;
}

static int native_eval(void *ctx, const char *text, size_t len, const char *query,
		       const json_t *input, const json_t *data, const struct policy_host *host,
		       json_t **result, char *rule, size_t rulelen, char *why, size_t whylen)
{
	const char *name = NULL;
	enum shape sh = classify(text, len, &name);
	char dummy[8];

	(void)ctx;
	*result = NULL;
	if (!rule) {
		rule = dummy;
		rulelen = sizeof(dummy);
	}
	rule[0] = '\0';
	if (sh == SHAPE_NONE) {
		snprintf(why, whylen, "policy shape not supported by the native policy engine");
		return KBS_ERR_UNSUPPORTED;
	}
	if (strcmp(query, "data.policy.allow") == 0) {
		if (sh == SHAPE_EAR_DEFAULT_CPU || sh == SHAPE_EAR_DEFAULT_GPU) {
			snprintf(why, whylen, "policy %s defines no rule allow", name);
			return KBS_OK; /* undefined */
		}
		return eval_resource(sh, input, data, result, rule, rulelen);
	}
	if (strcmp(query, "data.policy.trust_claims") == 0) {
		if (sh == SHAPE_EAR_DEFAULT_CPU)
			*result = ear_cpu_vector(input, host);
		else if (sh == SHAPE_EAR_DEFAULT_GPU)
			*result = ear_gpu_vector(input, host);
		else
			return KBS_OK; /* undefined in resource-policy shapes */
		snprintf(rule, rulelen, "%s trust_claims", name);
		return *result ? KBS_OK : KBS_ERR_NOMEM;
	}
	if (strcmp(query, "data.policy.extensions") == 0) {
		if (sh == SHAPE_EAR_DEFAULT_CPU) {
			*result = ear_cpu_extensions(input);
			return *result ? KBS_OK : KBS_ERR_NOMEM;
		}
		return KBS_OK;
	}
	snprintf(why, whylen, "query %s not supported by the native policy engine", query);
	return KBS_ERR_UNSUPPORTED;
}

static const struct policy_engine native_engine = {
	.name = "native",
	.ctx = NULL,
	.check = native_check,
	.eval = native_eval,
};

const struct policy_engine *policy_native_engine(void)
{
	return &native_engine;
}
