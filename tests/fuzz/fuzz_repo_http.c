// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the response parsers of the HTTP resource backends (Vault KV v1/v2 read, Azure Key
 * Vault SecretBundle, identity-platform token): any body either fails cleanly or yields a
 * value in secret memory no longer than the body, and a token without CR/LF.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/secmem.h"
#include "server/kbs/repo_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct secbuf out = {0};
	char *tok = NULL;
	long long exp = 0;

	for (int kv = 1; kv <= 2; kv++) {
		if (repo_vault_parse(kv, data, size, &out) == KBS_OK) {
			if (out.len > size || (out.len && !secmem_contains(out.p)))
				abort();
			secbuf_free(&out);
		} else if (out.p) {
			abort();
		}
	}
	if (repo_akv_parse_bundle(data, size, &out) == KBS_OK) {
		if (out.len > size)
			abort();
		secbuf_free(&out);
	}
	if (repo_akv_parse_token(data, size, &tok, &exp) == KBS_OK) {
		if (!tok || !*tok || strpbrk(tok, "\r\n") || exp < 0)
			abort();
		free(tok);
	} else if (tok) {
		abort();
	}
	return 0;
}
