// SPDX-License-Identifier: Apache-2.0
/*
 * Init-data documents: parsing (common/toml.h), digest over the exact bytes, kata annotation
 * and block image decoding (zlib). See initdata.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "attester/initdata.h"
#include "attester/util.h"
#include "common/b64.h"
#include "common/err.h"
#include "common/toml.h"

struct initdata {
	char *text;
	size_t len;
	char algorithm[8];
	char *version;
	uint8_t digest[64];
	size_t dlen;
	json_t *data;
};

static void say(char *why, size_t whylen, const char *msg)
{
	if (why && whylen)
		(void)snprintf(why, whylen, "%s", msg);
}

void initdata_free(struct initdata *d)
{
	if (!d)
		return;
	free(d->text);
	free(d->version);
	json_decref(d->data);
	free(d);
}

int initdata_parse(const char *text, size_t len, struct initdata **out, char *why, size_t whylen)
{
	struct initdata *d = NULL;
	struct toml_doc *doc = NULL;
	struct toml_err terr;
	json_t *root, *v, *data;
	const EVP_MD *md;
	const char *k, *alg;
	unsigned int dl = 0;
	int rc;

	if (!out || (!text && len))
		return KBS_ERR_INVAL;
	*out = NULL;
	if (len > INITDATA_MAX) {
		say(why, whylen, "init-data document too large");
		return KBS_ERR_RANGE;
	}
	rc = toml_parse(text, len, &doc, &terr);
	if (rc) {
		if (why && whylen)
			(void)snprintf(why, whylen, "TOML line %d: %s", terr.line, terr.msg);
		return rc == KBS_ERR_NOMEM ? rc : KBS_ERR_PARSE;
	}
	root = toml_doc_root(doc);
	rc = KBS_ERR_INVAL;
	v = json_object_get(root, "version");
	if (!json_is_string(v)) {
		say(why, whylen, "init-data: 'version' must be a string");
		goto out;
	}
	alg = json_string_value(json_object_get(root, "algorithm"));
	if (!alg) {
		say(why, whylen, "init-data: 'algorithm' must be a string");
		goto out;
	}
	if (strcmp(alg, "sha256") == 0)
		md = EVP_sha256();
	else if (strcmp(alg, "sha384") == 0)
		md = EVP_sha384();
	else if (strcmp(alg, "sha512") == 0)
		md = EVP_sha512();
	else {
		say(why, whylen, "init-data: unsupported 'algorithm' (sha256, sha384, sha512)");
		rc = KBS_ERR_UNSUPPORTED;
		goto out;
	}
	data = json_object_get(root, "data");
	if (!json_is_object(data)) {
		say(why, whylen, "init-data: '[data]' table missing");
		goto out;
	}
	json_object_foreach(data, k, v) {
		if (!json_is_string(v)) {
			say(why, whylen, "init-data: every [data] value must be a string");
			goto out;
		}
	}
	rc = KBS_ERR_NOMEM;
	d = calloc(1, sizeof(*d));
	if (!d)
		goto out;
	d->text = malloc(len + 1);
	d->version = strdup(json_string_value(json_object_get(root, "version")));
	if (!d->text || !d->version)
		goto out;
	if (len)
		memcpy(d->text, text, len);
	d->text[len] = 0;
	d->len = len;
	(void)snprintf(d->algorithm, sizeof(d->algorithm), "%s", alg);
	d->data = json_incref(data);
	rc = KBS_ERR_CRYPTO;
	/* the digest covers the document exactly as received (host and guest hash the same bytes) */
	if (!EVP_Digest(text, len, d->digest, &dl, md, NULL))
		goto out;
	d->dlen = dl;
	*out = d;
	d = NULL;
	rc = KBS_OK;
out:
	initdata_free(d);
	toml_doc_free(doc);
	return rc;
}

int initdata_load_file(const char *path, struct initdata **out, char *why, size_t whylen)
{
	uint8_t *p = NULL;
	size_t n = 0;
	int rc = attester_read_file(path, INITDATA_MAX, &p, &n);

	if (rc) {
		say(why, whylen, "cannot read the init-data file");
		return rc;
	}
	rc = initdata_parse((const char *)p, n, out, why, whylen);
	free(p);
	return rc;
}

int initdata_gunzip(const uint8_t *in, size_t len, size_t max, uint8_t **out, size_t *outlen)
{
	z_stream z;
	uint8_t *buf = NULL, *nb;
	size_t cap = 4096, n = 0;
	int zr, rc = KBS_ERR_PARSE;

	if (!in || !out || !outlen)
		return KBS_ERR_INVAL;
	*out = NULL;
	*outlen = 0;
	memset(&z, 0, sizeof(z));
	/* 16 + MAX_WBITS: gzip framing only (no raw zlib streams) */
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return KBS_ERR_NOMEM;
	buf = malloc(cap + 1);
	if (!buf) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	for (;;) {
		if (n == cap) {
			if (cap >= max) {
				rc = KBS_ERR_RANGE;
				goto out;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				rc = KBS_ERR_NOMEM;
				goto out;
			}
			buf = nb;
		}
		z.next_out = buf + n;
		z.avail_out = (uInt)(cap - n);
		zr = inflate(&z, Z_NO_FLUSH);
		n = cap - z.avail_out;
		if (n > max) {
			rc = KBS_ERR_RANGE;
			goto out;
		}
		if (zr == Z_STREAM_END) {
			/* concatenated gzip members are one file (gzip -c a b) */
			if (z.avail_in == 0)
				break;
			if (inflateReset(&z) != Z_OK)
				goto out;
			continue;
		}
		if (zr != Z_OK && !(zr == Z_BUF_ERROR && z.avail_out == 0))
			goto out;
		if (z.avail_in == 0 && z.avail_out != 0)
			goto out; /* truncated stream */
	}
	buf[n] = 0;
	*out = buf;
	*outlen = n;
	buf = NULL;
	rc = KBS_OK;
out:
	inflateEnd(&z);
	free(buf);
	return rc;
}

int initdata_from_annotation(const char *b64, size_t len, struct initdata **out, char *why,
			     size_t whylen)
{
	uint8_t *gz = NULL, *toml = NULL;
	size_t gzlen = 0, tlen = 0;
	int rc;

	if (!b64 || !out)
		return KBS_ERR_INVAL;
	while (len && (b64[len - 1] == '\n' || b64[len - 1] == '\r'))
		len--;
	rc = b64_decode_alloc(b64, len, B64_STD, &gz, &gzlen);
	if (rc) {
		say(why, whylen, "init-data annotation is not standard base64");
		return KBS_ERR_PARSE;
	}
	rc = initdata_gunzip(gz, gzlen, INITDATA_MAX, &toml, &tlen);
	if (rc) {
		say(why, whylen, "init-data annotation is not a valid gzip stream");
		goto out;
	}
	rc = initdata_parse((const char *)toml, tlen, out, why, whylen);
out:
	free(gz);
	free(toml);
	return rc;
}

int initdata_from_image(const uint8_t *img, size_t len, struct initdata **out, char *why,
			size_t whylen)
{
	uint8_t *toml = NULL;
	size_t tlen = 0;
	uint64_t gzlen = 0;
	int rc;

	if (!img || !out)
		return KBS_ERR_INVAL;
	if (len < 16 || memcmp(img, "initdata", 8) != 0) {
		say(why, whylen, "not an init-data image (magic)");
		return KBS_ERR_PARSE;
	}
	for (int i = 7; i >= 0; i--)
		gzlen = gzlen << 8 | img[8 + i];
	if (gzlen == 0 || gzlen > len - 16) {
		say(why, whylen, "init-data image: bad length field");
		return KBS_ERR_PARSE;
	}
	rc = initdata_gunzip(img + 16, (size_t)gzlen, INITDATA_MAX, &toml, &tlen);
	if (rc) {
		say(why, whylen, "init-data image: not a valid gzip stream");
		return rc;
	}
	rc = initdata_parse((const char *)toml, tlen, out, why, whylen);
	free(toml);
	return rc;
}

const char *initdata_text(const struct initdata *d, size_t *len)
{
	if (len)
		*len = d ? d->len : 0;
	return d ? d->text : NULL;
}

const char *initdata_algorithm(const struct initdata *d)
{
	return d ? d->algorithm : NULL;
}

const char *initdata_version(const struct initdata *d)
{
	return d ? d->version : NULL;
}

const uint8_t *initdata_digest(const struct initdata *d, size_t *len)
{
	if (len)
		*len = d ? d->dlen : 0;
	return d ? d->digest : NULL;
}

json_t *initdata_data(const struct initdata *d)
{
	return d ? d->data : NULL;
}

int initdata_check_field(const struct initdata *d, const uint8_t *field, size_t field_len)
{
	uint8_t want[64];

	if (!d || !field || field_len == 0 || field_len > sizeof(want))
		return KBS_ERR_INVAL;
	attester_fit(d->digest, d->dlen, want, field_len);
	return memcmp(want, field, field_len) == 0 ? KBS_OK : KBS_ERR_VERIFY;
}
