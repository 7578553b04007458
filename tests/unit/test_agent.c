// SPDX-License-Identifier: Apache-2.0
/*
 * attestation-agent helpers (attester/agent.c): the loopback rule used for the bind address
 * and for every request's peer (IPv4-mapped addresses are not loopback, as upstream), the
 * form-urlencoded query reader (last key wins, '+' and %XX), the feature levels and the
 * kernel command-line knob, and aa.toml parsing of the upstream examples.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "attester/agent.h"
#include "common/err.h"
#include "common/secmem.h"

static void loopback_rule(void **state)
{
	assert_true(aa_addr_is_loopback("127.0.0.1:8006"));
	assert_true(aa_addr_is_loopback("127.1.2.3:1"));
	assert_true(aa_addr_is_loopback("127.0.0.1"));
	assert_true(aa_addr_is_loopback("[::1]:8006"));
	assert_true(aa_addr_is_loopback("::1"));
	assert_false(aa_addr_is_loopback("[::ffff:127.0.0.1]:8006"));
	assert_false(aa_addr_is_loopback("::ffff:127.0.0.1"));
	assert_false(aa_addr_is_loopback("0.0.0.0:8006"));
	assert_false(aa_addr_is_loopback("10.0.0.1:8006"));
	assert_false(aa_addr_is_loopback("[::]:8006"));
	assert_false(aa_addr_is_loopback("128.0.0.1:80"));
	assert_false(aa_addr_is_loopback("127.0.0.256:80"));
	assert_false(aa_addr_is_loopback("127.0.0.1.evil:80"));
	assert_false(aa_addr_is_loopback("localhost:8006"));
	assert_false(aa_addr_is_loopback(""));
	assert_false(aa_addr_is_loopback(NULL));
}

static void query_reader(void **state)
{
	char *v = NULL;
	size_t n = 0;

	assert_int_equal(aa_query_get("runtime_data=xxxx", "runtime_data", &v, &n), KBS_OK);
	assert_string_equal(v, "xxxx");
	free(v);
	assert_int_equal(aa_query_get("a=1&runtime_data=a+b%21%zz&a=2", "a", &v, &n), KBS_OK);
	assert_string_equal(v, "2");
	free(v);
	assert_int_equal(aa_query_get("a=1&runtime_data=a+b%21%zz&a=2", "runtime_data", &v, &n),
			 KBS_OK);
	assert_string_equal(v, "a b!%zz");
	assert_int_equal(n, 7);
	free(v);
	assert_int_equal(aa_query_get("x=%00y", "x", &v, &n), KBS_OK);
	assert_int_equal(n, 2);
	assert_int_equal(v[0], 0);
	free(v);
	assert_int_equal(aa_query_get("flag&b=", "flag", &v, &n), KBS_OK);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(aa_query_get("b=", "b", &v, &n), KBS_OK);
	assert_string_equal(v, "");
	free(v);
	assert_int_equal(aa_query_get("runtime_datax=1", "runtime_data", &v, &n), KBS_ERR_NOTFOUND);
	assert_int_equal(aa_query_get(NULL, "k", &v, &n), KBS_ERR_NOTFOUND);
	assert_int_equal(aa_query_get("%72untime_data=q", "runtime_data", &v, &n), KBS_OK);
	assert_string_equal(v, "q");
	free(v);
}

static void features_and_cmdline(void **state)
{
	char path[] = "/tmp/kbsfs-cmdline-XXXXXX";
	int fd = mkstemp(path), f = 0;
	FILE *fp;

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(aa_feature_parse("resource", &f), KBS_OK);
	assert_int_equal(f, AA_FEATURE_RESOURCE);
	assert_int_equal(aa_feature_parse("all", &f), KBS_OK);
	assert_int_equal(f, AA_FEATURE_ALL);
	assert_int_equal(aa_feature_parse("none", &f), KBS_ERR_INVAL);
	assert_int_equal(aa_feature_parse("Attestation", &f), KBS_ERR_INVAL);
	fp = fopen(path, "w");
	fputs("BOOT_IMAGE=/vmlinuz agent.guest_components_rest_api=all quiet "
	      "agent.guest_components_rest_api=attestation\n",
	      fp);
	fclose(fp);
	assert_int_equal(aa_cmdline_feature(path, &f), KBS_OK);
	assert_int_equal(f, AA_FEATURE_ATTESTATION); /* last one wins */
	fp = fopen(path, "w");
	fputs("quiet agent.guest_components_rest_api_x=all\n", fp);
	fclose(fp);
	assert_int_equal(aa_cmdline_feature(path, &f), KBS_ERR_NOTFOUND);
	fp = fopen(path, "w");
	fputs("agent.guest_components_rest_api=none", fp);
	fclose(fp);
	assert_int_equal(aa_cmdline_feature(path, &f), KBS_ERR_INVAL);
	unlink(path);
	assert_int_equal(aa_cmdline_feature(path, &f), KBS_ERR_IO);
}

static void upstream_configs(void **state)
{
	char path[1024], why[256];
	struct aa_config c;

	snprintf(path, sizeof(path), "%s/attester/config/aa-config.example.toml",
		 getenv("KBS_TEST_DATA"));
	aa_config_init(&c);
	assert_int_equal(aa_config_load(path, &c, why, sizeof(why)), KBS_OK);
	assert_string_equal(c.kbs_url, "https://127.0.0.1:8080");
	assert_string_equal(c.tee_key_algorithm, "ECDH-ES+A256KW-P256");
	assert_non_null(strstr(c.kbs_cert, "BEGIN CERTIFICATE"));
	assert_int_equal(c.init_pcr, 17);
	assert_false(c.enable_eventlog);
	assert_string_equal(c.log_level, "info");
	aa_config_release(&c);

	snprintf(path, sizeof(path), "%s/attester/config/aa-config.example.json",
		 getenv("KBS_TEST_DATA"));
	assert_int_equal(aa_config_load(path, &c, why, sizeof(why)), KBS_OK);
	assert_string_equal(c.kbs_url, "https://127.0.0.1:8080");
	assert_int_equal(c.init_pcr, 17);
	aa_config_release(&c);

	snprintf(path, sizeof(path), "%s/attester/config/aa-config1.toml", getenv("KBS_TEST_DATA"));
	assert_int_equal(aa_config_load(path, &c, why, sizeof(why)), KBS_OK);
	assert_string_equal(c.kbs_cert, "cert");
	assert_null(c.tee_key_algorithm); /* default P-256 applies */
	assert_string_equal(c.log_level, "warn");
	aa_config_release(&c);

	snprintf(path, sizeof(path), "%s/attester/config/aa-config2.toml", getenv("KBS_TEST_DATA"));
	assert_int_equal(aa_config_load(path, &c, why, sizeof(why)), KBS_OK);
	assert_null(c.coco_as_url);
	aa_config_release(&c);

	snprintf(path, sizeof(path), "%s/attester/config/aa-config4.toml", getenv("KBS_TEST_DATA"));
	assert_int_equal(aa_config_load(path, &c, why, sizeof(why)), KBS_OK);
	assert_null(c.kbs_url);
	assert_int_equal(c.init_pcr, 17);
	aa_config_release(&c);

	snprintf(path, sizeof(path), "%s/attester/config/aa-config5.toml", getenv("KBS_TEST_DATA"));
	assert_int_equal(aa_config_load(path, &c, why, sizeof(why)), KBS_OK);
	assert_null(c.log_level);
	aa_config_release(&c);
}

static void token_body_built_in_secmem_as_jansson_writes_it(void **state)
{
	static const char *const toks[] = {"eyJhbGciOiJFUzI1NiJ9.eyJleHAiOjF9.c2ln",
					   "odd \"quote\" \\ back\x01\x1f\t\r\b\f/+", ""};
	const char *pem = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0w"
			  "+/=\n-----END PRIVATE KEY-----\n";

	(void)state;
	assert_int_equal(secmem_init(0, true), KBS_OK);
	for (size_t i = 0; i < sizeof(toks) / sizeof(toks[0]); i++) {
		struct secbuf out = {0};
		json_t *j = json_pack("{s:s,s:s}", "token", toks[i], "tee_keypair", pem);
		char *want = json_dumps(j, JSON_COMPACT);

		assert_int_equal(aa_token_json((const uint8_t *)toks[i], strlen(toks[i]), pem, &out),
				 KBS_OK);
		assert_true(secmem_contains(out.p));
		assert_int_equal(out.len, strlen(want));
		assert_memory_equal(out.p, want, out.len);
		secbuf_free(&out);
		free(want);
		json_decref(j);
	}
	assert_int_equal(aa_token_json(NULL, 0, pem, NULL), KBS_ERR_INVAL);
}

static void secret_reply_asks_the_server_to_wipe(void **state)
{
	struct http_response resp;
	static const uint8_t secret[] = "s3cr3t bytes";

	(void)state;
	http_response_init(&resp);
	assert_int_equal(aa_reply_secret(&resp, "application/octet-stream", secret,
					 sizeof(secret) - 1),
			 KBS_OK);
	assert_true(resp.wipe_body);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.body.len, sizeof(secret) - 1);
	assert_memory_equal(resp.body.p, secret, sizeof(secret) - 1);
	assert_int_equal(resp.nheaders, 1);
	assert_string_equal(resp.headers[0].name, "Content-Type");
	assert_string_equal(resp.headers[0].value, "application/octet-stream");
	http_response_release(&resp);
	http_response_init(&resp);
	assert_int_equal(aa_reply_secret(&resp, NULL, NULL, 1), KBS_ERR_INVAL);
	http_response_release(&resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(loopback_rule),
		cmocka_unit_test(query_reader),
		cmocka_unit_test(features_and_cmdline),
		cmocka_unit_test(upstream_configs),
		cmocka_unit_test(token_body_built_in_secmem_as_jansson_writes_it),
		cmocka_unit_test(secret_reply_asks_the_server_to_wipe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
