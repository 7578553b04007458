/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_CSI_GRPC_H
#define KBS_CSI_GRPC_H

#include "k8s/csi/csi_node.h"

/*
 * kbsfs-csi gRPC front: the CSI Identity and Node services on gRPC C core, requests and
 * replies coded with protobuf-c. Unregistered methods are answered UNIMPLEMENTED.
 */
struct csi_server_cfg {
	const char *endpoint;	 /* unix:///path, unix:/path or /path */
	const char *driver_name; /* GetPluginInfo name */
	const char *node_id;
	const char *kbsfs_bin; /* Probe checks it is executable */
	struct csi_node *node;
	int threads; /* polling threads (handlers may block) */
};

/* Serves until SIGTERM/SIGINT. Returns 0, or 1 when the endpoint cannot be served. */
int csi_server_run(const struct csi_server_cfg *cfg);

#endif
