// SPDX-License-Identifier: Apache-2.0
/* Only with gRPC (KBS_HAVE_GRPC comes with kbsgrpc); without it this file is empty. */
#ifdef KBS_HAVE_GRPC
#include "rvps/rvps_grpc.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "rvps/proto/reference.pb-c.h"
#include "rvps/rvps.h"

static void on_register(void *ctx, const ProtobufCMessage *m, const uint8_t *raw, size_t rawlen,
			struct grpc_srv_reply *rep)
{
	const struct rvps_grpc_service *s = ctx;
	const Reference__ReferenceValueRegisterRequest *q = (const void *)m;
	Reference__ReferenceValueRegisterResponse r =
	    REFERENCE__REFERENCE_VALUE_REGISTER_RESPONSE__INIT;
	char why[400];

	(void)raw;
	(void)rawlen;
	if (s->b->reg(s->ctx, q->message, strlen(q->message), why, sizeof(why)) != KBS_OK)
		/* Trustee answers every failure with ABORTED and the error text */
		grpc_srv_reply_status(rep, GRPC_SRV_ABORTED, "Register reference value failed: %s",
				      why);
	else
		grpc_srv_reply_message(rep, &r.base);
}

static void on_query(void *ctx, const ProtobufCMessage *m, const uint8_t *raw, size_t rawlen,
		     struct grpc_srv_reply *rep)
{
	const struct rvps_grpc_service *s = ctx;
	const Reference__ReferenceValueQueryRequest *q = (const void *)m;
	Reference__ReferenceValueQueryResponse r = REFERENCE__REFERENCE_VALUE_QUERY_RESPONSE__INIT;
	json_t *v = NULL;
	char why[400];
	int rc;

	(void)raw;
	(void)rawlen;
	rc = s->b->query(s->ctx, q->reference_value_id, &v, why, sizeof(why));
	if (rc != KBS_OK && rc != KBS_ERR_NOTFOUND) {
		grpc_srv_reply_status(rep, GRPC_SRV_ABORTED, "Query reference value failed: %s",
				      why);
		return;
	}
	/* absent (or expired): the optional field stays unset, as Trustee's None */
	if (rc == KBS_OK && v) {
		r.reference_value_results = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(v);
		if (!r.reference_value_results) {
			grpc_srv_reply_status(rep, GRPC_SRV_INTERNAL, "out of memory");
			return;
		}
		r._reference_value_results_case =
		    REFERENCE__REFERENCE_VALUE_QUERY_RESPONSE___REFERENCE_VALUE_RESULTS_REFERENCE_VALUE_RESULTS;
	}
	grpc_srv_reply_message(rep, &r.base);
	free(r.reference_value_results);
}

int rvps_grpc_add_service(struct grpc_srv *srv, const struct rvps_grpc_service *svc, int reg_conc,
			  int query_conc)
{
	void *c = (void *)svc; /* handlers only read it */
	int rc;

	if ((rc = grpc_srv_add_method(
		 srv, "/reference.ReferenceValueProviderService/RegisterReferenceValue",
		 &reference__reference_value_register_request__descriptor, on_register, c,
		 reg_conc)) != KBS_OK)
		return rc;
	return grpc_srv_add_method(
	    srv, "/reference.ReferenceValueProviderService/QueryReferenceValue",
	    &reference__reference_value_query_request__descriptor, on_query, c, query_conc);
}

static int local_reg(void *ctx, const char *msg, size_t len, char *why, size_t whylen)
{
	return rvps_register(ctx, msg, len, why, whylen);
}

static int local_query(void *ctx, const char *name, json_t **out, char *why, size_t whylen)
{
	return rvps_query(ctx, name, out, why, whylen);
}

const struct rvps_grpc_backend rvps_grpc_local = {local_reg, local_query};
#endif /* KBS_HAVE_GRPC */
