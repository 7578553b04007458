// SPDX-License-Identifier: Apache-2.0
/*
 * tpm2-tss loaded on demand (see tss.h). Each TPM context owns its own handles: dlopen()
 * reference-counts them, so there is no process-wide state and a second context costs a
 * lookup, not a second copy of the libraries.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attester/tss.h"
#include "common/err.h"
#include "common/log.h"

const char *const tss_default_libs[TSS_LIB_COUNT] = {
	"libtss2-tctildr.so.0",
	"libtss2-esys.so.0",
	"libtss2-mu.so.0",
	"libtss2-rc.so.0",
};

enum { LIB_TCTILDR, LIB_ESYS, LIB_MU, LIB_RC };

/* Where each member of struct tss_api comes from. */
struct tss_sym {
	int lib;
	const char *name;
	size_t off;
};

#define SYM(l, n) {l, #n, offsetof(struct tss_api, n)}
static const struct tss_sym tss_syms[] = {
	SYM(LIB_TCTILDR, Tss2_TctiLdr_Initialize),
	SYM(LIB_TCTILDR, Tss2_TctiLdr_Finalize),
	SYM(LIB_ESYS, Esys_Initialize),
	SYM(LIB_ESYS, Esys_Finalize),
	SYM(LIB_ESYS, Esys_Free),
	SYM(LIB_ESYS, Esys_TR_FromTPMPublic),
	SYM(LIB_ESYS, Esys_TR_Close),
	SYM(LIB_ESYS, Esys_CreatePrimary),
	SYM(LIB_ESYS, Esys_EvictControl),
	SYM(LIB_ESYS, Esys_FlushContext),
	SYM(LIB_ESYS, Esys_ReadPublic),
	SYM(LIB_ESYS, Esys_PCR_Read),
	SYM(LIB_ESYS, Esys_PCR_Extend),
	SYM(LIB_ESYS, Esys_Quote),
	SYM(LIB_ESYS, Esys_StartAuthSession),
	SYM(LIB_ESYS, Esys_TRSess_SetAttributes),
	SYM(LIB_ESYS, Esys_NV_ReadPublic),
	SYM(LIB_ESYS, Esys_NV_Read),
	SYM(LIB_ESYS, Esys_NV_DefineSpace),
	SYM(LIB_ESYS, Esys_NV_UndefineSpace),
	SYM(LIB_ESYS, Esys_NV_Write),
	SYM(LIB_MU, Tss2_MU_TPMT_SIGNATURE_Marshal),
	SYM(LIB_MU, Tss2_MU_TPMS_ATTEST_Unmarshal),
	SYM(LIB_RC, Tss2_RC_Decode),
};
#undef SYM

int tss_api_load(const char *const *libs, struct tss_api **out, char *err, size_t errlen)
{
	struct tss_api *api = NULL;
	char msg[512];
	int rc = KBS_ERR_UNAVAILABLE;

	if (!out)
		return KBS_ERR_INVAL;
	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!libs)
		libs = tss_default_libs;
	api = calloc(1, sizeof(*api));
	if (!api)
		return KBS_ERR_NOMEM;
	for (int i = 0; i < TSS_LIB_COUNT; i++) {
		api->lib[i] = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL);
		if (!api->lib[i]) {
			const char *why = dlerror();

			(void)snprintf(msg, sizeof(msg),
				       "cannot load %s (%s); the TPM attester needs the tpm2-tss "
				       "runtime libraries (Debian: libtss2-esys-3.0.2-0, "
				       "libtss2-tctildr0, libtss2-mu0, libtss2-rc0)",
				       libs[i], why ? why : "dlopen failed");
			goto out;
		}
	}
	for (size_t i = 0; i < sizeof(tss_syms) / sizeof(tss_syms[0]); i++) {
		const struct tss_sym *s = &tss_syms[i];
		void *fn;

		(void)dlerror();
		fn = dlsym(api->lib[s->lib], s->name);
		if (!fn) {
			(void)snprintf(msg, sizeof(msg), "%s has no symbol %s (tpm2-tss too old?)",
				       libs[s->lib], s->name);
			goto out;
		}
		/* POSIX guarantees that a function address from dlsym fits a void *. */
		memcpy((char *)api + s->off, &fn, sizeof(fn));
	}
	*out = api;
	api = NULL;
	rc = KBS_OK;
out:
	if (rc) {
		log_msg(LOG_LVL_ERROR, "tpm: %s", msg);
		if (err && errlen)
			(void)snprintf(err, errlen, "%s", msg);
	}
	tss_api_free(api);
	return rc;
}

void tss_api_free(struct tss_api *api)
{
	if (!api)
		return;
	for (int i = TSS_LIB_COUNT - 1; i >= 0; i--)
		if (api->lib[i])
			dlclose(api->lib[i]);
	free(api);
}
