// SPDX-License-Identifier: Apache-2.0
/*
 * libpq is loaded with dlopen() by pgstore_new() (common/dynlib.h), not linked: a kbs that
 * does not use PostgreSQL does not map libpq, GnuTLS, Kerberos, LDAP and p11-kit (~3 MB).
 */
#include "server/kbs/pgstore.h"

#include <errno.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/dynlib.h"
#include "common/err.h"
#include "common/log.h"

#define PG_ACQUIRE_WAIT_S 5
#define PG_MAX_VALUE (16u << 20)

static const char *const ns_names[PGSTORE_NS__COUNT] = {
    "kbs", "repository", "kbs_protocol_session", "attestation_service_policy", "reference_value",
};

/* The libpq functions the store calls, each with the type of the real one. */
struct pq_api {
	void *lib[1];
	DYNLIB_FN(PQclear);
	DYNLIB_FN(PQcmdTuples);
	DYNLIB_FN(PQconnectdbParams);
	DYNLIB_FN(PQerrorMessage);
	DYNLIB_FN(PQexec);
	DYNLIB_FN(PQexecPrepared);
	DYNLIB_FN(PQfinish);
	DYNLIB_FN(PQgetisnull);
	DYNLIB_FN(PQgetlength);
	DYNLIB_FN(PQgetvalue);
	DYNLIB_FN(PQntuples);
	DYNLIB_FN(PQprepare);
	DYNLIB_FN(PQresultErrorField);
	DYNLIB_FN(PQresultStatus);
	DYNLIB_FN(PQstatus);
};

static const char *const pq_libs[1] = {KBS_PQ_SONAME};

#define SYM(n) DYNLIB_SYM(struct pq_api, 0, n)
static const struct dynlib_sym pq_syms[] = {
	SYM(PQclear),
	SYM(PQcmdTuples),
	SYM(PQconnectdbParams),
	SYM(PQerrorMessage),
	SYM(PQexec),
	SYM(PQexecPrepared),
	SYM(PQfinish),
	SYM(PQgetisnull),
	SYM(PQgetlength),
	SYM(PQgetvalue),
	SYM(PQntuples),
	SYM(PQprepare),
	SYM(PQresultErrorField),
	SYM(PQresultStatus),
	SYM(PQstatus),
};
#undef SYM

/* Statement kinds, prepared per namespace as "<kind><ns>" (e.g. "g1"). */
enum { ST_GET = 0, ST_SET, ST_SETNX, ST_DEL, ST_CAS, ST_COUNT, ST__COUNT };
static const char st_letter[ST__COUNT] = {'g', 's', 'n', 'd', 'c', 'k'};
static const char *const st_sql[ST__COUNT] = {
    "SELECT value FROM @T WHERE key = $1",
    ("INSERT INTO @T (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = "
     "EXCLUDED.value"),
    "INSERT INTO @T (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
    "DELETE FROM @T WHERE key = $1",
    "UPDATE @T SET value = $3 WHERE key = $1 AND value = $2",
    "SELECT count(*) FROM @T",
};
static const int st_nparams[ST__COUNT] = {1, 2, 2, 1, 3, 0};

/* Sessions are JSON objects; Trustee's (or foreign) values without "expires" are kept. */
#define SQL_SWEEP                                                                                  \
	"DELETE FROM kbs_protocol_session WHERE substr(value, 1, 1) = '\\x7b'::bytea AND "         \
	"(convert_from(value, 'UTF8')::jsonb->>'expires') ~ '^[0-9]+$' AND "                       \
	"(convert_from(value, 'UTF8')::jsonb->>'expires')::bigint < $1"

struct pgstore {
	struct pq_api pq; /* libpq, loaded by pgstore_new() */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	PGconn **conns; /* NULL = not connected yet (or dropped after a failure) */
	bool *busy;
	int n;
	/* connection parameters (libpq keyword/value arrays, NULL-terminated) */
	const char *kw[12];
	char *val[12];
	int expand;
	char target[300]; /* host:port/db for messages, no password */
};

const char *pgstore_ns_name(enum pgstore_ns ns)
{
	return (unsigned)ns < PGSTORE_NS__COUNT ? ns_names[ns] : "?";
}

static void add_param(struct pgstore *s, int *i, const char *k, const char *v, int *rc)
{
	if (!v || *rc != KBS_OK)
		return;
	s->kw[*i] = k;
	if (!(s->val[*i] = strdup(v)))
		*rc = KBS_ERR_NOMEM;
	(*i)++;
}

/* Copies template with "@T" replaced by the table name (table names are our constants). */
static void build_sql(char *out, size_t outlen, const char *tpl, const char *table)
{
	const char *at = strstr(tpl, "@T");

	if (!at) {
		snprintf(out, outlen, "%s", tpl);
		return;
	}
	snprintf(out, outlen, "%.*s%s%s", (int)(at - tpl), tpl, table, at + 2);
}

/* Prepares every statement on a fresh connection. */
static int prepare_all(struct pgstore *s, PGconn *c)
{
	char name[16], sql[256];
	PGresult *r;
	int ok;

	for (int ns = 0; ns < PGSTORE_NS__COUNT; ns++) {
		for (int st = 0; st < ST__COUNT; st++) {
			snprintf(name, sizeof(name), "%c%d", st_letter[st], ns);
			build_sql(sql, sizeof(sql), st_sql[st], ns_names[ns]);
			r = s->pq.PQprepare(c, name, sql, st_nparams[st], NULL);
			ok = s->pq.PQresultStatus(r) == PGRES_COMMAND_OK;
			if (!ok)
				log_warn("pgstore: prepare %s: %s", name, s->pq.PQerrorMessage(c));
			s->pq.PQclear(r);
			if (!ok)
				return KBS_ERR_UNAVAILABLE;
		}
	}
	r = s->pq.PQprepare(c, "sweep", SQL_SWEEP, 1, NULL);
	ok = s->pq.PQresultStatus(r) == PGRES_COMMAND_OK;
	s->pq.PQclear(r);
	return ok ? KBS_OK : KBS_ERR_UNAVAILABLE;
}

static PGconn *connect_one(struct pgstore *s, bool quiet)
{
	PGconn *c = s->pq.PQconnectdbParams(s->kw, (const char *const *)s->val, s->expand);

	if (!c)
		return NULL;
	if (s->pq.PQstatus(c) != CONNECTION_OK) {
		if (!quiet)
			log_warn("pgstore: cannot connect to %s: %s", s->target, s->pq.PQerrorMessage(c));
		s->pq.PQfinish(c);
		return NULL;
	}
	if (prepare_all(s, c) != KBS_OK) {
		s->pq.PQfinish(c);
		return NULL;
	}
	return c;
}

static int create_tables(struct pgstore *s, PGconn *c, char *err, size_t errlen)
{
	char sql[200];

	for (int ns = 0; ns < PGSTORE_NS__COUNT; ns++) {
		PGresult *r;
		snprintf(sql, sizeof(sql),
			 "CREATE TABLE IF NOT EXISTS %s (value BYTEA, key TEXT PRIMARY KEY)",
			 ns_names[ns]);
		r = s->pq.PQexec(c, sql);
		if (s->pq.PQresultStatus(r) != PGRES_COMMAND_OK) {
			const char *code = s->pq.PQresultErrorField(r, PG_DIAG_SQLSTATE);
			/* two replicas creating the same table at once: the loser sees a
			 * unique violation on the catalog; the table exists, which is enough */
			if (!code || (strcmp(code, "23505") != 0 && strcmp(code, "42P07") != 0)) {
				snprintf(err, errlen, "postgres: create table %s: %s", ns_names[ns],
					 s->pq.PQerrorMessage(c));
				s->pq.PQclear(r);
				return KBS_ERR_IO;
			}
		}
		s->pq.PQclear(r);
	}
	return KBS_OK;
}

/* --check-config: names the tables a real start would create; reads the catalog only. */
static int report_missing_tables(struct pgstore *s, PGconn *c, char *err, size_t errlen)
{
	char sql[200];

	for (int ns = 0; ns < PGSTORE_NS__COUNT; ns++) {
		PGresult *r;
		snprintf(sql, sizeof(sql), "SELECT to_regclass('%s') IS NULL", ns_names[ns]);
		r = s->pq.PQexec(c, sql);
		if (s->pq.PQresultStatus(r) != PGRES_TUPLES_OK || s->pq.PQntuples(r) != 1) {
			snprintf(err, errlen, "postgres: cannot look up table %s: %s", ns_names[ns],
				 s->pq.PQerrorMessage(c));
			s->pq.PQclear(r);
			return KBS_ERR_IO;
		}
		if (strcmp(s->pq.PQgetvalue(r, 0, 0), "t") == 0)
			log_info("pgstore: would create table %s in %s (configuration check: "
				 "nothing created)",
				 ns_names[ns], s->target);
		s->pq.PQclear(r);
	}
	return KBS_OK;
}

int pgstore_new(const struct pgstore_params *p, struct pgstore **out, char *err, size_t errlen)
{
	struct pgstore *s = calloc(1, sizeof(*s));
	char port[16], ctimeout[16];
	PGconn *c = NULL;
	int i = 0, rc = KBS_OK;

	*out = NULL;
	if (!s)
		return KBS_ERR_NOMEM;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	rc = dynlib_load("PostgreSQL storage", "Debian: libpq5", pq_libs, 1, pq_syms,
			 sizeof(pq_syms) / sizeof(pq_syms[0]), s->pq.lib, &s->pq, err, errlen);
	if (rc != KBS_OK)
		goto out;
	s->n = p->pool_size > 0 ? p->pool_size : 4;
	s->conns = calloc((size_t)s->n, sizeof(*s->conns));
	s->busy = calloc((size_t)s->n, sizeof(*s->busy));
	if (!s->conns || !s->busy) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	snprintf(port, sizeof(port), "%d", p->port > 0 ? p->port : 5432);
	snprintf(ctimeout, sizeof(ctimeout), "%d",
		 p->connect_timeout_s > 0 ? p->connect_timeout_s : 3);
	if (p->url) {
		/* dbname holding a URL is expanded; later keywords still apply */
		add_param(s, &i, "dbname", p->url, &rc);
		s->expand = 1;
		snprintf(s->target, sizeof(s->target), "POSTGRES_URL");
	} else {
		add_param(s, &i, "host", p->host, &rc);
		add_param(s, &i, "port", port, &rc);
		add_param(s, &i, "dbname", p->db ? p->db : "postgres", &rc);
		add_param(s, &i, "user", p->username ? p->username : "postgres", &rc);
		add_param(s, &i, "password", p->password, &rc);
		snprintf(s->target, sizeof(s->target), "%s:%s/%s", p->host ? p->host : "default",
			 port, p->db ? p->db : "postgres");
	}
	add_param(s, &i, "connect_timeout", ctimeout, &rc);
	add_param(s, &i, "application_name", "kbsfs-kbs", &rc);
	/* a hung database must not hold a worker forever */
	add_param(s, &i, "options", "-c statement_timeout=10000", &rc);
	if (rc != KBS_OK)
		goto out;
	c = s->pq.PQconnectdbParams(s->kw, (const char *const *)s->val, s->expand);
	if (!c || s->pq.PQstatus(c) != CONNECTION_OK) {
		snprintf(err, errlen, "postgres %s: %s", s->target,
			 c ? s->pq.PQerrorMessage(c) : "out of memory");
		rc = KBS_ERR_UNAVAILABLE;
		goto out;
	}
	if (p->check_only) {
		rc = report_missing_tables(s, c, err, errlen);
		goto out;
	}
	if ((rc = create_tables(s, c, err, errlen)) != KBS_OK)
		goto out;
	if (prepare_all(s, c) != KBS_OK) {
		snprintf(err, errlen, "postgres %s: cannot prepare statements: %s", s->target,
			 s->pq.PQerrorMessage(c));
		rc = KBS_ERR_IO;
		goto out;
	}
	s->conns[0] = c;
	c = NULL;
	log_info("pgstore: connected to %s (pool of %d)", s->target, s->n);
	*out = s;
	s = NULL;
out:
	if (c)
		s->pq.PQfinish(c);
	pgstore_free(s);
	return rc;
}

void pgstore_free(struct pgstore *s)
{
	if (!s)
		return;
	for (int i = 0; s->conns && i < s->n; i++)
		if (s->conns[i])
			s->pq.PQfinish(s->conns[i]);
	for (size_t i = 0; i < sizeof(s->val) / sizeof(s->val[0]); i++) {
		if (s->val[i] && s->kw[i] && strcmp(s->kw[i], "password") == 0)
			OPENSSL_cleanse(s->val[i], strlen(s->val[i]));
		free(s->val[i]);
	}
	free(s->conns);
	free(s->busy);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	dynlib_unload(s->pq.lib, 1);
	free(s);
}

static int acquire(struct pgstore *s, int *slot)
{
	struct timespec dl;
	int rc = KBS_OK;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += PG_ACQUIRE_WAIT_S;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		int free_i = -1;
		for (int i = 0; i < s->n; i++) {
			if (!s->busy[i] && (free_i < 0 || s->conns[i]))
				free_i = i; /* prefer an open connection */
			if (!s->busy[i] && s->conns[i])
				break;
		}
		if (free_i >= 0) {
			s->busy[free_i] = true;
			*slot = free_i;
			break;
		}
		if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT) {
			rc = KBS_ERR_UNAVAILABLE;
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static void release(struct pgstore *s, int slot)
{
	pthread_mutex_lock(&s->mu);
	s->busy[slot] = false;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Class 08 (connection exception) and 57P (operator intervention, e.g. shutdown). */
static bool conn_error(const struct pgstore *s, PGconn *c, const PGresult *r)
{
	const char *code = r ? s->pq.PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	if (s->pq.PQstatus(c) != CONNECTION_OK)
		return true;
	return code && (strncmp(code, "08", 2) == 0 || strncmp(code, "57P", 3) == 0);
}

/*
 * Runs a prepared statement with binary parameters and results. On a connection failure the
 * connection is replaced and the statement retried once. *res on KBS_OK only.
 */
static int exec(struct pgstore *s, const char *stmt, int n, const char *const *vals,
		const int *lens, PGresult **res)
{
	static const int fmts[3] = {0, 1, 1}; /* key text, values bytea binary */
	int slot, rc;
	PGresult *r = NULL;

	*res = NULL;
	if ((rc = acquire(s, &slot)) != KBS_OK) {
		log_warn("pgstore: no free connection to %s within %ds", s->target,
			 PG_ACQUIRE_WAIT_S);
		return rc;
	}
	rc = KBS_ERR_UNAVAILABLE;
	for (int attempt = 0; attempt < 2; attempt++) {
		ExecStatusType st;
		if (!s->conns[slot] && !(s->conns[slot] = connect_one(s, attempt > 0)))
			break;
		r = s->pq.PQexecPrepared(s->conns[slot], stmt, n, vals, lens, fmts, 1);
		st = s->pq.PQresultStatus(r);
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
			*res = r;
			r = NULL;
			rc = KBS_OK;
			break;
		}
		if (!conn_error(s, s->conns[slot], r)) {
			log_warn("pgstore: %s on %s: %s", stmt, s->target,
				 s->pq.PQerrorMessage(s->conns[slot]));
			rc = KBS_ERR_IO;
			break;
		}
		log_warn("pgstore: connection to %s lost; reconnecting", s->target);
		s->pq.PQclear(r);
		r = NULL;
		s->pq.PQfinish(s->conns[slot]);
		s->conns[slot] = NULL;
	}
	s->pq.PQclear(r);
	release(s, slot);
	return rc;
}

static void stmt_name(char *name, size_t len, int st, enum pgstore_ns ns)
{
	snprintf(name, len, "%c%d", st_letter[st], (int)ns);
}

static int get_raw(struct pgstore *s, enum pgstore_ns ns, const char *key, PGresult **r)
{
	char name[16];
	const char *vals[1] = {key};
	int lens[1] = {0}, rc;

	if ((unsigned)ns >= PGSTORE_NS__COUNT || !key)
		return KBS_ERR_INVAL;
	stmt_name(name, sizeof(name), ST_GET, ns);
	if ((rc = exec(s, name, 1, vals, lens, r)) != KBS_OK)
		return rc;
	if (s->pq.PQntuples(*r) < 1 || s->pq.PQgetisnull(*r, 0, 0)) {
		s->pq.PQclear(*r);
		*r = NULL;
		return KBS_ERR_NOTFOUND;
	}
	if ((size_t)s->pq.PQgetlength(*r, 0, 0) > PG_MAX_VALUE) {
		s->pq.PQclear(*r);
		*r = NULL;
		return KBS_ERR_RANGE;
	}
	return KBS_OK;
}

int pgstore_get_secret(struct pgstore *s, enum pgstore_ns ns, const char *key, struct secbuf *out)
{
	PGresult *r = NULL;
	int rc = get_raw(s, ns, key, &r);

	if (rc != KBS_OK)
		return rc;
	rc = secbuf_dup(out, s->pq.PQgetvalue(r, 0, 0), (size_t)s->pq.PQgetlength(r, 0, 0));
	/* libpq's result buffer held the secret too */
	OPENSSL_cleanse(s->pq.PQgetvalue(r, 0, 0), (size_t)s->pq.PQgetlength(r, 0, 0));
	s->pq.PQclear(r);
	return rc;
}

int pgstore_get(struct pgstore *s, enum pgstore_ns ns, const char *key, struct buf *out)
{
	PGresult *r = NULL;
	int rc = get_raw(s, ns, key, &r);

	if (rc != KBS_OK)
		return rc;
	buf_reset(out);
	rc = buf_append(out, s->pq.PQgetvalue(r, 0, 0), (size_t)s->pq.PQgetlength(r, 0, 0));
	if (rc == KBS_OK && (rc = buf_reserve(out, 1)) == KBS_OK)
		out->p[out->len] = 0;
	s->pq.PQclear(r);
	return rc;
}

int pgstore_set(struct pgstore *s, enum pgstore_ns ns, const char *key, const void *v, size_t len,
		bool overwrite)
{
	char name[16];
	const char *vals[2] = {key, v ? v : ""};
	int lens[2] = {0, (int)len}, rc;
	PGresult *r = NULL;

	if ((unsigned)ns >= PGSTORE_NS__COUNT || !key || len > PG_MAX_VALUE)
		return KBS_ERR_INVAL;
	stmt_name(name, sizeof(name), overwrite ? ST_SET : ST_SETNX, ns);
	if ((rc = exec(s, name, 2, vals, lens, &r)) != KBS_OK)
		return rc;
	if (!overwrite && strcmp(s->pq.PQcmdTuples(r), "0") == 0)
		rc = KBS_ERR_EXISTS;
	s->pq.PQclear(r);
	return rc;
}

int pgstore_cas(struct pgstore *s, enum pgstore_ns ns, const char *key, const void *old,
		size_t oldlen, const void *v, size_t len)
{
	char name[16];
	const char *vals[3] = {key, old ? old : "", v ? v : ""};
	int lens[3] = {0, (int)oldlen, (int)len}, rc;
	PGresult *r = NULL;

	if ((unsigned)ns >= PGSTORE_NS__COUNT || !key || len > PG_MAX_VALUE ||
	    oldlen > PG_MAX_VALUE)
		return KBS_ERR_INVAL;
	stmt_name(name, sizeof(name), ST_CAS, ns);
	if ((rc = exec(s, name, 3, vals, lens, &r)) != KBS_OK)
		return rc;
	if (strcmp(s->pq.PQcmdTuples(r), "0") == 0)
		rc = KBS_ERR_BUSY;
	s->pq.PQclear(r);
	return rc;
}

int pgstore_delete(struct pgstore *s, enum pgstore_ns ns, const char *key)
{
	char name[16];
	const char *vals[1] = {key};
	int lens[1] = {0}, rc;
	PGresult *r = NULL;

	if ((unsigned)ns >= PGSTORE_NS__COUNT || !key)
		return KBS_ERR_INVAL;
	stmt_name(name, sizeof(name), ST_DEL, ns);
	if ((rc = exec(s, name, 1, vals, lens, &r)) != KBS_OK)
		return rc;
	if (strcmp(s->pq.PQcmdTuples(r), "0") == 0)
		rc = KBS_ERR_NOTFOUND;
	s->pq.PQclear(r);
	return rc;
}

int pgstore_sweep_sessions(struct pgstore *s, long long now, long *n)
{
	char t[32];
	const char *vals[1] = {t};
	int lens[1] = {0}, rc;
	PGresult *r = NULL;

	*n = 0;
	snprintf(t, sizeof(t), "%lld", now);
	if ((rc = exec(s, "sweep", 1, vals, lens, &r)) != KBS_OK)
		return rc;
	*n = strtol(s->pq.PQcmdTuples(r), NULL, 10);
	s->pq.PQclear(r);
	return KBS_OK;
}

long pgstore_count(struct pgstore *s, enum pgstore_ns ns)
{
	char name[16];
	PGresult *r = NULL;
	long n = -1;

	if ((unsigned)ns >= PGSTORE_NS__COUNT)
		return -1;
	stmt_name(name, sizeof(name), ST_COUNT, ns);
	if (exec(s, name, 0, NULL, NULL, &r) != KBS_OK)
		return -1;
	/* binary int8 result */
	if (s->pq.PQntuples(r) == 1 && s->pq.PQgetlength(r, 0, 0) == 8) {
		const unsigned char *p = (const unsigned char *)s->pq.PQgetvalue(r, 0, 0);
		unsigned long long v = 0;
		for (int i = 0; i < 8; i++)
			v = (v << 8) | p[i];
		n = (long)v;
	}
	s->pq.PQclear(r);
	return n;
}
