// SPDX-License-Identifier: Apache-2.0
/*
 * configfs-tsm attester (attester/tsm.c) against a fake report tree that behaves like the
 * kernel's: a fresh entry has provider/generation/inblob/outblob/auxblob; a "kernel" thread
 * takes the report data written to inblob, bumps generation and serves outblob = a recorded
 * real report (Trustee's SNP Genoa report, TDX quote v4) with that report data patched in.
 * Proves: report data zero-padded to 64 bytes, evidence shapes of Trustee's samples, the SNP
 * certificate table, the legacy /dev/sev-guest ioctl path, cc_eventlog, the generation race check, provider mismatch, entry removal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sys/ioctl.h>
#include <linux/sev-guest.h>

#include "attester/tpm.h"
#include "attester/tsm.h"
#include "attester/util.h"
#include "common/b64.h"
#include "common/err.h"
#include "common/snp_report.h"

struct fake {
	const char *provider;
	const uint8_t *report;
	size_t report_len;
	size_t rd_offset;
	const uint8_t *aux;
	size_t aux_len;
	int generation_bump; /* 1 = like the kernel; 2 = a concurrent writer raced */
	pthread_t thread;
	bool running;
	char dir[512];
	uint8_t seen[64];
	size_t seen_len;
	int entries;
	volatile int done;
};

static void put(const char *dir, const char *name, const void *p, size_t n)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	if (n)
		assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

static void *kernel(void *arg)
{
	struct fake *fk = arg;
	char path[600], gen[16];
	uint8_t *out;
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "%s/inblob", fk->dir);
	fd = open(path, O_RDONLY);
	fk->seen_len = 0;
	while (fd >= 0 && (r = read(fd, fk->seen + fk->seen_len, sizeof(fk->seen) - fk->seen_len)) > 0)
		fk->seen_len += (size_t)r;
	if (fd >= 0)
		close(fd);
	if (fk->seen_len == 0) {
		fk->done = 1;
		return NULL; /* entry removed without a request */
	}
	snprintf(gen, sizeof(gen), "%d\n", fk->generation_bump);
	put(fk->dir, "generation", gen, strlen(gen));
	out = malloc(fk->report_len);
	memcpy(out, fk->report, fk->report_len);
	memcpy(out + fk->rd_offset, fk->seen, 64);
	snprintf(path, sizeof(path), "%s/outblob", fk->dir);
	fd = open(path, O_WRONLY);
	if (fd >= 0) {
		(void)!write(fd, out, fk->report_len);
		close(fd);
	}
	free(out);
	fk->done = 1;
	return NULL;
}

static int fake_mkdir(const char *path, void *arg)
{
	struct fake *fk = arg;
	char p[600];

	if (mkdir(path, 0700) != 0)
		return -1;
	snprintf(fk->dir, sizeof(fk->dir), "%s", path);
	put(path, "provider", fk->provider, strlen(fk->provider));
	put(path, "generation", "0\n", 2);
	if (fk->aux)
		put(path, "auxblob", fk->aux, fk->aux_len);
	snprintf(p, sizeof(p), "%s/inblob", path);
	assert_int_equal(mkfifo(p, 0600), 0);
	snprintf(p, sizeof(p), "%s/outblob", path);
	assert_int_equal(mkfifo(p, 0600), 0);
	fk->done = 0;
	assert_int_equal(pthread_create(&fk->thread, NULL, kernel, fk), 0);
	fk->running = true;
	fk->entries++;
	return 0;
}

static int fake_rmdir(const char *path, void *arg)
{
	struct fake *fk = arg;
	static const char *names[] = {"provider", "generation", "auxblob", "inblob", "outblob"};
	char p[600];
	int fd;

	if (fk->running) {
		/* wake a kernel thread still waiting for inblob (request abandoned) */
		snprintf(p, sizeof(p), "%s/inblob", path);
		while (!fk->done) {
			/* ENXIO until the thread has opened its end */
			fd = open(p, O_WRONLY | O_NONBLOCK);
			if (fd >= 0) {
				close(fd);
				break;
			}
			usleep(1000);
		}
		pthread_join(fk->thread, NULL);
		fk->running = false;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", path, names[i]);
		unlink(p);
	}
	fk->entries--;
	return rmdir(path);
}

static char root[64];

static void make_root(struct tsm_cfg *cfg, struct fake *fk)
{
	snprintf(root, sizeof(root), "/tmp/kbsfs-tsm-XXXXXX");
	assert_non_null(mkdtemp(root));
	memset(cfg, 0, sizeof(*cfg));
	cfg->root = root;
	cfg->ccel_path = "";
	cfg->aael_path = "";
	cfg->mkdir_fn = fake_mkdir;
	cfg->rmdir_fn = fake_rmdir;
	cfg->hook_arg = fk;
}

static void drop_root(struct fake *fk)
{
	DIR *d = opendir(root);
	struct dirent *e;
	int left = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			left++;
	closedir(d);
	assert_int_equal(left, 0); /* every entry was removed */
	assert_int_equal(fk->entries, 0);
	assert_int_equal(rmdir(root), 0);
}

static uint8_t *load(const char *rel, size_t *n)
{
	char path[1024];
	uint8_t *p = NULL;

	snprintf(path, sizeof(path), "%s/%s", getenv("KBS_TEST_DATA"), rel);
	assert_int_equal(attester_read_file(path, 1 << 20, &p, n), KBS_OK);
	return p;
}

static json_t *load_json(const char *rel)
{
	char path[1024];
	json_error_t e;
	json_t *j;

	snprintf(path, sizeof(path), "%s/%s", getenv("KBS_TEST_DATA"), rel);
	j = json_load_file(path, 0, &e);
	if (!j)
		fail_msg("%s: %s", rel, e.text);
	return j;
}

static void bytes_of(json_t *arr, uint8_t *out, size_t n)
{
	assert_true(json_is_array(arr));
	assert_int_equal(json_array_size(arr), n);
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)json_integer_value(json_array_get(arr, i));
}

/* Same member names with the same JSON types (numbers and null interchangeable). */
static void same_shape(json_t *a, json_t *b, const char *where)
{
	const char *k;
	json_t *v;

	if (json_is_object(a)) {
		assert_true(json_is_object(b));
		json_object_foreach(a, k, v) {
			json_t *w = json_object_get(b, k);

			if (!w)
				fail_msg("%s.%s missing", where, k);
			same_shape(v, w, k);
		}
		assert_int_equal(json_object_size(a), json_object_size(b));
		return;
	}
	if (json_is_null(a) || json_is_null(b) || json_is_integer(a))
		return;
	assert_int_equal(json_typeof(a), json_typeof(b));
}

static uint8_t *cert_table(const uint8_t *vcek, size_t vn, size_t *len)
{
	/* two entries (VCEK first, then ARK: the evidence sorts them), terminator, payloads */
	static const uint8_t vcek_guid[16] = {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
					      0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd};
	static const uint8_t ark_guid[16] = {0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52,
					     0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae};
	size_t hdr = 3 * 24, n = hdr + vn + 3;
	uint8_t *t = calloc(1, n);
	uint32_t o1 = (uint32_t)hdr, o2 = (uint32_t)(hdr + vn);

	memcpy(t, vcek_guid, 16);
	memcpy(t + 16, &o1, 4);
	memcpy(t + 20, &(uint32_t){(uint32_t)vn}, 4);
	memcpy(t + 24, ark_guid, 16);
	memcpy(t + 40, &o2, 4);
	memcpy(t + 44, &(uint32_t){3}, 4);
	memcpy(t + hdr, vcek, vn);
	memcpy(t + hdr + vn, "ARK", 3);
	*len = n;
	return t;
}

static void snp_evidence_from_fake_tree(void **state)
{
	struct fake fk = {.provider = "sev_guest\n", .rd_offset = 0x50, .generation_bump = 1};
	struct tsm_cfg cfg;
	size_t rn, vn, tn;
	uint8_t *rep = load("snp/genoa-v3-report.bin", &rn), *vcek = load("snp/genoa-v3-vcek.der", &vn);
	uint8_t *tab = cert_table(vcek, vn, &tn), rd[48], got[64], want[64] = {0};
	json_t *ev = NULL, *ar, *chain, *sample, *shape, *orig;
	struct snp_report r;
	char why[128];

	for (int i = 0; i < 48; i++)
		rd[i] = (uint8_t)(0xa0 + i);
	fk.report = rep;
	fk.report_len = rn;
	fk.aux = tab;
	fk.aux_len = tn;
	make_root(&cfg, &fk);
	assert_int_equal(tsm_snp_evidence(&cfg, rd, sizeof(rd), &ev), KBS_OK);
	/* the kernel saw exactly 64 bytes: the digest, zero-padded */
	memcpy(want, rd, 48);
	assert_int_equal(fk.seen_len, 64);
	assert_memory_equal(fk.seen, want, 64);
	ar = json_object_get(ev, "attestation_report");
	bytes_of(json_object_get(ar, "report_data"), got, 64);
	assert_memory_equal(got, want, 64);
	/* every other field is the recorded report's */
	assert_int_equal(snp_report_decode(rep, rn, &r, why, sizeof(why)), KBS_OK);
	memcpy(r.report_data, want, 64);
	orig = snp_report_to_json(&r);
	assert_true(json_equal(orig, ar));
	/* shapes: guest-components' sev-6 shape exactly; Trustee's e2e sample (older sev) too */
	shape = load_json("attester/evidence/shape-snp.json");
	same_shape(json_object_get(shape, "attestation_report"), ar, "attestation_report");
	sample = load_json("snp/e2e-evidence-genoa.json");
	{
		const char *k;
		json_t *v;

		json_object_foreach(json_object_get(sample, "attestation_report"), k, v)
			assert_non_null(json_object_get(ar, k));
	}
	chain = json_object_get(ev, "cert_chain");
	assert_int_equal(json_array_size(chain), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(chain, 0), "cert_type")),
			    "ARK");
	assert_string_equal(json_string_value(json_object_get(json_array_get(chain, 1), "cert_type")),
			    "VCEK");
	{
		uint8_t *c = malloc(vn);

		bytes_of(json_object_get(json_array_get(chain, 1), "data"), c, vn);
		assert_memory_equal(c, vcek, vn);
		free(c);
	}
	assert_int_equal(json_object_size(ev), 2);
	json_decref(ev);
	ev = NULL;
	/* no auxblob: cert_chain null */
	fk.aux = NULL;
	assert_int_equal(tsm_snp_evidence(&cfg, rd, 32, &ev), KBS_OK);
	assert_true(json_is_null(json_object_get(ev, "cert_chain")));
	json_decref(ev);
	drop_root(&fk);
	json_decref(orig);
	json_decref(shape);
	json_decref(sample);
	free(rep);
	free(vcek);
	free(tab);
}

static void tdx_evidence_from_fake_tree(void **state)
{
	struct fake fk = {.provider = "tdx_guest\n", .rd_offset = 568, .generation_bump = 1};
	struct tsm_cfg cfg;
	size_t qn, n;
	uint8_t *q = load("tdx/tdx_quote_4.dat", &qn), rd[64], *dec = NULL;
	json_t *ev = NULL, *shape = load_json("attester/evidence/shape-tdx.json");
	char aael[128], *want;

	for (int i = 0; i < 64; i++)
		rd[i] = (uint8_t)i;
	fk.report = q;
	fk.report_len = qn;
	make_root(&cfg, &fk);
	assert_int_equal(tsm_tdx_evidence(&cfg, rd, 64, &ev), KBS_OK);
	same_shape(shape, ev, "tdx");
	assert_true(json_is_null(json_object_get(ev, "cc_eventlog")));
	assert_int_equal(b64_decode_alloc(json_string_value(json_object_get(ev, "quote")),
					  strlen(json_string_value(json_object_get(ev, "quote"))),
					  B64_STD, &dec, &n),
			 KBS_OK);
	assert_int_equal(n, qn);
	assert_memory_equal(dec + 568, rd, 64);
	assert_memory_equal(dec, q, 568);
	assert_memory_equal(dec + 632, q + 632, qn - 632);
	free(dec);
	json_decref(ev);
	ev = NULL;
	/* with an AAEL: cc_eventlog = EL_HEADER ‖ AAEL ‖ ff×8 */
	snprintf(aael, sizeof(aael), "%s/%s", getenv("KBS_TEST_DATA"), "attester/aael/tdx-rtmr3-aael.bin");
	cfg.aael_path = aael;
	assert_int_equal(tsm_tdx_evidence(&cfg, rd, 48, &ev), KBS_OK);
	want = (char *)load("attester/aael/tdx-cc_eventlog-no-ccel.b64", &n);
	want[strcspn(want, "\n")] = 0;
	assert_string_equal(json_string_value(json_object_get(ev, "cc_eventlog")), want);
	free(want);
	json_decref(ev);
	drop_root(&fk);
	json_decref(shape);
	free(q);
}

static void refusals(void **state)
{
	struct fake fk = {.provider = "tdx_guest\n", .rd_offset = 568, .generation_bump = 2};
	struct tsm_cfg cfg;
	size_t qn;
	uint8_t *q = load("tdx/tdx_quote_4.dat", &qn), rd[65] = {1};
	struct buf out = BUF_INIT;
	json_t *ev = NULL;
	char prov[32];

	fk.report = q;
	fk.report_len = qn;
	make_root(&cfg, &fk);
	/* generation 2: another writer used the entry */
	assert_int_equal(tsm_tdx_evidence(&cfg, rd, 32, &ev), KBS_ERR_BUSY);
	assert_null(ev);
	/* the entry belongs to another provider */
	fk.generation_bump = 1;
	assert_int_equal(tsm_snp_evidence(&cfg, rd, 32, &ev), KBS_ERR_UNSUPPORTED);
	assert_int_equal(tsm_provider(&cfg, prov, sizeof(prov)), KBS_OK);
	assert_string_equal(prov, "tdx_guest");
	/* report data longer than the field */
	assert_int_equal(tsm_report(&cfg, "tdx_guest", rd, 65, &out, NULL), KBS_ERR_RANGE);
	drop_root(&fk);
	/* no configfs-tsm at all */
	assert_int_equal(tsm_report(&cfg, "tdx_guest", rd, 32, &out, NULL), KBS_ERR_NOTFOUND);
	buf_release(&out);
	free(q);
}

/* Kernel stand-in for SNP_GET_EXT_REPORT: first answers "certificate buffer too small". */
struct fake_sev {
	const uint8_t *report;
	const uint8_t *table;
	size_t table_len;
	int calls;
};

static int fake_sev_ioctl(int fd, unsigned long req, void *arg, void *hook_arg)
{
	struct fake_sev *fs = hook_arg;
	struct snp_guest_request_ioctl *g = arg;
	struct snp_ext_report_req *r = (struct snp_ext_report_req *)(uintptr_t)g->req_data;
	struct snp_report_resp *resp = (struct snp_report_resp *)(uintptr_t)g->resp_data;
	uint32_t size = 1184;
	const unsigned long want_req = SNP_GET_EXT_REPORT;

	(void)fd;
	fs->calls++;
	assert_true(req == want_req);
	assert_int_equal(g->msg_version, 1);
	assert_int_equal(r->data.vmpl, 0);
	if (r->certs_len < 5 * 4096) {
		r->certs_len = 5 * 4096;
		g->exitinfo2 = (uint64_t)SNP_GUEST_VMM_ERR_INVALID_LEN << 32;
		return -1;
	}
	memset(resp->data, 0, 32);
	memcpy(resp->data + 4, &size, 4);
	memcpy(resp->data + 32, fs->report, 1184);
	memcpy(resp->data + 32 + 0x50, r->data.user_data, 64);
	memcpy((uint8_t *)(uintptr_t)r->certs_address, fs->table, fs->table_len);
	return 0;
}

static void snp_evidence_from_legacy_ioctl(void **state)
{
	size_t rn, vn, tn;
	uint8_t *rep = load("snp/genoa-v3-report.bin", &rn), *vcek = load("snp/genoa-v3-vcek.der", &vn);
	uint8_t *tab = cert_table(vcek, vn, &tn), rd[32], got[64], want[64] = {0};
	struct fake_sev fs = {rep, tab, tn, 0};
	struct tsm_cfg cfg;
	json_t *ev = NULL;

	memset(rd, 0x5a, sizeof(rd));
	memcpy(want, rd, sizeof(rd));
	memset(&cfg, 0, sizeof(cfg));
	cfg.root = "/nonexistent/tsm/report"; /* no configfs-tsm: falls back to the ioctl */
	cfg.sev_ioctl_fn = fake_sev_ioctl;
	cfg.hook_arg = &fs;
	assert_int_equal(tsm_snp_evidence(&cfg, rd, sizeof(rd), &ev), KBS_OK);
	assert_int_equal(fs.calls, 2); /* retried with the size the kernel asked for */
	bytes_of(json_object_get(json_object_get(ev, "attestation_report"), "report_data"), got, 64);
	assert_memory_equal(got, want, 64);
	assert_int_equal(json_array_size(json_object_get(ev, "cert_chain")), 2);
	json_decref(ev);
	free(rep);
	free(vcek);
	free(tab);
}

/* The runtime-data binding vector: digest → 64-byte TDX/SNP report data, 32-byte TPM nonce. */
static void report_data_per_tee_from_binding_vector(void **state)
{
	static const char *algs[] = {"sha256", "sha384", "sha512"};
	json_t *v = load_json("attester/evidence/runtime-data-binding.json");
	struct fake fk = {.provider = "tdx_guest\n", .rd_offset = 568, .generation_bump = 1};
	struct tsm_cfg cfg;
	size_t qn;
	uint8_t *q = load("tdx/tdx_quote_4.dat", &qn);

	fk.report = q;
	fk.report_len = qn;
	make_root(&cfg, &fk);
	for (int i = 0; i < 3; i++) {
		json_t *a = json_object_get(json_object_get(v, "by_alg"), algs[i]), *ev = NULL;
		uint8_t dg[64], want64[64], want32[32], got32[32];
		size_t dn = 0, n = 0;
		const char *s;

		s = json_string_value(json_object_get(a, "primary_digest_hex"));
		assert_int_equal(hex_decode(s, strlen(s), dg, sizeof(dg), &dn), KBS_OK);
		s = json_string_value(
			json_object_get(a, "report_data_64_hex (tdx/snp/csv/cca: zero-padded)"));
		assert_int_equal(hex_decode(s, strlen(s), want64, sizeof(want64), &n), KBS_OK);
		s = json_string_value(
			json_object_get(a, "tpm_report_data_32_hex (truncated/padded to 32)"));
		assert_int_equal(hex_decode(s, strlen(s), want32, sizeof(want32), &n), KBS_OK);
		assert_int_equal(tsm_tdx_evidence(&cfg, dg, dn, &ev), KBS_OK);
		assert_int_equal(fk.seen_len, 64);
		assert_memory_equal(fk.seen, want64, 64);
		tpm_report_data(dg, dn, got32);
		assert_memory_equal(got32, want32, 32);
		json_decref(ev);
	}
	drop_root(&fk);
	json_decref(v);
	free(q);
}

static void cert_table_parsing(void **state)
{
	uint8_t t[48] = {0};
	json_t *out = NULL;

	assert_int_equal(tsm_snp_cert_chain(NULL, 0, &out), KBS_OK);
	assert_true(json_is_null(out));
	json_decref(out);
	assert_int_equal(tsm_snp_cert_chain(t, 24, &out), KBS_OK); /* terminator only */
	assert_true(json_is_null(out));
	json_decref(out);
	/* entry pointing past the end */
	t[0] = 1;
	t[16] = 40;
	t[20] = 20;
	assert_int_equal(tsm_snp_cert_chain(t, 48, &out), KBS_ERR_PARSE);
	/* unknown GUID becomes {"OTHER": uuid}; missing terminator is an error */
	t[20] = 8;
	assert_int_equal(tsm_snp_cert_chain(t, 24, &out), KBS_ERR_PARSE);
	assert_int_equal(tsm_snp_cert_chain(t, 48, &out), KBS_OK);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_array_get(out, 0), "cert_type"), "OTHER")),
			    "01000000-0000-0000-0000-000000000000");
	json_decref(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(snp_evidence_from_fake_tree),
		cmocka_unit_test(tdx_evidence_from_fake_tree),
		cmocka_unit_test(refusals),
		cmocka_unit_test(cert_table_parsing),
		cmocka_unit_test(snp_evidence_from_legacy_ioctl),
		cmocka_unit_test(report_data_per_tee_from_binding_vector),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
