// SPDX-License-Identifier: Apache-2.0
#include "common/buf.h"
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void buf_release(struct buf *b)
{
	if (!b)
		return;
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = 0;
}

int buf_reserve(struct buf *b, size_t extra)
{
	size_t need, ncap;
	uint8_t *np;

	if (extra > SIZE_MAX - b->len - 1)
		return KBS_ERR_RANGE;
	need = b->len + extra + 1;
	if (b->max && need - 1 > b->max)
		return KBS_ERR_RANGE;
	if (need <= b->cap)
		return KBS_OK;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return KBS_ERR_RANGE;
		ncap *= 2;
	}
	np = realloc(b->p, ncap);
	if (!np)
		return KBS_ERR_NOMEM;
	b->p = np;
	b->cap = ncap;
	return KBS_OK;
}

int buf_append(struct buf *b, const void *data, size_t len)
{
	int rc = buf_reserve(b, len);

	if (rc)
		return rc;
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = 0;
	return KBS_OK;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_append_byte(struct buf *b, uint8_t c)
{
	return buf_append(b, &c, 1);
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return KBS_ERR_INVAL;
	rc = buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return KBS_OK;
}

char *buf_steal(struct buf *b, size_t *len)
{
	char *p;

	if (!b->p && buf_reserve(b, 0))
		return NULL;
	p = (char *)b->p;
	if (len)
		*len = b->len;
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
