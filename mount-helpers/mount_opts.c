// SPDX-License-Identifier: Apache-2.0
#include "mount-helpers/mount_opts.h"
#include "common/buf.h"
#include "common/err.h"
#include "fs/path.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MKBS_OPTS_MAX 65536

bool mkbs_option_dropped(const char *opt)
{
	static const char *const dropped[] = {"defaults", "auto",   "noauto", "user",
					      "nouser",	  "users",  "owner",  "group",
					      "_netdev",  "nofail", "rw",     "ro"};
	size_t klen = strcspn(opt, "=");
	size_t i;

	/* x-systemd.*, x-mount.*, x-initrd.mount: userspace hints for systemd/libmount */
	if (!strncmp(opt, "x-", 2) || (klen == 7 && !strncmp(opt, "comment", 7)))
		return true;
	for (i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
		if (strlen(dropped[i]) == klen && !strncmp(opt, dropped[i], klen))
			return true;
	return false;
}

void mkbs_cmd_free(struct mkbs_cmd *cmd)
{
	if (!cmd)
		return;
	free(cmd->spec);
	free(cmd->dir);
	free(cmd->options);
	free(cmd->resource);
	free(cmd);
}

/* Appends one option to the kbsfs -o string, escaping what fuse_opt treats specially. */
static int append_opt(struct buf *b, const char *opt, size_t len)
{
	size_t i;
	int rc = KBS_OK;

	if (b->len && (rc = buf_append_byte(b, ',')) != KBS_OK)
		return rc;
	for (i = 0; i < len && rc == KBS_OK; i++) {
		if (opt[i] == ',' || opt[i] == '\\')
			rc = buf_append_byte(b, '\\');
		if (rc == KBS_OK)
			rc = buf_append_byte(b, (uint8_t)opt[i]);
	}
	return rc;
}

/*
 * Parses SPEC into an optional kbs_url authority and an optional resource. Returns
 * KBS_ERR_INVAL for a malformed SPEC.
 */
static int parse_spec(const char *spec, char *url, size_t urllen, char *res, size_t reslen,
		      char *err, size_t errlen)
{
	const char *p, *auth, *slash;
	size_t alen, nseg = 0;
	const char *s;

	url[0] = res[0] = 0;
	if (!strcmp(spec, "kbsfs") || !strcmp(spec, "none"))
		return KBS_OK;
	if (strncmp(spec, "kbs://", 6)) {
		kbs_set_err(
		    err, errlen,
		    "source '%s' is not a kbs:// URI (kbs:///repo/type/tag, kbs:///, kbsfs)", spec);
		return KBS_ERR_INVAL;
	}
	auth = spec + 6;
	slash = strchr(auth, '/');
	alen = slash ? (size_t)(slash - auth) : strlen(auth);
	if (alen) {
		for (s = auth; s < auth + alen; s++)
			if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			      (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' || *s == ':' ||
			      *s == '[' || *s == ']')) {
				kbs_set_err(err, errlen, "source '%s': invalid host", spec);
				return KBS_ERR_INVAL;
			}
		if (alen + 9 > urllen) {
			kbs_set_err(err, errlen, "source '%s': host too long", spec);
			return KBS_ERR_INVAL;
		}
		snprintf(url, urllen, "https://%.*s", (int)alen, auth);
	}
	if (!slash)
		return KBS_OK;
	p = slash + 1;
	/* count and check segments of the (possibly partial) resource path */
	while (*p) {
		size_t l = strcspn(p, "/");

		if (!kbsfs_seg_valid(p, l) || nseg == 3) {
			kbs_set_err(err, errlen,
				    "source '%s': the path must be at most repo/type/tag, each "
				    "segment [A-Za-z0-9_-][A-Za-z0-9_.-]*",
				    spec);
			return KBS_ERR_INVAL;
		}
		nseg++;
		p += l;
		if (*p == '/') {
			p++;
			if (!*p && nseg < 3)
				break; /* a trailing slash on a prefix is fine */
			if (!*p) {
				kbs_set_err(err, errlen, "source '%s': trailing '/'", spec);
				return KBS_ERR_INVAL;
			}
		}
	}
	if (nseg == 3) {
		if (strlen(slash + 1) >= reslen)
			return KBS_ERR_RANGE;
		snprintf(res, reslen, "%s", slash + 1);
	}
	return KBS_OK;
}

int mkbs_descriptor_options(const char *json, size_t len, char **opts, char *err, size_t errlen)
{
	json_t *d, *arr, *r, *v;
	json_error_t jerr;
	struct buf b, res;
	char path[KBSFS_PATH_MAX + 1];
	const char *mode = NULL;
	size_t i;
	int rc = KBS_ERR_INVAL;

	*opts = NULL;
	buf_init(&b, MKBS_OPTS_MAX);
	buf_init(&res, MKBS_OPTS_MAX);
	d = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!d || !json_is_object(d)) {
		kbs_set_err(err, errlen, "volume descriptor is not a JSON object");
		rc = KBS_ERR_PARSE;
		goto out;
	}
	v = json_object_get(d, "kbsfs_volume");
	if (!json_is_integer(v) || json_integer_value(v) != 1) {
		kbs_set_err(err, errlen, "volume descriptor: kbsfs_volume must be 1");
		goto out;
	}
	arr = json_object_get(d, "resources");
	if (!json_is_array(arr) || !json_array_size(arr)) {
		kbs_set_err(err, errlen, "volume descriptor: resources must be a non-empty array");
		goto out;
	}
	json_array_foreach(arr, i, r)
	{
		const char *uri = json_string_value(json_object_get(r, "uri"));
		const char *m = json_string_value(json_object_get(r, "mode"));

		if (!uri || kbsfs_path_normalize(uri, strlen(uri), path, sizeof(path)) != KBS_OK) {
			kbs_set_err(err, errlen,
				    "volume descriptor: resources[%zu].uri is not "
				    "kbs:///repo/type/tag",
				    i);
			goto out;
		}
		/* kbsfs has one mode for all files: the descriptor must agree */
		if (m && mode && strcmp(m, mode)) {
			kbs_set_err(err, errlen, "volume descriptor: resources differ in mode");
			goto out;
		}
		if (m)
			mode = m;
		if ((res.len && buf_append_byte(&res, ':') != KBS_OK) ||
		    buf_append_str(&res, path) != KBS_OK)
			goto toolong;
	}
	if (buf_append_byte(&res, 0) != KBS_OK)
		goto toolong;
	if (buf_printf(&b, "resources=%s", (const char *)res.p) != KBS_OK)
		goto toolong;
	if (mode) {
		if (strspn(mode, "01234567") != strlen(mode) || !mode[0] || strlen(mode) > 4) {
			kbs_set_err(err, errlen, "volume descriptor: mode must be octal");
			goto out;
		}
		if (buf_printf(&b, ",mode=%s", mode) != KBS_OK)
			goto toolong;
	}
	{
		static const char *const ints[][2] = {
		    {"uid", "uid"}, {"gid", "gid"}, {"refresh_seconds", "refresh"}};

		for (i = 0; i < 3; i++) {
			v = json_object_get(d, ints[i][0]);
			if (!v)
				continue;
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 0x7fffffff) {
				kbs_set_err(err, errlen, "volume descriptor: %s must be a number",
					    ints[i][0]);
				goto out;
			}
			if (buf_printf(&b, ",%s=%lld", ints[i][1],
				       (long long)json_integer_value(v)) != KBS_OK)
				goto toolong;
		}
	}
	if (buf_append_byte(&b, 0) != KBS_OK)
		goto toolong;
	*opts = buf_steal(&b, NULL);
	rc = *opts ? KBS_OK : KBS_ERR_NOMEM;
	goto out;
toolong:
	kbs_set_err(err, errlen, "volume descriptor too large");
	rc = KBS_ERR_RANGE;
out:
	json_decref(d);
	buf_release(&b);
	buf_release(&res);
	return rc;
}

/* SPEC naming a descriptor file (or the volume directory holding .kbsfs-volume.json) */
static int descriptor_from_spec(const char *spec, char **opts, char *err, size_t errlen)
{
	char path[4096];
	struct stat st;
	struct buf b;
	FILE *f;
	char chunk[4096];
	size_t n;
	int rc = KBS_OK;

	if (stat(spec, &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(path, sizeof(path), "%s/.kbsfs-volume.json", spec);
	else
		snprintf(path, sizeof(path), "%s", spec);
	f = fopen(path, "re");
	if (!f) {
		kbs_set_err(err, errlen, "cannot read volume descriptor %s", path);
		return KBS_ERR_INVAL;
	}
	buf_init(&b, 1u << 20);
	while (rc == KBS_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = buf_append(&b, chunk, n);
	fclose(f);
	if (rc == KBS_OK)
		rc = mkbs_descriptor_options((const char *)b.p, b.len, opts, err, errlen);
	else
		kbs_set_err(err, errlen, "volume descriptor %s too large", path);
	buf_release(&b);
	return rc == KBS_OK ? KBS_OK : KBS_ERR_INVAL;
}

int mkbs_process(struct mkbs_cmd *cmd, const char *optstr, char *err, size_t errlen)
{
	struct buf out;
	char url[300], res[KBSFS_PATH_MAX + 1], *tok = NULL;
	const char *p = optstr ? optstr : "";
	bool have_url = false, have_config = false, have_res = false;
	size_t tcap = strlen(p) + 1, tl;
	int rc;

	buf_init(&out, MKBS_OPTS_MAX);
	if (cmd->spec[0] == '/') {
		/* the descriptor's options come first, so explicit -o options win */
		char *dopts = NULL;

		url[0] = res[0] = 0;
		rc = descriptor_from_spec(cmd->spec, &dopts, err, errlen);
		if (rc == KBS_OK)
			rc = buf_append_str(&out, dopts);
		free(dopts);
		have_res = true; /* resources= already given by the descriptor */
	} else {
		rc = parse_spec(cmd->spec, url, sizeof(url), res, sizeof(res), err, errlen);
	}
	if (rc != KBS_OK)
		goto out;
	rc = KBS_ERR_NOMEM;
	tok = malloc(tcap);
	if (!tok)
		goto out;
	/* split on commas outside double quotes (libmount lets fstab quote a value) */
	while (*p) {
		bool q = false;

		tl = 0;
		while (*p && (q || *p != ',')) {
			if (*p == '"')
				q = !q;
			else
				tok[tl++] = *p;
			p++;
		}
		if (*p == ',')
			p++;
		if (q) {
			kbs_set_err(err, errlen, "unbalanced '\"' in the mount options");
			rc = KBS_ERR_INVAL;
			goto out;
		}
		tok[tl] = 0;
		if (!tl || mkbs_option_dropped(tok))
			continue;
		if (!strncmp(tok, "kbs_url=", 8))
			have_url = true;
		if (!strncmp(tok, "config=", 7))
			have_config = true;
		if (res[0] && !strncmp(tok, "resources=", 10)) {
			/* the resource named by SPEC joins the declared list */
			char *joined;
			size_t jl = tl + 1 + strlen(res) + 1;

			rc = KBS_ERR_NOMEM;
			joined = malloc(jl);
			if (!joined)
				goto out;
			snprintf(joined, jl, "%s%s%s", tok, tl > 10 ? ":" : "", res);
			rc = append_opt(&out, joined, strlen(joined));
			free(joined);
			have_res = true;
		} else {
			rc = append_opt(&out, tok, tl);
		}
		if (rc != KBS_OK)
			goto out;
	}
	if (res[0] && !have_res) {
		char r[KBSFS_PATH_MAX + 16];

		snprintf(r, sizeof(r), "resources=%s", res);
		if ((rc = append_opt(&out, r, strlen(r))) != KBS_OK)
			goto out;
	}
	if (url[0] && !have_url && !have_config) {
		char u[sizeof(url) + 8];

		snprintf(u, sizeof(u), "kbs_url=%s", url);
		if ((rc = append_opt(&out, u, strlen(u))) != KBS_OK)
			goto out;
	}
	/* kbsfs is read-only whatever fstab says */
	if ((rc = append_opt(&out, "ro", 2)) != KBS_OK)
		goto out;
	if ((rc = buf_append_byte(&out, 0)) != KBS_OK)
		goto out;
	free(cmd->options);
	cmd->options = buf_steal(&out, NULL);
	free(cmd->resource);
	cmd->resource = res[0] ? strdup(res) : NULL;
	rc = (!cmd->options || (res[0] && !cmd->resource)) ? KBS_ERR_NOMEM : KBS_OK;
out:
	if (rc == KBS_ERR_RANGE)
		kbs_set_err(err, errlen, "mount options too long");
	else if (rc == KBS_ERR_NOMEM)
		kbs_set_err(err, errlen, "out of memory");
	free(tok);
	buf_release(&out);
	return rc;
}

int mkbs_parse(int argc, char *const argv[], struct mkbs_cmd **out, char *err, size_t errlen)
{
	struct mkbs_cmd *cmd;
	struct buf opts;
	int i, rc = KBS_ERR_NOMEM;
	const char *pos[2] = {NULL, NULL};
	int npos = 0;

	*out = NULL;
	buf_init(&opts, MKBS_OPTS_MAX);
	cmd = calloc(1, sizeof(*cmd));
	if (!cmd)
		goto out;
	rc = KBS_ERR_INVAL;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help")) {
			cmd->help = true;
			continue;
		}
		if (!strcmp(a, "--version")) {
			cmd->version = true;
			continue;
		}
		if (a[0] != '-' || !a[1]) {
			if (npos == 2) {
				kbs_set_err(err, errlen, "unexpected argument '%s'", a);
				goto out;
			}
			pos[npos++] = a;
			continue;
		}
		for (a++; *a; a++) {
			const char *val = NULL;

			switch (*a) {
			case 's':
				cmd->sloppy = true;
				continue;
			case 'f':
				cmd->fake = true;
				continue;
			case 'n':
				cmd->no_mtab = true;
				continue;
			case 'v':
				cmd->verbose = true;
				continue;
			case 'h':
				cmd->help = true;
				continue;
			case 'V':
				cmd->version = true;
				continue;
			case 'o':
			case 't':
			case 'N':
				val = a[1] ? a + 1 : (i + 1 < argc ? argv[++i] : NULL);
				if (!val) {
					kbs_set_err(err, errlen, "option -%c needs a value", *a);
					goto out;
				}
				break;
			default:
				kbs_set_err(err, errlen, "unknown flag -%c", *a);
				goto out;
			}
			if (*a == 'o') {
				if (opts.len && buf_append_byte(&opts, ',') != KBS_OK)
					goto nomem;
				if (buf_append_str(&opts, val) != KBS_OK)
					goto nomem;
			} else if (*a == 't') {
				/* mount(8) passes "kbsfs" or "fuse.kbsfs"; anything else is a
				 * mix-up */
				if (strcmp(val, "kbsfs") && strcmp(val, "fuse.kbsfs")) {
					kbs_set_err(err, errlen, "type '%s' is not kbsfs", val);
					goto out;
				}
			} else {
				kbs_set_err(err, errlen,
					    "-N (mount namespace) is not supported; use nsenter");
				goto out;
			}
			break; /* the rest of this argument was the value */
		}
	}
	if (cmd->help || cmd->version) {
		*out = cmd;
		cmd = NULL;
		rc = KBS_OK;
		goto out;
	}
	if (npos != 2) {
		kbs_set_err(err, errlen,
			    "usage: mount.kbsfs SOURCE DIRECTORY [-sfnv] [-o OPTIONS]");
		goto out;
	}
	if (buf_append_byte(&opts, 0) != KBS_OK)
		goto nomem;
	cmd->spec = strdup(pos[0]);
	cmd->dir = strdup(pos[1]);
	if (!cmd->spec || !cmd->dir)
		goto nomem;
	rc = mkbs_process(cmd, (const char *)opts.p, err, errlen);
	if (rc != KBS_OK)
		goto out;
	*out = cmd;
	cmd = NULL;
	goto out;
nomem:
	rc = KBS_ERR_NOMEM;
	kbs_set_err(err, errlen, "out of memory or options too long");
out:
	buf_release(&opts);
	mkbs_cmd_free(cmd);
	return rc;
}
