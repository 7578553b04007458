// SPDX-License-Identifier: Apache-2.0
/* kbsfs-csi: CSI node plugin serving kbsfs volumes (see kbsfs-csi --help, docs/csi.md). */
#include "common/err.h"
#include "common/log.h"
#include "k8s/csi/csi_grpc.h"
#include "k8s/csi/csi_node.h"

#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fputs(
	    "NAME\n"
	    "    kbsfs-csi - Kubernetes CSI node plugin for kbsfs (attestation-gated secrets)\n"
	    "\n"
	    "SYNOPSIS\n"
	    "    kbsfs-csi --endpoint unix:///csi/csi.sock --nodeid NODE [OPTION...]\n"
	    "\n"
	    "DESCRIPTION\n"
	    "    Serves the CSI Identity and Node services (GetPluginInfo,\n"
	    "    GetPluginCapabilities, Probe, NodeGetInfo, NodeGetCapabilities,\n"
	    "    NodePublishVolume, NodeUnpublishVolume) over gRPC on a unix socket, for\n"
	    "    ephemeral inline volumes. NodePublishVolume mounts kbsfs at the target path\n"
	    "    with the pod's volumeAttributes; the kbsfs daemon runs in its own session\n"
	    "    and survives a restart of the plugin, which re-adopts its mounts from\n"
	    "    /proc/self/mountinfo and its per-volume state files. Other RPCs answer\n"
	    "    UNIMPLEMENTED.\n"
	    "\n"
	    "VOLUME ATTRIBUTES\n"
	    "    resources     comma-separated repo/type/tag (or kbs:///repo/type/tag); required\n"
	    "    kbs_url       KBS base URL (default --kbs-url; overriding it needs\n"
	    "                  --allow-volume-kbs-url)\n"
	    "    kbs_cert      PEM file on the node;  kbs_cert_pem  inline PEM\n"
	    "    tee           kbsfs tee= (sample only with --allow-sample)\n"
	    "    uid, gid      owner of the files (decimal);  mode  octal bits (default 0400)\n"
	    "    refresh       seconds between background re-fetches\n"
	    "    placement     node (default) or guest (kata CoCo: a read-only tmpfs with\n"
	    "                  signed sealed references, no secret on the host)\n"
	    "    Unknown attributes are refused (INVALID_ARGUMENT). The CSIDriver object must\n"
	    "    set podInfoOnMount: true; readOnly: true is required.\n"
	    "\n"
	    "OPTIONS\n"
	    "    --endpoint EP        unix:///path (also unix:/path or /path); default\n"
	    "                         $CSI_ENDPOINT or unix:///csi/csi.sock\n"
	    "    --nodeid NODE        node id for NodeGetInfo (alias --node-id; default\n"
	    "                         $KUBE_NODE_NAME or the host name)\n"
	    "    --drivername NAME    CSI driver name (default csi.kbsfs.io)\n"
	    "    --state-dir DIR      per-volume state files (default /var/lib/kbsfs-csi)\n"
	    "    --kbsfs PATH         kbsfs daemon (default: next to kbsfs-csi, else\n"
	    "                         /usr/local/bin/kbsfs)\n"
	    "    --launcher CMD       argv prefix for kbsfs, space-separated, e.g.\n"
	    "                         \"nsenter -t 1 -m -p --\" to run it in the host's\n"
	    "                         namespaces so it survives the plugin container\n"
	    "    --kbs-url URL        default KBS;  --kbs-cert FILE  its CA certificate\n"
	    "    --allow-volume-kbs-url  let volumes name another KBS\n"
	    "    --allow-sample       allow tee=sample volumes (testing only)\n"
	    "    --sealing-key FILE   guest mode: PEM P-256 private key signing the sealed\n"
	    "                         references (ES256)\n"
	    "    --sealing-kid KID    guest mode: kid of that key as the guest's CDH resolves\n"
	    "                         it (kbs:///repo/type/tag of the public JWK, or a name)\n"
	    "    --kata-mountinfo-dir DIR  guest mode: also write a kata direct-volume\n"
	    "                         DIR/<base64url(target)>/mountInfo.json describing a\n"
	    "                         guest kbsfs mount (off by default: needs a kata runtime\n"
	    "                         patched to mount kbsfs in the guest; stock kata fails\n"
	    "                         the pod). Usually /run/kata-containers/shared/direct-volumes\n"
	    "    --threads N          gRPC polling threads (default 4)\n"
	    "    --log-level L        error, warn, info (default), debug;  --v=N  accepted\n"
	    "    -h, --help           this text;  --version  version\n"
	    "\n"
	    "EXIT STATUS\n"
	    "    0 after SIGTERM/SIGINT (kbsfs mounts stay), 1 start-up failure, 2 usage\n",
	    f);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"endpoint", required_argument, NULL, 'e'},
					   {"csi-address", required_argument, NULL, 'e'},
					   {"nodeid", required_argument, NULL, 'n'},
					   {"node-id", required_argument, NULL, 'n'},
					   {"drivername", required_argument, NULL, 'D'},
					   {"driver-name", required_argument, NULL, 'D'},
					   {"state-dir", required_argument, NULL, 's'},
					   {"kbsfs", required_argument, NULL, 'k'},
					   {"launcher", required_argument, NULL, 'L'},
					   {"kbs-url", required_argument, NULL, 'u'},
					   {"kbs-cert", required_argument, NULL, 'c'},
					   {"allow-volume-kbs-url", no_argument, NULL, 'U'},
					   {"allow-sample", no_argument, NULL, 'S'},
					   {"threads", required_argument, NULL, 't'},
					   {"sealing-key", required_argument, NULL, 'K'},
					   {"sealing-kid", required_argument, NULL, 'I'},
					   {"kata-mountinfo-dir", required_argument, NULL, 'M'},
					   {"log-level", required_argument, NULL, 'l'},
					   {"v", required_argument, NULL, 'v'},
					   {"version", no_argument, NULL, 'V'},
					   {"help", no_argument, NULL, 'h'},
					   {NULL, 0, NULL, 0}};
	struct csi_node_cfg nc;
	struct csi_server_cfg sc;
	struct csi_node *node = NULL;
	char host[256] = "", kbsfs[PATH_MAX] = "", self[PATH_MAX];
	const char *env;
	ssize_t n;
	int c, lvl, ret = 2;

	log_setup("kbsfs-csi", LOG_LVL_INFO, LOG_TARGET_STDERR);
	memset(&nc, 0, sizeof(nc));
	memset(&sc, 0, sizeof(sc));
	env = getenv("CSI_ENDPOINT");
	sc.endpoint = env && env[0] ? env : "unix:///csi/csi.sock";
	env = getenv("KUBE_NODE_NAME");
	sc.node_id = env && env[0] ? env : NULL;
	sc.driver_name = "csi.kbsfs.io";
	sc.threads = 4;
	nc.state_dir = "/var/lib/kbsfs-csi";
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'e':
			sc.endpoint = optarg;
			break;
		case 'n':
			sc.node_id = optarg;
			break;
		case 'D':
			sc.driver_name = optarg;
			break;
		case 's':
			nc.state_dir = optarg;
			break;
		case 'k':
			snprintf(kbsfs, sizeof(kbsfs), "%s", optarg);
			break;
		case 'L':
			nc.launcher = optarg;
			break;
		case 'u':
			nc.default_kbs_url = optarg;
			break;
		case 'c':
			nc.default_kbs_cert = optarg;
			break;
		case 'U':
			nc.allow_user_kbs_url = true;
			break;
		case 'S':
			nc.allow_sample = true;
			break;
		case 't':
			sc.threads = atoi(optarg);
			break;
		case 'K':
			nc.sealing_key = optarg;
			break;
		case 'I':
			nc.sealing_kid = optarg;
			break;
		case 'M':
			nc.kata_mountinfo_dir = optarg;
			break;
		case 'l':
			lvl = log_level_parse(optarg);
			if (lvl < 0) {
				fprintf(stderr, "kbsfs-csi: unknown log level %s\n", optarg);
				goto out;
			}
			log_set_level((enum log_level)lvl);
			break;
		case 'v':
			if (atoi(optarg) >= 5)
				log_set_level(LOG_LVL_DEBUG);
			break;
		case 'V':
			printf("kbsfs-csi 0.1.0\n");
			ret = 0;
			goto out;
		case 'h':
			usage(stdout);
			ret = 0;
			goto out;
		default:
			fprintf(stderr, "kbsfs-csi: see --help\n");
			goto out;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "kbsfs-csi: unexpected argument %s (see --help)\n", argv[optind]);
		goto out;
	}
	if (!sc.node_id) {
		if (gethostname(host, sizeof(host) - 1) != 0 || !host[0]) {
			fprintf(stderr, "kbsfs-csi: --nodeid is required\n");
			goto out;
		}
		sc.node_id = host;
	}
	if (!sc.driver_name[0] || strlen(sc.driver_name) > 63) {
		fprintf(stderr, "kbsfs-csi: invalid --drivername\n");
		goto out;
	}
	if (!kbsfs[0]) {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n > 0) {
			self[n] = 0;
			snprintf(kbsfs, sizeof(kbsfs), "%s/kbsfs", dirname(self));
		}
		if (!kbsfs[0] || access(kbsfs, X_OK) != 0)
			snprintf(kbsfs, sizeof(kbsfs), "/usr/local/bin/kbsfs");
	}
	ret = 1;
	nc.node_id = sc.node_id;
	nc.kbsfs_bin = kbsfs;
	if (csi_node_new(&nc, &node) != KBS_OK) {
		fprintf(stderr, "kbsfs-csi: cannot use state directory %s\n", nc.state_dir);
		goto out;
	}
	log_info("kbsfs-csi: %d existing volume(s) adopted", csi_node_adopt(node));
	sc.node = node;
	sc.kbsfs_bin = kbsfs;
	ret = csi_server_run(&sc);
out:
	csi_node_free(node);
	return ret;
}
