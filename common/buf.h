/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_COMMON_BUF_H
#define KBS_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

/*
 * Growable, length-carrying byte buffer for non-secret data (sshbuf-like).
 * Always NUL-terminated after p[len] so text can be used as a C string.
 * Secret data goes into struct secbuf (secmem.h) instead.
 */
struct buf {
	uint8_t *p;
	size_t len;
	size_t cap;
	size_t max; /* 0 = unlimited; otherwise appends beyond max fail with KBS_ERR_RANGE */
};

#define BUF_INIT {NULL, 0, 0, 0}

void buf_init(struct buf *b, size_t max);
/* Frees the storage and resets the buffer; safe on a zeroed buffer. */
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_append_byte(struct buf *b, uint8_t c);
/* printf-style append; the format must not contain secret data. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands ownership of the storage to the caller (NUL-terminated), leaving b empty. */
char *buf_steal(struct buf *b, size_t *len);

#endif
