// SPDX-License-Identifier: Apache-2.0
/* kbsfs-csi gRPC front on the shared unary server of common/grpc_server.c. */
#include "k8s/csi/csi_grpc.h"
#include "common/err.h"
#include "common/grpc_server.h"
#include "common/log.h"
#include "k8s/csi/csi.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool probe_ok(const struct csi_server_cfg *cfg)
{
	return access(cfg->kbsfs_bin, X_OK) == 0 && access("/dev/fuse", R_OK | W_OK) == 0;
}

/* Answers a CSI result: the reply message on OK, else the status (CSI codes are gRPC's). */
static void answer(struct grpc_srv_reply *rep, const struct csi_result *res,
		   const ProtobufCMessage *m)
{
	if (res->code != CSI_OK)
		grpc_srv_reply_status(rep, (enum grpc_srv_status)res->code, "%s", res->msg);
	else if (m)
		grpc_srv_reply_message(rep, m);
}

static void on_plugin_info(void *ctx, const ProtobufCMessage *req, const uint8_t *raw,
			   size_t rawlen, struct grpc_srv_reply *rep)
{
	const struct csi_server_cfg *cfg = ctx;
	Csi__V1__GetPluginInfoResponse r = CSI__V1__GET_PLUGIN_INFO_RESPONSE__INIT;

	r.name = (char *)cfg->driver_name;
	r.vendor_version = (char *)"0.1.0";
	grpc_srv_reply_message(rep, &r.base);
}

static void on_plugin_caps(void *ctx, const ProtobufCMessage *req, const uint8_t *raw,
			   size_t rawlen, struct grpc_srv_reply *rep)
{
	/* a node-only plugin: no controller service, no topology */
	Csi__V1__GetPluginCapabilitiesResponse r = CSI__V1__GET_PLUGIN_CAPABILITIES_RESPONSE__INIT;

	grpc_srv_reply_message(rep, &r.base);
}

static void on_probe(void *ctx, const ProtobufCMessage *req, const uint8_t *raw, size_t rawlen,
		     struct grpc_srv_reply *rep)
{
	Csi__V1__ProbeResponse r = CSI__V1__PROBE_RESPONSE__INIT;
	Google__Protobuf__BoolValue ready = GOOGLE__PROTOBUF__BOOL_VALUE__INIT;

	if (!probe_ok(ctx)) {
		grpc_srv_reply_status(rep, GRPC_SRV_FAILED_PRECONDITION,
				      "kbsfs binary or /dev/fuse not usable");
		return;
	}
	ready.value = 1;
	r.ready = &ready;
	grpc_srv_reply_message(rep, &r.base);
}

static void on_node_info(void *ctx, const ProtobufCMessage *req, const uint8_t *raw,
			 size_t rawlen, struct grpc_srv_reply *rep)
{
	const struct csi_server_cfg *cfg = ctx;
	Csi__V1__NodeGetInfoResponse r = CSI__V1__NODE_GET_INFO_RESPONSE__INIT;

	r.node_id = (char *)cfg->node_id;
	grpc_srv_reply_message(rep, &r.base);
}

static void on_node_caps(void *ctx, const ProtobufCMessage *req, const uint8_t *raw,
			 size_t rawlen, struct grpc_srv_reply *rep)
{
	/* no STAGE_UNSTAGE, no stats, no expansion: publish/unpublish only */
	Csi__V1__NodeGetCapabilitiesResponse r = CSI__V1__NODE_GET_CAPABILITIES_RESPONSE__INIT;

	grpc_srv_reply_message(rep, &r.base);
}

static void on_publish(void *ctx, const ProtobufCMessage *req, const uint8_t *raw,
		       size_t rawlen, struct grpc_srv_reply *rep)
{
	const struct csi_server_cfg *cfg = ctx;
	const Csi__V1__NodePublishVolumeRequest *q = (const void *)req;
	Csi__V1__NodePublishVolumeResponse r = CSI__V1__NODE_PUBLISH_VOLUME_RESPONSE__INIT;
	struct csi_publish_req pr;
	struct csi_attr *attrs;
	struct csi_result res = {CSI_OK, "ok"};
	size_t i;

	memset(&pr, 0, sizeof(pr));
	pr.volume_id = q->volume_id;
	pr.target_path = q->target_path;
	pr.readonly = q->readonly;
	if (q->volume_capability) {
		pr.has_capability = true;
		if (q->volume_capability->access_type_case ==
		    CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_MOUNT)
			pr.access_type = CSI_ACCESS_MOUNT;
		else if (q->volume_capability->access_type_case ==
			 CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_BLOCK)
			pr.access_type = CSI_ACCESS_BLOCK;
		if (q->volume_capability->access_mode)
			pr.access_mode = (int)q->volume_capability->access_mode->mode;
	}
	attrs = calloc(q->n_volume_context ? q->n_volume_context : 1, sizeof(*attrs));
	if (!attrs) {
		grpc_srv_reply_status(rep, GRPC_SRV_UNAVAILABLE, "out of memory");
		return;
	}
	for (i = 0; i < q->n_volume_context; i++) {
		attrs[i].key = q->volume_context[i]->key;
		attrs[i].value = q->volume_context[i]->value;
	}
	pr.ctx = attrs;
	pr.nctx = q->n_volume_context;
	csi_node_publish(cfg->node, &pr, &res);
	free(attrs);
	answer(rep, &res, &r.base);
}

static void on_unpublish(void *ctx, const ProtobufCMessage *req, const uint8_t *raw,
			 size_t rawlen, struct grpc_srv_reply *rep)
{
	const struct csi_server_cfg *cfg = ctx;
	const Csi__V1__NodeUnpublishVolumeRequest *q = (const void *)req;
	Csi__V1__NodeUnpublishVolumeResponse r = CSI__V1__NODE_UNPUBLISH_VOLUME_RESPONSE__INIT;
	struct csi_result res = {CSI_OK, "ok"};

	csi_node_unpublish(cfg->node, q->volume_id, q->target_path, &res);
	answer(rep, &res, &r.base);
}

/* unix:///path, unix:/path or /path -> "unix:/path" */
static void endpoint_addr(const char *ep, char *out, size_t outlen)
{
	if (!strncmp(ep, "unix://", 7))
		snprintf(out, outlen, "unix:%s", ep + 7);
	else if (!strncmp(ep, "unix:", 5))
		snprintf(out, outlen, "%s", ep);
	else
		snprintf(out, outlen, "unix:%s", ep);
}

int csi_server_run(const struct csi_server_cfg *cfg)
{
	static const struct {
		const char *path;
		const ProtobufCMessageDescriptor *in;
		grpc_srv_handler h;
		unsigned slots;
	} m[] = {
	    {"/csi.v1.Identity/GetPluginInfo", NULL, on_plugin_info, 2},
	    {"/csi.v1.Identity/GetPluginCapabilities", NULL, on_plugin_caps, 2},
	    {"/csi.v1.Identity/Probe", NULL, on_probe, 2},
	    {"/csi.v1.Node/NodeGetInfo", NULL, on_node_info, 2},
	    {"/csi.v1.Node/NodeGetCapabilities", NULL, on_node_caps, 2},
	    /* several slots for the blocking node calls */
	    {"/csi.v1.Node/NodePublishVolume", &csi__v1__node_publish_volume_request__descriptor,
	     on_publish, 5},
	    {"/csi.v1.Node/NodeUnpublishVolume",
	     &csi__v1__node_unpublish_volume_request__descriptor, on_unpublish, 5},
	};
	struct grpc_srv *srv = NULL;
	char addr[4200];
	int sig, ret = 1;

	endpoint_addr(cfg->endpoint, addr, sizeof(addr));
	if (grpc_srv_new(&srv) != KBS_OK)
		goto out;
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (grpc_srv_add_method(srv, m[i].path, m[i].in, m[i].h, (void *)cfg, m[i].slots) !=
		    KBS_OK) {
			log_error("kbsfs-csi: cannot register %s", m[i].path);
			goto out;
		}
	if (grpc_srv_listen(srv, addr, NULL) != KBS_OK) {
		log_error("kbsfs-csi: cannot listen on %s", cfg->endpoint);
		goto out;
	}
	if (grpc_srv_start(srv, cfg->threads > 0 && cfg->threads <= 16 ? cfg->threads : 4) !=
	    KBS_OK) {
		log_error("kbsfs-csi: cannot start the gRPC server");
		goto out;
	}
	log_info("kbsfs-csi: serving %s on %s (node %s)", cfg->driver_name, cfg->endpoint,
		 cfg->node_id);
	ret = 0;
	sig = grpc_srv_wait_signal();
	log_info("kbsfs-csi: signal %d, shutting down (kbsfs mounts stay)", sig);
out:
	grpc_srv_free(srv);
	return ret;
}
