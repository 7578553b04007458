// SPDX-License-Identifier: Apache-2.0
/*
 * Sealed secrets (broker/sealed.c): the guest-components vectors (signed with upstream's test
 * key), tampering, wrong keys, every refused header/payload shape, key loading, and the
 * unseal flow up to the KBS fetch (a key file that is missing or wrong stops it before any
 * network traffic).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/sealed.h"
#include "common/b64.h"
#include "common/err.h"
#include "common/jose/jwk.h"
#include "common/jose/jws.h"
#include "common/log.h"
#include "common/secmem.h"
#include "testdata.h"

static struct jwk *load_key(const char *name)
{
	size_t n;
	char *text = td_read_file("sealed", name, &n);
	struct jwk *k = NULL;

	assert_int_equal(sealed_key_load((const uint8_t *)text, n, &k), KBS_OK);
	free(text);
	return k;
}

/* "sealed." + ES256 JWS over payload with header {"kid": kid} (alg overridable). */
static char *seal(const char *key_file, const char *alg, const char *kid, const char *payload)
{
	size_t n;
	char *text = td_read_file("sealed", key_file, &n), *jws = NULL, *out;
	struct jwk *k = NULL;
	json_t *hdr = json_pack("{s:s}", "kid", kid);

	assert_int_equal(jwk_from_json_text(text, n, &k), KBS_OK);
	if (strcmp(alg, "ES256")) {
		/* another algorithm with this key: only the header matters to the parser */
		char *h = NULL, *p = NULL, *hj = NULL;

		json_object_set_new(hdr, "alg", json_string(alg));
		hj = json_dumps(hdr, JSON_COMPACT);
		assert_int_equal(b64_encode_alloc((const uint8_t *)hj, strlen(hj), B64_URL, &h),
				 KBS_OK);
		assert_int_equal(b64_encode_alloc((const uint8_t *)payload, strlen(payload),
						  B64_URL, &p),
				 KBS_OK);
		jws = malloc(strlen(h) + strlen(p) + 8);
		assert_non_null(jws);
		snprintf(jws, strlen(h) + strlen(p) + 8, "%s.%s.c2ln", h, p);
		free(h);
		free(p);
		free(hj);
	} else {
		assert_int_equal(jws_sign(k, alg, hdr, payload, strlen(payload), &jws), KBS_OK);
	}
	out = malloc(strlen(jws) + 8);
	assert_non_null(out);
	snprintf(out, strlen(jws) + 8, "sealed.%s", jws);
	free(jws);
	free(text);
	jwk_free(k);
	json_decref(hdr);
	return out;
}

static void upstream_vector_parses_and_verifies(void **state)
{
	size_t n;
	char *s = td_read_file("sealed", "vault-2.sealed.txt", &n), why[256];
	struct sealed_ref r;
	struct jwk *k = load_key("test-key.json"), *k2 = load_key("test-key-2.json");

	(void)state;
	assert_int_equal(sealed_parse(s, n, &r, why, sizeof(why)), KBS_OK);
	assert_string_equal(r.kid, "test-key");
	assert_string_equal(r.type, "vault");
	assert_string_equal(r.provider, "kbs");
	assert_string_equal(r.name, "kbs:///one/2/trois");
	assert_string_equal(r.path, "one/2/trois");
	assert_string_equal(r.key_path, "");
	assert_int_equal(sealed_verify(s, n, k), KBS_OK);
	/* another key: refused */
	assert_int_equal(sealed_verify(s, n, k2), KBS_ERR_VERIFY);
	free(s);
	/* one signature character changed: parses, never verifies */
	s = td_read_file("sealed", "vault-2.sealed-tampered.txt", &n);
	assert_int_equal(sealed_parse(s, n, &r, why, sizeof(why)), KBS_OK);
	assert_int_equal(sealed_verify(s, n, k), KBS_ERR_VERIFY);
	free(s);
	/* unsigned (fake header): refused at parse time, there is no skip switch */
	s = td_read_file("sealed", "vault-2.sealed-unsigned.txt", &n);
	assert_int_equal(sealed_parse(s, n, &r, why, sizeof(why)), KBS_ERR_PARSE);
	assert_int_not_equal(sealed_verify(s, n, k), KBS_OK);
	free(s);
	jwk_free(k);
	jwk_free(k2);
}

static void payload_tampering_is_refused(void **state)
{
	const char *p = "{\"version\":\"0.1.0\",\"type\":\"vault\",\"name\":\"kbs:///default/akv/"
			"one\",\"provider\":\"kbs\",\"provider_settings\":{},\"annotations\":{}}";
	char *s = seal("test-key.json", "ES256", "test-key", p), *d1, *d2, *enc = NULL, *t;
	struct jwk *k = load_key("test-key.json");
	struct sealed_ref r;
	char why[256];
	const char *other = "{\"version\":\"0.1.0\",\"type\":\"vault\",\"name\":\"kbs:///default/"
			    "akv/two\",\"provider\":\"kbs\",\"provider_settings\":{},"
			    "\"annotations\":{}}";
	size_t l;

	(void)state;
	assert_int_equal(sealed_verify(s, strlen(s), k), KBS_OK);
	/* whitespace around the text (a file's newline) is fine */
	t = malloc(strlen(s) + 3);
	snprintf(t, strlen(s) + 3, " %s\n", s);
	assert_int_equal(sealed_verify(t, strlen(t), k), KBS_OK);
	assert_int_equal(sealed_parse(t, strlen(t), &r, why, sizeof(why)), KBS_OK);
	assert_string_equal(r.path, "default/akv/one");
	free(t);
	/* re-point the reference at another resource, keep the signature */
	d1 = strchr(s + 7, '.');
	d2 = strchr(d1 + 1, '.');
	assert_int_equal(b64_encode_alloc((const uint8_t *)other, strlen(other), B64_URL, &enc),
			 KBS_OK);
	l = (size_t)(d1 - s) + 1 + strlen(enc) + strlen(d2) + 1;
	t = malloc(l);
	snprintf(t, l, "%.*s.%s%s", (int)(d1 - s), s, enc, d2);
	assert_int_equal(sealed_parse(t, strlen(t), &r, why, sizeof(why)), KBS_OK);
	assert_string_equal(r.path, "default/akv/two");
	assert_int_equal(sealed_verify(t, strlen(t), k), KBS_ERR_VERIFY);
	free(t);
	free(enc);
	free(s);
	jwk_free(k);
}

static void refused_shapes(void **state)
{
	static const struct {
		const char *alg, *kid, *payload;
		int rc;
		const char *needle;
	} cases[] = {
	    {"ES384", "test-key", NULL, KBS_ERR_PARSE, "ES256"},
	    {"ES256", "../etc/passwd", NULL, KBS_ERR_PARSE, "kid"},
	    {"ES256", "a/b", NULL, KBS_ERR_PARSE, "kid"},
	    {"ES256", ".hidden", NULL, KBS_ERR_PARSE, "kid"},
	    {"ES256", "kbs://evil.example/default/keys/k", NULL, KBS_ERR_PARSE, "kid"},
	    {"ES256", "kbs:///default/keys", NULL, KBS_ERR_PARSE, "kid"},
	    {"ES256", "test-key",
	     "{\"version\":\"0.2.0\",\"type\":\"vault\",\"name\":\"kbs:///a/b/c\","
	     "\"provider\":\"kbs\"}",
	     KBS_ERR_PARSE, "version"},
	    {"ES256", "test-key",
	     "{\"version\":\"0.1.0\",\"type\":\"plain\",\"name\":\"kbs:///a/b/c\","
	     "\"provider\":\"kbs\"}",
	     KBS_ERR_PARSE, "type"},
	    {"ES256", "test-key",
	     "{\"version\":\"0.1.0\",\"type\":\"vault\",\"name\":\"kbs:///a/b\","
	     "\"provider\":\"kbs\"}",
	     KBS_ERR_PARSE, "name"},
	    {"ES256", "test-key",
	     "{\"version\":\"0.1.0\",\"type\":\"vault\",\"name\":\"kbs://h/a/b/c\","
	     "\"provider\":\"kbs\"}",
	     KBS_ERR_PARSE, "name"},
	    {"ES256", "test-key",
	     "{\"version\":\"0.1.0\",\"type\":\"vault\",\"name\":\"kbs:///a/../c\","
	     "\"provider\":\"kbs\"}",
	     KBS_ERR_PARSE, "name"},
	    {"ES256", "test-key", "[1]", KBS_ERR_PARSE, "JSON"},
	    {"ES256", "test-key",
	     "{\"version\":\"0.1.0\",\"type\":\"vault\",\"name\":\"xxx\",\"provider\":\"aliyun\"}",
	     KBS_ERR_UNSUPPORTED, "aliyun"},
	};
	const char *good = "{\"version\":\"0.1.0\",\"type\":\"vault\",\"name\":\"kbs:///a/b/c\","
			   "\"provider\":\"kbs\"}";
	struct sealed_ref r;
	char why[256];
	size_t i, n;
	char *env;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = seal("test-key.json", cases[i].alg, cases[i].kid,
			       cases[i].payload ? cases[i].payload : good);

		why[0] = 0;
		assert_int_equal(sealed_parse(s, strlen(s), &r, why, sizeof(why)), cases[i].rc);
		assert_non_null(strstr(why, cases[i].needle));
		free(s);
	}
	/* upstream's envelope sample: recognised, not supported */
	env = td_read_file("sealed", "envelope-1.json", &n);
	{
		char *s = seal("test-key.json", "ES256", "test-key", env);

		assert_int_equal(sealed_parse(s, strlen(s), &r, why, sizeof(why)),
				 KBS_ERR_UNSUPPORTED);
		assert_non_null(strstr(why, "envelope"));
		free(s);
	}
	free(env);
	/* kid as a KBS resource */
	{
		char *s = seal("test-key.json", "ES256", "kbs:///default/keys/sealing", good);

		assert_int_equal(sealed_parse(s, strlen(s), &r, why, sizeof(why)), KBS_OK);
		assert_string_equal(r.key_path, "default/keys/sealing");
		free(s);
	}
	/* not sealed, not three parts, NUL inside */
	assert_int_equal(sealed_parse("eyJhIjoxfQ.e30.c2ln", 19, &r, why, sizeof(why)),
			 KBS_ERR_PARSE);
	assert_int_equal(sealed_parse("sealed.a.b", 10, &r, why, sizeof(why)), KBS_ERR_PARSE);
	assert_int_equal(sealed_parse("sealed.a.b.c.d", 14, &r, why, sizeof(why)), KBS_ERR_PARSE);
	assert_int_equal(sealed_parse("sealed.a\0.b.c", 13, &r, why, sizeof(why)), KBS_ERR_PARSE);
}

static void key_loading(void **state)
{
	struct jwk *k = NULL, *priv = NULL;
	char *pem = NULL;

	(void)state;
	/* upstream key files hold the private key too: only the public half is kept */
	k = load_key("test-key.json");
	assert_false(jwk_is_private(k));
	jwk_free(k);
	/* PEM public keys work as well */
	assert_int_equal(jwk_generate(JWK_EC_P256, &priv), KBS_OK);
	assert_int_equal(jwk_to_pem(priv, false, &pem), KBS_OK);
	assert_int_equal(sealed_key_load((const uint8_t *)pem, strlen(pem), &k), KBS_OK);
	jwk_free(k);
	free(pem);
	jwk_free(priv);
	/* other curves and key types are refused */
	assert_int_equal(jwk_generate(JWK_EC_P521, &priv), KBS_OK);
	assert_int_equal(jwk_to_pem(priv, false, &pem), KBS_OK);
	assert_int_equal(sealed_key_load((const uint8_t *)pem, strlen(pem), &k), KBS_ERR_INVAL);
	assert_null(k);
	free(pem);
	jwk_free(priv);
	assert_int_equal(sealed_key_load((const uint8_t *)"{\"kty\":\"oct\",\"k\":\"AAAA\"}", 24,
					 &k),
			 KBS_ERR_PARSE);
	assert_int_equal(sealed_key_load((const uint8_t *)"garbage", 7, &k), KBS_ERR_PARSE);
}

static void unseal_stops_before_the_kbs_without_a_good_key(void **state)
{
	char dir[] = "/tmp/test_sealed_XXXXXX", path[128], why[256];
	struct broker_config bc = {.kbs_url = "http://127.0.0.1:9", .tee = "sample",
				   .allow_sample = true, .max_retries = -1,
				   .request_timeout_ms = 500};
	struct broker *b = NULL;
	struct broker_error e;
	struct secbuf out = {NULL, 0};
	size_t n;
	char *s = td_read_file("sealed", "vault-2.sealed.txt", &n), *key;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(broker_new(&bc, &b), KBS_OK);
	/* no key file named by kid */
	assert_int_equal(sealed_unseal(b, s, n, dir, 0, &out, &e, why, sizeof(why)),
			 KBS_ERR_NOTFOUND);
	assert_non_null(strstr(why, "test-key"));
	/* the wrong key under that name */
	key = td_read_file("sealed", "test-key-2.json", &n);
	snprintf(path, sizeof(path), "%s/test-key", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(key, f);
	fclose(f);
	free(key);
	free(s);
	s = td_read_file("sealed", "vault-2.sealed.txt", &n);
	assert_int_equal(sealed_unseal(b, s, n, dir, 0, &out, &e, why, sizeof(why)),
			 KBS_ERR_VERIFY);
	assert_null(out.p);
	/* the right key: verification passes and the fetch is attempted (no KBS here) */
	key = td_read_file("sealed", "test-key.json", &n);
	f = fopen(path, "w");
	fputs(key, f);
	fclose(f);
	free(key);
	free(s);
	s = td_read_file("sealed", "vault-2.sealed.txt", &n);
	assert_int_equal(sealed_unseal(b, s, n, dir, 0, &out, &e, why, sizeof(why)),
			 KBS_ERR_NETWORK);
	assert_non_null(strstr(why, "one/2/trois"));
	unlink(path);
	rmdir(dir);
	free(s);
	broker_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(upstream_vector_parses_and_verifies),
	    cmocka_unit_test(payload_tampering_is_refused),
	    cmocka_unit_test(refused_shapes),
	    cmocka_unit_test(key_loading),
	    cmocka_unit_test(unseal_stops_before_the_kbs_without_a_good_key),
	};

	log_setup("test_sealed", LOG_LVL_ERROR, LOG_TARGET_STDERR);
	secmem_init(0, true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
