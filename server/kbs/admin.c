// SPDX-License-Identifier: Apache-2.0
#include "server/kbs/admin.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/jose/jws.h"
#include "common/json.h"
#include "common/log.h"

struct idp {
	char *issuer, *audience;
	struct jwk **keys;
	size_t nkeys;
};

struct acl {
	char *role;
	regex_t re;
	bool compiled;
};

struct kbs_admin {
	enum kbs_admin_mode mode;
	struct idp *idps;
	size_t nidps;
	struct acl *acls;
	size_t nacls;
};

static const char *const admin_algs[] = {"ES256", "ES384", "RS256", "RS384", "PS256", "EdDSA",
					 NULL};

void kbs_admin_free(struct kbs_admin *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->nidps; i++) {
		for (size_t k = 0; k < a->idps[i].nkeys; k++)
			jwk_free(a->idps[i].keys[k]);
		free(a->idps[i].keys);
		free(a->idps[i].issuer);
		free(a->idps[i].audience);
	}
	free(a->idps);
	for (size_t i = 0; i < a->nacls; i++) {
		if (a->acls[i].compiled)
			regfree(&a->acls[i].re);
		free(a->acls[i].role);
	}
	free(a->acls);
	free(a);
}

static int add_key(struct idp *d, struct jwk *k)
{
	struct jwk **nk = realloc(d->keys, (d->nkeys + 1) * sizeof(*nk));

	if (!nk) {
		jwk_free(k);
		return KBS_ERR_NOMEM;
	}
	d->keys = nk;
	d->keys[d->nkeys++] = k;
	return KBS_OK;
}

static int load_jwks(struct idp *d, const char *path, char *err, size_t errlen)
{
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, NULL), *keys, *e;
	size_t i;
	int rc = KBS_OK;

	keys = json_object_get(j, "keys");
	if (!json_is_array(keys)) {
		snprintf(err, errlen, "admin: %s is not a JWK set (only local files are supported)",
			 path);
		json_decref(j);
		return KBS_ERR_PARSE;
	}
	json_array_foreach(keys, i, e) {
		struct jwk *k = NULL;
		if ((rc = jwk_from_json(e, &k)) != KBS_OK) {
			snprintf(err, errlen, "admin: key %zu of %s is not a usable JWK", i, path);
			break;
		}
		if ((rc = add_key(d, k)) != KBS_OK)
			break;
	}
	json_decref(j);
	return rc;
}

int kbs_admin_new(const struct kbs_config *cfg, struct kbs_admin **out, char *err,
		  size_t errlen)
{
	struct kbs_admin *a = calloc(1, sizeof(*a));
	int rc = KBS_ERR_NOMEM;

	*out = NULL;
	if (!a)
		return KBS_ERR_NOMEM;
	a->mode = cfg->admin_mode;
	if (a->mode == KBS_ADMIN_AUTHENTICATED && cfg->nidps == 0) {
		snprintf(err, errlen, "admin: AuthenticatedAuthorization needs at least one "
				      "identity provider ([admin.authentication.bearer_jwt])");
		rc = KBS_ERR_INVAL;
		goto out;
	}
	if (a->mode == KBS_ADMIN_AUTHENTICATED) {
		a->idps = calloc(cfg->nidps, sizeof(*a->idps));
		a->acls = calloc(cfg->nacls, sizeof(*a->acls));
		if (!a->idps || !a->acls)
			goto out;
		for (size_t i = 0; i < cfg->nidps; i++) {
			const struct kbs_idp *c = &cfg->idps[i];
			struct idp *d = &a->idps[i];
			a->nidps = i + 1;
			if ((c->issuer && !(d->issuer = strdup(c->issuer))) ||
			    (c->audience && !(d->audience = strdup(c->audience))))
				goto out;
			if (c->public_key_uri) {
				struct jwk *k = NULL;
				if (strncmp(c->public_key_uri, "https://", 8) == 0 ||
				    (rc = jwk_from_pem_file(c->public_key_uri, &k)) != KBS_OK) {
					snprintf(err, errlen,
						 "admin: cannot read identity provider key %s",
						 c->public_key_uri);
					rc = KBS_ERR_INVAL;
					goto out;
				}
				if ((rc = add_key(d, k)) != KBS_OK)
					goto out;
			}
			if (c->jwk_set_uri) {
				if (strncmp(c->jwk_set_uri, "https://", 8) == 0) {
					snprintf(err, errlen, "admin: remote JWK sets (%s) are not "
							      "supported; use a local file",
						 c->jwk_set_uri);
					rc = KBS_ERR_UNSUPPORTED;
					goto out;
				}
				if ((rc = load_jwks(d, c->jwk_set_uri, err, errlen)) != KBS_OK)
					goto out;
			}
		}
		for (size_t i = 0; i < cfg->nacls; i++) {
			struct acl *l = &a->acls[i];
			a->nacls = i + 1;
			if (!(l->role = strdup(cfg->acls[i].role)))
				goto out;
			if (regcomp(&l->re, cfg->acls[i].regex, REG_EXTENDED | REG_NOSUB) != 0) {
				snprintf(err, errlen, "admin: ACL regex '%s' does not compile",
					 cfg->acls[i].regex);
				rc = KBS_ERR_INVAL;
				goto out;
			}
			l->compiled = true;
		}
	} else if (a->mode == KBS_ADMIN_LEGACY_KEYS) {
		a->idps = calloc(1, sizeof(*a->idps));
		if (!a->idps)
			goto out;
		a->nidps = 1;
		for (size_t i = 0; i < cfg->nlegacy_admin_keys; i++) {
			struct jwk *k = NULL;
			if ((rc = jwk_from_pem_file(cfg->legacy_admin_keys[i], &k)) != KBS_OK) {
				snprintf(err, errlen, "admin: cannot read admin public key %s",
					 cfg->legacy_admin_keys[i]);
				goto out;
			}
			if ((rc = add_key(&a->idps[0], k)) != KBS_OK)
				goto out;
		}
	} else if (a->mode == KBS_ADMIN_INSECURE_ALLOW_ALL) {
		log_warn("admin: InsecureAllowAll: anyone can change resources and policies");
	}
	*out = a;
	a = NULL;
	rc = KBS_OK;
out:
	kbs_admin_free(a);
	return rc;
}

static bool aud_matches(const json_t *aud, const char *want)
{
	size_t i;
	json_t *e;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	if (json_is_array(aud))
		json_array_foreach(aud, i, e)
			if (json_is_string(e) && strcmp(json_string_value(e), want) == 0)
				return true;
	return false;
}

int kbs_admin_check(struct kbs_admin *a, const char *authorization, const char *uri, char *why,
		    size_t whylen)
{
	const char *tok;
	json_t *claims = NULL;
	int rc = KBS_ERR_AUTH;

	if (a->mode == KBS_ADMIN_INSECURE_ALLOW_ALL)
		return KBS_OK;
	if (a->mode == KBS_ADMIN_DENY_ALL) {
		snprintf(why, whylen,
			 "Admin access denied as DenyAll authorization_mode is enabled");
		return KBS_ERR_DENIED;
	}
	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0 ||
	    !authorization[7]) {
		snprintf(why, whylen, "Admin access denied: Failed to parse HTTP Auth Bearer header");
		return KBS_ERR_AUTH;
	}
	tok = authorization + 7;
	while (*tok == ' ')
		tok++;
	for (size_t i = 0; i < a->nidps; i++) {
		struct idp *d = &a->idps[i];
		struct jwt_verify_opts o = {0};
		const char *role;

		o.allowed_algs = admin_algs;
		o.keys = d->keys;
		o.nkeys = d->nkeys;
		o.leeway_s = 60;
		o.require_exp = true;
		if (jwt_verify(tok, strlen(tok), &o, &claims, NULL) != KBS_OK)
			continue;
		if (d->issuer) {
			json_t *iss = json_object_get(claims, "iss");
			const char *s = json_is_string(iss) ? json_string_value(iss) : "";
			if (strcmp(s, d->issuer) != 0) {
				json_decref(claims);
				claims = NULL;
				continue;
			}
		}
		if (d->audience && !aud_matches(json_object_get(claims, "aud"), d->audience)) {
			json_decref(claims);
			claims = NULL;
			continue;
		}
		if (a->mode == KBS_ADMIN_LEGACY_KEYS) {
			rc = KBS_OK;
			goto out;
		}
		role = json_string_value(json_object_get(claims, "role"));
		if (!role) {
			snprintf(why, whylen,
				 "Admin access denied: Missing required `role` claim in JWT");
			rc = KBS_ERR_DENIED;
			goto out;
		}
		for (size_t k = 0; k < a->nacls; k++) {
			if (strcmp(a->acls[k].role, role) == 0 &&
			    regexec(&a->acls[k].re, uri, 0, NULL, 0) == 0) {
				rc = KBS_OK;
				goto out;
			}
		}
		snprintf(why, whylen, "Admin access denied: Role %.64s not allowed for path %.200s",
			 role, uri);
		rc = KBS_ERR_DENIED;
		goto out;
	}
	snprintf(why, whylen, "Admin access denied: Cannot verify token with any of the issuers");
	rc = KBS_ERR_AUTH;
out:
	json_decref(claims);
	return rc;
}
