// SPDX-License-Identifier: Apache-2.0
/*
 * /dev/sev-guest SNP_GET_EXT_REPORT. See sev_guest.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/sev-guest.h>

#include "attester/sev_guest.h"
#include "attester/util.h"
#include "common/err.h"
#include "common/log.h"

#define SEV_REPORT_LEN 1184
#define SEV_REPORT_OFFSET 32 /* MSG_REPORT_RSP: status, report_size, reserved[24] */
#define SEV_CERTS_DEFAULT (4u * 4096)
#define SEV_CERTS_MAX (1u << 20)

static int do_ioctl(const struct sev_guest_cfg *cfg, int fd, unsigned long req, void *arg)
{
	if (cfg && cfg->ioctl_fn)
		return cfg->ioctl_fn(fd, req, arg, cfg->hook_arg);
	return ioctl(fd, req, arg);
}

int sev_guest_ext_report(const struct sev_guest_cfg *cfg, const uint8_t *report_data,
			 size_t len, struct buf *report, struct buf *certs)
{
	struct snp_ext_report_req req;
	struct snp_report_resp resp;
	struct snp_guest_request_ioctl guest;
	const char *dev = cfg && cfg->device ? cfg->device : SEV_GUEST_DEVICE;
	uint8_t *cbuf = NULL;
	size_t clen = SEV_CERTS_DEFAULT;
	uint32_t status, rsize;
	int fd = -1, rc;

	if (!report || !certs || (!report_data && len))
		return KBS_ERR_INVAL;
	if (len > sizeof(req.data.user_data))
		return KBS_ERR_RANGE;
	if (!cfg || !cfg->ioctl_fn) {
		fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return errno == ENOENT ? KBS_ERR_NOTFOUND : KBS_ERR_IO;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		uint8_t *nb = realloc(cbuf, clen);

		if (!nb) {
			rc = KBS_ERR_NOMEM;
			goto out;
		}
		cbuf = nb;
		memset(cbuf, 0, clen);
		memset(&req, 0, sizeof(req));
		memset(&resp, 0, sizeof(resp));
		memset(&guest, 0, sizeof(guest));
		attester_fit(report_data, len, req.data.user_data, sizeof(req.data.user_data));
		req.data.vmpl = 0;
		req.certs_address = (uint64_t)(uintptr_t)cbuf;
		req.certs_len = (uint32_t)clen;
		guest.msg_version = 1;
		guest.req_data = (uint64_t)(uintptr_t)&req;
		guest.resp_data = (uint64_t)(uintptr_t)&resp;
		if (do_ioctl(cfg, fd, SNP_GET_EXT_REPORT, &guest) == 0)
			break;
		if (attempt == 0 && (guest.exitinfo2 >> 32) == SNP_GUEST_VMM_ERR_INVALID_LEN &&
		    req.certs_len > clen && req.certs_len <= SEV_CERTS_MAX) {
			clen = req.certs_len; /* the kernel says how much it needs */
			continue;
		}
		log_msg(LOG_LVL_ERROR, "sev-guest: SNP_GET_EXT_REPORT failed (fw %u, vmm %u)",
			(unsigned)(guest.exitinfo2 & 0xffffffffu), (unsigned)(guest.exitinfo2 >> 32));
		rc = KBS_ERR_IO;
		goto out;
	}
	memcpy(&status, resp.data, 4);
	memcpy(&rsize, resp.data + 4, 4);
	if (status != 0 || rsize < SEV_REPORT_LEN ||
	    SEV_REPORT_OFFSET + SEV_REPORT_LEN > sizeof(resp.data)) {
		log_msg(LOG_LVL_ERROR, "sev-guest: report status %u size %u", status, rsize);
		rc = KBS_ERR_PROTOCOL;
		goto out;
	}
	rc = buf_append(report, resp.data + SEV_REPORT_OFFSET, SEV_REPORT_LEN);
	if (rc)
		goto out;
	/* the table ends with an all-zero entry; keep everything the kernel may have written */
	rc = buf_append(certs, cbuf, clen);
out:
	free(cbuf);
	if (fd >= 0)
		close(fd);
	return rc;
}
