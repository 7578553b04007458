// SPDX-License-Identifier: Apache-2.0
#include "fs/daemon.h"
#include "common/err.h"
#include "common/log.h"
#include "common/secmem.h"
#include "fs/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

struct opt_state {
	struct kbsfs_config *cfg;
	int failed;
};

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct opt_state *st = data;
	char err[256] = "";
	int rc;

	if (key != FUSE_OPT_KEY_OPT || arg[0] == '-')
		return 1; /* mount point, -f, -d, ...: for fuse_parse_cmdline */
	rc = kbsfs_config_set_opt(st->cfg, arg, err, sizeof(err));
	if (rc == KBS_ERR_NOTFOUND)
		return 1; /* a FUSE mount option */
	if (rc != KBS_OK) {
		fprintf(stderr, "kbsfs: %s\n", err[0] ? err : kbs_strerror(rc));
		st->failed = 1;
		return -1;
	}
	return 0;
}

/* Non-root users may only ask for allow_other when /etc/fuse.conf says user_allow_other. */
static bool allow_other_permitted(void)
{
	FILE *f;
	char line[256];
	bool ok = false;

	if (geteuid() == 0)
		return true;
	f = fopen("/etc/fuse.conf", "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *e;

		while (*p == ' ' || *p == '\t')
			p++;
		e = p + strlen(p);
		while (e > p && (e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			*--e = 0;
		if (!strcmp(p, "user_allow_other"))
			ok = true;
	}
	fclose(f);
	return ok;
}

static void harden(void)
{
	struct rlimit rl = {0, 0};

	/* secrets must never reach a core file or a ptrace/proc reader of the same uid */
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		log_warn("kbsfs: cannot disable core dumps: %s", strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		log_warn("kbsfs: cannot clear the dumpable flag: %s", strerror(errno));
}

/*
 * Background mode: the parent waits until the child mounted (or failed), so `kbsfs` returns
 * only once the mount is usable and its exit status tells whether it worked.
 */
static int daemonize_start(int *notify_fd)
{
	int p[2];
	pid_t pid;
	char c = 1;

	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			c = 1;
		_exit(c == 0 ? 0 : 1);
	}
	close(p[0]);
	if (setsid() < 0)
		log_warn("kbsfs: setsid: %s", strerror(errno));
	*notify_fd = p[1];
	return 0;
}

static void daemonize_finish(int *notify_fd, bool ok)
{
	char c = ok ? 0 : 1;
	int nul;

	if (*notify_fd < 0)
		return;
	if (ok) {
		if (chdir("/") != 0)
			log_warn("kbsfs: chdir /: %s", strerror(errno));
		nul = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			dup2(nul, 2);
			if (nul > 2)
				close(nul);
		}
	}
	if (write(*notify_fd, &c, 1) != 1)
		log_warn("kbsfs: cannot notify the parent process");
	close(*notify_fd);
	*notify_fd = -1;
}

static json_t *backend_status(void *ctx)
{
	struct kbsfs_backend *b = ctx;

	return b->status ? b->status(b->ctx) : NULL;
}

static json_t *make_info(const struct kbsfs_config *cfg, const char *mountpoint)
{
	char mode[8];

	snprintf(mode, sizeof(mode), "0%03o", (unsigned)cfg->mode);
	return json_pack("{s:s, s:s, s:s?, s:s, s:b, s:i, s:i, s:s, s:i, s:I}", "version",
			 "kbsfs 0.1.0", "mountpoint", mountpoint, "kbs_url", cfg->kbs_url, "tee",
			 cfg->tee, "allow_sample", cfg->allow_sample, "uid", (int)cfg->uid, "gid",
			 (int)cfg->gid, "mode", mode, "refresh_seconds", (int)cfg->refresh_s, "pid",
			 (json_int_t)getpid());
}

/* -o privsep=0: the whole daemon with the broker inside, which is kbsfs-fetch --in-process
 * (this binary does not link the broker). Returns only on failure. */
static void exec_in_process(const struct kbsfs_config *cfg, int argc, char **argv)
{
	char exe[PATH_MAX];
	char **nargv = calloc((size_t)argc + 2, sizeof(*nargv));
	int i;

	if (!nargv || kbsfs_fetcher_path(cfg->fetcher, exe, sizeof(exe)) != KBS_OK) {
		fprintf(stderr, "kbsfs: privsep=0 needs kbsfs-fetch, which was not found\n");
		free(nargv);
		return;
	}
	nargv[0] = exe;
	nargv[1] = (char *)"--in-process";
	for (i = 1; i < argc; i++)
		nargv[i + 1] = argv[i];
	execv(exe, nargv);
	fprintf(stderr, "kbsfs: cannot run %s: %s\n", exe, strerror(errno));
	free(nargv);
}

int kbsfs_main(int argc, char **argv, kbsfs_backend_factory factory)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts;
	struct kbsfs_config *cfg = NULL;
	struct opt_state st = {NULL, 0};
	struct kbsfs_backend backend = {NULL, NULL, NULL, NULL};
	struct kbsfs_fs_params fp;
	struct kbsfs_fs *fs = NULL;
	struct fuse_session *se = NULL;
	struct fuse_loop_config *lc = NULL;
	json_t *info = NULL;
	char err[512] = "", mopts[128];
	int notify_fd = -1, ret = 1, rc;
	bool mounted = false, handlers = false;

	memset(&opts, 0, sizeof(opts));
	/* one malloc arena: the daemon's few threads rarely allocate at the same time, and every
	 * extra arena keeps its own freed pages resident (docs/performance.md "kbsfs") */
	mallopt(M_ARENA_MAX, 1);
	log_setup("kbsfs", LOG_LVL_INFO, LOG_TARGET_STDERR);
	if (kbsfs_config_new(&cfg) != KBS_OK)
		goto out;
	st.cfg = cfg;
	if (fuse_opt_parse(&args, &st, NULL, opt_proc) != 0 || st.failed)
		goto out;
	if (fuse_parse_cmdline(&args, &opts) != 0)
		goto out;
	if (opts.show_help) {
		kbsfs_config_usage(stdout, "kbsfs");
		ret = 0;
		goto out;
	}
	if (opts.show_version) {
		printf("kbsfs 0.1.0\n");
		fflush(stdout);
		fuse_lowlevel_version();
		ret = 0;
		goto out;
	}
	if (!opts.mountpoint) {
		fprintf(stderr, "kbsfs: no mount point given (see kbsfs --help)\n");
		goto out;
	}
	rc = kbsfs_config_load_file(cfg, err, sizeof(err));
	if (rc == KBS_OK)
		rc = kbsfs_config_finish(cfg, err, sizeof(err));
	if (rc != KBS_OK) {
		fprintf(stderr, "kbsfs: %s\n", err[0] ? err : kbs_strerror(rc));
		goto out;
	}
	log_set_level((enum log_level)cfg->log_level);
	if (!cfg->privsep && factory == kbsfs_process_backend) {
		exec_in_process(cfg, argc, argv);
		goto out;
	}
	if (opts.debug)
		opts.foreground = 1;
	harden();
	if (!opts.foreground) {
		if (daemonize_start(&notify_fd) != 0) {
			fprintf(stderr, "kbsfs: cannot start in the background: %s\n",
				strerror(errno));
			goto out;
		}
	}
	cfg->detached = notify_fd >= 0;
	/* after the fork: memory locks are not inherited by a child */
	rc = secmem_init(cfg->secmem_size, false);
	if (rc != KBS_OK) {
		log_error("kbsfs: cannot lock %zu bytes of secret memory (%s); raise "
			  "RLIMIT_MEMLOCK or lower -o secmem=",
			  cfg->secmem_size, kbs_strerror(rc));
		goto out;
	}
	rc = factory(cfg, &backend, err, sizeof(err));
	if (rc != KBS_OK) {
		log_error("kbsfs: %s", err[0] ? err : kbs_strerror(rc));
		goto out;
	}
	info = make_info(cfg, opts.mountpoint);
	memset(&fp, 0, sizeof(fp));
	fp.uid = cfg->uid;
	fp.gid = cfg->gid;
	fp.mode = cfg->mode;
	fp.cache_timeout_s = cfg->cache_timeout_s;
	fp.no_open = true;
	fp.fetch = backend.fetch;
	fp.fetch_ctx = backend.ctx;
	fp.attestation_status = backend_status;
	fp.status_ctx = &backend;
	fp.info = info;
	fp.resources = (const char *const *)cfg->resources;
	fp.nresources = cfg->nresources;
	rc = kbsfs_fs_new(&fp, &fs);
	if (rc != KBS_OK) {
		log_error("kbsfs: %s", kbs_strerror(rc));
		goto out;
	}
	snprintf(mopts, sizeof(mopts), "-ofsname=kbsfs,subtype=kbsfs,ro,default_permissions%s",
		 allow_other_permitted() ? ",allow_other" : "");
	if (!allow_other_permitted())
		log_warn("kbsfs: not root and no user_allow_other in /etc/fuse.conf: only the "
			 "mounting user can use the mount");
	if (fuse_opt_add_arg(&args, mopts) != 0)
		goto out;
	se = fuse_session_new(&args, kbsfs_fs_lowlevel_ops(), sizeof(struct fuse_lowlevel_ops), fs);
	if (!se)
		goto out;
	if (fuse_set_signal_handlers(se) != 0)
		goto out;
	handlers = true;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out;
	mounted = true;
	/* root mounts without the setuid fusermount3, so nothing below needs privileges */
	if (geteuid() == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		log_warn("kbsfs: no_new_privs: %s", strerror(errno));
	rc = kbsfs_fs_start(fs, se, cfg->refresh_s);
	if (rc != KBS_OK) {
		log_error("kbsfs: cannot start helper threads");
		goto out;
	}
	log_info("kbsfs: mounted %s (kbs %s, tee %s%s, refresh %us)", opts.mountpoint, cfg->kbs_url,
		 cfg->tee, cfg->allow_sample ? ", sample allowed" : "", cfg->refresh_s);
	/* start-up errors went to the caller's terminal; from here on a background daemon
	 * has no terminal */
	if (notify_fd >= 0) {
		daemonize_finish(&notify_fd, true);
		log_setup("kbsfs", (enum log_level)cfg->log_level, LOG_TARGET_JOURNAL);
	}
	/* Type=notify units (kbsfs -f): the mount is usable now */
	(void)log_notify("READY=1");
	if (opts.singlethread) {
		rc = fuse_session_loop(se);
	} else {
		lc = fuse_loop_cfg_create();
		if (!lc)
			goto out;
		fuse_loop_cfg_set_clone_fd(lc, (unsigned)opts.clone_fd);
		/* UINT_MAX means "not given" in fuse_parse_cmdline() */
		if (opts.max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(lc, opts.max_idle_threads);
		fuse_loop_cfg_set_max_threads(
		    lc, opts.max_threads != UINT_MAX && opts.max_threads ? opts.max_threads : 16);
		rc = fuse_session_loop_mt(se, lc);
	}
	ret = rc < 0 ? 1 : 0;
	(void)log_notify("STOPPING=1");
	log_info("kbsfs: unmounting %s", opts.mountpoint);
out:
	if (fs)
		kbsfs_fs_stop(fs);
	if (mounted)
		fuse_session_unmount(se);
	if (handlers)
		fuse_remove_signal_handlers(se);
	if (se)
		fuse_session_destroy(se);
	fuse_loop_cfg_destroy(lc);
	kbsfs_fs_free(fs); /* wipes every cached secret */
	if (backend.destroy)
		backend.destroy(backend.ctx);
	daemonize_finish(&notify_fd, false);
	json_decref(info);
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	kbsfs_config_free(cfg);
	return ret;
}
