// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attester/util.h"
#include "common/err.h"

int attester_read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
	uint8_t *p = NULL, *np;
	size_t n = 0, cap = 0;
	int fd, rc;

	if (!path || !out || !len)
		return KBS_ERR_INVAL;
	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? KBS_ERR_NOTFOUND : KBS_ERR_IO;
	/* sysfs/configfs files report size 0 or 4096: read until EOF instead of trusting st_size */
	for (;;) {
		ssize_t r;

		if (cap - n < 4096) {
			if (cap > max + 1) {
				rc = KBS_ERR_RANGE;
				goto out;
			}
			cap = cap ? cap * 2 : 8192;
			np = realloc(p, cap + 1);
			if (!np) {
				rc = KBS_ERR_NOMEM;
				goto out;
			}
			p = np;
		}
		r = read(fd, p + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = KBS_ERR_IO;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			rc = KBS_ERR_RANGE;
			goto out;
		}
	}
	if (!p) {
		p = malloc(1);
		if (!p) {
			rc = KBS_ERR_NOMEM;
			goto out;
		}
	}
	p[n] = 0;
	*out = p;
	*len = n;
	p = NULL;
	rc = KBS_OK;
out:
	free(p);
	close(fd);
	return rc;
}

int attester_write_file(const char *path, const uint8_t *data, size_t len)
{
	size_t off = 0;
	int fd, rc = KBS_OK;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? KBS_ERR_NOTFOUND : KBS_ERR_IO;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			rc = KBS_ERR_IO;
			break;
		}
		off += (size_t)w;
	}
	if (close(fd) != 0 && rc == KBS_OK)
		rc = KBS_ERR_IO;
	return rc;
}

void attester_fit(const uint8_t *in, size_t len, uint8_t *out, size_t outlen)
{
	memset(out, 0, outlen);
	if (in && len)
		memcpy(out, in, len < outlen ? len : outlen);
}
