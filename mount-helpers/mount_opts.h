/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_MOUNT_OPTS_H
#define KBS_MOUNT_OPTS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * mount.kbsfs argument handling: turns what mount(8) hands a helper
 * ("SPEC DIR [-sfnv] [-o OPTIONS] [-t TYPE]") into the kbsfs command line.
 *
 * SPEC forms:  kbs:///                     whole KBS tree (kbs_url from -o)
 *              kbs:///repo[/type]          the same; names the part the admin meant
 *              kbs:///repo/type/tag        also declares that resource (listed before access)
 *              kbs://HOST[:PORT]/...       kbs_url defaults to https://HOST[:PORT]
 *              kbsfs | none                nothing but the options
 * Options dropped (fstab/userspace only, or contrary to kbsfs): defaults, auto, noauto,
 * user, nouser, users, owner, group, _netdev, nofail, rw, ro, comment=*, x-*.
 * Every other option is passed to kbsfs unchanged, in order.
 */
struct mkbs_cmd {
	char *spec;	/* as given */
	char *dir;	/* as given */
	char *options;	/* comma-joined options for kbsfs -o (never empty: "ro" at least) */
	char *resource; /* "repo/type/tag" from SPEC, or NULL */
	bool fake;	/* -f: do everything but mount */
	bool sloppy;	/* -s */
	bool verbose;	/* -v */
	bool no_mtab;	/* -n (no effect: there is no /etc/mtab to write) */
	bool help;	/* -h / --help */
	bool version;	/* -V / --version */
};

/*
 * Parses a mount helper command line (argv[0] excluded). On error returns KBS_ERR_INVAL with
 * a message in err (usage error: mount(8) exit status 1). *out is NULL on error.
 */
int mkbs_parse(int argc, char *const argv[], struct mkbs_cmd **out, char *err, size_t errlen);

/*
 * Processes one SPEC + option string (the core of mkbs_parse, exposed for tests and
 * fuzzing). cmd->spec/dir must be set; fills options/resource.
 */
int mkbs_process(struct mkbs_cmd *cmd, const char *optstr, char *err, size_t errlen);

/*
 * Guest side of kbsfs-csi's guest mode: turns a .kbsfs-volume.json descriptor (kbsfs_volume 1,
 * resources[].uri, uid, gid, resources[].mode, refresh_seconds) into kbsfs options
 * ("resources=a/b/c:d/e/f,uid=..,gid=..,mode=..,refresh=.."). The descriptor never carries
 * the KBS URL: that comes from -o (or config=, e.g. the guest's measured init-data cdh.toml).
 * *opts: free(). Returns KBS_OK or KBS_ERR_PARSE/INVAL with a message in err.
 */
int mkbs_descriptor_options(const char *json, size_t len, char **opts, char *err, size_t errlen);

/* True if the option (without value) is one mount.kbsfs drops. */
bool mkbs_option_dropped(const char *opt);

/* Frees a command; NULL is a no-op. */
void mkbs_cmd_free(struct mkbs_cmd *cmd);

#endif
