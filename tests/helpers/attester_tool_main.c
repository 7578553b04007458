// SPDX-License-Identifier: Apache-2.0
/*
 * attester-tool: test driver for the attester library (integration tests only).
 *   attester-tool evidence <tee> <hex report data>   evidence JSON on stdout
 *   attester-tool pcr-read <n>                        TPM PCR n (SHA-256) as hex
 *   attester-tool pcr-extend <n> <hex32>              extend TPM PCR n
 * The TPM is configured from the environment (AA_TPM_TCTI, AA_TPM_AK_HANDLE, ...).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attester/attester.h"
#include "attester/tpm.h"
#include "common/b64.h"
#include "common/err.h"
#include "common/log.h"

static int hexarg(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	return hex_decode(s, strlen(s), out, cap, len);
}

int main(int argc, char **argv)
{
	uint8_t rd[4096], pcr[32];
	size_t rdlen = 0;
	int rc = KBS_ERR_INVAL;

	log_setup("attester-tool", LOG_LVL_WARN, LOG_TARGET_STDERR);
	if (argc == 4 && strcmp(argv[1], "evidence") == 0) {
		enum attester_tee tee;
		json_t *ev = NULL;
		char *s;

		if (attester_tee_from_name(argv[2], &tee) || hexarg(argv[3], rd, sizeof(rd), &rdlen))
			goto usage;
		rc = attester_get_evidence(tee, rd, rdlen, &ev);
		if (rc)
			goto fail;
		s = json_dumps(ev, JSON_COMPACT);
		json_decref(ev);
		if (!s)
			return 1;
		puts(s);
		free(s);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "detect") == 0) {
		puts(attester_tee_name(attester_detect()));
		return 0;
	}
	if ((argc == 3 && strcmp(argv[1], "pcr-read") == 0) ||
	    (argc == 4 && strcmp(argv[1], "pcr-extend") == 0)) {
		struct tpm_attester_cfg cfg;
		struct tpm_ctx *c = NULL;
		char hex[65];

		tpm_attester_cfg_from_env(&cfg);
		rc = tpm_open(&cfg, &c);
		if (!rc && argc == 4) {
			if (hexarg(argv[3], pcr, sizeof(pcr), &rdlen) || rdlen != 32)
				rc = KBS_ERR_INVAL;
			else
				rc = tpm_pcr_extend(c, (unsigned)atoi(argv[2]), pcr);
		} else if (!rc) {
			rc = tpm_pcr_read(c, (unsigned)atoi(argv[2]), pcr);
			if (!rc) {
				hex_encode(pcr, 32, hex, sizeof(hex));
				puts(hex);
			}
		}
		tpm_close(c);
		if (rc)
			goto fail;
		return 0;
	}
usage:
	fprintf(stderr, "usage: attester-tool evidence <tee> <hex> | detect | pcr-read <n> | "
			"pcr-extend <n> <hex32>\n");
	return 2;
fail:
	fprintf(stderr, "attester-tool: %s\n", kbs_strerror(rc));
	return 1;
}
