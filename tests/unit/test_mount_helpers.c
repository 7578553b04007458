// SPDX-License-Identifier: Apache-2.0
/* cmocka tests for mount.kbsfs argument handling (mount_opts.c) and init-data (initdata.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/b64.h"
#include "common/err.h"
#include "testdata.h"
#include "mount-helpers/initdata.h"
#include "mount-helpers/mount_opts.h"

static struct mkbs_cmd *parse(int argc, char **argv, int want_rc)
{
	struct mkbs_cmd *c = NULL;
	char err[256] = "";
	int rc = mkbs_parse(argc, argv, &c, err, sizeof(err));

	assert_int_equal(rc, want_rc);
	if (rc != KBS_OK) {
		assert_null(c);
		assert_true(err[0] != 0);
	}
	return c;
}

static void test_mount8_argument_order(void **state)
{
	char *argv[] = {"kbs:///default/akv",
			"/run/secrets",
			"-o",
			"kbs_url=https://k:8080",
			"-sfnv",
			"-t",
			"fuse.kbsfs",
			"-ouid=1000,_netdev"};
	struct mkbs_cmd *c = parse(8, argv, KBS_OK);

	(void)state;
	assert_string_equal(c->spec, "kbs:///default/akv");
	assert_string_equal(c->dir, "/run/secrets");
	assert_true(c->sloppy && c->fake && c->no_mtab && c->verbose);
	assert_null(c->resource); /* two segments: a prefix, nothing declared */
	assert_string_equal(c->options, "kbs_url=https://k:8080,uid=1000,ro");
	mkbs_cmd_free(c);
}

static void test_dropped_options(void **state)
{
	static const char *const drop[] = {"_netdev",
					   "nofail",
					   "x-systemd.automount",
					   "x-systemd.requires=a.service",
					   "x-mount.mkdir",
					   "defaults",
					   "auto",
					   "noauto",
					   "user",
					   "users",
					   "nouser",
					   "owner",
					   "group",
					   "rw",
					   "ro",
					   "comment=systemd.x"};
	static const char *const keep[] = {"kbs_url=x",	  "nosuid", "nodev",   "noexec", "uid=0",
					   "allow_other", "xattr",  "users_x", "roo",	 "auto_x"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		assert_true(mkbs_option_dropped(drop[i]));
	for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		assert_false(mkbs_option_dropped(keep[i]));
}

static void process(const char *spec, const char *opts, int want_rc, const char *want_opts,
		    const char *want_res)
{
	struct mkbs_cmd c;
	char err[256] = "";
	int rc;

	memset(&c, 0, sizeof(c));
	c.spec = (char *)spec;
	c.dir = (char *)"/m";
	rc = mkbs_process(&c, opts, err, sizeof(err));
	assert_int_equal(rc, want_rc);
	if (rc == KBS_OK) {
		assert_string_equal(c.options, want_opts);
		if (want_res)
			assert_string_equal(c.resource, want_res);
		else
			assert_null(c.resource);
	} else {
		assert_true(err[0] != 0);
	}
	free(c.options);
	free(c.resource);
}

static void test_spec_forms(void **state)
{
	(void)state;
	process("kbs:///", "", KBS_OK, "ro", NULL);
	process("kbsfs", "tee=tdx", KBS_OK, "tee=tdx,ro", NULL);
	process("none", NULL, KBS_OK, "ro", NULL);
	process("kbs:///default/", "", KBS_OK, "ro", NULL);
	process("kbs:///a/b/c", "", KBS_OK, "resources=a/b/c,ro", "a/b/c");
	process("kbs:///a/b/c", "resources=", KBS_OK, "resources=a/b/c,ro", "a/b/c");
	process("kbs:///a/b/c", "resources=x/y/z", KBS_OK, "resources=x/y/z:a/b/c,ro", "a/b/c");
	process("kbs://h.example:9/a/b/c", "", KBS_OK,
		"resources=a/b/c,kbs_url=https://h.example:9,ro", "a/b/c");
	process("kbs://[::1]:9", "", KBS_OK, "kbs_url=https://[::1]:9,ro", NULL);
	/* an explicit URL or a config file wins over the SPEC's host */
	process("kbs://h", "kbs_url=https://o", KBS_OK, "kbs_url=https://o,ro", NULL);
	process("kbs://h", "config=/etc/k.toml", KBS_OK, "config=/etc/k.toml,ro", NULL);
	/* quoted values keep commas; fuse_opt escapes are added */
	process("kbs:///", "kbs_cert=\"/a,b\\c\"", KBS_OK, "kbs_cert=/a\\,b\\\\c,ro", NULL);
	process("kbs:///", ",,x,,", KBS_OK, "x,ro", NULL);
	/* refused */
	process("kbs:///a/b/c/d", "", KBS_ERR_INVAL, NULL, NULL);
	process("kbs:///a/b/c/", "", KBS_ERR_INVAL, NULL, NULL);
	process("kbs:///a//c", "", KBS_ERR_INVAL, NULL, NULL);
	process("kbs:///./b/c", "", KBS_ERR_INVAL, NULL, NULL);
	process("kbs:///a/../c", "", KBS_ERR_INVAL, NULL, NULL);
	process("kbs://h/x y", "", KBS_ERR_INVAL, NULL, NULL);
	process("kbs://us@er/", "", KBS_ERR_INVAL, NULL, NULL);
	process("https://h/a/b/c", "", KBS_ERR_INVAL, NULL, NULL);
	process("/dev/sda", "", KBS_ERR_INVAL, NULL, NULL);
	process("kbs:///", "a=\"b", KBS_ERR_INVAL, NULL, NULL);
}

static void test_usage_errors(void **state)
{
	char *a1[] = {"kbs:///"};
	char *a2[] = {"kbs:///", "/m", "/x"};
	char *a3[] = {"kbs:///", "/m", "-o"};
	char *a4[] = {"kbs:///", "/m", "-x"};
	char *a5[] = {"kbs:///", "/m", "-t", "ext4"};
	char *a6[] = {"kbs:///", "/m", "-N", "/proc/1/ns/mnt"};
	char *h[] = {"--help"};
	struct mkbs_cmd *c;

	(void)state;
	parse(1, a1, KBS_ERR_INVAL);
	parse(3, a2, KBS_ERR_INVAL);
	parse(3, a3, KBS_ERR_INVAL);
	parse(3, a4, KBS_ERR_INVAL);
	parse(4, a5, KBS_ERR_INVAL);
	parse(4, a6, KBS_ERR_INVAL);
	parse(0, NULL, KBS_ERR_INVAL);
	c = parse(1, h, KBS_OK);
	assert_true(c->help);
	mkbs_cmd_free(c);
	mkbs_cmd_free(NULL);
}

static void test_volume_descriptor(void **state)
{
	static const char good[] =
	    "{\"kbsfs_volume\":1,\"volume_id\":\"csi-1\",\"pod\":{\"namespace\":\"a\"},"
	    "\"resources\":[{\"uri\":\"kbs:///default/akv/one\",\"path\":\"one\",\"mode\":"
	    "\"0440\"},{\"uri\":\"kbs:///default/akv/two\",\"path\":\"two\",\"mode\":\"0440\"}],"
	    "\"uid\":1000,\"gid\":2000,\"refresh_seconds\":300}";
	static const char *const bad[] = {
	    "[]",
	    "{}",
	    "{\"kbsfs_volume\":2,\"resources\":[{\"uri\":\"a/b/c\"}]}",
	    "{\"kbsfs_volume\":1,\"resources\":[]}",
	    "{\"kbsfs_volume\":1,\"resources\":[{\"uri\":\"kbs:///a/../c\"}]}",
	    "{\"kbsfs_volume\":1,\"resources\":[{\"uri\":\"a/b/c\",\"mode\":\"0440\"},"
	    "{\"uri\":\"a/b/d\",\"mode\":\"0400\"}]}",
	    "{\"kbsfs_volume\":1,\"resources\":[{\"uri\":\"a/b/c\",\"mode\":\"rw\"}]}",
	    "{\"kbsfs_volume\":1,\"resources\":[{\"uri\":\"a/b/c\"}],\"uid\":-1}",
	    "{\"kbsfs_volume\":1,\"resources\":[{\"uri\":\"a/b/c\"}],\"gid\":\"0\"}",
	    "{\"kbsfs_volume\":1,\"kbsfs_volume\":1,\"resources\":[{\"uri\":\"a/b/c\"}]}"};
	char *o = NULL, err[256];
	size_t i;

	(void)state;
	assert_int_equal(mkbs_descriptor_options(good, strlen(good), &o, err, sizeof(err)), KBS_OK);
	assert_string_equal(o, "resources=default/akv/one:default/akv/two,mode=0440,uid=1000,"
			       "gid=2000,refresh=300");
	free(o);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_not_equal(
		    mkbs_descriptor_options(bad[i], strlen(bad[i]), &o, err, sizeof(err)), KBS_OK);
		assert_null(o);
		assert_true(err[0] != 0);
	}
}

static char *gunzip_b64(const char *b64, size_t *outlen)
{
	uint8_t *gz = NULL;
	size_t gzlen = 0;
	char *out = malloc(1 << 16);
	z_stream z;

	assert_int_equal(b64_decode_alloc(b64, strlen(b64), B64_STD, &gz, &gzlen), KBS_OK);
	memset(&z, 0, sizeof(z));
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = gz;
	z.avail_in = (uInt)gzlen;
	z.next_out = (Bytef *)out;
	z.avail_out = 1 << 16;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	*outlen = z.total_out;
	inflateEnd(&z);
	free(gz);
	return out;
}

static void test_initdata_build_digest_annotation(void **state)
{
	static const char aa[] = "[token_configs.kbs]\nurl = \"https://k\"\n";
	static const char odd[] = "it's '''quoted'''\x01\n";
	struct kid_entry e[] = {{"aa.toml", aa, sizeof(aa) - 1}, {"x\"y", odd, sizeof(odd) - 1}};
	char *doc = NULL, *ann = NULL, *back;
	uint8_t d[KID_DIGEST_MAX], *img = NULL;
	size_t len = 0, n = 0, blen, ilen = 0;

	(void)state;
	assert_int_equal(kid_build("sha384", e, 2, &doc, &len), KBS_OK);
	assert_string_equal(doc,
			    "version = \"0.1.0\"\nalgorithm = \"sha384\"\n\n[data]\n"
			    "\"aa.toml\" = '''\n[token_configs.kbs]\nurl = \"https://k\"\n'''\n"
			    "\"x\\\"y\" = \"it's '''quoted'''\\u0001\\n\"\n");
	assert_int_equal(len, strlen(doc));
	assert_int_equal(kid_digest("sha384", (uint8_t *)doc, len, d, &n), KBS_OK);
	assert_int_equal(n, 48);
	assert_int_equal(kid_digest_size("sha256"), 32);
	assert_int_equal(kid_digest_size("sm3"), 0);
	assert_int_equal(kid_digest("md5", (uint8_t *)doc, len, d, &n), KBS_ERR_INVAL);
	assert_int_equal(kid_annotation((uint8_t *)doc, len, &ann), KBS_OK);
	back = gunzip_b64(ann, &blen);
	assert_int_equal(blen, len);
	assert_memory_equal(back, doc, len);
	assert_int_equal(kid_block_image((uint8_t *)doc, len, &img, &ilen), KBS_OK);
	assert_int_equal(ilen % 512, 0);
	assert_memory_equal(img, "initdata", 8);
	free(back);
	free(img);
	free(ann);
	free(doc);
	/* refused: unknown algorithm, empty key, NUL in a value */
	e[1].key = "";
	assert_int_equal(kid_build("sha256", e, 2, &doc, NULL), KBS_ERR_INVAL);
	assert_int_equal(kid_build("sha1", e, 1, &doc, NULL), KBS_ERR_INVAL);
	e[0].value = "a\0b";
	e[0].value_len = 3;
	assert_int_equal(kid_build("sha256", e, 1, &doc, NULL), KBS_ERR_INVAL);
	assert_null(doc);
}

static void test_initdata_vector(void **state)
{
	/* tests/data/initdata/initdata-sha256.toml, digest from expected.json */
	char hex[65];
	uint8_t d[KID_DIGEST_MAX], *buf;
	size_t n = 0, len, i;

	(void)state;
	buf = td_read_file("initdata", "initdata-sha256.toml", &len);
	assert_int_equal(len, 498);
	assert_int_equal(kid_digest("sha256", buf, len, d, &n), KBS_OK);
	for (i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	assert_string_equal(hex,
			    "8e001b98978c1bc78a8e05d7e416e050b87464c79330d84666947ef54ecda93c");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mount8_argument_order),
	    cmocka_unit_test(test_dropped_options),
	    cmocka_unit_test(test_spec_forms),
	    cmocka_unit_test(test_usage_errors),
	    cmocka_unit_test(test_volume_descriptor),
	    cmocka_unit_test(test_initdata_build_digest_annotation),
	    cmocka_unit_test(test_initdata_vector),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
