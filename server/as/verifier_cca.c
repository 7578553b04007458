// SPDX-License-Identifier: Apache-2.0
/*
 * Arm CCA verifier. Order: evidence JSON → token bytes → CBOR/COSE parse → trust anchor by
 * platform instance id → platform signature (CPAK) → RAK → platform challenge binds the RAK →
 * realm signature (RAK) → realm challenge = report data → personalization value = init data →
 * claims.
 */
#include "server/as/verifier_cca.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/jose/jwk.h"
#include "server/as/cca_token.h"

#define MAX_TOKEN_LEN (64 * 1024)

static int hex_eq(const char *hex, const struct cca_bytes *b)
{
	if (!hex || strlen(hex) != 2 * b->len)
		return 0;
	for (size_t i = 0; i < b->len; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0 || (uint8_t)(hi << 4 | lo) != b->p[i])
			return 0;
	}
	return 1;
}

static void to_hex(const struct cca_bytes *b, char *out, size_t outlen)
{
	size_t n = b->len * 2 + 1 <= outlen ? b->len : (outlen - 1) / 2;

	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b->p[i]);
	out[2 * n] = 0;
}

/* Token bytes from {"token": [0..255, ...]}, or that object as JSON text. */
static int token_bytes(const json_t *ev, uint8_t **out, size_t *len, char *why, size_t whylen)
{
	json_t *parsed = NULL, *tok;
	uint8_t *b;
	size_t n, i;
	int rc = KBS_ERR_PARSE;

	if (json_is_string(ev)) {
		parsed = json_loads(json_string_value(ev), JSON_REJECT_DUPLICATES, NULL);
		ev = parsed;
	}
	tok = json_object_get(ev, "token");
	n = json_array_size(tok);
	if (!json_is_array(tok) || n == 0 || n > MAX_TOKEN_LEN) {
		snprintf(why, whylen,
			 "cca evidence: member 'token' must be a non-empty byte array");
		goto out;
	}
	if (!(b = malloc(n))) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(tok, i);
		json_int_t v = json_integer_value(e);
		if (!json_is_integer(e) || v < 0 || v > 255) {
			free(b);
			snprintf(why, whylen, "cca evidence: token[%zu] is not a byte", i);
			goto out;
		}
		b[i] = (uint8_t)v;
	}
	*out = b;
	*len = n;
	rc = KBS_OK;
out:
	json_decref(parsed);
	return rc;
}

/* CPAK of the ta-store entry for this platform. */
static int find_anchor(const char *ta, size_t ta_len, const struct cca_token *t, EVP_PKEY **key,
		       char *why, size_t whylen)
{
	json_t *store = json_loadb(ta, ta_len, JSON_REJECT_DUPLICATES, NULL), *e;
	char inst[80];
	size_t i;
	int rc = KBS_ERR_VERIFY;

	*key = NULL;
	to_hex(&t->p_inst_id, inst, sizeof(inst));
	if (!json_is_array(store)) {
		snprintf(why, whylen, "cca: ta-store is not a JSON array");
		rc = KBS_ERR_PARSE;
		goto out;
	}
	json_array_foreach(store, i, e)
	{
		struct jwk *k = NULL;
		if (!hex_eq(json_string_value(json_object_get(e, "instance-id")), &t->p_inst_id))
			continue;
		if (!hex_eq(json_string_value(json_object_get(e, "implementation-id")),
			    &t->p_impl_id)) {
			snprintf(why, whylen,
				 "cca: trust anchor for platform instance id %s has "
				 "another implementation id",
				 inst);
			goto out;
		}
		if (jwk_from_json(json_object_get(e, "pkey"), &k) != KBS_OK) {
			snprintf(why, whylen, "cca: trust anchor for %s has no usable pkey", inst);
			goto out;
		}
		*key = jwk_pkey(k);
		EVP_PKEY_up_ref(*key);
		jwk_free(k);
		rc = KBS_OK;
		goto out;
	}
	snprintf(why, whylen, "cca: no trust anchor for platform instance id %s", inst);
out:
	json_decref(store);
	return rc;
}

static const EVP_MD *hash_alg(const struct cca_bytes *name)
{
	static const struct {
		const char *id;
		const char *md;
	} algs[] = {{"sha-256", "SHA256"}, {"sha-384", "SHA384"}, {"sha-512", "SHA512"}};

	for (size_t i = 0; i < 3; i++)
		if (name->len == strlen(algs[i].id) && memcmp(name->p, algs[i].id, name->len) == 0)
			return EVP_get_digestbyname(algs[i].md);
	return NULL;
}

static json_t *b64s(const struct cca_bytes *b)
{
	char *s = NULL;
	json_t *j;

	if (b64_encode_alloc(b->p, b->len, B64_STD, &s) != KBS_OK)
		return NULL;
	j = json_string(s);
	free(s);
	return j;
}

static json_t *hexs(const struct cca_bytes *b)
{
	char s[2 * 64 + 1];

	to_hex(b, s, sizeof(s));
	return json_string(s);
}

static json_t *claims_of(const struct cca_token *t)
{
	json_t *rem = json_array();
	json_t *c;

	for (int i = 0; rem && i < 4; i++)
		json_array_append_new(rem, b64s(&t->r_rem[i]));
	c = json_pack("{s:{s:o,s:o,s:o,s:s%},s:{s:o,s:o},s:o,s:o}", "realm",
		      "cca-realm-personalization-value", b64s(&t->r_rpv),
		      "cca-realm-initial-measurement", b64s(&t->r_rim),
		      "cca-realm-extensible-measurements", rem, "cca-realm-hash-algo-id",
		      (const char *)t->r_hash_alg.p, t->r_hash_alg.len, "platform",
		      "cca-platform-instance-id", b64s(&t->p_inst_id),
		      "cca-platform-implementation-id", b64s(&t->p_impl_id), "report_data",
		      hexs(&t->r_challenge), "init_data", hexs(&t->r_rpv));
	return c;
}

int cca_verify_with_store(const char *ta_store, size_t ta_len, const struct as_verify_input *in,
			  json_t **claims, char *why, size_t whylen)
{
	uint8_t *tok = NULL, h[EVP_MAX_MD_SIZE], fit[64];
	unsigned hl = 0;
	size_t len = 0;
	struct cca_token t;
	EVP_PKEY *cpak = NULL, *rak = NULL;
	const EVP_MD *md;
	int rc;

	*claims = NULL;
	if ((rc = token_bytes(in->evidence, &tok, &len, why, whylen)) != KBS_OK)
		return rc;
	if ((rc = cca_token_parse(tok, len, &t, why, whylen)) != KBS_OK)
		goto out;
	if ((rc = find_anchor(ta_store, ta_len, &t, &cpak, why, whylen)) != KBS_OK)
		goto out;
	rc = KBS_ERR_VERIFY;
	if (cca_sign1_verify(&t.platform, cpak) != KBS_OK) {
		snprintf(why, whylen,
			 "cca: platform token signature does not verify with the "
			 "trust anchor key (CPAK)");
		goto out;
	}
	if (!(rak = cca_ec_point_key(t.r_rak.p, t.r_rak.len))) {
		snprintf(why, whylen, "cca: realm public key is not an uncompressed EC point");
		goto out;
	}
	if (!(md = hash_alg(&t.r_rak_hash_alg)) ||
	    EVP_Digest(t.r_rak.p, t.r_rak.len, h, &hl, md, NULL) != 1) {
		snprintf(why, whylen, "cca: realm public key hash algorithm not supported");
		goto out;
	}
	if (hl != t.p_challenge.len || CRYPTO_memcmp(h, t.p_challenge.p, hl) != 0) {
		snprintf(why, whylen,
			 "cca: platform challenge does not bind the realm attestation "
			 "key (hash of RAK)");
		goto out;
	}
	if (cca_sign1_verify(&t.realm, rak) != KBS_OK) {
		snprintf(why, whylen,
			 "cca: realm token signature does not verify with the realm "
			 "attestation key (RAK)");
		goto out;
	}
	if (!in->report_data) {
		snprintf(why, whylen, "cca: report data is required to check the realm challenge");
		goto out;
	}
	as_fit_report_data(in->report_data, in->report_data_len, fit, 64);
	if (CRYPTO_memcmp(fit, t.r_challenge.p, 64) != 0) {
		snprintf(why, whylen,
			 "cca: realm challenge does not match the runtime data digest");
		goto out;
	}
	if (in->init_data_digest) {
		as_fit_report_data(in->init_data_digest, in->init_data_digest_len, fit, 64);
		if (CRYPTO_memcmp(fit, t.r_rpv.p, 64) != 0) {
			snprintf(why, whylen,
				 "cca: realm personalization value does not match the "
				 "init-data digest");
			goto out;
		}
	}
	if (!(*claims = claims_of(&t))) {
		rc = KBS_ERR_NOMEM;
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	rc = KBS_OK;
out:
	EVP_PKEY_free(cpak);
	EVP_PKEY_free(rak);
	free(tok);
	return rc;
}

/* Reads Trustee's CCA config ({"cca-verifier": {"type": "local", "ta-store": path}}). */
static int load_store(char **text, size_t *len, char *why, size_t whylen)
{
	const char *cfgp = getenv("CCA_CONFIG_FILE");
	json_t *cfg, *v;
	const char *type, *ta;
	FILE *f = NULL;
	long n;
	int rc = KBS_ERR_UNAVAILABLE;

	*text = NULL;
	if (!cfgp || !*cfgp) {
		snprintf(why, whylen,
			 "cca: no trust anchors (set CCA_CONFIG_FILE to a local "
			 "cca-verifier config)");
		return rc;
	}
	cfg = json_load_file(cfgp, JSON_REJECT_DUPLICATES, NULL);
	v = json_object_get(cfg, "cca-verifier");
	type = json_string_value(json_object_get(v, "type"));
	ta = json_string_value(json_object_get(v, "ta-store"));
	if (!type || strcmp(type, "local") != 0 || !ta) {
		snprintf(why, whylen,
			 "cca: %s: only a \"local\" cca-verifier with a ta-store is "
			 "supported",
			 cfgp);
		goto out;
	}
	if (!(f = fopen(ta, "rb")) || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    n > (1 << 20) || fseek(f, 0, SEEK_SET) != 0 || !(*text = malloc((size_t)n + 1)) ||
	    fread(*text, 1, (size_t)n, f) != (size_t)n) {
		snprintf(why, whylen, "cca: cannot read ta-store %s", ta);
		free(*text);
		*text = NULL;
		goto out;
	}
	(*text)[n] = 0;
	*len = (size_t)n;
	rc = KBS_OK;
out:
	if (f)
		fclose(f);
	json_decref(cfg);
	return rc;
}

static int cca_verify(const struct as_verify_input *in, json_t **claims, char *why, size_t whylen)
{
	char *ta = NULL;
	size_t len = 0;
	int rc;

	*claims = NULL;
	if ((rc = load_store(&ta, &len, why, whylen)) != KBS_OK)
		return rc;
	rc = cca_verify_with_store(ta, len, in, claims, why, whylen);
	free(ta);
	return rc;
}

const struct as_verifier as_verifier_cca = {
    .tee = "cca",
    .tee_class = "cpu",
    .verify = cca_verify,
};
