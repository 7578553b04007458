// SPDX-License-Identifier: Apache-2.0
/*
 * AAEL (attester/aael.c): TCG record bytes and digests per algorithm, the TDX/vTPM chains
 * replay to the recorded RTMR3/PCR17 values, the log written through aael_extend equals the
 * recorded file, write-ahead recovery (pending, already extended, foreign extend, malformed),
 * entry validation, CCEL trimming and cc_eventlog assembly (vectors from guest-components
 * testdata, tests/data/attester/aael).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "attester/aael.h"
#include "attester/util.h"
#include "common/b64.h"
#include "common/err.h"

static char *data_path(const char *rel)
{
	static char path[1024];
	const char *dir = getenv("KBS_TEST_DATA");

	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/attester/%s", dir, rel);
	return path;
}

static json_t *load_json(const char *rel)
{
	json_error_t e;
	json_t *j = json_load_file(data_path(rel), 0, &e);

	if (!j)
		fail_msg("%s: %s", rel, e.text);
	return j;
}

static uint8_t *load_file(const char *rel, size_t *n)
{
	uint8_t *p = NULL;

	assert_int_equal(attester_read_file(data_path(rel), 1 << 20, &p, n), KBS_OK);
	return p;
}

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	assert_int_equal(hex_decode(s, strlen(s), out, cap, &n), KBS_OK);
	return n;
}

static uint16_t alg_id(const char *name)
{
	if (strcmp(name, "sha256") == 0)
		return AAEL_ALG_SHA256;
	if (strcmp(name, "sha384") == 0)
		return AAEL_ALG_SHA384;
	return AAEL_ALG_SHA512;
}

static void record_bytes_match_vectors(void **state)
{
	json_t *e = load_json("aael/expected.json"), *v;
	size_t i;

	json_array_foreach(json_object_get(e, "single_event_digests"), i, v) {
		const char *text = json_string_value(json_object_get(v, "aael_text"));
		uint16_t alg = alg_id(json_string_value(json_object_get(v, "alg")));
		uint8_t want[512], d[64], wd[64];
		size_t wn = unhex(json_string_value(json_object_get(v, "tcg_record_hex_mr4")), want,
				  sizeof(want));
		size_t dn = unhex(json_string_value(json_object_get(v, "digest_hex")), wd, sizeof(wd));
		struct buf b = BUF_INIT;

		assert_int_equal(aael_record(4, alg, text, strlen(text), &b, d), KBS_OK);
		assert_int_equal(b.len, wn);
		assert_memory_equal(b.p, want, wn);
		assert_int_equal(aael_alg_len(alg), dn);
		assert_memory_equal(d, wd, dn);
		buf_release(&b);
	}
	json_decref(e);
}

/* Builds the chain's records, compares with the recorded file, replays to the register. */
static void check_chain(json_t *chain, const char *file, uint32_t index_field)
{
	uint16_t alg = alg_id(json_string_value(json_object_get(chain, "alg")));
	size_t dl = aael_alg_len(alg), n, i;
	uint8_t reg[64], want[64], *rec = file ? load_file(file, &n) : NULL;
	struct buf b = BUF_INIT;
	json_t *s;

	unhex(json_string_value(json_object_get(chain, "initial_register_hex")), reg, sizeof(reg));
	json_array_foreach(json_object_get(chain, "steps"), i, s) {
		const char *text = json_string_value(json_object_get(s, "aael_text"));
		struct buf one = BUF_INIT;
		uint8_t r2[64];

		assert_int_equal(aael_record(index_field, alg, text, strlen(text), &one, NULL), KBS_OK);
		assert_int_equal(one.len, json_integer_value(json_object_get(s, "record_len")));
		memcpy(r2, reg, dl);
		assert_int_equal(aael_replay(one.p, one.len, index_field, alg, r2), KBS_OK);
		unhex(json_string_value(json_object_get(s, "register_after_hex")), want, sizeof(want));
		assert_memory_equal(r2, want, dl);
		memcpy(reg, r2, dl);
		assert_int_equal(buf_append(&b, one.p, one.len), KBS_OK);
		buf_release(&one);
	}
	unhex(json_string_value(json_object_get(chain, "final_register_hex")), want, sizeof(want));
	assert_memory_equal(reg, want, dl);
	if (rec) {
		assert_int_equal(b.len, n);
		assert_memory_equal(b.p, rec, n);
		/* the whole recorded file replays to the final value too */
		unhex(json_string_value(json_object_get(chain, "initial_register_hex")), reg,
		      sizeof(reg));
		assert_int_equal(aael_replay(rec, n, index_field, alg, reg), KBS_OK);
		assert_memory_equal(reg, want, dl);
		/* records for another register leave this one alone */
		memset(reg, 0, sizeof(reg));
		assert_int_equal(aael_replay(rec, n, index_field + 1, alg, reg), KBS_OK);
		assert_memory_equal(reg, (uint8_t[64]){0}, dl);
	}
	free(rec);
	buf_release(&b);
}

static void chains_replay_to_recorded_registers(void **state)
{
	json_t *e = load_json("aael/expected.json");
	json_t *v = json_object_get(e, "vtpm_chain");

	check_chain(json_object_get(e, "tdx_chain"), "aael/tdx-rtmr3-aael.bin", 4);
	check_chain(json_object_get(v, "zero_start"), "aael/vtpm-pcr17-aael.bin", 17);
	check_chain(json_object_get(v, "ff_start"), "aael/vtpm-pcr17-aael.bin", 17);
	json_decref(e);
}

static void parse_rejects_damaged_logs(void **state)
{
	size_t n;
	uint8_t *p = load_file("aael/tdx-rtmr3-aael.bin", &n), reg[48] = {0};
	int count = 0;

	assert_int_equal(aael_parse(p, n, NULL, NULL), KBS_OK);
	for (size_t cut = 1; cut < n; cut += 7)
		if (cut != 98 && cut != 186)
			assert_int_equal(aael_parse(p, cut, NULL, NULL), KBS_ERR_PARSE);
	p[20] ^= 1; /* digest of the first record */
	assert_int_equal(aael_parse(p, n, NULL, NULL), KBS_ERR_PARSE);
	p[20] ^= 1;
	p[4] = 3; /* not EV_EVENT_TAG */
	assert_int_equal(aael_parse(p, n, NULL, NULL), KBS_ERR_PARSE);
	p[4] = 6;
	p[n - 1] ^= 0x20; /* text of the last record no longer matches its digest */
	assert_int_equal(aael_replay(p, n, 4, AAEL_ALG_SHA384, reg), KBS_ERR_PARSE);
	p[n - 1] ^= 0x20;
	assert_int_equal(aael_replay(p, n, 4, AAEL_ALG_SHA256, reg), KBS_ERR_PARSE);
	(void)count;
	free(p);
}

static void entries_are_validated(void **state)
{
	assert_int_equal(aael_entry_check("domain", "operation", "content"), KBS_OK);
	assert_int_equal(aael_entry_check("d", "op", ""), KBS_OK);
	assert_int_equal(aael_entry_check("d", "op", "{\"a\": 1}"), KBS_OK);
	assert_int_equal(aael_entry_check("", "op", "c"), KBS_ERR_INVAL);
	assert_int_equal(aael_entry_check("do main", "op", "c"), KBS_ERR_INVAL);
	assert_int_equal(aael_entry_check("d", "op\t", "c"), KBS_ERR_INVAL);
	assert_int_equal(aael_entry_check("d", "op", "line\nbreak"), KBS_ERR_INVAL);
	assert_int_equal(aael_entry_check("d", "op", NULL), KBS_ERR_INVAL);
	assert_int_equal(aael_tdx_ccmr(17), 4);
	assert_int_equal(aael_tdx_ccmr(0), 4);
	assert_int_equal(aael_tdx_ccmr(1), 1);
	assert_int_equal(aael_tdx_ccmr(7), 1);
	assert_int_equal(aael_tdx_ccmr(4), 2);
	assert_int_equal(aael_tdx_ccmr(8), 3);
	assert_int_equal(aael_tdx_ccmr(15), 3);
}

/* In-memory register standing in for RTMR3 (SHA-384). */
struct memreg {
	uint8_t v[48];
	int extends;
};

static int mr_read(void *arg, uint8_t *out, size_t len)
{
	memcpy(out, ((struct memreg *)arg)->v, len);
	return KBS_OK;
}

static int mr_extend(void *arg, const uint8_t *d, size_t len)
{
	struct memreg *m = arg;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	EVP_DigestInit_ex(c, EVP_sha384(), NULL);
	EVP_DigestUpdate(c, m->v, len);
	EVP_DigestUpdate(c, d, len);
	EVP_DigestFinal_ex(c, m->v, NULL);
	EVP_MD_CTX_free(c);
	m->extends++;
	return KBS_OK;
}

static char tmpl[64];

static const char *mkwork(void)
{
	snprintf(tmpl, sizeof(tmpl), "/tmp/kbsfs-aael-XXXXXX");
	assert_non_null(mkdtemp(tmpl));
	return tmpl;
}

static void rmwork(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void extend_writes_recorded_log(void **state)
{
	const char *dir = mkwork();
	char log[256], wal[256];
	struct memreg m = {{0}, 0};
	struct aael_register r = {mr_read, mr_extend, &m};
	struct aael *a = NULL;
	json_t *e = load_json("aael/expected.json");
	uint8_t want[48], *got, *rec;
	size_t n, wn;

	snprintf(log, sizeof(log), "%s/sub/eventlog", dir);
	snprintf(wal, sizeof(wal), "%s/sub/.wal_event_entry", dir);
	assert_int_equal(aael_open(log, AAEL_ALG_SHA384, 4, &r, &a), KBS_OK);
	{
		size_t i;
		json_t *st;

		json_array_foreach(json_object_get(json_object_get(e, "tdx_chain"), "steps"), i, st) {
			json_t *b = json_object_get(st, "rest_body");

			assert_int_equal(aael_extend(a, json_string_value(json_object_get(b, "domain")),
						     json_string_value(json_object_get(b, "operation")),
						     json_string_value(json_object_get(b, "content"))),
					 KBS_OK);
		}
	}
	assert_int_equal(aael_extend(a, "bad domain", "op", "c"), KBS_ERR_INVAL);
	assert_int_equal(aael_extend(a, "d", "op", "a\nb"), KBS_ERR_INVAL);
	aael_close(a);
	assert_int_equal(m.extends, 3);
	unhex(json_string_value(json_object_get(json_object_get(e, "tdx_chain"),
						"final_register_hex")),
	      want, sizeof(want));
	assert_memory_equal(m.v, want, 48);
	assert_int_equal(attester_read_file(log, 1 << 20, &got, &n), KBS_OK);
	rec = load_file("aael/tdx-rtmr3-aael.bin", &wn);
	assert_int_equal(n, wn);
	assert_memory_equal(got, rec, n);
	assert_int_equal(access(wal, F_OK), -1);
	free(got);
	free(rec);
	json_decref(e);
	rmwork(dir);
}

static void wal_recovery(void **state)
{
	const char *dir = mkwork();
	char log[256], wal[256];
	struct memreg m = {{0}, 0};
	struct aael_register r = {mr_read, mr_extend, &m};
	struct aael *a = NULL;
	uint8_t *w, *got, *rec;
	size_t wn, n, rn;
	FILE *f;

	snprintf(log, sizeof(log), "%s/eventlog", dir);
	snprintf(wal, sizeof(wal), "%s/.wal_event_entry", dir);
	w = load_file("aael/wal-cache-example.bin", &wn);
	rec = load_file("aael/tdx-rtmr3-aael.bin", &rn);

	/* crash before the extend: recovery extends once and writes the record */
	f = fopen(wal, "wb");
	fwrite(w, 1, wn, f);
	fclose(f);
	assert_int_equal(aael_open(log, AAEL_ALG_SHA384, 4, &r, &a), KBS_OK);
	aael_close(a);
	assert_int_equal(m.extends, 1);
	assert_memory_equal(m.v, w + 8, 48);
	assert_int_equal(access(wal, F_OK), -1);
	assert_int_equal(attester_read_file(log, 1 << 20, &got, &n), KBS_OK);
	assert_int_equal(n, 98);
	assert_memory_equal(got, rec, 98);
	free(got);

	/* crash after the extend, record half written: no second extend, record completed */
	f = fopen(wal, "wb");
	fwrite(w, 1, wn, f);
	fclose(f);
	assert_int_equal(truncate(log, 40), 0);
	assert_int_equal(aael_open(log, AAEL_ALG_SHA384, 4, &r, &a), KBS_OK);
	aael_close(a);
	assert_int_equal(m.extends, 1);
	assert_int_equal(attester_read_file(log, 1 << 20, &got, &n), KBS_OK);
	assert_int_equal(n, 98);
	assert_memory_equal(got, rec, 98);
	free(got);

	/* someone else extended the register: refuse */
	f = fopen(wal, "wb");
	fwrite(w, 1, wn, f);
	fclose(f);
	m.v[0] ^= 1;
	assert_int_equal(aael_open(log, AAEL_ALG_SHA384, 4, &r, &a), KBS_ERR_VERIFY);
	assert_null(a);
	/* malformed WAL */
	f = fopen(wal, "wb");
	fwrite(w, 1, 20, f);
	fclose(f);
	assert_int_equal(aael_open(log, AAEL_ALG_SHA384, 4, &r, &a), KBS_ERR_PARSE);
	free(w);
	free(rec);
	rmwork(dir);
}

static char *read_b64_file(const char *rel)
{
	size_t n;
	char *s = (char *)load_file(rel, &n);

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

static void cc_eventlog_assembly(void **state)
{
	const char *dir = mkwork();
	char aael[256], none[256], *got = NULL, *want;
	size_t n, keep;
	uint8_t *ccel = load_file("aael/synthetic-ccel.bin", &n), *rec;
	FILE *f;

	assert_int_equal(aael_ccel_trim(ccel, n, &keep), KBS_OK);
	assert_int_equal(keep, 155);
	assert_int_equal(aael_ccel_trim(ccel, 150, &keep), KBS_ERR_PARSE);
	free(ccel);

	rec = load_file("aael/tdx-rtmr3-aael.bin", &n);
	snprintf(aael, sizeof(aael), "%s/eventlog", dir);
	snprintf(none, sizeof(none), "%s/missing", dir);
	f = fopen(aael, "wb");
	fwrite(rec, 1, n, f);
	fclose(f);
	free(rec);

	assert_int_equal(aael_cc_eventlog(none, aael, &got), KBS_OK);
	want = read_b64_file("aael/tdx-cc_eventlog-no-ccel.b64");
	assert_string_equal(got, want);
	free(got);
	free(want);
	assert_int_equal(aael_cc_eventlog(data_path("aael/synthetic-ccel.bin"), aael, &got),
			 KBS_OK);
	want = read_b64_file("aael/tdx-cc_eventlog-with-ccel.b64");
	assert_string_equal(got, want);
	free(got);
	free(want);
	got = (char *)1;
	assert_int_equal(aael_cc_eventlog(none, none, &got), KBS_OK);
	assert_null(got);
	assert_int_equal(aael_cc_eventlog("", "", &got), KBS_OK);
	assert_null(got);
	rmwork(dir);
}

static void el_header_matches_vector(void **state)
{
	size_t n;
	uint8_t *p = load_file("aael/el_header.bin", &n);

	assert_int_equal(n, sizeof(aael_el_header));
	assert_memory_equal(p, aael_el_header, n);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(record_bytes_match_vectors),
		cmocka_unit_test(chains_replay_to_recorded_registers),
		cmocka_unit_test(parse_rejects_damaged_logs),
		cmocka_unit_test(entries_are_validated),
		cmocka_unit_test(extend_writes_recorded_log),
		cmocka_unit_test(wal_recovery),
		cmocka_unit_test(cc_eventlog_assembly),
		cmocka_unit_test(el_header_matches_vector),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
