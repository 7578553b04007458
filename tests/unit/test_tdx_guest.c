// SPDX-License-Identifier: Apache-2.0
/*
 * /dev/tdx_guest TDX_CMD_GET_REPORT0 (attester/tdx_guest.c) through its ioctl seam: the
 * request number and framing the kernel expects, the TDREPORT layout on upstream's recorded
 * tdx_report_1.bin (RTMR values from guest-components' own test), and the agent's MRCONFIGID
 * fallback for init-data binding when the sysfs measurements directory has no mrconfigid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "attester/agent.h"
#include "attester/tdx_guest.h"
#include "common/b64.h"
#include "common/err.h"
#include "testdata.h"

struct fake_dev {
	unsigned long req;
	int calls;
	int fail;
	uint8_t seen_reportdata[TDX_REPORTDATA_LEN];
	uint8_t answer[TDX_TDREPORT_LEN];
};

static int fake_ioctl(int fd, unsigned long req, void *arg, void *hook_arg)
{
	struct fake_dev *d = hook_arg;
	struct tdx_guest_report_req *r = arg;

	(void)fd;
	d->calls++;
	d->req = req;
	memcpy(d->seen_reportdata, r->reportdata, sizeof(d->seen_reportdata));
	if (d->fail)
		return -1;
	memcpy(r->tdreport, d->answer, sizeof(r->tdreport));
	return 0;
}

static void hex(const char *s, uint8_t *out, size_t n)
{
	size_t got = 0;

	assert_int_equal(hex_decode(s, strlen(s), out, n, &got), KBS_OK);
	assert_int_equal(got, n);
}

static void recorded_tdreport_fields(void **state)
{
	size_t len;
	uint8_t *b = td_read_file("attester/evidence", "tdx_report_1.bin", &len);
	struct tdx_tdreport r;
	uint8_t rtmr0[48], rtmr1[48], zero[48] = {0};

	(void)state;
	hex("f4ec1a04670fe7926cd5de4aef9aaa7689ab4ceaa132d7c5242b47f67dfaaea64c372a17ad68fef9a6ac"
	    "99aabbddabdc",
	    rtmr0, 48);
	hex("4e5f8826653198ab4bc5156fbe4bc99db054c0b8239a16c4b59249fb427f4acc50eed1b46a85c7d526c4"
	    "e1e47621b14c",
	    rtmr1, 48);
	assert_int_equal(tdx_tdreport_parse(b, len, &r), KBS_OK);
	assert_int_equal(r.type, 0x81);
	assert_memory_equal(r.rtmr[0], rtmr0, 48);
	assert_memory_equal(r.rtmr[1], rtmr1, 48);
	assert_memory_equal(r.rtmr[2], zero, 48);
	assert_memory_equal(r.rtmr[3], zero, 48);
	assert_ptr_equal(r.reportdata, b + 128);
	assert_ptr_equal(r.mrtd, b + 528);
	assert_ptr_equal(r.mrconfigid, b + 576);
	/* wrong length or a non-TDX report type */
	assert_int_equal(tdx_tdreport_parse(b, len - 1, &r), KBS_ERR_PARSE);
	b[0] = 0x00;
	assert_int_equal(tdx_tdreport_parse(b, len, &r), KBS_ERR_PARSE);
	assert_null(r.mrconfigid);
	free(b);
}

static void get_report0_request_framing(void **state)
{
	size_t len;
	uint8_t *b = td_read_file("attester/evidence", "tdx_report_1.bin", &len);
	struct fake_dev d;
	struct tdx_guest_cfg cfg = {NULL, fake_ioctl, &d};
	uint8_t rd[48], out[TDX_TDREPORT_LEN], want[TDX_REPORTDATA_LEN] = {0};

	(void)state;
	memset(&d, 0, sizeof(d));
	memcpy(d.answer, b, TDX_TDREPORT_LEN);
	for (size_t i = 0; i < sizeof(rd); i++)
		rd[i] = (uint8_t)(i + 1);
	memcpy(want, rd, sizeof(rd));
	assert_int_equal(tdx_guest_report(&cfg, rd, sizeof(rd), out), KBS_OK);
	/* _IOWR('T', 1, 64 + 1024 bytes), the number in the kernel's uapi header */
	assert_int_equal(d.req, 0xc4405401ul);
	assert_int_equal(d.calls, 1);
	assert_memory_equal(d.seen_reportdata, want, sizeof(want)); /* zero-padded to 64 */
	assert_memory_equal(out, b, TDX_TDREPORT_LEN);
	/* more than 64 bytes never reaches the device */
	assert_int_equal(tdx_guest_report(&cfg, b, 65, out), KBS_ERR_RANGE);
	assert_int_equal(d.calls, 1);
	/* the ioctl fails, or answers with something that is no TDX TDREPORT */
	d.fail = 1;
	assert_int_equal(tdx_guest_report(&cfg, rd, 0, out), KBS_ERR_IO);
	d.fail = 0;
	d.answer[0] = 0;
	assert_int_equal(tdx_guest_report(&cfg, rd, 0, out), KBS_ERR_PROTOCOL);
	/* without a hook the device is opened: a missing one is NOTFOUND */
	cfg.ioctl_fn = NULL;
	cfg.device = "/nonexistent/tdx_guest";
	assert_int_equal(tdx_guest_report(&cfg, rd, 0, out), KBS_ERR_NOTFOUND);
	free(b);
}

/* Agent start-up with --tee tdx, an empty measurements directory and init-data. */
static int start_tdx_agent(const uint8_t mrconfigid[48], char *why, size_t whylen)
{
	size_t len;
	uint8_t *b = td_read_file("attester/evidence", "tdx_report_1.bin", &len);
	char dir[] = "/tmp/kbsfs-tdxmeas-XXXXXX", toml[1024];
	const char *root = getenv("KBS_TEST_DATA");
	struct fake_dev d;
	struct tdx_guest_cfg gc = {NULL, fake_ioctl, &d};
	struct aa_config cfg;
	struct aa_options opt;
	struct aa *a = NULL;
	int rc;

	memset(&d, 0, sizeof(d));
	memcpy(d.answer, b, TDX_TDREPORT_LEN);
	memcpy(d.answer + 576, mrconfigid, 48);
	assert_non_null(mkdtemp(dir));
	snprintf(toml, sizeof(toml), "%s/attester/initdata/initdata-sha384.toml",
		 root ? root : "tests/data");
	aa_config_init(&cfg);
	memset(&opt, 0, sizeof(opt));
	opt.tee = "tdx";
	opt.initdata_toml = toml;
	opt.tdx_measurements = dir;
	opt.tdx_guest = &gc;
	rc = aa_new(&cfg, &opt, &a, why, whylen);
	assert_int_equal(d.calls, 1); /* the TDREPORT was asked for */
	aa_free(a);
	aa_config_release(&cfg);
	rmdir(dir);
	free(b);
	return rc;
}

static void agent_binds_initdata_to_mrconfigid_from_tdreport(void **state)
{
	uint8_t mrc[48];
	char why[256] = "";

	(void)state;
	/* expected.json: tdx_mrconfigid_hex of initdata-sha384.toml */
	hex("9b5dfa015c8112bdc7bae74403e72edcbd2cecd43c54689c0743e9fe77430f1379eed4126c7b752d23ee"
	    "0b69f8d92fbe",
	    mrc, 48);
	assert_int_equal(start_tdx_agent(mrc, why, sizeof(why)), KBS_OK);
	mrc[47] ^= 1;
	assert_int_not_equal(start_tdx_agent(mrc, why, sizeof(why)), KBS_OK);
	assert_non_null(strstr(why, "MRCONFIGID"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(recorded_tdreport_fields),
		cmocka_unit_test(get_report0_request_framing),
		cmocka_unit_test(agent_binds_initdata_to_mrconfigid_from_tdreport),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
