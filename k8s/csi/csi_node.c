// SPDX-License-Identifier: Apache-2.0
#include "k8s/csi/csi_node.h"
#include "common/b64.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/jose/jwk.h"
#include "common/jose/jws.h"
#include "common/log.h"
#include "fs/path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POD_PREFIX "csi.storage.k8s.io/"
#define KEY_TOKENS "csi.storage.k8s.io/serviceAccount.tokens"
#define MAX_INFLIGHT 64
#define MOUNTINFO_MAX (8u << 20)

struct csi_node {
	struct csi_node_cfg cfg;
	struct jwk *seal_key;
	char *state_dir;
	pthread_mutex_t lock;
	char *inflight[MAX_INFLIGHT]; /* target paths and volume ids being worked on */
};

static void res_set(struct csi_result *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void res_set(struct csi_result *r, int code, const char *fmt, ...)
{
	va_list ap;

	r->code = code;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ mountinfo */

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape(const char *in, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 1 < outlen; i++) {
		if (in[i] == '\\' && i + 3 < len && in[i + 1] >= '0' && in[i + 1] <= '3' &&
		    in[i + 2] >= '0' && in[i + 2] <= '7' && in[i + 3] >= '0' && in[i + 3] <= '7') {
			out[o++] = (char)((in[i + 1] - '0') * 64 + (in[i + 2] - '0') * 8 +
					  (in[i + 3] - '0'));
			i += 3;
		} else {
			out[o++] = in[i];
		}
	}
	out[o] = 0;
}

int csi_mountinfo_find(const char *text, const char *path, char *fstype, size_t fslen, char *source,
		       size_t srclen)
{
	const char *line = text;
	char mp[4096];
	int rc = KBS_ERR_NOTFOUND;

	while (line && *line) {
		const char *end = strchr(line, '\n'), *f[12], *p = line, *sep;
		size_t flen[12], nf = 0, ll = end ? (size_t)(end - line) : strlen(line);

		/* fields: id parent maj:min root mountpoint opts [optional...] - fstype source */
		while (p < line + ll && nf < 12) {
			size_t l = 0;

			while (p < line + ll && *p == ' ')
				p++;
			if (p >= line + ll)
				break;
			while (p + l < line + ll && p[l] != ' ')
				l++;
			f[nf] = p;
			flen[nf++] = l;
			p += l;
			if (nf == 6)
				break;
		}
		sep = nf == 6 ? strstr(p, " - ") : NULL;
		if (nf == 6 && (!sep || sep >= line + ll))
			return KBS_ERR_PARSE;
		if (nf == 6) {
			unescape(f[4], flen[4], mp, sizeof(mp));
			if (!strcmp(mp, path)) {
				const char *t = sep + 3,
					   *te = memchr(t, ' ', (size_t)(line + ll - t));
				const char *s, *se;

				if (!te)
					return KBS_ERR_PARSE;
				s = te + 1;
				se = memchr(s, ' ', (size_t)(line + ll - s));
				if (!se)
					se = line + ll;
				if (fstype)
					unescape(t, (size_t)(te - t), fstype, fslen);
				if (source)
					unescape(s, (size_t)(se - s), source, srclen);
				rc =
				    KBS_OK; /* keep going: the last entry is the top of the stack */
			}
		} else if (ll) {
			return KBS_ERR_PARSE;
		}
		line = end ? end + 1 : NULL;
	}
	return rc;
}

static char *read_text(const char *path, size_t max)
{
	FILE *f = fopen(path, "re");
	struct buf b;
	char chunk[8192];
	size_t n;
	char *out = NULL;
	int rc = KBS_OK;

	if (!f)
		return NULL;
	buf_init(&b, max);
	while (rc == KBS_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = buf_append(&b, chunk, n);
	fclose(f);
	if (rc == KBS_OK && buf_append_byte(&b, 0) == KBS_OK)
		out = buf_steal(&b, NULL);
	buf_release(&b);
	return out;
}

/* 1 mounted (fstype copied), 0 not mounted, -1 cannot tell */
static int mounted_at2(struct csi_node *n, const char *path, char *fstype, size_t fslen, char *src,
		       size_t srclen)
{
	char *text =
	    read_text(n->cfg.mountinfo ? n->cfg.mountinfo : "/proc/self/mountinfo", MOUNTINFO_MAX);
	int rc;

	if (!text)
		return -1;
	rc = csi_mountinfo_find(text, path, fstype, fslen, src, srclen);
	free(text);
	return rc == KBS_OK ? 1 : rc == KBS_ERR_NOTFOUND ? 0 : -1;
}

static int mounted_at(struct csi_node *n, const char *path, char *fstype, size_t fslen)
{
	return mounted_at2(n, path, fstype, fslen, NULL, 0);
}

#define GUEST_SOURCE "kbsfs-csi"

/* A mount this plugin made: kbsfs (node mode) or its marked tmpfs (guest mode). */
static bool ours(const char *fstype, const char *src)
{
	return !strcmp(fstype, "fuse.kbsfs") ||
	       (!strcmp(fstype, "tmpfs") && !strcmp(src, GUEST_SOURCE));
}

/* ------------------------------------------------------------------ attributes */

static bool digits(const char *s, int base, unsigned long max)
{
	char *e;
	unsigned long v;

	if (!s[0] || s[0] == '-' || s[0] == '+' || s[0] == ' ')
		return false;
	errno = 0;
	v = strtoul(s, &e, base);
	return !errno && !*e && v <= max;
}

static int opt_append(struct buf *b, const char *key, const char *val)
{
	int rc = b->len ? buf_append_byte(b, ',') : KBS_OK;

	if (rc == KBS_OK)
		rc = buf_append_str(b, key);
	if (rc == KBS_OK && val) {
		rc = buf_append_byte(b, '=');
		/* fuse_opt unescapes "\," and "\\" */
		for (; rc == KBS_OK && *val; val++) {
			if (*val == ',' || *val == '\\')
				rc = buf_append_byte(b, '\\');
			if (rc == KBS_OK)
				rc = buf_append_byte(b, (uint8_t)*val);
		}
	}
	return rc;
}

static const char *ctx_get(const struct csi_publish_req *req, const char *key)
{
	size_t i;
	const char *v = NULL;

	for (i = 0; i < req->nctx; i++)
		if (req->ctx[i].key && !strcmp(req->ctx[i].key, key))
			v = req->ctx[i].value;
	return v;
}

static int cmp_attr(const void *a, const void *b)
{
	const struct csi_attr *x = *(const struct csi_attr *const *)a;
	const struct csi_attr *y = *(const struct csi_attr *const *)b;

	return strcmp(x->key, y->key);
}

/* SHA-256 over readonly, access type and every attribute except the token key, sorted */
static int params_digest(const struct csi_publish_req *req, char out[65])
{
	const struct csi_attr **v = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char d[32];
	unsigned int dl = 0;
	char hdr[64];
	size_t i, nv = 0;
	int rc = KBS_ERR_NOMEM;

	if (!md)
		goto out;
	v = calloc(req->nctx ? req->nctx : 1, sizeof(*v));
	if (!v)
		goto out;
	for (i = 0; i < req->nctx; i++)
		if (strcmp(req->ctx[i].key, KEY_TOKENS))
			v[nv++] = &req->ctx[i];
	qsort(v, nv, sizeof(*v), cmp_attr);
	snprintf(hdr, sizeof(hdr), "kbsfs-csi/1 ro=%d type=%d", req->readonly,
		 (int)req->access_type);
	rc = KBS_ERR_CRYPTO;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, hdr, strlen(hdr) + 1) != 1)
		goto out;
	for (i = 0; i < nv; i++)
		if (EVP_DigestUpdate(md, v[i]->key, strlen(v[i]->key) + 1) != 1 ||
		    EVP_DigestUpdate(md, v[i]->value, strlen(v[i]->value) + 1) != 1)
			goto out;
	if (EVP_DigestFinal_ex(md, d, &dl) != 1)
		goto out;
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	rc = KBS_OK;
out:
	free(v);
	EVP_MD_CTX_free(md);
	return rc;
}

int csi_volume_parse(const struct csi_node_cfg *cfg, const struct csi_publish_req *req,
		     struct csi_volume *vol, struct csi_result *res)
{
	static const char *const known[] = {"kbs_url",	 "kbs_cert", "kbs_cert_pem", "tee",
					    "resources", "uid",	     "gid",	     "mode",
					    "refresh",	 "placement"};
	static const char *const pod_keys[] = {POD_PREFIX "pod.name", POD_PREFIX "pod.namespace",
					       POD_PREFIX "pod.uid",
					       POD_PREFIX "serviceAccount.name"};
	const char *url, *cert, *pem, *tee, *resources, *v, *placement;
	struct buf b;
	size_t i, k;
	int rc = CSI_INVALID_ARGUMENT;

	memset(vol, 0, sizeof(*vol));
	buf_init(&b, sizeof(vol->options) - 1);
	for (i = 0; i < req->nctx; i++) {
		const char *key = req->ctx[i].key;
		bool ok = false;

		if (!key || !req->ctx[i].value) {
			res_set(res, rc, "volume attribute without a key or value");
			goto out;
		}
		if (!strncmp(key, POD_PREFIX, strlen(POD_PREFIX)))
			continue;
		for (k = 0; k < sizeof(known) / sizeof(known[0]) && !ok; k++)
			ok = !strcmp(key, known[k]);
		if (!ok) {
			/* name the key (not the value): catches typos */
			res_set(res, rc,
				"unknown volume attribute '%.64s' (known: kbs_url, kbs_cert, "
				"kbs_cert_pem, tee, resources, uid, gid, mode, refresh, placement)",
				key);
			goto out;
		}
	}
	for (k = 0; k < sizeof(pod_keys) / sizeof(pod_keys[0]); k++) {
		v = ctx_get(req, pod_keys[k]);
		if (!v || !v[0]) {
			res_set(res, rc,
				"volume context lacks %s: the CSIDriver object must set "
				"podInfoOnMount: true",
				pod_keys[k]);
			goto out;
		}
	}
	snprintf(vol->pod, sizeof(vol->pod), "%s", ctx_get(req, POD_PREFIX "pod.name"));
	snprintf(vol->ns, sizeof(vol->ns), "%s", ctx_get(req, POD_PREFIX "pod.namespace"));
	snprintf(vol->sa, sizeof(vol->sa), "%s", ctx_get(req, POD_PREFIX "serviceAccount.name"));
	snprintf(vol->pod_uid, sizeof(vol->pod_uid), "%s", ctx_get(req, POD_PREFIX "pod.uid"));
	for (k = 0; k < sizeof(pod_keys) / sizeof(pod_keys[0]); k++) {
		v = ctx_get(req, pod_keys[k]);
		/* Kubernetes names and UIDs; kbsfs sends them to the KBS unencoded */
		if (strlen(v) > 253 || strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
						 "0123456789._-") != strlen(v)) {
			res_set(res, rc, "%s is not a Kubernetes name", pod_keys[k]);
			goto out;
		}
	}
	placement = ctx_get(req, "placement");
	if (placement && strcmp(placement, "node") && strcmp(placement, "guest")) {
		res_set(res, rc, "placement must be node or guest");
		goto out;
	}
	vol->guest = placement && !strcmp(placement, "guest");
	if (vol->guest && (!cfg->sealing_key || !cfg->sealing_kid)) {
		res_set(res, rc,
			"placement=guest needs the plugin's --sealing-key and --sealing-kid");
		goto out;
	}
	url = ctx_get(req, "kbs_url");
	if (url && cfg->default_kbs_url && !cfg->allow_user_kbs_url &&
	    strcmp(url, cfg->default_kbs_url)) {
		res_set(res, rc, "kbs_url may not differ from the plugin's --kbs-url");
		goto out;
	}
	if (!url)
		url = cfg->default_kbs_url;
	if (!url || (strncmp(url, "https://", 8) && strncmp(url, "http://", 7)) ||
	    strpbrk(url, " \t\r\n")) {
		res_set(res, rc, "kbs_url must be an https:// URL (attribute or plugin --kbs-url)");
		goto out;
	}
	cert = ctx_get(req, "kbs_cert");
	pem = ctx_get(req, "kbs_cert_pem");
	if (cert && pem) {
		res_set(res, rc, "give kbs_cert or kbs_cert_pem, not both");
		goto out;
	}
	if (cert && (cert[0] != '/' || strstr(cert, "/../"))) {
		res_set(res, rc, "kbs_cert must be an absolute path on the node");
		goto out;
	}
	if (pem && !strstr(pem, "-----BEGIN CERTIFICATE-----")) {
		res_set(res, rc, "kbs_cert_pem must hold a PEM certificate");
		goto out;
	}
	if (!cert && !pem)
		cert = cfg->default_kbs_cert;
	tee = ctx_get(req, "tee");
	if (tee && !strcmp(tee, "sample") && !cfg->allow_sample) {
		res_set(res, rc, "tee=sample is refused (plugin started without --allow-sample)");
		goto out;
	}
	if (tee && (!tee[0] || strspn(tee, "abcdefghijklmnopqrstuvwxyz-") != strlen(tee))) {
		res_set(res, rc, "invalid tee");
		goto out;
	}
	resources = ctx_get(req, "resources");
	if (!resources || !resources[0]) {
		res_set(res, rc,
			"volume attribute resources (comma-separated repo/type/tag) is "
			"required");
		goto out;
	}
	if ((rc = opt_append(&b, "kbs_url", url)) != KBS_OK)
		goto toolong;
	if (cert && (rc = opt_append(&b, "kbs_cert", cert)) != KBS_OK)
		goto toolong;
	if (tee && (rc = opt_append(&b, "tee", tee)) != KBS_OK)
		goto toolong;
	if (tee && !strcmp(tee, "sample") && (rc = opt_append(&b, "allow_sample", NULL)) != KBS_OK)
		goto toolong;
	{
		/* comma-separated repo/type/tag (or kbs:/// URIs) -> kbsfs's colon list */
		struct buf r;
		const char *p = resources;
		char path[KBSFS_PATH_MAX + 1];

		buf_init(&r, 3000);
		while (*p) {
			size_t l = strcspn(p, ",");
			const char *s = p;

			while (l && (*s == ' ')) {
				s++;
				l--;
			}
			while (l && s[l - 1] == ' ')
				l--;
			if (kbsfs_path_normalize(s, l, path, sizeof(path)) != KBS_OK) {
				buf_release(&r);
				rc = CSI_INVALID_ARGUMENT;
				res_set(res, rc,
					"resources: each entry must be repo/type/tag or "
					"kbs:///repo/type/tag");
				goto out;
			}
			if ((r.len && buf_append_byte(&r, ':') != KBS_OK) ||
			    buf_append_str(&r, path) != KBS_OK) {
				buf_release(&r);
				goto toolong;
			}
			p += strcspn(p, ",");
			if (*p)
				p++;
		}
		if (buf_append_byte(&r, 0) != KBS_OK) {
			buf_release(&r);
			goto toolong;
		}
		rc = opt_append(&b, "resources", (const char *)r.p);
		snprintf(vol->resources, sizeof(vol->resources), "%s", (const char *)r.p);
		buf_release(&r);
		if (rc != KBS_OK)
			goto toolong;
	}
	/* the pod identity travels to the KBS (data.query of the resource policy) */
	if ((rc = opt_append(&b, "pod_namespace", vol->ns)) != KBS_OK ||
	    (rc = opt_append(&b, "pod_name", vol->pod)) != KBS_OK ||
	    (rc = opt_append(&b, "pod_uid", vol->pod_uid)) != KBS_OK ||
	    (rc = opt_append(&b, "service_account", vol->sa)) != KBS_OK)
		goto toolong;
	if ((v = ctx_get(req, "uid"))) {
		if (!digits(v, 10, 0x7fffffff)) {
			rc = CSI_INVALID_ARGUMENT;
			res_set(res, rc, "uid must be a decimal number");
			goto out;
		}
		snprintf(vol->uid, sizeof(vol->uid), "%s", v);
		if ((rc = opt_append(&b, "uid", v)) != KBS_OK)
			goto toolong;
	}
	if ((v = ctx_get(req, "gid"))) {
		if (!digits(v, 10, 0x7fffffff)) {
			rc = CSI_INVALID_ARGUMENT;
			res_set(res, rc, "gid must be a decimal number");
			goto out;
		}
		snprintf(vol->gid, sizeof(vol->gid), "%s", v);
		if ((rc = opt_append(&b, "gid", v)) != KBS_OK)
			goto toolong;
	}
	if ((v = ctx_get(req, "mode"))) {
		if (!digits(v, 8, 0777)) {
			rc = CSI_INVALID_ARGUMENT;
			res_set(res, rc, "mode must be octal permission bits, e.g. 0440");
			goto out;
		}
		snprintf(vol->mode, sizeof(vol->mode), "%s", v);
		if ((rc = opt_append(&b, "mode", v)) != KBS_OK)
			goto toolong;
	}
	if ((v = ctx_get(req, "refresh"))) {
		if (!digits(v, 10, 86400 * 365)) {
			rc = CSI_INVALID_ARGUMENT;
			res_set(res, rc, "refresh must be a number of seconds");
			goto out;
		}
		snprintf(vol->refresh, sizeof(vol->refresh), "%s", v);
		if ((rc = opt_append(&b, "refresh", v)) != KBS_OK)
			goto toolong;
	}
	if (params_digest(req, vol->digest) != KBS_OK) {
		rc = CSI_INTERNAL;
		res_set(res, rc, "cannot digest the volume parameters");
		goto out;
	}
	if (buf_append_byte(&b, 0) != KBS_OK)
		goto toolong;
	memcpy(vol->options, b.p, b.len);
	vol->cert_pem = pem;
	rc = CSI_OK;
	res_set(res, rc, "ok");
	goto out;
toolong:
	rc = CSI_INVALID_ARGUMENT;
	res_set(res, rc, "volume attributes too long");
out:
	buf_release(&b);
	return rc;
}

/* ------------------------------------------------------------------ state files */

static void state_path(struct csi_node *n, const char *volume_id, const char *ext, char *out,
		       size_t outlen)
{
	unsigned char d[32];
	unsigned int dl = 0;
	char hex[65];
	size_t i;

	/* volume ids are CO-chosen strings: hash them into a safe file name */
	EVP_Digest(volume_id, strlen(volume_id), d, &dl, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	snprintf(out, outlen, "%s/%.40s%s", n->state_dir, hex, ext);
}

/*
 * State files are keyed by the volume id; for read-only shared access modes (a ReadOnlyMany
 * PV used by several pods on one node) by volume id and target path.
 */
static void state_key(const char *volume_id, const char *target, bool shared, char *out,
		      size_t outlen)
{
	snprintf(out, outlen, "%s%s%s", volume_id, shared ? "\n" : "", shared ? target : "");
}

static json_t *state_load(struct csi_node *n, const char *volume_id)
{
	char p[4096];

	state_path(n, volume_id, ".json", p, sizeof(p));
	return json_load_file(p, JSON_REJECT_DUPLICATES, NULL);
}

static int write_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
	char tmp[4200];
	int fd, rc = KBS_ERR_IO;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return KBS_ERR_IO;
	if (write(fd, data, len) == (ssize_t)len && fsync(fd) == 0)
		rc = KBS_OK;
	close(fd);
	if (rc == KBS_OK && rename(tmp, path) != 0)
		rc = KBS_ERR_IO;
	if (rc != KBS_OK)
		unlink(tmp);
	return rc;
}

static int state_save(struct csi_node *n, const char *key, const char *volume_id,
		      const char *target, const struct csi_volume *vol)
{
	char p[4096], *s;
	json_t *j;
	int rc = KBS_ERR_NOMEM;

	state_path(n, key, ".json", p, sizeof(p));
	j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "version", 1, "volume_id",
		      volume_id, "target_path", target, "placement", vol->guest ? "guest" : "node",
		      "params_sha256", vol->digest, "pod_namespace", vol->ns, "pod_name", vol->pod,
		      "service_account", vol->sa, "published_at", (json_int_t)time(NULL));
	if (!j)
		return rc;
	s = json_dumps(j, JSON_SORT_KEYS | JSON_INDENT(1));
	if (s)
		rc = write_atomic(p, s, strlen(s), 0600);
	free(s);
	json_decref(j);
	return rc;
}

static void state_remove(struct csi_node *n, const char *volume_id)
{
	char p[4096];

	state_path(n, volume_id, ".json", p, sizeof(p));
	unlink(p);
	state_path(n, volume_id, ".pem", p, sizeof(p));
	unlink(p);
}

/* ------------------------------------------------------------------ locking */

static bool lock_keys(struct csi_node *n, const char *a, const char *b)
{
	size_t i, free1 = MAX_INFLIGHT, free2 = MAX_INFLIGHT;
	bool ok = true;

	pthread_mutex_lock(&n->lock);
	for (i = 0; i < MAX_INFLIGHT; i++) {
		if (n->inflight[i] && (!strcmp(n->inflight[i], a) || !strcmp(n->inflight[i], b)))
			ok = false;
		if (!n->inflight[i]) {
			if (free1 == MAX_INFLIGHT)
				free1 = i;
			else if (free2 == MAX_INFLIGHT)
				free2 = i;
		}
	}
	if (ok && free2 < MAX_INFLIGHT) {
		n->inflight[free1] = strdup(a);
		n->inflight[free2] = strdup(b);
		if (!n->inflight[free1] || !n->inflight[free2]) {
			free(n->inflight[free1]);
			free(n->inflight[free2]);
			n->inflight[free1] = n->inflight[free2] = NULL;
			ok = false;
		}
	} else {
		ok = false;
	}
	pthread_mutex_unlock(&n->lock);
	return ok;
}

static void unlock_keys(struct csi_node *n, const char *a, const char *b)
{
	size_t i;

	pthread_mutex_lock(&n->lock);
	for (i = 0; i < MAX_INFLIGHT; i++)
		if (n->inflight[i] && (!strcmp(n->inflight[i], a) || !strcmp(n->inflight[i], b))) {
			free(n->inflight[i]);
			n->inflight[i] = NULL;
		}
	pthread_mutex_unlock(&n->lock);
}

/* ------------------------------------------------------------------ kbsfs daemons */

/*
 * Runs kbsfs in its background mode in a new session: it returns once the mount is usable,
 * and the daemon it leaves behind belongs to no process of the plugin, so it survives a
 * plugin restart. Only async-signal-safe calls between fork and exec (gRPC has threads).
 */
/* PATH lookup done before fork: execvp is not async-signal-safe. */
static bool find_in_path(const char *name, char *out, size_t outlen)
{
	const char *path = getenv("PATH"), *p, *e;

	if (strchr(name, '/'))
		return (size_t)snprintf(out, outlen, "%s", name) < outlen;
	for (p = path && path[0] ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	     *p; p = *e ? e + 1 : e) {
		e = strchr(p, ':');
		if (!e)
			e = p + strlen(p);
		if (e > p && (size_t)snprintf(out, outlen, "%.*s/%s", (int)(e - p), p, name) < outlen &&
		    access(out, X_OK) == 0)
			return true;
	}
	return false;
}

static int spawn_kbsfs(struct csi_node *n, const char *target, const char *options, char *err,
		       size_t errlen)
{
	char *argv[40], *launcher = NULL, *save = NULL, *tok, exe[4096];
	size_t argc = 0, got = 0;
	int p[2], status = 0, rc = KBS_ERR_IO, devnull;
	pid_t pid;

	if (n->cfg.launcher && n->cfg.launcher[0]) {
		launcher = strdup(n->cfg.launcher);
		if (!launcher)
			return KBS_ERR_NOMEM;
		for (tok = strtok_r(launcher, " ", &save); tok && argc < 32;
		     tok = strtok_r(NULL, " ", &save))
			argv[argc++] = tok;
	}
	argv[argc++] = (char *)n->cfg.kbsfs_bin;
	argv[argc++] = (char *)target;
	argv[argc++] = "-o";
	argv[argc++] = (char *)options;
	argv[argc] = NULL;
	/* a launcher such as "nsenter ..." is usually named without its directory */
	if (!find_in_path(argv[0], exe, sizeof(exe))) {
		snprintf(err, errlen, "%s: not found", argv[0]);
		goto out;
	}
	if (pipe2(p, O_CLOEXEC) != 0)
		goto out;
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		if (devnull >= 0)
			close(devnull);
		goto out;
	}
	if (pid == 0) {
		setsid();
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		execv(exe, argv);
		_exit(127);
	}
	close(p[1]);
	if (devnull >= 0)
		close(devnull);
	/* start-up errors of kbsfs arrive here; the daemon closes the pipe once mounted */
	for (;;) {
		ssize_t r;

		if (got + 1 >= errlen) {
			char sink[256];

			r = read(p[0], sink, sizeof(sink));
		} else {
			r = read(p[0], err + got, errlen - got - 1);
			if (r > 0)
				got += (size_t)r;
		}
		if (r == 0 || (r < 0 && errno != EINTR))
			break;
	}
	err[got] = 0;
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	rc = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? KBS_OK : KBS_ERR_IO;
	if (rc == KBS_OK)
		err[0] = 0;
	else if (!err[0])
		snprintf(err, errlen, "kbsfs exited with status %d", WEXITSTATUS(status));
out:
	free(launcher);
	return rc;
}

static int unmount_path(const char *target)
{
	if (umount2(target, 0) == 0)
		return 0;
	/* busy (an open file) or a dead FUSE connection (ENOTCONN): detach */
	if (errno == EBUSY || errno == ENOTCONN || errno == EIO)
		return umount2(target, MNT_DETACH);
	return -1;
}

/* ------------------------------------------------------------------ guest mode */

static int write_at(int dfd, const char *name, const char *data, size_t len)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
	int rc = KBS_ERR_IO;

	if (fd < 0)
		return rc;
	if (write(fd, data, len) == (ssize_t)len)
		rc = KBS_OK;
	close(fd);
	return rc;
}

/* "sealed." + ES256 JWS over a vault reference naming kbs:///<res> */
static int seal_ref(struct csi_node *n, const char *res, char **out)
{
	json_t *payload = NULL, *hdr = NULL;
	char *ptext = NULL, *jws = NULL, uri[KBSFS_PATH_MAX + 16];
	size_t l;
	int rc = KBS_ERR_NOMEM;

	*out = NULL;
	snprintf(uri, sizeof(uri), "kbs:///%s", res);
	payload = json_pack("{s:s, s:s, s:s, s:s, s:{}, s:{}}", "version", "0.1.0", "type", "vault",
			    "name", uri, "provider", "kbs", "provider_settings", "annotations");
	hdr = json_pack("{s:s}", "kid", n->cfg.sealing_kid);
	if (!payload || !hdr)
		goto out;
	ptext = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!ptext)
		goto out;
	rc = jws_sign(n->seal_key, "ES256", hdr, ptext, strlen(ptext), &jws);
	if (rc != KBS_OK)
		goto out;
	l = strlen(jws) + 8;
	rc = KBS_ERR_NOMEM;
	*out = malloc(l);
	if (!*out)
		goto out;
	snprintf(*out, l, "sealed.%s", jws);
	rc = KBS_OK;
out:
	free(jws);
	free(ptext);
	json_decref(payload);
	json_decref(hdr);
	return rc;
}

/*
 * Guest mode (kata CoCo): a read-only tmpfs holding only non-secret sealed references, in the
 * kubelet atomic-writer layout the kata agent's unseal hook walks (..<stamp>/<name>,
 * ..data -> ..<stamp>, <name> -> ..data/<name>), plus the .kbsfs-volume.json descriptor.
 */
static int guest_publish(struct csi_node *n, const char *target, const char *volume_id,
			 const struct csi_volume *vol, struct csi_result *res)
{
	const unsigned long fl = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	char stamp[64], link[320], names[64][KBSFS_SEG_MAX + 1], list[sizeof(vol->resources)];
	char *save = NULL, *r, *sealed = NULL, *desc = NULL;
	json_t *d = NULL, *arr;
	struct timespec ts;
	struct tm tm;
	size_t nn = 0, i;
	int dfd = -1, sfd = -1, rc = KBS_ERR_IO;

	if (mount(GUEST_SOURCE, target, "tmpfs", fl, "size=1m,mode=0755") != 0) {
		res_set(res, CSI_INTERNAL, "cannot mount tmpfs at target_path: %s",
			strerror(errno));
		return KBS_ERR_IO;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(stamp, sizeof(stamp), "..%04d_%02d_%02d_%02d_%02d_%02d.%09ld", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)ts.tv_nsec);
	dfd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || mkdirat(dfd, stamp, 0755) != 0)
		goto io;
	sfd = openat(dfd, stamp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		goto io;
	d = json_pack("{s:i, s:s, s:{s:s, s:s, s:s, s:s}, s:[]}", "kbsfs_volume", 1, "volume_id",
		      volume_id, "pod", "namespace", vol->ns, "name", vol->pod, "uid", vol->pod_uid,
		      "serviceAccount", vol->sa, "resources");
	arr = d ? json_object_get(d, "resources") : NULL;
	if (!arr)
		goto nomem;
	snprintf(list, sizeof(list), "%s", vol->resources);
	for (r = strtok_r(list, ":", &save); r; r = strtok_r(NULL, ":", &save)) {
		const char *tag = strrchr(r, '/') + 1;
		char uri[KBSFS_PATH_MAX + 16];

		/* top-level names only (the agent does not descend): the tag names the file */
		for (i = 0; i < nn; i++)
			if (!strcmp(names[i], tag)) {
				res_set(res, CSI_INVALID_ARGUMENT,
					"guest mode: two resources share the file name '%s'", tag);
				rc = KBS_ERR_INVAL;
				goto out;
			}
		if (nn == 64) {
			res_set(res, CSI_INVALID_ARGUMENT, "guest mode: at most 64 resources");
			rc = KBS_ERR_INVAL;
			goto out;
		}
		snprintf(names[nn++], sizeof(names[0]), "%s", tag);
		if ((rc = seal_ref(n, r, &sealed)) != KBS_OK) {
			res_set(res, CSI_INTERNAL, "cannot sign a sealed reference (%s)",
				kbs_strerror(rc));
			goto out;
		}
		if (write_at(sfd, tag, sealed, strlen(sealed)) != KBS_OK)
			goto io;
		free(sealed);
		sealed = NULL;
		snprintf(uri, sizeof(uri), "kbs:///%s", r);
		if (json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "uri", uri, "path", tag,
							 "mode",
							 vol->mode[0] ? vol->mode : "0400")) != 0)
			goto nomem;
	}
	if ((vol->uid[0] && json_object_set_new(d, "uid", json_integer(atol(vol->uid)))) ||
	    (vol->gid[0] && json_object_set_new(d, "gid", json_integer(atol(vol->gid)))) ||
	    (vol->refresh[0] &&
	     json_object_set_new(d, "refresh_seconds", json_integer(atol(vol->refresh)))))
		goto nomem;
	desc = json_dumps(d, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	if (!desc)
		goto nomem;
	if (write_at(sfd, ".kbsfs-volume.json", desc, strlen(desc)) != KBS_OK)
		goto io;
	if (symlinkat(stamp, dfd, "..data") != 0)
		goto io;
	for (i = 0; i < nn; i++) {
		snprintf(link, sizeof(link), "..data/%s", names[i]);
		if (symlinkat(link, dfd, names[i]) != 0)
			goto io;
	}
	if (symlinkat("..data/.kbsfs-volume.json", dfd, ".kbsfs-volume.json") != 0)
		goto io;
	if (mount(GUEST_SOURCE, target, "tmpfs", MS_REMOUNT | MS_RDONLY | fl,
		  "size=1m,mode=0755") != 0)
		goto io;
	rc = KBS_OK;
	goto out;
nomem:
	rc = KBS_ERR_NOMEM;
	res_set(res, CSI_UNAVAILABLE, "out of memory");
	goto out;
io:
	rc = KBS_ERR_IO;
	res_set(res, CSI_INTERNAL, "cannot write the guest-mode volume: %s", strerror(errno));
out:
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	free(sealed);
	free(desc);
	json_decref(d);
	if (rc != KBS_OK && umount2(target, MNT_DETACH) != 0)
		res->code = CSI_UNAVAILABLE;
	return rc;
}

/* ------------------------------------------------------------------ kata mountInfo.json */

bool csi_access_mode_shared(int access_mode)
{
	/* csi.v1 AccessMode: SINGLE_NODE_READER_ONLY = 2, MULTI_NODE_READER_ONLY = 3 */
	return access_mode == 2 || access_mode == 3;
}

int csi_kata_volume_dir_name(const char *target_path, char *out, size_t outlen)
{
	size_t i;
	int rc = b64_encode((const uint8_t *)target_path, strlen(target_path), out, outlen,
			    B64_STD);

	/* kata: base64.URLEncoding (with padding) of the volume path */
	for (i = 0; rc == KBS_OK && out[i]; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	return rc;
}

static int opt_push(json_t *arr, const char *key, const char *val)
{
	char o[64];

	if (!val[0])
		return 0;
	snprintf(o, sizeof(o), "%s=%s", key, val);
	return json_array_append_new(arr, json_string(o));
}

char *csi_kata_mountinfo_json(const char *volume_id, const struct csi_volume *vol)
{
	char res[sizeof(vol->resources) + 16], *text = NULL;
	json_t *j = NULL, *opts;

	snprintf(res, sizeof(res), "resources=%s", vol->resources);
	opts = json_pack("[s, s]", "ro", res);
	if (!opts || opt_push(opts, "uid", vol->uid) || opt_push(opts, "gid", vol->gid) ||
	    opt_push(opts, "mode", vol->mode) || opt_push(opts, "refresh", vol->refresh)) {
		json_decref(opts);
		return NULL;
	}
	/* no KBS URL and no secret: the guest takes its KBS from the measured init-data */
	j = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:o}", "volume-type", "kbsfs", "device",
		      "kbsfs", "fstype", "fuse.kbsfs", "metadata", "kbsfs.volume_id", volume_id,
		      "kbsfs.descriptor", ".kbsfs-volume.json", "kbsfs.pod_namespace", vol->ns,
		      "options", opts);
	if (j)
		text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	return text;
}

static int kata_dir(struct csi_node *n, const char *target, char *out, size_t outlen)
{
	char name[6000];

	if (csi_kata_volume_dir_name(target, name, sizeof(name)) != KBS_OK)
		return KBS_ERR_RANGE;
	if ((size_t)snprintf(out, outlen, "%s/%s", n->cfg.kata_mountinfo_dir, name) >= outlen)
		return KBS_ERR_RANGE;
	return KBS_OK;
}

/* <dir>/<base64url(target)>/mountInfo.json, dir 0700, file 0600 (kata's modes) */
static int kata_mountinfo_write(struct csi_node *n, const char *target, const char *volume_id,
				const struct csi_volume *vol)
{
	char dir[8192], path[8300], *text;
	int rc;

	if ((rc = kata_dir(n, target, dir, sizeof(dir))) != KBS_OK)
		return rc;
	if (mkdir(n->cfg.kata_mountinfo_dir, 0700) != 0 && errno != EEXIST)
		return KBS_ERR_IO;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return KBS_ERR_IO;
	text = csi_kata_mountinfo_json(volume_id, vol);
	if (!text)
		return KBS_ERR_NOMEM;
	snprintf(path, sizeof(path), "%s/mountInfo.json", dir);
	rc = write_atomic(path, text, strlen(text), 0600);
	free(text);
	if (rc == KBS_OK)
		log_info("kbsfs-csi: wrote %s (kata direct volume)", path);
	return rc;
}

static void kata_mountinfo_remove(struct csi_node *n, const char *target)
{
	char dir[8192], path[8300];

	if (kata_dir(n, target, dir, sizeof(dir)) != KBS_OK)
		return;
	snprintf(path, sizeof(path), "%s/mountInfo.json", dir);
	if (unlink(path) == 0 && rmdir(dir) != 0)
		log_warn("kbsfs-csi: cannot remove %s: %s", dir, strerror(errno));
}

/* ------------------------------------------------------------------ RPCs */

void csi_node_publish(struct csi_node *n, const struct csi_publish_req *req, struct csi_result *res)
{
	struct csi_volume vol;
	char fstype[64] = "", src[64] = "", err[1024] = "", pem_path[4096], *opts = NULL;
	char key[8192];
	bool shared = csi_access_mode_shared(req->access_mode);
	json_t *st = NULL;
	const char *old_target = NULL, *old_digest = NULL;
	bool locked = false, created_dir = false, mounted = false;
	int m;

	res_set(res, CSI_OK, "ok");
	if (!req->volume_id || !req->volume_id[0]) {
		res_set(res, CSI_INVALID_ARGUMENT, "volume_id is required");
		return;
	}
	if (!req->target_path || !req->target_path[0]) {
		res_set(res, CSI_INVALID_ARGUMENT, "target_path is required");
		return;
	}
	if (req->target_path[0] != '/' || strstr(req->target_path, "/../") ||
	    strlen(req->target_path) > 3000) {
		res_set(res, CSI_INVALID_ARGUMENT, "target_path must be an absolute path");
		return;
	}
	if (!req->has_capability) {
		res_set(res, CSI_INVALID_ARGUMENT, "volume_capability is required");
		return;
	}
	if (req->access_type != CSI_ACCESS_MOUNT) {
		res_set(res, CSI_INVALID_ARGUMENT,
			"only the mount access type is supported (not block)");
		return;
	}
	if (!req->readonly) {
		res_set(res, CSI_INVALID_ARGUMENT,
			"kbsfs volumes are read-only: set readOnly: true on the csi volume");
		return;
	}
	if (csi_volume_parse(&n->cfg, req, &vol, res) != CSI_OK)
		return;
	if (!lock_keys(n, req->target_path, req->volume_id)) {
		res_set(res, CSI_ABORTED, "an operation on this volume is in progress");
		return;
	}
	locked = true;
	state_key(req->volume_id, req->target_path, shared, key, sizeof(key));
	st = state_load(n, key);
	if (st) {
		old_target = json_string_value(json_object_get(st, "target_path"));
		old_digest = json_string_value(json_object_get(st, "params_sha256"));
	}
	if (!shared && old_target && strcmp(old_target, req->target_path) &&
	    mounted_at(n, old_target, NULL, 0) == 1) {
		res_set(res, CSI_FAILED_PRECONDITION,
			"volume is already published at another target path");
		goto out;
	}
	m = mounted_at2(n, req->target_path, fstype, sizeof(fstype), src, sizeof(src));
	if (m < 0) {
		res_set(res, CSI_UNAVAILABLE, "cannot read the mount table");
		goto out;
	}
	if (m == 1) {
		if (!ours(fstype, src) || !old_target || strcmp(old_target, req->target_path)) {
			res_set(res, CSI_FAILED_PRECONDITION,
				"target_path is already a mount point not published by this "
				"volume");
			goto out;
		}
		if (!old_digest || strcmp(old_digest, vol.digest))
			res_set(res, CSI_ALREADY_EXISTS,
				"volume already published at target_path with different "
				"parameters");
		else
			log_info("kbsfs-csi: volume %.*s already published (republish)", 128,
				 req->volume_id);
		goto out;
	}
	if (mkdir(req->target_path, 0750) == 0)
		created_dir = true;
	else if (errno != EEXIST) {
		res_set(res, CSI_INTERNAL, "cannot create target_path: %s", strerror(errno));
		goto out;
	}
	if (vol.guest) {
		if (guest_publish(n, req->target_path, req->volume_id, &vol, res) != KBS_OK) {
			if (res->code != CSI_UNAVAILABLE && created_dir)
				rmdir(req->target_path);
			goto out;
		}
		if (n->cfg.kata_mountinfo_dir &&
		    kata_mountinfo_write(n, req->target_path, req->volume_id, &vol) != KBS_OK) {
			res_set(res, CSI_INTERNAL, "cannot write the kata mountInfo.json");
			mounted = true;
			goto fail;
		}
		if (state_save(n, key, req->volume_id, req->target_path, &vol) != KBS_OK) {
			res_set(res, CSI_INTERNAL, "cannot write the volume state file");
			mounted = true;
			goto fail;
		}
		log_info("kbsfs-csi: published guest-mode volume %.*s at %s for pod %s/%s", 128,
			 req->volume_id, req->target_path, vol.ns, vol.pod);
		goto out;
	}
	opts = strdup(vol.options);
	if (!opts) {
		res_set(res, CSI_UNAVAILABLE, "out of memory");
		goto out;
	}
	if (vol.cert_pem) {
		size_t l;
		char *o2;

		state_path(n, key, ".pem", pem_path, sizeof(pem_path));
		if (write_atomic(pem_path, vol.cert_pem, strlen(vol.cert_pem), 0644) != KBS_OK) {
			res_set(res, CSI_INTERNAL, "cannot store kbs_cert_pem");
			goto fail;
		}
		l = strlen(opts) + strlen(pem_path) + 16;
		o2 = malloc(l);
		if (!o2) {
			res_set(res, CSI_UNAVAILABLE, "out of memory");
			goto fail;
		}
		snprintf(o2, l, "%s,kbs_cert=%s", opts, pem_path);
		free(opts);
		opts = o2;
	}
	if (spawn_kbsfs(n, req->target_path, opts, err, sizeof(err)) != KBS_OK) {
		char *nl;

		/* kbsfs start-up messages name options and files, never secrets */
		while ((nl = strchr(err, '\n')) && nl[1])
			memmove(err, nl + 1, strlen(nl + 1) + 1);
		if ((nl = strchr(err, '\n')))
			*nl = 0;
		res_set(res, CSI_INTERNAL, "kbsfs did not mount: %.400s", err);
		goto fail;
	}
	mounted = mounted_at(n, req->target_path, fstype, sizeof(fstype)) == 1 &&
		  !strcmp(fstype, "fuse.kbsfs");
	if (!mounted) {
		res_set(res, CSI_INTERNAL, "kbsfs exited successfully but nothing is mounted");
		goto fail;
	}
	if (state_save(n, key, req->volume_id, req->target_path, &vol) != KBS_OK) {
		res_set(res, CSI_INTERNAL, "cannot write the volume state file");
		goto fail;
	}
	log_info("kbsfs-csi: published volume %.*s at %s for pod %s/%s", 128, req->volume_id,
		 req->target_path, vol.ns, vol.pod);
	goto out;
fail:
	/* a final error code promises kubelet that nothing is left mounted */
	if (mounted && unmount_path(req->target_path) != 0) {
		res->code = CSI_UNAVAILABLE;
		goto out;
	}
	if (n->cfg.kata_mountinfo_dir)
		kata_mountinfo_remove(n, req->target_path);
	state_remove(n, key);
	if (created_dir)
		rmdir(req->target_path);
out:
	free(opts);
	json_decref(st);
	if (locked)
		unlock_keys(n, req->target_path, req->volume_id);
}

void csi_node_unpublish(struct csi_node *n, const char *volume_id, const char *target_path,
			struct csi_result *res)
{
	char fstype[64];
	int m;

	res_set(res, CSI_OK, "ok");
	if (!volume_id || !volume_id[0]) {
		res_set(res, CSI_INVALID_ARGUMENT, "volume_id is required");
		return;
	}
	if (!target_path || !target_path[0]) {
		res_set(res, CSI_INVALID_ARGUMENT, "target_path is required");
		return;
	}
	if (target_path[0] != '/' || strstr(target_path, "/../")) {
		res_set(res, CSI_INVALID_ARGUMENT, "target_path must be an absolute path");
		return;
	}
	if (!lock_keys(n, target_path, volume_id)) {
		res_set(res, CSI_ABORTED, "an operation on this volume is in progress");
		return;
	}
	/* unmount every layer at target_path (a stale one below ours too) */
	while ((m = mounted_at(n, target_path, fstype, sizeof(fstype))) == 1) {
		if (unmount_path(target_path) != 0) {
			res_set(res, CSI_INTERNAL, "cannot unmount target_path: %s",
				strerror(errno));
			goto out;
		}
		log_info("kbsfs-csi: unmounted %s (%s)", target_path, fstype);
	}
	if (m < 0) {
		res_set(res, CSI_UNAVAILABLE, "cannot read the mount table");
		goto out;
	}
	if (rmdir(target_path) != 0 && errno != ENOENT) {
		/* never delete what is inside: it is not ours */
		log_warn("kbsfs-csi: cannot remove %s: %s", target_path, strerror(errno));
	}
	if (n->cfg.kata_mountinfo_dir)
		kata_mountinfo_remove(n, target_path);
	{
		/* the shared-mode state of this target, and the volume's own if it is this one */
		char key[8192];
		json_t *st = state_load(n, volume_id);
		const char *t = st ? json_string_value(json_object_get(st, "target_path")) : NULL;

		state_key(volume_id, target_path, true, key, sizeof(key));
		state_remove(n, key);
		if (!t || !strcmp(t, target_path))
			state_remove(n, volume_id);
		json_decref(st);
	}
out:
	unlock_keys(n, target_path, volume_id);
}

int csi_node_adopt(struct csi_node *n)
{
	DIR *d = opendir(n->state_dir);
	struct dirent *e;
	int adopted = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char p[4096], fstype[64], src[64] = "";
		size_t l = strlen(e->d_name);
		json_t *j;
		const char *t, *v;

		if (l < 6 || strcmp(e->d_name + l - 5, ".json"))
			continue;
		snprintf(p, sizeof(p), "%s/%s", n->state_dir, e->d_name);
		j = json_load_file(p, JSON_REJECT_DUPLICATES, NULL);
		t = j ? json_string_value(json_object_get(j, "target_path")) : NULL;
		v = j ? json_string_value(json_object_get(j, "volume_id")) : NULL;
		if (t && v && mounted_at2(n, t, fstype, sizeof(fstype), src, sizeof(src)) == 1 &&
		    ours(fstype, src)) {
			log_info("kbsfs-csi: adopted volume %.*s at %s", 128, v, t);
			adopted++;
		} else if (t && v) {
			log_info("kbsfs-csi: volume %.*s is no longer mounted; state removed", 128,
				 v);
			/* by file name: shared-mode files are keyed by volume and target */
			unlink(p);
			memcpy(p + strlen(p) - 5, ".pem", 5);
			unlink(p);
		} else {
			log_warn("kbsfs-csi: ignoring unreadable state file %s", p);
		}
		json_decref(j);
	}
	closedir(d);
	return adopted;
}

int csi_node_new(const struct csi_node_cfg *cfg, struct csi_node **out)
{
	struct csi_node *n;

	*out = NULL;
	if (!cfg->state_dir || !cfg->kbsfs_bin)
		return KBS_ERR_INVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return KBS_ERR_NOMEM;
	n->cfg = *cfg;
	n->state_dir = strdup(cfg->state_dir);
	if (!n->state_dir || pthread_mutex_init(&n->lock, NULL) != 0) {
		free(n->state_dir);
		free(n);
		return KBS_ERR_NOMEM;
	}
	n->cfg.state_dir = n->state_dir;
	if (cfg->sealing_key && jwk_from_pem_file(cfg->sealing_key, &n->seal_key) != KBS_OK) {
		log_error("kbsfs-csi: cannot load the sealing key %s", cfg->sealing_key);
		csi_node_free(n);
		return KBS_ERR_INVAL;
	}
	if (mkdir(n->state_dir, 0700) != 0 && errno != EEXIST) {
		csi_node_free(n);
		return KBS_ERR_IO;
	}
	*out = n;
	return KBS_OK;
}

void csi_node_free(struct csi_node *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < MAX_INFLIGHT; i++)
		free(n->inflight[i]);
	pthread_mutex_destroy(&n->lock);
	jwk_free(n->seal_key);
	free(n->state_dir);
	free(n);
}
