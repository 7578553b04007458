/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_COMMON_DYNLIB_H
#define KBS_COMMON_DYNLIB_H

#include <stddef.h>

/*
 * Optional libraries loaded with dlopen() only when the configuration uses them, so that a
 * daemon whose configuration does not (most kbs set-ups: no PostgreSQL, no gRPC services, no
 * SWID reference values) neither maps them nor their dependencies (libgrpc + libstdc++ + abseil,
 * libpq + GnuTLS + Kerberos + LDAP, libxml2 + ICU: ~7 MB resident in every kbs when linked).
 *
 * A user describes the functions it needs in a table of struct dynlib_sym (library index,
 * symbol name, offset of the function pointer in its own API struct; every member declared
 * with DYNLIB_FN(name) has the exact type of the function it replaces, so the compiler still
 * checks every call against the library's header) and calls dynlib_load() once per context.
 * Libraries are opened RTLD_NOW | RTLD_LOCAL and, once every symbol resolved, marked
 * RTLD_NODELETE: gRPC, libpq and libxml2 keep process-wide state (and gRPC threads) that must
 * outlive their last user, so they are never unmapped again; a failed load unmaps what it
 * opened. dlopen() reference-counts, so a second context costs symbol lookups only.
 */

#define DYNLIB_FN(name) __typeof__(&name) name

/* One function: from lib (index into the libs array), stored at offset off of the API struct. */
struct dynlib_sym {
	int lib;
	const char *name;
	size_t off;
};

#define DYNLIB_SYM(type, lib, name) {lib, #name, offsetof(type, name)}

/*
 * Opens nlibs libraries (sonames in libs; each handle stored in handles[i]) and stores every
 * function of syms (nsyms entries) into api. what names the feature for messages
 * ("PostgreSQL backend"), hint what to install ("Debian: libpq5"). On failure returns
 * KBS_ERR_UNAVAILABLE, logs, and writes into err (if not NULL) a message naming the library or
 * symbol that is missing, e.g. "PostgreSQL backend: cannot load libpq.so.5 (libpq.so.5: cannot
 * open shared object file: No such file or directory); install Debian: libpq5"; nothing stays
 * loaded.
 */
int dynlib_load(const char *what, const char *hint, const char *const *libs, int nlibs,
		const struct dynlib_sym *syms, size_t nsyms, void **handles, void *api, char *err,
		size_t errlen);

/* Drops the references dynlib_load() took (handles[i] may be NULL); the code stays mapped. */
void dynlib_unload(void **handles, int nlibs);

#endif
