// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the kbsfs configuration parsers: each input line is one mount option
 * ("key=value"), and the whole input is also tried as a JSON configuration document
 * (what a TOML file becomes) and as a resource reference.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "fs/config.h"
#include "fs/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kbsfs_config *c = NULL;
	char *text, *line, *save = NULL, err[256];
	char path[KBSFS_PATH_MAX + 1];
	json_error_t jerr;
	json_t *j;

	if (size > 65536)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	if (kbsfs_path_normalize(text, size, path, sizeof(path)) == KBS_OK &&
	    !kbsfs_path_valid(path))
		abort();
	if (kbsfs_config_new(&c) != KBS_OK) {
		free(text);
		return 0;
	}
	j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
	if (j) {
		(void)kbsfs_config_apply_json(c, j, err, sizeof(err));
		json_decref(j);
	}
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		(void)kbsfs_config_set_opt(c, line, err, sizeof(err));
	(void)kbsfs_config_finish(c, err, sizeof(err));
	for (size_t i = 0; i < c->nresources; i++)
		if (!kbsfs_path_valid(c->resources[i]))
			abort();
	if (c->mode > 0777)
		abort();
	kbsfs_config_free(c);
	free(text);
	return 0;
}
