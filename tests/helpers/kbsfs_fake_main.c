// SPDX-License-Identifier: Apache-2.0
/*
 * kbsfs-fake: the real kbsfs daemon with a directory instead of a KBS, so the FUSE layer can
 * be tested without a server. Directory (env KBSFS_FAKE_DIR):
 *   res/<repo>/<type>/<tag>   resource content
 *   deny/<repo>/<type>/<tag>  policy denial; content = detail text
 *   down                      if present: every fetch fails like an unreachable KBS
 *   delay_ms                  if present: each fetch sleeps that long first
 * Status: {"fake": true, "fetches": n}. Never install this.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "fs/daemon.h"

struct fake {
	char dir[512];
	atomic_ulong fetches;
};

static int read_file(const char *path, struct secbuf *out, char *text, size_t textlen)
{
	FILE *f = fopen(path, "re");
	char buf[65536];
	size_t n;

	if (!f)
		return errno == ENOENT ? KBS_ERR_NOTFOUND : KBS_ERR_IO;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (text) {
		snprintf(text, textlen, "%.*s", (int)n, buf);
		return KBS_OK;
	}
	return secbuf_dup(out, buf, n);
}

static int fake_fetch(void *ctx, const char *path, struct secbuf *out, struct broker_error *err)
{
	struct fake *f = ctx;
	char p[1024], d[32];
	int rc;

	atomic_fetch_add(&f->fetches, 1);
	snprintf(p, sizeof(p), "%s/delay_ms", f->dir);
	if (read_file(p, NULL, d, sizeof(d)) == KBS_OK) {
		long ms = atol(d);
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

		nanosleep(&ts, NULL);
	}
	snprintf(p, sizeof(p), "%s/down", f->dir);
	if (access(p, F_OK) == 0) {
		snprintf(err->detail, sizeof(err->detail), "connect to fake KBS: refused");
		return KBS_ERR_NETWORK;
	}
	snprintf(p, sizeof(p), "%s/deny/%s", f->dir, path);
	if (read_file(p, NULL, err->detail, sizeof(err->detail)) == KBS_OK) {
		err->http_status = 401;
		snprintf(err->type, sizeof(err->type), "PolicyDeny");
		return KBS_ERR_DENIED;
	}
	snprintf(p, sizeof(p), "%s/res/%s", f->dir, path);
	rc = read_file(p, out, NULL, 0);
	if (rc == KBS_ERR_NOTFOUND) {
		err->http_status = 404;
		snprintf(err->type, sizeof(err->type), "ResourceNotFound");
		snprintf(err->detail, sizeof(err->detail), "no resource %s", path);
	}
	return rc;
}

static json_t *fake_status(void *ctx)
{
	struct fake *f = ctx;

	return json_pack("{s:b, s:I}", "fake", 1, "fetches", (json_int_t)atomic_load(&f->fetches));
}

static void fake_destroy(void *ctx)
{
	free(ctx);
}

static int fake_backend(const struct kbsfs_config *cfg, struct kbsfs_backend *out, char *err,
			size_t errlen)
{
	const char *dir = getenv("KBSFS_FAKE_DIR");
	struct fake *f;

	if (!dir || !*dir) {
		snprintf(err, errlen, "KBSFS_FAKE_DIR is not set");
		return KBS_ERR_INVAL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return KBS_ERR_NOMEM;
	snprintf(f->dir, sizeof(f->dir), "%s", dir);
	out->fetch = fake_fetch;
	out->status = fake_status;
	out->destroy = fake_destroy;
	out->ctx = f;
	return KBS_OK;
}

int main(int argc, char **argv)
{
	return kbsfs_main(argc, argv, fake_backend);
}
