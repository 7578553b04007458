// SPDX-License-Identifier: Apache-2.0
#include "server/kbs/tokver.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/jose/jws.h"
#include "common/json.h"
#include "common/log.h"

#define CACHE_SLOTS 1024

static const char *const token_algs[] = {"ES256", "ES384", "RS256", "RS384", "PS256", NULL};

struct cache_slot {
	uint8_t digest[SHA256_DIGEST_LENGTH];
	time_t exp;
	json_t *claims;
	struct jwk *teekey;
};

/* JSON pointers of the TEE key inside token claims, after extra_teekey_paths (§7.3). */
static const char *const teekey_paths[] = {
	"/tdx/attester_runtime_data/tee-pubkey",
	"/tdx/attester_user_data/tee-pubkey",
	"/customized_claims/runtime_data/tee-pubkey",
	"/submods/cpu0/ear.veraison.annotated-evidence/runtime_data_claims/tee-pubkey",
	"/tee-pubkey",
	NULL};

struct kbs_tokver {
	struct jwk **keys; /* AS key + JWKS keys */
	size_t nkeys;
	bool insecure_header_jwk;
	X509_STORE *store; /* trust anchors, NULL if none */
	char *const *extra_paths;
	size_t nextra_paths;
	pthread_mutex_t lock;
	struct cache_slot cache[CACHE_SLOTS];
};

void kbs_tokver_free(struct kbs_tokver *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nkeys; i++)
		jwk_free(t->keys[i]);
	free(t->keys);
	for (size_t i = 0; i < CACHE_SLOTS; i++) {
		json_decref(t->cache[i].claims);
		jwk_free(t->cache[i].teekey);
	}
	X509_STORE_free(t->store);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static int push_key(struct kbs_tokver *t, struct jwk *k)
{
	struct jwk **n = realloc(t->keys, (t->nkeys + 1) * sizeof(*n));

	if (!n) {
		jwk_free(k);
		return KBS_ERR_NOMEM;
	}
	t->keys = n;
	t->keys[t->nkeys++] = k;
	return KBS_OK;
}

int kbs_tokver_new(const struct kbs_config *cfg, const struct jwk *const *as_keys,
		   size_t nas_keys, struct kbs_tokver **out, char *err, size_t errlen)
{
	struct kbs_tokver *t = calloc(1, sizeof(*t));
	int rc = KBS_ERR_NOMEM;

	*out = NULL;
	if (!t)
		return KBS_ERR_NOMEM;
	pthread_mutex_init(&t->lock, NULL);
	t->insecure_header_jwk = cfg->insecure_header_jwk;
	t->extra_paths = cfg->extra_teekey_paths;
	t->nextra_paths = cfg->nextra_teekey_paths;
	for (size_t i = 0; i < nas_keys; i++) {
		struct jwk *pub = NULL;
		if (!as_keys[i])
			continue;
		if ((rc = jwk_public(as_keys[i], &pub)) != KBS_OK ||
		    (rc = push_key(t, pub)) != KBS_OK)
			goto out;
	}
	for (size_t i = 0; i < cfg->ntrusted_jwk_sets; i++) {
		const char *u = cfg->trusted_jwk_sets[i];
		if (strncmp(u, "file://", 7) == 0)
			u += 7;
		if (strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0) {
			log_warn("tokens: remote JWK set %s is not supported; ignored", u);
			continue;
		}
		json_t *j = json_load_file(u, JSON_REJECT_DUPLICATES, NULL);
		json_t *keys = json_object_get(j, "keys"), *e;
		size_t k;
		if (!json_is_array(keys)) {
			snprintf(err, errlen, "trusted_jwk_sets: %s is not a JWK set", u);
			json_decref(j);
			rc = KBS_ERR_PARSE;
			goto out;
		}
		json_array_foreach(keys, k, e) {
			struct jwk *key = NULL;
			if (jwk_from_json(e, &key) == KBS_OK && (rc = push_key(t, key)) != KBS_OK) {
				json_decref(j);
				goto out;
			}
		}
		json_decref(j);
	}
	if (cfg->ntrusted_certs > 0) {
		t->store = X509_STORE_new();
		if (!t->store)
			goto out;
		for (size_t i = 0; i < cfg->ntrusted_certs; i++) {
			FILE *f = fopen(cfg->trusted_certs_paths[i], "r");
			X509 *x;
			int n = 0;
			if (!f) {
				snprintf(err, errlen, "trusted_certs_paths: cannot open %s",
					 cfg->trusted_certs_paths[i]);
				rc = KBS_ERR_IO;
				goto out;
			}
			while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
				X509_STORE_add_cert(t->store, x);
				X509_free(x);
				n++;
			}
			fclose(f);
			if (n == 0) {
				snprintf(err, errlen, "trusted_certs_paths: no certificate in %s",
					 cfg->trusted_certs_paths[i]);
				rc = KBS_ERR_PARSE;
				goto out;
			}
		}
	}
	if (t->insecure_header_jwk)
		log_warn("tokens: insecure_header_jwk = true: any self-signed token is accepted");
	*out = t;
	t = NULL;
	rc = KBS_OK;
out:
	kbs_tokver_free(t);
	return rc;
}

/* x5c[0] must carry the header jwk's key and chain to a trust anchor. */
static int verify_x5c(struct kbs_tokver *t, const json_t *hjwk, struct jwk **out, char *why,
		      size_t whylen)
{
	json_t *x5c = json_object_get(hjwk, "x5c"), *e;
	STACK_OF(X509) *chain = sk_X509_new_null();
	X509 *leaf = NULL;
	X509_STORE_CTX *ctx = NULL;
	struct jwk *k = NULL;
	size_t i;
	int rc = KBS_ERR_VERIFY;

	*out = NULL;
	if (!chain)
		return KBS_ERR_NOMEM;
	if (!json_is_array(x5c) || json_array_size(x5c) == 0) {
		snprintf(why, whylen, "token header jwk has no x5c certificate chain");
		goto out;
	}
	json_array_foreach(x5c, i, e) {
		uint8_t *der = NULL;
		size_t dlen;
		const char *s = json_string_value(e);
		if (!s || b64_decode_alloc(s, strlen(s), B64_STD, &der, &dlen) != KBS_OK) {
			snprintf(why, whylen, "token x5c[%zu] is not base64 DER", i);
			goto out;
		}
		const uint8_t *p = der;
		X509 *x = d2i_X509(NULL, &p, (long)dlen);
		free(der);
		if (!x) {
			snprintf(why, whylen, "token x5c[%zu] is not a certificate", i);
			goto out;
		}
		if (i == 0)
			leaf = x;
		else
			sk_X509_push(chain, x);
	}
	if (jwk_from_json(hjwk, &k) != KBS_OK) {
		snprintf(why, whylen, "token header jwk is not a usable key");
		goto out;
	}
	EVP_PKEY *lk = X509_get0_pubkey(leaf);
	if (!lk || EVP_PKEY_eq(lk, jwk_pkey(k)) != 1) {
		snprintf(why, whylen, "token x5c leaf certificate does not carry the header jwk");
		goto out;
	}
	ctx = X509_STORE_CTX_new();
	if (!ctx || X509_STORE_CTX_init(ctx, t->store, leaf, chain) != 1)
		goto out;
	if (X509_verify_cert(ctx) != 1) {
		snprintf(why, whylen, "token certificate chain not trusted: %s",
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	*out = k;
	k = NULL;
	rc = KBS_OK;
out:
	X509_STORE_CTX_free(ctx);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	jwk_free(k);
	return rc;
}

json_t *kbs_json_pointer(json_t *root, const char *ptr)
{
	char tok[256];
	json_t *v = root;

	if (*ptr == '\0')
		return root;
	if (*ptr != '/')
		return NULL;
	while (*ptr == '/' && v) {
		size_t n = 0;
		ptr++;
		while (*ptr && *ptr != '/' && n < sizeof(tok) - 1) {
			if (ptr[0] == '~' && ptr[1] == '0') {
				tok[n++] = '~';
				ptr += 2;
			} else if (ptr[0] == '~' && ptr[1] == '1') {
				tok[n++] = '/';
				ptr += 2;
			} else {
				tok[n++] = *ptr++;
			}
		}
		tok[n] = '\0';
		if (json_is_object(v)) {
			v = json_object_get(v, tok);
		} else if (json_is_array(v)) {
			char *end;
			unsigned long idx = strtoul(tok, &end, 10);
			v = (*tok && !*end) ? json_array_get(v, idx) : NULL;
		} else {
			v = NULL;
		}
	}
	return v;
}

static struct jwk *find_teekey(struct kbs_tokver *t, json_t *claims)
{
	json_t *pk = NULL;
	struct jwk *k = NULL;

	for (size_t i = 0; i < t->nextra_paths && !pk; i++)
		pk = kbs_json_pointer(claims, t->extra_paths[i]);
	for (size_t i = 0; teekey_paths[i] && !pk; i++)
		pk = kbs_json_pointer(claims, teekey_paths[i]);
	if (pk && jwk_from_json(pk, &k) != KBS_OK)
		k = NULL;
	return k;
}

int kbs_tokver_verify(struct kbs_tokver *t, const char *token, size_t len, json_t **claims,
		      struct jwk **teekey, int *cached, char *why, size_t whylen)
{
	uint8_t d[SHA256_DIGEST_LENGTH];
	time_t now = time(NULL);
	struct cache_slot *slot;
	json_t *hdr = NULL, *hjwk, *c = NULL;
	struct jwk *chain_key = NULL;
	struct jwt_verify_opts o = {0};
	int rc;

	*claims = NULL;
	if (teekey)
		*teekey = NULL;
	if (cached)
		*cached = 0;
	SHA256((const uint8_t *)token, len, d);
	slot = &t->cache[(d[0] | (d[1] << 8)) % CACHE_SLOTS];
	pthread_mutex_lock(&t->lock);
	if (slot->claims && memcmp(slot->digest, d, sizeof(d)) == 0 && slot->exp + 60 > now) {
		/* shared, read-only: jansson reference counts are atomic */
		*claims = json_incref(slot->claims);
		if (teekey && slot->teekey)
			*teekey = jwk_ref(slot->teekey);
		pthread_mutex_unlock(&t->lock);
		if (cached)
			*cached = 1;
		return KBS_OK;
	}
	pthread_mutex_unlock(&t->lock);

	if (jws_peek_header(token, len, &hdr) != KBS_OK) {
		snprintf(why, whylen, "token is not a JWS");
		return KBS_ERR_PARSE;
	}
	o.allowed_algs = token_algs;
	o.keys = t->keys;
	o.nkeys = t->nkeys;
	o.leeway_s = 60;
	o.require_exp = true;
	o.now = now;
	hjwk = json_object_get(hdr, "jwk");
	if (hjwk && !t->insecure_header_jwk && t->store) {
		/* header key with a certificate chain: try the chain (the AS key is still
		 * trusted through o.keys when the chain is absent or not ours) */
		char cwhy[200];
		if (verify_x5c(t, hjwk, &chain_key, cwhy, sizeof(cwhy)) == KBS_OK) {
			o.keys = &chain_key;
			o.nkeys = 1;
		}
	}
	o.insecure_header_jwk = t->insecure_header_jwk;
	rc = jwt_verify(token, len, &o, &c, NULL);
	if (rc == KBS_ERR_EXPIRED) {
		snprintf(why, whylen, "token expired");
		goto out;
	}
	if (rc != KBS_OK) {
		snprintf(why, whylen, "token signature or signing key not trusted (%s)",
			 kbs_strerror(rc));
		goto out;
	}
	struct jwk *tk = find_teekey(t, c);
	json_t *exp = json_object_get(c, "exp");
	if (json_is_integer(exp)) {
		json_t *old_claims;
		struct jwk *old_key;
		pthread_mutex_lock(&t->lock);
		old_claims = slot->claims;
		old_key = slot->teekey;
		memcpy(slot->digest, d, sizeof(d));
		slot->exp = (time_t)json_integer_value(exp);
		slot->claims = json_incref(c);
		slot->teekey = tk ? jwk_ref(tk) : NULL;
		pthread_mutex_unlock(&t->lock);
		json_decref(old_claims);
		jwk_free(old_key);
	}
	if (teekey)
		*teekey = tk;
	else
		jwk_free(tk);
	*claims = c;
	c = NULL;
out:
	jwk_free(chain_key);
	json_decref(c);
	json_decref(hdr);
	return rc;
}
