// SPDX-License-Identifier: Apache-2.0
#include "fs/path.h"
#include "common/err.h"

#include <string.h>

static bool seg_char(char c, bool first)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	if (c == '_' || c == '-')
		return true;
	return c == '.' && !first;
}

bool kbsfs_seg_valid(const char *s, size_t len)
{
	size_t i;

	if (!s || len == 0 || len > KBSFS_SEG_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!seg_char(s[i], i == 0))
			return false;
	return true;
}

bool kbsfs_path_valid(const char *path)
{
	const char *p = path, *slash;
	int nseg;

	if (!path)
		return false;
	for (nseg = 0; nseg < 3; nseg++) {
		slash = strchr(p, '/');
		if (nseg < 2) {
			if (!slash || !kbsfs_seg_valid(p, (size_t)(slash - p)))
				return false;
			p = slash + 1;
		} else if (slash || !kbsfs_seg_valid(p, strlen(p))) {
			return false;
		}
	}
	return true;
}

int kbsfs_path_normalize(const char *in, size_t len, char *out, size_t outlen)
{
	static const char *const prefixes[] = {"kbs:///", "kbs+resource:///"};
	size_t i;

	if (!in || !out || outlen == 0)
		return KBS_ERR_INVAL;
	if (memchr(in, 0, len))
		return KBS_ERR_INVAL;
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t pl = strlen(prefixes[i]);

		if (len >= pl && memcmp(in, prefixes[i], pl) == 0) {
			in += pl;
			len -= pl;
			break;
		}
	}
	if (i == sizeof(prefixes) / sizeof(prefixes[0]) && len > 0 && in[0] == '/') {
		in++;
		len--;
	}
	if (len >= outlen || len > KBSFS_PATH_MAX)
		return KBS_ERR_RANGE;
	memcpy(out, in, len);
	out[len] = 0;
	if (!kbsfs_path_valid(out)) {
		out[0] = 0;
		return KBS_ERR_INVAL;
	}
	return KBS_OK;
}
