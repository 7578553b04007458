// SPDX-License-Identifier: Apache-2.0
/* Helpers shared by the HTTP resource backends (Vault, Azure Key Vault). */
#include "server/kbs/repo_http.h"

#include <openssl/crypto.h>

#include "common/err.h"

int repo_http_status_err(long status)
{
	if (status >= 200 && status < 300)
		return KBS_OK;
	if (status == 404)
		return KBS_ERR_NOTFOUND;
	if (status == 401 || status == 403)
		return KBS_ERR_PERM;
	if (status == 0 || status == 408 || status == 429 || status >= 500)
		return KBS_ERR_UNAVAILABLE;
	return KBS_ERR_IO;
}

static void wipe_rec(json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_string(j)) {
		OPENSSL_cleanse((char *)json_string_value(j), json_string_length(j));
	} else if (json_is_object(j)) {
		json_object_foreach(j, k, v)
			wipe_rec(v);
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			wipe_rec(v);
	}
}

void repo_http_json_wipe(json_t *j)
{
	/* only a document we alone hold (freshly parsed): its bytes are ours to overwrite */
	if (j && j->refcount == 1)
		wipe_rec(j);
	json_decref(j);
}
