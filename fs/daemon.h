/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_FS_DAEMON_H
#define KBS_FS_DAEMON_H

#include <jansson.h>
#include <stddef.h>

#include "fs/cache.h"
#include "fs/config.h"

/* Where secrets come from: the KBS broker in `kbsfs`, a directory in the test double. */
struct kbsfs_backend {
	kbsfs_fetch_fn fetch;
	json_t *(*status)(void *ctx); /* attestation status, new reference; optional */
	void (*destroy)(void *ctx);
	void *ctx;
};

/* Builds the backend in the final (daemonised) process. */
typedef int (*kbsfs_backend_factory)(const struct kbsfs_config *cfg, struct kbsfs_backend *out,
				     char *err, size_t errlen);

/*
 * The whole kbsfs program: parses the command line, hardens the process (no core dumps,
 * not dumpable, secrets in locked memory), mounts, serves until unmounted or signalled
 * (SIGTERM/SIGINT/SIGHUP), unmounts and wipes. Returns the process exit status.
 */
int kbsfs_main(int argc, char **argv, kbsfs_backend_factory factory);

/* The broker backend (talks to a KBS); available when the broker library is built. */
int kbsfs_broker_backend(const struct kbsfs_config *cfg, struct kbsfs_backend *out, char *err,
			 size_t errlen);

/*
 * The default backend: the broker runs in a kbsfs-fetch child process (fs/proc_backend.c);
 * this process links neither the broker nor TLS. Fails if kbsfs-fetch cannot be found or
 * cannot set up its KBS client.
 */
int kbsfs_process_backend(const struct kbsfs_config *cfg, struct kbsfs_backend *out, char *err,
			  size_t errlen);

/* Finds kbsfs-fetch: override if set, else next to /proc/self/exe, else the libexec dir. */
int kbsfs_fetcher_path(const char *override, char *out, size_t outlen);

/*
 * kbsfs-fetch: serves fetch/status requests of a kbsfs parent on file descriptor 3 with the
 * broker backend built from "key=value" kbsfs options in argv. Returns the exit status.
 */
int kbsfs_fetch_main(int argc, char **argv);

#endif
