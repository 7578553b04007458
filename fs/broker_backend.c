// SPDX-License-Identifier: Apache-2.0
/* kbsfs backend on the guest broker library (broker/broker.h). */
#include "broker/broker.h"
#include "common/err.h"
#include "common/http_client.h"
#include "common/log.h"
#include "fs/daemon.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct broker_backend {
	struct broker *b;
	long timeout_ms;
	char *initdata;
};

static int bb_fetch(void *ctx, const char *path, struct secbuf *out, struct broker_error *err)
{
	struct broker_backend *bb = ctx;
	int rc = broker_get_resource(bb->b, path, http_now_ms() + bb->timeout_ms, out, err);

	/* a fetch (TLS, JSON, JWE) leaves freed heap behind; hand it back to the kernel so the
	 * daemon's resident set stays at what it keeps (a few microseconds per network fetch) */
	malloc_trim(0);
	return rc;
}

static json_t *bb_status(void *ctx)
{
	struct broker_backend *bb = ctx;

	return broker_status(bb->b);
}

static void bb_destroy(void *ctx)
{
	struct broker_backend *bb = ctx;

	if (!bb)
		return;
	broker_free(bb->b);
	free(bb->initdata);
	free(bb);
}

static int read_text(const char *path, size_t max, char **out)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f)
		return KBS_ERR_IO;
	buf = malloc(max + 1);
	if (!buf) {
		fclose(f);
		return KBS_ERR_NOMEM;
	}
	n = fread(buf, 1, max + 1, f);
	fclose(f);
	if (n > max) {
		free(buf);
		return KBS_ERR_RANGE;
	}
	buf[n] = 0;
	*out = buf;
	return KBS_OK;
}

int kbsfs_broker_backend(const struct kbsfs_config *cfg, struct kbsfs_backend *out, char *err,
			 size_t errlen)
{
	struct broker_backend *bb = calloc(1, sizeof(*bb));
	struct broker_config bc;
	char query[1100];
	int rc;

	if (!bb)
		return KBS_ERR_NOMEM;
	if (cfg->initdata_file) {
		rc = read_text(cfg->initdata_file, 1 << 20, &bb->initdata);
		if (rc) {
			snprintf(err, errlen, "initdata=%s: %s", cfg->initdata_file,
				 rc == KBS_ERR_IO ? strerror(errno) : kbs_strerror(rc));
			bb_destroy(bb);
			return rc;
		}
	}
	if (cfg->kbs_cert_file) {
		/* fail at mount time, not with EIO on every access later */
		char *pem = NULL;

		rc = read_text(cfg->kbs_cert_file, 1 << 20, &pem);
		if (rc == KBS_OK && !strstr(pem, "-----BEGIN CERTIFICATE-----"))
			rc = KBS_ERR_PARSE;
		if (rc) {
			snprintf(err, errlen, "kbs_cert=%s: %s", cfg->kbs_cert_file,
				 rc == KBS_ERR_IO      ? strerror(errno)
				 : rc == KBS_ERR_PARSE ? "no PEM certificate in the file"
						       : kbs_strerror(rc));
			free(pem);
			bb_destroy(bb);
			return rc;
		}
		free(pem);
	}
	memset(&bc, 0, sizeof(bc));
	bc.kbs_url = cfg->kbs_url;
	bc.kbs_cert_file = cfg->kbs_cert_file;
	bc.kbs_cert_pem = cfg->kbs_cert_pem;
	bc.tee = cfg->tee;
	bc.allow_sample = cfg->allow_sample;
	bc.tee_key_algorithm = cfg->tee_key_algorithm;
	bb->timeout_ms = (long)cfg->timeout_s * 1000;
	bc.request_timeout_ms = bb->timeout_ms;
	bc.max_retries = 2;
	bc.initdata_toml = bb->initdata;
	if (kbsfs_config_resource_query(cfg, query, sizeof(query)) != KBS_OK) {
		snprintf(err, errlen, "pod identity options too long");
		bb_destroy(bb);
		return KBS_ERR_RANGE;
	}
	bc.resource_query = query[0] ? query : NULL;
	rc = broker_new(&bc, &bb->b);
	/* the TEE key exists before the first miss: its generation (RSA-2048: up to seconds
	 * under load) happens here, at kbsfs-fetch start, not inside that read's deadline */
	if (rc == KBS_OK)
		rc = broker_prepare_key(bb->b);
	if (rc) {
		snprintf(err, errlen, "cannot set up the KBS client for %s: %s", cfg->kbs_url,
			 kbs_strerror(rc));
		bb_destroy(bb);
		return rc;
	}
	out->fetch = bb_fetch;
	out->status = bb_status;
	out->destroy = bb_destroy;
	out->ctx = bb;
	return KBS_OK;
}
