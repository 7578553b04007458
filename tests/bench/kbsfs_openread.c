// SPDX-License-Identifier: Apache-2.0
/*
 * Benchmark helper: open+read+close of one file in a loop for a fixed time, or the latency
 * of a single first read. Prints one number.
 *   kbsfs_openread warm SECONDS FILE   -> operations per second
 *   kbsfs_openread cold FILE           -> microseconds for open+read+close (first access)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int once(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len);
	close(fd);
	return n < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	static char buf[65536];

	if (argc == 4 && !strcmp(argv[1], "warm")) {
		double secs = atof(argv[2]), t0 = now_s(), t;
		unsigned long n = 0;

		if (once(argv[3], buf, sizeof(buf)) != 0) {
			perror(argv[3]);
			return 1;
		}
		do {
			for (int i = 0; i < 1000; i++)
				if (once(argv[3], buf, sizeof(buf)) != 0) {
					perror(argv[3]);
					return 1;
				}
			n += 1000;
			t = now_s() - t0;
		} while (t < secs);
		printf("%.0f\n", (double)n / t);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "cold")) {
		double t0 = now_s();

		if (once(argv[2], buf, sizeof(buf)) != 0) {
			perror(argv[2]);
			return 1;
		}
		printf("%.0f\n", (now_s() - t0) * 1e6);
		return 0;
	}
	fprintf(stderr, "usage: %s warm SECONDS FILE | cold FILE\n", argv[0]);
	return 2;
}
