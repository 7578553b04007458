/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_COMMON_GRPC_CLIENT_H
#define KBS_COMMON_GRPC_CLIENT_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/*
 * Unary gRPC client calls on gRPC C core with protobuf-c messages (plaintext HTTP/2, like
 * Trustee's inter-service calls). One channel per struct grpc_cli, reused across calls and
 * threads (gRPC reconnects by itself). Built only with KBS_HAVE_GRPC.
 *
 * libgrpc is not linked: grpc_cli_new() loads it with dlopen() (common/dynlib.h), so processes
 * that never create a client do not map it. When it is missing, grpc_cli_new() logs which
 * library could not be loaded and returns KBS_ERR_UNAVAILABLE.
 */
struct grpc_cli;

#define GRPC_CLI_LIB_COUNT 2

/* Sonames loaded by grpc_cli_new(): libgrpc and libgpr as found at build time. */
extern const char *const grpc_cli_libs[GRPC_CLI_LIB_COUNT];

/*
 * target: "host:port", "http://host:port" (scheme stripped) or "unix:/path". Errors:
 * KBS_ERR_INVAL, KBS_ERR_UNSUPPORTED (https), KBS_ERR_UNAVAILABLE (libgrpc cannot be loaded),
 * KBS_ERR_NETWORK, KBS_ERR_NOMEM.
 */
int grpc_cli_new(const char *target, struct grpc_cli **out);
void grpc_cli_free(struct grpc_cli *c);

/*
 * Calls method ("/package.Service/Method") with req and waits at most timeout_ms. On OK
 * *resp is the unpacked reply (free with protobuf_c_message_free_unpacked). Errors:
 * KBS_ERR_NETWORK (unreachable), KBS_ERR_TIMEOUT, KBS_ERR_PROTOCOL (undecodable reply),
 * KBS_ERR_UNSUPPORTED (UNIMPLEMENTED), KBS_ERR_NOTFOUND (NOT_FOUND), KBS_ERR_INVAL (other
 * non-OK status); why gets the status and its message.
 */
int grpc_cli_call(struct grpc_cli *c, const char *method, const ProtobufCMessage *req,
		  const ProtobufCMessageDescriptor *resp_desc, int timeout_ms,
		  ProtobufCMessage **resp, char *why, size_t whylen);

#endif
