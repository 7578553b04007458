/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_SERVER_KBS_ERROR_H
#define KBS_SERVER_KBS_ERROR_H

#include "common/http_server.h"

/*
 * Wire errors of the KBS: Trustee's error enum (kbs-protocol §6). Body
 * {"type":"https://github.com/confidential-containers/kbs/errors/<Name>","detail":"..."};
 * 404 for InvalidRequestPath and PluginNotFound, 401 for every other Trustee error.
 * Two HTTP-layer statuses Trustee's web framework produces are added (405, 413), and a 503
 * whose type names the storage backend that is down (kbsfs; Trustee answers 401 there).
 * The table in kbs_error.c is the only place statuses and names are decided.
 */
enum kbs_werr {
	KBS_WERR_ADMIN_AUTH_INIT = 0, /* AdminAuthInitialization (resource POST/DELETE denial) */
	KBS_WERR_ADMIN_AUTH_ACCESS,   /* AdminAuthAccess */
	KBS_WERR_ATTESTATION,         /* AttestationError */
	KBS_WERR_INVALID_REQUEST_PATH,/* InvalidRequestPath (404) */
	KBS_WERR_JWE,                 /* JweError */
	KBS_WERR_PLUGIN_NOT_FOUND,    /* PluginNotFound (404) */
	KBS_WERR_PLUGIN_INTERNAL,     /* PluginInternalError */
	KBS_WERR_POLICY_DENY,         /* PolicyDeny */
	KBS_WERR_PARSE_POLICY,        /* ParsePolicyError */
	KBS_WERR_POLICY_ENGINE,       /* PolicyEngineError */
	KBS_WERR_RVPS,                /* RvpsError */
	KBS_WERR_SERDE,               /* SerdeError */
	KBS_WERR_TOKEN_NOT_FOUND,     /* TokenNotFound */
	KBS_WERR_TOKEN_VERIFIER,      /* TokenVerifierError */
	KBS_WERR_PROMETHEUS,          /* PrometheusError */
	KBS_WERR_METHOD_NOT_ALLOWED,  /* 405 from the HTTP layer */
	KBS_WERR_PAYLOAD_TOO_LARGE,   /* 413 from the HTTP layer */
	KBS_WERR_POSTGRES_UNAVAILABLE,/* 503: the Postgres storage backend is unreachable */
	KBS_WERR_PKCS11_UNAVAILABLE,  /* 503: the PKCS#11 token does not answer */
	KBS_WERR_VAULT_UNAVAILABLE,   /* 503: HashiCorp Vault unreachable / sealed / 5xx */
	KBS_WERR_AZURE_KV_UNAVAILABLE,/* 503: Azure Key Vault unreachable / throttling / 5xx */
	KBS_WERR__COUNT
};

/* Error name ("PolicyDeny"), HTTP status and Trustee's fixed detail prefix. */
const char *kbs_werr_name(enum kbs_werr e);
int kbs_werr_status(enum kbs_werr e);
const char *kbs_werr_prefix(enum kbs_werr e);

/*
 * Fills resp with the error: status, no Content-Type (as Trustee), body
 * {"type","detail"}; detail = "<prefix>: <cause>" (cause printf-formatted, optional).
 * The cause must never contain secret bytes.
 */
int kbs_error_respond(struct http_response *resp, enum kbs_werr e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
