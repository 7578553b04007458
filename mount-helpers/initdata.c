// SPDX-License-Identifier: Apache-2.0
#include "mount-helpers/initdata.h"
#include "common/b64.h"
#include "common/buf.h"
#include "common/err.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define KID_MAX (16u << 20)

size_t kid_digest_size(const char *algorithm)
{
	if (!algorithm)
		return 0;
	if (!strcmp(algorithm, "sha256"))
		return 32;
	if (!strcmp(algorithm, "sha384"))
		return 48;
	if (!strcmp(algorithm, "sha512"))
		return 64;
	return 0;
}

int kid_digest(const char *algorithm, const uint8_t *data, size_t len, uint8_t *out, size_t *outlen)
{
	const EVP_MD *md;
	unsigned int n = 0;

	switch (kid_digest_size(algorithm)) {
	case 32:
		md = EVP_sha256();
		break;
	case 48:
		md = EVP_sha384();
		break;
	case 64:
		md = EVP_sha512();
		break;
	default:
		return KBS_ERR_INVAL;
	}
	if (EVP_Digest(data, len, out, &n, md, NULL) != 1)
		return KBS_ERR_CRYPTO;
	*outlen = n;
	return KBS_OK;
}

/* A multi-line literal string keeps the file readable; it cannot hold ''' or control bytes. */
static bool literal_ok(const char *v, size_t len)
{
	size_t i;

	if (len && v[len - 1] == '\'')
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
			return false;
		if (c == '\'' && i + 2 < len && v[i + 1] == '\'' && v[i + 2] == '\'')
			return false;
	}
	return true;
}

static int append_basic(struct buf *b, const char *v, size_t len)
{
	size_t i;
	int rc = buf_append_byte(b, '"');

	for (i = 0; i < len && rc == KBS_OK; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '"' || c == '\\')
			rc = buf_printf(b, "\\%c", c);
		else if (c == '\n')
			rc = buf_append_str(b, "\\n");
		else if (c == '\t')
			rc = buf_append_str(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			rc = buf_printf(b, "\\u%04x", c);
		else
			rc = buf_append_byte(b, c);
	}
	return rc == KBS_OK ? buf_append_byte(b, '"') : rc;
}

int kid_build(const char *algorithm, const struct kid_entry *e, size_t n, char **out,
	      size_t *outlen)
{
	struct buf b;
	size_t i;
	int rc;

	*out = NULL;
	if (!kid_digest_size(algorithm))
		return KBS_ERR_INVAL;
	buf_init(&b, KID_MAX);
	rc = buf_printf(&b, "version = \"0.1.0\"\nalgorithm = \"%s\"\n\n[data]\n", algorithm);
	for (i = 0; i < n && rc == KBS_OK; i++) {
		if (!e[i].key || !e[i].key[0] || memchr(e[i].value, 0, e[i].value_len)) {
			rc = KBS_ERR_INVAL;
			break;
		}
		rc = append_basic(&b, e[i].key, strlen(e[i].key));
		if (rc == KBS_OK)
			rc = buf_append_str(&b, " = ");
		if (rc != KBS_OK)
			break;
		if (literal_ok(e[i].value, e[i].value_len)) {
			/* the newline right after ''' is not part of the value */
			rc = buf_append_str(&b, "'''\n");
			if (rc == KBS_OK)
				rc = buf_append(&b, e[i].value, e[i].value_len);
			if (rc == KBS_OK)
				rc = buf_append_str(&b, "'''");
		} else {
			rc = append_basic(&b, e[i].value, e[i].value_len);
		}
		if (rc == KBS_OK)
			rc = buf_append_byte(&b, '\n');
	}
	if (rc == KBS_OK) {
		size_t l = b.len;

		rc = buf_append_byte(&b, 0);
		if (rc == KBS_OK) {
			*out = buf_steal(&b, NULL);
			if (outlen)
				*outlen = l;
		}
	}
	buf_release(&b);
	return rc;
}

static int gzip_bytes(const uint8_t *in, size_t len, uint8_t **out, size_t *outlen)
{
	z_stream z;
	uLong cap;
	uint8_t *p;
	int rc = KBS_ERR_NOMEM;

	if (len > KID_MAX)
		return KBS_ERR_RANGE;
	memset(&z, 0, sizeof(z));
	/* windowBits 15 + 16: gzip wrapper; zlib writes mtime 0 and OS 3 (unix) */
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return KBS_ERR_NOMEM;
	cap = deflateBound(&z, (uLong)len) + 32;
	p = malloc(cap);
	if (!p)
		goto out;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = p;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		free(p);
		rc = KBS_ERR_INTERNAL;
		goto out;
	}
	*out = p;
	*outlen = z.total_out;
	rc = KBS_OK;
out:
	deflateEnd(&z);
	return rc;
}

int kid_annotation(const uint8_t *toml, size_t len, char **out)
{
	uint8_t *gz = NULL;
	size_t gzlen = 0;
	int rc;

	*out = NULL;
	rc = gzip_bytes(toml, len, &gz, &gzlen);
	if (rc == KBS_OK)
		rc = b64_encode_alloc(gz, gzlen, B64_STD, out);
	free(gz);
	return rc;
}

int kid_block_image(const uint8_t *toml, size_t len, uint8_t **out, size_t *outlen)
{
	uint8_t *gz = NULL, *img;
	size_t gzlen = 0, total, i;
	int rc;

	*out = NULL;
	rc = gzip_bytes(toml, len, &gz, &gzlen);
	if (rc != KBS_OK)
		return rc;
	total = (16 + gzlen + 511) / 512 * 512;
	img = calloc(1, total);
	if (!img) {
		free(gz);
		return KBS_ERR_NOMEM;
	}
	memcpy(img, "initdata", 8);
	for (i = 0; i < 8; i++)
		img[8 + i] = (uint8_t)((uint64_t)gzlen >> (8 * i));
	memcpy(img + 16, gz, gzlen);
	free(gz);
	*out = img;
	*outlen = total;
	return KBS_OK;
}
