// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes kbsfs-csi's parsers of kubelet/pod input: the input's first part is mountinfo text
 * (looked up for "/t"), and after a NUL byte come "key=value" lines used as volume attributes.
 * Accepted volumes must produce kbsfs options without unescaped option separators in values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "k8s/csi/csi_node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct csi_node_cfg cfg = {.node_id = "n",
						.state_dir = "/nonexistent",
						.kbsfs_bin = "/bin/false",
						.default_kbs_url = "https://kbs",
						.allow_user_kbs_url = true,
						.allow_sample = true};
	struct csi_attr attrs[32];
	struct csi_publish_req req;
	struct csi_volume vol;
	struct csi_result res;
	char *text, *attrs_text, *line, *save = NULL, fs[64], src[64];
	size_t n = 0, l;

	if (size > 65536)
		return 0;
	text = malloc(size + 2);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	text[size + 1] = 0;
	(void)csi_mountinfo_find(text, "/t", fs, sizeof(fs), src, sizeof(src));
	l = strlen(text);
	attrs_text = l < size ? text + l + 1 : text + size;
	for (line = strtok_r(attrs_text, "\n", &save); line && n < 32;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (!eq)
			continue;
		*eq = 0;
		attrs[n].key = line;
		attrs[n++].value = eq + 1;
	}
	memset(&req, 0, sizeof(req));
	req.volume_id = "v";
	req.target_path = "/t";
	req.has_capability = true;
	req.access_type = CSI_ACCESS_MOUNT;
	req.readonly = true;
	req.ctx = attrs;
	req.nctx = n;
	if (csi_volume_parse(&cfg, &req, &vol, &res) == CSI_OK) {
		if (strncmp(vol.options, "kbs_url=", 8) || strlen(vol.digest) != 64)
			abort();
	}
	free(text);
	return 0;
}
