/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_ATTESTER_SEV_GUEST_H
#define KBS_ATTESTER_SEV_GUEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/*
 * Legacy SEV-SNP report path: SNP_GET_EXT_REPORT on /dev/sev-guest (message version 1,
 * VMPL 0), used when configfs-tsm is not available (kernels before 6.7). When the kernel
 * answers that the certificate buffer is too small (VMM error INVALID_LEN) the request is
 * retried once with the size it returned (reference guest-components.md §4.4).
 */

#define SEV_GUEST_DEVICE "/dev/sev-guest"

struct sev_guest_cfg {
	const char *device; /* NULL = SEV_GUEST_DEVICE */
	/* Test hook (NULL = ioctl(2) on the opened device): same contract as the ioctl. */
	int (*ioctl_fn)(int fd, unsigned long req, void *arg, void *hook_arg);
	void *hook_arg;
};

/*
 * Extended report for report_data (≤ 64 bytes, zero-padded): the 1184-byte report is
 * appended to report, the certificate table (possibly empty) to certs.
 */
int sev_guest_ext_report(const struct sev_guest_cfg *cfg, const uint8_t *report_data,
			 size_t len, struct buf *report, struct buf *certs);

#endif
