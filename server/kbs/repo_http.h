/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_SERVER_REPO_HTTP_H
#define KBS_SERVER_REPO_HTTP_H

#include <jansson.h>
#include <stddef.h>

#include "common/secmem.h"
#include "server/kbs/repo.h"

/*
 * Resource backends behind an HTTP API, on the project's HTTP client (common/http_client.h).
 *
 * HashiCorp Vault KV (repo_vault.c), Trustee's keys: vault_url, token, mount_path
 * ("secret"), verify_ssl, ca_certs; kbsfs adds kv_version (1 = Trustee's, 2) and
 * timeout_ms. Path <mount>/<repo>/<type>/<tag> (v2: <mount>/data/<repo>/<type>/<tag>),
 * value = base64 of the resource in the field "data" (as Trustee writes it). Read-write.
 *
 * Azure Key Vault (repo_akv.c): vault_url, tenant_id, client_id, then client_secret or
 * federated_token_file (workload identity; default env AZURE_FEDERATED_TOKEN_FILE), or
 * managed_identity = true (IMDS token, imds_endpoint default http://169.254.169.254),
 * authority_host (default env AZURE_AUTHORITY_HOST or https://login.microsoftonline.com/),
 * ca_file, api_version ("7.4"), writable (false). Secret name = tag with '_' -> '-'; a
 * type of 32 hex digits selects that secret version, any other type the latest.
 *
 * Both: 404 -> KBS_ERR_NOTFOUND, 401/403 -> KBS_ERR_PERM, 429/5xx/no answer ->
 * KBS_ERR_UNAVAILABLE; values land in secret memory and the HTTP body copy is wiped.
 */
int repo_vault_from_json(const json_t *cfg, struct repo **out, char *err, size_t errlen);
int repo_akv_from_json(const json_t *cfg, struct repo **out, char *err, size_t errlen);

/*
 * Response parsers (pure; fuzzed by tests/fuzz/fuzz_repo_http.c). Values land in secret
 * memory; KBS_ERR_PARSE names nothing of the value.
 */
/* Vault read response: kv 1 {"data":{"data":b64}}, kv 2 {"data":{"data":{"data":b64}}}. */
int repo_vault_parse(int kv, const void *body, size_t len, struct secbuf *out);
/* Key Vault SecretBundle: "value", base64-decoded when contentType is ours. */
int repo_akv_parse_bundle(const void *body, size_t len, struct secbuf *out);
/* Token endpoint response: access_token (malloc'ed, no CR/LF) and expires_in (seconds). */
int repo_akv_parse_token(const void *body, size_t len, char **token, long long *expires_in);

/* Shared helpers (repo_http.c). */

/* Maps an HTTP status (0 = no response) to a kbs error; 2xx -> KBS_OK. */
int repo_http_status_err(long status);
/* Wipes and releases a string member's bytes of a JSON document, then decrefs it. */
void repo_http_json_wipe(json_t *j);

#endif
