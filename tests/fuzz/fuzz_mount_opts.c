// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes mount.kbsfs argument handling: the first line is SOURCE, the rest the -o string
 * (what fstab and mount(8) hand the helper). Checks that every accepted result keeps the
 * invariants kbsfs relies on: ends in ",ro"/"ro", declared resource is a valid path. The
 * whole input is also parsed as a .kbsfs-volume.json descriptor.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "fs/path.h"
#include "mount-helpers/mount_opts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mkbs_cmd c;
	char *text, *nl, err[256], *dopts = NULL;
	size_t l;

	if (size > 65536)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	/* the whole input as a guest-mode volume descriptor */
	if (mkbs_descriptor_options(text, size, &dopts, err, sizeof(err)) == KBS_OK &&
	    strncmp(dopts, "resources=", 10))
		abort();
	free(dopts);
	nl = strchr(text, '\n');
	if (nl)
		*nl = 0;
	memset(&c, 0, sizeof(c));
	c.spec = text[0] == '/' ? (char *)"kbs:///" : text; /* no file reads while fuzzing */
	c.dir = (char *)"/m";
	if (mkbs_process(&c, nl ? nl + 1 : "", err, sizeof(err)) == KBS_OK) {
		l = strlen(c.options);
		if (l < 2 || strcmp(c.options + l - 2, "ro"))
			abort();
		if (c.resource && !kbsfs_path_valid(c.resource))
			abort();
	}
	free(c.options);
	free(c.resource);
	free(text);
	return 0;
}
