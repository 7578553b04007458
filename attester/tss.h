/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_ATTESTER_TSS_H
#define KBS_ATTESTER_TSS_H

#include <stddef.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

/*
 * The tpm2-tss functions the TPM attester calls, resolved with dlopen() when a TPM context is
 * opened (tee = tpm, az-snp-vtpm, az-tdx-vtpm), so that processes on other TEEs (kbsfs on
 * SNP/TDX/sample) neither need the libraries installed nor carry their pages (~0.4 MB
 * resident). The headers are still used at build time for types and prototypes: every
 * member has the exact type of the function it replaces.
 */

#define TSS_LIB_COUNT 4

/* Sonames loaded, in this order (esys pulls in libtss2-sys and libtss2-mu itself). */
extern const char *const tss_default_libs[TSS_LIB_COUNT];

#define TSS_FN(name) __typeof__(&name) name

struct tss_api {
	void *lib[TSS_LIB_COUNT];
	/* libtss2-tctildr */
	TSS_FN(Tss2_TctiLdr_Initialize);
	TSS_FN(Tss2_TctiLdr_Finalize);
	/* libtss2-esys */
	TSS_FN(Esys_Initialize);
	TSS_FN(Esys_Finalize);
	TSS_FN(Esys_Free);
	TSS_FN(Esys_TR_FromTPMPublic);
	TSS_FN(Esys_TR_Close);
	TSS_FN(Esys_CreatePrimary);
	TSS_FN(Esys_EvictControl);
	TSS_FN(Esys_FlushContext);
	TSS_FN(Esys_ReadPublic);
	TSS_FN(Esys_PCR_Read);
	TSS_FN(Esys_PCR_Extend);
	TSS_FN(Esys_Quote);
	TSS_FN(Esys_StartAuthSession);
	TSS_FN(Esys_TRSess_SetAttributes);
	TSS_FN(Esys_NV_ReadPublic);
	TSS_FN(Esys_NV_Read);
	TSS_FN(Esys_NV_DefineSpace);
	TSS_FN(Esys_NV_UndefineSpace);
	TSS_FN(Esys_NV_Write);
	/* libtss2-mu */
	TSS_FN(Tss2_MU_TPMT_SIGNATURE_Marshal);
	TSS_FN(Tss2_MU_TPMS_ATTEST_Unmarshal);
	/* libtss2-rc */
	TSS_FN(Tss2_RC_Decode);
};

#undef TSS_FN

/*
 * Loads the libraries named in libs (NULL = tss_default_libs; order: tctildr, esys, mu, rc)
 * and resolves every function. On failure logs and, if err is not NULL, writes into err a
 * message naming the library or symbol that is missing ("libtss2-esys.so.0: cannot open
 * shared object file ..."), and returns KBS_ERR_UNAVAILABLE; nothing stays loaded.
 */
int tss_api_load(const char *const *libs, struct tss_api **out, char *err, size_t errlen);

/* Unloads the libraries (dlclose) and frees api; NULL is a no-op. */
void tss_api_free(struct tss_api *api);

#endif
