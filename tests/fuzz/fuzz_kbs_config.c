// SPDX-License-Identifier: Apache-2.0
/* Fuzzes the KBS configuration reader (TOML + Trustee's schema, current and legacy). */
#include <stdint.h>
#include <stdlib.h>

#include "common/err.h"
#include "common/log.h"
#include "server/kbs/kbs_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kbs_config c;
	char err[600];
	static int quiet;

	if (!quiet) {
		log_set_level(LOG_LVL_ERROR);
		quiet = 1;
	}
	kbs_config_init(&c);
	(void)kbs_config_parse((const char *)data, size, "fuzz.toml", &c, err, sizeof(err));
	kbs_config_release(&c);
	return 0;
}
