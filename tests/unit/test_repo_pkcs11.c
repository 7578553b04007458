// SPDX-License-Identifier: Apache-2.0
/*
 * PKCS#11 resource backend on a SoftHSM2 token created here (temp SOFTHSM2_CONF, token
 * initialised through the PKCS#11 API): objects written by other tools (CKO_DATA) are read,
 * sensitive keys are refused, writes replace (one token object per label), a lost session
 * is reopened, a wrong PIN or slot fails the constructor without echoing the PIN.
 * Skipped when SoftHSM2 is not installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "common/err.h"
#include "common/secmem.h"
#include "server/kbs/repo.h"
#include "server/kbs/repo_pkcs11.h"

#define PIN "1111"
#define SO_PIN "22222222"

static const char *const modules[] = {"/usr/lib/softhsm/libsofthsm2.so",
				      "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", NULL};

struct fx {
	char dir[64];
	const char *module;
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE s; /* the "other tool"'s logged-in session */
	struct repo *repo;
};

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	CK_C_GetFunctionList gfl;
	CK_SLOT_ID slots[16];
	CK_ULONG n = 16;
	CK_UTF8CHAR label[32];
	char conf[128];
	FILE *fp;

	for (int i = 0; modules[i] && !f->module; i++)
		if (access(modules[i], R_OK) == 0)
			f->module = modules[i];
	*state = f;
	if (!f->module)
		return 0;
	snprintf(f->dir, sizeof(f->dir), "/tmp/kbs-p11-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", f->dir);
	fp = fopen(conf, "w");
	assert_non_null(fp);
	fprintf(fp, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
		f->dir);
	fclose(fp);
	setenv("SOFTHSM2_CONF", conf, 1);
	f->dl = dlopen(f->module, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(f->dl);
	*(void **)&gfl = dlsym(f->dl, "C_GetFunctionList");
	assert_int_equal(gfl(&f->f), CKR_OK);
	assert_int_equal(f->f->C_Initialize(NULL), CKR_OK);
	assert_int_equal(f->f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	assert_true(n >= 1);
	memset(label, ' ', sizeof(label));
	memcpy(label, "kbs-unit", 8);
	assert_int_equal(f->f->C_InitToken(slots[0], (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN),
					   label),
			 CKR_OK);
	/* SoftHSM renumbers the slot of a freshly initialised token */
	n = 16;
	assert_int_equal(f->f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		if (f->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
		    (ti.flags & CKF_TOKEN_INITIALIZED))
			f->slot = slots[i];
	}
	assert_int_equal(f->f->C_OpenSession(f->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
					     NULL, &f->s),
			 CKR_OK);
	assert_int_equal(f->f->C_Login(f->s, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN)),
			 CKR_OK);
	assert_int_equal(f->f->C_InitPIN(f->s, (CK_UTF8CHAR_PTR)PIN, strlen(PIN)), CKR_OK);
	assert_int_equal(f->f->C_Logout(f->s), CKR_OK);
	assert_int_equal(f->f->C_Login(f->s, CKU_USER, (CK_UTF8CHAR_PTR)PIN, strlen(PIN)),
			 CKR_OK);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	repo_free(f->repo);
	if (f->f) {
		f->f->C_CloseAllSessions(f->slot);
		f->f->C_Finalize(NULL);
	}
	if (f->dl)
		dlclose(f->dl);
	if (f->dir[0])
		nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void open_repo(struct fx *f)
{
	struct repo_pkcs11_params p = {f->module, 0, PIN, false};
	char err[256] = "";

	assert_int_equal(repo_pkcs11_new(&p, &f->repo, err, sizeof(err)), KBS_OK);
}

/* A CKO_DATA object as pkcs11-tool --write-object --type data writes it. */
static void put_data(struct fx *f, const char *label, const char *value)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
			    {CKA_TOKEN, &yes, sizeof(yes)},
			    {CKA_PRIVATE, &yes, sizeof(yes)},
			    {CKA_LABEL, (void *)label, strlen(label)},
			    {CKA_VALUE, (void *)value, strlen(value)}};
	CK_OBJECT_HANDLE h;

	assert_int_equal(f->f->C_CreateObject(f->s, t, 5, &h), CKR_OK);
}

static CK_ULONG count_label(struct fx *f, const char *label, CK_OBJECT_CLASS *cls)
{
	CK_ATTRIBUTE t[] = {{CKA_LABEL, (void *)label, strlen(label)}};
	CK_OBJECT_HANDLE h[8];
	CK_ULONG n = 0;

	assert_int_equal(f->f->C_FindObjectsInit(f->s, t, 1), CKR_OK);
	assert_int_equal(f->f->C_FindObjects(f->s, h, 8, &n), CKR_OK);
	assert_int_equal(f->f->C_FindObjectsFinal(f->s), CKR_OK);
	if (n && cls) {
		CK_ATTRIBUTE a = {CKA_CLASS, cls, sizeof(*cls)};
		assert_int_equal(f->f->C_GetAttributeValue(f->s, h[0], &a, 1), CKR_OK);
	}
	return n;
}

#define NEED_SOFTHSM(f)                                                                        \
	do {                                                                                   \
		if (!(f)->module)                                                              \
			skip();                                                                \
	} while (0)

static void test_reads_foreign_data_objects_and_refuses_sensitive_keys(void **state)
{
	struct fx *f = *state;
	const char *seg_data[3] = {"default", "ext", "data"};
	const char *seg_key[3] = {"default", "ext", "sensitive"};
	const char *seg_none[3] = {"default", "ext", "none"};
	struct secbuf out = {0};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	const char *lbl = "default/ext/sensitive";
	uint8_t keyv[32] = {1, 2, 3};
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},	  {CKA_KEY_TYPE, &kt, sizeof(kt)},
			    {CKA_TOKEN, &yes, sizeof(yes)},	  {CKA_SENSITIVE, &yes, sizeof(yes)},
			    {CKA_EXTRACTABLE, &no, sizeof(no)}, {CKA_LABEL, (void *)lbl, strlen(lbl)},
			    {CKA_VALUE, keyv, sizeof(keyv)}};
	CK_OBJECT_HANDLE h;

	NEED_SOFTHSM(f);
	put_data(f, "default/ext/data", "written by another tool");
	assert_int_equal(f->f->C_CreateObject(f->s, t, 7, &h), CKR_OK);
	open_repo(f);
	assert_int_equal(f->repo->ops->read(f->repo, seg_data, &out), KBS_OK);
	assert_int_equal(out.len, strlen("written by another tool"));
	assert_memory_equal(out.p, "written by another tool", out.len);
	assert_true(secmem_contains(out.p));
	secbuf_free(&out);
	assert_int_equal(f->repo->ops->read(f->repo, seg_key, &out), KBS_ERR_PERM);
	assert_int_equal(f->repo->ops->read(f->repo, seg_none, &out), KBS_ERR_NOTFOUND);
	assert_null(out.p);
}

static void test_write_replaces_and_remove(void **state)
{
	struct fx *f = *state;
	const char *seg[3] = {"default", "hsm", "key"};
	const uint8_t bin[] = {0, 0xff, 'x', 0};
	struct secbuf out = {0};
	CK_OBJECT_CLASS cls = 0;

	NEED_SOFTHSM(f);
	open_repo(f);
	assert_int_equal(f->repo->ops->write(f->repo, seg, "one", 3), KBS_OK);
	assert_int_equal(f->repo->ops->write(f->repo, seg, bin, sizeof(bin)), KBS_OK);
	/* one token object per label, in Trustee's class */
	assert_int_equal(count_label(f, "default/hsm/key", &cls), 1);
	assert_int_equal(cls, CKO_SECRET_KEY);
	assert_int_equal(f->repo->ops->read(f->repo, seg, &out), KBS_OK);
	assert_int_equal(out.len, sizeof(bin));
	assert_memory_equal(out.p, bin, sizeof(bin));
	secbuf_free(&out);
	assert_int_equal(f->repo->ops->remove(f->repo, seg), KBS_OK);
	assert_int_equal(count_label(f, "default/hsm/key", NULL), 0);
	assert_int_equal(f->repo->ops->remove(f->repo, seg), KBS_ERR_NOTFOUND);
	assert_int_equal(f->repo->ops->read(f->repo, seg, &out), KBS_ERR_NOTFOUND);
}

static void test_lost_session_is_reopened(void **state)
{
	struct fx *f = *state;
	const char *seg[3] = {"default", "hsm", "survivor"};
	struct secbuf out = {0};

	NEED_SOFTHSM(f);
	open_repo(f);
	assert_int_equal(f->repo->ops->write(f->repo, seg, "still here", 10), KBS_OK);
	/* every session on the token goes away (as after a token reset) */
	assert_int_equal(f->f->C_CloseAllSessions(f->slot), CKR_OK);
	assert_int_equal(f->repo->ops->read(f->repo, seg, &out), KBS_OK);
	assert_memory_equal(out.p, "still here", 10);
	secbuf_free(&out);
	assert_int_equal(f->f->C_OpenSession(f->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
					     NULL, &f->s),
			 CKR_OK);
}

static void test_wrong_pin_slot_and_config(void **state)
{
	struct fx *f = *state;
	struct repo_pkcs11_params p = {f->module, 0, "9999", false};
	struct repo *r = NULL;
	char err[256] = "";
	json_t *cfg;

	NEED_SOFTHSM(f);
	/* the login state is per token and application: log the "other tool" out first */
	assert_int_equal(f->f->C_Logout(f->s), CKR_OK);
	assert_int_equal(repo_pkcs11_new(&p, &r, err, sizeof(err)), KBS_ERR_PERM);
	assert_null(r);
	assert_non_null(strstr(err, "wrong pin"));
	assert_null(strstr(err, "9999"));
	p.pin = PIN;
	p.slot_index = 7;
	assert_int_equal(repo_pkcs11_new(&p, &r, err, sizeof(err)), KBS_ERR_INVAL);
	assert_non_null(strstr(err, "slot_index 7 out of range"));
	p.slot_index = 0;
	p.module = "/nonexistent/libpkcs11.so";
	assert_int_equal(repo_pkcs11_new(&p, &r, err, sizeof(err)), KBS_ERR_UNAVAILABLE);
	assert_non_null(strstr(err, "cannot load module"));
	cfg = json_pack("{s:s}", "module", f->module);
	assert_int_equal(repo_pkcs11_from_json(cfg, &r, err, sizeof(err)), KBS_ERR_INVAL);
	json_decref(cfg);
	cfg = json_pack("{s:s,s:s,s:s}", "module", f->module, "pin", PIN, "object_class",
			"certificate");
	assert_int_equal(repo_pkcs11_from_json(cfg, &r, err, sizeof(err)), KBS_ERR_INVAL);
	json_decref(cfg);
	cfg = json_pack("{s:s,s:s,s:i,s:s}", "module", f->module, "pin", PIN, "slot_index", 0,
			"object_class", "data");
	assert_int_equal(repo_pkcs11_from_json(cfg, &f->repo, err, sizeof(err)), KBS_OK);
	json_decref(cfg);
	const char *seg[3] = {"default", "hsm", "as-data"};
	CK_OBJECT_CLASS cls = 0;
	assert_int_equal(f->repo->ops->write(f->repo, seg, "d", 1), KBS_OK);
	/* logged in through the repo's session: private objects are visible to ours too */
	assert_int_equal(count_label(f, "default/hsm/as-data", &cls), 1);
	assert_int_equal(cls, CKO_DATA);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_reads_foreign_data_objects_and_refuses_sensitive_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_replaces_and_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_session_is_reopened, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_pin_slot_and_config, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
