// SPDX-License-Identifier: Apache-2.0
#include "fs/ops.h"
#include "common/err.h"
#include "common/log.h"
#include "fs/path.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#define INO_CTL 2
#define CTL_NAME ".kbsfs"
#define STATUS_NAME "status"
#define STATUS_PATH CTL_NAME "/" STATUS_NAME
#define NODE_BUCKETS 4096u

enum node_kind { N_ROOT, N_CTL, N_STATUS, N_DIR1, N_DIR2, N_FILE };

/*
 * Files are immutable inodes: every version of a resource (and every distinct status
 * document) gets its own inode number. A rotation invalidates the directory entry only, so
 * new opens look the name up again and get the new inode, while a reader that already has
 * the file open keeps reading the version it opened, from the page cache, to the end. That is
 * how readers never see a mix of two versions although the warm path never leaves the kernel.
 */
struct node {
	struct node *next_ino;
	struct node *next_path;
	fuse_ino_t ino;
	enum node_kind kind;
	bool latest; /* the node a lookup of this path returns (in by_path) */
	uint64_t nlookup;
	char *path;	       /* "repo", "repo/type", "repo/type/tag", ".kbsfs/status" */
	struct kbsfs_value *v; /* N_FILE: the version this inode shows; NULL once revoked */
	int revoked_errno;     /* N_FILE with v == NULL: what reads get */
	char *snap;	       /* N_STATUS: the document this inode shows */
	size_t snaplen;
	struct timespec snap_time;
};

struct notice {
	struct notice *next;
	fuse_ino_t ino;	   /* 0: no inode invalidation */
	fuse_ino_t parent; /* 0: no entry invalidation */
	char name[KBSFS_SEG_MAX + 1];
};

struct kbsfs_fs {
	struct kbsfs_fs_params p;
	json_t *info;
	struct kbsfs_cache *cache;
	struct fuse_session *se;
	bool no_open_active; /* the kernel offered no-open and we use it */
	struct timespec start;

	pthread_mutex_t lock; /* nodes */
	struct node *by_ino[NODE_BUCKETS];
	struct node *by_path[NODE_BUCKETS];

	pthread_mutex_t nlock; /* notification queue */
	pthread_cond_t ncond;
	struct notice *nhead, *ntail;
	bool nstop;
	bool nthread_running;
	pthread_t nthread;
};

/* ---- inode table ------------------------------------------------------------------------- */

static uint64_t fnv64(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s) {
		h ^= (uint8_t)*s++;
		h *= 1099511628211ull;
	}
	return h;
}

/*
 * Inode numbers derive from the path (and version), so readdir's d_ino matches stat's
 * st_ino for the current version.
 */
static fuse_ino_t ino_for(const char *path, uint64_t version)
{
	uint64_t h = fnv64(path);

	if (version > 1)
		h ^= version * 0x9e3779b97f4a7c15ull;
	h >>= 1;
	return h <= 16 ? h + 16 : h;
}

static struct node *node_by_ino_locked(struct kbsfs_fs *fs, fuse_ino_t ino)
{
	struct node *n;

	for (n = fs->by_ino[ino % NODE_BUCKETS]; n; n = n->next_ino)
		if (n->ino == ino)
			return n;
	return NULL;
}

/* The latest node for path. */
static struct node *node_by_path_locked(struct kbsfs_fs *fs, const char *path)
{
	struct node *n;

	for (n = fs->by_path[fnv64(path) % NODE_BUCKETS]; n; n = n->next_path)
		if (!strcmp(n->path, path))
			return n;
	return NULL;
}

static void unlink_path_locked(struct kbsfs_fs *fs, struct node *n)
{
	struct node **pp;

	if (!n->latest)
		return;
	for (pp = &fs->by_path[fnv64(n->path) % NODE_BUCKETS]; *pp; pp = &(*pp)->next_path)
		if (*pp == n) {
			*pp = n->next_path;
			break;
		}
	n->latest = false;
}

static void node_free(struct node *n)
{
	kbsfs_value_unref(n->v); /* the last reference wipes the secret */
	free(n->snap);
	free(n->path);
	free(n);
}

/* A new node that becomes the latest for its path (the previous one stays until forgotten). */
static struct node *node_new_locked(struct kbsfs_fs *fs, const char *path, enum node_kind kind,
				    uint64_t version)
{
	struct node *n = calloc(1, sizeof(*n)), *old;
	fuse_ino_t ino;

	if (!n || !(n->path = strdup(path))) {
		free(n);
		return NULL;
	}
	/* on a (very unlikely) collision probe the next free number */
	for (ino = ino_for(path, version); ino <= INO_CTL || node_by_ino_locked(fs, ino); ino++)
		;
	n->ino = ino;
	n->kind = kind;
	n->next_ino = fs->by_ino[ino % NODE_BUCKETS];
	fs->by_ino[ino % NODE_BUCKETS] = n;
	old = node_by_path_locked(fs, path);
	if (old)
		unlink_path_locked(fs, old);
	n->next_path = fs->by_path[fnv64(path) % NODE_BUCKETS];
	fs->by_path[fnv64(path) % NODE_BUCKETS] = n;
	n->latest = true;
	return n;
}

/* Directory node for path, counting one kernel lookup. */
static struct node *dir_ref(struct kbsfs_fs *fs, const char *path, enum node_kind kind)
{
	struct node *n;

	pthread_mutex_lock(&fs->lock);
	n = node_by_path_locked(fs, path);
	if (!n)
		n = node_new_locked(fs, path, kind, 0);
	if (n)
		n->nlookup++;
	pthread_mutex_unlock(&fs->lock);
	return n;
}

/* File node showing version v of path (a new inode when v is not the latest one's). */
static struct node *file_ref(struct kbsfs_fs *fs, const char *path, struct kbsfs_value *v)
{
	struct node *n;

	pthread_mutex_lock(&fs->lock);
	n = node_by_path_locked(fs, path);
	if (!n || n->v != v) {
		n = node_new_locked(fs, path, N_FILE, v->gen);
		if (n) {
			n->v = v;
			kbsfs_value_ref(v);
		}
	}
	if (n)
		n->nlookup++;
	pthread_mutex_unlock(&fs->lock);
	return n;
}

/* Status node showing text (taken over); a new inode only if the document changed. */
static struct node *status_ref(struct kbsfs_fs *fs, char *text, size_t len)
{
	struct node *n;

	pthread_mutex_lock(&fs->lock);
	n = node_by_path_locked(fs, STATUS_PATH);
	if (n && n->snaplen == len && !memcmp(n->snap, text, len)) {
		free(text);
	} else {
		n = node_new_locked(fs, STATUS_PATH, N_STATUS, (uint64_t)(uintptr_t)text);
		if (n) {
			n->snap = text;
			n->snaplen = len;
			clock_gettime(CLOCK_REALTIME, &n->snap_time);
		} else {
			free(text);
		}
	}
	if (n)
		n->nlookup++;
	pthread_mutex_unlock(&fs->lock);
	return n;
}

static void node_forget(struct kbsfs_fs *fs, fuse_ino_t ino, uint64_t nlookup)
{
	struct node *n, **pp;

	if (ino <= INO_CTL)
		return;
	pthread_mutex_lock(&fs->lock);
	n = node_by_ino_locked(fs, ino);
	if (n) {
		n->nlookup = nlookup >= n->nlookup ? 0 : n->nlookup - nlookup;
		if (n->nlookup == 0) {
			unlink_path_locked(fs, n);
			for (pp = &fs->by_ino[n->ino % NODE_BUCKETS]; *pp; pp = &(*pp)->next_ino)
				if (*pp == n) {
					*pp = n->next_ino;
					break;
				}
			node_free(n);
		}
	}
	pthread_mutex_unlock(&fs->lock);
}

/*
 * Resolves ino to its kind and path (copied: the node may be forgotten concurrently) and, for
 * files and status documents, takes what the inode shows: *v (a reference) or a copy of the
 * status text. Returns 0, ENOENT, or the errno of a revoked file.
 */
static int node_get(struct kbsfs_fs *fs, fuse_ino_t ino, enum node_kind *kind, char *path,
		    size_t pathlen, struct kbsfs_value **v, struct timespec *snap_time,
		    size_t *snaplen)
{
	struct node *n;
	int rc = 0;

	if (v)
		*v = NULL;
	switch (ino) {
	case FUSE_ROOT_ID:
		*kind = N_ROOT;
		path[0] = 0;
		return 0;
	case INO_CTL:
		*kind = N_CTL;
		snprintf(path, pathlen, "%s", CTL_NAME);
		return 0;
	}
	pthread_mutex_lock(&fs->lock);
	n = node_by_ino_locked(fs, ino);
	if (!n) {
		rc = ENOENT;
	} else {
		*kind = n->kind;
		snprintf(path, pathlen, "%s", n->path);
		if (n->kind == N_FILE && v) {
			if (n->v) {
				*v = n->v;
				kbsfs_value_ref(n->v);
			} else {
				rc = n->revoked_errno ? n->revoked_errno : EACCES;
			}
		}
		if (n->kind == N_STATUS) {
			if (snap_time)
				*snap_time = n->snap_time;
			if (snaplen)
				*snaplen = n->snaplen;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

/* ---- attributes ---------------------------------------------------------------------------- */

static mode_t dir_mode(const struct kbsfs_fs *fs)
{
	mode_t m = fs->p.mode & 0444;

	return m | (m >> 2); /* x wherever r is set: readers may traverse */
}

static void fill_dir_attr(const struct kbsfs_fs *fs, fuse_ino_t ino, enum node_kind kind,
			  struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFDIR | (kind == N_ROOT || kind == N_CTL ? 0555 : dir_mode(fs));
	st->st_nlink = 2;
	st->st_uid = fs->p.uid;
	st->st_gid = fs->p.gid;
	st->st_blksize = 4096;
	st->st_atim = st->st_mtim = st->st_ctim = fs->start;
}

static void fill_file_attr(const struct kbsfs_fs *fs, fuse_ino_t ino, mode_t mode, size_t size,
			   int64_t mtime_ns, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFREG | mode;
	st->st_nlink = 1;
	st->st_uid = fs->p.uid;
	st->st_gid = fs->p.gid;
	st->st_size = (off_t)size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	st->st_mtim.tv_sec = mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = mtime_ns % 1000000000;
	st->st_atim = st->st_ctim = st->st_mtim;
}

static void fill_status_attr(const struct kbsfs_fs *fs, fuse_ino_t ino, size_t len,
			     struct timespec t, struct stat *st)
{
	fill_file_attr(fs, ino, 0444, len, (int64_t)t.tv_sec * 1000000000 + t.tv_nsec, st);
}

/* ---- status file ----------------------------------------------------------------------------- */

json_t *kbsfs_fs_status(struct kbsfs_fs *fs)
{
	json_t *root = json_deep_copy(fs->info), *att = NULL, *res;

	if (!root)
		root = json_object();
	if (!root)
		return NULL;
	if (fs->p.attestation_status)
		att = fs->p.attestation_status(fs->p.status_ctx);
	json_object_set_new(root, "attestation", att ? att : json_null());
	json_object_set_new(root, "secmem_used", json_integer((json_int_t)secmem_used()));
	res = kbsfs_cache_status(fs->cache);
	json_object_set_new(root, "resources", res ? res : json_object());
	return root;
}

static char *status_text(struct kbsfs_fs *fs, size_t *len)
{
	json_t *st = kbsfs_fs_status(fs);
	char *txt = st ? json_dumps(st, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL, *nb;
	size_t n;

	json_decref(st);
	if (!txt)
		return NULL;
	n = strlen(txt);
	nb = realloc(txt, n + 2);
	if (!nb) {
		free(txt);
		return NULL;
	}
	nb[n] = '\n';
	nb[n + 1] = 0;
	*len = n + 1;
	return nb;
}

/* ---- notifications ----------------------------------------------------------------------- */

/*
 * Kernel invalidations run on their own thread: libfuse forbids calling them from a request
 * handler that may hold the inode or directory lock they need.
 */
static void *notify_main(void *arg)
{
	struct kbsfs_fs *fs = arg;

	pthread_mutex_lock(&fs->nlock);
	for (;;) {
		struct notice *n;
		int rc;

		while (!fs->nhead && !fs->nstop)
			pthread_cond_wait(&fs->ncond, &fs->nlock);
		if (fs->nstop)
			break;
		n = fs->nhead;
		fs->nhead = n->next;
		if (!fs->nhead)
			fs->ntail = NULL;
		pthread_mutex_unlock(&fs->nlock);
		if (n->parent) {
			rc = fuse_lowlevel_notify_inval_entry(fs->se, n->parent, n->name,
							      strlen(n->name));
			if (rc && rc != -ENOENT)
				log_debug("kbsfs: inval_entry %s: %d", n->name, rc);
		}
		if (n->ino) {
			rc = fuse_lowlevel_notify_inval_inode(fs->se, n->ino, 0, 0);
			if (rc && rc != -ENOENT)
				log_debug("kbsfs: inval_inode %lu: %d", (unsigned long)n->ino, rc);
		}
		free(n);
		pthread_mutex_lock(&fs->nlock);
	}
	pthread_mutex_unlock(&fs->nlock);
	return NULL;
}

static void enqueue(struct kbsfs_fs *fs, fuse_ino_t ino, fuse_ino_t parent, const char *name)
{
	struct notice *n = calloc(1, sizeof(*n));

	if (!n)
		return;
	n->ino = ino;
	n->parent = parent;
	snprintf(n->name, sizeof(n->name), "%s", name ? name : "");
	pthread_mutex_lock(&fs->nlock);
	if (fs->ntail)
		fs->ntail->next = n;
	else
		fs->nhead = n;
	fs->ntail = n;
	pthread_cond_signal(&fs->ncond);
	pthread_mutex_unlock(&fs->nlock);
}

static void on_change(void *ctx, const char *path, enum kbsfs_change what, int err)
{
	struct kbsfs_fs *fs = ctx;
	const char *slash = strrchr(path, '/');
	char dpath[KBSFS_PATH_MAX + 1];
	fuse_ino_t parent = 0, *revoked = NULL;
	size_t nrevoked = 0, cap = 0, i;
	struct node *dir;

	if (!slash || !fs->se)
		return;
	snprintf(dpath, sizeof(dpath), "%.*s", (int)(slash - path), path);
	pthread_mutex_lock(&fs->lock);
	dir = node_by_path_locked(fs, dpath);
	parent = dir ? dir->ino : 0;
	if (what == KBSFS_DROPPED) {
		/* every inode of the path, open or not, stops serving the secret now */
		for (i = 0; i < NODE_BUCKETS; i++) {
			for (struct node *n = fs->by_ino[i]; n; n = n->next_ino) {
				if (n->kind != N_FILE || strcmp(n->path, path) || !n->v)
					continue;
				kbsfs_value_unref(n->v);
				n->v = NULL;
				n->revoked_errno = err ? err : EACCES;
				if (nrevoked == cap) {
					size_t nc = cap ? cap * 2 : 4;
					fuse_ino_t *g = realloc(revoked, nc * sizeof(*g));

					if (!g)
						continue;
					revoked = g;
					cap = nc;
				}
				revoked[nrevoked++] = n->ino;
			}
		}
	}
	pthread_mutex_unlock(&fs->lock);
	log_info("kbsfs: %s %s", what == KBSFS_CHANGED ? "new version of" : "dropped", path);
	/* new opens look the name up again and get the new (or no) inode */
	if (parent)
		enqueue(fs, 0, parent, slash + 1);
	/* and the kernel forgets the cached pages of revoked secrets */
	for (i = 0; i < nrevoked; i++)
		enqueue(fs, revoked[i], 0, NULL);
	free(revoked);
}

/* ---- operations ---------------------------------------------------------------------------- */

static struct kbsfs_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct kbsfs_fs *fs = userdata;

	/* page cache stays valid until we invalidate it; attributes are re-checked on read */
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	conn->want &= ~(unsigned)(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_READDIRPLUS |
				  FUSE_CAP_EXPLICIT_INVAL_DATA | FUSE_CAP_POSIX_ACL);
	fs->no_open_active = fs->p.no_open && (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT);
	log_info("kbsfs: kernel FUSE %u.%u, no-open %s", conn->proto_major, conn->proto_minor,
		 fs->no_open_active ? "on" : "off");
}

static void reply_entry(fuse_req_t req, struct kbsfs_fs *fs, struct node *n, struct stat *st,
			double attr_timeout, double entry_timeout)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = n ? n->ino : st->st_ino;
	st->st_ino = e.ino;
	e.attr = *st;
	e.attr_timeout = attr_timeout;
	e.entry_timeout = entry_timeout;
	if (fuse_reply_entry(req, &e) != 0 && n)
		node_forget(fs, n->ino, 1); /* the kernel never saw it */
}

static void lookup_status(fuse_req_t req, struct kbsfs_fs *fs)
{
	struct stat st;
	struct node *n;
	size_t len = 0;
	char *text = status_text(fs, &len);

	n = text ? status_ref(fs, text, len) : NULL;
	if (!n) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fill_status_attr(fs, n->ino, n->snaplen, n->snap_time, &st);
	/* entry timeout 0: every open looks again and sees the current document; the inode
	 * itself never changes, so its attributes and pages may be cached */
	reply_entry(req, fs, n, &st, fs->p.cache_timeout_s, 0);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct kbsfs_fs *fs = fs_of(req);
	enum node_kind pkind;
	char ppath[KBSFS_PATH_MAX + 1], path[2 * KBSFS_PATH_MAX + 2];
	size_t nlen = strlen(name);
	struct kbsfs_value *v = NULL;
	struct stat st;
	struct node *n;
	int rc;

	if (node_get(fs, parent, &pkind, ppath, sizeof(ppath), NULL, NULL, NULL)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (pkind == N_ROOT && !strcmp(name, CTL_NAME)) {
		fill_dir_attr(fs, INO_CTL, N_CTL, &st);
		reply_entry(req, fs, NULL, &st, fs->p.cache_timeout_s, fs->p.cache_timeout_s);
		return;
	}
	if (pkind == N_CTL && !strcmp(name, STATUS_NAME)) {
		lookup_status(req, fs);
		return;
	}
	if ((pkind != N_ROOT && pkind != N_DIR1 && pkind != N_DIR2) ||
	    !kbsfs_seg_valid(name, nlen)) {
		fuse_reply_err(req, ENOENT); /* not a resource path: no network */
		return;
	}
	if (pkind == N_ROOT)
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "%s/%s", ppath, name);
	if (pkind != N_DIR2) {
		n = dir_ref(fs, path, pkind == N_ROOT ? N_DIR1 : N_DIR2);
		if (!n) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		fill_dir_attr(fs, n->ino, n->kind, &st);
		reply_entry(req, fs, n, &st, fs->p.cache_timeout_s, fs->p.cache_timeout_s);
		return;
	}
	/* a secret: the first lookup attests and fetches (shared by concurrent callers) */
	rc = kbsfs_cache_get(fs->cache, path, &v);
	if (rc != KBS_OK) {
		fuse_reply_err(req, kbsfs_errno(rc));
		return;
	}
	n = file_ref(fs, path, v);
	if (!n) {
		kbsfs_value_unref(v);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fill_file_attr(fs, n->ino, fs->p.mode, v->data.len, v->fetched_ns, &st);
	kbsfs_value_unref(v);
	reply_entry(req, fs, n, &st, fs->p.cache_timeout_s, fs->p.cache_timeout_s);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	node_forget(fs_of(req), ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		node_forget(fs_of(req), forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct kbsfs_fs *fs = fs_of(req);
	enum node_kind kind;
	char path[KBSFS_PATH_MAX + 1];
	struct kbsfs_value *v;
	struct timespec t = {0, 0};
	size_t len = 0;
	struct stat st;
	int rc;

	rc = node_get(fs, ino, &kind, path, sizeof(path), &v, &t, &len);
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	switch (kind) {
	case N_STATUS:
		fill_status_attr(fs, ino, len, t, &st);
		break;
	case N_FILE:
		fill_file_attr(fs, ino, fs->p.mode, v->data.len, v->fetched_ns, &st);
		kbsfs_value_unref(v);
		break;
	default:
		fill_dir_attr(fs, ino, kind, &st);
		break;
	}
	fuse_reply_attr(req, &st, fs->p.cache_timeout_s);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	fuse_reply_err(req, (mask & W_OK) ? EROFS : 0);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct kbsfs_fs *fs = fs_of(req);
	enum node_kind kind;
	char path[KBSFS_PATH_MAX + 1];
	struct kbsfs_value *v;
	int rc;

	rc = node_get(fs, ino, &kind, path, sizeof(path), &v, NULL, NULL);
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	kbsfs_value_unref(v);
	if (kind != N_FILE && kind != N_STATUS) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & (O_TRUNC | O_CREAT))) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (fs->no_open_active) {
		/* the kernel then opens without asking us and keeps the page cache: the warm
		 * path never leaves the kernel (inodes are immutable, see struct node) */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fi->fh = 0;
	fi->noflush = 1;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void reply_slice(fuse_req_t req, const uint8_t *p, size_t len, size_t size, off_t off)
{
	if (off < 0 || (size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, (const char *)p + off,
			       len - (size_t)off < size ? len - (size_t)off : size);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct kbsfs_fs *fs = fs_of(req);
	enum node_kind kind;
	char path[KBSFS_PATH_MAX + 1];
	struct kbsfs_value *v;
	struct node *n;
	int rc;

	rc = node_get(fs, ino, &kind, path, sizeof(path), &v, NULL, NULL);
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	if (kind == N_STATUS) {
		pthread_mutex_lock(&fs->lock);
		n = node_by_ino_locked(fs, ino);
		if (n)
			reply_slice(req, (const uint8_t *)n->snap, n->snaplen, size, off);
		else
			fuse_reply_err(req, ENOENT);
		pthread_mutex_unlock(&fs->lock);
		return;
	}
	if (kind != N_FILE) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	/* the reply is written from secret memory straight to /dev/fuse (no copy) */
	reply_slice(req, v->data.p, v->data.len, size, off);
	kbsfs_value_unref(v);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

/* Directory listings are built at opendir and served by offset. */
struct dirent_list {
	size_t n, cap;
	struct {
		char *name;
		fuse_ino_t ino;
		mode_t type;
	} * e;
};

static int dl_add(struct dirent_list *dl, const char *name, fuse_ino_t ino, mode_t type)
{
	if (dl->n == dl->cap) {
		size_t cap = dl->cap ? dl->cap * 2 : 16;
		void *g = realloc(dl->e, cap * sizeof(*dl->e));

		if (!g)
			return KBS_ERR_NOMEM;
		dl->e = g;
		dl->cap = cap;
	}
	dl->e[dl->n].name = strdup(name);
	if (!dl->e[dl->n].name)
		return KBS_ERR_NOMEM;
	dl->e[dl->n].ino = ino;
	dl->e[dl->n].type = type;
	dl->n++;
	return KBS_OK;
}

static void dl_free(struct dirent_list *dl)
{
	size_t i;

	if (!dl)
		return;
	for (i = 0; i < dl->n; i++)
		free(dl->e[i].name);
	free(dl->e);
	free(dl);
}

struct list_ctx {
	struct kbsfs_fs *fs;
	struct dirent_list *dl;
	const char *dir;
	mode_t type;
};

static int list_child(void *ctx, const char *name)
{
	struct list_ctx *lc = ctx;
	char path[2 * KBSFS_PATH_MAX + 2];
	struct node *n;
	fuse_ino_t ino;

	if (lc->dir[0])
		snprintf(path, sizeof(path), "%s/%s", lc->dir, name);
	else
		snprintf(path, sizeof(path), "%s", name);
	pthread_mutex_lock(&lc->fs->lock);
	n = node_by_path_locked(lc->fs, path);
	ino = n ? n->ino : ino_for(path, 1);
	pthread_mutex_unlock(&lc->fs->lock);
	return dl_add(lc->dl, name, ino, lc->type);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct kbsfs_fs *fs = fs_of(req);
	enum node_kind kind;
	char path[KBSFS_PATH_MAX + 1];
	struct dirent_list *dl;
	struct list_ctx lc;
	int rc;

	if (node_get(fs, ino, &kind, path, sizeof(path), NULL, NULL, NULL)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (kind == N_FILE || kind == N_STATUS) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	dl = calloc(1, sizeof(*dl));
	if (!dl) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = dl_add(dl, ".", ino, S_IFDIR);
	if (!rc)
		rc = dl_add(dl, "..", FUSE_ROOT_ID, S_IFDIR);
	if (!rc && kind == N_ROOT)
		rc = dl_add(dl, CTL_NAME, INO_CTL, S_IFDIR);
	if (!rc && kind == N_CTL) {
		struct node *sn;
		fuse_ino_t sino;

		pthread_mutex_lock(&fs->lock);
		sn = node_by_path_locked(fs, STATUS_PATH);
		sino = sn ? sn->ino : ino_for(STATUS_PATH, 1);
		pthread_mutex_unlock(&fs->lock);
		rc = dl_add(dl, STATUS_NAME, sino, S_IFREG);
	}
	if (!rc && kind != N_CTL) {
		lc.fs = fs;
		lc.dl = dl;
		lc.dir = path;
		lc.type = kind == N_DIR2 ? S_IFREG : S_IFDIR;
		rc = kbsfs_cache_list(fs->cache, path, list_child, &lc);
	}
	if (rc) {
		dl_free(dl);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)dl;
	fuse_reply_open(req, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct dirent_list *dl = (struct dirent_list *)(uintptr_t)fi->fh;
	char *buf;
	size_t used = 0, i;

	if (!dl) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (size > 65536)
		size = 65536;
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (i = off < 0 ? 0 : (size_t)off; i < dl->n; i++) {
		struct stat st;
		size_t need;

		memset(&st, 0, sizeof(st));
		st.st_ino = dl->e[i].ino;
		st.st_mode = dl->e[i].type;
		need = fuse_add_direntry(req, buf + used, size - used, dl->e[i].name, &st,
					 (off_t)(i + 1));
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	dl_free((struct dirent_list *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_namemax = KBSFS_SEG_MAX;
	sv.f_flag = ST_RDONLY | ST_NOSUID | ST_NODEV;
	fuse_reply_statfs(req, &sv);
}

/* Everything that would modify the file system. */
static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	fuse_reply_err(req, EROFS);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	fuse_reply_err(req, EROFS);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EROFS);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EROFS);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	fuse_reply_err(req, EROFS);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	fuse_reply_err(req, EROFS);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	fuse_reply_err(req, EROFS);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req, EROFS);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			 struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			       struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			       struct fuse_file_info *fi_out, size_t len, int flags)
{
	fuse_reply_err(req, EROFS);
}

static const struct fuse_lowlevel_ops kbsfs_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .access = op_access,
    .open = op_open,
    .read = op_read,
    .release = op_release,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .releasedir = op_releasedir,
    .statfs = op_statfs,
    .mknod = op_mknod,
    .mkdir = op_mkdir,
    .unlink = op_unlink,
    .rmdir = op_unlink,
    .symlink = op_symlink,
    .rename = op_rename,
    .link = op_link,
    .write = op_write,
    .create = op_create,
    .setxattr = op_setxattr,
    .removexattr = op_removexattr,
    .fallocate = op_fallocate,
    .copy_file_range = op_copy_file_range,
};

const struct fuse_lowlevel_ops *kbsfs_fs_lowlevel_ops(void)
{
	return &kbsfs_ops;
}

/* ---- lifetime ------------------------------------------------------------------------------ */

int kbsfs_fs_new(const struct kbsfs_fs_params *p, struct kbsfs_fs **out)
{
	struct kbsfs_fs *fs;
	struct kbsfs_cache_ops cops;
	size_t i;
	int rc;

	if (!p || !p->fetch || !out)
		return KBS_ERR_INVAL;
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return KBS_ERR_NOMEM;
	fs->p = *p;
	fs->p.info = NULL;
	fs->p.resources = NULL;
	fs->info = p->info ? json_deep_copy(p->info) : json_object();
	pthread_mutex_init(&fs->lock, NULL);
	pthread_mutex_init(&fs->nlock, NULL);
	pthread_cond_init(&fs->ncond, NULL);
	clock_gettime(CLOCK_REALTIME, &fs->start);
	memset(&cops, 0, sizeof(cops));
	cops.fetch = p->fetch;
	cops.fetch_ctx = p->fetch_ctx;
	cops.changed = on_change;
	cops.changed_ctx = fs;
	rc = fs->info ? kbsfs_cache_new(&cops, &fs->cache) : KBS_ERR_NOMEM;
	for (i = 0; rc == KBS_OK && i < p->nresources; i++)
		rc = kbsfs_cache_declare(fs->cache, p->resources[i]);
	if (rc) {
		kbsfs_fs_free(fs);
		return rc;
	}
	*out = fs;
	return KBS_OK;
}

int kbsfs_fs_start(struct kbsfs_fs *fs, struct fuse_session *se, unsigned refresh_s)
{
	sigset_t all, old;
	int rc = KBS_OK;

	fs->se = se;
	/* helper threads must not take the termination signals meant for the FUSE loop */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&fs->nthread, NULL, notify_main, fs) != 0)
		rc = KBS_ERR_IO;
	else
		fs->nthread_running = true;
	if (rc == KBS_OK && refresh_s)
		rc = kbsfs_cache_start_refresh(fs->cache, refresh_s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

void kbsfs_fs_stop(struct kbsfs_fs *fs)
{
	if (!fs)
		return;
	kbsfs_cache_stop_refresh(fs->cache);
	if (fs->nthread_running) {
		pthread_mutex_lock(&fs->nlock);
		fs->nstop = true;
		pthread_cond_signal(&fs->ncond);
		pthread_mutex_unlock(&fs->nlock);
		pthread_join(fs->nthread, NULL);
		fs->nthread_running = false;
	}
}

struct kbsfs_cache *kbsfs_fs_cache(struct kbsfs_fs *fs)
{
	return fs->cache;
}

void kbsfs_fs_free(struct kbsfs_fs *fs)
{
	size_t i;

	if (!fs)
		return;
	kbsfs_fs_stop(fs);
	kbsfs_cache_free(fs->cache);
	for (i = 0; i < NODE_BUCKETS; i++) {
		struct node *n = fs->by_ino[i], *next;

		for (; n; n = next) {
			next = n->next_ino;
			node_free(n);
		}
	}
	while (fs->nhead) {
		struct notice *n = fs->nhead;

		fs->nhead = n->next;
		free(n);
	}
	json_decref(fs->info);
	pthread_cond_destroy(&fs->ncond);
	pthread_mutex_destroy(&fs->nlock);
	pthread_mutex_destroy(&fs->lock);
	free(fs);
}
