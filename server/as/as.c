// SPDX-License-Identifier: Apache-2.0
#include "server/as/as.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/b64.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/jcs.h"
#include "common/jose/jws.h"
#include "common/json.h"
#include "common/log.h"
#include "common/toml.h"
#include "server/as/ear_signer.h"
#include "server/as/verifier.h"

#ifndef KBSFS_VERSION
#define KBSFS_VERSION "0.1.0"
#endif

#define AS_MAX_POLICY 65536

#define AS_MAX_VERIFIERS 16

struct as_ctx {
	struct as_config cfg;
	struct jwk *key;      /* private signing key (EAR: P-256) */
	struct jwk *rsa_key;  /* Simple token key (RSA), lazily created at start */
	json_t *header_jwk;   /* public JWK for the token header */
	struct ear_signer *ear; /* ES256 with the header rendered once */
	EVP_MD *md[3];          /* sha256, sha384, sha512 fetched once (implicit fetches per
				 * digest showed up in the RCAR profile) */
	/* The EAR claims around "iat", "submods" and "exp" only depend on the configuration:
	 * rendered once (jansson's escaping), so a token costs one dump of the submods. */
	char *claims_head;    /* {"eat_profile":...,"iat": */
	char *claims_mid;     /* ,"ear.verifier-id":{...},"submods": */
	char *claims_tail;    /* ,"iss":...} */
	const struct policy_engine *engine;
	pthread_mutex_t lock;
	json_t *policies;     /* id -> Rego text */
	struct as_policy_store store; /* shared store; get == NULL = none */
	void *vstate[AS_MAX_VERIFIERS]; /* per verifier of the table (as_verifier_at) */
	struct rvps *rvps;    /* reference values (built-in store or remote) */
};

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

void as_config_init(struct as_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->duration_min = 5;
	cfg->verbose_token = true;
	cfg->token_type = AS_TOKEN_EAR;
}

void as_config_release(struct as_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->issuer_name);
	free(cfg->developer_name);
	free(cfg->build_name);
	free(cfg->profile_name);
	free(cfg->signer_key_path);
	free(cfg->signer_cert_path);
	free(cfg->signer_cert_url);
	free(cfg->state_dir);
	json_decref(cfg->verifier_config);
	rvps_config_release(&cfg->rvps);
	as_config_init(cfg);
}

static int opt_str(const json_t *obj, const char *key, const char *path, char **out, char *why,
		   size_t whylen)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return KBS_OK;
	if (!json_is_string(v)) {
		snprintf(why, whylen, "key '%s%s': expected string, got %s", path, key,
			 json_type_name(v));
		return KBS_ERR_INVAL;
	}
	free(*out);
	*out = strdup(json_string_value(v));
	return *out ? KBS_OK : KBS_ERR_NOMEM;
}

/*
 * rvps_config (BuiltIn/GrpcRemote) plus, in a restful-as config, the paths of its
 * storage_backend: the built-in RVPS stores where the AS stores (or where rvps_config's
 * storage_type override says).
 */
static int parse_rvps(const json_t *obj, struct as_config *cfg, char *why, size_t whylen)
{
	struct rvps_config sb;
	json_t *r = json_object_get(obj, "rvps_config"), *st = json_object_get(obj,
										"storage_backend");
	enum rvps_storage override;
	int rc = KBS_OK;

	rvps_config_init(&sb);
	if (r && !json_is_null(r) &&
	    (rc = rvps_config_from_as_json(r, &cfg->rvps, why, whylen)) != KBS_OK)
		goto out;
	if (cfg->rvps.mode != RVPS_BUILTIN || !json_is_object(st))
		goto out;
	override = cfg->rvps.storage;
	if (override != RVPS_STORE_DEFAULT) {
		/* the override picks the type; its paths come from storage_backend.backends */
		json_t *copy = json_copy((json_t *)st);
		const char *names[] = {"", "Memory", "LocalFs", "LocalJson"};
		if (!copy) {
			rc = KBS_ERR_NOMEM;
			goto out;
		}
		json_object_set_new(copy, "storage_type", json_string(names[override]));
		rc = rvps_storage_from_json(copy, &sb, why, whylen);
		json_decref(copy);
	} else {
		rc = rvps_storage_from_json(st, &sb, why, whylen);
	}
	if (rc != KBS_OK) {
		if (rc == KBS_ERR_UNSUPPORTED) /* Postgres/Redis: the AS keeps its defaults */
			rc = KBS_OK;
		goto out;
	}
	cfg->rvps.storage = sb.storage;
	free(cfg->rvps.dir_path);
	free(cfg->rvps.file_dir_path);
	cfg->rvps.dir_path = sb.dir_path;
	cfg->rvps.file_dir_path = sb.file_dir_path;
	sb.dir_path = sb.file_dir_path = NULL;
out:
	rvps_config_release(&sb);
	return rc;
}

int as_config_from_json(const json_t *obj, struct as_config *cfg, char *why, size_t whylen)
{
	json_t *b, *v, *s;
	int rc;

	if (!json_is_object(obj)) {
		snprintf(why, whylen, "attestation service configuration must be a table/object");
		return KBS_ERR_INVAL;
	}
	b = json_object_get(obj, "attestation_token_broker");
	if (!b || json_is_string(b)) /* Trustee <= v0.10: broker name + attestation_token_config */
		b = json_object_get(obj, "attestation_token_config");
	if (b && !json_is_object(b)) {
		snprintf(why, whylen, "key 'attestation_token_broker': expected table, got %s",
			 json_type_name(b));
		return KBS_ERR_INVAL;
	}
	if (b) {
		const char *P = "attestation_token_broker.";
		if ((v = json_object_get(b, "duration_min"))) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > 525600) {
				snprintf(why, whylen,
					 "key '%sduration_min': expected integer 1..525600", P);
				return KBS_ERR_INVAL;
			}
			cfg->duration_min = (int)json_integer_value(v);
		}
		if ((rc = opt_str(b, "issuer_name", P, &cfg->issuer_name, why, whylen)) ||
		    (rc = opt_str(b, "developer_name", P, &cfg->developer_name, why, whylen)) ||
		    (rc = opt_str(b, "build_name", P, &cfg->build_name, why, whylen)) ||
		    (rc = opt_str(b, "profile_name", P, &cfg->profile_name, why, whylen)))
			return rc;
		if ((v = json_object_get(b, "verbose_token"))) {
			if (!json_is_boolean(v)) {
				snprintf(why, whylen, "key '%sverbose_token': expected boolean", P);
				return KBS_ERR_INVAL;
			}
			cfg->verbose_token = json_is_true(v);
		}
		if ((v = json_object_get(b, "type")) && json_is_string(v) &&
		    strcasecmp(json_string_value(v), "simple") == 0)
			cfg->token_type = AS_TOKEN_SIMPLE;
		if ((s = json_object_get(b, "signer"))) {
			if (!json_is_object(s)) {
				snprintf(why, whylen, "key '%ssigner': expected table", P);
				return KBS_ERR_INVAL;
			}
			const char *SP = "attestation_token_broker.signer.";
			if ((rc = opt_str(s, "key_path", SP, &cfg->signer_key_path, why, whylen)) ||
			    (rc = opt_str(s, "cert_path", SP, &cfg->signer_cert_path, why, whylen)) ||
			    (rc = opt_str(s, "cert_url", SP, &cfg->signer_cert_url, why, whylen)))
				return rc;
			if (!cfg->signer_key_path) {
				snprintf(why, whylen, "key '%skey_path' is required", SP);
				return KBS_ERR_INVAL;
			}
		}
	}
	if ((v = json_object_get(obj, "verifier_config")) && !json_is_null(v)) {
		struct as_verifier_config vc;

		/* checked here so that a bad key fails at configuration time */
		if ((rc = as_verifier_config_from_json(v, &vc, why, whylen)) != KBS_OK)
			return rc;
		as_verifier_config_release(&vc);
		json_decref(cfg->verifier_config);
		cfg->verifier_config = json_incref(v);
	}
	/* v0.10 AS config: attestation_token_broker = "Simple" as a string */
	if ((v = json_object_get(obj, "attestation_token_broker")) && json_is_string(v) &&
	    strcasecmp(json_string_value(v), "simple") == 0)
		cfg->token_type = AS_TOKEN_SIMPLE;
	return parse_rvps(obj, cfg, why, whylen);
}

static const char *cfg_or(const char *v, const char *def)
{
	return v ? v : def;
}

/* ---------------------------------------------------------------- hashing */

int as_hash(const char *alg, const void *data, size_t len, uint8_t *out, size_t *outlen)
{
	const EVP_MD *md;
	unsigned int n = 0;

	if (!alg || strcasecmp(alg, "sha384") == 0)
		md = EVP_sha384();
	else if (strcasecmp(alg, "sha256") == 0)
		md = EVP_sha256();
	else if (strcasecmp(alg, "sha512") == 0)
		md = EVP_sha512();
	else
		return KBS_ERR_UNSUPPORTED;
	if (EVP_Digest(data, len, out, &n, md, NULL) != 1)
		return KBS_ERR_CRYPTO;
	*outlen = n;
	return KBS_OK;
}

/* as_runtime_data_digest with the context's pre-fetched digests. */
static int rd_digest(struct as_ctx *as, const json_t *obj, const char *alg, uint8_t *out,
		     size_t *outlen)
{
	struct buf b = BUF_INIT;
	const EVP_MD *md;
	unsigned int n = 0;
	int rc;

	if (!alg || strcasecmp(alg, "sha384") == 0)
		md = as->md[1];
	else if (strcasecmp(alg, "sha256") == 0)
		md = as->md[0];
	else if (strcasecmp(alg, "sha512") == 0)
		md = as->md[2];
	else
		return KBS_ERR_UNSUPPORTED;
	if ((rc = buf_reserve(&b, 1024)) == KBS_OK && (rc = jcs_serialize(obj, &b)) == KBS_OK)
		rc = EVP_Digest(b.p, b.len, out, &n, md, NULL) == 1 ? KBS_OK : KBS_ERR_CRYPTO;
	if (rc == KBS_OK)
		*outlen = n;
	buf_release(&b);
	return rc;
}

int as_runtime_data_digest(const json_t *obj, const char *alg, uint8_t *out, size_t *outlen)
{
	struct buf b = BUF_INIT;
	int rc;

	if ((rc = jcs_serialize(obj, &b)) == KBS_OK)
		rc = as_hash(alg, b.p, b.len, out, outlen);
	buf_release(&b);
	return rc;
}

/* ---------------------------------------------------------------- keys */

static int load_cert_chain(const char *path, json_t *x5c)
{
	FILE *f = fopen(path, "r");
	X509 *x;
	int rc = KBS_OK, n = 0;

	if (!f)
		return KBS_ERR_IO;
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		unsigned char *der = NULL;
		int dlen = i2d_X509(x, &der);
		char *b64 = NULL;
		X509_free(x);
		if (dlen <= 0) {
			rc = KBS_ERR_CRYPTO;
			break;
		}
		rc = b64_encode_alloc(der, (size_t)dlen, B64_STD, &b64);
		OPENSSL_free(der);
		if (rc != KBS_OK)
			break;
		json_array_append_new(x5c, json_string(b64));
		free(b64);
		n++;
	}
	fclose(f);
	if (rc == KBS_OK && n == 0)
		rc = KBS_ERR_PARSE;
	return rc;
}

/* JSON text of one string, escaped exactly as json_dumps escapes it inside an object. */
static int json_str_text(const char *v, struct buf *out)
{
	json_t *j = json_string(v);
	char *t = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	int rc = t ? buf_append_str(out, t) : KBS_ERR_INVAL;

	free(t);
	json_decref(j);
	return rc;
}

/* Token header, signer and the fixed parts of the EAR claims (kbs-protocol §11). */
static int ear_setup(struct as_ctx *as)
{
	char build[96];
	struct buf b = BUF_INIT;
	json_t *hdr;
	int rc;

	/* Trustee's member order (jsonwebtoken's Header): typ, alg, jwk */
	hdr = json_pack("{s:s,s:s,s:O}", "typ", "JWT", "alg", "ES256", "jwk", as->header_jwk);
	if (!hdr)
		return KBS_ERR_NOMEM;
	rc = ear_signer_new(as->key, hdr, &as->ear);
	json_decref(hdr);
	if (rc != KBS_OK)
		return rc;
	snprintf(build, sizeof(build), "kbsfs-attestation-service %s", KBSFS_VERSION);
	if ((rc = buf_append_str(&b, "{\"eat_profile\":")) ||
	    (rc = json_str_text(cfg_or(as->cfg.profile_name,
				       "tag:github.com,2024:confidential-containers/Trustee"),
				&b)) ||
	    (rc = buf_append_str(&b, ",\"iat\":")))
		goto out;
	as->claims_head = buf_steal(&b, NULL);
	/* the ear crate writes the verifier id developer first */
	if ((rc = buf_append_str(&b, ",\"ear.verifier-id\":{\"developer\":")) ||
	    (rc = json_str_text(cfg_or(as->cfg.developer_name, "https://confidentialcontainers.org"),
				&b)) ||
	    (rc = buf_append_str(&b, ",\"build\":")) ||
	    (rc = json_str_text(cfg_or(as->cfg.build_name, build), &b)) ||
	    (rc = buf_append_str(&b, "},\"submods\":")))
		goto out;
	as->claims_mid = buf_steal(&b, NULL);
	if ((rc = buf_append_str(&b, ",\"iss\":")) ||
	    (rc = json_str_text(cfg_or(as->cfg.issuer_name, "CoCo-Attestation-Service"), &b)) ||
	    (rc = buf_append_byte(&b, '}')))
		goto out;
	as->claims_tail = buf_steal(&b, NULL);
	rc = as->claims_head && as->claims_mid && as->claims_tail ? KBS_OK : KBS_ERR_NOMEM;
out:
	if (rc == KBS_ERR_INVAL)
		log_error("as: attestation_token_broker names must be valid UTF-8");
	buf_release(&b);
	return rc;
}

static int setup_keys(struct as_ctx *as)
{
	char tp[64];
	int rc;

	if (as->cfg.signer_key_path) {
		rc = jwk_from_pem_file(as->cfg.signer_key_path, &as->key);
		if (rc != KBS_OK) {
			log_error("as: cannot read token signing key %s: %s", as->cfg.signer_key_path,
				  kbs_strerror(rc));
			return rc;
		}
		if (!jwk_is_private(as->key) || strcmp(jwk_kty(as->key), "EC") != 0 ||
		    !jwk_crv(as->key) || strcmp(jwk_crv(as->key), "P-256") != 0) {
			log_error("as: only P-256 attestation token signing keys are supported (%s)",
				  as->cfg.signer_key_path);
			return KBS_ERR_UNSUPPORTED;
		}
	} else if ((rc = jwk_generate(JWK_EC_P256, &as->key)) != KBS_OK) {
		return rc;
	}
	/* Header jwk in the member order of Trustee's (jsonwebtoken's Jwk: the common
	 * parameters alg, x5u, x5c first, then kty, crv, x, y). */
	struct jwk *pub = NULL;
	json_t *kp = NULL;
	const char *kname;
	json_t *kval;
	if ((rc = jwk_public(as->key, &pub)) != KBS_OK)
		return rc;
	rc = jwk_to_json(pub, false, &kp);
	jwk_free(pub);
	if (rc != KBS_OK)
		return rc;
	as->header_jwk = json_object();
	if (!as->header_jwk) {
		json_decref(kp);
		return KBS_ERR_NOMEM;
	}
	json_object_set_new(as->header_jwk, "alg", json_string("ES256"));
	if (as->cfg.signer_cert_url)
		json_object_set_new(as->header_jwk, "x5u", json_string(as->cfg.signer_cert_url));
	if (as->cfg.signer_cert_path) {
		json_t *x5c = json_array();
		if (!x5c) {
			json_decref(kp);
			return KBS_ERR_NOMEM;
		}
		rc = load_cert_chain(as->cfg.signer_cert_path, x5c);
		if (rc != KBS_OK) {
			json_decref(x5c);
			json_decref(kp);
			log_error("as: cannot read signer certificate chain %s: %s",
				  as->cfg.signer_cert_path, kbs_strerror(rc));
			return rc;
		}
		json_object_set_new(as->header_jwk, "x5c", x5c);
	}
	static const char *const ec_order[] = {"kty", "crv", "x", "y"};
	for (size_t i = 0; i < 4; i++)
		if ((kval = json_object_get(kp, ec_order[i])))
			json_object_set(as->header_jwk, ec_order[i], kval);
	json_object_foreach(kp, kname, kval) {
		if (!json_object_get(as->header_jwk, kname))
			json_object_set(as->header_jwk, kname, kval);
	}
	json_decref(kp);
	if ((rc = ear_setup(as)) != KBS_OK)
		return rc;
	if ((rc = jwk_thumbprint(as->key, NULL, tp, sizeof(tp))) != KBS_OK)
		return rc;
	log_info("as: token signing key %s (P-256, RFC 7638 thumbprint %s)",
		 as->cfg.signer_key_path ? as->cfg.signer_key_path : "generated at start", tp);
	if (as->cfg.token_type == AS_TOKEN_SIMPLE) {
		if ((rc = jwk_generate(JWK_RSA_2048, &as->rsa_key)) != KBS_OK)
			return rc;
		if ((rc = jwk_thumbprint(as->rsa_key, NULL, tp, sizeof(tp))) != KBS_OK)
			return rc;
		log_info("as: simple token RSA key generated (thumbprint %s)", tp);
	}
	return KBS_OK;
}

/* ---------------------------------------------------------------- persistence */

static int write_atomic(const char *dir, const char *name, const void *data, size_t len)
{
	char tmp[4096], dst[4096];
	int fd = -1, rc = KBS_ERR_IO;

	if ((size_t)snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= sizeof(dst) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= sizeof(tmp))
		return KBS_ERR_RANGE;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return KBS_ERR_IO;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return KBS_ERR_IO;
	const uint8_t *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto out;
		p += w;
		left -= (size_t)w;
	}
	if (fsync(fd) != 0)
		goto out;
	close(fd);
	fd = -1;
	if (rename(tmp, dst) != 0)
		goto out;
	rc = KBS_OK;
out:
	if (fd >= 0)
		close(fd);
	if (rc != KBS_OK)
		unlink(tmp);
	return rc;
}

static void persist_policy(struct as_ctx *as, const char *id, const char *text, size_t len)
{
	char dir[4096], name[300];

	if (!as->cfg.state_dir)
		return;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/attestation_service_policy",
			     as->cfg.state_dir) >= sizeof(dir) ||
	    (size_t)snprintf(name, sizeof(name), "%s.rego", id) >= sizeof(name))
		return;
	mkdir(as->cfg.state_dir, 0700);
	if (write_atomic(dir, name, text, len) != KBS_OK)
		log_warn("as: could not persist policy %s under %s", id, dir);
}

static void load_persisted(struct as_ctx *as)
{
	char dir[4096];

	if (!as->cfg.state_dir)
		return;
	snprintf(dir, sizeof(dir), "%s/attestation_service_policy", as->cfg.state_dir);
	for (int i = 0; i < 4; i++) {
		static const char *const ids[] = {"default_cpu", "default_gpu", "default_switch",
						  "default_ppcie"};
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s.rego", dir, ids[i]);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		char *text = malloc(AS_MAX_POLICY + 1);
		size_t n = text ? fread(text, 1, AS_MAX_POLICY, f) : 0;
		fclose(f);
		if (text) {
			text[n] = '\0';
			json_object_set_new(as->policies, ids[i], json_stringn(text, n));
			free(text);
		}
	}
}

/* ---------------------------------------------------------------- lifecycle */

/* One state per configurable verifier, from the "verifier_config" object. */
static int create_verifiers(struct as_ctx *as)
{
	struct as_verifier_config vc;
	char why[256] = "";
	int rc;

	rc = as_verifier_config_from_json(as->cfg.verifier_config, &vc, why, sizeof(why));
	for (size_t i = 0; rc == KBS_OK && as_verifier_at(i); i++) {
		const struct as_verifier *v = as_verifier_at(i);

		if (i >= AS_MAX_VERIFIERS) {
			rc = KBS_ERR_INTERNAL;
			snprintf(why, sizeof(why), "more than %d verifiers", AS_MAX_VERIFIERS);
		} else if (v->create) {
			rc = v->create(&vc, &as->vstate[i], why, sizeof(why));
		}
	}
	if (rc != KBS_OK)
		log_msg(LOG_LVL_ERROR, "attestation service: verifier configuration: %s", why);
	as_verifier_config_release(&vc);
	return rc;
}

/* State of verifier v created by create_verifiers (NULL if it has none). */
static const void *verifier_state(const struct as_ctx *as, const struct as_verifier *v)
{
	for (size_t i = 0; i < AS_MAX_VERIFIERS && as_verifier_at(i); i++)
		if (as_verifier_at(i) == v)
			return as->vstate[i];
	return NULL;
}

/* BuiltIn RVPS without its own storage_type follows the AS: LocalFs under state_dir (Trustee's
 * <dir_path>/reference_value/), else Memory. */
static int open_rvps(struct as_ctx *as, const struct as_config *cfg)
{
	struct rvps_config rc;
	char why[300];
	int err;

	if ((err = rvps_config_copy(&as->cfg.rvps, &cfg->rvps)) != KBS_OK ||
	    (err = rvps_config_copy(&rc, &cfg->rvps)) != KBS_OK)
		return err;
	if (rc.mode == RVPS_BUILTIN && rc.storage == RVPS_STORE_DEFAULT && cfg->state_dir) {
		rc.storage = RVPS_STORE_LOCALFS;
		free(rc.dir_path);
		if (!(rc.dir_path = strdup(cfg->state_dir))) {
			rvps_config_release(&rc);
			return KBS_ERR_NOMEM;
		}
	}
	if (rc.mode == RVPS_BUILTIN && rc.storage == RVPS_STORE_LOCALFS && !rc.dir_path &&
	    cfg->state_dir && !(rc.dir_path = strdup(cfg->state_dir))) {
		rvps_config_release(&rc);
		return KBS_ERR_NOMEM;
	}
	err = rvps_new(&rc, &as->rvps, why, sizeof(why));
	if (err != KBS_OK)
		log_error("as: RVPS: %s", why);
	rvps_config_release(&rc);
	return err;
}

int as_new(const struct as_config *cfg, struct as_ctx **out)
{
	struct as_ctx *as = calloc(1, sizeof(*as));
	int rc = KBS_ERR_NOMEM;

	*out = NULL;
	if (!as)
		return KBS_ERR_NOMEM;
	pthread_mutex_init(&as->lock, NULL);
	as_config_init(&as->cfg);
	as->cfg.duration_min = cfg->duration_min > 0 ? cfg->duration_min : 5;
	as->cfg.verbose_token = cfg->verbose_token;
	as->cfg.token_type = cfg->token_type;
	as->cfg.issuer_name = xstrdup(cfg->issuer_name);
	as->cfg.developer_name = xstrdup(cfg->developer_name);
	as->cfg.build_name = xstrdup(cfg->build_name);
	as->cfg.profile_name = xstrdup(cfg->profile_name);
	as->cfg.signer_key_path = xstrdup(cfg->signer_key_path);
	as->cfg.signer_cert_path = xstrdup(cfg->signer_cert_path);
	as->cfg.signer_cert_url = xstrdup(cfg->signer_cert_url);
	as->cfg.state_dir = xstrdup(cfg->state_dir);
	as->cfg.verifier_config = json_incref(cfg->verifier_config);
	as->engine = policy_rego_engine();
	as->policies = json_object();
	as->md[0] = EVP_MD_fetch(NULL, "SHA256", NULL);
	as->md[1] = EVP_MD_fetch(NULL, "SHA384", NULL);
	as->md[2] = EVP_MD_fetch(NULL, "SHA512", NULL);
	if (!as->policies || !as->md[0] || !as->md[1] || !as->md[2])
		goto out;
	if ((rc = open_rvps(as, cfg)) != KBS_OK)
		goto out;
	if ((rc = setup_keys(as)) != KBS_OK)
		goto out;
	if ((rc = create_verifiers(as)) != KBS_OK)
		goto out;
	load_persisted(as);
	*out = as;
	as = NULL;
	rc = KBS_OK;
out:
	as_free(as);
	return rc;
}

void as_free(struct as_ctx *as)
{
	if (!as)
		return;
	for (size_t i = 0; i < AS_MAX_VERIFIERS && as_verifier_at(i); i++)
		if (as->vstate[i] && as_verifier_at(i)->destroy)
			as_verifier_at(i)->destroy(as->vstate[i]);
	jwk_free(as->key);
	jwk_free(as->rsa_key);
	json_decref(as->header_jwk);
	ear_signer_free(as->ear);
	for (int i = 0; i < 3; i++)
		EVP_MD_free(as->md[i]);
	free(as->claims_head);
	free(as->claims_mid);
	free(as->claims_tail);
	json_decref(as->policies);
	rvps_free(as->rvps);
	as_config_release(&as->cfg);
	pthread_mutex_destroy(&as->lock);
	free(as);
}

void as_set_policy_engine(struct as_ctx *as, const struct policy_engine *engine)
{
	pthread_mutex_lock(&as->lock);
	as->engine = engine ? engine : policy_rego_engine();
	pthread_mutex_unlock(&as->lock);
}

const struct jwk *as_token_key(const struct as_ctx *as)
{
	return as->key;
}

const struct jwk *as_simple_token_key(const struct as_ctx *as)
{
	return as->rsa_key;
}

json_t *as_jwks(const struct as_ctx *as)
{
	return json_pack("{s:[O]}", "keys", as->header_jwk);
}

/* ---------------------------------------------------------------- policies / RVPS */

int as_set_policy(struct as_ctx *as, const char *policy_id, const char *text, size_t len,
		  char *why, size_t whylen)
{
	const struct policy_engine *eng;
	int rc;

	if (!policy_id || !*policy_id || strlen(policy_id) > 128 || strchr(policy_id, '/') ||
	    policy_id[0] == '.') {
		snprintf(why, whylen, "invalid policy id");
		return KBS_ERR_INVAL;
	}
	if (len > AS_MAX_POLICY || memchr(text, '\0', len)) {
		snprintf(why, whylen, "policy text too large or not text");
		return KBS_ERR_INVAL;
	}
	pthread_mutex_lock(&as->lock);
	eng = as->engine;
	pthread_mutex_unlock(&as->lock);
	if ((rc = eng->check(eng->ctx, text, len, why, whylen)) != KBS_OK)
		return rc;
	pthread_mutex_lock(&as->lock);
	struct as_policy_store st = as->store;
	if (!st.put)
		rc = json_object_set_new(as->policies, policy_id, json_stringn(text, len)) == 0
			     ? KBS_OK
			     : KBS_ERR_NOMEM;
	pthread_mutex_unlock(&as->lock);
	if (st.put) {
		if ((rc = st.put(st.ctx, policy_id, text, len)) != KBS_OK)
			snprintf(why, whylen, "policy store: %s", kbs_strerror(rc));
		return rc;
	}
	if (rc == KBS_OK)
		persist_policy(as, policy_id, text, len);
	return rc;
}

void as_set_policy_store(struct as_ctx *as, const struct as_policy_store *store)
{
	pthread_mutex_lock(&as->lock);
	if (store)
		as->store = *store;
	else
		memset(&as->store, 0, sizeof(as->store));
	pthread_mutex_unlock(&as->lock);
}

json_t *as_list_policies(struct as_ctx *as)
{
	json_t *arr = json_array();
	const char *k;
	json_t *v;

	if (!arr)
		return NULL;
	pthread_mutex_lock(&as->lock);
	struct as_policy_store st = as->store;
	json_array_append_new(arr, json_pack("{s:s}", "policy-id", "default_cpu"));
	json_array_append_new(arr, json_pack("{s:s}", "policy-id", "default_gpu"));
	json_object_foreach(as->policies, k, v) {
		if (strcmp(k, "default_cpu") && strcmp(k, "default_gpu"))
			json_array_append_new(arr, json_pack("{s:s}", "policy-id", k));
	}
	pthread_mutex_unlock(&as->lock);
	if (st.list) {
		json_t *ids = json_array();
		size_t i;
		if (!ids || st.list(st.ctx, ids) != KBS_OK) {
			json_decref(ids);
			json_decref(arr);
			return NULL;
		}
		json_array_foreach(ids, i, v) {
			k = json_string_value(v);
			if (k && strcmp(k, "default_cpu") && strcmp(k, "default_gpu"))
				json_array_append_new(arr, json_pack("{s:s}", "policy-id", k));
		}
		json_decref(ids);
	}
	return arr;
}

/*
 * Policy text for id (malloc'ed in *out), or the built-in marker for shipped defaults.
 * With a shared store the store is asked every time (an outage is KBS_ERR_UNAVAILABLE,
 * never the built-in default nor a stale copy).
 */
static int policy_text(struct as_ctx *as, const char *id, char **out, size_t *len)
{
	char *t = NULL;
	json_t *v;
	int rc = KBS_ERR_NOTFOUND;

	*out = NULL;
	pthread_mutex_lock(&as->lock);
	struct as_policy_store st = as->store;
	v = st.get ? NULL : json_object_get(as->policies, id);
	if (v) {
		*len = json_string_length(v);
		t = malloc(*len + 1);
		if (t)
			memcpy(t, json_string_value(v), *len + 1);
		rc = t ? KBS_OK : KBS_ERR_NOMEM;
	}
	pthread_mutex_unlock(&as->lock);
	if (st.get) {
		rc = st.get(st.ctx, id, &t, len);
		if (rc != KBS_OK && rc != KBS_ERR_NOTFOUND)
			return rc;
	}
	if (!t && (strcmp(id, "default_cpu") == 0 || strcmp(id, "default_gpu") == 0)) {
		char marker[32];
		*len = (size_t)snprintf(marker, sizeof(marker), "builtin:%s", id);
		t = strdup(marker);
		rc = t ? KBS_OK : KBS_ERR_NOMEM;
	}
	*out = t;
	return t ? KBS_OK : rc;
}

int as_rv_register(struct as_ctx *as, const char *msg, size_t len, char *why, size_t whylen)
{
	return rvps_register(as->rvps, msg, len, why, whylen);
}

json_t *as_rv_query(struct as_ctx *as, const char *name)
{
	json_t *v = NULL;
	char why[300];
	int rc = rvps_query(as->rvps, name, &v, why, sizeof(why));

	if (rc != KBS_OK && rc != KBS_ERR_NOTFOUND)
		log_warn("as: reference value %.128s unavailable: %s", name, why);
	return rc == KBS_OK ? v : NULL;
}

struct rvps *as_rvps(struct as_ctx *as)
{
	return as->rvps;
}

int as_rvps_use_kv(struct as_ctx *as, const struct rvps_kv_ops *ops, void *ctx, char *why,
		   size_t whylen)
{
	struct rvps_config rc;
	struct rvps *r = NULL;
	int err;

	if (as->cfg.rvps.mode != RVPS_BUILTIN || as->cfg.rvps.storage != RVPS_STORE_DEFAULT)
		return KBS_OK;
	rvps_config_init(&rc);
	rc.storage = RVPS_STORE_KV;
	rc.kv = ops;
	rc.kv_ctx = ctx;
	rc.validity_months = as->cfg.rvps.validity_months;
	if ((err = rvps_new(&rc, &r, why, whylen)) != KBS_OK)
		return err;
	rvps_free(as->rvps);
	as->rvps = r;
	return KBS_OK;
}

static json_t *rv_cb(void *ctx, const char *id)
{
	return as_rv_query(ctx, id);
}

/* ---------------------------------------------------------------- init-data */

/* Parsed [data] table with Trustee's transforms (§11.3). */
static json_t *init_data_claims(const char *toml_text, size_t len)
{
	struct toml_doc *doc = NULL;
	struct toml_err terr;
	json_t *out = NULL, *data;
	const char *k;
	json_t *v;

	if (toml_parse(toml_text, len, &doc, &terr) != KBS_OK)
		return NULL;
	data = json_object_get(toml_doc_root(doc), "data");
	out = json_is_object(data) ? json_deep_copy(data) : json_object();
	if (!out)
		goto done;
	json_object_foreach(out, k, v) {
		if (!json_is_string(v))
			continue;
		if (strcmp(k, "cdh.toml") == 0 || strcmp(k, "aa.toml") == 0) {
			struct toml_doc *sub = NULL;
			if (toml_parse(json_string_value(v), json_string_length(v), &sub, &terr) ==
			    KBS_OK)
				json_object_set(out, k, toml_doc_root(sub));
			toml_doc_free(sub);
		}
	}
	v = json_object_get(out, "policy.rego");
	if (json_is_string(v)) {
		const char *t = json_string_value(v), *p = strstr(t, "policy_data := {");
		if (p) {
			json_t *pd = json_loads(strchr(p, '{'), JSON_REJECT_DUPLICATES, NULL);
			if (pd) {
				json_object_set_new(out, "agent_policy_claims", pd);
				json_object_del(out, "policy.rego");
			}
		}
	}
done:
	toml_doc_free(doc);
	return out;
}

static int init_data_digest(const char *toml_text, size_t len, uint8_t *out, size_t *outlen,
			    char *why, size_t whylen)
{
	struct toml_doc *doc = NULL;
	struct toml_err terr;
	const char *alg;
	int rc;

	if ((rc = toml_parse(toml_text, len, &doc, &terr)) != KBS_OK) {
		snprintf(why, whylen, "init-data is not valid TOML (line %d): %s", terr.line,
			 terr.msg);
		return rc;
	}
	alg = json_string_value(json_object_get(toml_doc_root(doc), "algorithm"));
	if (!alg) {
		snprintf(why, whylen, "init-data has no string 'algorithm'");
		rc = KBS_ERR_INVAL;
	} else if ((rc = as_hash(alg, toml_text, len, out, outlen)) != KBS_OK) {
		snprintf(why, whylen, "init-data algorithm '%s' not supported", alg);
	}
	toml_doc_free(doc);
	return rc;
}

/* ---------------------------------------------------------------- EAR */

static int tier(int64_t v)
{
	if (v >= -1 && v <= 1)
		return 0;
	if (v >= -32 && v <= 31)
		return 1;
	if (v >= -96 && v <= 95)
		return 2;
	return 3;
}

static const char *const tier_names[] = {"none", "affirming", "warning", "contraindicated"};

struct appraise {
	json_t *submods;
	int worst;
	char why_rule[160];
};

/* Appraises one evidence's annotated claims and adds the submod. */
static int appraise(struct as_ctx *as, const char *policy_id, const char *tee_class,
		    const char *submod, json_t *annotated, struct appraise *ap, char *why,
		    size_t whylen)
{
	char id[160], rule[160] = "";
	char *text = NULL;
	size_t tlen = 0;
	json_t *tc = NULL, *ext = NULL, *vec = NULL, *sm = NULL;
	const struct policy_engine *eng;
	struct policy_host host = {rv_cb, as};
	int rc, worst = 0;

	snprintf(id, sizeof(id), "%s_%s", policy_id, tee_class);
	if ((rc = policy_text(as, id, &text, &tlen)) != KBS_OK) {
		snprintf(why, whylen, "EAR policy %s %s", id,
			 rc == KBS_ERR_NOTFOUND	     ? "not found"
			 : rc == KBS_ERR_UNAVAILABLE ? "unreadable: policy store unavailable"
						     : "unreadable");
		return rc;
	}
	pthread_mutex_lock(&as->lock);
	eng = as->engine;
	pthread_mutex_unlock(&as->lock);
	/* Built-in defaults are native-only; uploaded text goes to the configured engine. */
	if (strncmp(text, "builtin:", 8) == 0)
		eng = policy_native_engine();
	rc = eng->eval(eng->ctx, text, tlen, "data.policy.trust_claims", annotated, NULL, &host,
		       &tc, rule, sizeof(rule), why, whylen);
	if (rc != KBS_OK)
		goto out;
	rc = eng->eval(eng->ctx, text, tlen, "data.policy.extensions", annotated, NULL, &host,
		       &ext, NULL, 0, why, whylen);
	if (rc != KBS_OK)
		goto out;
	rc = KBS_ERR_NOMEM;
	vec = json_object();
	if (!vec)
		goto out;
	if (!tc || json_object_size(tc) == 0) {
		static const char *const all[] = {"instance-identity", "configuration",
						  "executables", "file-system", "hardware",
						  "runtime-opaque", "storage-opaque", "sourced-data"};
		for (size_t i = 0; i < 8; i++)
			json_object_set_new(vec, all[i], json_integer(0));
	} else {
		const char *k;
		json_t *v;
		json_object_foreach(tc, k, v) {
			if (!json_is_integer(v) || json_integer_value(v) < -128 ||
			    json_integer_value(v) > 127) {
				snprintf(why, whylen, "policy %s: trust claim %s is not an integer "
						      "in -128..127", id, k);
				rc = KBS_ERR_INVAL;
				goto out;
			}
			int t = tier(json_integer_value(v));
			if (t > worst)
				worst = t;
			json_object_set(vec, k, v);
		}
	}
	sm = json_pack("{s:s,s:O,s:s,s:O}", "ear.status", tier_names[worst],
		       "ear.trustworthiness-vector", vec, "ear.appraisal-policy-id", policy_id,
		       "ear.veraison.annotated-evidence", annotated);
	if (!sm)
		goto out;
	if (json_is_array(ext)) {
		size_t i;
		json_t *e;
		json_array_foreach(ext, i, e) {
			const char *n = json_string_value(json_object_get(e, "name"));
			json_t *val = json_object_get(e, "value");
			if (n && val)
				json_object_set(sm, n, val);
		}
	}
	json_object_set(ap->submods, submod, sm);
	if (worst > ap->worst)
		ap->worst = worst;
	snprintf(ap->why_rule, sizeof(ap->why_rule), "%s", rule);
	rc = KBS_OK;
out:
	free(text);
	json_decref(tc);
	json_decref(ext);
	json_decref(vec);
	json_decref(sm);
	return rc;
}

/*
 * Builds the annotated-evidence object of one verified evidence. Shallow copies only: the
 * claims and runtime data are never modified after this point, so the annotated object
 * shares their members instead of deep-copying them for every token.
 */
static json_t *annotate(const char *tee, json_t *claims, const json_t *runtime_data,
			const char *init_toml, size_t init_len, bool verbose)
{
	json_t *a = json_object(), *tc = json_copy(claims);
	json_t *rd, *id;

	if (!a || !tc)
		goto fail;
	rd = json_object_get(tc, "report_data");
	id = json_object_get(tc, "init_data");
	if (rd)
		json_object_set(a, "report_data", rd);
	if (rd && runtime_data) {
		json_t *r;
		if (verbose) {
			r = json_incref((json_t *)runtime_data); /* shared, read-only */
		} else {
			r = json_copy((json_t *)runtime_data);
			if (r)
				json_object_del(r, "additional-evidence");
		}
		json_object_set_new(a, "runtime_data_claims", r ? r : json_null());
	}
	if (id) {
		json_object_set(a, "init_data", id);
		json_t *idc = init_toml ? init_data_claims(init_toml, init_len) : NULL;
		json_object_set_new(a, "init_data_claims", idc ? idc : json_null());
	}
	json_object_del(tc, "report_data");
	json_object_del(tc, "init_data");
	json_object_set_new(a, tee, tc);
	return a;
fail:
	json_decref(a);
	json_decref(tc);
	return NULL;
}

/*
 * Claims written straight into a buffer in Trustee's member order (eat_profile, iat,
 * ear.verifier-id, submods, exp, iss) - the same bytes json_dumps(JSON_COMPACT) gives for the
 * object built in that order - then signed.
 */
static int issue_ear(struct as_ctx *as, json_t *submods, char **token)
{
	time_t now = time(NULL);
	struct buf claims = BUF_INIT, tok = BUF_INIT;
	int rc;

	if ((rc = buf_reserve(&claims, 2048)) ||
	    (rc = buf_append_str(&claims, as->claims_head)) ||
	    (rc = buf_printf(&claims, "%lld", (long long)now)) ||
	    (rc = buf_append_str(&claims, as->claims_mid)))
		goto out;
	if ((rc = ear_json_append(&claims, submods)) ||
	    (rc = buf_printf(&claims, ",\"exp\":%lld",
			     (long long)now + (long long)as->cfg.duration_min * 60)) ||
	    (rc = buf_append_str(&claims, as->claims_tail)))
		goto out;
	if ((rc = buf_reserve(&tok, claims.len * 4 / 3 + 1024)) ||
	    (rc = ear_signer_sign(as->ear, claims.p, claims.len, &tok)))
		goto out;
	*token = buf_steal(&tok, NULL);
	rc = *token ? KBS_OK : KBS_ERR_NOMEM;
out:
	buf_release(&claims);
	buf_release(&tok);
	return rc;
}

/* Flattens nested claims into "<prefix>.<a>.<b>": value (Simple token tcb-status). */
static void flatten(const char *prefix, const json_t *v, json_t *out)
{
	char key[512];
	const char *k;
	json_t *e;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, e) {
			snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", k);
			flatten(key, e, out);
		}
	} else {
		json_object_set(out, prefix, (json_t *)v);
	}
}

static int issue_simple(struct as_ctx *as, const char *tee, const json_t *claims,
			const json_t *runtime_data, const char *init_data_b64, const char *pid,
			char **token)
{
	time_t now = time(NULL);
	json_t *c = NULL, *hdr = NULL, *tcb = json_object(), *pubj = NULL;
	struct jwk *pub = NULL;
	char jti[11];
	uint8_t rnd[10];
	int rc = KBS_ERR_NOMEM;
	static const char alnum[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

	if (!tcb || RAND_bytes(rnd, sizeof(rnd)) != 1)
		goto out;
	for (int i = 0; i < 10; i++)
		jti[i] = alnum[rnd[i] % 62];
	jti[10] = '\0';
	flatten(tee, claims, tcb);
	c = json_pack("{s:s,s:I,s:s,s:I,s:I,s:s,s:[{s:s,s:s}],s:O,s:{s:s?,s:O?}}", "iss",
		      cfg_or(as->cfg.issuer_name, "CoCo-Attestation-Service"), "iat",
		      (json_int_t)now, "jti", jti, "nbf", (json_int_t)now, "exp",
		      (json_int_t)now + (json_int_t)as->cfg.duration_min * 60, "tee", tee,
		      "evaluation-reports", "policy-id", pid, "policy-hash", "", "tcb-status", tcb,
		      "customized_claims", "init_data", init_data_b64, "runtime_data",
		      runtime_data);
	if (!c)
		goto out;
	if ((rc = jwk_public(as->rsa_key, &pub)) != KBS_OK ||
	    (rc = jwk_to_json(pub, false, &pubj)) != KBS_OK)
		goto out;
	json_object_set_new(pubj, "alg", json_string("RS384"));
	rc = KBS_ERR_NOMEM;
	hdr = json_pack("{s:s,s:O}", "typ", "JWT", "jwk", pubj);
	if (!hdr)
		goto out;
	rc = jwt_sign(as->rsa_key, "RS384", hdr, c, token);
out:
	jwk_free(pub);
	json_decref(pubj);
	json_decref(c);
	json_decref(hdr);
	json_decref(tcb);
	return rc;
}

/* Trustee's TEE classes (EAR submod prefix, policy suffix) as static strings. */
static const char *class_name(const char *cls)
{
	static const char *const known[] = {"cpu", "gpu", "switch", "ppcie", "dcu", "nvidia-dpu"};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i], cls) == 0)
			return known[i];
	return NULL;
}

int as_evaluate(struct as_ctx *as, const struct as_request *reqs, size_t n,
		const char *policy_id, struct as_result *res, char *why, size_t whylen)
{
	struct appraise ap = {0};
	int counters[8] = {0};
	const char *classes[8] = {0};
	json_t *first_claims = NULL;
	char *first_init_b64 = NULL;
	int rc = KBS_ERR_INVAL;

	memset(res, 0, sizeof(*res));
	if (!policy_id || !*policy_id)
		policy_id = "default";
	if (n == 0 || n > 16) {
		snprintf(why, whylen, "expected 1..16 verification requests");
		return KBS_ERR_INVAL;
	}
	ap.submods = json_object();
	if (!ap.submods)
		return KBS_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct as_request *r = &reqs[i];
		const struct as_verifier *v = as_verifier_find(r->tee);
		uint8_t rd[64], idd[64];
		size_t rdlen = 0, idlen = 0;
		struct as_verify_input in = {0};
		json_t *claims = NULL, *items = NULL, *item;
		size_t k;

		if (!v) {
			snprintf(why, whylen, "no verifier for TEE '%s' in this build",
				 r->tee ? r->tee : "(null)");
			rc = KBS_ERR_UNSUPPORTED;
			goto out;
		}
		in.evidence = r->evidence;
		in.state = verifier_state(as, v);
		if (r->runtime_data) {
			rc = rd_digest(as, r->runtime_data, r->hash_alg, rd, &rdlen);
			if (rc != KBS_OK) {
				snprintf(why, whylen, "cannot hash runtime data (%s)",
					 kbs_strerror(rc));
				goto out;
			}
			in.report_data = rd;
			in.report_data_len = rdlen;
		} else if (r->runtime_data_raw) {
			in.report_data = r->runtime_data_raw;
			in.report_data_len = r->runtime_data_raw_len;
		}
		if (r->init_data_toml) {
			rc = init_data_digest(r->init_data_toml, r->init_data_toml_len, idd, &idlen,
					      why, whylen);
			if (rc != KBS_OK)
				goto out;
			in.init_data_digest = idd;
			in.init_data_digest_len = idlen;
		} else if (r->init_data_digest) {
			in.init_data_digest = r->init_data_digest;
			in.init_data_digest_len = r->init_data_digest_len;
		}
		if (v->verify_devices) {
			rc = v->verify_devices(&in, &items, why, whylen);
		} else {
			rc = v->verify(&in, &claims, why, whylen);
			if (rc == KBS_OK &&
			    !(items = json_pack("[{s:s,s:o}]", "class", v->tee_class, "claims", claims)))
				rc = KBS_ERR_NOMEM;
			claims = NULL;
		}
		if (rc == KBS_OK && json_array_size(items) == 0) {
			snprintf(why, whylen, "verifier %s returned no claims", v->tee);
			rc = KBS_ERR_INTERNAL;
		}
		if (rc != KBS_OK) {
			json_decref(items);
			goto out;
		}
		/* one submod per claims object: a device list gives gpu0, gpu1, ... */
		json_array_foreach(items, k, item) {
			const char *cls = json_string_value(json_object_get(item, "class"));
			json_t *annotated;
			char submod[32];
			size_t ci;

			claims = json_object_get(item, "claims");
			if (!cls || !json_is_object(claims)) {
				rc = KBS_ERR_INTERNAL;
				break;
			}
			annotated = annotate(v->tee, claims, r->runtime_data, r->init_data_toml,
					     r->init_data_toml_len, as->cfg.verbose_token);
			if (!annotated) {
				rc = KBS_ERR_NOMEM;
				break;
			}
			for (ci = 0; ci < 8 && classes[ci] && strcmp(classes[ci], cls); ci++)
				;
			if (ci == 8 || !class_name(cls)) {
				json_decref(annotated);
				rc = KBS_ERR_RANGE;
				break;
			}
			classes[ci] = class_name(cls);
			snprintf(submod, sizeof(submod), "%s%d", classes[ci], counters[ci]++);
			if (as->cfg.token_type == AS_TOKEN_EAR)
				rc = appraise(as, policy_id, classes[ci], submod, annotated, &ap, why,
					      whylen);
			json_decref(annotated);
			if (rc != KBS_OK)
				break;
		}
		if (rc == KBS_OK && i == 0) {
			first_claims = json_incref(json_object_get(json_array_get(items, 0), "claims"));
			if (in.init_data_digest)
				b64_encode_alloc(in.init_data_digest, in.init_data_digest_len,
						 B64_STD, &first_init_b64);
		}
		claims = NULL;
		json_decref(items);
		if (rc != KBS_OK)
			goto out;
	}
	if (as->cfg.token_type == AS_TOKEN_SIMPLE)
		rc = issue_simple(as, reqs[0].tee, first_claims, reqs[0].runtime_data,
				  first_init_b64, policy_id, &res->token);
	else
		rc = issue_ear(as, ap.submods, &res->token);
	if (rc != KBS_OK) {
		snprintf(why, whylen, "token issuance failed (%s)", kbs_strerror(rc));
		goto out;
	}
	snprintf(res->status, sizeof(res->status), "%s",
		 as->cfg.token_type == AS_TOKEN_SIMPLE ? "none" : tier_names[ap.worst]);
out:
	free(first_init_b64);
	json_decref(first_claims);
	json_decref(ap.submods);
	return rc;
}

void as_result_release(struct as_result *res)
{
	if (!res)
		return;
	free(res->token);
	memset(res, 0, sizeof(*res));
}
