// SPDX-License-Identifier: Apache-2.0
/*
 * kbsfs-fetch: the network half of kbsfs (fs/proc_backend.c has the other half). Runs the
 * broker backend and answers the parent's requests on fd 3, one at a time, until the parent
 * closes the socket. The plaintext of a fetch is sent once and wiped here right after.
 * Arguments are kbsfs "key=value" options, plus --detached from a background kbsfs: after a
 * successful set-up the caller's stdout/stderr are replaced with /dev/null.
 */
#include "common/err.h"
#include "common/log.h"
#include "common/secmem.h"
#include "fs/daemon.h"
#include "fs/fetch_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define PARENT_FD 3

static int send_all(const void *p, size_t len)
{
	ssize_t n;

	do
		n = send(PARENT_FD, p, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? KBS_OK : KBS_ERR_IO;
}

/* One reply: header, status JSON, plaintext in chunks. */
static int reply(uint16_t type, int rc, const struct broker_error *err, json_t *status,
		 const struct secbuf *data)
{
	uint8_t hdr[KBSFS_PROTO_REPLY_LEN];
	struct kbsfs_proto_reply r;
	char *st = status ? json_dumps(status, JSON_COMPACT) : NULL;
	size_t stlen = st ? strlen(st) : 0, off, chunk;
	int ret;

	if (stlen > KBSFS_PROTO_STATUS_MAX)
		stlen = 0; /* never happens with the broker's status; the parent keeps the old */
	memset(&r, 0, sizeof(r));
	r.type = type;
	r.rc = rc;
	r.status_len = (uint32_t)stlen;
	r.payload_len = data && rc == KBS_OK ? (uint32_t)data->len : 0;
	if (err)
		r.err = *err;
	kbsfs_proto_reply_encode(&r, hdr);
	ret = send_all(hdr, sizeof(hdr));
	if (ret == KBS_OK && stlen)
		ret = send_all(st, stlen);
	for (off = 0; ret == KBS_OK && off < r.payload_len; off += chunk) {
		chunk = r.payload_len - off;
		if (chunk > KBSFS_PROTO_CHUNK)
			chunk = KBSFS_PROTO_CHUNK;
		ret = send_all(data->p + off, chunk);
	}
	free(st);
	return ret;
}

/* kbsfs in the background: leave the caller's stdout/stderr (see build_argv in
 * fs/proc_backend.c) and log where the daemon logs */
static void detach_stdio(enum log_level level)
{
	int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (nul < 0)
		return;
	(void)dup2(nul, 1);
	(void)dup2(nul, 2);
	if (nul > 2)
		close(nul);
	log_setup("kbsfs-fetch", level, LOG_TARGET_JOURNAL);
}

static bool stderr_is_devnull(void)
{
	struct stat a, b;

	return fstat(2, &a) == 0 && stat("/dev/null", &b) == 0 && S_ISCHR(a.st_mode) &&
	       a.st_rdev == b.st_rdev;
}

int kbsfs_fetch_main(int argc, char **argv)
{
	struct kbsfs_config *cfg = NULL;
	struct kbsfs_backend be = {NULL, NULL, NULL, NULL};
	struct broker_error berr;
	uint8_t req[KBSFS_PROTO_REQ_HDR + KBSFS_PROTO_PATH_MAX + 1];
	char path[KBSFS_PROTO_PATH_MAX + 1], err[512] = "";
	int i, rc, ret = 1;
	bool detached = false;
	socklen_t optlen = sizeof(i);
	ssize_t n;

	mallopt(M_ARENA_MAX, 1);
	/* the child of a background kbsfs inherits its /dev/null stderr: log where it logs */
	log_setup("kbsfs-fetch", LOG_LVL_INFO,
		  stderr_is_devnull() ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR);
	/* holds the TEE key, the token and the secret in flight */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (getsockopt(PARENT_FD, SOL_SOCKET, SO_TYPE, &i, &optlen) != 0 || i != SOCK_SEQPACKET) {
		fprintf(stderr, "kbsfs-fetch: started by kbsfs only (needs its socket on fd 3)\n");
		return 2;
	}
	rc = kbsfs_config_new(&cfg);
	for (i = 1; rc == KBS_OK && i < argc; i++) {
		if (!strcmp(argv[i], "--detached"))
			detached = true;
		else
			rc = kbsfs_config_set_opt(cfg, argv[i], err, sizeof(err));
	}
	if (rc == KBS_OK)
		rc = kbsfs_config_finish(cfg, err, sizeof(err));
	if (rc == KBS_OK) {
		log_set_level((enum log_level)cfg->log_level);
		rc = secmem_init(cfg->secmem_size, false);
		if (rc != KBS_OK)
			snprintf(err, sizeof(err),
				 "kbsfs-fetch: cannot lock %zu bytes of secret memory (%s)",
				 cfg->secmem_size, kbs_strerror(rc));
	}
	if (rc == KBS_OK)
		rc = kbsfs_broker_backend(cfg, &be, err, sizeof(err));
	/* a failed set-up keeps stderr: its log reaches the caller's terminal, and this
	 * process exits after the first reply, before the mount fails */
	if (detached && rc == KBS_OK)
		detach_stdio(log_get_level());
	for (;;) {
		uint16_t type;
		struct secbuf sb = {NULL, 0};
		json_t *st;
		int frc;

		n = recv(PARENT_FD, req, sizeof(req), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* the parent closed the socket: idle, unmount, or parent gone */
		memset(&berr, 0, sizeof(berr));
		if (kbsfs_proto_req_decode(req, (size_t)n, &type, path, sizeof(path)) != KBS_OK) {
			log_error("kbsfs-fetch: malformed request");
			break;
		}
		if (rc != KBS_OK) {
			/* set-up failed: say why to the first request, then exit */
			const char *why = err[0] ? err : kbs_strerror(rc);
			size_t wl = strnlen(why, sizeof(berr.detail) - 1);

			memcpy(berr.detail, why, wl);
			berr.detail[wl] = 0;
			(void)reply(type, rc, &berr, NULL, NULL);
			break;
		}
		frc = KBS_OK;
		if (type == KBSFS_PROTO_FETCH)
			frc = be.fetch(be.ctx, path, &sb, &berr);
		st = be.status ? be.status(be.ctx) : NULL;
		i = reply(type, frc, &berr, st, &sb);
		json_decref(st);
		secbuf_free(&sb); /* wipes this copy of the plaintext */
		if (i != KBS_OK)
			break;
	}
	ret = rc == KBS_OK ? 0 : 1;
	if (be.destroy)
		be.destroy(be.ctx);
	kbsfs_config_free(cfg);
	return ret;
}
