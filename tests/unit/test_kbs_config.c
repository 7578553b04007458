// SPDX-License-Identifier: Apache-2.0
/*
 * KBS configuration: every Trustee config shipped in tests/data/kbs/trustee/configs loads
 * (current and legacy layouts), the values Trustee's parse tests expect, defaults, type
 * errors naming key and line, unknown-key warnings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "server/kbs/kbs_config.h"

static void cfg_path(const char *name, char *out, size_t outlen)
{
	const char *dir = getenv("KBS_TEST_DATA");

	snprintf(out, outlen, "%s/kbs/trustee/configs/%s", dir ? dir : "tests/data", name);
}

static int load(const char *name, struct kbs_config *c, char *err, size_t errlen)
{
	char p[1024];

	cfg_path(name, p, sizeof(p));
	kbs_config_init(c);
	return kbs_config_load(p, c, err, errlen);
}

static int parse(const char *text, struct kbs_config *c, char *err, size_t errlen)
{
	kbs_config_init(c);
	return kbs_config_parse(text, strlen(text), "t.toml", c, err, errlen);
}

static void test_all_shipped_configs_load(void **state)
{
	const char *dir = getenv("KBS_TEST_DATA");
	char d[1024], err[600];
	struct dirent *e;
	DIR *dp;
	int n = 0;

	(void)state;
	snprintf(d, sizeof(d), "%s/kbs/trustee/configs", dir ? dir : "tests/data");
	dp = opendir(d);
	assert_non_null(dp);
	while ((e = readdir(dp)) != NULL) {
		struct kbs_config c;
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 5, ".toml") != 0)
			continue;
		int rc = load(e->d_name, &c, err, sizeof(err));
		if (rc != KBS_OK)
			fail_msg("%s: %s", e->d_name, err);
		kbs_config_release(&c);
		n++;
	}
	closedir(dp);
	assert_true(n >= 30);
}

static void test_e2e_values(void **state)
{
	struct kbs_config c;
	char err[600];

	(void)state;
	assert_int_equal(load("e2e-kbs.toml", &c, err, sizeof(err)), KBS_OK);
	assert_int_equal(c.nsockets, 1);
	assert_string_equal(c.sockets[0], "127.0.0.1:8080");
	assert_false(c.insecure_http);
	assert_string_equal(c.private_key, "./work/https.key");
	assert_string_equal(c.as.signer_key_path, "./work/token.key");
	assert_string_equal(c.as.signer_cert_path, "./work/token-cert-chain.pem");
	assert_int_equal(c.ntrusted_certs, 1);
	assert_int_equal(c.admin_mode, KBS_ADMIN_AUTHENTICATED);
	assert_int_equal(c.nidps, 1);
	assert_string_equal(c.idps[0].issuer, "issuer");
	assert_string_equal(c.idps[0].audience, "kbs");
	assert_string_equal(c.idps[0].public_key_uri, "./work/kbs.pem");
	assert_int_equal(c.nacls, 1);
	assert_string_equal(c.acls[0].regex, "^/kbs/.+$");
	assert_int_equal(c.storage_type, KBS_STORAGE_LOCALFS);
	assert_string_equal(c.storage_dir, "./work/storage");
	assert_null(c.repository_dir);
	/* tpm_verifier keys are ignored (documented no-ops) */
	kbs_config_release(&c);

	assert_int_equal(load("parse-coco-as-builtin-2.toml", &c, err, sizeof(err)), KBS_OK);
	assert_true(c.insecure_http);
	assert_int_equal(c.payload_request_size_mib, 2);
	assert_int_equal(c.session_timeout_min, 5);
	assert_int_equal(c.admin_mode, KBS_ADMIN_INSECURE_ALLOW_ALL);
	assert_int_equal(c.storage_type, KBS_STORAGE_MEMORY);
	kbs_config_release(&c);

	assert_int_equal(load("parse-coco-as-builtin-1.toml", &c, err, sizeof(err)), KBS_OK);
	assert_int_equal(c.storage_type, KBS_STORAGE_LOCALJSON);
	assert_int_equal(c.admin_mode, KBS_ADMIN_DENY_ALL);
	kbs_config_release(&c);

	assert_int_equal(load("kbs-config-grpc.toml", &c, err, sizeof(err)), KBS_OK);
	assert_int_equal(c.as_type, KBS_AS_GRPC);
	assert_true(c.insecure_header_jwk);
	kbs_config_release(&c);
}

static void test_legacy_layouts(void **state)
{
	struct kbs_config c;
	char err[600];

	(void)state;
	assert_int_equal(load("legacy-v0.10.0-kbs-config.toml", &c, err, sizeof(err)), KBS_OK);
	assert_true(c.insecure_http);
	assert_int_equal(c.admin_mode, KBS_ADMIN_INSECURE_ALLOW_ALL);
	assert_string_equal(c.repository_dir, "/opt/confidential-containers/kbs/repository");
	assert_string_equal(c.policy_path, "/opa/confidential-containers/kbs/policy.rego");
	assert_int_equal(c.as.token_type, AS_TOKEN_SIMPLE);
	kbs_config_release(&c);

	assert_int_equal(load("legacy-v0.13.0-kbs-config.toml", &c, err, sizeof(err)), KBS_OK);
	assert_true(c.insecure_header_jwk); /* insecure_key */
	assert_int_equal(c.admin_mode, KBS_ADMIN_INSECURE_ALLOW_ALL);
	assert_string_equal(c.repository_dir, "/opt/confidential-containers/kbs/repository");
	assert_int_equal(c.as.token_type, AS_TOKEN_EAR);
	kbs_config_release(&c);

	assert_int_equal(load("legacy-v0.17.0-kbs-config.toml", &c, err, sizeof(err)), KBS_OK);
	assert_int_equal(c.admin_mode, KBS_ADMIN_INSECURE_ALLOW_ALL);
	kbs_config_release(&c);

	assert_int_equal(parse("[admin]\ntype = \"Simple\"\n[[admin.personas]]\nid = \"a\"\n"
			       "public_key_path = \"/k.pem\"\n",
			       &c, err, sizeof(err)),
			 KBS_OK);
	assert_int_equal(c.admin_mode, KBS_ADMIN_LEGACY_KEYS);
	assert_int_equal(c.nlegacy_admin_keys, 1);
	kbs_config_release(&c);

	/* legacy resource plugin without dir_path: relative to the working directory */
	assert_int_equal(parse("[[plugins]]\nname = \"resource\"\ntype = \"LocalFs\"\n", &c, err,
			       sizeof(err)),
			 KBS_OK);
	assert_string_equal(c.repository_dir, ".");
	kbs_config_release(&c);
}

static void test_defaults_one_line(void **state)
{
	struct kbs_config c;
	char err[600];

	(void)state;
	assert_int_equal(parse("[http_server]\ninsecure_http = true\n", &c, err, sizeof(err)),
			 KBS_OK);
	assert_int_equal(c.nsockets, 0); /* main() listens on 127.0.0.1:8080 */
	assert_int_equal(c.admin_mode, KBS_ADMIN_DENY_ALL);
	assert_int_equal(c.storage_type, KBS_STORAGE_MEMORY);
	assert_int_equal(c.as.duration_min, 5);
	assert_true(c.as.verbose_token);
	assert_int_equal(c.payload_request_size_mib, 2);
	kbs_config_release(&c);
	assert_int_equal(parse("", &c, err, sizeof(err)), KBS_OK);
	kbs_config_release(&c);
}

static void expect_error(const char *text, const char *want)
{
	struct kbs_config c;
	char err[600];

	assert_int_not_equal(parse(text, &c, err, sizeof(err)), KBS_OK);
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
	kbs_config_release(&c);
}

static void test_type_errors_name_key_and_line(void **state)
{
	(void)state;
	expect_error("[http_server]\n\ninsecure_http = \"yes\"\n",
		     "t.toml:3: key 'http_server.insecure_http': expected boolean, got string");
	expect_error("[http_server]\nsockets = \"127.0.0.1:8080\"\n",
		     "t.toml:2: key 'http_server.sockets': expected array of strings");
	expect_error("[http_server]\nsockets = [1]\n", "key 'http_server.sockets'");
	expect_error("[http_server]\npayload_request_size = 0\n", "out of range");
	expect_error("http_server = 3\n", "t.toml:1: key 'http_server': expected table");
	expect_error("[attestation_token]\ntrusted_certs_paths = \"x\"\n",
		     "key 'attestation_token.trusted_certs_paths'");
	expect_error("[attestation_service]\ntimeout = \"5\"\n",
		     "key 'attestation_service.timeout': expected integer");
	expect_error("[attestation_service.attestation_token_broker]\nduration_min = \"5\"\n",
		     "attestation_service.attestation_token_broker.duration_min");
	expect_error("[admin]\nauthorization_mode = \"Sometimes\"\n", "admin.authorization_mode");
	expect_error("[admin]\nauthorization_mode = \"AuthenticatedAuthorization\"\n"
		     "[admin.authentication.bearer_jwt]\nidentity_providers = [{issuer = \"x\"}]\n",
		     "public_key_uri or jwk_set_uri");
	expect_error("[admin]\nauthorization_mode = \"AuthenticatedAuthorization\"\n"
		     "[admin.authentication.bearer_jwt]\nidentity_providers = [{public_key_uri = "
		     "\"k\"}]\n[admin.authorization.regex_acl]\nacls = [{role = \"a\", "
		     "allowed_endpoints = \"/kbs/.*\"}]\n",
		     "must be anchored");
	expect_error("[storage_backend]\nstorage_type = \"LocalFs\"\n",
		     "Local FS configuration is required");
	expect_error("[storage_backend]\nstorage_type = \"Floppy\"\n", "unknown storage type");
	expect_error("[http_server]\ninsecure_http = \n", "t.toml:2");
	expect_error("[http_server]\ntls_profile = \"ancient\"\n", "http_server.tls_profile");
	expect_error("[http_server]\ntls_min_version = \"1.3\"\ntls_max_version = \"1.2\"\n",
		     "greater than tls_max_version");
}

static void test_unknown_keys_warned(void **state)
{
	struct kbs_config c;
	char err[600];

	(void)state;
	log_set_level(LOG_LVL_ERROR);
	assert_int_equal(parse("colour = 1\n[http_server]\ninsecure_http = true\nspeed = 9\n"
			       "[[plugins]]\nname = \"nebula-ca\"\n",
			       &c, err, sizeof(err)),
			 KBS_OK);
	assert_int_equal(c.nwarnings, 3);
	kbs_config_release(&c);
	log_set_level(LOG_LVL_INFO);
}

/* [http_server] tls_* resolved into what the TLS context gets */
static void tls_of(const char *http_lines, struct kbs_tls_settings *t, int want_rc, char *err)
{
	struct kbs_config c;
	char text[1024];

	snprintf(text, sizeof(text), "[http_server]\n%s\n", http_lines);
	assert_int_equal(parse(text, &c, err, 600), KBS_OK);
	err[0] = '\0';
	assert_int_equal(kbs_config_tls(&c, t, err, 600), want_rc);
	kbs_config_release(&c);
}

static void test_tls_settings(void **state)
{
	struct kbs_tls_settings t;
	char err[600];

	(void)state;
	/* default = Mozilla intermediate: TLS 1.2 and 1.3, AEAD-only TLS 1.2 list */
	tls_of("", &t, KBS_OK, err);
	assert_int_equal(t.min_version, 12);
	assert_int_equal(t.max_version, 13);
	assert_non_null(strstr(t.cipher_list, "ECDHE-ECDSA-AES128-GCM-SHA256"));
	assert_null(strstr(t.cipher_list, "SHA:"));
	assert_string_equal(t.groups, "X25519:secp256r1:secp384r1");
	/* old: more TLS 1.2 ciphers (CBC), never below TLS 1.2 */
	tls_of("tls_profile = \"old\"", &t, KBS_OK, err);
	assert_int_equal(t.min_version, 12);
	assert_non_null(strstr(t.cipher_list, "ECDHE-RSA-AES128-SHA:"));
	/* modern: TLS 1.3 only */
	tls_of("tls_profile = \"modern\"", &t, KBS_OK, err);
	assert_int_equal(t.min_version, 13);
	assert_int_equal(t.max_version, 13);
	/* custom: TLS 1.2+ with the server's own defaults */
	tls_of("tls_profile = \"custom\"", &t, KBS_OK, err);
	assert_int_equal(t.min_version, 12);
	assert_null(t.cipher_list);
	assert_null(t.ciphersuites);
	/* explicit versions on top of the profile */
	tls_of("tls_max_version = \"1.2\"", &t, KBS_OK, err);
	assert_int_equal(t.max_version, 12);
	tls_of("tls_min_version = \"1.3\"", &t, KBS_OK, err);
	assert_int_equal(t.min_version, 13);
	tls_of("tls_profile = \"modern\"\ntls_max_version = \"1.2\"", &t, KBS_ERR_INVAL, err);
	assert_non_null(strstr(err, "http_server.tls_max_version"));
	/* tls_ciphers splits into the TLS 1.2 list and the TLS 1.3 suites */
	tls_of("tls_ciphers = \"ECDHE-ECDSA-AES256-GCM-SHA384:TLS_AES_256_GCM_SHA384, "
	       "ECDHE-RSA-AES256-GCM-SHA384\"",
	       &t, KBS_OK, err);
	assert_string_equal(t.cipher_list, "ECDHE-ECDSA-AES256-GCM-SHA384:"
					   "ECDHE-RSA-AES256-GCM-SHA384");
	assert_string_equal(t.ciphersuites, "TLS_AES_256_GCM_SHA384");
	/* only TLS 1.3 names: the TLS 1.2 list stays the profile's */
	tls_of("tls_ciphers = \"TLS_CHACHA20_POLY1305_SHA256\"", &t, KBS_OK, err);
	assert_string_equal(t.ciphersuites, "TLS_CHACHA20_POLY1305_SHA256");
	assert_non_null(strstr(t.cipher_list, "ECDHE-ECDSA-AES128-GCM-SHA256"));
	/* a list only for a disabled version is refused, naming the key */
	tls_of("tls_profile = \"modern\"\ntls_ciphers = \"ECDHE-ECDSA-AES256-GCM-SHA384\"", &t,
	       KBS_ERR_INVAL, err);
	assert_non_null(strstr(err, "http_server.tls_ciphers"));
	tls_of("tls_max_version = \"1.2\"\ntls_ciphers = \"TLS_AES_256_GCM_SHA384\"", &t,
	       KBS_ERR_INVAL, err);
	assert_non_null(strstr(err, "http_server.tls_ciphers"));
	tls_of("tls_groups = \"secp384r1\"", &t, KBS_OK, err);
	assert_string_equal(t.groups, "secp384r1");
	/* parse-time checks stay */
	expect_error("[http_server]\ntls_profile = \"paranoid\"\n", "http_server.tls_profile");
	expect_error("[http_server]\ntls_min_version = \"1.1\"\n",
		     "http_server.tls_min_version");
}

static void test_session_timeout_seconds_extension(void **state)
{
	struct kbs_config c;
	char err[600];

	(void)state;
	assert_int_equal(parse("[attestation_service]\ntimeout = 7\nkbsfs_timeout_seconds = 2\n",
			       &c, err, sizeof(err)),
			 KBS_OK);
	assert_int_equal(c.session_timeout_min, 7);
	assert_int_equal(c.session_lifetime_s, 2);
	assert_int_equal(c.nwarnings, 0); /* a known key, not warned about */
	kbs_config_release(&c);
	assert_int_equal(parse("[attestation_service]\ntimeout = 7\n", &c, err, sizeof(err)),
			 KBS_OK);
	assert_int_equal(c.session_lifetime_s, 0);
	kbs_config_release(&c);
	expect_error("[attestation_service]\nkbsfs_timeout_seconds = \"2\"\n",
		     "attestation_service.kbsfs_timeout_seconds");
	expect_error("[attestation_service]\nkbsfs_timeout_seconds = 0\n",
		     "attestation_service.kbsfs_timeout_seconds");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_shipped_configs_load),
		cmocka_unit_test(test_e2e_values),
		cmocka_unit_test(test_legacy_layouts),
		cmocka_unit_test(test_defaults_one_line),
		cmocka_unit_test(test_type_errors_name_key_and_line),
		cmocka_unit_test(test_unknown_keys_warned),
		cmocka_unit_test(test_tls_settings),
		cmocka_unit_test(test_session_timeout_seconds_extension),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
