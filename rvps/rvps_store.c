// SPDX-License-Identifier: Apache-2.0
#include "rvps/rvps_store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"

#define STORE_MAX_VALUE (RVPS_MAX_MESSAGE)
#define STORE_MAX_FILE ((size_t)256 << 20)

struct rvps_store {
	enum rvps_storage type;
	json_t *mem;        /* Memory: key -> string */
	char dir[PATH_MAX]; /* LocalFs: namespace directory; LocalJson: its parent */
	char file[PATH_MAX];/* LocalJson: the object file */
	const struct rvps_kv_ops *kv;
	void *kv_ctx;
	char desc[PATH_MAX + 32];
};

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(tmp))
		return KBS_ERR_RANGE;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return KBS_ERR_IO;
		*p = '/';
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return KBS_ERR_IO;
	return KBS_OK;
}

/* Writes data to dir/name through a temporary file; durable once this returns KBS_OK. */
static int write_atomic(const char *dir, const char *name, const void *data, size_t len)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	const uint8_t *p = data;
	int fd = -1, dfd = -1, rc = KBS_ERR_IO;

	if ((size_t)snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= sizeof(dst) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.rvps-tmp-XXXXXX", dir) >= sizeof(tmp))
		return KBS_ERR_RANGE;
	if ((fd = mkstemp(tmp)) < 0)
		return KBS_ERR_IO;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto out;
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, dst) != 0)
		goto out;
	tmp[0] = '\0';
	/* the rename itself must survive a crash */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	rc = KBS_OK;
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0])
		unlink(tmp);
	return rc;
}

static int read_file(const char *path, size_t max, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	int rc = KBS_ERR_IO;

	if (fd < 0)
		return errno == ENOENT ? KBS_ERR_NOTFOUND : KBS_ERR_IO;
	if (fstat(fd, &st) != 0)
		goto out;
	if (!S_ISREG(st.st_mode)) {
		rc = KBS_ERR_NOTFOUND;
		goto out;
	}
	if ((size_t)st.st_size > max) {
		rc = KBS_ERR_RANGE;
		goto out;
	}
	buf_reset(out);
	for (;;) {
		uint8_t chunk[8192];
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		if ((rc = buf_append(out, chunk, (size_t)r)) != KBS_OK)
			goto out;
		rc = KBS_ERR_IO;
	}
	rc = KBS_OK;
out:
	close(fd);
	return rc;
}

/* Trustee's LocalFs file name: every '/' becomes the four characters "\x2F". */
static int fs_name(const char *key, char *out, size_t outlen)
{
	size_t o = 0;

	if (!rvps_name_valid(key))
		return KBS_ERR_INVAL;
	for (const char *k = key; *k; k++) {
		const char *rep = *k == '/' ? "\\x2F" : NULL;
		size_t n = rep ? 4 : 1;
		if (o + n >= outlen)
			return KBS_ERR_RANGE;
		memcpy(out + o, rep ? rep : k, n);
		o += n;
	}
	out[o] = '\0';
	/* file names beyond NAME_MAX cannot exist */
	return o <= 255 ? KBS_OK : KBS_ERR_RANGE;
}

/* ------------------------------------------------------------------- LocalJson */

static int json_load_map(struct rvps_store *s, json_t **out)
{
	struct buf b;
	struct json_err jerr;
	int rc;

	*out = NULL;
	buf_init(&b, STORE_MAX_FILE);
	rc = read_file(s->file, STORE_MAX_FILE, &b);
	if (rc == KBS_ERR_NOTFOUND) {
		*out = json_object();
		rc = *out ? KBS_OK : KBS_ERR_NOMEM;
		goto out;
	}
	if (rc != KBS_OK)
		goto out;
	if ((rc = json_parse((const char *)b.p, b.len, STORE_MAX_FILE, out, &jerr)) != KBS_OK ||
	    !json_is_object(*out)) {
		log_error("rvps: %s is not a JSON object: %s", s->file, jerr.msg);
		json_decref(*out);
		*out = NULL;
		rc = KBS_ERR_PARSE;
	}
out:
	buf_release(&b);
	return rc;
}

static int json_store_map(struct rvps_store *s, json_t *map)
{
	size_t len;
	char *txt = json_dump_compact(map, &len);
	int rc;

	if (!txt)
		return KBS_ERR_NOMEM;
	rc = write_atomic(s->dir, RVPS_NAMESPACE, txt, len);
	free(txt);
	return rc;
}

/* base64 URL-safe alphabet with padding, as Trustee's LocalJson writes values */
static char *b64url_padded(const void *val, size_t len)
{
	char *e = NULL, *r;
	size_t n;

	if (b64_encode_alloc(val, len, B64_URL, &e) != KBS_OK)
		return NULL;
	n = strlen(e);
	r = realloc(e, n + 3);
	if (!r) {
		free(e);
		return NULL;
	}
	while (n % 4)
		r[n++] = '=';
	r[n] = '\0';
	return r;
}

static int b64url_padded_decode(const char *s, struct buf *out)
{
	size_t n = strlen(s);
	uint8_t *raw = NULL;
	size_t rawlen;
	int rc;

	while (n > 0 && s[n - 1] == '=')
		n--;
	if ((rc = b64_decode_alloc(s, n, B64_URL, &raw, &rawlen)) != KBS_OK)
		return rc;
	buf_reset(out);
	rc = buf_append(out, raw, rawlen);
	free(raw);
	return rc;
}

/* ------------------------------------------------------------------- API */

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* check_only: what the store would create is reported, not created; records stay in memory. */
static int check_only_memory(struct rvps_store *s, const char *missing)
{
	log_info("rvps: would create %s (configuration check: nothing created)", missing);
	snprintf(s->desc, sizeof(s->desc), "memory (check only)");
	s->type = RVPS_STORE_MEMORY;
	return (s->mem = json_object()) ? KBS_OK : KBS_ERR_NOMEM;
}

int rvps_store_open(const struct rvps_config *cfg, struct rvps_store **out, char *why,
		    size_t whylen)
{
	struct rvps_store *s = calloc(1, sizeof(*s));
	int rc = KBS_ERR_NOMEM;

	*out = NULL;
	if (!s)
		return KBS_ERR_NOMEM;
	s->type = cfg->storage == RVPS_STORE_DEFAULT ? RVPS_STORE_MEMORY : cfg->storage;
	switch (s->type) {
	case RVPS_STORE_MEMORY:
		if (!(s->mem = json_object()))
			goto out;
		snprintf(s->desc, sizeof(s->desc), "Memory (not persisted)");
		break;
	case RVPS_STORE_LOCALFS:
		if (!cfg->dir_path ||
		    (size_t)snprintf(s->dir, sizeof(s->dir), "%s/%s", cfg->dir_path,
				     RVPS_NAMESPACE) >= sizeof(s->dir) - 300) {
			snprintf(why, whylen, "LocalFs dir_path missing or too long");
			rc = KBS_ERR_INVAL;
			goto out;
		}
		if (cfg->check_only && !is_dir(s->dir)) {
			if ((rc = check_only_memory(s, s->dir)) != KBS_OK)
				goto out;
			break;
		}
		if (!cfg->check_only && (rc = mkdir_p(s->dir)) != KBS_OK) {
			snprintf(why, whylen, "cannot create %s: %s", s->dir, strerror(errno));
			goto out;
		}
		snprintf(s->desc, sizeof(s->desc), "LocalFs %s", s->dir);
		break;
	case RVPS_STORE_LOCALJSON:
		if (!cfg->file_dir_path ||
		    (size_t)snprintf(s->dir, sizeof(s->dir), "%s", cfg->file_dir_path) >=
			sizeof(s->dir) - 300) {
			snprintf(why, whylen, "LocalJson file_dir_path missing or too long");
			rc = KBS_ERR_INVAL;
			goto out;
		}
		if ((size_t)snprintf(s->file, sizeof(s->file), "%s/%s", s->dir, RVPS_NAMESPACE) >=
		    sizeof(s->file)) {
			rc = KBS_ERR_RANGE;
			goto out;
		}
		if (cfg->check_only && (!is_dir(s->dir) || access(s->file, F_OK) != 0)) {
			if ((rc = check_only_memory(s, is_dir(s->dir) ? s->file : s->dir)) !=
			    KBS_OK)
				goto out;
			break;
		}
		if ((rc = mkdir_p(s->dir)) != KBS_OK) {
			snprintf(why, whylen, "cannot create %s: %s", s->dir, strerror(errno));
			goto out;
		}
		if (access(s->file, F_OK) != 0 &&
		    (rc = write_atomic(s->dir, RVPS_NAMESPACE, "{}", 2)) != KBS_OK) {
			snprintf(why, whylen, "cannot create %s", s->file);
			goto out;
		}
		snprintf(s->desc, sizeof(s->desc), "LocalJson %s", s->file);
		break;
	case RVPS_STORE_KV:
		if (!cfg->kv || !cfg->kv->get || !cfg->kv->set || !cfg->kv->del) {
			snprintf(why, whylen, "key-value backend missing");
			rc = KBS_ERR_INVAL;
			goto out;
		}
		s->kv = cfg->kv;
		s->kv_ctx = cfg->kv_ctx;
		snprintf(s->desc, sizeof(s->desc), "external key-value store, table %s",
			 RVPS_NAMESPACE);
		break;
	default:
		snprintf(why, whylen, "unsupported RVPS storage");
		rc = KBS_ERR_UNSUPPORTED;
		goto out;
	}
	*out = s;
	s = NULL;
	rc = KBS_OK;
out:
	rvps_store_free(s);
	return rc;
}

void rvps_store_free(struct rvps_store *s)
{
	if (!s)
		return;
	json_decref(s->mem);
	free(s);
}

const char *rvps_store_desc(const struct rvps_store *s)
{
	return s->desc;
}

int rvps_store_get(struct rvps_store *s, const char *key, struct buf *out)
{
	char name[300], path[PATH_MAX];
	json_t *map = NULL, *v;
	int rc;

	if (!rvps_name_valid(key))
		return KBS_ERR_NOTFOUND;
	switch (s->type) {
	case RVPS_STORE_MEMORY:
		if (!(v = json_object_get(s->mem, key)))
			return KBS_ERR_NOTFOUND;
		buf_reset(out);
		return buf_append(out, json_string_value(v), json_string_length(v));
	case RVPS_STORE_LOCALFS:
		if ((rc = fs_name(key, name, sizeof(name))) != KBS_OK)
			return rc == KBS_ERR_RANGE ? KBS_ERR_NOTFOUND : rc;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", s->dir, name) >= sizeof(path))
			return KBS_ERR_RANGE;
		return read_file(path, STORE_MAX_VALUE, out);
	case RVPS_STORE_LOCALJSON:
		if ((rc = json_load_map(s, &map)) != KBS_OK)
			return rc;
		v = json_object_get(map, key);
		rc = !v ? KBS_ERR_NOTFOUND
			: !json_is_string(v) ? KBS_ERR_PARSE
					     : b64url_padded_decode(json_string_value(v), out);
		json_decref(map);
		return rc;
	case RVPS_STORE_KV:
		return s->kv->get(s->kv_ctx, key, out);
	default:
		return KBS_ERR_INTERNAL;
	}
}

int rvps_store_set(struct rvps_store *s, const char *key, const void *val, size_t len)
{
	char name[300];
	json_t *map = NULL;
	char *e;
	int rc;

	if (!rvps_name_valid(key))
		return KBS_ERR_INVAL;
	switch (s->type) {
	case RVPS_STORE_MEMORY:
		return json_object_set_new(s->mem, key, json_stringn(val, len)) ? KBS_ERR_NOMEM
										: KBS_OK;
	case RVPS_STORE_LOCALFS:
		if ((rc = fs_name(key, name, sizeof(name))) != KBS_OK)
			return rc;
		return write_atomic(s->dir, name, val, len);
	case RVPS_STORE_LOCALJSON:
		if ((rc = json_load_map(s, &map)) != KBS_OK)
			return rc;
		if (!(e = b64url_padded(val, len)))
			rc = KBS_ERR_NOMEM;
		else if (json_object_set_new(map, key, json_string(e)) != 0)
			rc = KBS_ERR_NOMEM;
		else
			rc = json_store_map(s, map);
		free(e);
		json_decref(map);
		return rc;
	case RVPS_STORE_KV:
		return s->kv->set(s->kv_ctx, key, val, len);
	default:
		return KBS_ERR_INTERNAL;
	}
}

int rvps_store_del(struct rvps_store *s, const char *key)
{
	char name[300], path[PATH_MAX];
	json_t *map = NULL;
	int rc;

	if (!rvps_name_valid(key))
		return KBS_ERR_NOTFOUND;
	switch (s->type) {
	case RVPS_STORE_MEMORY:
		return json_object_del(s->mem, key) == 0 ? KBS_OK : KBS_ERR_NOTFOUND;
	case RVPS_STORE_LOCALFS:
		if ((rc = fs_name(key, name, sizeof(name))) != KBS_OK)
			return KBS_ERR_NOTFOUND;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", s->dir, name) >= sizeof(path))
			return KBS_ERR_NOTFOUND;
		if (unlink(path) != 0)
			return errno == ENOENT ? KBS_ERR_NOTFOUND : KBS_ERR_IO;
		return KBS_OK;
	case RVPS_STORE_LOCALJSON:
		if ((rc = json_load_map(s, &map)) != KBS_OK)
			return rc;
		rc = json_object_del(map, key) == 0 ? json_store_map(s, map) : KBS_ERR_NOTFOUND;
		json_decref(map);
		return rc;
	case RVPS_STORE_KV:
		return s->kv->del(s->kv_ctx, key);
	default:
		return KBS_ERR_INTERNAL;
	}
}
