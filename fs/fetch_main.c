// SPDX-License-Identifier: Apache-2.0
/*
 * kbsfs-fetch: the KBS client process of kbsfs (started by kbsfs, not by hand). With
 * --in-process as first argument it is the whole kbsfs daemon with the broker inside
 * (kbsfs -o privsep=0 execs it that way).
 */
#include "fs/daemon.h"

#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--in-process")) {
		argv[1] = argv[0];
		return kbsfs_main(argc - 1, argv + 1, kbsfs_broker_backend);
	}
	return kbsfs_fetch_main(argc, argv);
}
