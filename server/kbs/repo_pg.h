/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_SERVER_REPO_PG_H
#define KBS_SERVER_REPO_PG_H

#include "server/kbs/pgstore.h"
#include "server/kbs/repo.h"

/*
 * Resource backend on Trustee's Postgres `repository` table (key "<repo>/<type>/<tag>").
 * pg is borrowed and must outlive the repo. Read-write. A database outage returns
 * KBS_ERR_UNAVAILABLE (the caller answers 503).
 */
int repo_pg_new(struct pgstore *pg, struct repo **out);

#endif
