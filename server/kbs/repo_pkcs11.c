// SPDX-License-Identifier: Apache-2.0
/* PKCS#11 resource backend: token objects labelled "<repo>/<type>/<tag>" (Trustee's pkcs11). */
#include "server/kbs/repo_pkcs11.h"

#include <dlfcn.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "common/err.h"
#include "common/log.h"

#define P11_MAX_SLOTS 64
#define P11_MAX_MATCH 16

struct repo_p11 {
	struct repo base;
	pthread_mutex_t mu;
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	bool initialized;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE sess; /* CK_INVALID_HANDLE when closed */
	char *pin;              /* kept (wiped on free) to log in again after a device reset */
	bool data_objects;
	char module[256];
};

static int key_of(const char *const seg[3], char *key, size_t len)
{
	int n = snprintf(key, len, "%s/%s/%s", seg[0], seg[1], seg[2]);
	return n < 0 || (size_t)n >= len ? KBS_ERR_RANGE : KBS_OK;
}

/* Return codes after which a new session may help (token reset, session lost). */
static bool session_lost(CK_RV rv)
{
	return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
	       rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_DEVICE_REMOVED ||
	       rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_ERROR ||
	       rv == CKR_CRYPTOKI_NOT_INITIALIZED;
}

/* One table: PKCS#11 return code -> kbs error (the wire error is decided by kbs_resource.c / kbs_admin_api.c). */
static int map_rv(CK_RV rv)
{
	switch (rv) {
	case CKR_OK:
		return KBS_OK;
	case CKR_ATTRIBUTE_SENSITIVE:
	case CKR_PIN_INCORRECT:
	case CKR_PIN_LOCKED:
	case CKR_PIN_EXPIRED:
	case CKR_USER_NOT_LOGGED_IN:
		return KBS_ERR_PERM;
	case CKR_HOST_MEMORY:
	case CKR_DEVICE_MEMORY:
		return KBS_ERR_NOMEM;
	case CKR_TOKEN_WRITE_PROTECTED:
	case CKR_SESSION_READ_ONLY:
		return KBS_ERR_UNSUPPORTED;
	default:
		return KBS_ERR_UNAVAILABLE;
	}
}

static void close_session(struct repo_p11 *r)
{
	if (r->sess != CK_INVALID_HANDLE) {
		r->f->C_CloseSession(r->sess);
		r->sess = CK_INVALID_HANDLE;
	}
}

/* Opens the R/W session and logs in. Caller holds mu (or is the constructor). */
static CK_RV open_session(struct repo_p11 *r)
{
	CK_RV rv;

	close_session(r);
	rv = r->f->C_OpenSession(r->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
				 &r->sess);
	if (rv != CKR_OK) {
		r->sess = CK_INVALID_HANDLE;
		return rv;
	}
	rv = r->f->C_Login(r->sess, CKU_USER, (CK_UTF8CHAR_PTR)r->pin, strlen(r->pin));
	if (rv == CKR_USER_ALREADY_LOGGED_IN)
		rv = CKR_OK;
	if (rv != CKR_OK)
		close_session(r);
	return rv;
}

/* Finds up to max objects labelled key; *n = number found. */
static CK_RV find_label(struct repo_p11 *r, const char *key, CK_OBJECT_HANDLE *objs,
			CK_ULONG max, CK_ULONG *n)
{
	CK_ATTRIBUTE tpl[] = {{CKA_LABEL, (void *)key, strlen(key)}};
	CK_RV rv, rv2;

	*n = 0;
	rv = r->f->C_FindObjectsInit(r->sess, tpl, 1);
	if (rv != CKR_OK)
		return rv;
	rv = r->f->C_FindObjects(r->sess, objs, max, n);
	rv2 = r->f->C_FindObjectsFinal(r->sess);
	return rv != CKR_OK ? rv : rv2;
}

struct p11_op {
	const char *key;
	struct secbuf *out;  /* read */
	const void *data;    /* write */
	size_t len;
	int kind;            /* 0 read, 1 write, 2 remove */
	int rc;              /* result for non-PKCS#11 outcomes (not found, ...) */
};

static CK_RV do_read(struct repo_p11 *r, struct p11_op *op)
{
	CK_OBJECT_HANDLE obj;
	CK_ULONG n = 0;
	CK_ATTRIBUTE a = {CKA_VALUE, NULL, 0};
	CK_RV rv = find_label(r, op->key, &obj, 1, &n);

	if (rv != CKR_OK)
		return rv;
	if (n == 0) {
		op->rc = KBS_ERR_NOTFOUND;
		return CKR_OK;
	}
	if ((rv = r->f->C_GetAttributeValue(r->sess, obj, &a, 1)) != CKR_OK)
		return rv;
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
		op->rc = KBS_ERR_PERM; /* sensitive or no value: not a readable resource */
		return CKR_OK;
	}
	if (a.ulValueLen > KBS_RESOURCE_MAX) {
		op->rc = KBS_ERR_RANGE;
		return CKR_OK;
	}
	if ((op->rc = secbuf_alloc(op->out, a.ulValueLen)) != KBS_OK)
		return CKR_OK;
	a.pValue = op->out->p;
	rv = r->f->C_GetAttributeValue(r->sess, obj, &a, 1);
	if (rv != CKR_OK)
		secbuf_free(op->out);
	else
		op->out->len = a.ulValueLen;
	return rv;
}

static CK_RV do_write(struct repo_p11 *r, struct p11_op *op)
{
	CK_OBJECT_CLASS cls = r->data_objects ? CKO_DATA : CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE tpl[8] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_PRIVATE, &yes, sizeof(yes)},
	    {CKA_LABEL, (void *)op->key, strlen(op->key)},
	    {CKA_VALUE, (void *)op->data, op->len},
	};
	CK_ULONG nt = 5, n = 0;
	CK_OBJECT_HANDLE old[P11_MAX_MATCH], created;
	CK_RV rv;

	if (!r->data_objects) {
		/* Trustee's template: extractable generic secret (readable CKA_VALUE) */
		tpl[nt++] = (CK_ATTRIBUTE){CKA_KEY_TYPE, &kt, sizeof(kt)};
		tpl[nt++] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &yes, sizeof(yes)};
		tpl[nt++] = (CK_ATTRIBUTE){CKA_SENSITIVE, &no, sizeof(no)};
	}
	if ((rv = find_label(r, op->key, old, P11_MAX_MATCH, &n)) != CKR_OK)
		return rv;
	/* create first, then drop the old copies: a failure leaves the previous value */
	if ((rv = r->f->C_CreateObject(r->sess, tpl, nt, &created)) != CKR_OK)
		return rv;
	for (CK_ULONG i = 0; i < n; i++)
		if ((rv = r->f->C_DestroyObject(r->sess, old[i])) != CKR_OK)
			return rv;
	return CKR_OK;
}

static CK_RV do_remove(struct repo_p11 *r, struct p11_op *op)
{
	CK_OBJECT_HANDLE objs[P11_MAX_MATCH];
	CK_ULONG n = 0;
	CK_RV rv = find_label(r, op->key, objs, P11_MAX_MATCH, &n);

	if (rv != CKR_OK)
		return rv;
	if (n == 0)
		op->rc = KBS_ERR_NOTFOUND;
	for (CK_ULONG i = 0; i < n && rv == CKR_OK; i++)
		rv = r->f->C_DestroyObject(r->sess, objs[i]);
	return rv;
}

/* Runs op on the session; on a lost session opens a new one and retries once. */
static int run(struct repo_p11 *r, struct p11_op *op)
{
	CK_RV rv = CKR_SESSION_HANDLE_INVALID;

	pthread_mutex_lock(&r->mu);
	for (int attempt = 0; attempt < 2; attempt++) {
		op->rc = KBS_OK;
		if (r->sess == CK_INVALID_HANDLE && (rv = open_session(r)) != CKR_OK) {
			if (!session_lost(rv))
				break;
			continue;
		}
		rv = op->kind == 0 ? do_read(r, op) : op->kind == 1 ? do_write(r, op)
								     : do_remove(r, op);
		if (!session_lost(rv))
			break;
		log_warn("repo-pkcs11: session on %s lost (CKR 0x%lx); reopening", r->module,
			 (unsigned long)rv);
		close_session(r);
	}
	pthread_mutex_unlock(&r->mu);
	if (rv != CKR_OK) {
		log_warn("repo-pkcs11: %s %s on %s failed: CKR 0x%lx",
			 op->kind == 0 ? "read" : op->kind == 1 ? "write" : "remove", op->key,
			 r->module, (unsigned long)rv);
		return session_lost(rv) ? KBS_ERR_UNAVAILABLE : map_rv(rv);
	}
	return op->rc;
}

static int p11_read(struct repo *base, const char *const seg[3], struct secbuf *out)
{
	char key[3 * (KBS_SEG_MAX + 1)];
	struct p11_op op = {key, out, NULL, 0, 0, KBS_OK};
	int rc = key_of(seg, key, sizeof(key));

	return rc ? rc : run((struct repo_p11 *)base, &op);
}

static int p11_write(struct repo *base, const char *const seg[3], const void *data, size_t len)
{
	char key[3 * (KBS_SEG_MAX + 1)];
	struct p11_op op = {key, NULL, data, len, 1, KBS_OK};
	int rc = key_of(seg, key, sizeof(key));

	if (len > KBS_RESOURCE_MAX)
		return KBS_ERR_RANGE;
	return rc ? rc : run((struct repo_p11 *)base, &op);
}

static int p11_remove(struct repo *base, const char *const seg[3])
{
	char key[3 * (KBS_SEG_MAX + 1)];
	struct p11_op op = {key, NULL, NULL, 0, 2, KBS_OK};
	int rc = key_of(seg, key, sizeof(key));

	return rc ? rc : run((struct repo_p11 *)base, &op);
}

static void p11_destroy(struct repo *base)
{
	struct repo_p11 *r = (struct repo_p11 *)base;

	if (r->f) {
		close_session(r);
		if (r->initialized)
			r->f->C_Finalize(NULL);
	}
	if (r->dl)
		dlclose(r->dl);
	if (r->pin) {
		OPENSSL_cleanse(r->pin, strlen(r->pin));
		free(r->pin);
	}
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static const struct repo_ops p11_ops = {"PKCS#11", p11_read, p11_write, p11_remove,
					p11_destroy};

int repo_pkcs11_new(const struct repo_pkcs11_params *p, struct repo **out, char *err,
		    size_t errlen)
{
	struct repo_p11 *r = NULL;
	CK_C_GetFunctionList getfl;
	CK_C_INITIALIZE_ARGS ia = {0};
	CK_SLOT_ID slots[P11_MAX_SLOTS];
	CK_ULONG nslots = P11_MAX_SLOTS;
	CK_RV rv;
	int rc = KBS_ERR_INVAL;

	*out = NULL;
	if (!p->module || !*p->module || !p->pin) {
		snprintf(err, errlen, "pkcs11: module and pin are required");
		return KBS_ERR_INVAL;
	}
	if (!(r = calloc(1, sizeof(*r))))
		return KBS_ERR_NOMEM;
	pthread_mutex_init(&r->mu, NULL);
	r->base.ops = &p11_ops;
	r->sess = CK_INVALID_HANDLE;
	r->data_objects = p->data_objects;
	snprintf(r->module, sizeof(r->module), "%s", p->module);
	if (!(r->pin = strdup(p->pin))) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	rc = KBS_ERR_UNAVAILABLE;
	if (!(r->dl = dlopen(p->module, RTLD_NOW | RTLD_LOCAL))) {
		snprintf(err, errlen, "pkcs11: cannot load module %s: %s", p->module, dlerror());
		goto out;
	}
	*(void **)&getfl = dlsym(r->dl, "C_GetFunctionList");
	if (!getfl || getfl(&r->f) != CKR_OK || !r->f) {
		snprintf(err, errlen, "pkcs11: %s is not a PKCS#11 module", p->module);
		r->f = NULL;
		goto out;
	}
	ia.flags = CKF_OS_LOCKING_OK;
	rv = r->f->C_Initialize(&ia);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		snprintf(err, errlen, "pkcs11: C_Initialize: CKR 0x%lx", (unsigned long)rv);
		goto out;
	}
	r->initialized = rv == CKR_OK;
	if ((rv = r->f->C_GetSlotList(CK_TRUE, slots, &nslots)) != CKR_OK) {
		snprintf(err, errlen, "pkcs11: C_GetSlotList: CKR 0x%lx", (unsigned long)rv);
		goto out;
	}
	if (p->slot_index < 0 || (CK_ULONG)p->slot_index >= nslots) {
		snprintf(err, errlen, "pkcs11: slot_index %d out of range (%lu slots with a token)",
			 p->slot_index, (unsigned long)nslots);
		rc = KBS_ERR_INVAL;
		goto out;
	}
	r->slot = slots[p->slot_index];
	if ((rv = open_session(r)) != CKR_OK) {
		snprintf(err, errlen, "pkcs11: open/login on slot_index %d of %s: CKR 0x%lx%s",
			 p->slot_index, p->module, (unsigned long)rv,
			 rv == CKR_PIN_INCORRECT ? " (wrong pin)" : "");
		rc = rv == CKR_PIN_INCORRECT ? KBS_ERR_PERM : KBS_ERR_UNAVAILABLE;
		goto out;
	}
	log_info("repo-pkcs11: %s slot_index %d (slot id %lu), %s objects", p->module,
		 p->slot_index, (unsigned long)r->slot,
		 r->data_objects ? "CKO_DATA" : "CKO_SECRET_KEY");
	*out = &r->base;
	r = NULL;
	rc = KBS_OK;
out:
	if (r)
		p11_destroy(&r->base);
	return rc;
}

int repo_pkcs11_from_json(const json_t *cfg, struct repo **out, char *err, size_t errlen)
{
	struct repo_pkcs11_params p = {0};
	const json_t *v;

	*out = NULL;
	p.module = json_string_value(json_object_get(cfg, "module"));
	p.pin = json_string_value(json_object_get(cfg, "pin"));
	if (!p.module || !p.pin) {
		snprintf(err, errlen, "pkcs11: `module` and `pin` (strings) are required");
		return KBS_ERR_INVAL;
	}
	if ((v = json_object_get(cfg, "slot_index"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 255) {
			snprintf(err, errlen, "pkcs11: slot_index must be an integer 0..255");
			return KBS_ERR_INVAL;
		}
		p.slot_index = (int)json_integer_value(v);
	}
	if ((v = json_object_get(cfg, "object_class"))) {
		const char *s = json_string_value(v);
		if (!s || (strcmp(s, "data") && strcmp(s, "secret_key"))) {
			snprintf(err, errlen, "pkcs11: object_class must be \"secret_key\" or "
					      "\"data\"");
			return KBS_ERR_INVAL;
		}
		p.data_objects = strcmp(s, "data") == 0;
	}
	return repo_pkcs11_new(&p, out, err, errlen);
}
