/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_SERVER_ADMIN_H
#define KBS_SERVER_ADMIN_H

#include <stddef.h>

#include "server/kbs/kbs_config.h"

/*
 * Admin API authentication (kbs-protocol §10.2): DenyAll, InsecureAllowAll,
 * AuthenticatedAuthorization (bearer JWT from a configured identity provider + `role` claim
 * + regex ACL on the request URI) and the legacy key modes (v0.10 .. v0.20: any unexpired
 * JWT signed by a configured public key, no role).
 */
struct kbs_admin;

int kbs_admin_new(const struct kbs_config *cfg, struct kbs_admin **out, char *err,
		  size_t errlen);
void kbs_admin_free(struct kbs_admin *a);

/*
 * Checks the Authorization header value (may be NULL) for uri (path + "?query").
 * KBS_OK = allowed; otherwise KBS_ERR_AUTH / KBS_ERR_DENIED with why in Trustee's wording
 * ("Admin access denied: Cannot verify token with any of the issuers").
 */
int kbs_admin_check(struct kbs_admin *a, const char *authorization, const char *uri, char *why,
		    size_t whylen);

#endif
