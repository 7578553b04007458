/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_TESTS_BENCH_UTIL_H
#define KBS_TESTS_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/*
 * What the bench_*.c programs share: the process CPU clock they measure with, reading a file
 * of the test data directory, and the calls-per-second loop. Header-only (the benchmarks are
 * single-file programs).
 */

/* Process CPU time in seconds (all threads). */
static __attribute__((unused)) double bench_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Reads <dir>/<rel> into a malloc'ed buffer with a NUL byte after the data; prog names the
 * benchmark in the message when the file is missing (exit status 2).
 */
static __attribute__((unused)) char *bench_slurp(const char *prog, const char *dir,
						  const char *rel, size_t *len)
{
	char path[1024];
	FILE *f;
	char *p;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "%s: cannot open %s\n", prog, path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	if (!p || fread(p, 1, (size_t)n, f) != (size_t)n)
		exit(2);
	p[n] = 0;
	fclose(f);
	if (len)
		*len = (size_t)n;
	return p;
}

/* One measured operation: 0 = success. */
typedef int (*bench_op)(void *arg);

/*
 * Calls op(arg) in batches of `batch` until secs of process CPU time have passed; returns the
 * calls per CPU second. A failing call ends the program (exit status 1, prog named).
 */
static __attribute__((unused)) double bench_rate(const char *prog, bench_op op, void *arg,
						 int batch, double secs)
{
	double t0 = bench_cpu_s(), t;
	long n = 0;

	do {
		for (int i = 0; i < batch; i++)
			if (op(arg) != 0) {
				fprintf(stderr, "%s: operation failed\n", prog);
				exit(1);
			}
		n += batch;
		t = bench_cpu_s() - t0;
	} while (t < secs);
	return (double)n / t;
}

/* Best bench_rate() of `rounds` rounds of secs / rounds each (the verifier benches' figure). */
static __attribute__((unused)) double bench_best_rate(const char *prog, bench_op op, void *arg,
						      int batch, double secs, int rounds)
{
	double best = 0;

	for (int round = 0; round < rounds; round++) {
		double r = bench_rate(prog, op, arg, batch, secs / rounds);

		if (r > best)
			best = r;
	}
	return best;
}

#endif
