// SPDX-License-Identifier: Apache-2.0
/*
 * Broker object without a KBS: configuration checks (URL, TEE key algorithm, sample only when
 * allowed, fixed TEE key), status JSON before any attestation, path validation before any
 * network use, external tokens, and the deadline/retry behaviour against a closed port.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/err.h"
#include "common/http_client.h"
#include "common/log.h"
#include "common/secmem.h"

static char *read_data(const char *rel)
{
	const char *dir = getenv("KBS_TEST_DATA");
	char path[1024];
	FILE *f;
	char *p;
	long n;

	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = calloc(1, (size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return p;
}

/* A loopback port with nothing listening (bound, then closed). */
static int closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t l = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(s >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &l), 0);
	close(s);
	return ntohs(a.sin_port);
}

static int setup(void **state)
{
	log_setup("test_broker", LOG_LVL_ERROR, LOG_TARGET_STDERR);
	return secmem_init(0, true) == KBS_OK ? 0 : -1;
}

static void config_checks(void **state)
{
	struct broker_config c = {.kbs_url = "http://127.0.0.1:1", .allow_sample = true};
	struct broker *b = NULL;

	assert_int_equal(broker_new(NULL, &b), KBS_ERR_INVAL);
	c.kbs_url = "127.0.0.1:8080";
	assert_int_equal(broker_new(&c, &b), KBS_ERR_INVAL);
	c.kbs_url = "";
	assert_int_equal(broker_new(&c, &b), KBS_ERR_INVAL);
	c.kbs_url = "http://127.0.0.1:1/";
	c.tee_key_algorithm = "RSA1_5";
	assert_int_equal(broker_new(&c, &b), KBS_ERR_UNSUPPORTED);
	c.tee_key_algorithm = "ECDH-ES+A256KW-P384";
	assert_int_equal(broker_new(&c, &b), KBS_ERR_UNSUPPORTED);
	c.tee_key_algorithm = NULL;
	/* sample evidence is a test stand-in: only when allowed */
	c.allow_sample = false;
	c.tee = "sample";
	assert_int_equal(broker_new(&c, &b), KBS_ERR_PERM);
	c.tee = "no-such-tee";
	c.allow_sample = true;
	assert_int_equal(broker_new(&c, &b), KBS_ERR_INVAL);
	assert_null(b);
	c.tee = "sample";
	for (int i = 0; i < 3; i++) {
		static const char *const algs[] = {"ECDH-ES+A256KW-P256", "ECDH-ES+A256KW-P521",
						   "RSA-OAEP-256"};
		c.tee_key_algorithm = algs[i];
		assert_int_equal(broker_new(&c, &b), KBS_OK);
		assert_string_equal(broker_tee(b), "sample");
		broker_free(b);
		b = NULL;
	}
	broker_free(NULL);
}

static void fixed_tee_key_rules(void **state)
{
	struct broker_config c = {.kbs_url = "http://127.0.0.1:1", .tee = "sample",
				  .allow_sample = true};
	struct broker *b = NULL;
	char *pem = read_data("broker/tee-key-p256.pem");
	char *pub = read_data("broker/tee-pub-p256.pem");
	json_t *st;

	/* a public key cannot decrypt anything */
	c.tee_key_pem = pub;
	assert_int_not_equal(broker_new(&c, &b), KBS_OK);
	c.tee_key_pem = "not a pem";
	assert_int_not_equal(broker_new(&c, &b), KBS_OK);
	c.tee_key_pem = pem;
	assert_int_equal(broker_new(&c, &b), KBS_OK);
	st = broker_status(b);
	assert_string_equal(json_string_value(json_object_get(st, "tee_key_algorithm")),
			    "ECDH-ES+A256KW");
	json_decref(st);
	/* an external token is cached like our own: status shows its expiry */
	{
		char *tok = read_data("broker/ear-token-sample-valid-until-2100.jwt");
		size_t n = strlen(tok);

		while (n && tok[n - 1] == '\n')
			n--;
		assert_int_equal(broker_set_token(b, tok, n), KBS_OK);
		st = broker_status(b);
		assert_int_equal(json_integer_value(json_object_get(st, "token_expiry")),
				 4102444800LL);
		assert_true(json_is_true(json_object_get(st, "attested")));
		assert_int_equal(json_integer_value(json_object_get(st, "attestations")), 0);
		json_decref(st);
		free(tok);
	}
	broker_free(b);
	b = NULL;
	/* without a fixed key a foreign token is useless and refused */
	c.tee_key_pem = NULL;
	assert_int_equal(broker_new(&c, &b), KBS_OK);
	assert_int_equal(broker_set_token(b, "a.b.c", 5), KBS_ERR_INVAL);
	broker_free(b);
	free(pem);
	free(pub);
}

static void status_before_attestation(void **state)
{
	struct broker_config c = {.kbs_url = "http://127.0.0.1:1", .tee = "sample",
				  .allow_sample = true};
	struct broker *b = NULL;
	json_t *st;
	char *s;

	assert_int_equal(broker_new(&c, &b), KBS_OK);
	st = broker_status(b);
	assert_non_null(st);
	assert_string_equal(json_string_value(json_object_get(st, "tee")), "sample");
	assert_true(json_is_false(json_object_get(st, "attested")));
	assert_true(json_is_null(json_object_get(st, "token_expiry")));
	assert_true(json_is_null(json_object_get(st, "last_error")));
	assert_int_equal(json_integer_value(json_object_get(st, "attestations")), 0);
	/* the Trustee not-found quirk is stated where operators look */
	s = json_dumps(json_object_get(st, "error_mapping"), 0);
	assert_non_null(strstr(s, "PluginInternalError"));
	assert_non_null(strstr(s, "ENOENT"));
	free(s);
	json_decref(st);
	assert_null(broker_status(NULL));
	broker_free(b);
}

static void bad_paths_fail_before_the_network(void **state)
{
	struct broker_config c = {.kbs_url = "http://127.0.0.1:1", .tee = "sample",
				  .allow_sample = true};
	struct broker *b = NULL;
	struct broker_error e;
	struct secbuf out = {NULL, 0};
	const char *bad[] = {"../etc/passwd", "a/b", "a/b/c/d", "a/./c", "", "a/b/c?x"};
	json_t *st;

	assert_int_equal(broker_new(&c, &b), KBS_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(broker_get_resource(b, bad[i], 0, &out, &e), KBS_ERR_INVAL);
		assert_null(out.p);
	}
	st = broker_status(b);
	assert_int_equal(json_integer_value(json_object_get(st, "attestations")), 0);
	json_decref(st);
	broker_free(b);
}

static void unreachable_kbs_retries_until_budget(void **state)
{
	char url[64];
	struct broker_config c = {.tee = "sample", .allow_sample = true, .max_retries = 2,
				  .backoff_initial_ms = 50, .backoff_max_ms = 100};
	struct broker *b = NULL;
	struct broker_error e;
	struct secbuf out = {NULL, 0};
	int64_t t0, took;
	json_t *st;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
	c.kbs_url = url;
	assert_int_equal(broker_new(&c, &b), KBS_OK);
	t0 = http_now_ms();
	assert_int_equal(broker_get_resource(b, "default/key/one", 0, &out, &e), KBS_ERR_NETWORK);
	took = http_now_ms() - t0;
	/* two backoff sleeps: [25,50] + [50,100] ms */
	assert_true(took >= 75);
	assert_true(took < 3000);
	assert_int_equal(e.http_status, 0);
	assert_non_null(strstr(e.detail, "/kbs/v0/auth"));
	st = broker_status(b);
	assert_string_equal(json_string_value(json_object_get(json_object_get(st, "last_error"),
							      "code")),
			    "KBS_ERR_NETWORK");
	json_decref(st);

	/* a deadline shorter than the backoff ends the call early with a timeout or network
	 * error, never later than the deadline plus one attempt */
	c.max_retries = 10;
	c.backoff_initial_ms = 2000;
	c.backoff_max_ms = 2000;
	broker_free(b);
	assert_int_equal(broker_new(&c, &b), KBS_OK);
	t0 = http_now_ms();
	{
		int rc = broker_get_resource(b, "default/key/one", t0 + 300, &out, &e);

		assert_true(rc == KBS_ERR_NETWORK || rc == KBS_ERR_TIMEOUT);
	}
	assert_true(http_now_ms() - t0 < 1500);
	broker_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_checks),
		cmocka_unit_test(fixed_tee_key_rules),
		cmocka_unit_test(status_before_attestation),
		cmocka_unit_test(bad_paths_fail_before_the_network),
		cmocka_unit_test(unreachable_kbs_retries_until_budget),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
