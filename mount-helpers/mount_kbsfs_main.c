// SPDX-License-Identifier: Apache-2.0
/* mount.kbsfs: the mount(8) helper for kbsfs (see mount.kbsfs --help, docs/mount.md). */
#include "common/err.h"
#include "mount-helpers/mount_opts.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* mount(8) exit codes */
#define EX_MNT_OK 0
#define EX_MNT_USAGE 1
#define EX_MNT_SYSERR 2
#define EX_MNT_FAIL 32

static void usage(FILE *f)
{
	fputs(
	    "NAME\n"
	    "    mount.kbsfs - mount(8) helper for kbsfs, attestation-gated KBS secrets\n"
	    "\n"
	    "SYNOPSIS\n"
	    "    mount -t kbsfs SOURCE DIRECTORY -o kbs_url=URL[,OPTION...]\n"
	    "    mount.kbsfs SOURCE DIRECTORY [-sfnv] [-o OPTIONS]\n"
	    "    fstab: kbs:///default/akv  /run/secrets  kbsfs  kbs_url=URL,_netdev,nofail  0 0\n"
	    "\n"
	    "DESCRIPTION\n"
	    "    Starts the kbsfs daemon on DIRECTORY and returns once the mount is usable.\n"
	    "    SOURCE is kbs:/// (the whole KBS), kbs:///repo or kbs:///repo/type (the part\n"
	    "    meant; informational), kbs:///repo/type/tag (also declared, so it is listed\n"
	    "    before first access), kbs://HOST[:PORT]/... (kbs_url defaults to\n"
	    "    https://HOST[:PORT] when neither kbs_url nor config is given), or kbsfs/none.\n"
	    "    Unmount with umount DIRECTORY (or fusermount3 -u DIRECTORY).\n"
	    "\n"
	    "OPTIONS\n"
	    "    -o OPTIONS  comma-separated kbsfs options (kbs_url, kbs_cert, tee, uid, gid,\n"
	    "                mode, refresh, resources, config, initdata, ...; see kbsfs --help),\n"
	    "                passed through in order. Dropped because they are for mount(8),\n"
	    "                systemd or fstab only: defaults, auto, noauto, user, nouser, users,\n"
	    "                owner, group, _netdev, nofail, comment=, x-* (x-systemd.*), rw, ro\n"
	    "                (kbsfs is always read-only). A value may be double-quoted to hold\n"
	    "                commas.\n"
	    "    -f          fake: check the arguments, do not mount\n"
	    "    -s          sloppy (accepted; kbsfs itself rejects unknown options)\n"
	    "    -n          accepted for compatibility (there is no mtab to write)\n"
	    "    -v          print the kbsfs command line before running it\n"
	    "    -t TYPE     kbsfs or fuse.kbsfs (as mount(8) passes it)\n"
	    "    -h, --help  this text;  -V, --version  version\n"
	    "\n"
	    "ENVIRONMENT\n"
	    "    KBSFS_BINARY  path of the kbsfs daemon (default: next to mount.kbsfs, then\n"
	    "                  /usr/local/bin/kbsfs, /usr/bin/kbsfs)\n"
	    "\n"
	    "EXIT STATUS (as mount(8))\n"
	    "    0   mounted\n"
	    "    1   incorrect invocation\n"
	    "    2   system error (cannot fork)\n"
	    "    32  mount failure (kbsfs refused the options, no such directory, kbsfs\n"
	    "        binary missing, FUSE unavailable); the reason is on stderr\n",
	    f);
}

static int find_kbsfs(char *out, size_t outlen)
{
	static const char *const fixed[] = {"/usr/local/bin/kbsfs", "/usr/bin/kbsfs",
					    "/usr/sbin/kbsfs"};
	const char *env = getenv("KBSFS_BINARY");
	char self[PATH_MAX];
	ssize_t n;
	size_t i;

	if (env && env[0]) {
		snprintf(out, outlen, "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		if ((size_t)snprintf(out, outlen, "%s/kbsfs", dirname(self)) < outlen &&
		    access(out, X_OK) == 0)
			return 0;
	}
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (access(fixed[i], X_OK) == 0) {
			snprintf(out, outlen, "%s", fixed[i]);
			return 0;
		}
	return -1;
}

int main(int argc, char **argv)
{
	struct mkbs_cmd *cmd = NULL;
	char err[512] = "", bin[PATH_MAX];
	struct stat st;
	int ret = EX_MNT_USAGE, status;
	pid_t pid;

	if (mkbs_parse(argc - 1, argv + 1, &cmd, err, sizeof(err)) != KBS_OK) {
		fprintf(stderr, "mount.kbsfs: %s\n", err);
		goto out;
	}
	if (cmd->help) {
		usage(stdout);
		ret = EX_MNT_OK;
		goto out;
	}
	if (cmd->version) {
		printf("mount.kbsfs 0.1.0\n");
		ret = EX_MNT_OK;
		goto out;
	}
	ret = EX_MNT_FAIL;
	if (stat(cmd->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr,
			"mount.kbsfs: mount point %s does not exist or is not a directory\n",
			cmd->dir);
		goto out;
	}
	if (find_kbsfs(bin, sizeof(bin)) != 0) {
		fprintf(stderr, "mount.kbsfs: kbsfs binary not found (set KBSFS_BINARY)\n");
		goto out;
	}
	if (cmd->verbose)
		fprintf(stderr, "mount.kbsfs: %s %s -o %s\n", bin, cmd->dir, cmd->options);
	if (cmd->fake) {
		ret = EX_MNT_OK;
		goto out;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "mount.kbsfs: fork: %s\n", strerror(errno));
		ret = EX_MNT_SYSERR;
		goto out;
	}
	if (pid == 0) {
		char *const args[] = {bin, cmd->dir, "-o", cmd->options, NULL};

		execv(bin, args);
		fprintf(stderr, "mount.kbsfs: cannot run %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			ret = EX_MNT_SYSERR;
			goto out;
		}
	/* kbsfs (background mode) exits 0 only once the mount is usable */
	ret = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? EX_MNT_OK : EX_MNT_FAIL;
out:
	mkbs_cmd_free(cmd);
	return ret;
}
