// SPDX-License-Identifier: Apache-2.0
/* cmocka tests for kbsfs resource paths and configuration (mount options, TOML/JSON files). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "fs/config.h"
#include "fs/path.h"

static struct kbsfs_config *cfg_new(void)
{
	struct kbsfs_config *c = NULL;

	assert_int_equal(kbsfs_config_new(&c), KBS_OK);
	return c;
}

static void path_grammar_matches_trustee_table(void **state)
{
	/* the Trustee resource path test table (reference/kbs-protocol.md §8) */
	assert_true(kbsfs_path_valid("default/1/2"));
	assert_true(kbsfs_path_valid("repo/type/tag"));
	assert_true(kbsfs_path_valid("123--_default/1Abff-_/___-afds44BC"));
	assert_true(kbsfs_path_valid("1.ok/2ok./3..."));
	assert_false(kbsfs_path_valid("/1/2"));
	assert_false(kbsfs_path_valid("/repo/type/tag"));
	assert_false(kbsfs_path_valid("1/2"));
	assert_false(kbsfs_path_valid(".1.ok/2ok./3..."));
	assert_false(kbsfs_path_valid("1.ok/.2ok./3..."));
	assert_false(kbsfs_path_valid("1.ok/2ok./.3..."));
	/* and what a file system must never accept as a name */
	assert_false(kbsfs_path_valid("a/b/c/d"));
	assert_false(kbsfs_path_valid("a//c"));
	assert_false(kbsfs_path_valid("a/b/"));
	assert_false(kbsfs_path_valid("a/../c"));
	assert_false(kbsfs_path_valid("a/b/c d"));
	assert_false(kbsfs_path_valid("a/b/c%2f"));
	assert_false(kbsfs_path_valid(""));
	assert_false(kbsfs_path_valid(NULL));
	assert_false(kbsfs_seg_valid(".kbsfs", 6));
	assert_false(kbsfs_seg_valid("..", 2));
	assert_true(kbsfs_seg_valid("coco_one", 8));
	char longseg[300];
	memset(longseg, 'a', sizeof(longseg));
	assert_true(kbsfs_seg_valid(longseg, 255));
	assert_false(kbsfs_seg_valid(longseg, 256));
}

static void path_normalize_accepts_uri_forms(void **state)
{
	char out[KBSFS_PATH_MAX + 1];
	const char *in;

	in = "kbs:///default/key/1";
	assert_int_equal(kbsfs_path_normalize(in, strlen(in), out, sizeof(out)), KBS_OK);
	assert_string_equal(out, "default/key/1");
	in = "kbs+resource:///default/key/2";
	assert_int_equal(kbsfs_path_normalize(in, strlen(in), out, sizeof(out)), KBS_OK);
	assert_string_equal(out, "default/key/2");
	in = "/default/key/3";
	assert_int_equal(kbsfs_path_normalize(in, strlen(in), out, sizeof(out)), KBS_OK);
	assert_string_equal(out, "default/key/3");
	in = "kbs://host:8080/default/key/1"; /* host form is not a path */
	assert_int_equal(kbsfs_path_normalize(in, strlen(in), out, sizeof(out)), KBS_ERR_INVAL);
	in = "kbs:///default/../1";
	assert_int_equal(kbsfs_path_normalize(in, strlen(in), out, sizeof(out)), KBS_ERR_INVAL);
	in = "kbs+foo:///a/b/c";
	assert_int_equal(kbsfs_path_normalize(in, strlen(in), out, sizeof(out)), KBS_ERR_INVAL);
	assert_int_equal(kbsfs_path_normalize("a/b/c\0d", 7, out, sizeof(out)), KBS_ERR_INVAL);
	assert_int_equal(kbsfs_path_normalize("a/b/c", 5, out, 4), KBS_ERR_RANGE);
}

static void options_set_every_field(void **state)
{
	struct kbsfs_config *c = cfg_new();
	char err[256];

	assert_int_equal(c->mode, 0400);
	assert_int_equal(c->refresh_s, 0);
	assert_false(c->allow_sample);
	assert_int_equal(kbsfs_config_set_opt(c, "kbs_url=https://kbs:8080", err, sizeof(err)),
			 KBS_OK);
	assert_int_equal(kbsfs_config_set_opt(c, "kbs_cert=/etc/kbs.pem", err, sizeof(err)),
			 KBS_OK);
	assert_int_equal(kbsfs_config_set_opt(c, "tee=az-snp-vtpm", err, sizeof(err)), KBS_OK);
	assert_int_equal(kbsfs_config_set_opt(c, "allow_sample", err, sizeof(err)), KBS_OK);
	assert_int_equal(kbsfs_config_set_opt(c, "uid=1000", err, sizeof(err)), KBS_OK);
	assert_int_equal(kbsfs_config_set_opt(c, "gid=1001", err, sizeof(err)), KBS_OK);
	assert_int_equal(kbsfs_config_set_opt(c, "mode=0440", err, sizeof(err)), KBS_OK);
	assert_int_equal(kbsfs_config_set_opt(c, "refresh=30", err, sizeof(err)), KBS_OK);
	assert_int_equal(kbsfs_config_set_opt(c, "secmem=512K", err, sizeof(err)), KBS_OK);
	assert_int_equal(kbsfs_config_set_opt(c, "log_level=debug", err, sizeof(err)), KBS_OK);
	assert_int_equal(
	    kbsfs_config_set_opt(c, "tee_key_algorithm=RSA-OAEP-256", err, sizeof(err)), KBS_OK);
	assert_string_equal(c->kbs_url, "https://kbs:8080");
	assert_string_equal(c->kbs_cert_file, "/etc/kbs.pem");
	assert_null(c->kbs_cert_pem);
	assert_string_equal(c->tee, "az-snp-vtpm");
	assert_true(c->allow_sample);
	assert_int_equal(c->uid, 1000);
	assert_int_equal(c->gid, 1001);
	assert_int_equal(c->mode, 0440);
	assert_int_equal(c->refresh_s, 30);
	assert_int_equal(c->secmem_size, 512 * 1024);
	assert_int_equal(c->log_level, LOG_LVL_DEBUG);
	assert_string_equal(c->tee_key_algorithm, "RSA-OAEP-256");
	assert_int_equal(kbsfs_config_set_opt(c, "allow_sample=no", err, sizeof(err)), KBS_OK);
	assert_false(c->allow_sample);
	/* FUSE's own options are not ours */
	assert_int_equal(kbsfs_config_set_opt(c, "allow_other", err, sizeof(err)),
			 KBS_ERR_NOTFOUND);
	assert_int_equal(kbsfs_config_set_opt(c, "max_read=4096", err, sizeof(err)),
			 KBS_ERR_NOTFOUND);
	assert_int_equal(kbsfs_config_set_opt(c, "kbs_urlx=1", err, sizeof(err)), KBS_ERR_NOTFOUND);
	kbsfs_config_free(c);
	kbsfs_config_free(NULL);
}

static void options_reject_bad_values_with_message(void **state)
{
	static const char *const bad[] = {
	    "kbs_url=ftp://x", "kbs_url",	    "tee=sev",		"tee=",
	    "uid=-1",	       "uid=abc",	    "uid=1 ",		"gid=99999999999",
	    "mode=0800",       "mode=01000",	    "mode=rw",		"mode=",
	    "refresh=-5",      "refresh=1h",	    "timeout=0",	"secmem=1",
	    "secmem=2G",       "secmem=12Q",	    "log_level=loud",	"allow_sample=maybe",
	    "resources=a/b",   "resources=a/b/c/d", "resources=x/y/.z", "tee_key_algorithm=A128KW",
	    "pod_namespace=",  "pod_namespace=a&b", "pod_name=a b",	"service_account=a=b",
	    "pod_uid=%41",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kbsfs_config *c = cfg_new();
		char err[256] = "";

		assert_int_equal(kbsfs_config_set_opt(c, bad[i], err, sizeof(err)), KBS_ERR_INVAL);
		assert_true(strlen(err) > 0);
		kbsfs_config_free(c);
	}
}

static void resources_list_splits_on_colon_and_keeps_uris(void **state)
{
	struct kbsfs_config *c = cfg_new();
	char err[256];

	assert_int_equal(kbsfs_config_set_opt(c,
					      "resources=default/akv/coco_one:kbs:///default/k/"
					      "two:default/akv/coco_one::/x/y/z",
					      err, sizeof(err)),
			 KBS_OK);
	assert_int_equal(c->nresources, 3); /* duplicate dropped, empty item skipped */
	assert_string_equal(c->resources[0], "default/akv/coco_one");
	assert_string_equal(c->resources[1], "default/k/two");
	assert_string_equal(c->resources[2], "x/y/z");
	kbsfs_config_free(c);
}

static void pod_identity_becomes_the_resource_query(void **state)
{
	struct kbsfs_config *c = cfg_new();
	char err[256], q[128], small[20];

	assert_int_equal(kbsfs_config_resource_query(c, q, sizeof(q)), KBS_OK);
	assert_string_equal(q, "");
	assert_int_equal(kbsfs_config_set_opt(c, "service_account=build-bot", err, sizeof(err)),
			 KBS_OK);
	assert_int_equal(kbsfs_config_resource_query(c, q, sizeof(q)), KBS_OK);
	assert_string_equal(q, "service_account=build-bot");
	assert_int_equal(kbsfs_config_set_opt(c, "pod_namespace=team-a", err, sizeof(err)), KBS_OK);
	assert_int_equal(kbsfs_config_set_opt(c, "pod_name=web-0", err, sizeof(err)), KBS_OK);
	assert_int_equal(kbsfs_config_set_opt(
			     c, "pod_uid=0b6f3c1e-2f7a-4c55-9a0e-3f1d2c4b5a69", err, sizeof(err)),
			 KBS_OK);
	assert_int_equal(kbsfs_config_resource_query(c, q, sizeof(q)), KBS_OK);
	assert_string_equal(q, "pod_namespace=team-a&pod_name=web-0&"
			       "pod_uid=0b6f3c1e-2f7a-4c55-9a0e-3f1d2c4b5a69&"
			       "service_account=build-bot");
	assert_int_equal(kbsfs_config_resource_query(c, small, sizeof(small)), KBS_ERR_RANGE);
	assert_string_equal(small, "");
	kbsfs_config_free(c);
}

static void finish_requires_url_and_explicit_sample(void **state)
{
	struct kbsfs_config *c = cfg_new();
	char err[256];

	assert_int_equal(kbsfs_config_finish(c, err, sizeof(err)), KBS_ERR_INVAL);
	assert_non_null(strstr(err, "kbs_url"));
	assert_int_equal(kbsfs_config_set_opt(c, "kbs_url=http://127.0.0.1:8080", err, sizeof(err)),
			 KBS_OK);
	assert_int_equal(kbsfs_config_set_opt(c, "tee=sample", err, sizeof(err)), KBS_OK);
	assert_int_equal(kbsfs_config_finish(c, err, sizeof(err)), KBS_ERR_INVAL);
	assert_non_null(strstr(err, "allow_sample"));
	assert_int_equal(kbsfs_config_set_opt(c, "allow_sample", err, sizeof(err)), KBS_OK);
	assert_int_equal(kbsfs_config_finish(c, err, sizeof(err)), KBS_OK);
	kbsfs_config_free(c);

	c = cfg_new();
	assert_int_equal(kbsfs_config_set_opt(c, "kbs_url=https://k", err, sizeof(err)), KBS_OK);
	assert_int_equal(kbsfs_config_finish(c, err, sizeof(err)), KBS_OK);
	assert_string_equal(c->tee, "auto");
	kbsfs_config_free(c);

	/* relative file names become absolute (a background kbsfs runs in "/") */
	char cwd[4096], want[4200], dir[] = "/tmp/kbsfs-cfgdir-XXXXXX";
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chdir(dir), 0);
	FILE *pem = fopen("kbs.pem", "w");
	assert_non_null(pem);
	fclose(pem);
	c = cfg_new();
	assert_int_equal(kbsfs_config_set_opt(c, "kbs_url=https://k", err, sizeof(err)), KBS_OK);
	assert_int_equal(kbsfs_config_set_opt(c, "kbs_cert=kbs.pem", err, sizeof(err)), KBS_OK);
	assert_int_equal(kbsfs_config_finish(c, err, sizeof(err)), KBS_OK);
	snprintf(want, sizeof(want), "%s/kbs.pem", dir);
	assert_string_equal(c->kbs_cert_file, want);
	kbsfs_config_free(c);
	unlink("kbs.pem");
	c = cfg_new();
	assert_int_equal(kbsfs_config_set_opt(c, "kbs_url=https://k", err, sizeof(err)), KBS_OK);
	assert_int_equal(kbsfs_config_set_opt(c, "initdata=no-such-file", err, sizeof(err)),
			 KBS_OK);
	assert_int_equal(kbsfs_config_finish(c, err, sizeof(err)), KBS_ERR_INVAL);
	assert_non_null(strstr(err, "initdata=no-such-file"));
	kbsfs_config_free(c);
	assert_int_equal(chdir(cwd), 0);
	rmdir(dir);
}

static json_t *load_json(const char *name)
{
	char path[512];
	const char *dir = getenv("KBS_TEST_DATA");
	json_error_t jerr;
	json_t *j;

	snprintf(path, sizeof(path), "%s/kbsfs/%s", dir ? dir : "tests/data", name);
	j = json_load_file(path, 0, &jerr);
	assert_non_null(j);
	return j;
}

static void aa_config_json_gives_kbs_settings(void **state)
{
	/* upstream AA config (JSON form of aa-config.example.toml) */
	struct kbsfs_config *c = cfg_new();
	json_t *j = load_json("aa-config.example.json");
	char err[256] = "";

	assert_int_equal(kbsfs_config_apply_json(c, j, err, sizeof(err)), KBS_OK);
	assert_string_equal(c->kbs_url, "https://127.0.0.1:8080");
	assert_string_equal(c->tee_key_algorithm, "ECDH-ES+A256KW-P256");
	assert_non_null(c->kbs_cert_pem);
	assert_true(strncmp(c->kbs_cert_pem, "-----BEGIN CERTIFICATE-----", 27) == 0);
	assert_null(c->kbs_cert_file);
	json_decref(j);
	kbsfs_config_free(c);
}

static void cdh_style_json_and_priority_of_options(void **state)
{
	struct kbsfs_config *c = cfg_new();
	char err[256] = "";
	json_t *j = json_pack(
	    "{s:s, s:{s:s, s:s, s:s}, s:[{s:s, s:s}, {s:s, s:s}], s:{s:s}, s:{s:i}}", "socket",
	    "unix:///run/confidential-containers/cdh.sock", "kbc", "name", "cc_kbc", "url",
	    "http://example.io:8080", "kbs_cert", "-----BEGIN CERTIFICATE-----\nMIIB\n",
	    "credentials", "path", "/run/confidential-containers/cdh/kbs/a", "resource_uri",
	    "kbs:///default/aliyun/ecs_ram_role", "path", "/run/x", "resource_uri",
	    "kbs:///default/test/file", "log", "level", "warn", "image",
	    "max_concurrent_layer_downloads_per_image", 3);

	assert_non_null(j);
	/* command line first: these must survive the file */
	assert_int_equal(kbsfs_config_set_opt(c, "kbs_url=https://override:1", err, sizeof(err)),
			 KBS_OK);
	assert_int_equal(kbsfs_config_set_opt(c, "resources=a/b/c", err, sizeof(err)), KBS_OK);
	assert_int_equal(kbsfs_config_apply_json(c, j, err, sizeof(err)), KBS_OK);
	assert_string_equal(c->kbs_url, "https://override:1");
	assert_non_null(c->kbs_cert_pem);
	assert_int_equal(c->nresources, 3);
	assert_string_equal(c->resources[1], "default/aliyun/ecs_ram_role");
	assert_string_equal(c->resources[2], "default/test/file");
	assert_int_equal(c->log_level, LOG_LVL_WARN);
	json_decref(j);
	kbsfs_config_free(c);
}

static void kbsfs_keys_in_file_and_type_errors(void **state)
{
	struct kbsfs_config *c = cfg_new();
	char err[256] = "";
	json_t *j =
	    json_pack("{s:s, s:b, s:s, s:i, s:i, s:[s,s], s:{s:i}}", "kbs_url", "https://kbs",
		      "allow_sample", 1, "tee", "sample", "mode", 0440, "refresh", 5, "resources",
		      "default/akv/coco_one", "kbs:///default/akv/two", "kbsfs", "uid", 42);

	assert_int_equal(kbsfs_config_apply_json(c, j, err, sizeof(err)), KBS_OK);
	assert_true(c->allow_sample);
	assert_int_equal(c->mode, 0440); /* TOML 0o440 arrives as an integer */
	assert_int_equal(c->refresh_s, 5);
	assert_int_equal(c->uid, 42);
	assert_int_equal(c->nresources, 2);
	assert_int_equal(kbsfs_config_finish(c, err, sizeof(err)), KBS_OK);
	json_decref(j);
	kbsfs_config_free(c);

	static const char *const bad[] = {
	    "{\"kbs_url\": 5}",
	    "{\"refresh\": -1}",
	    "{\"mode\": 4096}",
	    "{\"unknown_key\": 1}",
	    "{\"resources\": [1]}",
	    "{\"config\": \"x.toml\"}",
	    "{\"kbc\": {\"name\": \"offline_fs_kbc\", \"url\": \"null\"}}",
	    "{\"kbc\": \"cc_kbc\"}",
	    "{\"kbc\": {\"name\": \"cc_kbc\", \"url\": 1}}",
	    "{\"credentials\": [{\"resource_uri\": \"file:///etc/x\"}]}",
	    "{\"credentials\": {}}",
	    "{\"kbsfs\": 1}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_error_t jerr;
		json_t *b = json_loads(bad[i], 0, &jerr);

		assert_non_null(b);
		c = cfg_new();
		err[0] = 0;
		assert_int_equal(kbsfs_config_apply_json(c, b, err, sizeof(err)), KBS_ERR_INVAL);
		assert_true(strlen(err) > 0);
		json_decref(b);
		kbsfs_config_free(c);
	}
}

static void toml_files_from_guest_components(void **state)
{
#ifdef KBSFS_HAVE_TOML
	char path[512], err[256] = "";
	const char *dir = getenv("KBS_TEST_DATA");
	struct kbsfs_config *c = cfg_new();

	snprintf(path, sizeof(path), "config=%s/kbsfs/cdh-config.example.toml",
		 dir ? dir : "tests/data");
	assert_int_equal(kbsfs_config_set_opt(c, path, err, sizeof(err)), KBS_OK);
	assert_int_equal(kbsfs_config_load_file(c, err, sizeof(err)), KBS_OK);
	assert_string_equal(c->kbs_url, "http://example.io:8080");
	assert_non_null(c->kbs_cert_pem);
	assert_int_equal(c->nresources, 2);
	assert_string_equal(c->resources[0], "default/aliyun/ecs_ram_role");
	kbsfs_config_free(c);

	c = cfg_new();
	snprintf(path, sizeof(path), "config=%s/kbsfs/aa-config.example.toml",
		 dir ? dir : "tests/data");
	assert_int_equal(kbsfs_config_set_opt(c, path, err, sizeof(err)), KBS_OK);
	assert_int_equal(kbsfs_config_load_file(c, err, sizeof(err)), KBS_OK);
	assert_string_equal(c->kbs_url, "https://127.0.0.1:8080");
	kbsfs_config_free(c);

	/* offline_fs_kbc cannot serve kbsfs: refused with a reason */
	c = cfg_new();
	snprintf(path, sizeof(path), "config=%s/kbsfs/cdh-config.tests.toml",
		 dir ? dir : "tests/data");
	assert_int_equal(kbsfs_config_set_opt(c, path, err, sizeof(err)), KBS_OK);
	assert_int_equal(kbsfs_config_load_file(c, err, sizeof(err)), KBS_ERR_INVAL);
	assert_non_null(strstr(err, "offline_fs_kbc"));
	kbsfs_config_free(c);

	/* a missing file and a TOML syntax error are reported with the file name */
	c = cfg_new();
	assert_int_equal(
	    kbsfs_config_set_opt(c, "config=/nonexistent/kbsfs.toml", err, sizeof(err)), KBS_OK);
	assert_int_not_equal(kbsfs_config_load_file(c, err, sizeof(err)), KBS_OK);
	assert_non_null(strstr(err, "/nonexistent/kbsfs.toml"));
	kbsfs_config_free(c);
	char tmpl[] = "/tmp/kbsfs-cfg-XXXXXX";
	int fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "kbs_url = \"https://k\"\nrefresh = = 3\n", 37), 37);
	close(fd);
	c = cfg_new();
	snprintf(path, sizeof(path), "config=%s", tmpl);
	assert_int_equal(kbsfs_config_set_opt(c, path, err, sizeof(err)), KBS_OK);
	assert_int_not_equal(kbsfs_config_load_file(c, err, sizeof(err)), KBS_OK);
	assert_non_null(strstr(err, tmpl));
	assert_non_null(strstr(err, ":2:"));
	kbsfs_config_free(c);
	unlink(tmpl);
#else
	skip();
#endif
}

static void usage_documents_every_option(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	static const char *const names[] = {"kbs_url=", "kbs_cert=", "tee=",	 "allow_sample",
					    "uid=",	"mode=",     "refresh=", "resources=",
					    "config=",	"pod_namespace=", "service_account=", "EACCES",    "ENOENT",	 "EIO"};

	assert_non_null(f);
	kbsfs_config_usage(f, "kbsfs");
	fclose(f);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_non_null(strstr(text, names[i]));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(path_grammar_matches_trustee_table),
	    cmocka_unit_test(path_normalize_accepts_uri_forms),
	    cmocka_unit_test(options_set_every_field),
	    cmocka_unit_test(options_reject_bad_values_with_message),
	    cmocka_unit_test(resources_list_splits_on_colon_and_keeps_uris),
	    cmocka_unit_test(pod_identity_becomes_the_resource_query),
	    cmocka_unit_test(finish_requires_url_and_explicit_sample),
	    cmocka_unit_test(aa_config_json_gives_kbs_settings),
	    cmocka_unit_test(cdh_style_json_and_priority_of_options),
	    cmocka_unit_test(kbsfs_keys_in_file_and_type_errors),
	    cmocka_unit_test(toml_files_from_guest_components),
	    cmocka_unit_test(usage_documents_every_option),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
