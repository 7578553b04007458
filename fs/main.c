// SPDX-License-Identifier: Apache-2.0
/* kbsfs: attestation-gated KBS secrets as read-only files (see kbsfs --help). The KBS client
 * runs in a kbsfs-fetch child (fs/proc_backend.c); this binary links no TLS or broker code. */
#include "fs/daemon.h"

int main(int argc, char **argv)
{
	return kbsfs_main(argc, argv, kbsfs_process_backend);
}
