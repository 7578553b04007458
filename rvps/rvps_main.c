// SPDX-License-Identifier: Apache-2.0
/*
 * rvps: Trustee's reference.ReferenceValueProviderService over gRPC.
 *   rvps [--config FILE] [--address IP:PORT]
 * An unreadable or invalid config falls back to the defaults (Memory store) like Trustee.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/grpc_server.h"
#include "common/log.h"
#include "rvps/rvps.h"
#include "rvps/rvps_grpc.h"

#ifndef KBSFS_VERSION
#define KBSFS_VERSION "0.1.0"
#endif

#define DEFAULT_CONFIG "/etc/rvps.json"

static void usage(FILE *f)
{
	fputs("Usage: rvps [OPTIONS]\n\n"
	      "Reference Value Provider Service (Trustee-compatible gRPC API)\n\n"
	      "Options:\n"
	      "  -c, --config <CONFIG>    Path to the configuration file of RVPS "
	      "[default: " DEFAULT_CONFIG "]\n"
	      "  -a, --address <ADDRESS>  The address that the RVPS server will listen on "
	      "[default: " RVPS_DEFAULT_ADDRESS "]\n"
	      "  -l, --log-level <LEVEL>  error|warn|info|debug (default info, or RUST_LOG)\n"
	      "  -h, --help               Print help\n"
	      "  -V, --version            Print version\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"address", required_argument, NULL, 'a'},
					     {"log-level", required_argument, NULL, 'l'},
					     {"help", no_argument, NULL, 'h'},
					     {"version", no_argument, NULL, 'V'},
					     {NULL, 0, NULL, 0}};
	const char *config = DEFAULT_CONFIG, *addr = RVPS_DEFAULT_ADDRESS, *level = NULL;
	struct rvps_config cfg;
	struct rvps *r = NULL;
	struct grpc_srv *srv = NULL;
	struct rvps_grpc_service svc = {&rvps_grpc_local, NULL};
	char why[400];
	int c, ret = 1, port = 0, sig;

	while ((c = getopt_long(argc, argv, "c:a:l:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'a': addr = optarg; break;
		case 'l': level = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("rvps (kbsfs) %s\n", KBSFS_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	log_setup("rvps", LOG_LVL_INFO, LOG_TARGET_STDERR);
	if (!level)
		level = getenv("RUST_LOG");
	if (level && log_level_parse(level) >= 0)
		log_set_level((enum log_level)log_level_parse(level));
	rvps_config_init(&cfg);
	{
		json_error_t je;
		json_t *j = json_load_file(config, JSON_REJECT_DUPLICATES, &je);
		if (!j) {
			log_warn("rvps: fail to read config from %s (%s); using the default "
				 "configuration (Memory store)", config, je.text);
		} else if (rvps_config_from_json(j, &cfg, why, sizeof(why)) != KBS_OK) {
			/* Trustee: any config error -> defaults; we keep that but say why */
			log_warn("rvps: invalid config %s: %s; using the default configuration "
				 "(Memory store)", config, why);
			rvps_config_release(&cfg);
		}
		json_decref(j);
	}
	if (rvps_new(&cfg, &r, why, sizeof(why)) != KBS_OK) {
		log_error("rvps: cannot open the reference value store: %s", why);
		goto out;
	}
	svc.ctx = r;
	if (grpc_srv_new(&srv) != KBS_OK || rvps_grpc_add_service(srv, &svc, 4, 8) != KBS_OK ||
	    grpc_srv_add_health(srv) != KBS_OK) {
		log_error("rvps: cannot set up the gRPC server");
		goto out;
	}
	if (grpc_srv_listen(srv, addr, &port) != KBS_OK) {
		log_error("rvps: cannot listen on %s", addr);
		goto out;
	}
	if (grpc_srv_start(srv, 4) != KBS_OK) {
		log_error("rvps: cannot start the gRPC server");
		goto out;
	}
	log_info("rvps: listening on %s (port %d)", addr, port);
	sig = grpc_srv_wait_signal();
	log_info("rvps: signal %d, shutting down", sig);
	ret = 0;
out:
	grpc_srv_free(srv);
	rvps_free(r);
	rvps_config_release(&cfg);
	return ret;
}
