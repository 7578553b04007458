// SPDX-License-Identifier: Apache-2.0
/*
 * kbsfs process backend (privilege separation, OpenSSH-style): the KBS client (TLS, HTTP,
 * RCAR, attester, TEE key, token, JWE) runs in a separate executable, kbsfs-fetch, started
 * with fork+exec on the first miss so that this long-lived process, which holds every secret,
 * never maps those libraries. Requests go over socketpair(AF_UNIX, SOCK_SEQPACKET) in the
 * format of fs/fetch_proto.h, one at a time (the child's broker single-flights attestation;
 * the parent's cache single-flights each path). The child started at mount time for the
 * set-up check stays and serves the first miss, so the first read pays no exec, library
 * loading or TLS context set-up. The reply's plaintext is received straight
 * into secret memory. The child is untrusted input: every reply is validated, and a reply
 * that does not parse, a timeout or a dead child fails the request in flight with EIO and
 * the next request starts a fresh child.
 *
 * A reaper thread ends the child fetch_idle seconds after its last request, or when the
 * token it reported expires, whichever is first; the TEE key and the token go with it.
 */
#include "common/err.h"
#include "common/log.h"
#include "fs/daemon.h"
#include "fs/fetch_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef KBSFS_LIBEXECDIR
#define KBSFS_LIBEXECDIR "/usr/local/libexec"
#endif

#define CHILD_FD 3
#define MAX_ARGS 32

struct proc_backend {
	pthread_mutex_t lock; /* one request at a time; child state (fd, pid, last_req) */
	pthread_cond_t cond;  /* wakes the reaper: child started, stop */
	pthread_t reaper;
	bool reaper_started, stop;
	int fd;
	pid_t pid;
	int64_t last_req_ms;  /* CLOCK_MONOTONIC */
	int64_t expiry_ms;    /* CLOCK_MONOTONIC time of token expiry, 0 = unknown */
	unsigned idle_s;
	long wait_ms;	      /* how long a reply may take */
	size_t max_payload;
	char exe[PATH_MAX];
	char *argv[MAX_ARGS + 1];
	int argc;

	pthread_mutex_t slock; /* status, spawns, running */
	json_t *status;	       /* the child's last status JSON */
	unsigned spawns;
	pid_t running_pid;
};

static int64_t mono_ms(void)
{
	return kbsfs_proto_now_ms();
}

static bool is_exec(const char *p)
{
	return access(p, X_OK) == 0;
}

int kbsfs_fetcher_path(const char *override, char *out, size_t outlen)
{
	char self[PATH_MAX];
	ssize_t n;
	char *slash;
	int w;

	if (override) {
		w = snprintf(out, outlen, "%s", override);
		return w > 0 && (size_t)w < outlen && is_exec(out) ? KBS_OK : KBS_ERR_NOTFOUND;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			w = snprintf(out, outlen, "%s/kbsfs-fetch", self);
			if (w > 0 && (size_t)w < outlen && is_exec(out))
				return KBS_OK;
		}
	}
	w = snprintf(out, outlen, "%s/kbsfs-fetch", KBSFS_LIBEXECDIR);
	return w > 0 && (size_t)w < outlen && is_exec(out) ? KBS_OK : KBS_ERR_NOTFOUND;
}

static int add_arg(struct proc_backend *pb, const char *key, const char *val)
{
	size_t n;
	char *a;

	if (!val)
		return KBS_OK;
	if (pb->argc >= MAX_ARGS)
		return KBS_ERR_RANGE;
	n = strlen(key) + strlen(val) + 2;
	a = malloc(n);
	if (!a)
		return KBS_ERR_NOMEM;
	snprintf(a, n, "%s=%s", key, val);
	pb->argv[pb->argc++] = a;
	return KBS_OK;
}

/* The child gets the KBS client settings as kbsfs "key=value" options. */
static int build_argv(struct proc_backend *pb, const struct kbsfs_config *cfg)
{
	char num[32];
	int rc = KBS_OK;

	pb->argv[pb->argc++] = strdup("kbsfs-fetch");
	if (!pb->argv[0])
		return KBS_ERR_NOMEM;
	/* background kbsfs: until it has mounted, its stdout/stderr are the caller's, and a
	 * child started now that kept them would hold a pipe of `kbsfs ... | cat` open for
	 * its whole life. --detached: set-up errors still go there, then the child swaps its
	 * stdout/stderr for /dev/null and logs to journald */
	if (cfg->detached) {
		pb->argv[pb->argc++] = strdup("--detached");
		if (!pb->argv[1])
			return KBS_ERR_NOMEM;
	}
	rc = rc ? rc : add_arg(pb, "kbs_url", cfg->kbs_url);
	rc = rc ? rc : add_arg(pb, "kbs_cert", cfg->kbs_cert_file);
	rc = rc ? rc : add_arg(pb, "kbs_cert", cfg->kbs_cert_pem);
	rc = rc ? rc : add_arg(pb, "tee", cfg->tee);
	rc = rc ? rc : add_arg(pb, "allow_sample", cfg->allow_sample ? "1" : "0");
	rc = rc ? rc : add_arg(pb, "tee_key_algorithm", cfg->tee_key_algorithm);
	rc = rc ? rc : add_arg(pb, "initdata", cfg->initdata_file);
	rc = rc ? rc : add_arg(pb, "pod_namespace", cfg->pod_namespace);
	rc = rc ? rc : add_arg(pb, "pod_name", cfg->pod_name);
	rc = rc ? rc : add_arg(pb, "pod_uid", cfg->pod_uid);
	rc = rc ? rc : add_arg(pb, "service_account", cfg->service_account);
	snprintf(num, sizeof(num), "%u", cfg->timeout_s);
	rc = rc ? rc : add_arg(pb, "timeout", num);
	snprintf(num, sizeof(num), "%zu", cfg->secmem_size);
	rc = rc ? rc : add_arg(pb, "secmem", num);
	{
		static const char *const lv[] = {"error", "warn", "info", "debug"};

		rc = rc ? rc
			: add_arg(pb, "log_level",
				  lv[cfg->log_level >= 0 && cfg->log_level <= 3 ? cfg->log_level : 2]);
	}
	return rc;
}

/* Called with lock held. Closes the connection; the child exits on EOF (or is killed). */
static void stop_child(struct proc_backend *pb, bool kill_it)
{
	pid_t r;
	int st, i;

	if (pb->fd < 0)
		return;
	close(pb->fd);
	pb->fd = -1;
	if (kill_it)
		kill(pb->pid, SIGKILL);
	/* an idle child exits on EOF at once; one that does not (stopped, stuck) within 2 s is
	 * killed, so that this lock is never held for long */
	for (i = 0; i < 200; i++) {
		r = waitpid(pb->pid, &st, WNOHANG);
		if (r != 0 && !(r < 0 && errno == EINTR))
			break;
		usleep(10000);
	}
	if (i == 200) {
		kill(pb->pid, SIGKILL);
		while (waitpid(pb->pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	pb->pid = -1;
	pb->expiry_ms = 0;
	pthread_mutex_lock(&pb->slock);
	pb->running_pid = 0;
	pthread_mutex_unlock(&pb->slock);
}

/* Called with lock held. Between fork and exec only async-signal-safe calls. */
static int spawn_child(struct proc_backend *pb)
{
	int sv[2];
	sigset_t all;
	pid_t pid;
	int nul;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return KBS_ERR_IO;
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return KBS_ERR_IO;
	}
	if (pid == 0) {
		/* FUSE worker threads block signals; the child starts with a clean mask */
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		if (sv[1] == CHILD_FD) {
			if (fcntl(CHILD_FD, F_SETFD, 0) != 0)
				_exit(127);
		} else if (dup2(sv[1], CHILD_FD) != CHILD_FD) {
			_exit(127);
		}
		/* stdin is never used (stdout/stderr: see --detached in build_argv) */
		nul = open("/dev/null", O_RDWR);
		if (nul < 0 || dup2(nul, 0) != 0)
			_exit(127);
		/* nothing else of this process (the /dev/fuse fd above all) reaches the child */
		(void)close_range(CHILD_FD + 1, ~0u, 0);
		execv(pb->exe, pb->argv);
		_exit(127);
	}
	close(sv[1]);
	pb->fd = sv[0];
	pb->pid = pid;
	pthread_mutex_lock(&pb->slock);
	pb->spawns++;
	pb->running_pid = pid;
	pthread_mutex_unlock(&pb->slock);
	pthread_cond_broadcast(&pb->cond);
	log_debug("kbsfs: started %s (pid %d)", pb->exe, (int)pid);
	return KBS_OK;
}

static void store_status(struct proc_backend *pb, json_t *st)
{
	json_t *exp = json_object_get(st, "token_expiry");

	pb->expiry_ms = 0;
	if (json_is_integer(exp) && json_is_true(json_object_get(st, "attested"))) {
		int64_t left = (int64_t)json_integer_value(exp) - (int64_t)time(NULL);

		if (left > 365LL * 86400)
			left = 365LL * 86400;
		pb->expiry_ms = mono_ms() + (left > 0 ? left * 1000 : 0);
	}
	pthread_mutex_lock(&pb->slock);
	json_decref(pb->status);
	pb->status = st;
	pthread_mutex_unlock(&pb->slock);
}

/* Called with lock held: one request/reply exchange with a (re)started child. */
static int exchange(struct proc_backend *pb, uint16_t type, const char *path, struct secbuf *out,
		    struct broker_error *err)
{
	uint8_t req[KBSFS_PROTO_REQ_HDR + KBSFS_PROTO_PATH_MAX];
	struct kbsfs_proto_reply r;
	struct pollfd pfd;
	json_t *st = NULL;
	size_t reqlen;
	int64_t deadline;
	bool answered = false;
	int rc;

	reqlen = kbsfs_proto_req_encode(type, path, req, sizeof(req));
	if (!reqlen)
		return KBS_ERR_RANGE;
	/* a child that died while idle is replaced without failing this request */
	if (pb->fd >= 0) {
		pfd.fd = pb->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) != 0)
			stop_child(pb, true);
	}
	if (pb->fd < 0 && spawn_child(pb) != KBS_OK) {
		snprintf(err->detail, sizeof(err->detail), "cannot start kbsfs-fetch: %s",
			 strerror(errno));
		return KBS_ERR_UNAVAILABLE;
	}
	pb->last_req_ms = mono_ms();
	deadline = pb->last_req_ms + pb->wait_ms;
	if (send(pb->fd, req, reqlen, MSG_NOSIGNAL) != (ssize_t)reqlen) {
		rc = KBS_ERR_UNAVAILABLE;
		goto out;
	}
	rc = kbsfs_proto_recv_reply(pb->fd, type, pb->max_payload, deadline, &r, &st, out);
	if (rc != KBS_OK)
		goto out;
	if (st)
		store_status(pb, st);
	*err = r.err;
	rc = r.rc;
	answered = true;
out:
	if (!answered && pb->fd >= 0) {
		/* no complete answer: the child is gone, stuck, or not to be trusted */
		const char *why = rc == KBS_ERR_PROTOCOL  ? "sent a malformed reply"
				  : rc == KBS_ERR_TIMEOUT ? "did not answer in time"
				  : rc == KBS_ERR_NOMEM	  ? "reply could not be stored"
							  : "died";

		log_warn("kbsfs: kbsfs-fetch (pid %d) %s; a new one starts on the next access",
			 (int)pb->pid, why);
		stop_child(pb, true);
		snprintf(err->detail, sizeof(err->detail), "kbsfs-fetch %s", why);
		if (rc != KBS_ERR_NOMEM)
			rc = KBS_ERR_UNAVAILABLE;
	}
	return rc;
}

static int pb_fetch(void *ctx, const char *path, struct secbuf *out, struct broker_error *err)
{
	struct proc_backend *pb = ctx;
	int rc;

	pthread_mutex_lock(&pb->lock);
	rc = exchange(pb, KBSFS_PROTO_FETCH, path, out, err);
	pthread_mutex_unlock(&pb->lock);
	return rc;
}

static json_t *pb_status(void *ctx)
{
	struct proc_backend *pb = ctx;
	json_t *st, *f;

	pthread_mutex_lock(&pb->slock);
	st = pb->status ? json_deep_copy(pb->status) : json_object();
	f = json_pack("{s:b, s:I, s:i, s:i}", "running", pb->running_pid != 0, "child_pid",
		      (json_int_t)pb->running_pid, "starts", (int)pb->spawns, "idle_exit_seconds",
		      (int)pb->idle_s);
	pthread_mutex_unlock(&pb->slock);
	if (st && f)
		json_object_set_new(st, "fetcher", f);
	else
		json_decref(f);
	return st;
}

/* Ends the child fetch_idle seconds after its last request or at token expiry. */
static void *reaper_main(void *arg)
{
	struct proc_backend *pb = arg;
	struct timespec ts;
	int64_t due, now;

	pthread_mutex_lock(&pb->lock);
	while (!pb->stop) {
		if (pb->fd < 0) {
			pthread_cond_wait(&pb->cond, &pb->lock);
			continue;
		}
		due = pb->last_req_ms + (int64_t)pb->idle_s * 1000;
		if (pb->expiry_ms && pb->expiry_ms < due)
			due = pb->expiry_ms;
		now = mono_ms();
		if (now >= due) {
			log_debug("kbsfs: kbsfs-fetch (pid %d) idle, stopping it", (int)pb->pid);
			stop_child(pb, false);
			continue;
		}
		ts.tv_sec = (time_t)(due / 1000);
		ts.tv_nsec = (long)(due % 1000) * 1000000;
		pthread_cond_timedwait(&pb->cond, &pb->lock, &ts);
	}
	pthread_mutex_unlock(&pb->lock);
	return NULL;
}

static void pb_destroy(void *ctx)
{
	struct proc_backend *pb = ctx;
	int i;

	if (!pb)
		return;
	pthread_mutex_lock(&pb->lock);
	pb->stop = true;
	pthread_cond_broadcast(&pb->cond);
	pthread_mutex_unlock(&pb->lock);
	if (pb->reaper_started)
		pthread_join(pb->reaper, NULL);
	pthread_mutex_lock(&pb->lock);
	stop_child(pb, false);
	pthread_mutex_unlock(&pb->lock);
	for (i = 0; i < pb->argc; i++)
		free(pb->argv[i]);
	json_decref(pb->status);
	pthread_cond_destroy(&pb->cond);
	pthread_mutex_destroy(&pb->lock);
	pthread_mutex_destroy(&pb->slock);
	free(pb);
}

int kbsfs_process_backend(const struct kbsfs_config *cfg, struct kbsfs_backend *out, char *err,
			  size_t errlen)
{
	struct proc_backend *pb = calloc(1, sizeof(*pb));
	pthread_condattr_t ca;
	struct broker_error berr;
	int rc;

	if (!pb)
		return KBS_ERR_NOMEM;
	pthread_mutex_init(&pb->lock, NULL);
	pthread_mutex_init(&pb->slock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pb->cond, &ca);
	pthread_condattr_destroy(&ca);
	pb->fd = -1;
	pb->pid = -1;
	pb->idle_s = cfg->fetch_idle_s ? cfg->fetch_idle_s : 60;
	/* the broker's own deadline is timeout_s; leave room for exec and key generation */
	pb->wait_ms = (long)cfg->timeout_s * 1000 + 10000;
	pb->max_payload = cfg->secmem_size;
	rc = kbsfs_fetcher_path(cfg->fetcher, pb->exe, sizeof(pb->exe));
	if (rc != KBS_OK) {
		snprintf(err, errlen,
			 "cannot find kbsfs-fetch (%s; looked next to kbsfs and in %s; -o "
			 "fetcher=PATH sets it)",
			 cfg->fetcher ? cfg->fetcher : "not set", KBSFS_LIBEXECDIR);
		goto fail;
	}
	rc = build_argv(pb, cfg);
	if (rc != KBS_OK) {
		snprintf(err, errlen, "kbsfs-fetch arguments: %s", kbs_strerror(rc));
		goto fail;
	}
	/* start-up check: the child sets up the KBS client (certificate, init-data) and reports
	 * its status, so a bad setting fails the mount instead of every access later */
	memset(&berr, 0, sizeof(berr));
	pthread_mutex_lock(&pb->lock);
	rc = exchange(pb, KBSFS_PROTO_STATUS, "", NULL, &berr);
	/* a good child stays for the first miss (exec, libssl and TLS set-up already paid);
	 * the reaper ends it fetch_idle seconds from now if nothing is read */
	if (rc != KBS_OK)
		stop_child(pb, false);
	pthread_mutex_unlock(&pb->lock);
	if (rc != KBS_OK) {
		snprintf(err, errlen, "%s", berr.detail[0] ? berr.detail : kbs_strerror(rc));
		goto fail;
	}
	if (pthread_create(&pb->reaper, NULL, reaper_main, pb) != 0) {
		snprintf(err, errlen, "cannot start the kbsfs-fetch reaper thread");
		rc = KBS_ERR_NOMEM;
		goto fail;
	}
	pb->reaper_started = true;
	out->fetch = pb_fetch;
	out->status = pb_status;
	out->destroy = pb_destroy;
	out->ctx = pb;
	return KBS_OK;
fail:
	pb_destroy(pb);
	return rc;
}
