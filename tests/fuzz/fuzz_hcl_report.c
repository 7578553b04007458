// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the Azure HCL report parser, the HCLAkPub extraction from its runtime claims and
 * the user-data check; then the az-snp-vtpm verifier on v1 evidence carrying the input as its
 * HCL report. Invariants: no read past the input; the variable data lies inside the input;
 * evidence with an unsigned quote never verifies.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "server/as/az_vtpm.h"
#include "server/as/verifier_az.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct snp_verifier *snp;
	struct hcl_report h;
	EVP_PKEY *ak = NULL;
	char why[256], *b64 = NULL;

	if (hcl_report_parse(data, size, &h, why, sizeof(why)) == KBS_OK) {
		if (h.var_data < data || h.var_data + h.var_len > data + size)
			abort();
		if (hcl_ak_pub(&h, &ak, why, sizeof(why)) == KBS_OK && !ak)
			abort();
		EVP_PKEY_free(ak);
		(void)az_user_data_check(&h, (const uint8_t *)"challenge", 9, why, sizeof(why));
	}
	if (!snp && snp_verifier_new(&(struct snp_verifier_config){0}, &snp, why, sizeof(why)))
		abort();
	if (size < 8192 && b64_encode_alloc(data, size, B64_URL, &b64) == KBS_OK) {
		json_t *pcrs = json_array(), *ev;
		struct as_verify_input in = {.report_data = (const uint8_t *)"challenge",
					     .report_data_len = 9};
		json_t *c = NULL;

		for (int i = 0; pcrs && i < 24; i++)
			json_array_append_new(pcrs, json_string("00000000000000000000000000000000"
								"00000000000000000000000000000000"));
		ev = json_pack("{s:i,s:{s:s,s:s,s:o},s:s,s:s}", "version", 1, "tpm_quote",
			       "signature", "00", "message", "ff544347", "pcrs", pcrs,
			       "hcl_report", b64, "vcek", "AAAA");
		in.evidence = ev;
		if (ev && az_snp_verify(snp, &in, &c, why, sizeof(why)) == KBS_OK)
			abort();
		json_decref(c);
		json_decref(ev);
	}
	free(b64);
	return 0;
}
