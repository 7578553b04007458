/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_RVPS_REMOTE_H
#define KBS_RVPS_REMOTE_H

#include <jansson.h>
#include <stddef.h>

/*
 * Client of a remote RVPS (Trustee's reference.ReferenceValueProviderService over gRPC).
 * Without gRPC support in the build every function fails with KBS_ERR_UNSUPPORTED.
 */
struct rvps_remote;

/* address: "host:port" or "http://host:port" (Trustee prepends http:// when missing). */
int rvps_remote_new(const char *address, struct rvps_remote **out, char *why, size_t whylen);
void rvps_remote_free(struct rvps_remote *r);
/* RegisterReferenceValue{message}. */
int rvps_remote_register(struct rvps_remote *r, const char *msg, size_t len, char *why,
			 size_t whylen);
/* QueryReferenceValue{reference_value_id}; KBS_ERR_NOTFOUND when the reply has no value. */
int rvps_remote_query(struct rvps_remote *r, const char *name, json_t **out, char *why,
		      size_t whylen);

#endif
