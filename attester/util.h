/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_ATTESTER_UTIL_H
#define KBS_ATTESTER_UTIL_H

#include <stddef.h>
#include <stdint.h>

/*
 * Small helpers shared by the attester modules (not part of the public API).
 */

/*
 * Reads a whole file into a new malloc'ed buffer (NUL-terminated after *len bytes).
 * KBS_ERR_NOTFOUND if it does not exist, KBS_ERR_RANGE if longer than max, KBS_ERR_IO else.
 */
int attester_read_file(const char *path, size_t max, uint8_t **out, size_t *len);

/* Writes len bytes to an existing file (O_WRONLY, no truncation, like sysfs/configfs). */
int attester_write_file(const char *path, const uint8_t *data, size_t len);

/* Copies in into a zero buffer of outlen bytes (truncates if longer). */
void attester_fit(const uint8_t *in, size_t len, uint8_t *out, size_t outlen);

#endif
