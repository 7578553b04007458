// SPDX-License-Identifier: Apache-2.0
#include "server/as/tdx_ccel.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "server/as/tcg_eventlog.h"
#include "server/as/tpm_quote.h"

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		snprintf(why, whylen, __VA_ARGS__);                                                \
		return KBS_ERR_PARSE;                                                              \
	} while (0)

static int extend(uint8_t mr[48], const uint8_t *digest)
{
	uint8_t buf[96];
	unsigned int n = 0;

	memcpy(buf, mr, 48);
	memcpy(buf + 48, digest, 48);
	return EVP_Digest(buf, sizeof(buf), mr, &n, EVP_sha384(), NULL) == 1 ? KBS_OK
									     : KBS_ERR_CRYPTO;
}

int tdx_ccel_replay(const uint8_t *log, size_t len, uint8_t rtmr[4][48], size_t *nevents, char *why,
		    size_t whylen)
{
	struct tcg_log l;
	struct tcg_event ev;
	int rc;

	memset(rtmr, 0, 4 * 48);
	*nevents = 0;
	if ((rc = tcg_log_begin(&l, log, len, "tdx event log", why, whylen)) != KBS_OK)
		return rc;
	if (tcg_log_digest_size(&l, TPM_ALG_SHA384) != 48)
		FAIL("tdx event log: no SHA-384 digests");
	while ((rc = tcg_log_next(&l, TPM_ALG_SHA384, 48, &ev, why, whylen)) == KBS_OK) {
		if (++*nevents > TDX_CCEL_MAX_EVENTS)
			FAIL("tdx event log: more than %d events", TDX_CCEL_MAX_EVENTS);
		/* MR index 1..4 = RTMR0..3; 0 (MRTD) and higher indexes touch no RTMR */
		if (ev.type == TCG_EV_NO_ACTION || ev.index < 1 || ev.index > 4)
			continue;
		if (!ev.digest)
			FAIL("tdx event log: event at offset %zu has no SHA-384 digest", ev.off);
		if (extend(rtmr[ev.index - 1], ev.digest) != KBS_OK)
			return KBS_ERR_CRYPTO;
	}
	return rc == KBS_ERR_NOTFOUND ? KBS_OK : rc;
}
