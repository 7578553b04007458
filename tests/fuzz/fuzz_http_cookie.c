// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the Cookie header parser (and the listen-address and path decoders on the same input).
 * Invariants: bounded output, NUL-terminated value made only of cookie-octets, identical
 * verdict for the presence-only mode, and the found value re-parses from "name=value".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/err.h"
#include "common/http_util.h"

static void check(const char *hdr, size_t len, const char *name)
{
	char out[64], again[64], rebuilt[80];
	int rc = http_cookie_find(hdr, len, name, out, sizeof(out));
	int rc2 = http_cookie_find(hdr, len, name, NULL, 0);

	if (rc != KBS_OK && out[0] != '\0')
		abort();
	/* presence-only mode sees the same header verdict (it cannot hit the out-size limit) */
	if (rc != rc2 && !(rc == KBS_ERR_RANGE && rc2 == KBS_OK))
		abort();
	if (rc != KBS_OK)
		return;
	size_t vl = strlen(out);
	if (vl >= sizeof(out))
		abort();
	for (size_t i = 0; i < vl; i++) {
		unsigned char c = (unsigned char)out[i];
		if (c < 0x21 || c > 0x7e || c == '"' || c == ',' || c == ';' || c == '\\')
			abort();
	}
	size_t nl = strlen(name);
	memcpy(rebuilt, name, nl);
	rebuilt[nl] = '=';
	memcpy(rebuilt + nl + 1, out, vl);
	if (http_cookie_find(rebuilt, nl + 1 + vl, name, again, sizeof(again)) != KBS_OK ||
	    strcmp(again, out) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct sockaddr_storage ss;
	socklen_t sl;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	/* the header is length-delimited: embedded NULs must be handled (rejected) too */
	check(s, size, "kbs-session-id");
	check(s, size, "a");
	if (http_parse_listen(s, &ss, &sl) == KBS_OK && sl > sizeof(ss))
		abort();
	/* path decoding: never longer than the input, never a control byte, and a decoded
	 * path decodes to itself again unless it still contains '%' */
	char *p = malloc(size + 1), *q = malloc(size + 1);
	if (p != NULL && q != NULL && http_path_decode(s, size, p, size + 1) == KBS_OK) {
		size_t pl = strlen(p);
		if (pl > size)
			abort();
		for (size_t i = 0; i < pl; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				abort();
		if (strchr(p, '%') == NULL &&
		    (http_path_decode(p, pl, q, size + 1) != KBS_OK || strcmp(p, q) != 0))
			abort();
	}
	free(p);
	free(q);
	free(s);
	return 0;
}
