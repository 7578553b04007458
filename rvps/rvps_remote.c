// SPDX-License-Identifier: Apache-2.0
#include "rvps/rvps_remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "rvps/rvps.h"

#ifdef KBS_HAVE_GRPC
#include "common/grpc_client.h"
#include "rvps/proto/reference.pb-c.h"

#define SVC "/reference.ReferenceValueProviderService/"
#define CALL_TIMEOUT_MS 10000 /* Trustee's AS waits 10 s for a query */

struct rvps_remote {
	struct grpc_cli *cli;
};

int rvps_remote_new(const char *address, struct rvps_remote **out, char *why, size_t whylen)
{
	struct rvps_remote *r = calloc(1, sizeof(*r));
	int rc;

	*out = NULL;
	if (!r)
		return KBS_ERR_NOMEM;
	if ((rc = grpc_cli_new(address, &r->cli)) != KBS_OK) {
		snprintf(why, whylen, "cannot set up a gRPC channel to RVPS %.200s: %s", address,
			 kbs_strerror(rc));
		free(r);
		return rc;
	}
	*out = r;
	return KBS_OK;
}

void rvps_remote_free(struct rvps_remote *r)
{
	if (!r)
		return;
	grpc_cli_free(r->cli);
	free(r);
}

int rvps_remote_register(struct rvps_remote *r, const char *msg, size_t len, char *why,
			 size_t whylen)
{
	Reference__ReferenceValueRegisterRequest q = REFERENCE__REFERENCE_VALUE_REGISTER_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	int rc;

	if (len > RVPS_MAX_MESSAGE || memchr(msg, '\0', len)) {
		snprintf(why, whylen, "reference value message too large or not text");
		return KBS_ERR_INVAL;
	}
	if (!(q.message = strndup(msg, len)))
		return KBS_ERR_NOMEM;
	rc = grpc_cli_call(r->cli, SVC "RegisterReferenceValue", &q.base,
			   &reference__reference_value_register_response__descriptor,
			   CALL_TIMEOUT_MS, &resp, why, whylen);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	free(q.message);
	return rc;
}

int rvps_remote_query(struct rvps_remote *r, const char *name, json_t **out, char *why,
		      size_t whylen)
{
	Reference__ReferenceValueQueryRequest q = REFERENCE__REFERENCE_VALUE_QUERY_REQUEST__INIT;
	Reference__ReferenceValueQueryResponse *resp = NULL;
	struct json_err jerr;
	int rc;

	*out = NULL;
	q.reference_value_id = (char *)name;
	rc = grpc_cli_call(r->cli, SVC "QueryReferenceValue", &q.base,
			   &reference__reference_value_query_response__descriptor, CALL_TIMEOUT_MS,
			   (ProtobufCMessage **)&resp, why, whylen);
	if (rc != KBS_OK)
		return rc;
	if (resp->_reference_value_results_case !=
		REFERENCE__REFERENCE_VALUE_QUERY_RESPONSE___REFERENCE_VALUE_RESULTS_REFERENCE_VALUE_RESULTS ||
	    !resp->reference_value_results) {
		snprintf(why, whylen, "reference value %.128s not found", name);
		rc = KBS_ERR_NOTFOUND;
	} else if (json_parse(resp->reference_value_results,
			      strlen(resp->reference_value_results), 0, out, &jerr) != KBS_OK) {
		snprintf(why, whylen, "remote RVPS returned a value that is not JSON: %s",
			 jerr.msg);
		rc = KBS_ERR_PROTOCOL;
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return rc;
}

#else /* !KBS_HAVE_GRPC */

struct rvps_remote {
	int unused;
};

int rvps_remote_new(const char *address, struct rvps_remote **out, char *why, size_t whylen)
{
	*out = NULL;
	snprintf(why, whylen, "rvps_config type GrpcRemote needs a build with gRPC");
	return KBS_ERR_UNSUPPORTED;
}

void rvps_remote_free(struct rvps_remote *r)
{
	free(r);
}

int rvps_remote_register(struct rvps_remote *r, const char *msg, size_t len, char *why,
			 size_t whylen)
{
	return KBS_ERR_UNSUPPORTED;
}

int rvps_remote_query(struct rvps_remote *r, const char *name, json_t **out, char *why,
		      size_t whylen)
{
	*out = NULL;
	return KBS_ERR_UNSUPPORTED;
}

#endif
