// SPDX-License-Identifier: Apache-2.0
/* Postgres storage: Trustee's config keys and the behaviour when the database is unreachable.
 * (The behaviour against a real database is in tests/integration/test_kbs_postgres.py.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "server/kbs/kbs_config.h"
#include "server/kbs/pgstore.h"

static int parse(const char *text, struct kbs_config *c, char *err, size_t errlen)
{
	kbs_config_init(c);
	return kbs_config_parse(text, strlen(text), "t.toml", c, err, errlen);
}

static void test_trustee_postgres_keys(void **state)
{
	struct kbs_config c;
	char err[600];

	(void)state;
	assert_int_equal(parse("[storage_backend]\nstorage_type = \"Postgres\"\n"
			       "[storage_backend.backends.postgres]\nhost = \"db\"\nport = 6543\n"
			       "db = \"kbs\"\nusername = \"u\"\npassword = \"p\"\npool_size = 9\n",
			       &c, err, sizeof(err)),
			 KBS_OK);
	assert_int_equal(c.storage_type, KBS_STORAGE_POSTGRES);
	assert_string_equal(c.pg_host, "db");
	assert_int_equal(c.pg_port, 6543);
	assert_string_equal(c.pg_db, "kbs");
	assert_string_equal(c.pg_username, "u");
	assert_string_equal(c.pg_password, "p");
	assert_int_equal(c.pg_pool_size, 9);
	assert_false(c.session_storage_set);
	assert_int_equal(c.nwarnings, 0);
	kbs_config_release(&c);

	/* lower-case alias, defaults; top-level session_storage_type is recorded */
	assert_int_equal(parse("session_storage_type = \"Memory\"\n[storage_backend]\n"
			       "storage_type = \"postgres\"\n",
			       &c, err, sizeof(err)),
			 KBS_OK);
	assert_int_equal(c.storage_type, KBS_STORAGE_POSTGRES);
	assert_null(c.pg_host);
	assert_int_equal(c.pg_port, 5432);
	assert_int_equal(c.pg_pool_size, 4);
	assert_true(c.session_storage_set);
	assert_int_equal(c.session_storage_type, KBS_STORAGE_MEMORY);
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

static void test_postgres_key_errors(void **state)
{
	(void)state;
	expect_error("[storage_backend.backends.postgres]\nport = \"5432\"\n",
		     "storage_backend.backends.postgres.port': expected integer");
	expect_error("[storage_backend.backends.postgres]\nport = 70000\n", "out of range");
	expect_error("[storage_backend.backends.postgres]\npool_size = 0\n", "out of range");
	expect_error("[storage_backend.backends.postgres]\nhost = 1\n",
		     "storage_backend.backends.postgres.host");
}

/* A port with a bound socket that does not listen: connections are refused at once. */
static int refused_port(int *fd)
{
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(*fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(*fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

static void test_unreachable_database_is_unavailable_without_password(void **state)
{
	struct pgstore *s = (struct pgstore *)1;
	struct pgstore_params p = {0};
	char err[600] = "";
	int fd, rc;

	(void)state;
	p.host = "127.0.0.1";
	p.port = refused_port(&fd);
	p.password = "hunter2-secret";
	p.connect_timeout_s = 2;
	rc = pgstore_new(&p, &s, err, sizeof(err));
	close(fd);
	assert_int_equal(rc, KBS_ERR_UNAVAILABLE);
	assert_null(s);
	assert_non_null(strstr(err, "postgres 127.0.0.1:"));
	assert_null(strstr(err, "hunter2"));
	pgstore_free(NULL);
}

static void test_namespace_tables_are_trustees(void **state)
{
	(void)state;
	assert_string_equal(pgstore_ns_name(PGSTORE_NS_KBS), "kbs");
	assert_string_equal(pgstore_ns_name(PGSTORE_NS_REPOSITORY), "repository");
	assert_string_equal(pgstore_ns_name(PGSTORE_NS_SESSION), "kbs_protocol_session");
	assert_string_equal(pgstore_ns_name(PGSTORE_NS_AS_POLICY), "attestation_service_policy");
	assert_string_equal(pgstore_ns_name(PGSTORE_NS_REFVAL), "reference_value");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trustee_postgres_keys),
		cmocka_unit_test(test_postgres_key_errors),
		cmocka_unit_test(test_unreachable_database_is_unavailable_without_password),
		cmocka_unit_test(test_namespace_tables_are_trustees),
	};
	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
