// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzzes the TPM quote parsers (TPMS_ATTEST, TPMT_SIGNATURE) and the TPM verifier on evidence
 * built from the input. Invariants: no read past the input; a parsed TPMS_ATTEST keeps its
 * pointers inside the input and its selection within bounds; a random quote never verifies.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/err.h"
#include "server/as/tpm_quote.h"
#include "server/as/verifier_tpm.h"

static int inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
	return !n || (p >= data && p + n <= data + size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tpm_verifier *v;
	struct tpm_attest a;
	struct tpm_signature s;
	char why[256], *m = NULL;
	unsigned idx[32];

	if (tpm_attest_parse(data, size, &a, why, sizeof(why)) == KBS_OK) {
		if (!inside(a.extra, a.extra_len, data, size) ||
		    !inside(a.signer, a.signer_len, data, size) ||
		    !inside(a.pcr_digest, a.pcr_digest_len, data, size) || a.nbanks == 0 ||
		    a.nbanks > TPM_MAX_BANKS)
			abort();
		for (uint32_t i = 0; i < a.nbanks; i++)
			if (tpm_bank_pcrs(&a.banks[i], idx) > 32)
				abort();
	}
	if (tpm_signature_parse(data, size, &s, why, sizeof(why)) == KBS_OK &&
	    (!inside(s.sig, s.sig_len, data, size) || !inside(s.s, s.s_len, data, size)))
		abort();
	if (!v) {
		struct tpm_verifier_config cfg = {.allow_unverified_ak = true};

		if (tpm_verifier_new(&cfg, &v, why, sizeof(why)) != KBS_OK)
			abort();
	}
	if (size < 4096 && b64_encode_alloc(data, size, B64_STD, &m) == KBS_OK) {
		/* the input as the quote message, signed by nothing valid */
		json_t *ev = json_pack("{s:s,s:{s:s,s:s,s:[]}}", "ak_public",
				       "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=",
				       "tpm_quote", "signature", m, "message", m, "pcrs");
		struct as_verify_input in = {.evidence = ev};
		json_t *c = NULL;

		if (ev && tpm_verifier_verify(v, &in, &c, why, sizeof(why)) == KBS_OK)
			abort();
		json_decref(c);
		json_decref(ev);
	}
	free(m);
	return 0;
}
