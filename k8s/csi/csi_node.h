/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_CSI_NODE_H
#define KBS_CSI_NODE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * kbsfs-csi node logic, independent of gRPC/protobuf: request validation with the CSI spec's
 * error codes, volume attributes -> kbsfs options, per-volume state files, mountinfo lookups,
 * spawning kbsfs daemons that outlive the plugin, unmounting, re-adoption after a restart.
 */

/* gRPC status codes used by the CSI spec */
enum csi_code {
	CSI_OK = 0,
	CSI_INVALID_ARGUMENT = 3,
	CSI_NOT_FOUND = 5,
	CSI_ALREADY_EXISTS = 6,
	CSI_FAILED_PRECONDITION = 9,
	CSI_ABORTED = 10,
	CSI_UNIMPLEMENTED = 12,
	CSI_INTERNAL = 13,
	CSI_UNAVAILABLE = 14,
};

#define CSI_MSG_MAX 512

struct csi_result {
	int code;
	char msg[CSI_MSG_MAX];
};

struct csi_attr {
	const char *key;
	const char *value;
};

enum csi_access_type { CSI_ACCESS_NONE = 0, CSI_ACCESS_MOUNT, CSI_ACCESS_BLOCK };

struct csi_publish_req {
	const char *volume_id;
	const char *target_path;
	bool has_capability;
	enum csi_access_type access_type;
	int access_mode; /* csi.v1 AccessMode.Mode value */
	bool readonly;
	const struct csi_attr *ctx; /* volume_context */
	size_t nctx;
};

struct csi_node_cfg {
	const char *node_id;
	const char *state_dir;	     /* per-volume state files (created 0700) */
	const char *kbsfs_bin;	     /* kbsfs daemon */
	const char *launcher;	     /* optional argv prefix (space-separated), e.g. nsenter */
	const char *default_kbs_url; /* used when a volume names none */
	const char *default_kbs_cert;
	const char *mountinfo;	 /* default /proc/self/mountinfo */
	bool allow_sample;	 /* admin opt-in for tee=sample volumes (testing) */
	bool allow_user_kbs_url; /* let volumes override the default KBS URL */
	const char *sealing_key; /* guest mode: PEM P-256 key signing sealed references */
	const char *sealing_kid; /* guest mode: kid of that key (kbs:///... or a file name) */
	/*
	 * Guest mode, off when NULL: also write kata's direct-volume
	 * <dir>/<base64url(target_path)>/mountInfo.json describing an in-guest kbsfs mount.
	 * Only for a kata runtime patched to consume it; stock kata fails such a pod.
	 */
	const char *kata_mountinfo_dir;
};

/* Validated volume: the kbsfs -o string and a digest of the parameters that matter. */
struct csi_volume {
	char options[4096];
	char digest[65];      /* hex SHA-256 of the compared parameters */
	const char *cert_pem; /* kbs_cert_pem attribute (points into the request), or NULL */
	char ns[256], pod[256], sa[256], pod_uid[256];
	bool guest;	      /* placement=guest: sealed references on a tmpfs */
	char resources[3000]; /* colon-separated repo/type/tag */
	char uid[16], gid[16], mode[8], refresh[16];
};

struct csi_node;

/* Creates the node service; makes state_dir. Returns KBS_OK or an error code. */
int csi_node_new(const struct csi_node_cfg *cfg, struct csi_node **out);

/* Frees the node service (kbsfs daemons keep running); NULL is a no-op. */
void csi_node_free(struct csi_node *n);

/*
 * Validates the volume attributes (kbsfs option names, kubelet's pod keys) and builds the
 * kbsfs options. Returns CSI_OK or CSI_INVALID_ARGUMENT with a message that never quotes a
 * value (values may carry tokens).
 */
int csi_volume_parse(const struct csi_node_cfg *cfg, const struct csi_publish_req *req,
		     struct csi_volume *vol, struct csi_result *res);

/* NodePublishVolume: validation order and idempotency per CSI spec §NodePublishVolume. */
void csi_node_publish(struct csi_node *n, const struct csi_publish_req *req,
		      struct csi_result *res);

/* NodeUnpublishVolume: unmount + rmdir; OK for unknown volumes and missing paths. */
void csi_node_unpublish(struct csi_node *n, const char *volume_id, const char *target_path,
			struct csi_result *res);

/*
 * After a restart: keeps state files whose target is still a kbsfs mount (adopted), removes
 * the others; logs kbsfs mounts without state. Returns the number adopted.
 */
int csi_node_adopt(struct csi_node *n);

/* True for the read-only access modes (SINGLE_NODE_READER_ONLY, MULTI_NODE_READER_ONLY) that
 * a static ReadOnlyMany PV brings: the same volume may then be published at several targets. */
bool csi_access_mode_shared(int access_mode);

/*
 * The kata direct-volume mountInfo.json text for a guest-mode volume (no secrets: resource
 * names and file attributes only; the guest takes the KBS from its init-data). malloc'ed.
 */
char *csi_kata_mountinfo_json(const char *volume_id, const struct csi_volume *vol);

/* kata's directory name for a volume path: URL-safe base64 with '=' padding. */
int csi_kata_volume_dir_name(const char *target_path, char *out, size_t outlen);

/*
 * Finds the top-most mount at `path` in mountinfo text; copies its fstype and source.
 * Returns KBS_OK, KBS_ERR_NOTFOUND, or KBS_ERR_PARSE for a malformed line.
 */
int csi_mountinfo_find(const char *text, const char *path, char *fstype, size_t fslen, char *source,
		       size_t srclen);

#endif
