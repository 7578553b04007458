/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_SERVER_REPO_PKCS11_H
#define KBS_SERVER_REPO_PKCS11_H

#include <jansson.h>
#include <stddef.h>

#include "server/kbs/repo.h"

/*
 * PKCS#11 resource backend (an HSM, or SoftHSM2 in tests), with the semantics of Trustee's
 * pkcs11 plugin: a resource is a token object whose CKA_LABEL is "<repo>/<type>/<tag>" and
 * whose CKA_VALUE is the resource. Reads accept any object class with that label (Trustee's
 * CKO_SECRET_KEY/CKK_GENERIC_SECRET objects, or CKO_DATA objects written by other tools);
 * writes create a token object of the configured class (Trustee's generic secret by default,
 * `object_class = "data"` for CKO_DATA) and then destroy the older objects with that label.
 * Read-write.
 *
 * Config keys (Trustee's): module (path of the PKCS#11 library, dlopen'ed), slot_index
 * (index among the slots that hold a token, default 0), pin (user PIN); kbsfs adds
 * object_class. One logged-in R/W session, serialised by a mutex; a session or device error
 * is retried once on a new session, after that the call returns KBS_ERR_UNAVAILABLE.
 * Values are read straight into secret memory; the PIN is wiped after login.
 */
struct repo_pkcs11_params {
	const char *module;
	int slot_index;
	const char *pin;
	bool data_objects; /* write CKO_DATA instead of CKO_SECRET_KEY */
};

/* err names the failing step and the PKCS#11 return code (never the PIN). */
int repo_pkcs11_new(const struct repo_pkcs11_params *p, struct repo **out, char *err,
		    size_t errlen);

/*
 * Builds the parameters from a [[plugins]] table (name = "pkcs11", or name = "resource" with
 * storage_backend_type = "Pkcs11") and opens the backend.
 */
int repo_pkcs11_from_json(const json_t *cfg, struct repo **out, char *err, size_t errlen);

#endif
