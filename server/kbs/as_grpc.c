// SPDX-License-Identifier: Apache-2.0
#include "server/kbs/as_grpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#ifdef KBS_HAVE_GRPC

#include <stdatomic.h>

#include "common/b64.h"
#include "common/grpc_client.h"
#include "common/log.h"
#include "server/as/proto/attestation.pb-c.h"

#define MAX_CHANNELS 16
#define CALL_TIMEOUT_MS 60000
#define MAX_REQS 16

struct kbs_as_grpc {
	struct grpc_cli *ch[MAX_CHANNELS];
	size_t nch;
	atomic_uint next;
};

void kbs_as_grpc_free(struct kbs_as_grpc *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->nch; i++)
		grpc_cli_free(g->ch[i]);
	free(g);
}

int kbs_as_grpc_new(const char *addr, long pool, struct kbs_as_grpc **out)
{
	struct kbs_as_grpc *g = calloc(1, sizeof(*g));
	size_t n = pool < 1 ? 1 : pool > MAX_CHANNELS ? MAX_CHANNELS : (size_t)pool;
	int rc;

	*out = NULL;
	if (!g)
		return KBS_ERR_NOMEM;
	for (; g->nch < n; g->nch++)
		if ((rc = grpc_cli_new(addr ? addr : "http://127.0.0.1:50004", &g->ch[g->nch])) !=
		    KBS_OK) {
			kbs_as_grpc_free(g);
			return rc;
		}
	log_info("kbs: remote attestation service at %s (%zu gRPC channel(s))",
		 addr ? addr : "http://127.0.0.1:50004", n);
	*out = g;
	return KBS_OK;
}

static struct grpc_cli *pick(struct kbs_as_grpc *g)
{
	return g->ch[atomic_fetch_add(&g->next, 1) % g->nch];
}

static char *b64u_text(const char *s, size_t len)
{
	char *o = NULL;

	if (b64_encode_alloc((const uint8_t *)s, len, B64_URL, &o) != KBS_OK)
		return NULL;
	return o;
}

int kbs_as_grpc_evaluate(struct kbs_as_grpc *g, const struct as_request *reqs, size_t n,
			 const char *policy_id, struct as_result *res, char *why, size_t whylen)
{
	Attestation__AttestationRequest q = ATTESTATION__ATTESTATION_REQUEST__INIT;
	Attestation__IndividualAttestationRequest vr[MAX_REQS], *vrp[MAX_REQS];
	char *pid[1] = {(char *)(policy_id ? policy_id : "default")};
	char *strs[2 * MAX_REQS] = {0};
	ProtobufCMessage *reply = NULL;
	int rc = KBS_ERR_NOMEM;

	memset(res, 0, sizeof(*res));
	if (n == 0 || n > MAX_REQS) {
		snprintf(why, whylen, "remote attestation: %zu verification requests", n);
		return KBS_ERR_INVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char *ev = json_dumps(reqs[i].evidence, JSON_COMPACT | JSON_ENCODE_ANY);
		attestation__individual_attestation_request__init(&vr[i]);
		vrp[i] = &vr[i];
		vr[i].tee = (char *)reqs[i].tee;
		strs[2 * i] = ev ? b64u_text(ev, strlen(ev)) : NULL;
		free(ev);
		if (!strs[2 * i])
			goto out;
		vr[i].evidence = strs[2 * i];
		if (reqs[i].runtime_data) {
			strs[2 * i + 1] = json_dumps(reqs[i].runtime_data, JSON_COMPACT);
			if (!strs[2 * i + 1])
				goto out;
			vr[i].runtime_data_case =
			    ATTESTATION__INDIVIDUAL_ATTESTATION_REQUEST__RUNTIME_DATA_STRUCTURED_RUNTIME_DATA;
			vr[i].structured_runtime_data = strs[2 * i + 1];
		}
		if (reqs[i].init_data_toml) {
			vr[i].init_data_case =
			    ATTESTATION__INDIVIDUAL_ATTESTATION_REQUEST__INIT_DATA_INIT_DATA_TOML;
			vr[i].init_data_toml = (char *)reqs[i].init_data_toml;
		}
		vr[i].runtime_data_hash_algorithm =
		    (char *)(reqs[i].hash_alg ? reqs[i].hash_alg : "sha384");
	}
	q.n_verification_requests = n;
	q.verification_requests = vrp;
	q.n_policy_ids = 1;
	q.policy_ids = pid;
	rc = grpc_cli_call(pick(g), "/attestation.AttestationService/AttestationEvaluate", &q.base,
			   &attestation__attestation_response__descriptor, CALL_TIMEOUT_MS, &reply,
			   why, whylen);
	if (rc != KBS_OK) {
		/* the kbs reports it as an attestation failure (Trustee: AttestationError) */
		char cause[300];
		snprintf(cause, sizeof(cause), "%s", why);
		snprintf(why, whylen, "remote attestation service: %s", cause);
		goto out;
	}
	{
		const Attestation__AttestationResponse *r = (const void *)reply;
		if (!r->attestation_token || !*r->attestation_token ||
		    !(res->token = strdup(r->attestation_token))) {
			snprintf(why, whylen, "remote attestation service returned no token");
			rc = KBS_ERR_PROTOCOL;
			goto out;
		}
		snprintf(res->status, sizeof(res->status), "remote");
	}
	rc = KBS_OK;
out:
	if (reply)
		protobuf_c_message_free_unpacked(reply, NULL);
	for (size_t i = 0; i < 2 * MAX_REQS; i++)
		free(strs[i]);
	return rc;
}

int kbs_as_grpc_set_policy(struct kbs_as_grpc *g, const char *policy_id, const char *text,
			   size_t len, char *why, size_t whylen)
{
	Attestation__SetPolicyRequest q = ATTESTATION__SET_POLICY_REQUEST__INIT;
	ProtobufCMessage *reply = NULL;
	char *b = b64u_text(text, len);
	int rc;

	if (!b)
		return KBS_ERR_NOMEM;
	q.policy_id = (char *)policy_id;
	q.policy = b;
	rc = grpc_cli_call(pick(g), "/attestation.AttestationService/SetAttestationPolicy", &q.base,
			   &attestation__set_policy_response__descriptor, CALL_TIMEOUT_MS, &reply,
			   why, whylen);
	if (reply)
		protobuf_c_message_free_unpacked(reply, NULL);
	free(b);
	return rc;
}

#else /* !KBS_HAVE_GRPC */

struct kbs_as_grpc {
	int unused;
};

int kbs_as_grpc_new(const char *addr, long pool, struct kbs_as_grpc **out)
{
	(void)addr;
	(void)pool;
	*out = NULL;
	return KBS_ERR_UNSUPPORTED;
}

void kbs_as_grpc_free(struct kbs_as_grpc *g)
{
	free(g);
}

int kbs_as_grpc_evaluate(struct kbs_as_grpc *g, const struct as_request *reqs, size_t n,
			 const char *policy_id, struct as_result *res, char *why, size_t whylen)
{
	(void)g;
	(void)reqs;
	(void)n;
	(void)policy_id;
	memset(res, 0, sizeof(*res));
	snprintf(why, whylen, "this build has no gRPC");
	return KBS_ERR_UNSUPPORTED;
}

int kbs_as_grpc_set_policy(struct kbs_as_grpc *g, const char *policy_id, const char *text,
			   size_t len, char *why, size_t whylen)
{
	(void)g;
	(void)policy_id;
	(void)text;
	(void)len;
	snprintf(why, whylen, "this build has no gRPC");
	return KBS_ERR_UNSUPPORTED;
}

#endif
