/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_COMMON_ERR_H
#define KBS_COMMON_ERR_H

#include <stddef.h>

/*
 * One error enum for the whole project. Functions return KBS_OK (0) or a negative
 * kbs_err. Edges translate: fs/ maps to -errno, server/ maps to HTTP status + error JSON.
 */
enum kbs_err {
	KBS_OK = 0,
	KBS_ERR_NOMEM = -1,       /* allocation failed */
	KBS_ERR_INVAL = -2,       /* invalid argument or malformed input */
	KBS_ERR_PARSE = -3,       /* syntax error in JSON/TOML/... */
	KBS_ERR_RANGE = -4,       /* value or size out of bounds */
	KBS_ERR_IO = -5,          /* read/write/system call failed */
	KBS_ERR_NOTFOUND = -6,    /* object does not exist */
	KBS_ERR_EXISTS = -7,      /* object already exists */
	KBS_ERR_PERM = -8,        /* not permitted (policy/path confinement) */
	KBS_ERR_CRYPTO = -9,      /* cryptographic operation failed */
	KBS_ERR_VERIFY = -10,     /* signature/tag/binding did not verify */
	KBS_ERR_EXPIRED = -11,    /* token/session/nonce expired */
	KBS_ERR_UNSUPPORTED = -12,/* algorithm/feature not supported */
	KBS_ERR_DENIED = -13,     /* policy denied */
	KBS_ERR_AUTH = -14,       /* authentication missing or wrong */
	KBS_ERR_NETWORK = -15,    /* connection/transport failure */
	KBS_ERR_TIMEOUT = -16,    /* deadline exceeded */
	KBS_ERR_PROTOCOL = -17,   /* peer violated the protocol */
	KBS_ERR_BUSY = -18,       /* resource temporarily unavailable, retry */
	KBS_ERR_LOCKMEM = -19,    /* secure memory could not be locked / pool exhausted */
	KBS_ERR_INTERNAL = -20,   /* bug or unexpected state */
	KBS_ERR_UNAVAILABLE = -21,/* backend unavailable */
	KBS_ERR__LAST = -22
};

/* Static text for an error code; never NULL. */
const char *kbs_strerror(int err);

/* Stable identifier ("KBS_ERR_PARSE") for logs and status files; never NULL. */
const char *kbs_errname(int err);

/*
 * printf-style message into a caller's error buffer err[0..errlen), truncated to fit;
 * nothing happens when err is NULL or errlen is 0.
 */
void kbs_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
