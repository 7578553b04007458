/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_ATTESTER_TDX_GUEST_H
#define KBS_ATTESTER_TDX_GUEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

/*
 * Legacy TDX guest interface: TDX_CMD_GET_REPORT0 on /dev/tdx_guest (Linux ≥ 6.2, uapi
 * linux/tdx-guest.h) returns the 1024-byte TDREPORT_STRUCT for 64 bytes of REPORTDATA.
 *
 * Upstream's attester uses it only where configfs-tsm / the sysfs measurements directory
 * (Linux ≥ 6.16) are missing: MRCONFIGID for init-data binding and RTMR values. A TDREPORT is
 * MAC'ed for the local platform only; turning it into a quote needs the quoting service, which
 * upstream reaches through configfs-tsm only (its libtdx-attest / ioctl quote path was
 * removed in guest-components a4bdaef0), so kbsfs has no quote fallback either.
 */

#define TDX_GUEST_DEVICE "/dev/tdx_guest"
#define TDX_REPORTDATA_LEN 64
#define TDX_TDREPORT_LEN 1024
#define TDX_TDREPORT_TYPE 0x81u
#define TDX_MR_LEN 48

/* struct tdx_report_req and its ioctl number, as in the kernel's uapi header */
struct tdx_guest_report_req {
	uint8_t reportdata[TDX_REPORTDATA_LEN];
	uint8_t tdreport[TDX_TDREPORT_LEN];
};
#define TDX_CMD_GET_REPORT0 _IOWR('T', 1, struct tdx_guest_report_req)

struct tdx_guest_cfg {
	const char *device; /* NULL = TDX_GUEST_DEVICE, else AA_TDX_GUEST_DEVICE */
	/* Test hook (NULL = ioctl(2) on the opened device; no device is opened with a hook). */
	int (*ioctl_fn)(int fd, unsigned long req, void *arg, void *hook_arg);
	void *hook_arg;
};

/* Fields of a TDREPORT_STRUCT (pointers into the parsed buffer). */
struct tdx_tdreport {
	uint8_t type, subtype, version;
	const uint8_t *reportdata;    /* 64 bytes (REPORTMACSTRUCT 0x80) */
	const uint8_t *mrtd;          /* 48 bytes each, TDINFO_STRUCT at 0x200 */
	const uint8_t *mrconfigid;
	const uint8_t *mrowner;
	const uint8_t *mrownerconfig;
	const uint8_t *rtmr[4];
};

/* device from AA_TDX_GUEST_DEVICE (default TDX_GUEST_DEVICE), no hook. */
void tdx_guest_cfg_from_env(struct tdx_guest_cfg *cfg);

/*
 * TDREPORT for report_data (≤ 64 bytes, zero-padded) into out. KBS_ERR_RANGE for longer
 * report data, KBS_ERR_NOTFOUND without the device, KBS_ERR_IO if the ioctl fails,
 * KBS_ERR_PROTOCOL if the answer is not a TDX TDREPORT.
 */
int tdx_guest_report(const struct tdx_guest_cfg *cfg, const uint8_t *report_data, size_t len,
		     uint8_t out[TDX_TDREPORT_LEN]);

/* Splits a TDREPORT: exactly TDX_TDREPORT_LEN bytes, type 0x81. KBS_ERR_PARSE otherwise. */
int tdx_tdreport_parse(const uint8_t *buf, size_t len, struct tdx_tdreport *r);

#endif
