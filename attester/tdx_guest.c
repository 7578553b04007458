// SPDX-License-Identifier: Apache-2.0
/* /dev/tdx_guest TDX_CMD_GET_REPORT0 and the TDREPORT layout. See tdx_guest.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "attester/tdx_guest.h"
#include "attester/util.h"
#include "common/err.h"
#include "common/log.h"

/* TDREPORT_STRUCT: REPORTMACSTRUCT (256) ‖ TEE_TCB_INFO (239) ‖ reserved (17) ‖ TDINFO (512) */
#define TDR_REPORTDATA_OFF 0x80
#define TDR_TDINFO_OFF 0x200
#define TDI_MRTD_OFF (TDR_TDINFO_OFF + 16)
#define TDI_MRCONFIGID_OFF (TDI_MRTD_OFF + TDX_MR_LEN)
#define TDI_MROWNER_OFF (TDI_MRCONFIGID_OFF + TDX_MR_LEN)
#define TDI_MROWNERCONFIG_OFF (TDI_MROWNER_OFF + TDX_MR_LEN)
#define TDI_RTMR_OFF (TDI_MROWNERCONFIG_OFF + TDX_MR_LEN)

_Static_assert(sizeof(struct tdx_guest_report_req) == 1088, "tdx_report_req is 64 + 1024");
_Static_assert(TDI_RTMR_OFF + 4 * TDX_MR_LEN + 112 == TDX_TDREPORT_LEN, "TDINFO layout");

void tdx_guest_cfg_from_env(struct tdx_guest_cfg *cfg)
{
	const char *s = getenv("AA_TDX_GUEST_DEVICE");

	memset(cfg, 0, sizeof(*cfg));
	cfg->device = s && *s ? s : TDX_GUEST_DEVICE;
}

int tdx_tdreport_parse(const uint8_t *buf, size_t len, struct tdx_tdreport *r)
{
	if (!r || (!buf && len))
		return KBS_ERR_INVAL;
	memset(r, 0, sizeof(*r));
	if (len != TDX_TDREPORT_LEN || buf[0] != TDX_TDREPORT_TYPE)
		return KBS_ERR_PARSE;
	r->type = buf[0];
	r->subtype = buf[1];
	r->version = buf[2];
	r->reportdata = buf + TDR_REPORTDATA_OFF;
	r->mrtd = buf + TDI_MRTD_OFF;
	r->mrconfigid = buf + TDI_MRCONFIGID_OFF;
	r->mrowner = buf + TDI_MROWNER_OFF;
	r->mrownerconfig = buf + TDI_MROWNERCONFIG_OFF;
	for (int i = 0; i < 4; i++)
		r->rtmr[i] = buf + TDI_RTMR_OFF + (size_t)i * TDX_MR_LEN;
	return KBS_OK;
}

int tdx_guest_report(const struct tdx_guest_cfg *cfg, const uint8_t *report_data, size_t len,
		     uint8_t out[TDX_TDREPORT_LEN])
{
	const char *dev = cfg && cfg->device ? cfg->device : TDX_GUEST_DEVICE;
	struct tdx_guest_report_req *req = NULL;
	struct tdx_tdreport r;
	int fd = -1, rc, ret;

	if (!out || (!report_data && len))
		return KBS_ERR_INVAL;
	if (len > TDX_REPORTDATA_LEN)
		return KBS_ERR_RANGE;
	req = calloc(1, sizeof(*req));
	if (!req)
		return KBS_ERR_NOMEM;
	attester_fit(report_data, len, req->reportdata, sizeof(req->reportdata));
	if (cfg && cfg->ioctl_fn) {
		ret = cfg->ioctl_fn(-1, TDX_CMD_GET_REPORT0, req, cfg->hook_arg);
	} else {
		fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			rc = errno == ENOENT ? KBS_ERR_NOTFOUND : KBS_ERR_IO;
			log_msg(LOG_LVL_ERROR, "tdx-guest: cannot open %s", dev);
			goto out;
		}
		ret = ioctl(fd, TDX_CMD_GET_REPORT0, req);
	}
	if (ret != 0) {
		log_msg(LOG_LVL_ERROR, "tdx-guest: TDX_CMD_GET_REPORT0 on %s failed", dev);
		rc = KBS_ERR_IO;
		goto out;
	}
	if (tdx_tdreport_parse(req->tdreport, sizeof(req->tdreport), &r) != KBS_OK) {
		log_msg(LOG_LVL_ERROR, "tdx-guest: %s returned no TDX TDREPORT", dev);
		rc = KBS_ERR_PROTOCOL;
		goto out;
	}
	memcpy(out, req->tdreport, TDX_TDREPORT_LEN);
	rc = KBS_OK;
out:
	free(req);
	if (fd >= 0)
		close(fd);
	return rc;
}
