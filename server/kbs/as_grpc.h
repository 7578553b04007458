/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_SERVER_AS_GRPC_H
#define KBS_SERVER_AS_GRPC_H

#include <stddef.h>

#include "server/as/as.h"

/*
 * [attestation_service] type = "coco_as_grpc": the kbs's client of a remote attestation
 * service speaking Trustee's attestation.AttestationService (grpc-as, or Trustee's own).
 * The kbs sends what its built-in AS would evaluate: per request the TEE name, the evidence
 * as base64url of its JSON text, the runtime data as structured JSON text (sha384), init-data
 * TOML, and policy_ids ["default"], exactly as Trustee's kbs does. Without gRPC in the build
 * kbs_as_grpc_new fails (KBS_ERR_UNSUPPORTED).
 */
struct kbs_as_grpc;

/*
 * addr: as_addr ("http://host:port", "host:port" or "unix:/path"); pool: pool_size, the
 * number of gRPC channels used round-robin (capped at 16: each HTTP/2 channel multiplexes).
 */
int kbs_as_grpc_new(const char *addr, long pool, struct kbs_as_grpc **out);
void kbs_as_grpc_free(struct kbs_as_grpc *g);

/* as_evaluate() over gRPC: res->token is the remote token, res->status is left empty. */
int kbs_as_grpc_evaluate(struct kbs_as_grpc *g, const struct as_request *reqs, size_t n,
			 const char *policy_id, struct as_result *res, char *why, size_t whylen);

/* SetAttestationPolicy (the policy text is sent base64url-encoded, as Trustee's kbs does). */
int kbs_as_grpc_set_policy(struct kbs_as_grpc *g, const char *policy_id, const char *text,
			   size_t len, char *why, size_t whylen);

#endif
