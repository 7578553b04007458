// SPDX-License-Identifier: Apache-2.0
#include "server/kbs/tokver.h"

#include <ctype.h>
#include <openssl/crypto.h>
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
#include "common/http_client.h"
#include "common/jose/jws.h"
#include "common/json.h"
#include "common/log.h"

#define CACHE_SLOTS 1024
#define X5C_MAX_CERTS 10
#define X5C_MAX_ENTRY (64u * 1024)
#define JWKS_MAX_BYTES (1u << 20)

static const char *const token_algs[] = {"ES256", "ES384", "RS256", "RS384", "PS256", NULL};

/*
 * A verified token: its exact bytes (compared in constant time, so a probe cannot learn a
 * cached token by timing), claims and TEE key. Before, slots were keyed by SHA-256 of the
 * token, which cost ~55 000 instructions per resource GET for a 4 KB EAR token (4% of a GET).
 */
struct cache_slot {
	char *token;
	size_t len;
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

/* One entry of trusted_jwk_sets. keys/nkeys are replaced as a whole under t->lock. */
struct jwks_src {
	char *uri;   /* file path or https URL */
	bool remote; /* https */
	struct jwk **keys;
	size_t nkeys;
	time_t fetched; /* last successful load */
	time_t tried;	/* last attempt */
};

struct kbs_tokver {
	struct jwk **as_keys; /* in-process AS signing keys (public) */
	size_t nas_keys;
	struct jwks_src *sets;
	size_t nsets;
	bool any_remote;
	long refresh_s;
	struct http_client *http; /* for https sets, NULL if none */
	bool insecure_header_jwk;
	X509_STORE *store; /* trust anchors, NULL if none */
	char *const *extra_paths;
	size_t nextra_paths;
	pthread_mutex_t lock;	    /* cache slots and set key lists */
	pthread_mutex_t fetch_lock; /* one JWKS fetch at a time */
	struct cache_slot cache[CACHE_SLOTS];
};

static void free_keys(struct jwk **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		jwk_free(keys[i]);
	free(keys);
}

void kbs_tokver_free(struct kbs_tokver *t)
{
	if (!t)
		return;
	free_keys(t->as_keys, t->nas_keys);
	for (size_t i = 0; i < t->nsets; i++) {
		free(t->sets[i].uri);
		free_keys(t->sets[i].keys, t->sets[i].nkeys);
	}
	free(t->sets);
	http_client_free(t->http);
	for (size_t i = 0; i < CACHE_SLOTS; i++) {
		json_decref(t->cache[i].claims);
		jwk_free(t->cache[i].teekey);
		free(t->cache[i].token);
	}
	X509_STORE_free(t->store);
	pthread_mutex_destroy(&t->lock);
	pthread_mutex_destroy(&t->fetch_lock);
	free(t);
}

static int push_key(struct jwk ***keys, size_t *n, struct jwk *k)
{
	struct jwk **nk = realloc(*keys, (*n + 1) * sizeof(*nk));

	if (!nk) {
		jwk_free(k);
		return KBS_ERR_NOMEM;
	}
	*keys = nk;
	(*keys)[(*n)++] = k;
	return KBS_OK;
}

/* Parses a JWK set document; keys that are not usable public keys are skipped. */
static int parse_jwks(json_t *doc, const char *uri, struct jwk ***out, size_t *nout, char *err,
		      size_t errlen)
{
	json_t *keys = json_object_get(doc, "keys"), *e;
	struct jwk **v = NULL;
	size_t n = 0, i;
	int rc;

	*out = NULL;
	*nout = 0;
	if (!json_is_array(keys)) {
		snprintf(err, errlen, "trusted_jwk_sets: %s is not a JWK set (no \"keys\" array)",
			 uri);
		return KBS_ERR_PARSE;
	}
	json_array_foreach(keys, i, e)
	{
		struct jwk *k = NULL;
		if (jwk_from_json(e, &k) != KBS_OK || jwk_is_private(k)) {
			log_warn("tokens: %s: key %zu is not a usable public JWK; skipped", uri, i);
			jwk_free(k);
			continue;
		}
		if ((rc = push_key(&v, &n, k)) != KBS_OK) {
			free_keys(v, n);
			return rc;
		}
	}
	*out = v;
	*nout = n;
	return KBS_OK;
}

/* Loads one set (file or https) into fresh key lists; no lock held. */
static int load_set(struct kbs_tokver *t, const struct jwks_src *s, struct jwk ***keys,
		    size_t *nkeys, char *err, size_t errlen)
{
	json_t *doc = NULL;
	json_error_t je;
	int rc;

	if (!s->remote) {
		doc = json_load_file(s->uri, JSON_REJECT_DUPLICATES, &je);
		if (!doc) {
			snprintf(err, errlen, "trusted_jwk_sets: cannot read %s: %s", s->uri,
				 je.text);
			return KBS_ERR_IO;
		}
	} else {
		static const char *const hdrs[] = {"Accept: application/json", NULL};
		struct http_result r;
		rc = http_client_request(t->http, "GET", s->uri, hdrs, NULL, 0,
					 http_now_ms() + 15000, &r);
		if (rc != KBS_OK || r.status != 200) {
			snprintf(err, errlen, "trusted_jwk_sets: fetching %s failed: %s", s->uri,
				 rc != KBS_OK ? (r.error[0] ? r.error : kbs_strerror(rc))
					      : "HTTP status not 200");
			if (rc == KBS_OK)
				log_warn("tokens: %s answered HTTP %ld", s->uri, r.status);
			http_result_release(&r);
			return KBS_ERR_NETWORK;
		}
		doc = json_loadb((const char *)r.body.p, r.body.len, JSON_REJECT_DUPLICATES, &je);
		http_result_release(&r);
		if (!doc) {
			snprintf(err, errlen, "trusted_jwk_sets: %s is not JSON: %s", s->uri,
				 je.text);
			return KBS_ERR_PARSE;
		}
	}
	rc = parse_jwks(doc, s->uri, keys, nkeys, err, errlen);
	json_decref(doc);
	return rc;
}

/* Swaps a freshly loaded key list into set i. */
static void install_set(struct kbs_tokver *t, size_t i, struct jwk **keys, size_t nkeys, time_t now)
{
	struct jwk **old;
	size_t nold;

	pthread_mutex_lock(&t->lock);
	old = t->sets[i].keys;
	nold = t->sets[i].nkeys;
	t->sets[i].keys = keys;
	t->sets[i].nkeys = nkeys;
	t->sets[i].fetched = now;
	t->sets[i].tried = now;
	pthread_mutex_unlock(&t->lock);
	free_keys(old, nold);
}

static int load_anchors(struct kbs_tokver *t, const struct kbs_config *cfg, char *err,
			size_t errlen)
{
	t->store = X509_STORE_new();
	if (!t->store)
		return KBS_ERR_NOMEM;
	/* every certificate in the files is an anchor, also intermediates (Trustee) */
	X509_STORE_set_flags(t->store, X509_V_FLAG_PARTIAL_CHAIN);
	for (size_t i = 0; i < cfg->ntrusted_certs; i++) {
		FILE *f = fopen(cfg->trusted_certs_paths[i], "r");
		X509 *x;
		int n = 0;
		if (!f) {
			snprintf(err, errlen, "trusted_certs_paths: cannot open %s",
				 cfg->trusted_certs_paths[i]);
			return KBS_ERR_IO;
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
			return KBS_ERR_PARSE;
		}
		log_info("tokens: %d trust anchor(s) from %s", n, cfg->trusted_certs_paths[i]);
	}
	return KBS_OK;
}

int kbs_tokver_new(const struct kbs_config *cfg, const struct jwk *const *as_keys,
		   size_t nas_keys, struct kbs_tokver **out, char *err, size_t errlen)
{
	struct kbs_tokver *t = calloc(1, sizeof(*t));
	time_t now = time(NULL);
	int rc = KBS_ERR_NOMEM;

	*out = NULL;
	if (!t)
		return KBS_ERR_NOMEM;
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_init(&t->fetch_lock, NULL);
	t->insecure_header_jwk = cfg->insecure_header_jwk;
	t->extra_paths = cfg->extra_teekey_paths;
	t->nextra_paths = cfg->nextra_teekey_paths;
	t->refresh_s = cfg->jwks_refresh_s > 0 ? cfg->jwks_refresh_s : KBS_TOKVER_JWKS_REFRESH_S;
	for (size_t i = 0; i < nas_keys; i++) {
		struct jwk *pub = NULL;
		if (!as_keys[i])
			continue;
		if ((rc = jwk_public(as_keys[i], &pub)) != KBS_OK ||
		    (rc = push_key(&t->as_keys, &t->nas_keys, pub)) != KBS_OK)
			goto out;
	}
	if (cfg->ntrusted_jwk_sets) {
		t->sets = calloc(cfg->ntrusted_jwk_sets, sizeof(*t->sets));
		if (!t->sets)
			goto out;
	}
	for (size_t i = 0; i < cfg->ntrusted_jwk_sets; i++) {
		const char *u = cfg->trusted_jwk_sets[i];
		struct jwks_src *s = &t->sets[t->nsets];
		if (strncmp(u, "file://", 7) == 0)
			u += 7;
		if (strncmp(u, "http://", 7) == 0) {
			snprintf(err, errlen,
				 "trusted_jwk_sets: %s: only https:// URLs, file:// "
				 "URLs and paths are accepted",
				 u);
			rc = KBS_ERR_INVAL;
			goto out;
		}
		if (!(s->uri = strdup(u)))
			goto out;
		s->remote = strncmp(u, "https://", 8) == 0;
		t->nsets++;
		if (s->remote && !t->http) {
			struct http_client_config hc = {.ca_file = cfg->jwks_ca_file,
							.connect_timeout_ms = 5000,
							.timeout_ms = 10000,
							.max_retries = 1,
							.max_response_size = JWKS_MAX_BYTES};
			if ((rc = http_client_new(&hc, &t->http)) != KBS_OK)
				goto out;
			t->any_remote = true;
		}
		struct jwk **keys = NULL;
		size_t nkeys = 0;
		if ((rc = load_set(t, s, &keys, &nkeys, err, errlen)) != KBS_OK)
			goto out;
		install_set(t, t->nsets - 1, keys, nkeys, now);
		log_info("tokens: %zu key(s) from JWK set %s%s", nkeys, s->uri,
			 s->remote ? " (refreshed periodically)" : "");
	}
	if (cfg->ntrusted_certs > 0 && (rc = load_anchors(t, cfg, err, errlen)) != KBS_OK)
		goto out;
	if (t->nas_keys == 0 && t->nsets == 0 && !t->store && !cfg->insecure_header_jwk) {
		snprintf(err, errlen,
			 "attestation_token: no token issuer can be trusted: set "
			 "trusted_certs_paths, trusted_jwk_sets or insecure_header_jwk");
		rc = KBS_ERR_INVAL;
		goto out;
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

/* ---------------------------------------------------------------- kid lookup */

/* New reference to the first key named kid in any set, or NULL. Caller holds no lock. */
static struct jwk *find_kid(struct kbs_tokver *t, const char *kid)
{
	struct jwk *k = NULL;

	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->nsets && !k; i++)
		for (size_t j = 0; j < t->sets[i].nkeys && !k; j++) {
			const char *kk = jwk_kid(t->sets[i].keys[j]);
			if (kk && strcmp(kk, kid) == 0)
				k = jwk_ref(t->sets[i].keys[j]);
		}
	pthread_mutex_unlock(&t->lock);
	return k;
}

/*
 * Refetches https sets that are older than the refresh interval, or (unknown_kid) whose last
 * attempt is older than the unknown-kid rate limit. Failures keep the last good keys.
 */
static void refresh_sets(struct kbs_tokver *t, time_t now, bool unknown_kid)
{
	if (!t->any_remote)
		return;
	pthread_mutex_lock(&t->fetch_lock);
	for (size_t i = 0; i < t->nsets; i++) {
		struct jwks_src *s = &t->sets[i];
		struct jwk **keys = NULL;
		size_t nkeys = 0;
		char err[400];
		bool due;

		if (!s->remote)
			continue;
		pthread_mutex_lock(&t->lock);
		due = now - s->fetched >= t->refresh_s ||
		      (unknown_kid && now - s->tried >= KBS_TOKVER_JWKS_MIN_REFETCH_S);
		if (due)
			s->tried = now;
		pthread_mutex_unlock(&t->lock);
		if (!due)
			continue;
		if (load_set(t, s, &keys, &nkeys, err, sizeof(err)) != KBS_OK) {
			log_warn("tokens: %s; keeping the %zu key(s) loaded before", err, s->nkeys);
			continue;
		}
		install_set(t, i, keys, nkeys, now);
		log_info("tokens: JWK set %s refreshed (%zu key(s))", s->uri, nkeys);
	}
	pthread_mutex_unlock(&t->fetch_lock);
}

static bool sets_stale(struct kbs_tokver *t, time_t now)
{
	bool stale = false;

	if (!t->any_remote)
		return false;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->nsets && !stale; i++)
		stale = t->sets[i].remote && now - t->sets[i].fetched >= t->refresh_s;
	pthread_mutex_unlock(&t->lock);
	return stale;
}

/* ---------------------------------------------------------------- x5c */

int kbs_tokver_x5c_decode(const char *s, uint8_t **out, size_t *outlen)
{
	size_t n = strlen(s), m = 0;
	char *norm;
	int rc;

	*out = NULL;
	if (n > X5C_MAX_ENTRY)
		return KBS_ERR_RANGE;
	norm = malloc(n + 4);
	if (!norm)
		return KBS_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (isspace((unsigned char)c) || c == '=')
			continue;
		norm[m++] = c == '-' ? '+' : c == '_' ? '/' : c;
	}
	while (m % 4)
		norm[m++] = '=';
	rc = m ? b64_decode_alloc(norm, m, B64_STD, out, outlen) : KBS_ERR_PARSE;
	free(norm);
	return rc;
}

/* EC keys must be P-256, RSA keys are accepted as they are (Trustee's x5c rule). */
static bool x5c_key_type_ok(const struct jwk *k)
{
	const char *kty = jwk_kty(k);

	if (strcmp(kty, "RSA") == 0)
		return true;
	return strcmp(kty, "EC") == 0 && jwk_crv(k) && strcmp(jwk_crv(k), "P-256") == 0;
}

/* x5c[0] must carry the header jwk's key and chain to a trust anchor. */
static int verify_x5c(struct kbs_tokver *t, const json_t *hjwk, const struct jwk *hk, char *why,
		      size_t whylen)
{
	json_t *x5c = json_object_get(hjwk, "x5c"), *e;
	STACK_OF(X509) *chain = sk_X509_new_null();
	X509 *leaf = NULL;
	X509_STORE_CTX *ctx = NULL;
	size_t i;
	int rc = KBS_ERR_VERIFY;

	if (!chain)
		return KBS_ERR_NOMEM;
	if (!json_is_array(x5c) || json_array_size(x5c) == 0) {
		snprintf(why, whylen,
			 "x5c: token header jwk has no x5c certificate chain, so its "
			 "signer is not trusted");
		goto out;
	}
	if (json_array_size(x5c) > X5C_MAX_CERTS) {
		snprintf(why, whylen, "x5c: more than %d certificates", X5C_MAX_CERTS);
		goto out;
	}
	json_array_foreach(x5c, i, e) {
		uint8_t *der = NULL;
		size_t dlen;
		const char *s = json_string_value(e);
		if (!s || kbs_tokver_x5c_decode(s, &der, &dlen) != KBS_OK) {
			snprintf(why, whylen, "x5c: x5c[%zu] is not base64 DER", i);
			goto out;
		}
		const uint8_t *p = der;
		X509 *x = d2i_X509(NULL, &p, (long)dlen);
		bool trailing = x && p != der + dlen;
		free(der);
		if (!x || trailing) {
			X509_free(x);
			snprintf(why, whylen, "x5c: x5c[%zu] is not one DER certificate", i);
			goto out;
		}
		if (i == 0) {
			leaf = x;
		} else if (!sk_X509_push(chain, x)) {
			X509_free(x);
			rc = KBS_ERR_NOMEM;
			goto out;
		}
	}
	if (!x5c_key_type_ok(hk)) {
		snprintf(why, whylen, "x5c: header jwk key type not accepted (RSA or EC P-256)");
		goto out;
	}
	EVP_PKEY *lk = X509_get0_pubkey(leaf);
	if (!lk || EVP_PKEY_eq(lk, jwk_pkey(hk)) != 1) {
		snprintf(why, whylen,
			 "x5c: the leaf certificate's public key does not match the "
			 "header jwk");
		goto out;
	}
	ctx = X509_STORE_CTX_new();
	if (!ctx || X509_STORE_CTX_init(ctx, t->store, leaf, chain) != 1) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		int ec = X509_STORE_CTX_get_error(ctx);
		snprintf(why, whylen, "x5c: certificate chain not trusted (depth %d: %s)",
			 X509_STORE_CTX_get_error_depth(ctx), X509_verify_cert_error_string(ec));
		goto out;
	}
	rc = KBS_OK;
out:
	X509_STORE_CTX_free(ctx);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	return rc;
}

/* The key's "alg" must be present and be the header's "alg" (Trustee takes the JWK's). */
static int check_key_alg(const struct jwk *k, const char *halg, const char *what, char *why,
			 size_t whylen)
{
	const char *ka = jwk_alg(k);

	if (!ka) {
		snprintf(why, whylen, "alg: the %s has no \"alg\" member", what);
		return KBS_ERR_VERIFY;
	}
	if (!halg || strcmp(ka, halg) != 0) {
		snprintf(why, whylen, "alg: token alg %s differs from the %s's alg %s",
			 halg ? halg : "(none)", what, ka);
		return KBS_ERR_VERIFY;
	}
	return KBS_OK;
}

static int endorse(struct kbs_tokver *t, const json_t *hjwk, const struct jwk *hk, const char *halg,
		   char *why, size_t whylen)
{
	int rc;

	if (!t->store) {
		snprintf(why, whylen,
			 "x5c: token signer not trusted (the header jwk is not this "
			 "KBS's attestation service key and trusted_certs_paths is "
			 "empty)");
		return KBS_ERR_VERIFY;
	}
	if ((rc = verify_x5c(t, hjwk, hk, why, whylen)) != KBS_OK)
		return rc;
	if (!halg)
		halg = jwk_alg(hk);
	return check_key_alg(hk, halg, "header jwk", why, whylen);
}

int kbs_tokver_endorse_jwk(struct kbs_tokver *t, const json_t *jwk, const char *alg, char *why,
			   size_t whylen)
{
	struct jwk *hk = NULL;
	int rc;

	if (jwk_from_json(jwk, &hk) != KBS_OK || jwk_is_private(hk)) {
		jwk_free(hk);
		snprintf(why, whylen, "jwk: not a usable public key");
		return KBS_ERR_VERIFY;
	}
	rc = endorse(t, jwk, hk, alg, why, whylen);
	jwk_free(hk);
	return rc;
}

/* New reference to the AS key whose thumbprint equals hk's, or NULL. */
static struct jwk *find_as_key(struct kbs_tokver *t, const struct jwk *hk)
{
	uint8_t a[32], b[32];

	if (jwk_thumbprint(hk, a, NULL, 0) != KBS_OK)
		return NULL;
	for (size_t i = 0; i < t->nas_keys; i++)
		if (jwk_thumbprint(t->as_keys[i], b, NULL, 0) == KBS_OK &&
		    CRYPTO_memcmp(a, b, sizeof(a)) == 0)
			return jwk_ref(t->as_keys[i]);
	return NULL;
}

/*
 * Picks the key that may verify the token (§7.2). *key: new reference, or NULL with
 * *insecure set when the header key is trusted as is. *what names the key for messages.
 */
static int select_key(struct kbs_tokver *t, json_t *hdr, time_t now, struct jwk **key,
		      bool *insecure, const char **what, char *why, size_t whylen)
{
	json_t *hjwk = json_object_get(hdr, "jwk");
	const char *kid = json_string_value(json_object_get(hdr, "kid"));
	const char *halg = json_string_value(json_object_get(hdr, "alg"));
	struct jwk *hk = NULL;
	int rc = KBS_ERR_VERIFY;

	*key = NULL;
	*insecure = false;
	if (hjwk) {
		if (jwk_from_json(hjwk, &hk) != KBS_OK || jwk_is_private(hk)) {
			snprintf(why, whylen, "jwk: token header jwk is not a usable public key");
			goto out;
		}
		if ((*key = find_as_key(t, hk)) != NULL) {
			*what = "attestation service key";
			rc = KBS_OK;
			goto out;
		}
		if (t->insecure_header_jwk) {
			*insecure = true;
			*what = "header jwk";
			rc = KBS_OK;
			goto out;
		}
		if ((rc = endorse(t, hjwk, hk, halg, why, whylen)) != KBS_OK)
			goto out;
		*what = "x5c leaf key";
		*key = hk;
		hk = NULL;
		goto out;
	}
	if (kid) {
		if (t->nsets == 0) {
			snprintf(why, whylen,
				 "kid: token names kid '%.64s' but no trusted_jwk_sets "
				 "are configured",
				 kid);
			goto out;
		}
		if (sets_stale(t, now))
			refresh_sets(t, now, false);
		if (!(*key = find_kid(t, kid))) {
			refresh_sets(t, now, true);
			*key = find_kid(t, kid);
		}
		if (!*key) {
			snprintf(why, whylen, "kid: kid '%.64s' is not in any trusted JWK set",
				 kid);
			goto out;
		}
		if ((rc = check_key_alg(*key, halg, "JWK set key", why, whylen)) != KBS_OK) {
			jwk_free(*key);
			*key = NULL;
			goto out;
		}
		*what = "JWK set key";
		goto out;
	}
	snprintf(why, whylen, "header: token header has neither jwk nor kid");
	rc = t->nas_keys ? KBS_OK : KBS_ERR_VERIFY;
	*what = "attestation service key";
out:
	jwk_free(hk);
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

/* Only to name the failed check: does the (unverified) payload carry an exp claim? */
static bool payload_has_exp(const char *token, size_t len)
{
	const char *p1 = memchr(token, '.', len), *p2;
	uint8_t *pl = NULL;
	size_t pl_len;
	json_t *j;
	bool has = true;

	if (!p1 || !(p2 = memchr(p1 + 1, '.', len - (size_t)(p1 + 1 - token))))
		return true;
	if (b64_decode_alloc(p1 + 1, (size_t)(p2 - p1 - 1), B64_URL, &pl, &pl_len) != KBS_OK)
		return true;
	j = json_loadb((const char *)pl, pl_len, 0, NULL);
	if (json_is_object(j))
		has = json_object_get(j, "exp") != NULL;
	json_decref(j);
	free(pl);
	return has;
}

/*
 * Cache slot of a token: FNV-1a of its length and last 64 bytes (the signature, which differs
 * between any two tokens an issuer signs). Only picks the slot; a hit needs the whole token
 * to be equal.
 */
static size_t cache_index(const char *token, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull ^ len;
	size_t from = len > 64 ? len - 64 : 0;

	for (size_t i = from; i < len; i++) {
		h ^= (uint8_t)token[i];
		h *= 0x100000001b3ull;
	}
	return (size_t)(h ^ (h >> 32)) % CACHE_SLOTS;
}

int kbs_tokver_verify(struct kbs_tokver *t, const char *token, size_t len, json_t **claims,
		      struct jwk **teekey, int *cached, char *why, size_t whylen)
{
	time_t now = time(NULL);
	struct cache_slot *slot;
	json_t *hdr = NULL, *c = NULL;
	struct jwk *key = NULL;
	struct jwt_verify_opts o = {0};
	const char *what = "key";
	bool insecure = false;
	char swhy[300] = "";
	int rc;

	*claims = NULL;
	if (teekey)
		*teekey = NULL;
	if (cached)
		*cached = 0;
	slot = &t->cache[cache_index(token, len)];
	pthread_mutex_lock(&t->lock);
	if (slot->claims && slot->len == len && CRYPTO_memcmp(slot->token, token, len) == 0 &&
	    slot->exp + 60 > now) {
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
		snprintf(why, whylen, "header: token is not a JWS");
		return KBS_ERR_PARSE;
	}
	rc = select_key(t, hdr, now, &key, &insecure, &what, swhy, sizeof(swhy));
	if (rc != KBS_OK) {
		snprintf(why, whylen, "%s", swhy);
		goto out;
	}
	o.allowed_algs = token_algs;
	o.leeway_s = 60;
	o.require_exp = true;
	o.now = now;
	o.insecure_header_jwk = insecure;
	if (key) {
		o.keys = &key;
		o.nkeys = 1;
	} else if (!insecure) {
		o.keys = t->as_keys;
		o.nkeys = t->nas_keys;
	}
	rc = jwt_verify(token, len, &o, &c, NULL);
	if (rc == KBS_ERR_EXPIRED) {
		snprintf(why, whylen, "exp: token expired (or not yet valid)");
		goto out;
	}
	if (rc == KBS_ERR_VERIFY && !payload_has_exp(token, len)) {
		snprintf(why, whylen, "exp: token has no exp claim");
		goto out;
	}
	if (rc != KBS_OK) {
		if (swhy[0])
			snprintf(why, whylen, "%s", swhy);
		else
			snprintf(why, whylen,
				 "signature: token signature does not verify with the "
				 "%s, so it is not trusted (%s)",
				 what, kbs_strerror(rc));
		goto out;
	}
	struct jwk *tk = find_teekey(t, c);
	json_t *exp = json_object_get(c, "exp");
	char *copy = json_is_integer(exp) ? malloc(len ? len : 1) : NULL;
	if (copy) {
		json_t *old_claims;
		struct jwk *old_key;
		char *old_token;
		memcpy(copy, token, len);
		pthread_mutex_lock(&t->lock);
		old_claims = slot->claims;
		old_key = slot->teekey;
		old_token = slot->token;
		slot->token = copy;
		slot->len = len;
		slot->exp = (time_t)json_integer_value(exp);
		slot->claims = json_incref(c);
		slot->teekey = tk ? jwk_ref(tk) : NULL;
		pthread_mutex_unlock(&t->lock);
		json_decref(old_claims);
		jwk_free(old_key);
		free(old_token);
	}
	if (teekey)
		*teekey = tk;
	else
		jwk_free(tk);
	*claims = c;
	c = NULL;
out:
	jwk_free(key);
	json_decref(c);
	json_decref(hdr);
	return rc;
}
