/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_SERVER_PGSTORE_H
#define KBS_SERVER_PGSTORE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/secmem.h"

/*
 * Trustee's Postgres key-value storage (kbs-protocol §9): one table per namespace with
 * columns `key TEXT PRIMARY KEY, value BYTEA`, so a database written by Trustee is read here
 * and the reverse. A fixed-size pool of libpq connections; every statement is prepared on
 * each connection. A broken connection is reset and the statement retried once; when the
 * database stays unreachable the call returns KBS_ERR_UNAVAILABLE (never a cached value).
 */
enum pgstore_ns {
	PGSTORE_NS_KBS = 0,    /* kbs: resource-policy.rego */
	PGSTORE_NS_REPOSITORY, /* repository: <repo>/<type>/<tag> */
	PGSTORE_NS_SESSION,    /* kbs_protocol_session: session id */
	PGSTORE_NS_AS_POLICY,  /* attestation_service_policy */
	PGSTORE_NS_REFVAL,     /* reference_value */
	PGSTORE_NS__COUNT
};

struct pgstore_params {
	const char *host;      /* host name or unix socket directory; NULL = libpq default */
	int port;	       /* 0 = 5432 */
	const char *db;	       /* NULL = "postgres" */
	const char *username;  /* NULL = "postgres" */
	const char *password;  /* NULL = none / .pgpass */
	const char *url;       /* postgres:// URL; overrides all of the above when set */
	int pool_size;	       /* connections; <= 0 = 4 */
	int connect_timeout_s; /* <= 0 = 3 */
	bool check_only;       /* configuration check: connect, log missing tables as "would
				* create", create and prepare nothing; *out stays NULL */
};

struct pgstore;

/*
 * Connects one connection (to fail early on a wrong config), creates the five tables if
 * missing and prepares the statements. err names the problem without the password.
 * With p->check_only only the connection is tried and missing tables are logged.
 */
int pgstore_new(const struct pgstore_params *p, struct pgstore **out, char *err, size_t errlen);
void pgstore_free(struct pgstore *s);

/* Table name of a namespace. */
const char *pgstore_ns_name(enum pgstore_ns ns);

/* Reads a value into secret memory. KBS_ERR_NOTFOUND, KBS_ERR_UNAVAILABLE. */
int pgstore_get_secret(struct pgstore *s, enum pgstore_ns ns, const char *key, struct secbuf *out);
/* Reads a non-secret value into out (reset first; NUL-terminated beyond len). */
int pgstore_get(struct pgstore *s, enum pgstore_ns ns, const char *key, struct buf *out);
/* Upsert (overwrite) or insert-if-absent (KBS_ERR_EXISTS when present). */
int pgstore_set(struct pgstore *s, enum pgstore_ns ns, const char *key, const void *v, size_t len,
		bool overwrite);
/* Replaces the value only if it still equals old; KBS_ERR_BUSY when it changed meanwhile. */
int pgstore_cas(struct pgstore *s, enum pgstore_ns ns, const char *key, const void *old,
		size_t oldlen, const void *v, size_t len);
/* KBS_ERR_NOTFOUND when absent. */
int pgstore_delete(struct pgstore *s, enum pgstore_ns ns, const char *key);
/* Deletes sessions whose JSON "expires" member is before now; number deleted in *n. */
int pgstore_sweep_sessions(struct pgstore *s, long long now, long *n);
/* Rows in a namespace (metrics); -1 on error. */
long pgstore_count(struct pgstore *s, enum pgstore_ns ns);

#endif
