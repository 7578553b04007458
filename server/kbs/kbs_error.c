// SPDX-License-Identifier: Apache-2.0
#include "server/kbs/kbs_error.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define ERR_TYPE_PREFIX "https://github.com/confidential-containers/kbs/errors/"

static const struct {
	const char *name;
	int status;
	const char *prefix;
} table[KBS_WERR__COUNT] = {
	[KBS_WERR_ADMIN_AUTH_INIT] = {"AdminAuthInitialization", 401,
				      "failed to initialize [admin] configuration"},
	[KBS_WERR_ADMIN_AUTH_ACCESS] = {"AdminAuthAccess", 401,
				       "admin access denied for endpoint %s"},
	[KBS_WERR_ATTESTATION] = {"AttestationError", 401, "Attestation error"},
	[KBS_WERR_INVALID_REQUEST_PATH] = {"InvalidRequestPath", 404, "Request path %s is invalid"},
	[KBS_WERR_JWE] = {"JweError", 401, "JWE failed"},
	[KBS_WERR_PLUGIN_NOT_FOUND] = {"PluginNotFound", 404, "Plugin %s not found"},
	[KBS_WERR_PLUGIN_INTERNAL] = {"PluginInternalError", 401, "Plugin internal error"},
	[KBS_WERR_POLICY_DENY] = {"PolicyDeny", 401, "Access denied by policy"},
	[KBS_WERR_PARSE_POLICY] = {"ParsePolicyError", 401, "Failed to parse policy"},
	[KBS_WERR_POLICY_ENGINE] = {"PolicyEngineError", 401, "Policy engine error"},
	[KBS_WERR_RVPS] = {"RvpsError", 401, "RVPS configuration failed"},
	[KBS_WERR_SERDE] = {"SerdeError", 401, "Serialize/Deserialize failed"},
	[KBS_WERR_TOKEN_NOT_FOUND] = {"TokenNotFound", 401, "Attestation Token not found"},
	[KBS_WERR_TOKEN_VERIFIER] = {"TokenVerifierError", 401, "Token Verifier error"},
	[KBS_WERR_PROMETHEUS] = {"PrometheusError", 401, "Prometheus error"},
	[KBS_WERR_METHOD_NOT_ALLOWED] = {"MethodNotAllowed", 405, "Method not allowed"},
	[KBS_WERR_PAYLOAD_TOO_LARGE] = {"PayloadTooLarge", 413, "Payload too large"},
	[KBS_WERR_POSTGRES_UNAVAILABLE] = {"PostgresUnavailable", 503,
					   "Storage backend Postgres unavailable"},
	[KBS_WERR_PKCS11_UNAVAILABLE] = {"Pkcs11Unavailable", 503,
					 "Resource backend PKCS#11 unavailable"},
	[KBS_WERR_VAULT_UNAVAILABLE] = {"VaultUnavailable", 503,
					"Resource backend Vault unavailable"},
	[KBS_WERR_AZURE_KV_UNAVAILABLE] = {"AzureKeyVaultUnavailable", 503,
					   "Resource backend Azure Key Vault unavailable"},
};

const char *kbs_werr_name(enum kbs_werr e)
{
	return (unsigned)e < KBS_WERR__COUNT ? table[e].name : "PluginInternalError";
}

int kbs_werr_status(enum kbs_werr e)
{
	return (unsigned)e < KBS_WERR__COUNT ? table[e].status : 401;
}

const char *kbs_werr_prefix(enum kbs_werr e)
{
	return (unsigned)e < KBS_WERR__COUNT ? table[e].prefix : "Plugin internal error";
}

int kbs_error_respond(struct http_response *resp, enum kbs_werr e, const char *fmt, ...)
{
	char cause[512] = "", detail[700], type[128];
	json_t *j;
	char *txt;
	int rc = KBS_ERR_NOMEM;

	if ((unsigned)e >= KBS_WERR__COUNT)
		e = KBS_WERR_PLUGIN_INTERNAL;
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(cause, sizeof(cause), fmt, ap);
		va_end(ap);
	}
	/* causes may quote request input: keep them printable ASCII */
	for (char *c = cause; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			*c = '?';
	const char *hole = strstr(table[e].prefix, "%s");
	if (hole)
		/* the cause fills the prefix's hole: "Plugin <name> not found" */
		snprintf(detail, sizeof(detail), "%.*s%s%s", (int)(hole - table[e].prefix),
			 table[e].prefix, cause, hole + 2);
	else if (cause[0])
		snprintf(detail, sizeof(detail), "%s: %s", table[e].prefix, cause);
	else
		snprintf(detail, sizeof(detail), "%s", table[e].prefix);
	snprintf(type, sizeof(type), ERR_TYPE_PREFIX "%s", table[e].name);
	resp->status = table[e].status;
	buf_reset(&resp->body);
	j = json_pack("{s:s,s:s}", "type", type, "detail", detail);
	if (!j)
		return KBS_ERR_NOMEM;
	txt = json_dumps(j, JSON_COMPACT);
	if (txt) {
		rc = buf_append_str(&resp->body, txt);
		free(txt);
	}
	json_decref(j);
	return rc;
}
