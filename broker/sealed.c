// SPDX-License-Identifier: Apache-2.0
/*
 * Sealed secrets (guest-components CDH format) unsealed through the attested broker: the
 * guest-side path for kbsfs-csi's guest mode in images that run our agent instead of CDH.
 */
#include "broker/sealed.h"
#include "broker/rcar.h"
#include "common/b64.h"
#include "common/err.h"
#include "common/jose/jws.h"
#include "common/json.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(int rc, char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(int rc, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Strips surrounding whitespace (files end with a newline) and the "sealed." prefix. */
static bool jws_part(const char *text, size_t len, const char **jws, size_t *jlen)
{
	while (len && (*text == ' ' || *text == '\t' || *text == '\r' || *text == '\n')) {
		text++;
		len--;
	}
	while (len && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\r' ||
		       text[len - 1] == '\n'))
		len--;
	if (len < 7 || memcmp(text, "sealed.", 7) != 0)
		return false;
	*jws = text + 7;
	*jlen = len - 7;
	return true;
}

/* "kbs:///repo/type/tag" -> "repo/type/tag"; false for anything else (kbs://host/ too). */
static bool kbs_uri_path(const char *uri, char *out, size_t outlen)
{
	if (strncmp(uri, "kbs:///", 7) != 0 || strlen(uri + 7) >= outlen ||
	    !rcar_resource_path_valid(uri + 7))
		return false;
	memcpy(out, uri + 7, strlen(uri + 7) + 1);
	return true;
}

static bool copy_str(json_t *obj, const char *key, char *out, size_t outlen)
{
	const char *v = json_string_value(json_object_get(obj, key));

	if (!v || !v[0] || strlen(v) >= outlen)
		return false;
	memcpy(out, v, strlen(v) + 1);
	return true;
}

int sealed_parse(const char *text, size_t len, struct sealed_ref *out, char *why, size_t whylen)
{
	const char *jws, *d1, *d2;
	size_t jlen;
	json_t *hdr = NULL, *pl = NULL;
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	const char *alg, *ver;
	int rc = KBS_ERR_PARSE;

	memset(out, 0, sizeof(*out));
	if (!text || len > SEALED_MAX_LEN || !jws_part(text, len, &jws, &jlen))
		return fail(rc, why, whylen, "not a sealed secret (no 'sealed.' prefix)");
	d1 = memchr(jws, '.', jlen);
	d2 = d1 ? memchr(d1 + 1, '.', jlen - (size_t)(d1 + 1 - jws)) : NULL;
	if (!d2 || memchr(d2 + 1, '.', jlen - (size_t)(d2 + 1 - jws)) || memchr(jws, 0, jlen))
		return fail(rc, why, whylen, "sealed secret is not a compact JWS (three parts)");
	if (jws_peek_header(jws, jlen, &hdr) != KBS_OK || !json_is_object(hdr)) {
		rc = fail(rc, why, whylen, "sealed secret: unreadable JWS header");
		goto out;
	}
	alg = json_string_value(json_object_get(hdr, "alg"));
	if (!alg || strcmp(alg, "ES256")) {
		rc = fail(rc, why, whylen, "sealed secret: JWS algorithm must be ES256");
		goto out;
	}
	if (!copy_str(hdr, "kid", out->kid, sizeof(out->kid))) {
		rc = fail(rc, why, whylen, "sealed secret: no usable kid in the JWS header");
		goto out;
	}
	if (!strncmp(out->kid, "kbs:", 4)) {
		if (!kbs_uri_path(out->kid, out->key_path, sizeof(out->key_path))) {
			rc = fail(rc, why, whylen,
				  "sealed secret: kid must be kbs:///repo/type/tag or a file name");
			goto out;
		}
	} else if (out->kid[0] == '.' ||
		   strspn(out->kid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				    "0123456789._-") != strlen(out->kid)) {
		/* a file in the key directory: one name, no traversal */
		rc = fail(rc, why, whylen, "sealed secret: kid is not a plain file name");
		goto out;
	}
	if (b64_decode_alloc(d1 + 1, (size_t)(d2 - d1 - 1), B64_URL, &raw, &rawlen) != KBS_OK ||
	    json_parse((const char *)raw, rawlen, SEALED_MAX_LEN, &pl, NULL) != KBS_OK ||
	    !json_is_object(pl)) {
		rc = fail(rc, why, whylen, "sealed secret: payload is not JSON");
		goto out;
	}
	ver = json_string_value(json_object_get(pl, "version"));
	if (!ver || strcmp(ver, "0.1.0")) {
		rc = fail(rc, why, whylen, "sealed secret: version must be 0.1.0");
		goto out;
	}
	if (!copy_str(pl, "type", out->type, sizeof(out->type)) ||
	    (strcmp(out->type, "vault") && strcmp(out->type, "envelope"))) {
		rc = fail(rc, why, whylen, "sealed secret: type must be vault or envelope");
		goto out;
	}
	if (!copy_str(pl, "provider", out->provider, sizeof(out->provider))) {
		rc = fail(rc, why, whylen, "sealed secret: no provider");
		goto out;
	}
	if (!strcmp(out->type, "envelope")) {
		rc = fail(KBS_ERR_UNSUPPORTED, why, whylen,
			  "sealed secret: envelope secrets (KMS-wrapped data) are not supported");
		goto out;
	}
	if (!copy_str(pl, "name", out->name, sizeof(out->name))) {
		rc = fail(rc, why, whylen, "sealed secret: vault secret without a name");
		goto out;
	}
	if (strcmp(out->provider, "kbs")) {
		rc = fail(KBS_ERR_UNSUPPORTED, why, whylen,
			  "sealed secret: provider '%.32s' is not supported (only kbs)",
			  out->provider);
		goto out;
	}
	if (!kbs_uri_path(out->name, out->path, sizeof(out->path))) {
		rc = fail(rc, why, whylen, "sealed secret: name must be kbs:///repo/type/tag");
		goto out;
	}
	rc = KBS_OK;
out:
	free(raw);
	json_decref(hdr);
	json_decref(pl);
	return rc;
}

int sealed_key_load(const uint8_t *data, size_t len, struct jwk **out)
{
	struct jwk *k = NULL;
	const char *kty, *crv;
	size_t i = 0;
	int rc;

	*out = NULL;
	while (i < len && (data[i] == ' ' || data[i] == '\n' || data[i] == '\r' || data[i] == '\t'))
		i++;
	if (i < len && data[i] == '{')
		rc = jwk_from_json_text((const char *)data, len, &k);
	else
		rc = jwk_from_pem((const char *)data, len, &k);
	if (rc != KBS_OK)
		return rc == KBS_ERR_NOMEM ? rc : KBS_ERR_PARSE;
	kty = jwk_kty(k);
	crv = jwk_crv(k);
	if (!kty || strcmp(kty, "EC") || !crv || strcmp(crv, "P-256")) {
		jwk_free(k);
		return KBS_ERR_INVAL;
	}
	/* verification needs the public half only (upstream key files carry "d" too) */
	rc = jwk_public(k, out);
	jwk_free(k);
	return rc;
}

int sealed_verify(const char *text, size_t len, const struct jwk *key)
{
	static const char *const algs[] = {"ES256", NULL};
	const char *jws, *crv;
	size_t jlen, plen = 0;
	uint8_t *payload = NULL;
	int rc;

	if (!key || !text || len > SEALED_MAX_LEN || !jws_part(text, len, &jws, &jlen))
		return KBS_ERR_PARSE;
	crv = jwk_crv(key);
	if (!crv || strcmp(crv, "P-256"))
		return KBS_ERR_INVAL;
	rc = jws_verify(jws, jlen, key, algs, NULL, &payload, &plen);
	free(payload);
	if (rc == KBS_OK || rc == KBS_ERR_NOMEM)
		return rc;
	return KBS_ERR_VERIFY;
}

static int read_key_file(const char *dir, const char *name, struct jwk **out, char *why,
			 size_t whylen)
{
	char path[4096];
	uint8_t buf[SEALED_MAX_LEN];
	ssize_t n;
	size_t got = 0;
	int fd, rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return fail(KBS_ERR_RANGE, why, whylen, "key directory path too long");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(errno == ENOENT ? KBS_ERR_NOTFOUND : KBS_ERR_IO, why, whylen,
			    "verification key %s: %s", path, strerror(errno));
	while (got < sizeof(buf) && (n = read(fd, buf + got, sizeof(buf) - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return fail(KBS_ERR_IO, why, whylen, "verification key %s: %s", path,
				    strerror(errno));
		}
		got += (size_t)n;
	}
	close(fd);
	rc = sealed_key_load(buf, got, out);
	if (rc != KBS_OK)
		return fail(rc == KBS_ERR_NOMEM ? rc : KBS_ERR_VERIFY, why, whylen,
			    "verification key %s is not a P-256 JWK or PEM public key", path);
	return KBS_OK;
}

int sealed_unseal(struct broker *b, const char *text, size_t len, const char *key_dir,
		  int64_t deadline_ms, struct secbuf *out, struct broker_error *err, char *why,
		  size_t whylen)
{
	struct sealed_ref ref;
	struct jwk *key = NULL;
	int rc;

	out->p = NULL;
	out->len = 0;
	if (why && whylen)
		why[0] = 0;
	rc = sealed_parse(text, len, &ref, why, whylen);
	if (rc != KBS_OK)
		return rc;
	if (ref.key_path[0]) {
		/* the admin's key, served by the KBS under attestation like any resource */
		struct secbuf kb = {NULL, 0};

		rc = broker_get_resource(b, ref.key_path, deadline_ms, &kb, err);
		if (rc != KBS_OK)
			return fail(rc, why, whylen, "verification key %s: %s", ref.kid,
				    kbs_strerror(rc));
		rc = sealed_key_load(kb.p, kb.len, &key);
		secbuf_free(&kb);
		if (rc != KBS_OK)
			return fail(rc == KBS_ERR_NOMEM ? rc : KBS_ERR_VERIFY, why, whylen,
				    "verification key %s is not a P-256 JWK or PEM public key",
				    ref.kid);
	} else {
		rc = read_key_file(key_dir ? key_dir : SEALED_KEY_DIR, ref.kid, &key, why, whylen);
		if (rc != KBS_OK)
			return rc;
	}
	rc = sealed_verify(text, len, key);
	jwk_free(key);
	if (rc != KBS_OK) {
		log_warn("sealed: signature of a sealed secret for %s does not verify with key %s",
			 ref.path, ref.kid);
		return fail(rc, why, whylen, "sealed secret signature does not verify with key %s",
			    ref.kid);
	}
	rc = broker_get_resource(b, ref.path, deadline_ms, out, err);
	if (rc != KBS_OK)
		return fail(rc, why, whylen, "resource %s: %s", ref.path, kbs_strerror(rc));
	log_info("sealed: unsealed %s (key %s)", ref.path, ref.kid);
	return KBS_OK;
}
