// SPDX-License-Identifier: Apache-2.0
/*
 * Optional libraries loaded on demand (see dynlib.h). No process-wide state: each context keeps
 * its own handles and function table.
 */
#include "common/dynlib.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"

int dynlib_load(const char *what, const char *hint, const char *const *libs, int nlibs,
		const struct dynlib_sym *syms, size_t nsyms, void **handles, void *api, char *err,
		size_t errlen)
{
	char msg[512];
	int rc = KBS_ERR_UNAVAILABLE;

	if (err && errlen)
		err[0] = '\0';
	if (!what || !libs || nlibs <= 0 || !handles || !api || (nsyms && !syms))
		return KBS_ERR_INVAL;
	for (int i = 0; i < nlibs; i++)
		handles[i] = NULL;
	for (int i = 0; i < nlibs; i++) {
		handles[i] = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL);
		if (!handles[i]) {
			const char *why = dlerror();

			(void)snprintf(msg, sizeof(msg), "%s: cannot load %s (%s)%s%s", what,
				       libs[i], why ? why : "dlopen failed",
				       hint ? "; install " : "", hint ? hint : "");
			goto out;
		}
	}
	for (size_t i = 0; i < nsyms; i++) {
		const struct dynlib_sym *s = &syms[i];
		void *fn;

		if (s->lib < 0 || s->lib >= nlibs) {
			rc = KBS_ERR_INTERNAL;
			(void)snprintf(msg, sizeof(msg), "%s: bad library index for %s", what,
				       s->name);
			goto out;
		}
		(void)dlerror();
		fn = dlsym(handles[s->lib], s->name);
		if (!fn) {
			(void)snprintf(msg, sizeof(msg), "%s: %s has no symbol %s (library too old?)",
				       what, libs[s->lib], s->name);
			goto out;
		}
		/* POSIX guarantees that a function address from dlsym fits a void *. */
		memcpy((char *)api + s->off, &fn, sizeof(fn));
	}
	/* complete: from now on never unmapped (see dynlib.h); a failed load leaves nothing */
	for (int i = 0; i < nlibs; i++) {
		void *h = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD | RTLD_NODELETE);

		if (h)
			dlclose(h);
	}
	rc = KBS_OK;
out:
	if (rc) {
		log_msg(LOG_LVL_ERROR, "%s", msg);
		if (err && errlen)
			(void)snprintf(err, errlen, "%s", msg);
		dynlib_unload(handles, nlibs);
	}
	return rc;
}

void dynlib_unload(void **handles, int nlibs)
{
	if (!handles)
		return;
	for (int i = nlibs - 1; i >= 0; i--) {
		if (handles[i])
			dlclose(handles[i]);
		handles[i] = NULL;
	}
}
