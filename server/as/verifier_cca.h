/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_VERIFIER_CCA_H
#define KBS_AS_VERIFIER_CCA_H

#include <jansson.h>

#include "server/as/verifier.h"

/*
 * Arm CCA verifier, local mode (kbs-protocol §13.8; docs/verifiers.md). Evidence
 * {"token": [CBOR bytes]} (or that JSON as a string, as guest-components sends it). Checks:
 * strict CBOR parse of the tag-399 collection and both COSE_Sign1 tokens; platform trust
 * anchor (CPAK) from the ta-store by instance id (implementation id must match); platform
 * signature; platform challenge = hash(RAK) with the realm's public-key hash algorithm; realm
 * signature with the RAK; realm challenge = expected report data (64 bytes, required);
 * personalization value = init-data digest (fitted to 64 bytes) when given.
 *
 * ta_store: Trustee's tastore.json text ([{"pkey": <JWK>, "implementation-id": hex,
 * "instance-id": hex}, ...]).
 */
int cca_verify_with_store(const char *ta_store, size_t ta_len, const struct as_verify_input *in,
			  json_t **claims, char *why, size_t whylen);

/* Table entry: the ta-store comes from Trustee's CCA config JSON named by $CCA_CONFIG_FILE. */
extern const struct as_verifier as_verifier_cca;

#endif
