// SPDX-License-Identifier: Apache-2.0
/*
 * Response parsers of the HTTP resource backends on the documented shapes: Vault KV v1/v2
 * read responses (Trustee's base64 "data" field), Azure Key Vault SecretBundle (plain and
 * kbs-written base64 values) and the Microsoft identity platform token response; negative
 * cases (missing fields, wrong types, bad base64, CR/LF in a token, truncated JSON); the
 * HTTP status -> error table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/secmem.h"
#include "server/kbs/repo_http.h"

#define S(x) x, strlen(x)

static void test_vault_kv1_and_kv2(void **state)
{
	struct secbuf out = {0};
	/* vault read secret/default/vault/one (KV v1), value written by Trustee */
	const char *v1 = "{\"request_id\":\"5c0b\",\"lease_id\":\"\",\"renewable\":false,"
			 "\"lease_duration\":2764800,\"data\":{\"data\":\"AAF0cnVzdGVl/w==\"},"
			 "\"wrap_info\":null,\"warnings\":null,\"auth\":null}";
	const char *v2 = "{\"data\":{\"data\":{\"data\":\"aGVsbG8=\"},\"metadata\":{\"created_time"
			 "\":\"2026-11-27T00:00:00Z\",\"deletion_time\":\"\",\"destroyed\":false,"
			 "\"version\":3}}}";

	(void)state;
	assert_int_equal(repo_vault_parse(1, S(v1), &out), KBS_OK);
	assert_int_equal(out.len, 10);
	assert_memory_equal(out.p, "\0\1trustee\xff", 10);
	assert_true(secmem_contains(out.p));
	secbuf_free(&out);
	assert_int_equal(repo_vault_parse(2, S(v2), &out), KBS_OK);
	assert_memory_equal(out.p, "hello", 5);
	secbuf_free(&out);
	/* a v2 body read as v1 (wrong kv_version) and the reverse */
	assert_int_equal(repo_vault_parse(1, S(v2), &out), KBS_ERR_PARSE);
	assert_int_equal(repo_vault_parse(2, S(v1), &out), KBS_ERR_PARSE);
	assert_int_equal(repo_vault_parse(1, S("{\"data\":{\"password\":\"x\"}}"), &out),
			 KBS_ERR_PARSE);
	assert_int_equal(repo_vault_parse(1, S("{\"data\":{\"data\":\"not base64!\"}}"), &out),
			 KBS_ERR_PARSE);
	assert_int_equal(repo_vault_parse(1, S("{\"data\":{\"data\":42}}"), &out),
			 KBS_ERR_PARSE);
	assert_int_equal(repo_vault_parse(1, S("{\"data\":{\"data\":\"aGVs"), &out),
			 KBS_ERR_PARSE);
	assert_null(out.p);
	/* empty resource: valid */
	assert_int_equal(repo_vault_parse(1, S("{\"data\":{\"data\":\"\"}}"), &out), KBS_OK);
	assert_int_equal(out.len, 0);
	secbuf_free(&out);
}

static void test_akv_bundle(void **state)
{
	struct secbuf out = {0};
	const char *plain =
		"{\"value\":\"mysecretvalue\",\"id\":\"https://myvault.vault.azure.net/secrets/"
		"mysecretname/4387e9f3d6e14c459867679a90fd0f79\",\"attributes\":{\"enabled\":true,"
		"\"created\":1493938410,\"updated\":1493938410,\"recoveryLevel\":\"Recoverable+"
		"Purgeable\"}}";
	const char *b64 = "{\"value\":\"AP8=\",\"contentType\":\"application/octet-stream;"
			  "base64\",\"id\":\"x\"}";
	const char *other_ct = "{\"value\":\"AP8=\",\"contentType\":\"text/plain\"}";

	(void)state;
	assert_int_equal(repo_akv_parse_bundle(S(plain), &out), KBS_OK);
	assert_int_equal(out.len, 13);
	assert_memory_equal(out.p, "mysecretvalue", 13);
	secbuf_free(&out);
	assert_int_equal(repo_akv_parse_bundle(S(b64), &out), KBS_OK);
	assert_int_equal(out.len, 2);
	assert_memory_equal(out.p, "\0\xff", 2);
	secbuf_free(&out);
	/* another content type is served verbatim */
	assert_int_equal(repo_akv_parse_bundle(S(other_ct), &out), KBS_OK);
	assert_memory_equal(out.p, "AP8=", 4);
	secbuf_free(&out);
	assert_int_equal(repo_akv_parse_bundle(S("{\"value\":1}"), &out), KBS_ERR_PARSE);
	assert_int_equal(repo_akv_parse_bundle(S("{\"error\":{\"code\":\"SecretNotFound\"}}"),
					       &out),
			 KBS_ERR_PARSE);
	assert_int_equal(repo_akv_parse_bundle(S("{\"value\":\"%%\",\"contentType\":"
						 "\"application/octet-stream;base64\"}"),
					       &out),
			 KBS_ERR_PARSE);
	assert_int_equal(repo_akv_parse_bundle(S("[\"value\"]"), &out), KBS_ERR_PARSE);
	assert_null(out.p);
}

static void test_akv_token(void **state)
{
	char *tok = NULL;
	long long exp = 0;

	(void)state;
	assert_int_equal(repo_akv_parse_token(S("{\"token_type\":\"Bearer\",\"expires_in\":3599,"
						"\"ext_expires_in\":3599,\"access_token\":"
						"\"eyJ0eXAiOiJKV1Qi.eyJhdWQiOiJodHRwcyI.c2ln\"}"),
					      &tok, &exp),
			 KBS_OK);
	assert_string_equal(tok, "eyJ0eXAiOiJKV1Qi.eyJhdWQiOiJodHRwcyI.c2ln");
	assert_int_equal(exp, 3599);
	free(tok);
	/* older endpoints send expires_in as a string */
	assert_int_equal(repo_akv_parse_token(S("{\"expires_in\":\"600\",\"access_token\":\"t\"}"),
					      &tok, &exp),
			 KBS_OK);
	assert_int_equal(exp, 600);
	free(tok);
	/* a header-injecting token, an empty one, an embedded NUL, none at all */
	assert_int_equal(repo_akv_parse_token(S("{\"access_token\":\"a\\r\\nX-Evil: 1\"}"), &tok,
					      &exp),
			 KBS_ERR_PARSE);
	assert_int_equal(repo_akv_parse_token(S("{\"access_token\":\"\"}"), &tok, &exp),
			 KBS_ERR_PARSE);
	assert_int_equal(repo_akv_parse_token(S("{\"access_token\":\"a\\u0000b\"}"), &tok, &exp),
			 KBS_ERR_PARSE);
	assert_int_equal(repo_akv_parse_token(S("{\"error\":\"invalid_client\"}"), &tok, &exp),
			 KBS_ERR_PARSE);
	assert_null(tok);
	/* absurd lifetimes fall back to an hour */
	assert_int_equal(repo_akv_parse_token(S("{\"expires_in\":-5,\"access_token\":\"t\"}"),
					      &tok, &exp),
			 KBS_OK);
	assert_int_equal(exp, 3600);
	free(tok);
}

static void test_status_table(void **state)
{
	(void)state;
	assert_int_equal(repo_http_status_err(200), KBS_OK);
	assert_int_equal(repo_http_status_err(204), KBS_OK);
	assert_int_equal(repo_http_status_err(404), KBS_ERR_NOTFOUND);
	assert_int_equal(repo_http_status_err(401), KBS_ERR_PERM);
	assert_int_equal(repo_http_status_err(403), KBS_ERR_PERM);
	assert_int_equal(repo_http_status_err(429), KBS_ERR_UNAVAILABLE);
	assert_int_equal(repo_http_status_err(503), KBS_ERR_UNAVAILABLE);
	assert_int_equal(repo_http_status_err(0), KBS_ERR_UNAVAILABLE);
	assert_int_equal(repo_http_status_err(400), KBS_ERR_IO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vault_kv1_and_kv2),
		cmocka_unit_test(test_akv_bundle),
		cmocka_unit_test(test_akv_token),
		cmocka_unit_test(test_status_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
