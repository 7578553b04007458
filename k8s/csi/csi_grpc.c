// SPDX-License-Identifier: Apache-2.0
#include "k8s/csi/csi_grpc.h"
#include "common/log.h"
#include "k8s/csi/csi.pb-c.h"

#include <errno.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REQ_MAX (4u << 20)

enum method {
	M_PLUGIN_INFO,
	M_PLUGIN_CAPS,
	M_PROBE,
	M_NODE_INFO,
	M_NODE_CAPS,
	M_PUBLISH,
	M_UNPUBLISH,
	M_COUNT,
	M_UNKNOWN = M_COUNT
};

static const char *const method_path[M_COUNT] = {
    "/csi.v1.Identity/GetPluginInfo",	"/csi.v1.Identity/GetPluginCapabilities",
    "/csi.v1.Identity/Probe",		"/csi.v1.Node/NodeGetInfo",
    "/csi.v1.Node/NodeGetCapabilities", "/csi.v1.Node/NodePublishVolume",
    "/csi.v1.Node/NodeUnpublishVolume",
};

struct server;

struct slot {
	struct server *srv;
	int method;
	bool sending;
	grpc_call *call;
	gpr_timespec deadline;
	grpc_metadata_array md;
	grpc_call_details details;
	grpc_byte_buffer *payload;
	grpc_byte_buffer *reply;
	grpc_slice status_msg;
	int cancelled;
};

struct server {
	const struct csi_server_cfg *cfg;
	grpc_server *gs;
	grpc_completion_queue *cq;
	void *registered[M_COUNT];
	struct slot *slots;
	size_t nslots;
	int shutdown_tag;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool shut;
};

static bool arm(struct slot *s)
{
	grpc_call_error e;

	s->sending = false;
	s->call = NULL;
	s->payload = NULL;
	s->reply = NULL;
	grpc_metadata_array_init(&s->md);
	if (s->method == M_UNKNOWN) {
		grpc_call_details_init(&s->details);
		e = grpc_server_request_call(s->srv->gs, &s->call, &s->details, &s->md, s->srv->cq,
					     s->srv->cq, s);
	} else {
		e = grpc_server_request_registered_call(s->srv->gs, s->srv->registered[s->method],
							&s->call, &s->deadline, &s->md, &s->payload,
							s->srv->cq, s->srv->cq, s);
	}
	return e == GRPC_CALL_OK;
}

static void release(struct slot *s)
{
	if (s->call)
		grpc_call_unref(s->call);
	grpc_metadata_array_destroy(&s->md);
	if (s->method == M_UNKNOWN)
		grpc_call_details_destroy(&s->details);
	if (s->payload)
		grpc_byte_buffer_destroy(s->payload);
	if (s->reply)
		grpc_byte_buffer_destroy(s->reply);
	s->call = NULL;
	s->payload = s->reply = NULL;
}

/* Reads the whole request payload; *len 0 and NULL for an empty message. */
static uint8_t *payload_bytes(grpc_byte_buffer *bb, size_t *len)
{
	grpc_byte_buffer_reader r;
	grpc_slice sl;
	uint8_t *p;

	*len = 0;
	if (!bb)
		return NULL;
	if (!grpc_byte_buffer_reader_init(&r, bb))
		return NULL;
	sl = grpc_byte_buffer_reader_readall(&r);
	grpc_byte_buffer_reader_destroy(&r);
	*len = GRPC_SLICE_LENGTH(sl);
	p = malloc(*len ? *len : 1);
	if (p && *len)
		memcpy(p, GRPC_SLICE_START_PTR(sl), *len);
	grpc_slice_unref(sl);
	return p;
}

static grpc_byte_buffer *pack(const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	grpc_slice sl = grpc_slice_malloc(n);
	grpc_byte_buffer *bb;

	protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(sl));
	bb = grpc_raw_byte_buffer_create(&sl, 1);
	grpc_slice_unref(sl);
	return bb;
}

static bool probe_ok(const struct csi_server_cfg *cfg)
{
	return access(cfg->kbsfs_bin, X_OK) == 0 && access("/dev/fuse", R_OK | W_OK) == 0;
}

/* Decodes the request, runs the handler; sets *reply (NULL on error) and the status. */
static void dispatch(struct server *srv, struct slot *s, struct csi_result *res)
{
	const struct csi_server_cfg *cfg = srv->cfg;
	uint8_t *in = NULL;
	size_t inlen = 0, i;

	res->code = CSI_OK;
	snprintf(res->msg, sizeof(res->msg), "ok");
	if (s->method == M_UNKNOWN) {
		res->code = CSI_UNIMPLEMENTED;
		snprintf(res->msg, sizeof(res->msg), "method not implemented by kbsfs-csi");
		return;
	}
	in = payload_bytes(s->payload, &inlen);
	if (s->payload && !in) {
		res->code = CSI_INTERNAL;
		snprintf(res->msg, sizeof(res->msg), "cannot read the request");
		return;
	}
	switch (s->method) {
	case M_PLUGIN_INFO: {
		Csi__V1__GetPluginInfoResponse r = CSI__V1__GET_PLUGIN_INFO_RESPONSE__INIT;

		r.name = (char *)cfg->driver_name;
		r.vendor_version = (char *)"0.1.0";
		s->reply = pack(&r.base);
		break;
	}
	case M_PLUGIN_CAPS: {
		/* a node-only plugin: no controller service, no topology */
		Csi__V1__GetPluginCapabilitiesResponse r =
		    CSI__V1__GET_PLUGIN_CAPABILITIES_RESPONSE__INIT;

		s->reply = pack(&r.base);
		break;
	}
	case M_PROBE: {
		Csi__V1__ProbeResponse r = CSI__V1__PROBE_RESPONSE__INIT;
		Google__Protobuf__BoolValue ready = GOOGLE__PROTOBUF__BOOL_VALUE__INIT;

		if (!probe_ok(cfg)) {
			res->code = CSI_FAILED_PRECONDITION;
			snprintf(res->msg, sizeof(res->msg),
				 "kbsfs binary or /dev/fuse not usable");
			break;
		}
		ready.value = 1;
		r.ready = &ready;
		s->reply = pack(&r.base);
		break;
	}
	case M_NODE_INFO: {
		Csi__V1__NodeGetInfoResponse r = CSI__V1__NODE_GET_INFO_RESPONSE__INIT;

		r.node_id = (char *)cfg->node_id;
		s->reply = pack(&r.base);
		break;
	}
	case M_NODE_CAPS: {
		/* no STAGE_UNSTAGE, no stats, no expansion: publish/unpublish only */
		Csi__V1__NodeGetCapabilitiesResponse r =
		    CSI__V1__NODE_GET_CAPABILITIES_RESPONSE__INIT;

		s->reply = pack(&r.base);
		break;
	}
	case M_PUBLISH: {
		Csi__V1__NodePublishVolumeRequest *q =
		    csi__v1__node_publish_volume_request__unpack(NULL, inlen, in);
		Csi__V1__NodePublishVolumeResponse r = CSI__V1__NODE_PUBLISH_VOLUME_RESPONSE__INIT;
		struct csi_publish_req req;
		struct csi_attr *attrs = NULL;

		if (!q) {
			res->code = CSI_INVALID_ARGUMENT;
			snprintf(res->msg, sizeof(res->msg), "malformed NodePublishVolumeRequest");
			break;
		}
		memset(&req, 0, sizeof(req));
		req.volume_id = q->volume_id;
		req.target_path = q->target_path;
		req.readonly = q->readonly;
		if (q->volume_capability) {
			req.has_capability = true;
			if (q->volume_capability->access_type_case ==
			    CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_MOUNT)
				req.access_type = CSI_ACCESS_MOUNT;
			else if (q->volume_capability->access_type_case ==
				 CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_BLOCK)
				req.access_type = CSI_ACCESS_BLOCK;
			if (q->volume_capability->access_mode)
				req.access_mode = (int)q->volume_capability->access_mode->mode;
		}
		attrs = calloc(q->n_volume_context ? q->n_volume_context : 1, sizeof(*attrs));
		if (!attrs) {
			res->code = CSI_UNAVAILABLE;
			snprintf(res->msg, sizeof(res->msg), "out of memory");
		} else {
			for (i = 0; i < q->n_volume_context; i++) {
				attrs[i].key = q->volume_context[i]->key;
				attrs[i].value = q->volume_context[i]->value;
			}
			req.ctx = attrs;
			req.nctx = q->n_volume_context;
			csi_node_publish(cfg->node, &req, res);
			if (res->code == CSI_OK)
				s->reply = pack(&r.base);
		}
		free(attrs);
		csi__v1__node_publish_volume_request__free_unpacked(q, NULL);
		break;
	}
	case M_UNPUBLISH: {
		Csi__V1__NodeUnpublishVolumeRequest *q =
		    csi__v1__node_unpublish_volume_request__unpack(NULL, inlen, in);
		Csi__V1__NodeUnpublishVolumeResponse r =
		    CSI__V1__NODE_UNPUBLISH_VOLUME_RESPONSE__INIT;

		if (!q) {
			res->code = CSI_INVALID_ARGUMENT;
			snprintf(res->msg, sizeof(res->msg),
				 "malformed NodeUnpublishVolumeRequest");
			break;
		}
		csi_node_unpublish(cfg->node, q->volume_id, q->target_path, res);
		if (res->code == CSI_OK)
			s->reply = pack(&r.base);
		csi__v1__node_unpublish_volume_request__free_unpacked(q, NULL);
		break;
	}
	default:
		break;
	}
	free(in);
}

static void respond(struct server *srv, struct slot *s)
{
	struct csi_result res;
	grpc_op ops[4];
	size_t n = 0;

	dispatch(srv, s, &res);
	if (res.code != CSI_OK)
		log_info("kbsfs-csi: %s -> code %d: %s",
			 s->method == M_UNKNOWN ? "unknown method" : method_path[s->method],
			 res.code, res.msg);
	memset(ops, 0, sizeof(ops));
	ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
	n++;
	ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[n].data.recv_close_on_server.cancelled = &s->cancelled;
	n++;
	if (res.code == CSI_OK && s->reply) {
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n].data.send_message.send_message = s->reply;
		n++;
	}
	s->status_msg = grpc_slice_from_copied_string(res.msg);
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = (grpc_status_code)res.code;
	ops[n].data.send_status_from_server.status_details = &s->status_msg;
	n++;
	s->sending = true;
	if (grpc_call_start_batch(s->call, ops, n, s, NULL) != GRPC_CALL_OK) {
		log_error("kbsfs-csi: cannot send a reply");
		grpc_slice_unref(s->status_msg);
		release(s);
		if (!arm(s))
			log_error("kbsfs-csi: cannot re-arm a request slot");
	}
}

static void *poll_thread(void *arg)
{
	struct server *srv = arg;

	for (;;) {
		grpc_event ev =
		    grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		struct slot *s;

		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type != GRPC_OP_COMPLETE)
			continue;
		if (ev.tag == &srv->shutdown_tag) {
			pthread_mutex_lock(&srv->lock);
			srv->shut = true;
			pthread_cond_broadcast(&srv->cond);
			pthread_mutex_unlock(&srv->lock);
			continue;
		}
		s = ev.tag;
		if (s->sending) {
			grpc_slice_unref(s->status_msg);
			release(s);
			if (!srv->shut && !arm(s))
				log_warn("kbsfs-csi: request slot not re-armed (shutting down)");
			continue;
		}
		if (!ev.success) {
			/* the server is shutting down: this slot never got a call */
			release(s);
			continue;
		}
		respond(srv, s);
	}
	return NULL;
}

static const char *endpoint_addr(const char *ep, char *out, size_t outlen)
{
	if (!strncmp(ep, "unix://", 7))
		snprintf(out, outlen, "unix:%s", ep + 7);
	else if (!strncmp(ep, "unix:", 5))
		snprintf(out, outlen, "%s", ep);
	else
		snprintf(out, outlen, "unix:%s", ep);
	return out + 5;
}

int csi_server_run(const struct csi_server_cfg *cfg)
{
	struct server srv;
	pthread_t th[16];
	grpc_server_credentials *creds;
	char addr[4200];
	const char *path;
	sigset_t set;
	int nth = cfg->threads > 0 && cfg->threads <= 16 ? cfg->threads : 4, i, sig, ret = 1;
	size_t k, started = 0;

	memset(&srv, 0, sizeof(srv));
	srv.cfg = cfg;
	pthread_mutex_init(&srv.lock, NULL);
	pthread_cond_init(&srv.cond, NULL);
	/* signals go to sigwait() below, not to gRPC's threads */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	grpc_init();
	srv.cq = grpc_completion_queue_create_for_next(NULL);
	srv.gs = grpc_server_create(NULL, NULL);
	for (i = 0; i < M_COUNT; i++)
		srv.registered[i] = grpc_server_register_method(
		    srv.gs, method_path[i], NULL, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
	grpc_server_register_completion_queue(srv.gs, srv.cq, NULL);
	path = endpoint_addr(cfg->endpoint, addr, sizeof(addr));
	if (unlink(path) != 0 && errno != ENOENT)
		log_warn("kbsfs-csi: cannot remove stale %s: %s", path, strerror(errno));
	creds = grpc_insecure_server_credentials_create();
	if (!grpc_server_add_http2_port(srv.gs, addr, creds)) {
		grpc_server_credentials_release(creds);
		log_error("kbsfs-csi: cannot listen on %s", cfg->endpoint);
		grpc_server_destroy(srv.gs);
		goto out_cq;
	}
	grpc_server_credentials_release(creds);
	grpc_server_start(srv.gs);
	/* call slots: several for the blocking node calls, two for each other method */
	srv.nslots = 2 * M_COUNT + 6 + 1;
	srv.slots = calloc(srv.nslots, sizeof(*srv.slots));
	if (!srv.slots)
		goto out_srv;
	for (k = 0; k < srv.nslots; k++) {
		struct slot *s = &srv.slots[k];

		s->srv = &srv;
		s->method = k == srv.nslots - 1 ? M_UNKNOWN
			    : k < 2 * M_COUNT	? (int)(k % M_COUNT)
						: (k % 2 ? M_PUBLISH : M_UNPUBLISH);
		if (!arm(s)) {
			log_error("kbsfs-csi: cannot request calls");
			goto out_srv;
		}
	}
	for (i = 0; i < nth; i++) {
		if (pthread_create(&th[i], NULL, poll_thread, &srv) != 0)
			break;
		started++;
	}
	if (!started)
		goto out_srv;
	log_info("kbsfs-csi: serving %s on %s (node %s)", cfg->driver_name, cfg->endpoint,
		 cfg->node_id);
	ret = 0;
	while (sigwait(&set, &sig) != 0)
		;
	log_info("kbsfs-csi: signal %d, shutting down (kbsfs mounts stay)", sig);
out_srv:
	grpc_server_shutdown_and_notify(srv.gs, srv.cq, &srv.shutdown_tag);
	grpc_server_cancel_all_calls(srv.gs);
	if (started) {
		pthread_mutex_lock(&srv.lock);
		while (!srv.shut)
			pthread_cond_wait(&srv.cond, &srv.lock);
		pthread_mutex_unlock(&srv.lock);
	} else {
		grpc_event ev;

		do {
			ev = grpc_completion_queue_next(srv.cq, gpr_inf_future(GPR_CLOCK_REALTIME),
							NULL);
			if (ev.type == GRPC_OP_COMPLETE && ev.tag != &srv.shutdown_tag)
				release(ev.tag);
		} while (!(ev.type == GRPC_OP_COMPLETE && ev.tag == &srv.shutdown_tag));
	}
	grpc_server_destroy(srv.gs);
out_cq:
	grpc_completion_queue_shutdown(srv.cq);
	for (k = 0; k < started; k++)
		pthread_join(th[k], NULL);
	if (!started) {
		while (grpc_completion_queue_next(srv.cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
			   .type != GRPC_QUEUE_SHUTDOWN)
			;
	}
	grpc_completion_queue_destroy(srv.cq);
	grpc_shutdown();
	free(srv.slots);
	unlink(path);
	pthread_mutex_destroy(&srv.lock);
	pthread_cond_destroy(&srv.cond);
	return ret;
}
