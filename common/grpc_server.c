// SPDX-License-Identifier: Apache-2.0
#include "common/grpc_server.h"

#include <errno.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"

#define REQ_MAX (8u << 20)
#define MAX_METHODS 32
#define MAX_THREADS 16
#define MAX_LISTEN 8

struct grpc_srv_reply {
	int code;
	char msg[512];
	grpc_byte_buffer *bb;
};

struct method {
	char *path;
	const ProtobufCMessageDescriptor *in;
	grpc_srv_handler h;
	void *ctx;
	void *reg;
	unsigned slots;
};

struct slot {
	struct grpc_srv *srv;
	int method; /* index, or -1 for the catch-all (unregistered methods) */
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

struct grpc_srv {
	grpc_server *gs;
	grpc_completion_queue *cq;
	struct method methods[MAX_METHODS];
	size_t nmethods;
	char *unix_paths[MAX_LISTEN];
	size_t nunix;
	struct slot *slots;
	size_t nslots;
	pthread_t th[MAX_THREADS];
	size_t nth;
	int shutdown_tag;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool shut, started, grpc_up;
};

int grpc_srv_reply_message(struct grpc_srv_reply *rep, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	grpc_slice sl = grpc_slice_malloc(n);

	protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(sl));
	if (rep->bb)
		grpc_byte_buffer_destroy(rep->bb);
	rep->bb = grpc_raw_byte_buffer_create(&sl, 1);
	grpc_slice_unref(sl);
	return rep->bb ? KBS_OK : KBS_ERR_NOMEM;
}

int grpc_srv_reply_raw(struct grpc_srv_reply *rep, const uint8_t *p, size_t len)
{
	grpc_slice sl = grpc_slice_from_copied_buffer((const char *)p, len);

	if (rep->bb)
		grpc_byte_buffer_destroy(rep->bb);
	rep->bb = grpc_raw_byte_buffer_create(&sl, 1);
	grpc_slice_unref(sl);
	return rep->bb ? KBS_OK : KBS_ERR_NOMEM;
}

void grpc_srv_reply_status(struct grpc_srv_reply *rep, enum grpc_srv_status code,
			   const char *fmt, ...)
{
	va_list ap;

	rep->code = (int)code;
	va_start(ap, fmt);
	vsnprintf(rep->msg, sizeof(rep->msg), fmt, ap);
	va_end(ap);
}

static bool arm(struct slot *s)
{
	struct grpc_srv *srv = s->srv;
	grpc_call_error e;

	s->sending = false;
	s->call = NULL;
	s->payload = NULL;
	s->reply = NULL;
	grpc_metadata_array_init(&s->md);
	if (s->method < 0) {
		grpc_call_details_init(&s->details);
		e = grpc_server_request_call(srv->gs, &s->call, &s->details, &s->md, srv->cq,
					     srv->cq, s);
	} else {
		e = grpc_server_request_registered_call(srv->gs, srv->methods[s->method].reg,
							&s->call, &s->deadline, &s->md,
							&s->payload, srv->cq, srv->cq, s);
	}
	return e == GRPC_CALL_OK;
}

static void release(struct slot *s)
{
	if (s->call)
		grpc_call_unref(s->call);
	grpc_metadata_array_destroy(&s->md);
	if (s->method < 0)
		grpc_call_details_destroy(&s->details);
	if (s->payload)
		grpc_byte_buffer_destroy(s->payload);
	if (s->reply)
		grpc_byte_buffer_destroy(s->reply);
	s->call = NULL;
	s->payload = s->reply = NULL;
}

/* The whole request payload (NULL and *len 0 for an empty message). */
static uint8_t *payload_bytes(grpc_byte_buffer *bb, size_t *len, bool *ok)
{
	grpc_byte_buffer_reader r;
	grpc_slice sl;
	uint8_t *p;

	*len = 0;
	*ok = true;
	if (!bb)
		return NULL;
	if (!grpc_byte_buffer_reader_init(&r, bb)) {
		*ok = false;
		return NULL;
	}
	sl = grpc_byte_buffer_reader_readall(&r);
	grpc_byte_buffer_reader_destroy(&r);
	*len = GRPC_SLICE_LENGTH(sl);
	if (*len > REQ_MAX) {
		grpc_slice_unref(sl);
		*ok = false;
		return NULL;
	}
	p = malloc(*len ? *len : 1);
	if (p && *len)
		memcpy(p, GRPC_SLICE_START_PTR(sl), *len);
	grpc_slice_unref(sl);
	if (!p)
		*ok = false;
	return p;
}

static void dispatch(struct slot *s, struct grpc_srv_reply *rep)
{
	struct method *m;
	ProtobufCMessage *req = NULL;
	uint8_t *in;
	size_t inlen;
	bool ok;

	memset(rep, 0, sizeof(*rep));
	snprintf(rep->msg, sizeof(rep->msg), "ok");
	if (s->method < 0) {
		grpc_srv_reply_status(rep, GRPC_SRV_UNIMPLEMENTED, "method not implemented");
		return;
	}
	m = &s->srv->methods[s->method];
	in = payload_bytes(s->payload, &inlen, &ok);
	if (!ok) {
		grpc_srv_reply_status(rep, GRPC_SRV_INVALID_ARGUMENT, "cannot read the request");
		return;
	}
	if (m->in) {
		req = protobuf_c_message_unpack(m->in, NULL, inlen, in ? in : (const uint8_t *)"");
		if (!req) {
			grpc_srv_reply_status(rep, GRPC_SRV_INVALID_ARGUMENT, "malformed %s",
					      m->in->name);
			free(in);
			return;
		}
	}
	m->h(m->ctx, req, in, inlen, rep);
	if (req)
		protobuf_c_message_free_unpacked(req, NULL);
	free(in);
	if (rep->code != GRPC_SRV_OK && rep->bb) {
		grpc_byte_buffer_destroy(rep->bb);
		rep->bb = NULL;
	}
	if (rep->code == GRPC_SRV_OK && !rep->bb) {
		/* an empty message is zero bytes on the wire */
		grpc_slice sl = grpc_empty_slice();
		rep->bb = grpc_raw_byte_buffer_create(&sl, 0);
	}
}

static void respond(struct slot *s)
{
	struct grpc_srv_reply rep;
	grpc_op ops[4];
	size_t n = 0;

	dispatch(s, &rep);
	s->reply = rep.bb;
	if (rep.code != GRPC_SRV_OK)
		log_info("grpc: %s -> status %d: %s",
			 s->method < 0 ? "unknown method" : s->srv->methods[s->method].path,
			 rep.code, rep.msg);
	memset(ops, 0, sizeof(ops));
	ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[n].data.recv_close_on_server.cancelled = &s->cancelled;
	n++;
	if (rep.code == GRPC_SRV_OK && s->reply) {
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n].data.send_message.send_message = s->reply;
		n++;
	}
	s->status_msg = grpc_slice_from_copied_string(rep.msg);
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = (grpc_status_code)rep.code;
	ops[n].data.send_status_from_server.status_details = &s->status_msg;
	n++;
	s->sending = true;
	if (grpc_call_start_batch(s->call, ops, n, s, NULL) != GRPC_CALL_OK) {
		log_error("grpc: cannot send a reply");
		grpc_slice_unref(s->status_msg);
		release(s);
		if (!arm(s))
			log_error("grpc: cannot re-arm a request slot");
	}
}

static void *poll_thread(void *arg)
{
	struct grpc_srv *srv = arg;

	for (;;) {
		grpc_event ev =
		    grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		struct slot *s;
		bool shut;

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
			pthread_mutex_lock(&srv->lock);
			shut = srv->shut;
			pthread_mutex_unlock(&srv->lock);
			if (!shut && !arm(s))
				log_warn("grpc: request slot not re-armed (shutting down)");
			continue;
		}
		if (!ev.success) {
			/* the server is shutting down: this slot never got a call */
			release(s);
			continue;
		}
		respond(s);
	}
	return NULL;
}

int grpc_srv_new(struct grpc_srv **out)
{
	struct grpc_srv *s;
	sigset_t set;

	*out = NULL;
	/* signals go to grpc_srv_wait_signal(), not to gRPC's threads */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!(s = calloc(1, sizeof(*s))))
		return KBS_ERR_NOMEM;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	grpc_init();
	s->grpc_up = true;
	s->cq = grpc_completion_queue_create_for_next(NULL);
	s->gs = grpc_server_create(NULL, NULL);
	if (!s->cq || !s->gs) {
		grpc_srv_free(s);
		return KBS_ERR_NOMEM;
	}
	grpc_server_register_completion_queue(s->gs, s->cq, NULL);
	*out = s;
	return KBS_OK;
}

int grpc_srv_add_method(struct grpc_srv *s, const char *path,
			const ProtobufCMessageDescriptor *in, grpc_srv_handler h, void *ctx,
			unsigned slots)
{
	struct method *m;

	if (s->started || s->nmethods >= MAX_METHODS || !path || path[0] != '/' || !h)
		return KBS_ERR_INVAL;
	m = &s->methods[s->nmethods];
	if (!(m->path = strdup(path)))
		return KBS_ERR_NOMEM;
	m->in = in;
	m->h = h;
	m->ctx = ctx;
	m->slots = slots ? (slots > 64 ? 64 : slots) : 2;
	m->reg = grpc_server_register_method(s->gs, m->path, NULL,
					     GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
	if (!m->reg) {
		free(m->path);
		m->path = NULL;
		return KBS_ERR_EXISTS;
	}
	s->nmethods++;
	return KBS_OK;
}

int grpc_srv_listen(struct grpc_srv *s, const char *addr, int *port)
{
	grpc_server_credentials *creds;
	const char *path = NULL;
	int p;

	if (s->started || !addr || !*addr)
		return KBS_ERR_INVAL;
	if (!strncmp(addr, "unix:", 5)) {
		if (s->nunix >= MAX_LISTEN)
			return KBS_ERR_RANGE;
		path = addr + 5;
		while (path[0] == '/' && path[1] == '/') /* unix:///x -> /x */
			path++;
		if (unlink(path) != 0 && errno != ENOENT)
			log_warn("grpc: cannot remove stale %s: %s", path, strerror(errno));
	}
	creds = grpc_insecure_server_credentials_create();
	p = grpc_server_add_http2_port(s->gs, addr, creds);
	grpc_server_credentials_release(creds);
	if (p <= 0)
		return KBS_ERR_NETWORK;
	if (path && !(s->unix_paths[s->nunix++] = strdup(path)))
		return KBS_ERR_NOMEM;
	if (port)
		*port = p;
	return KBS_OK;
}

int grpc_srv_start(struct grpc_srv *s, int nthreads)
{
	size_t k = 0;
	int nth = nthreads > 0 && nthreads <= MAX_THREADS ? nthreads : 4;

	if (s->started)
		return KBS_ERR_INVAL;
	grpc_server_start(s->gs);
	s->started = true;
	s->nslots = 1;
	for (size_t i = 0; i < s->nmethods; i++)
		s->nslots += s->methods[i].slots;
	if (!(s->slots = calloc(s->nslots, sizeof(*s->slots))))
		return KBS_ERR_NOMEM;
	for (size_t i = 0; i < s->nmethods; i++)
		for (unsigned j = 0; j < s->methods[i].slots; j++)
			s->slots[k++].method = (int)i;
	s->slots[k].method = -1;
	for (k = 0; k < s->nslots; k++) {
		s->slots[k].srv = s;
		if (!arm(&s->slots[k]))
			return KBS_ERR_INTERNAL;
	}
	for (int i = 0; i < nth; i++) {
		if (pthread_create(&s->th[i], NULL, poll_thread, s) != 0)
			break;
		s->nth++;
	}
	return s->nth ? KBS_OK : KBS_ERR_INTERNAL;
}

int grpc_srv_wait_signal(void)
{
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	while (sigwait(&set, &sig) != 0)
		;
	return sig;
}

void grpc_srv_free(struct grpc_srv *s)
{
	if (!s)
		return;
	if (s->gs && s->started) {
		grpc_server_shutdown_and_notify(s->gs, s->cq, &s->shutdown_tag);
		grpc_server_cancel_all_calls(s->gs);
		if (s->nth) {
			pthread_mutex_lock(&s->lock);
			while (!s->shut)
				pthread_cond_wait(&s->cond, &s->lock);
			pthread_mutex_unlock(&s->lock);
		} else {
			grpc_event ev;
			do {
				ev = grpc_completion_queue_next(
				    s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
				if (ev.type == GRPC_OP_COMPLETE && ev.tag != &s->shutdown_tag)
					release(ev.tag);
			} while (!(ev.type == GRPC_OP_COMPLETE && ev.tag == &s->shutdown_tag));
		}
	}
	if (s->gs)
		grpc_server_destroy(s->gs);
	if (s->cq) {
		grpc_completion_queue_shutdown(s->cq);
		for (size_t k = 0; k < s->nth; k++)
			pthread_join(s->th[k], NULL);
		if (!s->nth)
			while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME),
							  NULL)
				   .type != GRPC_QUEUE_SHUTDOWN)
				;
		grpc_completion_queue_destroy(s->cq);
	}
	if (s->grpc_up)
		grpc_shutdown();
	for (size_t i = 0; i < s->nmethods; i++)
		free(s->methods[i].path);
	for (size_t i = 0; i < s->nunix; i++) {
		unlink(s->unix_paths[i]);
		free(s->unix_paths[i]);
	}
	free(s->slots);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}

/* grpc.health.v1.Health/Check -> {status: SERVING}: raw bytes (field 1 = 1), no generated code */
static void on_health(void *ctx, const ProtobufCMessage *m, const uint8_t *raw, size_t rawlen,
		      struct grpc_srv_reply *rep)
{
	static const uint8_t serving[] = {0x08, 0x01};

	(void)ctx;
	(void)m;
	(void)raw;
	(void)rawlen;
	grpc_srv_reply_raw(rep, serving, sizeof(serving));
}

int grpc_srv_add_health(struct grpc_srv *s)
{
	return grpc_srv_add_method(s, "/grpc.health.v1.Health/Check", NULL, on_health, NULL, 1);
}
