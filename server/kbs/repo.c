// SPDX-License-Identifier: Apache-2.0
#include "server/kbs/repo.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/log.h"

/* ------------------------------------------------------------ path validation */

static bool seg_char(char c, bool first)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '_' || c == '-')
		return true;
	return c == '.' && !first;
}

int kbs_resource_path_parse(const char *path, char seg[3][KBS_SEG_MAX + 1], char *why,
			    size_t whylen)
{
	static const char *const names[] = {"repository", "type", "tag"};
	const char *p = path;
	int n = 0;

	if (!path) {
		snprintf(why, whylen, "empty resource path");
		return KBS_ERR_INVAL;
	}
	for (;;) {
		const char *e = p;
		size_t len;

		while (*e && *e != '/')
			e++;
		len = (size_t)(e - p);
		if (n >= 3) {
			snprintf(why, whylen, "resource path has more than 3 components "
					      "(expected repository/type/tag)");
			return KBS_ERR_INVAL;
		}
		if (len == 0) {
			snprintf(why, whylen, "resource path component %d (%s) is empty", n + 1,
				 names[n]);
			return KBS_ERR_INVAL;
		}
		if (len > KBS_SEG_MAX) {
			snprintf(why, whylen, "resource path component %d (%s) is longer than %d "
					      "bytes", n + 1, names[n], KBS_SEG_MAX);
			return KBS_ERR_RANGE;
		}
		for (size_t i = 0; i < len; i++) {
			if (!seg_char(p[i], i == 0)) {
				snprintf(why, whylen,
					 "resource path component %d (%s) has a character outside "
					 "[A-Za-z0-9_.-] or starts with '.'", n + 1, names[n]);
				return KBS_ERR_INVAL;
			}
		}
		memcpy(seg[n], p, len);
		seg[n][len] = '\0';
		n++;
		if (!*e)
			break;
		p = e + 1;
	}
	if (n != 3) {
		snprintf(why, whylen, "resource path has %d components (expected "
				      "repository/type/tag)", n);
		return KBS_ERR_INVAL;
	}
	return KBS_OK;
}

void repo_free(struct repo *r)
{
	if (r)
		r->ops->destroy(r);
}

/* ------------------------------------------------------------ LocalFs */

struct repo_localfs {
	struct repo base;
	int dirfd;
	enum repo_layout layout;
	char *dir;
};

/* openat() confined beneath dirfd; falls back to per-component O_NOFOLLOW without openat2. */
static int open_beneath(int dirfd, const char *rel, int flags, mode_t mode)
{
	struct open_how how;
	long fd;

	memset(&how, 0, sizeof(how));
	how.flags = (unsigned long long)(flags | O_CLOEXEC);
	how.mode = (flags & O_CREAT) ? mode : 0;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	if (fd >= 0 || errno != ENOSYS)
		return (int)fd;
	/* Kernels before 5.6: no symlinks at all below the root. */
	{
		char buf[3 * (KBS_SEG_MAX + 1) + 8];
		char *save = NULL, *tok, *next;
		int cur = dirfd, nfd;

		if (snprintf(buf, sizeof(buf), "%s", rel) >= (int)sizeof(buf)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		tok = strtok_r(buf, "/", &save);
		while (tok) {
			next = strtok_r(NULL, "/", &save);
			if (next)
				nfd = openat(cur, tok, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			else
				nfd = openat(cur, tok, flags | O_NOFOLLOW | O_CLOEXEC, mode);
			if (cur != dirfd)
				close(cur);
			if (nfd < 0)
				return -1;
			cur = nfd;
			tok = next;
		}
		return cur;
	}
}

static void flat_name(const char *const seg[3], char *out, size_t outlen)
{
	snprintf(out, outlen, "%s\\x2F%s\\x2F%s", seg[0], seg[1], seg[2]);
}

static void tree_name(const char *const seg[3], char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s/%s", seg[0], seg[1], seg[2]);
}

static int errno_to_kbs(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return KBS_ERR_NOTFOUND;
	case EXDEV:
	case ELOOP:
	case EACCES:
	case EPERM:
		return KBS_ERR_PERM;
	case ENOMEM:
		return KBS_ERR_NOMEM;
	default:
		return KBS_ERR_IO;
	}
}

static int read_fd(int fd, struct secbuf *out)
{
	struct stat st;
	size_t off = 0;

	if (fstat(fd, &st) != 0)
		return KBS_ERR_IO;
	if (!S_ISREG(st.st_mode))
		return KBS_ERR_NOTFOUND;
	if ((uint64_t)st.st_size > KBS_RESOURCE_MAX)
		return KBS_ERR_RANGE;
	if (secbuf_alloc(out, (size_t)st.st_size) != KBS_OK)
		return KBS_ERR_LOCKMEM;
	while (off < out->len) {
		ssize_t n = read(fd, out->p + off, out->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			secbuf_free(out);
			return KBS_ERR_IO;
		}
		off += (size_t)n;
	}
	return KBS_OK;
}

static int lfs_read(struct repo *r, const char *const seg[3], struct secbuf *out)
{
	struct repo_localfs *l = (struct repo_localfs *)r;
	char name[3 * (KBS_SEG_MAX + 4) + 8];
	int fd, rc;

	flat_name(seg, name, sizeof(name));
	fd = open_beneath(l->dirfd, name, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
	if (fd < 0 && errno == ENOENT) {
		tree_name(seg, name, sizeof(name));
		fd = open_beneath(l->dirfd, name, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
	}
	if (fd < 0) {
		rc = errno_to_kbs(errno);
		if (rc == KBS_ERR_PERM)
			log_warn("repo: %s/%s/%s refused: path escapes %s", seg[0], seg[1], seg[2],
				 l->dir);
		return rc;
	}
	rc = read_fd(fd, out);
	close(fd);
	return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return KBS_ERR_IO;
		p += n;
		len -= (size_t)n;
	}
	return KBS_OK;
}

/* Creates tmp in parent, writes, fsyncs, renames over name, fsyncs the directory. */
static int atomic_write_at(int parent, const char *name, const void *data, size_t len)
{
	char tmp[64];
	uint8_t rnd[8];
	int fd, rc;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return KBS_ERR_CRYPTO;
	memcpy(tmp, ".tmp-", 5);
	hex_encode(rnd, sizeof(rnd), tmp + 5, sizeof(tmp) - 5);
	fd = openat(parent, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno_to_kbs(errno);
	rc = write_all(fd, data, len);
	if (rc == KBS_OK && fsync(fd) != 0)
		rc = KBS_ERR_IO;
	close(fd);
	if (rc == KBS_OK && renameat(parent, tmp, parent, name) != 0)
		rc = errno_to_kbs(errno);
	if (rc != KBS_OK)
		unlinkat(parent, tmp, 0);
	else
		fsync(parent);
	return rc;
}

static int lfs_write(struct repo *r, const char *const seg[3], const void *data, size_t len)
{
	struct repo_localfs *l = (struct repo_localfs *)r;
	char name[3 * (KBS_SEG_MAX + 4) + 8];
	int parent = -1, rc;

	if (l->layout == REPO_LAYOUT_FLAT) {
		flat_name(seg, name, sizeof(name));
		return atomic_write_at(l->dirfd, name, data, len);
	}
	/* tree: <repo>/<type>/ created as needed, confined like reads */
	snprintf(name, sizeof(name), "%s", seg[0]);
	if (mkdirat(l->dirfd, seg[0], 0700) != 0 && errno != EEXIST)
		return errno_to_kbs(errno);
	snprintf(name, sizeof(name), "%s/%s", seg[0], seg[1]);
	int d0 = open_beneath(l->dirfd, seg[0], O_PATH | O_DIRECTORY, 0);
	if (d0 < 0)
		return errno_to_kbs(errno);
	if (mkdirat(d0, seg[1], 0700) != 0 && errno != EEXIST) {
		close(d0);
		return errno_to_kbs(errno);
	}
	close(d0);
	parent = open_beneath(l->dirfd, name, O_RDONLY | O_DIRECTORY, 0);
	if (parent < 0)
		return errno_to_kbs(errno);
	rc = atomic_write_at(parent, seg[2], data, len);
	close(parent);
	return rc;
}

static int lfs_remove(struct repo *r, const char *const seg[3])
{
	struct repo_localfs *l = (struct repo_localfs *)r;
	char name[3 * (KBS_SEG_MAX + 4) + 8];
	int parent, rc = KBS_ERR_NOTFOUND;

	flat_name(seg, name, sizeof(name));
	if (unlinkat(l->dirfd, name, 0) == 0) {
		fsync(l->dirfd);
		rc = KBS_OK;
	} else if (errno != ENOENT) {
		return errno_to_kbs(errno);
	}
	snprintf(name, sizeof(name), "%s/%s", seg[0], seg[1]);
	parent = open_beneath(l->dirfd, name, O_RDONLY | O_DIRECTORY, 0);
	if (parent >= 0) {
		if (unlinkat(parent, seg[2], 0) == 0) {
			fsync(parent);
			rc = KBS_OK;
		} else if (errno != ENOENT) {
			rc = errno_to_kbs(errno);
		}
		close(parent);
	}
	return rc;
}

static void lfs_destroy(struct repo *r)
{
	struct repo_localfs *l = (struct repo_localfs *)r;

	if (l->dirfd >= 0)
		close(l->dirfd);
	free(l->dir);
	free(l);
}

static const struct repo_ops localfs_ops = {"LocalFs", lfs_read, lfs_write, lfs_remove,
					    lfs_destroy};

static int mkdir_p(const char *dir)
{
	char tmp[4096];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(tmp))
		return KBS_ERR_RANGE;
	memcpy(tmp, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (tmp[i] == '/' || tmp[i] == '\0') {
			char c = tmp[i];
			tmp[i] = '\0';
			if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
				return KBS_ERR_IO;
			tmp[i] = c;
		}
	}
	return KBS_OK;
}

int repo_localfs_new(const char *dir, enum repo_layout layout, bool create, struct repo **out)
{
	struct repo_localfs *l;
	int rc;

	*out = NULL;
	if (create && (rc = mkdir_p(dir)) != KBS_OK)
		return rc;
	l = calloc(1, sizeof(*l));
	if (!l)
		return KBS_ERR_NOMEM;
	l->base.ops = &localfs_ops;
	l->layout = layout;
	l->dir = strdup(dir);
	l->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!l->dir || l->dirfd < 0) {
		rc = l->dir ? errno_to_kbs(errno) : KBS_ERR_NOMEM;
		lfs_destroy(&l->base);
		return rc;
	}
	*out = &l->base;
	return KBS_OK;
}

/* ------------------------------------------------------------ Memory */

struct mem_entry {
	char *key;
	struct secbuf val;
	struct mem_entry *next;
};

struct repo_memory {
	struct repo base;
	pthread_rwlock_t lock;
	struct mem_entry *head;
};

static void mem_key(const char *const seg[3], char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s/%s", seg[0], seg[1], seg[2]);
}

static struct mem_entry **mem_find(struct repo_memory *m, const char *key)
{
	struct mem_entry **pp = &m->head;

	while (*pp && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->next;
	return pp;
}

static int mem_read(struct repo *r, const char *const seg[3], struct secbuf *out)
{
	struct repo_memory *m = (struct repo_memory *)r;
	char key[3 * (KBS_SEG_MAX + 1) + 4];
	struct mem_entry **e;
	int rc = KBS_ERR_NOTFOUND;

	mem_key(seg, key, sizeof(key));
	pthread_rwlock_rdlock(&m->lock);
	e = mem_find(m, key);
	if (*e)
		rc = secbuf_dup(out, (*e)->val.p, (*e)->val.len) == KBS_OK ? KBS_OK
									     : KBS_ERR_LOCKMEM;
	pthread_rwlock_unlock(&m->lock);
	return rc;
}

static int mem_write(struct repo *r, const char *const seg[3], const void *data, size_t len)
{
	struct repo_memory *m = (struct repo_memory *)r;
	char key[3 * (KBS_SEG_MAX + 1) + 4];
	struct secbuf v = {0};
	struct mem_entry **e, *n;

	mem_key(seg, key, sizeof(key));
	if (secbuf_dup(&v, data, len) != KBS_OK)
		return KBS_ERR_LOCKMEM;
	pthread_rwlock_wrlock(&m->lock);
	e = mem_find(m, key);
	if (*e) {
		secbuf_free(&(*e)->val);
		(*e)->val = v;
		pthread_rwlock_unlock(&m->lock);
		return KBS_OK;
	}
	n = calloc(1, sizeof(*n));
	if (!n || !(n->key = strdup(key))) {
		pthread_rwlock_unlock(&m->lock);
		free(n);
		secbuf_free(&v);
		return KBS_ERR_NOMEM;
	}
	n->val = v;
	n->next = m->head;
	m->head = n;
	pthread_rwlock_unlock(&m->lock);
	return KBS_OK;
}

static int mem_remove(struct repo *r, const char *const seg[3])
{
	struct repo_memory *m = (struct repo_memory *)r;
	char key[3 * (KBS_SEG_MAX + 1) + 4];
	struct mem_entry **e, *d;
	int rc = KBS_ERR_NOTFOUND;

	mem_key(seg, key, sizeof(key));
	pthread_rwlock_wrlock(&m->lock);
	e = mem_find(m, key);
	if (*e) {
		d = *e;
		*e = d->next;
		secbuf_free(&d->val);
		free(d->key);
		free(d);
		rc = KBS_OK;
	}
	pthread_rwlock_unlock(&m->lock);
	return rc;
}

static void mem_destroy(struct repo *r)
{
	struct repo_memory *m = (struct repo_memory *)r;

	while (m->head) {
		struct mem_entry *d = m->head;
		m->head = d->next;
		secbuf_free(&d->val);
		free(d->key);
		free(d);
	}
	pthread_rwlock_destroy(&m->lock);
	free(m);
}

static const struct repo_ops memory_ops = {"Memory", mem_read, mem_write, mem_remove,
					   mem_destroy};

int repo_memory_new(struct repo **out)
{
	struct repo_memory *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (!m)
		return KBS_ERR_NOMEM;
	m->base.ops = &memory_ops;
	pthread_rwlock_init(&m->lock, NULL);
	*out = &m->base;
	return KBS_OK;
}
