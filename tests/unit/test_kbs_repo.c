// SPDX-License-Identifier: Apache-2.0
/*
 * Resource paths and repository backends: Trustee's path grammar table (kbs-protocol §8),
 * every traversal variant, LocalFs in both Trustee layouts with Kubernetes "..data"
 * symlinks, escaping symlinks refused, atomic overwrite, delete, and the memory backend.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/secmem.h"
#include "server/kbs/repo.h"

static int parse(const char *p)
{
	char seg[3][KBS_SEG_MAX + 1], why[200];

	return kbs_resource_path_parse(p, seg, why, sizeof(why));
}

static void test_trustee_path_table(void **state)
{
	(void)state;
	/* Trustee's own table */
	assert_int_equal(parse("default/1/2"), KBS_OK);
	assert_int_not_equal(parse("/1/2"), KBS_OK);
	assert_int_not_equal(parse("/repo/type/tag"), KBS_OK);
	assert_int_equal(parse("repo/type/tag"), KBS_OK);
	assert_int_not_equal(parse("1/2"), KBS_OK);
	assert_int_equal(parse("123--_default/1Abff-_/___-afds44BC"), KBS_OK);
	assert_int_equal(parse("1.ok/2ok./3..."), KBS_OK);
	assert_int_not_equal(parse(".1.ok/2ok./3..."), KBS_OK);
	assert_int_not_equal(parse("1.ok/.2ok./3..."), KBS_OK);
	assert_int_not_equal(parse("1.ok/2ok./.3..."), KBS_OK);
}

static void test_traversal_variants_rejected(void **state)
{
	static const char *const bad[] = {
		"..", "../a/b", "a/../b", "a/b/..", "a/b/../c", "a/./b", "./a/b/c", "a//b",
		"a/b/c/", "a/b/c/d", "", "/", "a/b/c\\x", "a/b/c d", "a/b/c%2F", "a/b/\xc3\xa4",
		"a/b/c\n", "a/b/.", "a/b/..c", NULL};
	char seg[3][KBS_SEG_MAX + 1], why[200];

	(void)state;
	for (const char *const *p = bad; *p; p++) {
		why[0] = '\0';
		assert_int_not_equal(kbs_resource_path_parse(*p, seg, why, sizeof(why)), KBS_OK);
		assert_true(why[0] != '\0');
	}
	assert_int_not_equal(kbs_resource_path_parse(NULL, seg, why, sizeof(why)), KBS_OK);
}

static void test_component_length_bound(void **state)
{
	char p[3 * KBS_SEG_MAX + 8];

	(void)state;
	memset(p, 'a', sizeof(p));
	memcpy(p, "r/t/", 4);
	p[4 + KBS_SEG_MAX] = '\0';
	assert_int_equal(parse(p), KBS_OK);
	p[4 + KBS_SEG_MAX] = 'a';
	p[4 + KBS_SEG_MAX + 1] = '\0';
	assert_int_equal(parse(p), KBS_ERR_RANGE);
}

static void test_embedded_nul_stops_parse(void **state)
{
	/* a C string cannot carry NUL: "a/b/c\0../x" is "a/b/c"; the HTTP layer must refuse
	 * decoded NULs (tests/integration/test_kbs_reject.py checks %00 end to end) */
	(void)state;
	assert_int_equal(parse("a/b/c\0../x"), KBS_OK);
}

/* ------------------------------------------------------------------ LocalFs */

static char tmpl[64];

static int rm_cb(const char *p, const struct stat *s, int f, struct FTW *w)
{
	(void)s;
	(void)f;
	(void)w;
	return remove(p);
}

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpl, sizeof(tmpl), "/tmp/kbs-repo-XXXXXX");
	return mkdtemp(tmpl) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	(void)state;
	return nftw(tmpl, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void put(const char *rel, const char *content)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", tmpl, rel);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void mk(const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", tmpl, rel);
	assert_int_equal(mkdir(p, 0700), 0);
}

static void ln(const char *target, const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", tmpl, rel);
	assert_int_equal(symlink(target, p), 0);
}

static int rd(struct repo *r, const char *a, const char *b, const char *c, char *out,
	      size_t outlen)
{
	const char *seg[3] = {a, b, c};
	struct secbuf s = {0};
	int rc = r->ops->read(r, seg, &s);

	if (rc == KBS_OK) {
		assert_true(secmem_contains(s.p) || s.len == 0);
		snprintf(out, outlen, "%.*s", (int)s.len, (const char *)s.p);
		secbuf_free(&s);
	}
	return rc;
}

static void test_localfs_flat_and_tree(void **state)
{
	struct repo *r = NULL;
	char out[64];

	(void)state;
	put("default\\x2Fflat\\x2Fone", "flat-value");
	mk("default");
	mk("default/tree");
	put("default/tree/two", "tree-value");
	put("default\\x2Fboth\\x2Fx", "flat-wins");
	mk("default/both");
	put("default/both/x", "tree-loses");
	assert_int_equal(repo_localfs_new(tmpl, REPO_LAYOUT_FLAT, false, &r), KBS_OK);
	assert_int_equal(rd(r, "default", "flat", "one", out, sizeof(out)), KBS_OK);
	assert_string_equal(out, "flat-value");
	assert_int_equal(rd(r, "default", "tree", "two", out, sizeof(out)), KBS_OK);
	assert_string_equal(out, "tree-value");
	assert_int_equal(rd(r, "default", "both", "x", out, sizeof(out)), KBS_OK);
	assert_string_equal(out, "flat-wins");
	assert_int_equal(rd(r, "default", "tree", "nope", out, sizeof(out)), KBS_ERR_NOTFOUND);
	assert_int_equal(rd(r, "default", "tree", "..", out, sizeof(out)), KBS_ERR_NOTFOUND);
	/* a directory is not a resource */
	assert_int_equal(rd(r, "default", "both", "..", out, sizeof(out)), KBS_ERR_NOTFOUND);
	repo_free(r);
}

static void test_localfs_csi_data_symlinks(void **state)
{
	struct repo *r = NULL;
	char out[64];

	(void)state;
	/* secrets-store CSI / Kubernetes volume: <dir>/default/akv/coco_one -> ..data/coco_one,
	 * ..data -> ..2024_01_01_00_00_00.123 */
	mk("default");
	mk("default/akv");
	mk("default/akv/..2024_01_01_00_00_00.123");
	put("default/akv/..2024_01_01_00_00_00.123/coco_one", "akv-secret");
	ln("..2024_01_01_00_00_00.123", "default/akv/..data");
	ln("..data/coco_one", "default/akv/coco_one");
	assert_int_equal(repo_localfs_new(tmpl, REPO_LAYOUT_TREE, false, &r), KBS_OK);
	assert_int_equal(rd(r, "default", "akv", "coco_one", out, sizeof(out)), KBS_OK);
	assert_string_equal(out, "akv-secret");
	repo_free(r);
}

static void test_localfs_escaping_symlinks_refused(void **state)
{
	struct repo *r = NULL;
	char out[64];

	(void)state;
	mk("default");
	mk("default/evil");
	ln("/etc/passwd", "default/evil/abs");
	ln("../../../../../../etc/passwd", "default/evil/rel");
	ln("/etc", "default/evildir");
	ln("/etc/hostname", "default\\x2Fevil\\x2Fflat");
	assert_int_equal(repo_localfs_new(tmpl, REPO_LAYOUT_TREE, false, &r), KBS_OK);
	assert_int_equal(rd(r, "default", "evil", "abs", out, sizeof(out)), KBS_ERR_PERM);
	assert_int_equal(rd(r, "default", "evil", "rel", out, sizeof(out)), KBS_ERR_PERM);
	assert_int_equal(rd(r, "default", "evildir", "passwd", out, sizeof(out)), KBS_ERR_PERM);
	assert_int_equal(rd(r, "default", "evil", "flat", out, sizeof(out)), KBS_ERR_PERM);
	repo_free(r);
}

static void test_localfs_write_overwrite_delete(void **state)
{
	struct repo *flat = NULL, *tree = NULL;
	const char *seg[3] = {"default", "w", "k"};
	char out[64], p[512];
	struct stat st;

	(void)state;
	assert_int_equal(repo_localfs_new(tmpl, REPO_LAYOUT_FLAT, false, &flat), KBS_OK);
	assert_int_equal(flat->ops->write(flat, seg, "v1", 2), KBS_OK);
	assert_int_equal(flat->ops->write(flat, seg, "value-2", 7), KBS_OK);
	assert_int_equal(rd(flat, "default", "w", "k", out, sizeof(out)), KBS_OK);
	assert_string_equal(out, "value-2");
	snprintf(p, sizeof(p), "%s/default\\x2Fw\\x2Fk", tmpl);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(flat->ops->remove(flat, seg), KBS_OK);
	assert_int_equal(flat->ops->remove(flat, seg), KBS_ERR_NOTFOUND);
	assert_int_equal(rd(flat, "default", "w", "k", out, sizeof(out)), KBS_ERR_NOTFOUND);

	assert_int_equal(repo_localfs_new(tmpl, REPO_LAYOUT_TREE, false, &tree), KBS_OK);
	assert_int_equal(tree->ops->write(tree, seg, "tree", 4), KBS_OK);
	snprintf(p, sizeof(p), "%s/default/w/k", tmpl);
	assert_int_equal(stat(p, &st), 0);
	/* empty resources are allowed */
	assert_int_equal(tree->ops->write(tree, seg, "", 0), KBS_OK);
	assert_int_equal(rd(tree, "default", "w", "k", out, sizeof(out)), KBS_OK);
	assert_string_equal(out, "");
	assert_int_equal(tree->ops->remove(tree, seg), KBS_OK);
	assert_int_equal(stat(p, &st), -1);
	repo_free(flat);
	repo_free(tree);
}

static void test_localfs_tree_write_through_escaping_dir_refused(void **state)
{
	struct repo *r = NULL;
	const char *seg[3] = {"default", "out", "k"};
	char outside[80];

	(void)state;
	snprintf(outside, sizeof(outside), "%s-outside", tmpl);
	assert_int_equal(mkdir(outside, 0700), 0);
	mk("default");
	ln(outside, "default/out");
	assert_int_equal(repo_localfs_new(tmpl, REPO_LAYOUT_TREE, false, &r), KBS_OK);
	assert_int_not_equal(r->ops->write(r, seg, "x", 1), KBS_OK);
	repo_free(r);
	assert_int_equal(rmdir(outside), 0); /* still empty: nothing was written there */
}

static void test_memory_backend(void **state)
{
	struct repo *r = NULL;
	const char *seg[3] = {"a", "b", "c"};
	char out[64];

	(void)state;
	assert_int_equal(repo_memory_new(&r), KBS_OK);
	assert_int_equal(rd(r, "a", "b", "c", out, sizeof(out)), KBS_ERR_NOTFOUND);
	assert_int_equal(r->ops->write(r, seg, "one", 3), KBS_OK);
	assert_int_equal(r->ops->write(r, seg, "two", 3), KBS_OK);
	assert_int_equal(rd(r, "a", "b", "c", out, sizeof(out)), KBS_OK);
	assert_string_equal(out, "two");
	assert_int_equal(r->ops->remove(r, seg), KBS_OK);
	assert_int_equal(r->ops->remove(r, seg), KBS_ERR_NOTFOUND);
	repo_free(r);
	repo_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trustee_path_table),
		cmocka_unit_test(test_traversal_variants_rejected),
		cmocka_unit_test(test_component_length_bound),
		cmocka_unit_test(test_embedded_nul_stops_parse),
		cmocka_unit_test_setup_teardown(test_localfs_flat_and_tree, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_localfs_csi_data_symlinks, setup_dir,
						teardown_dir),
		cmocka_unit_test_setup_teardown(test_localfs_escaping_symlinks_refused, setup_dir,
						teardown_dir),
		cmocka_unit_test_setup_teardown(test_localfs_write_overwrite_delete, setup_dir,
						teardown_dir),
		cmocka_unit_test_setup_teardown(test_localfs_tree_write_through_escaping_dir_refused,
						setup_dir, teardown_dir),
		cmocka_unit_test(test_memory_backend),
	};
	secmem_init(0, true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
