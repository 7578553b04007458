// SPDX-License-Identifier: Apache-2.0
/*
 * Attestation service core: the runtime-data binding vector, the sample verifier through
 * as_evaluate(), EAR token shape and signature, trust tiers with reference values,
 * init-data claims, Trustee's fixture signing key (JWKS equality), policy upload checks and
 * the Simple token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "testdata.h"
#include "common/jose/jws.h"
#include "common/log.h"
#include "server/as/as.h"
#include "server/as/verifier.h"
#include "server/kbs/kbs.h"

static void data_path(const char *rel, char *out, size_t outlen)
{
	const char *dir = getenv("KBS_TEST_DATA");
	snprintf(out, outlen, "%s/kbs/trustee/%s", dir ? dir : "tests/data", rel);
}

static char *slurp(const char *rel)
{
	return td_read_file("kbs/trustee", rel, NULL);
}

static json_t *load_json(const char *rel)
{
	char *text = slurp(rel);
	json_t *j = json_loads(text, 0, NULL);

	free(text);
	assert_non_null(j);
	return j;
}

static void test_binding_vector(void **state)
{
	json_t *v = load_json("derived/runtime-data-binding-vector.json");
	uint8_t d[64];
	size_t dl;
	char hex[129];
	json_t *rd = NULL, *jwk;
	char why[200];

	(void)state;
	assert_int_equal(as_runtime_data_digest(json_object_get(v, "primary_runtime_data_object"),
						NULL, d, &dl),
			 KBS_OK);
	assert_int_equal(dl, 48);
	hex_encode(d, dl, hex, sizeof(hex));
	assert_string_equal(hex, json_string_value(json_object_get(v, "primary_sha384_hex")));
	/* the KBS's re-serialisation drops unknown JWK members before hashing */
	jwk = json_deep_copy(json_object_get(v, "tee_pubkey_jwk"));
	json_object_set_new(jwk, "kid", json_string("ignored"));
	json_object_set_new(jwk, "use", json_string("enc"));
	assert_int_equal(kbs_runtime_data(jwk, json_string_value(json_object_get(
							json_object_get(v, "challenge"), "nonce")),
					  "", &rd, why, sizeof(why)),
			 KBS_OK);
	assert_int_equal(as_runtime_data_digest(rd, "sha384", d, &dl), KBS_OK);
	hex_encode(d, dl, hex, sizeof(hex));
	assert_string_equal(hex, json_string_value(json_object_get(v, "primary_sha384_hex")));
	json_decref(rd);
	/* device object (no additional-evidence member) */
	assert_int_equal(kbs_runtime_data(jwk, json_string_value(json_object_get(
							json_object_get(v, "challenge"), "nonce")),
					  NULL, &rd, why, sizeof(why)),
			 KBS_OK);
	assert_int_equal(as_runtime_data_digest(rd, "sha384", d, &dl), KBS_OK);
	hex_encode(d, dl, hex, sizeof(hex));
	assert_string_equal(hex, json_string_value(json_object_get(v, "device_sha384_hex")));
	json_decref(rd);
	/* SE uses SHA-512 */
	assert_int_equal(as_runtime_data_digest(json_object_get(v, "primary_runtime_data_object"),
						"sha512", d, &dl),
			 KBS_OK);
	hex_encode(d, dl, hex, sizeof(hex));
	assert_string_equal(hex,
			    json_string_value(json_object_get(v, "primary_sha512_hex_for_se")));
	/* kty other than EC/RSA/AKP, missing members */
	json_object_del(jwk, "x");
	assert_int_equal(kbs_runtime_data(jwk, "n", "", &rd, why, sizeof(why)), KBS_ERR_INVAL);
	json_decref(jwk);
	json_decref(v);
}

static void test_fit_report_data(void **state)
{
	uint8_t d[48], out[64];

	(void)state;
	memset(d, 0xab, sizeof(d));
	as_fit_report_data(d, 48, out, 64);
	assert_int_equal(out[47], 0xab);
	assert_int_equal(out[48], 0);
	assert_int_equal(out[63], 0);
	as_fit_report_data(d, 48, out, 32);
	assert_int_equal(out[31], 0xab);
	assert_non_null(as_verifier_find("sample"));
	assert_null(as_verifier_find("no-such-tee"));
	assert_null(as_verifier_find(NULL));
}

/* A verifier called without an attestation service (no state) uses one process-wide state
 * built from the defaults, once; entries without a create() have none. */
static void test_default_state_once_per_verifier(void **state)
{
	json_t *ev = json_pack("{s:s}", "unexpected", "evidence");
	char why[256];
	size_t built = 0;

	(void)state;
	for (size_t i = 0; as_verifier_at(i); i++) {
		const struct as_verifier *v = as_verifier_at(i);
		const void *st = as_verifier_default_state(v, why, sizeof(why));
		struct as_verify_input in = {.evidence = ev};
		json_t *c = NULL;

		if (!v->create) {
			assert_null(st);
			assert_non_null(strstr(why, "no default state"));
			continue;
		}
		if (!st)
			fail_msg("%s: %s", v->tee, why);
		assert_ptr_equal(as_verifier_default_state(v, why, sizeof(why)), st);
		if (!v->verify)
			continue; /* a device verifier (verify_devices) */
		/* verify() without a state reaches the verifier, which refuses the evidence */
		why[0] = 0;
		assert_int_not_equal(v->verify(&in, &c, why, sizeof(why)), KBS_OK);
		assert_null(c);
		assert_true(why[0] != 0);
		assert_null(strstr(why, "unavailable"));
		built++;
	}
	assert_true(built >= 6); /* snp, tdx, tpm, az-snp-vtpm, az-tdx-vtpm, csv */
	json_decref(ev);
}

struct fixture {
	json_t *vec;
	struct as_ctx *as;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct as_config cfg;
	char key[1024], chain[1024];

	as_config_init(&cfg);
	data_path("jwk/as-signing-key.pem", key, sizeof(key));
	data_path("jwk/as-cert-chain.pem", chain, sizeof(chain));
	cfg.signer_key_path = key;
	cfg.signer_cert_path = chain;
	f->vec = load_json("derived/runtime-data-binding-vector.json");
	if (as_new(&cfg, &f->as) != KBS_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	as_free(f->as);
	json_decref(f->vec);
	free(f);
	return 0;
}

static int eval_sample(struct fixture *f, const char *report_data, const char *init_toml,
		       struct as_result *res, json_t **claims, char *why, size_t whylen)
{
	json_t *ev = json_pack("{s:s,s:s}", "svn", "1", "report_data", report_data);
	struct as_request r = {0};
	int rc;

	r.tee = "sample";
	r.evidence = ev;
	r.runtime_data = json_object_get(f->vec, "primary_runtime_data_object");
	if (init_toml) {
		r.init_data_toml = init_toml;
		r.init_data_toml_len = strlen(init_toml);
	}
	rc = as_evaluate(f->as, &r, 1, NULL, res, why, whylen);
	json_decref(ev);
	if (rc == KBS_OK && claims) {
		struct jwk *pub = NULL;
		static const char *const algs[] = {"ES256", NULL};
		struct jwt_verify_opts o = {0};
		assert_int_equal(jwk_public(as_token_key(f->as), &pub), KBS_OK);
		o.allowed_algs = algs;
		o.keys = &pub;
		o.nkeys = 1;
		o.require_exp = true;
		assert_int_equal(jwt_verify(res->token, strlen(res->token), &o, claims, NULL),
				 KBS_OK);
		jwk_free(pub);
	}
	return rc;
}

static void test_sample_ear_token(void **state)
{
	struct fixture *f = *state;
	struct as_result res;
	json_t *c = NULL, *cpu0, *ae;
	char why[300];
	const char *rd = json_string_value(json_object_get(f->vec,
							   "report_data_sample_evidence_base64"));

	assert_int_equal(eval_sample(f, rd, NULL, &res, &c, why, sizeof(why)), KBS_OK);
	assert_string_equal(res.status, "contraindicated");
	assert_int_equal(json_integer_value(json_object_get(c, "exp")) -
				 json_integer_value(json_object_get(c, "iat")),
			 300);
	assert_string_equal(json_string_value(json_object_get(c, "eat_profile")),
			    "tag:github.com,2024:confidential-containers/Trustee");
	cpu0 = json_object_get(json_object_get(c, "submods"), "cpu0");
	assert_string_equal(json_string_value(json_object_get(cpu0, "ear.appraisal-policy-id")),
			    "default");
	ae = json_object_get(cpu0, "ear.veraison.annotated-evidence");
	assert_string_equal(json_string_value(json_object_get(ae, "report_data")), rd);
	assert_true(json_equal(json_object_get(ae, "runtime_data_claims"),
			       json_object_get(f->vec, "primary_runtime_data_object")));
	assert_null(json_object_get(json_object_get(ae, "sample"), "report_data"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(ae, "sample"),
							      "launch_digest")),
			    "abcde");
	assert_non_null(json_object_get(cpu0, "ear.trustee.identifiers"));
	assert_null(json_object_get(ae, "init_data"));
	json_decref(c);
	as_result_release(&res);

	/* header jwk = Trustee's expected JWKS for that fixture key (incl. x5c) */
	json_t *jwks = as_jwks(f->as), *want = load_json("jwk/as-expected-jwks.json");
	assert_true(json_equal(jwks, want));
	json_decref(jwks);
	json_decref(want);
}

/* The EAR claims are written without a jansson tree: they must still be exactly the compact
 * text of an object with Trustee's member order. */
static void test_ear_claims_bytes_and_order(void **state)
{
	static const char *const order[] = {"eat_profile", "iat", "ear.verifier-id", "submods",
					    "exp", "iss"};
	struct fixture *f = *state;
	struct as_result res;
	char why[300], *redump;
	const char *rd = json_string_value(json_object_get(f->vec,
							   "report_data_sample_evidence_base64"));
	const char *p1, *p2, *k;
	uint8_t *payload;
	size_t plen, i = 0;
	json_t *c, *v;

	assert_int_equal(eval_sample(f, rd, NULL, &res, NULL, why, sizeof(why)), KBS_OK);
	p1 = strchr(res.token, '.');
	assert_non_null(p1);
	p2 = strchr(p1 + 1, '.');
	assert_non_null(p2);
	assert_int_equal(b64_decode_alloc(p1 + 1, (size_t)(p2 - p1 - 1), B64_URL, &payload, &plen),
			 KBS_OK);
	c = json_loadb((const char *)payload, plen, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(c);
	json_object_foreach(c, k, v) {
		assert_true(i < 6);
		assert_string_equal(k, order[i]);
		i++;
	}
	assert_int_equal(i, 6);
	redump = json_dumps(c, JSON_COMPACT);
	assert_int_equal(strlen(redump), plen);
	assert_memory_equal(redump, payload, plen);
	/* verifier id as the ear crate writes it: developer, then build */
	assert_int_equal(strncmp(strstr((const char *)payload, "\"ear.verifier-id\":"),
				 "\"ear.verifier-id\":{\"developer\":\"https://"
				 "confidentialcontainers.org\",\"build\":\"",
				 strlen("\"ear.verifier-id\":{\"developer\":\"https://"
					"confidentialcontainers.org\",\"build\":\"")),
			 0);
	assert_string_equal(json_string_value(json_object_get(c, "iss")),
			    "CoCo-Attestation-Service");
	free(redump);
	free(payload);
	json_decref(c);
	as_result_release(&res);
}

/* JOSE header bytes as Trustee emits them (jsonwebtoken's Header and Jwk member order):
 * {"typ","alg","jwk":{"alg","x5c","kty","crv","x","y"}} - for the fixture key and chain
 * exactly the header of the derived sample token. */
static void test_ear_header_member_order(void **state)
{
	struct fixture *f = *state;
	struct as_result res;
	json_t *sample = load_json("derived/ear-token-sample.decoded.json");
	char why[300], *want, hdr[4096];
	const char *rd = json_string_value(json_object_get(f->vec,
							   "report_data_sample_evidence_base64"));
	const char *prefix = "{\"typ\":\"JWT\",\"alg\":\"ES256\",\"jwk\":{\"alg\":\"ES256\","
			     "\"x5c\":[";
	const char *dot;
	size_t hlen;

	assert_int_equal(eval_sample(f, rd, NULL, &res, NULL, why, sizeof(why)), KBS_OK);
	dot = strchr(res.token, '.');
	assert_non_null(dot);
	assert_int_equal(b64_decode(res.token, (size_t)(dot - res.token), (uint8_t *)hdr,
				    sizeof(hdr) - 1, &hlen, B64_URL),
			 KBS_OK);
	hdr[hlen] = '\0';
	want = json_dumps(json_object_get(sample, "header"), JSON_COMPACT);
	assert_non_null(want);
	assert_int_equal(strncmp(want, prefix, strlen(prefix)), 0);
	assert_string_equal(hdr, want);
	free(want);
	json_decref(sample);
	as_result_release(&res);
}

static void test_sample_wrong_report_data(void **state)
{
	struct fixture *f = *state;
	struct as_result res;
	char why[300] = "";

	assert_int_equal(eval_sample(f, "AAAA", NULL, &res, NULL, why, sizeof(why)),
			 KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "does not match"));
	assert_null(res.token);
	assert_int_equal(eval_sample(f, "!!notbase64", NULL, &res, NULL, why, sizeof(why)),
			 KBS_ERR_VERIFY);
}

static void test_reference_values_raise_trust(void **state)
{
	struct fixture *f = *state;
	struct as_result res;
	json_t *c = NULL;
	char why[300];
	const char *rd = json_string_value(json_object_get(f->vec,
							   "report_data_sample_evidence_base64"));
	/* {"svn":["1"],"launch_digest":["abcde"],"major_version":1,"minimum_minor_version":1} */
	const char *msg = "{\"version\":\"0.1.0\",\"type\":\"sample\",\"payload\":\""
			  "eyJzdm4iOlsiMSJdLCJsYXVuY2hfZGlnZXN0IjpbImFiY2RlIl0sIm1ham9yX3ZlcnNp"
			  "b24iOjEsIm1pbmltdW1fbWlub3JfdmVyc2lvbiI6MX0=\"}";

	assert_int_equal(as_rv_register(f->as, msg, strlen(msg), why, sizeof(why)), KBS_OK);
	json_t *v = as_rv_query(f->as, "svn");
	assert_non_null(v);
	json_decref(v);
	assert_null(as_rv_query(f->as, "nothing"));
	assert_int_equal(eval_sample(f, rd, NULL, &res, &c, why, sizeof(why)), KBS_OK);
	assert_string_equal(res.status, "affirming");
	json_t *tv = json_object_get(json_object_get(json_object_get(c, "submods"), "cpu0"),
				     "ear.trustworthiness-vector");
	assert_int_equal(json_integer_value(json_object_get(tv, "executables")), 3);
	assert_int_equal(json_integer_value(json_object_get(tv, "hardware")), 2);
	json_decref(c);
	as_result_release(&res);
	/* bad messages */
	assert_int_not_equal(as_rv_register(f->as, "{", 1, why, sizeof(why)), KBS_OK);
	const char *swid = "{\"type\":\"swid\",\"payload\":\"\"}";
	assert_int_equal(as_rv_register(f->as, swid, strlen(swid), why, sizeof(why)),
			 KBS_ERR_PARSE); /* empty manifest: not XML */
	const char *spdx = "{\"type\":\"spdx\",\"payload\":\"\"}";
	assert_int_equal(as_rv_register(f->as, spdx, strlen(spdx), why, sizeof(why)),
			 KBS_ERR_UNSUPPORTED);
	const char *ver = "{\"version\":\"0.2.0\",\"type\":\"sample\",\"payload\":\"e30=\"}";
	assert_int_not_equal(as_rv_register(f->as, ver, strlen(ver), why, sizeof(why)), KBS_OK);
}

static void test_init_data_claims(void **state)
{
	struct fixture *f = *state;
	struct as_result res;
	json_t *c = NULL;
	char why[300];
	char *toml = slurp("integration/simple-init-data.toml");
	const char *rd = json_string_value(json_object_get(f->vec,
							   "report_data_sample_evidence_base64"));

	assert_int_equal(eval_sample(f, rd, toml, &res, &c, why, sizeof(why)), KBS_OK);
	json_t *ae = json_object_get(json_object_get(json_object_get(c, "submods"), "cpu0"),
				     "ear.veraison.annotated-evidence");
	assert_string_equal(json_string_value(json_object_get(ae, "init_data")),
			    "3wlz8dSrJAhU3wLkZ9HzClrvUrnBJr66MzBV40YGXIw=");
	json_t *idc = json_object_get(ae, "init_data_claims");
	assert_true(json_is_object(idc));
	/* cdh.toml is parsed into an object */
	assert_true(json_is_object(json_object_get(idc, "cdh.toml")));
	json_decref(c);
	as_result_release(&res);
	free(toml);
	assert_int_not_equal(eval_sample(f, rd, "algorithm = \"md5\"\n", &res, NULL, why,
					 sizeof(why)),
			     KBS_OK);
	assert_non_null(strstr(why, "md5"));
}

static void test_unknown_tee_and_policies(void **state)
{
	struct fixture *f = *state;
	struct as_request r = {0};
	struct as_result res;
	char why[300];
	json_t *ev = json_object(), *list;

	r.tee = "no-such-tee";
	r.evidence = ev;
	assert_int_equal(as_evaluate(f->as, &r, 1, NULL, &res, why, sizeof(why)),
			 KBS_ERR_UNSUPPORTED);
	assert_non_null(strstr(why, "no-such-tee"));
	json_decref(ev);
	const char *bad = "package policy\ntrust_claims := {\"executables\": 2\n";
	assert_int_not_equal(as_set_policy(f->as, "default_cpu", bad, strlen(bad), why,
					   sizeof(why)),
			     KBS_OK);
	assert_non_null(strstr(why, "Rego"));
	char *shipped = slurp("policies-as/ear_default_policy_cpu.rego");
	assert_int_equal(as_set_policy(f->as, "default_cpu", shipped, strlen(shipped), why,
				       sizeof(why)),
			 KBS_OK);
	assert_int_equal(as_set_policy(f->as, "../x", shipped, strlen(shipped), why, sizeof(why)),
			 KBS_ERR_INVAL);
	free(shipped);
	list = as_list_policies(f->as);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
}

/* A shared policy store double: one slot, or "down" (every call unavailable). */
struct fake_store {
	bool down;
	char *text;
	size_t len;
	int gets;
};

static int fs_get(void *ctx, const char *id, char **text, size_t *len)
{
	struct fake_store *fs = ctx;

	fs->gets++;
	if (fs->down)
		return KBS_ERR_UNAVAILABLE;
	if (!fs->text || strcmp(id, "default_cpu") != 0)
		return KBS_ERR_NOTFOUND;
	*text = strndup(fs->text, fs->len);
	*len = fs->len;
	return *text ? KBS_OK : KBS_ERR_NOMEM;
}

static int fs_put(void *ctx, const char *id, const char *text, size_t len)
{
	struct fake_store *fs = ctx;

	if (fs->down)
		return KBS_ERR_UNAVAILABLE;
	assert_string_equal(id, "default_cpu");
	free(fs->text);
	fs->text = strndup(text, len);
	fs->len = len;
	return KBS_OK;
}

static int fs_list(void *ctx, json_t *ids)
{
	struct fake_store *fs = ctx;

	if (fs->down)
		return KBS_ERR_UNAVAILABLE;
	json_array_append_new(ids, json_string("default_cpu"));
	json_array_append_new(ids, json_string("tenant_a_cpu"));
	return KBS_OK;
}

static void test_policy_store_is_read_every_time_and_outage_fails(void **state)
{
	struct fixture *f = *state;
	struct fake_store fs = {0};
	struct as_policy_store st = {&fs, fs_get, fs_put, fs_list};
	struct as_result res;
	json_t *list;
	char why[300];
	const char *rd = json_string_value(json_object_get(f->vec,
							   "report_data_sample_evidence_base64"));
	char *shipped = slurp("policies-as/ear_default_policy_cpu.rego");
	const char *affirm = "package policy\ntrust_claims := {\"hardware\": 2}\n";

	as_set_policy_store(f->as, &st);
	/* empty store: the built-in default (sample is contraindicated without RVs) */
	assert_int_equal(eval_sample(f, rd, NULL, &res, NULL, why, sizeof(why)), KBS_OK);
	assert_string_equal(res.status, "contraindicated");
	as_result_release(&res);
	/* a value another replica put in the store is used at the next evaluation */
	fs.text = strdup(affirm);
	fs.len = strlen(affirm);
	assert_int_equal(eval_sample(f, rd, NULL, &res, NULL, why, sizeof(why)), KBS_OK);
	assert_string_equal(res.status, "affirming");
	as_result_release(&res);
	assert_int_equal(fs.gets, 2);
	/* uploads go to the store, not to memory */
	assert_int_equal(as_set_policy(f->as, "default_cpu", shipped, strlen(shipped), why,
				       sizeof(why)),
			 KBS_OK);
	assert_int_equal(fs.len, strlen(shipped));
	list = as_list_policies(f->as);
	assert_int_equal(json_array_size(list), 3);
	json_decref(list);
	/* outage: neither the built-in default nor an old copy is used */
	fs.down = true;
	assert_int_equal(eval_sample(f, rd, NULL, &res, NULL, why, sizeof(why)),
			 KBS_ERR_UNAVAILABLE);
	assert_non_null(strstr(why, "policy store unavailable"));
	assert_int_equal(as_set_policy(f->as, "default_cpu", shipped, strlen(shipped), why,
				       sizeof(why)),
			 KBS_ERR_UNAVAILABLE);
	assert_null(as_list_policies(f->as));
	as_set_policy_store(f->as, NULL);
	free(shipped);
	free(fs.text);
}

static void test_simple_token(void **state)
{
	struct as_config cfg;
	struct as_ctx *as = NULL;
	struct as_request r = {0};
	struct as_result res;
	json_t *vec = load_json("derived/runtime-data-binding-vector.json"), *hdr = NULL;
	char why[300];

	(void)state;
	as_config_init(&cfg);
	cfg.token_type = AS_TOKEN_SIMPLE;
	assert_int_equal(as_new(&cfg, &as), KBS_OK);
	r.tee = "sample";
	r.evidence = json_object_get(vec, "sample_evidence");
	r.runtime_data = json_object_get(vec, "primary_runtime_data_object");
	assert_int_equal(as_evaluate(as, &r, 1, NULL, &res, why, sizeof(why)), KBS_OK);
	assert_int_equal(jws_peek_header(res.token, strlen(res.token), &hdr), KBS_OK);
	assert_string_equal(json_string_value(json_object_get(hdr, "alg")), "RS384");
	assert_string_equal(json_string_value(json_object_get(json_object_get(hdr, "jwk"), "kty")),
			    "RSA");
	json_decref(hdr);
	as_result_release(&res);
	as_free(as);
	as_free(NULL);
	json_decref(vec);
}

static void test_as_json_configs(void **state)
{
	static const char *const files[] = {"as-config.json", "docker-compose-as-config.json",
					    "example_with_tpm_verifier.json",
					    "kubernetes-base-as-config.json", "parse-example1.json",
					    "parse-example2.json", NULL};
	char why[300];

	(void)state;
	for (const char *const *f = files; *f; f++) {
		char rel[256];
		struct as_config c;
		snprintf(rel, sizeof(rel), "configs/%s", *f);
		json_t *j = load_json(rel);
		as_config_init(&c);
		if (as_config_from_json(j, &c, why, sizeof(why)) != KBS_OK)
			fail_msg("%s: %s", *f, why);
		if (strcmp(*f, "parse-example2.json") == 0) {
			assert_string_equal(c.signer_key_path, "/etc/key");
			assert_string_equal(c.signer_cert_path, "/etc/cert.pem");
			assert_string_equal(c.signer_cert_url, "https://example.io");
			assert_string_equal(c.issuer_name, "test");
			assert_string_equal(c.developer_name, "someone");
			assert_true(c.verbose_token);
		}
		as_config_release(&c);
		json_decref(j);
	}
	struct as_config c;
	json_t *bad = json_pack("{s:{s:s}}", "attestation_token_broker", "duration_min", "5");
	as_config_init(&c);
	assert_int_equal(as_config_from_json(bad, &c, why, sizeof(why)), KBS_ERR_INVAL);
	assert_non_null(strstr(why, "duration_min"));
	json_decref(bad);
	bad = json_pack("{s:{s:{}}}", "attestation_token_broker", "signer");
	assert_int_equal(as_config_from_json(bad, &c, why, sizeof(why)), KBS_ERR_INVAL);
	assert_non_null(strstr(why, "key_path"));
	json_decref(bad);
	as_config_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_binding_vector),
		cmocka_unit_test(test_fit_report_data),
		cmocka_unit_test(test_default_state_once_per_verifier),
		cmocka_unit_test_setup_teardown(test_sample_ear_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ear_claims_bytes_and_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ear_header_member_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sample_wrong_report_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reference_values_raise_trust, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_data_claims, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_tee_and_policies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_store_is_read_every_time_and_outage_fails,
						setup, teardown),
		cmocka_unit_test(test_simple_token),
		cmocka_unit_test(test_as_json_configs),
	};
	log_set_level(LOG_LVL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
