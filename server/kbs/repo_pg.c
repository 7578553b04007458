// SPDX-License-Identifier: Apache-2.0
/* Postgres resource backend: Trustee's `repository` table, key "<repo>/<type>/<tag>". */
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "server/kbs/pgstore.h"
#include "server/kbs/repo.h"
#include "server/kbs/repo_pg.h"

struct repo_pg {
	struct repo base;
	struct pgstore *pg; /* borrowed */
};

static int key_of(const char *const seg[3], char *key, size_t len)
{
	int n = snprintf(key, len, "%s/%s/%s", seg[0], seg[1], seg[2]);
	return n < 0 || (size_t)n >= len ? KBS_ERR_RANGE : KBS_OK;
}

static int pg_read(struct repo *r, const char *const seg[3], struct secbuf *out)
{
	char key[3 * (KBS_SEG_MAX + 1)];
	int rc = key_of(seg, key, sizeof(key));

	return rc ? rc
		  : pgstore_get_secret(((struct repo_pg *)r)->pg, PGSTORE_NS_REPOSITORY, key, out);
}

static int pg_write(struct repo *r, const char *const seg[3], const void *data, size_t len)
{
	char key[3 * (KBS_SEG_MAX + 1)];
	int rc = key_of(seg, key, sizeof(key));

	if (len > KBS_RESOURCE_MAX)
		return KBS_ERR_RANGE;
	return rc ? rc
		  : pgstore_set(((struct repo_pg *)r)->pg, PGSTORE_NS_REPOSITORY, key, data, len,
				true);
}

static int pg_remove(struct repo *r, const char *const seg[3])
{
	char key[3 * (KBS_SEG_MAX + 1)];
	int rc = key_of(seg, key, sizeof(key));

	return rc ? rc : pgstore_delete(((struct repo_pg *)r)->pg, PGSTORE_NS_REPOSITORY, key);
}

static void pg_destroy(struct repo *r)
{
	free(r);
}

static const struct repo_ops pg_ops = {"Postgres", pg_read, pg_write, pg_remove, pg_destroy};

int repo_pg_new(struct pgstore *pg, struct repo **out)
{
	struct repo_pg *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return KBS_ERR_NOMEM;
	r->base.ops = &pg_ops;
	r->pg = pg;
	*out = &r->base;
	return KBS_OK;
}
