// SPDX-License-Identifier: Apache-2.0
/* kbsfs: attestation-gated KBS secrets as read-only files (see kbsfs --help). */
#include "fs/daemon.h"

int main(int argc, char **argv)
{
	return kbsfs_main(argc, argv, kbsfs_broker_backend);
}
