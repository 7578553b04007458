/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_BROKER_SEALED_H
#define KBS_BROKER_SEALED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"
#include "common/jose/jwk.h"
#include "common/secmem.h"

/*
 * Sealed secrets in the guest-components (CDH) format: "sealed." + a compact JWS, ES256,
 * protected header {"alg":"ES256","kid":K}, payload
 * {"version":"0.1.0","type":"vault","name":"kbs:///repo/type/tag","provider":"kbs",...}.
 * The signature is always checked (there is no skip switch); the key named by kid is a P-256
 * JWK (or PEM public key) either fetched from the KBS through the attested broker when kid is
 * a kbs:/// URI, or read from <key_dir>/<kid> (one file name, no '/').
 * Only vault secrets of provider kbs are unsealed; envelope secrets are KBS_ERR_UNSUPPORTED.
 */

/* Upstream CDH's directory of sealed-secret verification keys. */
#define SEALED_KEY_DIR "/run/confidential-containers/cdh/sealed-secret"

#define SEALED_MAX_LEN (64u << 10)

struct sealed_ref {
	char kid[256];	  /* protected header kid */
	char type[16];	  /* "vault" or "envelope" */
	char provider[64];
	char name[512];	  /* vault: the resource URI as written */
	char path[300];	  /* vault + provider kbs: "repo/type/tag" */
	char key_path[300]; /* kid is kbs:///...: its "repo/type/tag", else "" */
};

/*
 * Parses (does not verify) a sealed secret: the "sealed." prefix, the JWS shape, header alg
 * ES256 and kid, payload version 0.1.0 and type. For vault/kbs, name must be kbs:///r/t/t
 * (kbs://host/... is refused: the KBS is the agent's). Leading/trailing whitespace is ignored.
 * Returns KBS_OK, KBS_ERR_PARSE (why says what), or KBS_ERR_UNSUPPORTED.
 */
int sealed_parse(const char *text, size_t len, struct sealed_ref *out, char *why, size_t whylen);

/*
 * Checks the ES256 signature of a sealed secret with a P-256 public key.
 * Returns KBS_OK, KBS_ERR_VERIFY (bad signature), KBS_ERR_PARSE, or KBS_ERR_INVAL (key is not
 * P-256).
 */
int sealed_verify(const char *text, size_t len, const struct jwk *key);

/* Loads a verification key: JWK JSON (private members ignored) or a PEM public key. */
int sealed_key_load(const uint8_t *data, size_t len, struct jwk **out);

/*
 * The whole unseal: parse, fetch or read the key named by kid, verify, fetch the named
 * resource through b. key_dir NULL = SEALED_KEY_DIR. *out is secret memory.
 * Errors: KBS_ERR_PARSE / KBS_ERR_UNSUPPORTED (input), KBS_ERR_VERIFY (signature or key),
 * KBS_ERR_NOTFOUND (no such key file), or the broker's errors (err filled).
 */
int sealed_unseal(struct broker *b, const char *text, size_t len, const char *key_dir,
		  int64_t deadline_ms, struct secbuf *out, struct broker_error *err, char *why,
		  size_t whylen);

#endif
