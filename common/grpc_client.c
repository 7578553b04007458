// SPDX-License-Identifier: Apache-2.0
/*
 * gRPC C core is loaded with dlopen() when the first client is created (common/dynlib.h): a
 * kbs whose configuration uses no gRPC service (coco_as_grpc, GrpcRemote RVPS) does not map
 * libgrpc, libstdc++ and abseil (~4 MB resident).
 */
#include "common/grpc_client.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynlib.h"
#include "common/err.h"

#define RESP_MAX (16u << 20)

const char *const grpc_cli_libs[GRPC_CLI_LIB_COUNT] = {KBS_GRPC_SONAME, KBS_GPR_SONAME};

enum { LIB_GRPC, LIB_GPR };

/* The gRPC C core functions the client calls, each with the type of the real one. */
struct grpc_api {
	void *lib[GRPC_CLI_LIB_COUNT];
	DYNLIB_FN(grpc_byte_buffer_destroy);
	DYNLIB_FN(grpc_byte_buffer_reader_destroy);
	DYNLIB_FN(grpc_byte_buffer_reader_init);
	DYNLIB_FN(grpc_byte_buffer_reader_readall);
	DYNLIB_FN(grpc_call_start_batch);
	DYNLIB_FN(grpc_call_unref);
	DYNLIB_FN(grpc_channel_create);
	DYNLIB_FN(grpc_channel_create_call);
	DYNLIB_FN(grpc_channel_credentials_release);
	DYNLIB_FN(grpc_channel_destroy);
	DYNLIB_FN(grpc_completion_queue_create_for_pluck);
	DYNLIB_FN(grpc_completion_queue_destroy);
	DYNLIB_FN(grpc_completion_queue_pluck);
	DYNLIB_FN(grpc_completion_queue_shutdown);
	DYNLIB_FN(grpc_empty_slice);
	DYNLIB_FN(grpc_init);
	DYNLIB_FN(grpc_insecure_credentials_create);
	DYNLIB_FN(grpc_metadata_array_destroy);
	DYNLIB_FN(grpc_metadata_array_init);
	DYNLIB_FN(grpc_raw_byte_buffer_create);
	DYNLIB_FN(grpc_shutdown);
	DYNLIB_FN(grpc_slice_from_copied_string);
	DYNLIB_FN(grpc_slice_malloc);
	DYNLIB_FN(grpc_slice_to_c_string);
	DYNLIB_FN(grpc_slice_unref);
	DYNLIB_FN(gpr_free);
	DYNLIB_FN(gpr_inf_future);
	DYNLIB_FN(gpr_now);
	DYNLIB_FN(gpr_time_add);
	DYNLIB_FN(gpr_time_from_millis);
};

#define SYM(l, n) DYNLIB_SYM(struct grpc_api, l, n)
static const struct dynlib_sym grpc_syms[] = {
	SYM(LIB_GRPC, grpc_byte_buffer_destroy),
	SYM(LIB_GRPC, grpc_byte_buffer_reader_destroy),
	SYM(LIB_GRPC, grpc_byte_buffer_reader_init),
	SYM(LIB_GRPC, grpc_byte_buffer_reader_readall),
	SYM(LIB_GRPC, grpc_call_start_batch),
	SYM(LIB_GRPC, grpc_call_unref),
	SYM(LIB_GRPC, grpc_channel_create),
	SYM(LIB_GRPC, grpc_channel_create_call),
	SYM(LIB_GRPC, grpc_channel_credentials_release),
	SYM(LIB_GRPC, grpc_channel_destroy),
	SYM(LIB_GRPC, grpc_completion_queue_create_for_pluck),
	SYM(LIB_GRPC, grpc_completion_queue_destroy),
	SYM(LIB_GRPC, grpc_completion_queue_pluck),
	SYM(LIB_GRPC, grpc_completion_queue_shutdown),
	SYM(LIB_GRPC, grpc_empty_slice),
	SYM(LIB_GRPC, grpc_init),
	SYM(LIB_GRPC, grpc_insecure_credentials_create),
	SYM(LIB_GRPC, grpc_metadata_array_destroy),
	SYM(LIB_GRPC, grpc_metadata_array_init),
	SYM(LIB_GRPC, grpc_raw_byte_buffer_create),
	SYM(LIB_GRPC, grpc_shutdown),
	SYM(LIB_GRPC, grpc_slice_from_copied_string),
	SYM(LIB_GRPC, grpc_slice_malloc),
	SYM(LIB_GRPC, grpc_slice_to_c_string),
	SYM(LIB_GRPC, grpc_slice_unref),
	SYM(LIB_GPR, gpr_free),
	SYM(LIB_GPR, gpr_inf_future),
	SYM(LIB_GPR, gpr_now),
	SYM(LIB_GPR, gpr_time_add),
	SYM(LIB_GPR, gpr_time_from_millis),
};
#undef SYM

struct grpc_cli {
	struct grpc_api api;
	grpc_channel *ch;
	char *target;
};

int grpc_cli_new(const char *target, struct grpc_cli **out)
{
	struct grpc_cli *c;
	const struct grpc_api *g;
	grpc_channel_credentials *creds;
	grpc_arg arg;
	grpc_channel_args args;
	int rc;

	*out = NULL;
	if (!target || !*target)
		return KBS_ERR_INVAL;
	if (!strncmp(target, "http://", 7))
		target += 7;
	else if (!strncmp(target, "https://", 8))
		return KBS_ERR_UNSUPPORTED; /* TLS channels are not needed by Trustee's services */
	if (!(c = calloc(1, sizeof(*c))))
		return KBS_ERR_NOMEM;
	if (!(c->target = strdup(target))) {
		free(c);
		return KBS_ERR_NOMEM;
	}
	rc = dynlib_load("gRPC client", "Debian: libgrpc29", grpc_cli_libs, GRPC_CLI_LIB_COUNT,
			 grpc_syms, sizeof(grpc_syms) / sizeof(grpc_syms[0]), c->api.lib, &c->api,
			 NULL, 0);
	if (rc) {
		free(c->target);
		free(c);
		return rc;
	}
	g = &c->api;
	size_t n = strlen(c->target);
	if (n && c->target[n - 1] == '/')
		c->target[n - 1] = '\0';
	g->grpc_init();
	/* fail fast when the peer is down instead of waiting for the deadline */
	arg.type = GRPC_ARG_INTEGER;
	arg.key = (char *)GRPC_ARG_MAX_RECONNECT_BACKOFF_MS;
	arg.value.integer = 1000;
	args.num_args = 1;
	args.args = &arg;
	creds = g->grpc_insecure_credentials_create();
	c->ch = g->grpc_channel_create(c->target, creds, &args);
	g->grpc_channel_credentials_release(creds);
	if (!c->ch) {
		grpc_cli_free(c);
		return KBS_ERR_NETWORK;
	}
	*out = c;
	return KBS_OK;
}

void grpc_cli_free(struct grpc_cli *c)
{
	if (!c)
		return;
	if (c->ch)
		c->api.grpc_channel_destroy(c->ch);
	c->api.grpc_shutdown();
	free(c->target);
	dynlib_unload(c->api.lib, GRPC_CLI_LIB_COUNT);
	free(c);
}

static int status_err(grpc_status_code st)
{
	switch (st) {
	case GRPC_STATUS_UNAVAILABLE:
		return KBS_ERR_NETWORK;
	case GRPC_STATUS_DEADLINE_EXCEEDED:
		return KBS_ERR_TIMEOUT;
	case GRPC_STATUS_UNIMPLEMENTED:
		return KBS_ERR_UNSUPPORTED;
	case GRPC_STATUS_NOT_FOUND:
		return KBS_ERR_NOTFOUND;
	default:
		return KBS_ERR_INVAL;
	}
}

int grpc_cli_call(struct grpc_cli *c, const char *method, const ProtobufCMessage *req,
		  const ProtobufCMessageDescriptor *resp_desc, int timeout_ms,
		  ProtobufCMessage **resp, char *why, size_t whylen)
{
	const struct grpc_api *g = &c->api;
	grpc_completion_queue *cq = g->grpc_completion_queue_create_for_pluck(NULL);
	grpc_slice msl = g->grpc_slice_from_copied_string(method);
	grpc_metadata_array imd, tmd;
	grpc_byte_buffer *send = NULL, *recv = NULL;
	grpc_status_code st = GRPC_STATUS_UNKNOWN;
	grpc_slice details = g->grpc_empty_slice();
	grpc_call *call = NULL;
	grpc_op ops[6];
	grpc_event ev;
	gpr_timespec dl;
	size_t n = protobuf_c_message_get_packed_size(req);
	int rc = KBS_ERR_NETWORK;

	*resp = NULL;
	g->grpc_metadata_array_init(&imd);
	g->grpc_metadata_array_init(&tmd);
	{
		grpc_slice sl = g->grpc_slice_malloc(n);
		protobuf_c_message_pack(req, GRPC_SLICE_START_PTR(sl));
		send = g->grpc_raw_byte_buffer_create(&sl, 1);
		g->grpc_slice_unref(sl);
	}
	dl = g->gpr_time_add(g->gpr_now(GPR_CLOCK_REALTIME),
			  g->gpr_time_from_millis(timeout_ms > 0 ? timeout_ms : 10000, GPR_TIMESPAN));
	call = g->grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, msl, NULL, dl,
					NULL);
	if (!call || !send) {
		snprintf(why, whylen, "cannot create a gRPC call to %s", c->target);
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &imd;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &recv;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &tmd;
	ops[5].data.recv_status_on_client.status = &st;
	ops[5].data.recv_status_on_client.status_details = &details;
	if (g->grpc_call_start_batch(call, ops, 6, call, NULL) != GRPC_CALL_OK) {
		snprintf(why, whylen, "cannot start a gRPC call to %s", c->target);
		goto out;
	}
	ev = g->grpc_completion_queue_pluck(cq, call, g->gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	if (ev.type != GRPC_OP_COMPLETE || !ev.success) {
		snprintf(why, whylen, "gRPC call to %s failed", c->target);
		goto out;
	}
	if (st != GRPC_STATUS_OK) {
		char *d = g->grpc_slice_to_c_string(details);
		snprintf(why, whylen, "%s: gRPC status %d: %s", c->target, (int)st, d ? d : "");
		g->gpr_free(d);
		rc = status_err(st);
		goto out;
	}
	{
		grpc_byte_buffer_reader r;
		grpc_slice all;
		if (!recv || !g->grpc_byte_buffer_reader_init(&r, recv)) {
			snprintf(why, whylen, "%s: reply without a message", c->target);
			rc = KBS_ERR_PROTOCOL;
			goto out;
		}
		all = g->grpc_byte_buffer_reader_readall(&r);
		g->grpc_byte_buffer_reader_destroy(&r);
		if (GRPC_SLICE_LENGTH(all) <= RESP_MAX)
			*resp = protobuf_c_message_unpack(resp_desc, NULL, GRPC_SLICE_LENGTH(all),
							  GRPC_SLICE_START_PTR(all));
		g->grpc_slice_unref(all);
		if (!*resp) {
			snprintf(why, whylen, "%s: undecodable %s", c->target, resp_desc->name);
			rc = KBS_ERR_PROTOCOL;
			goto out;
		}
	}
	rc = KBS_OK;
out:
	if (call)
		g->grpc_call_unref(call);
	if (send)
		g->grpc_byte_buffer_destroy(send);
	if (recv)
		g->grpc_byte_buffer_destroy(recv);
	g->grpc_slice_unref(details);
	g->grpc_slice_unref(msl);
	g->grpc_metadata_array_destroy(&imd);
	g->grpc_metadata_array_destroy(&tmd);
	g->grpc_completion_queue_shutdown(cq);
	while (g->grpc_completion_queue_pluck(cq, NULL, g->gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
		   .type != GRPC_QUEUE_SHUTDOWN)
		;
	g->grpc_completion_queue_destroy(cq);
	return rc;
}
