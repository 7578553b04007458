/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_RVPS_GRPC_H
#define KBS_RVPS_GRPC_H

#include <jansson.h>
#include <stddef.h>

#include "common/grpc_server.h"

/*
 * Trustee's reference.ReferenceValueProviderService (RegisterReferenceValue,
 * QueryReferenceValue) on a gRPC server, for the `rvps` daemon and `grpc-as`: the wire side
 * is here, the store behind it is the caller's. Needs KBS_HAVE_GRPC.
 */
struct rvps_grpc_backend {
	/* Registers one RVPS message; why names the failure (answered as ABORTED). */
	int (*reg)(void *ctx, const char *msg, size_t len, char *why, size_t whylen);
	/* *out = new reference to the value; KBS_ERR_NOTFOUND when absent (field left unset). */
	int (*query)(void *ctx, const char *name, json_t **out, char *why, size_t whylen);
};

/* The service: a backend and its context; the caller keeps it alive as long as the server. */
struct rvps_grpc_service {
	const struct rvps_grpc_backend *b;
	void *ctx;
};

/*
 * Adds both methods to srv, served by svc; reg_conc / query_conc are the calls each may have
 * in flight (grpc_srv_add_method).
 */
int rvps_grpc_add_service(struct grpc_srv *srv, const struct rvps_grpc_service *svc, int reg_conc,
			  int query_conc);

/* The backend for a local struct rvps (rvps_register / rvps_query); ctx is the struct rvps. */
extern const struct rvps_grpc_backend rvps_grpc_local;

#endif
