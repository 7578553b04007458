// SPDX-License-Identifier: Apache-2.0
/*
 * RVPS library: registration messages (Trustee's derived samples), the sample and swid
 * extractors on Trustee's test RIM, record format and expiration arithmetic, expiry enforced
 * on query, the Memory/LocalFs/LocalJson/KV stores in Trustee's on-disk layouts, and config
 * parsing (rvps daemon, AS rvps_config).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/b64.h"
#include "common/err.h"
#include "common/json.h"
#include "rvps/rvps.h"
#include "testdata.h"

static int64_t fake_now = 1700000000; /* 2023-11-14T22:13:20Z */
static int64_t clock_fn(void)
{
	return fake_now;
}

static char *tmpdir(void)
{
	char *d = strdup("/tmp/test_rvps.XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static void rm_rf(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static struct rvps *open_mem(void)
{
	struct rvps_config c;
	struct rvps *r = NULL;
	char why[300];

	rvps_config_init(&c);
	assert_int_equal(rvps_new(&c, &r, why, sizeof(why)), KBS_OK);
	rvps_set_clock(r, clock_fn);
	return r;
}

static void reg_file(struct rvps *r, const char *file)
{
	size_t n;
	char *m = td_read_file("rvps", file, &n);
	char why[300] = "";
	int rc = rvps_register(r, m, n, why, sizeof(why));
	if (rc != KBS_OK)
		fail_msg("%s: %s", file, why);
	free(m);
}

static void assert_json(json_t *v, const char *want)
{
	char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	assert_non_null(t);
	assert_string_equal(t, want);
	free(t);
}

static void test_sample_messages_keep_trustee_shapes(void **state)
{
	struct rvps *r = open_mem();
	json_t *v;
	char why[300];

	reg_file(r, "rvps-sample-message-all-integration-rvs.json");
	/* values reach policies exactly as registered: lists of strings from kbs-client, raw
	 * integers with --as-single-value */
	assert_int_equal(rvps_query(r, "svn", &v, why, sizeof(why)), KBS_OK);
	assert_json(v, "[\"1\"]");
	json_decref(v);
	assert_int_equal(rvps_query(r, "launch_digest", &v, why, sizeof(why)), KBS_OK);
	assert_json(v, "[\"abcde\"]");
	json_decref(v);
	assert_int_equal(rvps_query(r, "major_version", &v, why, sizeof(why)), KBS_OK);
	assert_json(v, "1");
	json_decref(v);
	assert_int_equal(rvps_query(r, "device_svn", &v, why, sizeof(why)), KBS_OK);
	assert_json(v, "[\"2\"]");
	json_decref(v);
	assert_int_equal(rvps_query(r, "nothing", &v, why, sizeof(why)), KBS_ERR_NOTFOUND);
	assert_null(v);
	/* a later message overwrites */
	reg_file(r, "rvps-sample-message-svn.json");
	assert_int_equal(rvps_query(r, "svn", &v, why, sizeof(why)), KBS_OK);
	assert_true(json_is_array(v));
	json_decref(v);
	rvps_free(r);
}

static int reg(struct rvps *r, const char *msg, char *why, size_t whylen)
{
	return rvps_register(r, msg, strlen(msg), why, whylen);
}

static void test_bad_messages_are_refused(void **state)
{
	struct rvps *r = open_mem();
	char why[300];
	json_t *v;

	assert_int_equal(reg(r, "{", why, sizeof(why)), KBS_ERR_PARSE);
	assert_int_equal(reg(r, "[]", why, sizeof(why)), KBS_ERR_INVAL);
	/* version other than 0.1.0 (Trustee's message) */
	assert_int_equal(reg(r, "{\"version\":\"0.2.0\",\"type\":\"sample\",\"payload\":\"e30=\"}",
			     why, sizeof(why)), KBS_ERR_INVAL);
	assert_non_null(strstr(why, "Version unmatched"));
	/* the README's "provenance" member is not what the code reads */
	assert_int_equal(reg(r, "{\"type\":\"sample\",\"provenance\":\"e30=\"}", why, sizeof(why)),
			 KBS_ERR_INVAL);
	assert_non_null(strstr(why, "payload"));
	assert_int_equal(reg(r, "{\"type\":\"sample\",\"payload\":\"e30\"}", why, sizeof(why)),
			 KBS_ERR_INVAL); /* unpadded base64 */
	assert_int_equal(reg(r, "{\"type\":\"spdx\",\"payload\":\"e30=\"}", why, sizeof(why)),
			 KBS_ERR_UNSUPPORTED);
	assert_non_null(strstr(why, "Could not find extractor for spdx"));
	/* payload [] (not an object), names outside Trustee's key set */
	assert_int_equal(reg(r, "{\"type\":\"sample\",\"payload\":\"W10=\"}", why, sizeof(why)),
			 KBS_ERR_PARSE);
	/* {"a b":1} */
	assert_int_equal(reg(r, "{\"type\":\"sample\",\"payload\":\"eyJhIGIiOjF9\"}", why,
			     sizeof(why)), KBS_ERR_INVAL);
	/* {"..":1} */
	assert_int_equal(reg(r, "{\"type\":\"sample\",\"payload\":\"eyIuLiI6MX0=\"}", why,
			     sizeof(why)), KBS_ERR_INVAL);
	/* version omitted defaults to 0.1.0; {"ok":true} */
	assert_int_equal(reg(r, "{\"type\":\"sample\",\"payload\":\"eyJvayI6dHJ1ZX0=\"}", why,
			     sizeof(why)), KBS_OK);
	assert_int_equal(rvps_query(r, "ok", &v, why, sizeof(why)), KBS_OK);
	assert_true(json_is_true(v));
	json_decref(v);
	rvps_free(r);
}

static void test_swid_extracts_trustee_rim(void **state)
{
	size_t n, rawn;
	char *b64 = td_read_file("rvps", "test-rim.b64", &n);
	uint8_t *raw = NULL;
	struct rvps_rv_list l = {0};
	char why[300];
	bool found12 = false;

	while (n > 0 && (b64[n - 1] == '\n' || b64[n - 1] == '\r'))
		n--;
	assert_int_equal(b64_decode_alloc(b64, n, B64_STD, &raw, &rawn), KBS_OK);
	assert_int_equal(rvps_extract_swid(raw, rawn, 42, &l, why, sizeof(why)), KBS_OK);
	assert_true(l.n > 5);
	for (size_t i = 0; i < l.n; i++) {
		assert_int_equal(l.v[i].expiration, 42);
		/* index 0 only has a zero hash: skipped like Trustee */
		assert_string_not_equal(l.v[i].name, "NVIDIA_Corporation.GPU.measurement_0");
		if (!strcmp(l.v[i].name, "NVIDIA_Corporation.GPU.measurement_12")) {
			found12 = true;
			assert_string_equal(json_string_value(json_array_get(l.v[i].value, 0)),
					    "758af96044c700f98a85347be27124d51c05b8784ba216b629b9aa"
					    "ab6d538c759aed9922a133e4ac473564d359b271d5");
		}
	}
	assert_true(found12);
	rvps_rv_list_release(&l);
	/* broken XML, a DOCTYPE (entity tricks), missing Meta */
	const char *bad[] = {"<a", "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>", "<a/>"};
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(rvps_extract_swid((const uint8_t *)bad[i], strlen(bad[i]), 0, &l,
						   why, sizeof(why)), KBS_ERR_PARSE);
	assert_int_equal(l.n, 0);
	free(raw);
	free(b64);
}

static void test_swid_message_registers(void **state)
{
	struct rvps *r = open_mem();
	char why[300];
	json_t *v;

	reg_file(r, "rvps-swid-message-test-rim.json");
	assert_int_equal(rvps_query(r, "NVIDIA_Corporation.GPU.measurement_12", &v, why,
				    sizeof(why)), KBS_OK);
	assert_true(json_is_array(v));
	json_decref(v);
	rvps_free(r);
}

static void test_record_format_and_time(void **state)
{
	struct rvps_rv rv = {(char *)"artifact", json_string("abc"), 0}, back;
	char t[32];
	size_t n;
	int64_t x;
	char *txt = rvps_record_dump(&rv, &n);

	/* Trustee's reference_value_serialize test */
	assert_string_equal(txt, "{\"version\":\"0.1.0\",\"name\":\"artifact\",\"expiration\":"
				 "\"1970-01-01T00:00:00Z\",\"value\":\"abc\"}");
	assert_int_equal(rvps_record_parse((uint8_t *)txt, n, &back), KBS_OK);
	assert_string_equal(back.name, "artifact");
	assert_int_equal(back.expiration, 0);
	assert_string_equal(json_string_value(back.value), "abc");
	rvps_rv_release(&back);
	free(txt);
	json_decref(rv.value);
	/* chrono checked_add_months: end-of-month clamping, leap years */
	assert_int_equal(rvps_time_parse("2024-02-29T12:00:00Z", &x), KBS_OK);
	assert_int_equal(rvps_time_format(rvps_add_months(x, 12), t, sizeof(t)), KBS_OK);
	assert_string_equal(t, "2025-02-28T12:00:00Z");
	assert_int_equal(rvps_time_parse("2026-01-31T23:59:59Z", &x), KBS_OK);
	assert_int_equal(rvps_time_format(rvps_add_months(x, 1), t, sizeof(t)), KBS_OK);
	assert_string_equal(t, "2026-02-28T23:59:59Z");
	assert_int_equal(rvps_time_format(rvps_add_months(1700000000, 12), t, sizeof(t)), KBS_OK);
	assert_string_equal(t, "2024-11-14T22:13:20Z");
	assert_int_equal(rvps_time_format(-1, t, sizeof(t)), KBS_OK);
	assert_string_equal(t, "1969-12-31T23:59:59Z");
	const char *bad[] = {"2024-02-30T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01 00:00:00Z",
			     "2024-01-01T00:00:00", "2024-01-01T24:00:00Z", "2024-01-01T00:00:00+00:00",
			     "+024-01-01T00:00:00Z"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(rvps_time_parse(bad[i], &x), KBS_ERR_PARSE);
	/* records: missing members and malformed expiration */
	const char *badrec[] = {"{\"name\":\"a\",\"value\":1}", "{\"name\":\"a\",\"expiration\":"
				"\"x\",\"value\":1}", "{\"expiration\":\"1970-01-01T00:00:00Z\","
				"\"value\":1}", "[]"};
	for (size_t i = 0; i < 4; i++)
		assert_int_not_equal(rvps_record_parse((const uint8_t *)badrec[i],
						       strlen(badrec[i]), &back), KBS_OK);
}

static void test_expired_values_are_not_returned(void **state)
{
	struct rvps *r = open_mem();
	char why[300];
	json_t *v;

	fake_now = 1700000000;
	reg_file(r, "rvps-sample-message-svn.json");
	/* 12 months later minus a second: still valid */
	fake_now = rvps_add_months(1700000000, 12);
	assert_int_equal(rvps_query(r, "svn", &v, why, sizeof(why)), KBS_OK);
	json_decref(v);
	/* one second past the expiration: not returned (Trustee would return it) */
	fake_now += 1;
	assert_int_equal(rvps_query(r, "svn", &v, why, sizeof(why)), KBS_ERR_NOTFOUND);
	assert_null(v);
	assert_non_null(strstr(why, "expired"));
	/* re-registering renews it */
	reg_file(r, "rvps-sample-message-svn.json");
	assert_int_equal(rvps_query(r, "svn", &v, why, sizeof(why)), KBS_OK);
	json_decref(v);
	fake_now = 1700000000;
	rvps_free(r);
}

static struct rvps *open_cfg(struct rvps_config *c)
{
	struct rvps *r = NULL;
	char why[300] = "";
	int rc = rvps_new(c, &r, why, sizeof(why));
	if (rc != KBS_OK)
		fail_msg("rvps_new: %s", why);
	rvps_set_clock(r, clock_fn);
	return r;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_localfs_layout_and_persistence(void **state)
{
	char *d = tmpdir(), path[600], why[300];
	struct rvps_config c;
	struct rvps *r;
	json_t *v;
	size_t n;

	rvps_config_init(&c);
	c.storage = RVPS_STORE_LOCALFS;
	c.dir_path = d;
	r = open_cfg(&c);
	/* {"a/b":["x"]} */
	assert_int_equal(reg(r, "{\"type\":\"sample\",\"payload\":\"eyJhL2IiOlsieCJdfQ==\"}", why,
			     sizeof(why)), KBS_OK);
	rvps_free(r);
	/* Trustee's LocalFs: <dir>/reference_value/a\x2Fb holding the record; no temp files */
	snprintf(path, sizeof(path), "%s/reference_value", d);
	assert_int_equal(count_entries(path), 1);
	snprintf(path, sizeof(path), "%s/reference_value/a\\x2Fb", d);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	{
		FILE *f = fopen(path, "r");
		char buf[512] = "";
		struct rvps_rv rv;
		assert_non_null(f);
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		assert_int_equal(rvps_record_parse((uint8_t *)buf, n, &rv), KBS_OK);
		assert_string_equal(rv.name, "a/b");
		assert_int_equal(rv.expiration, rvps_add_months(fake_now, 12));
		rvps_rv_release(&rv);
	}
	/* a new instance reads what the old one wrote */
	r = open_cfg(&c);
	assert_int_equal(rvps_query(r, "a/b", &v, why, sizeof(why)), KBS_OK);
	assert_json(v, "[\"x\"]");
	json_decref(v);
	/* a record written by Trustee with a past expiration is not returned */
	snprintf(path, sizeof(path), "%s/reference_value/old", d);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"version\":\"0.1.0\",\"name\":\"old\",\"expiration\":\"2020-01-01T00:00:00Z\","
	      "\"value\":[\"1\"]}", f);
	fclose(f);
	assert_int_equal(rvps_query(r, "old", &v, why, sizeof(why)), KBS_ERR_NOTFOUND);
	/* names that would escape the directory never reach the file system */
	assert_int_equal(rvps_query(r, "..", &v, why, sizeof(why)), KBS_ERR_NOTFOUND);
	assert_int_equal(rvps_delete(r, "a/b", why, sizeof(why)), KBS_OK);
	assert_int_equal(rvps_query(r, "a/b", &v, why, sizeof(why)), KBS_ERR_NOTFOUND);
	assert_int_equal(rvps_delete(r, "a/b", why, sizeof(why)), KBS_ERR_NOTFOUND);
	rvps_free(r);
	rm_rf(d);
	free(d);
}

static void test_localjson_layout_and_persistence(void **state)
{
	char *d = tmpdir(), path[600], why[300];
	struct rvps_config c;
	struct rvps *r;
	json_t *v, *file;
	const char *enc;
	uint8_t *raw;
	size_t rawn, len;

	rvps_config_init(&c);
	c.storage = RVPS_STORE_LOCALJSON;
	c.file_dir_path = d;
	r = open_cfg(&c);
	reg_file(r, "rvps-sample-message-all-integration-rvs.json");
	rvps_free(r);
	/* Trustee's LocalJson: <dir>/reference_value (no suffix), values base64url padded */
	snprintf(path, sizeof(path), "%s/reference_value", d);
	file = json_load_file(path, 0, NULL);
	assert_true(json_is_object(file));
	assert_int_equal(json_object_size(file), 5);
	enc = json_string_value(json_object_get(file, "svn"));
	assert_non_null(enc);
	len = strlen(enc);
	assert_int_equal(len % 4, 0);
	while (len && enc[len - 1] == '=')
		len--;
	assert_int_equal(b64_decode_alloc(enc, len, B64_URL, &raw, &rawn), KBS_OK);
	assert_non_null(strstr((char *)raw, "\"name\":\"svn\""));
	free(raw);
	json_decref(file);
	r = open_cfg(&c);
	assert_int_equal(rvps_query(r, "minimum_minor_version", &v, why, sizeof(why)), KBS_OK);
	assert_json(v, "1");
	json_decref(v);
	assert_int_equal(count_entries(d), 1); /* no temporary files left behind */
	rvps_free(r);
	/* a corrupt file is an error, not an empty store */
	FILE *f = fopen(path, "w");
	fputs("not json", f);
	fclose(f);
	r = open_cfg(&c);
	assert_int_equal(rvps_query(r, "svn", &v, why, sizeof(why)), KBS_ERR_PARSE);
	rvps_free(r);
	rm_rf(d);
	free(d);
}

/* a key-value backend standing in for the kbs Postgres table */
static int kv_get(void *ctx, const char *key, struct buf *out)
{
	json_t *v = json_object_get(ctx, key);
	if (!v)
		return KBS_ERR_NOTFOUND;
	buf_reset(out);
	return buf_append(out, json_string_value(v), json_string_length(v));
}
static int kv_set(void *ctx, const char *key, const void *val, size_t len)
{
	return json_object_set_new(ctx, key, json_stringn(val, len)) ? KBS_ERR_NOMEM : KBS_OK;
}
static int kv_del(void *ctx, const char *key)
{
	return json_object_del(ctx, key) ? KBS_ERR_NOTFOUND : KBS_OK;
}
static const struct rvps_kv_ops kv_ops = {kv_get, kv_set, kv_del};

static void test_kv_backend_holds_records(void **state)
{
	json_t *table = json_object(), *v;
	struct rvps_config c;
	struct rvps *r;
	char why[300];
	struct rvps_rv rv;
	json_t *rec;

	rvps_config_init(&c);
	c.storage = RVPS_STORE_KV;
	c.kv = &kv_ops;
	c.kv_ctx = table;
	r = open_cfg(&c);
	reg_file(r, "rvps-sample-message-launch_digest.json");
	rec = json_object_get(table, "launch_digest");
	assert_non_null(rec);
	assert_int_equal(rvps_record_parse((const uint8_t *)json_string_value(rec),
					   json_string_length(rec), &rv), KBS_OK);
	assert_string_equal(rv.name, "launch_digest");
	rvps_rv_release(&rv);
	assert_int_equal(rvps_query(r, "launch_digest", &v, why, sizeof(why)), KBS_OK);
	json_decref(v);
	rvps_free(r);
	json_decref(table);
}

static json_t *j(const char *t)
{
	json_t *v = json_loads(t, 0, NULL);
	assert_non_null(v);
	return v;
}

static void test_config_parsing(void **state)
{
	struct rvps_config c;
	char why[300];
	json_t *o;

	/* the Helm chart's rvps.json with LocalFs */
	rvps_config_init(&c);
	o = j("{\"storage\":{\"storage_type\":\"LocalFs\",\"backends\":{\"local_fs\":{\"dir_path\":"
	      "\"/x/rv\"},\"local_json\":{\"file_dir_path\":\"/y\"},\"postgres\":{},\"redis\":{}}},"
	      "\"extractors\":{\"swid_extractor\":{}}}");
	assert_int_equal(rvps_config_from_json(o, &c, why, sizeof(why)), KBS_OK);
	assert_int_equal(c.storage, RVPS_STORE_LOCALFS);
	assert_string_equal(c.dir_path, "/x/rv");
	json_decref(o);
	rvps_config_release(&c);
	/* LocalJson with the default directory */
	o = j("{\"storage\":{\"storage_type\":\"local_json\",\"backends\":{\"local_json\":{}}}}");
	assert_int_equal(rvps_config_from_json(o, &c, why, sizeof(why)), KBS_OK);
	assert_int_equal(c.storage, RVPS_STORE_LOCALJSON);
	assert_string_equal(c.file_dir_path, "/opt/confidential-containers/storage/local_json");
	json_decref(o);
	rvps_config_release(&c);
	/* docker-compose's legacy shape: Trustee >= 0.18 ignores it -> Memory */
	o = j("{\"storage\":{\"type\":\"LocalFs\",\"file_path\":\"/opt/x\"}}");
	assert_int_equal(rvps_config_from_json(o, &c, why, sizeof(why)), KBS_OK);
	assert_int_equal(c.storage, RVPS_STORE_MEMORY);
	json_decref(o);
	rvps_config_release(&c);
	/* LocalFs without its backend table is Trustee's "Local FS configuration is required" */
	o = j("{\"storage\":{\"storage_type\":\"LocalFs\"}}");
	assert_int_equal(rvps_config_from_json(o, &c, why, sizeof(why)), KBS_ERR_INVAL);
	assert_non_null(strstr(why, "Local FS configuration is required"));
	json_decref(o);
	rvps_config_release(&c);
	o = j("{\"storage\":{\"storage_type\":\"Floppy\"}}");
	assert_int_equal(rvps_config_from_json(o, &c, why, sizeof(why)), KBS_ERR_INVAL);
	json_decref(o);
	rvps_config_release(&c);
	o = j("{\"storage\":{\"storage_type\":7}}");
	assert_int_equal(rvps_config_from_json(o, &c, why, sizeof(why)), KBS_ERR_INVAL);
	assert_non_null(strstr(why, "storage.storage_type"));
	json_decref(o);
	rvps_config_release(&c);
	/* AS rvps_config */
	o = j("{\"type\":\"GrpcRemote\"}");
	assert_int_equal(rvps_config_from_as_json(o, &c, why, sizeof(why)), KBS_OK);
	assert_int_equal(c.mode, RVPS_GRPC_REMOTE);
	assert_string_equal(c.address, "127.0.0.1:50003");
	json_decref(o);
	rvps_config_release(&c);
	o = j("{\"type\":\"GrpcRemote\",\"address\":\"http://rvps:50003\"}");
	assert_int_equal(rvps_config_from_as_json(o, &c, why, sizeof(why)), KBS_OK);
	assert_string_equal(c.address, "http://rvps:50003");
	json_decref(o);
	rvps_config_release(&c);
	o = j("{\"type\":\"BuiltIn\",\"storage_type\":\"LocalJson\",\"extractors\":"
	      "{\"swid_extractor\":{}}}");
	assert_int_equal(rvps_config_from_as_json(o, &c, why, sizeof(why)), KBS_OK);
	assert_int_equal(c.mode, RVPS_BUILTIN);
	assert_int_equal(c.storage, RVPS_STORE_LOCALJSON);
	json_decref(o);
	rvps_config_release(&c);
	o = j("{\"type\":\"Remote\"}");
	assert_int_equal(rvps_config_from_as_json(o, &c, why, sizeof(why)), KBS_ERR_INVAL);
	json_decref(o);
	rvps_config_release(&c);
}

static void test_remote_unreachable_fails_closed(void **state)
{
	struct rvps_config c;
	struct rvps *r = NULL;
	char why[300] = "";
	json_t *v = NULL;
	int rc;

	rvps_config_init(&c);
	c.mode = RVPS_GRPC_REMOTE;
	c.address = strdup("http://127.0.0.1:1");
	rc = rvps_new(&c, &r, why, sizeof(why));
#ifdef KBS_HAVE_GRPC
	assert_int_equal(rc, KBS_OK);
	rc = rvps_query(r, "svn", &v, why, sizeof(why));
	/* not "absent": the caller must know the RVPS could not answer */
	assert_int_not_equal(rc, KBS_OK);
	assert_int_not_equal(rc, KBS_ERR_NOTFOUND);
	assert_null(v);
#else
	assert_int_equal(rc, KBS_ERR_UNSUPPORTED);
#endif
	rvps_free(r);
	rvps_config_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample_messages_keep_trustee_shapes),
		cmocka_unit_test(test_bad_messages_are_refused),
		cmocka_unit_test(test_swid_extracts_trustee_rim),
		cmocka_unit_test(test_swid_message_registers),
		cmocka_unit_test(test_record_format_and_time),
		cmocka_unit_test(test_expired_values_are_not_returned),
		cmocka_unit_test(test_localfs_layout_and_persistence),
		cmocka_unit_test(test_localjson_layout_and_persistence),
		cmocka_unit_test(test_kv_backend_holds_records),
		cmocka_unit_test(test_config_parsing),
		cmocka_unit_test(test_remote_unreachable_fails_closed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
