// SPDX-License-Identifier: Apache-2.0
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>

static const struct {
	const char *name;
	const char *text;
} err_table[] = {
	[0] = {"KBS_OK", "success"},
	[1] = {"KBS_ERR_NOMEM", "out of memory"},
	[2] = {"KBS_ERR_INVAL", "invalid argument"},
	[3] = {"KBS_ERR_PARSE", "parse error"},
	[4] = {"KBS_ERR_RANGE", "value out of range"},
	[5] = {"KBS_ERR_IO", "input/output error"},
	[6] = {"KBS_ERR_NOTFOUND", "not found"},
	[7] = {"KBS_ERR_EXISTS", "already exists"},
	[8] = {"KBS_ERR_PERM", "operation not permitted"},
	[9] = {"KBS_ERR_CRYPTO", "cryptographic operation failed"},
	[10] = {"KBS_ERR_VERIFY", "verification failed"},
	[11] = {"KBS_ERR_EXPIRED", "expired"},
	[12] = {"KBS_ERR_UNSUPPORTED", "not supported"},
	[13] = {"KBS_ERR_DENIED", "denied by policy"},
	[14] = {"KBS_ERR_AUTH", "authentication failed"},
	[15] = {"KBS_ERR_NETWORK", "network error"},
	[16] = {"KBS_ERR_TIMEOUT", "timed out"},
	[17] = {"KBS_ERR_PROTOCOL", "protocol error"},
	[18] = {"KBS_ERR_BUSY", "temporarily unavailable"},
	[19] = {"KBS_ERR_LOCKMEM", "secure memory unavailable"},
	[20] = {"KBS_ERR_INTERNAL", "internal error"},
	[21] = {"KBS_ERR_UNAVAILABLE", "backend unavailable"},
};

_Static_assert(sizeof(err_table) / sizeof(err_table[0]) == (unsigned)-KBS_ERR__LAST,
	       "err_table must cover every kbs_err");

static int err_index(int err)
{
	if (err > 0 || err <= KBS_ERR__LAST)
		return -1;
	return -err;
}

const char *kbs_strerror(int err)
{
	int i = err_index(err);

	return i < 0 ? "unknown error" : err_table[i].text;
}

const char *kbs_errname(int err)
{
	int i = err_index(err);

	return i < 0 ? "KBS_ERR_UNKNOWN" : err_table[i].name;
}

void kbs_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
