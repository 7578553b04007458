// SPDX-License-Identifier: Apache-2.0
/*
 * kbsfs benchmark helper (driven by tests/bench/bench_kbsfs.sh). Prints one number.
 *   bench_kbsfs warm SECONDS FILE     -> open+read+close per CPU second of this process (same
 *                                        file, in a loop for SECONDS of wall time; CPU time
 *                                        keeps other load on a shared machine out of it; the
 *                                        warm kbsfs path runs entirely in this process' syscalls)

 *   bench_kbsfs pair ROUNDS SECONDS FILE_A FILE_B
 *                                     -> ROUNDS lines "opsA cpuA opsB cpuB": the two files'
 *                                        warm loops interleaved in short rounds of SECONDS
 *                                        each (order alternating between rounds), so that
 *                                        background load and frequency changes hit both
 *                                        alike; the script takes per-round ratios
 *   bench_kbsfs cold FILE             -> microseconds for one open+read+close (first access)
 *   bench_kbsfs https URL CAFILE      -> microseconds for one HTTPS GET on a new connection
 *                                        (TCP + TLS handshake + request), with the
 *                                        project's HTTP client (the one the broker uses)
 */
#include "common/err.h"
#include "common/http_client.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double clock_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
	return clock_s(CLOCK_MONOTONIC);
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

/* One warm run: open+read+close of path for secs of wall time; *cpu = CPU seconds used. */
static int warm_run(const char *path, double secs, char *buf, size_t len, unsigned long *ops,
		    double *cpu)
{
	double t0 = now_s(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	unsigned long n = 0;

	do {
		for (int i = 0; i < 200; i++)
			if (once(path, buf, len) != 0) {
				perror(path);
				return -1;
			}
		n += 200;
	} while (now_s() - t0 < secs);
	*cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
	*ops = n;
	return 0;
}

int main(int argc, char **argv)
{
	static char buf[65536];

	if (argc == 6 && !strcmp(argv[1], "pair")) {
		int rounds = atoi(argv[2]);
		double secs = atof(argv[3]);

		/* warm both: the first access of a kbsfs file may fetch */
		if (once(argv[4], buf, sizeof(buf)) != 0 || once(argv[5], buf, sizeof(buf)) != 0) {
			perror("first read");
			return 1;
		}
		for (int r = 0; r < rounds; r++) {
			unsigned long n[2];
			double c[2];
			int first = r % 2; /* A first in even rounds, B first in odd ones */

			if (warm_run(argv[4 + first], secs, buf, sizeof(buf), &n[first], &c[first]) ||
			    warm_run(argv[5 - first], secs, buf, sizeof(buf), &n[!first], &c[!first]))
				return 1;
			printf("%lu %.6f %lu %.6f\n", n[0], c[0], n[1], c[1]);
		}
		return 0;
	}

	if (argc == 4 && !strcmp(argv[1], "warm")) {
		double secs = atof(argv[2]), t0 = now_s(), c0, t;
		unsigned long n = 0;

		if (once(argv[3], buf, sizeof(buf)) != 0) {
			perror(argv[3]);
			return 1;
		}
		c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
		do {
			for (int i = 0; i < 1000; i++)
				if (once(argv[3], buf, sizeof(buf)) != 0) {
					perror(argv[3]);
					return 1;
				}
			n += 1000;
			t = now_s() - t0;
		} while (t < secs);
		printf("%.0f\n", (double)n / (clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0));
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
	if (argc == 4 && !strcmp(argv[1], "https")) {
		struct http_client_config cc = {.ca_file = argv[3], .max_retries = 0};
		struct http_client *c = NULL;
		struct http_result res;
		double t0;
		int rc;

		if (http_client_new(&cc, &c) != KBS_OK)
			return 1;
		t0 = now_s();
		rc = http_client_request(c, "GET", argv[2], NULL, NULL, 0, 0, &res);
		if (rc != KBS_OK || res.status != 200) {
			fprintf(stderr, "GET %s: %s (HTTP %ld)\n", argv[2],
				res.error[0] ? res.error : kbs_strerror(rc), res.status);
			return 1;
		}
		printf("%.0f\n", (now_s() - t0) * 1e6);
		http_result_release(&res);
		http_client_free(c);
		return 0;
	}
	fprintf(stderr, "usage: %s warm SECONDS FILE | cold FILE | https URL CAFILE\n", argv[0]);
	return 2;
}
