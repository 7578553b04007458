/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_TESTS_TESTDATA_H
#define KBS_TESTS_TESTDATA_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Reads $KBS_TEST_DATA/<subdir>/<rel> (tests/data when the variable is unset) into a
 * malloc'ed buffer with a NUL byte after the data; aborts the test if the file is missing.
 */
static __attribute__((unused)) void *td_read_file(const char *subdir, const char *rel,
						  size_t *len)
{
	const char *root = getenv("KBS_TEST_DATA");
	char path[1024];
	FILE *f;
	char *p;
	long n;

	snprintf(path, sizeof(path), "%s/%s/%s", root ? root : "tests/data", subdir, rel);
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "missing test data %s\n", path);
		abort();
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	if (!p || fread(p, 1, (size_t)n, f) != (size_t)n)
		abort();
	p[n] = 0;
	fclose(f);
	if (len)
		*len = (size_t)n;
	return p;
}

/* 1 if a mapping of a file whose path contains needle is in this process, else 0; aborts the
 * test if /proc/self/maps cannot be read (so a failed read never passes as "not mapped"). */
static __attribute__((unused)) int td_mapped(const char *needle)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[1024];
	int found = 0;

	if (!f) {
		fprintf(stderr, "cannot read /proc/self/maps\n");
		abort();
	}
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			found = 1;
	fclose(f);
	return found;
}

#endif
