// SPDX-License-Identifier: Apache-2.0
/*
 * rvps-tool: Trustee's RVPS client tool.
 *   rvps-tool register --path <message.json> [--addr http://127.0.0.1:50003]
 *   rvps-tool query --reference-value-id <id> [--addr ...]
 * Exit status 0 on success (a query with no value prints a note and exits 0, like Trustee),
 * 1 on failure, 2 on usage errors.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "rvps/rvps.h"

#ifndef KBSFS_VERSION
#define KBSFS_VERSION "0.1.0"
#endif

#define DEFAULT_ADDR "http://127.0.0.1:50003"

static void usage(FILE *f)
{
	fputs("Usage: rvps-tool <COMMAND>\n\n"
	      "Commands:\n"
	      "  register  Register reference values\n"
	      "  query     Query reference values\n\n"
	      "register options:\n"
	      "  -a, --addr <ADDR>  The address of target RVPS [default: " DEFAULT_ADDR "]\n"
	      "  -p, --path <PATH>  The path to the provenance json file\n"
	      "query options:\n"
	      "  -a, --addr <ADDR>  The address of target RVPS [default: " DEFAULT_ADDR "]\n"
	      "  -r, --reference-value-id <ID>  The id of the reference value\n",
	      f);
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (n == cap) {
			char *q;
			if (cap >= RVPS_MAX_MESSAGE)
				goto fail;
			cap = cap ? cap * 2 : 4096;
			if (!(q = realloc(p, cap + 1)))
				goto fail;
			p = q;
		}
		size_t r = fread(p + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f))
		goto fail;
	fclose(f);
	p[n] = '\0';
	*len = n;
	return p;
fail:
	fclose(f);
	free(p);
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"addr", required_argument, NULL, 'a'},
					     {"path", required_argument, NULL, 'p'},
					     {"reference-value-id", required_argument, NULL, 'r'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *cmd, *addr = DEFAULT_ADDR, *path = NULL, *id = NULL;
	struct rvps_config cfg;
	struct rvps *r = NULL;
	char why[512];
	json_t *v = NULL;
	int c, rc, ret = 1;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("rvps-tool (kbsfs) %s\n", KBSFS_VERSION);
		return 0;
	}
	cmd = argv[1];
	if (strcmp(cmd, "register") && strcmp(cmd, "query")) {
		usage(stderr);
		return 2;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "a:p:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': addr = optarg; break;
		case 'p': path = optarg; break;
		case 'r': id = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || (!strcmp(cmd, "register") ? !path : !id)) {
		usage(stderr);
		return 2;
	}
	log_setup("rvps-tool", LOG_LVL_INFO, LOG_TARGET_STDERR);
	rvps_config_init(&cfg);
	cfg.mode = RVPS_GRPC_REMOTE;
	if (!(cfg.address = strdup(addr)) || rvps_new(&cfg, &r, why, sizeof(why)) != KBS_OK) {
		fprintf(stderr, "rvps-tool: %s\n", why);
		goto out;
	}
	if (!strcmp(cmd, "register")) {
		size_t len = 0;
		char *msg = read_all(path, &len);
		if (!msg) {
			fprintf(stderr, "rvps-tool: read provenance %s failed\n", path);
			goto out;
		}
		rc = rvps_register(r, msg, len, why, sizeof(why));
		free(msg);
		if (rc != KBS_OK) {
			fprintf(stderr, "rvps-tool: register failed: %s\n", why);
			goto out;
		}
		fprintf(stderr, "Register provenance succeeded.\n");
	} else {
		rc = rvps_query(r, id, &v, why, sizeof(why));
		if (rc == KBS_ERR_NOTFOUND) {
			fprintf(stderr, "No reference values found for the given id\n");
		} else if (rc != KBS_OK) {
			fprintf(stderr, "rvps-tool: query failed: %s\n", why);
			goto out;
		} else {
			char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			fprintf(stderr, "Get reference values succeeded:\n");
			printf("%s\n", t ? t : "");
			free(t);
		}
	}
	ret = 0;
out:
	json_decref(v);
	rvps_free(r);
	rvps_config_release(&cfg);
	return ret;
}
