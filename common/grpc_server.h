/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_COMMON_GRPC_SERVER_H
#define KBS_COMMON_GRPC_SERVER_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Unary gRPC services on gRPC C core, messages coded with protobuf-c. A server holds a set of
 * methods ("/package.Service/Method"), each with the protobuf-c descriptor of its request
 * and a handler; requests are unpacked before the handler runs and the reply message it sets
 * is packed after it returns. Unregistered methods are answered UNIMPLEMENTED. Handlers run
 * on the server's polling threads (several at once: they must be thread-safe and may block).
 * Used by kbsfs-csi and rvps (and any later gRPC daemon of the project). Built only when
 * libgrpc and protobuf-c are available (KBS_HAVE_GRPC).
 */

/* gRPC status codes (grpc/status.h values) for handlers. */
enum grpc_srv_status {
	GRPC_SRV_OK = 0,
	GRPC_SRV_CANCELLED = 1,
	GRPC_SRV_UNKNOWN = 2,
	GRPC_SRV_INVALID_ARGUMENT = 3,
	GRPC_SRV_NOT_FOUND = 5,
	GRPC_SRV_ALREADY_EXISTS = 6,
	GRPC_SRV_PERMISSION_DENIED = 7,
	GRPC_SRV_FAILED_PRECONDITION = 9,
	GRPC_SRV_ABORTED = 10,
	GRPC_SRV_UNIMPLEMENTED = 12,
	GRPC_SRV_INTERNAL = 13,
	GRPC_SRV_UNAVAILABLE = 14,
};

/* What a handler answers: a status, its message, and (on OK) one reply message. */
struct grpc_srv_reply;

/* Packs m as the reply (copied now; m may live on the handler's stack). */
int grpc_srv_reply_message(struct grpc_srv_reply *rep, const ProtobufCMessage *m);
/* Sets already-encoded reply bytes (for messages without generated code). */
int grpc_srv_reply_raw(struct grpc_srv_reply *rep, const uint8_t *p, size_t len);
/* Sets a non-OK status with a printf-style message (the reply message is dropped). */
void grpc_srv_reply_status(struct grpc_srv_reply *rep, enum grpc_srv_status code,
			   const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * A request handler. req is the unpacked request (NULL when the method was registered with a
 * NULL descriptor; raw bytes are then in raw/rawlen). Return nothing: set the outcome on rep.
 * A handler that sets neither a message nor a status answers OK with an empty message.
 */
typedef void (*grpc_srv_handler)(void *ctx, const ProtobufCMessage *req, const uint8_t *raw,
				 size_t rawlen, struct grpc_srv_reply *rep);

struct grpc_srv;

/*
 * Creates a server (not yet listening). Blocks SIGTERM, SIGINT and ignores SIGPIPE in the
 * calling thread first, so the threads gRPC starts leave those to grpc_srv_wait_signal();
 * call it from the main thread before any other thread exists.
 */
int grpc_srv_new(struct grpc_srv **out);

/*
 * Registers method path with request descriptor in (NULL = raw bytes), handler h with ctx,
 * and slots concurrent calls (0 = 2). Before grpc_srv_start() only.
 */
int grpc_srv_add_method(struct grpc_srv *s, const char *path,
			const ProtobufCMessageDescriptor *in, grpc_srv_handler h, void *ctx,
			unsigned slots);

/* Adds grpc.health.v1.Health/Check answering {status: SERVING}. Before grpc_srv_start(). */
int grpc_srv_add_health(struct grpc_srv *s);

/*
 * Adds a listening address: "unix:/path" (an existing socket file is replaced), or
 * "host:port" (port 0 = any free one). *port (optional) receives the bound TCP port.
 * Before grpc_srv_start() only. Plaintext (insecure) HTTP/2, like Trustee's services.
 */
int grpc_srv_listen(struct grpc_srv *s, const char *addr, int *port);

/* Starts serving with nthreads polling threads (1..16; 0 = 4). */
int grpc_srv_start(struct grpc_srv *s, int nthreads);

/* Blocks until SIGTERM or SIGINT; returns the signal number. */
int grpc_srv_wait_signal(void);

/* Stops (cancels calls in flight, joins the threads) and frees; NULL is a no-op. */
void grpc_srv_free(struct grpc_srv *s);

#endif
