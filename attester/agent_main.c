// SPDX-License-Identifier: Apache-2.0
/*
 * attestation-agent: parses flags, loads aa.toml, builds the agent and serves its REST API
 * on a loopback address until SIGTERM/SIGINT. All logic lives in attester/agent.c.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attester/agent.h"
#include "common/err.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/secmem.h"

#ifndef KBSFS_VERSION
#define KBSFS_VERSION "0.0.0"
#endif

static const char usage_text[] =
	"NAME\n"
	"    attestation-agent - kbsfs guest attestation agent with the CoCo REST API\n"
	"\n"
	"SYNOPSIS\n"
	"    attestation-agent [-c FILE] [-b ADDR:PORT] [-f LEVEL] [--initdata-toml FILE]\n"
	"                      [--tee TEE] [options]\n"
	"\n"
	"DESCRIPTION\n"
	"    Produces TEE evidence (TDX and SEV-SNP through configfs-tsm, TPM 2.0, or the sample\n"
	"    TEE when named explicitly), binds init-data, records runtime measurements in the\n"
	"    AA event log, and fetches KBS resources. It serves the guest-components REST API\n"
	"    (api-server-rest) on a loopback address only: GET /info, GET /aa/evidence,\n"
	"    GET /aa/additional-evidence, GET /aa/token, POST /aa/aael,\n"
	"    GET /cdh/resource/<repo>/<type>/<tag>, and POST /cdh/unseal (a sealed secret in,\n"
	"    the secret out; kbsfs extension).\n"
	"\n"
	"OPTIONS\n"
	"    -c, --config-file FILE\n"
	"        aa.toml (or .json) with [token_configs.kbs] url/cert/tee_key_algorithm,\n"
	"        [token_configs.coco_as] url, [eventlog_config] enable_eventlog/init_pcr,\n"
	"        [log] level. Without it: no KBS, event log off.\n"
	"    -b, --bind ADDR:PORT\n"
	"        REST listen address (default 127.0.0.1:8006). Must be a loopback address\n"
	"        (127.0.0.0/8 or [::1]); anything else is refused.\n"
	"    -f, --features resource|attestation|all\n"
	"        Which API groups are served. Default: the kernel command line knob\n"
	"        agent.guest_components_rest_api=, else resource.\n"
	"    -t, --initdata-toml FILE\n"
	"        Init-data document; its digest is checked against MRCONFIGID (TDX) or\n"
	"        HOSTDATA (SNP), or extended into PCR 8 (TPM, Azure vTPM). A mismatch stops\n"
	"        the agent.\n"
	"    -i, --initdata-digest BASE64\n"
	"        Init-data digest (standard base64) bound like the digest of\n"
	"        --initdata-toml, which takes precedence; no TOML is sent to the KBS then.\n"
	"    -a, --attestation_sock ADDR, --aa_addr ADDR, --cdh_addr ADDR\n"
	"        Accepted for upstream compatibility and ignored (no ttRPC sockets here).\n"
	"    --tee auto|tdx|snp|tpm|az-snp-vtpm|az-tdx-vtpm|sample\n"
	"        TEE to use (default auto: detection; the sample TEE is never detected).\n"
	"    --cmdline FILE\n"
	"        Kernel command line to read (default /proc/cmdline).\n"
	"    --eventlog-path FILE\n"
	"        AAEL file (default /run/attestation-agent/eventlog); the write-ahead file\n"
	"        .wal_event_entry lives next to it.\n"
	"    --tdx-measurements DIR\n"
	"        TDX register files (default /sys/devices/virtual/misc/tdx_guest/measurements).\n"
	"    --sealed-secret-dir DIR\n"
	"        Verification keys of sealed secrets whose kid is a file name (default\n"
	"        /run/confidential-containers/cdh/sealed-secret, as CDH). A kbs:/// kid is\n"
	"        fetched from the KBS instead.\n"
	"    -l, --log-level error|warn|info|debug\n"
	"        Overrides [log] level.\n"
	"    -h, --help      this text\n"
	"    -V, --version   print the version\n"
	"\n"
	"ENVIRONMENT\n"
	"    AA_TPM_TCTI, AA_TPM_DEVICE, AA_TPM_AK_HANDLE, AA_TPM_CREATE_AK   TPM access and AK\n"
	"    AA_TPM_LOCALITY   locality for PCR extends (PCR 17 needs 4)\n"
	"    AA_TSM_REPORT_ROOT   configfs-tsm report directory\n"
	"    AA_CCEL_PATH, AAEL_PATH   event logs put into TDX evidence\n"
	"    AA_TDX_GUEST_DEVICE   TDREPORT device for MRCONFIGID (default /dev/tdx_guest)\n"
	"    AA_AZ_IMDS_URL   Azure IMDS base URL (default http://169.254.169.254)\n"
	"    AA_AZ_VCEK_PATH   VCEK PEM for az-snp-vtpm (default: from IMDS)\n"
	"    AA_AZ_REPORT_WAIT_MS   wait for the HCL report after the user-data write (3000)\n"
	"\n"
	"EXIT STATUS\n"
	"    0 after SIGTERM/SIGINT, 1 on a configuration or start-up error, 2 on bad usage.\n"
	"\n"
	"SEE ALSO\n"
	"    docs/attestation-agent.md\n";

enum { OPT_TEE = 256, OPT_CMDLINE, OPT_EVENTLOG, OPT_TDX, OPT_SEALED_DIR, OPT_IGNORED };

static const struct option long_opts[] = {
	{"config-file", required_argument, NULL, 'c'},
	{"bind", required_argument, NULL, 'b'},
	{"features", required_argument, NULL, 'f'},
	{"initdata-toml", required_argument, NULL, 't'},
	{"initdata-digest", required_argument, NULL, 'i'},
	/* ttRPC addresses of upstream's attestation-agent / api-server-rest: nothing to do */
	{"attestation_sock", required_argument, NULL, 'a'},
	{"aa_addr", required_argument, NULL, OPT_IGNORED},
	{"cdh_addr", required_argument, NULL, OPT_IGNORED},
	{"tee", required_argument, NULL, OPT_TEE},
	{"cmdline", required_argument, NULL, OPT_CMDLINE},
	{"eventlog-path", required_argument, NULL, OPT_EVENTLOG},
	{"tdx-measurements", required_argument, NULL, OPT_TDX},
	{"sealed-secret-dir", required_argument, NULL, OPT_SEALED_DIR},
	{"log-level", required_argument, NULL, 'l'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
	const char *config = NULL, *bind = "127.0.0.1:8006", *features = NULL, *cmdline = NULL;
	const char *level = NULL;
	struct aa_options opt = {.tee = "auto", .version = "kbsfs-" KBSFS_VERSION};
	struct aa_config cfg;
	struct aa *aa = NULL;
	struct http_server *srv = NULL;
	struct http_server_config hc;
	char why[512] = "";
	sigset_t set;
	int c, sig, lvl, rc, status = 1;

	aa_config_init(&cfg);
	log_setup("attestation-agent", LOG_LVL_INFO, LOG_TARGET_STDERR);
	while ((c = getopt_long(argc, argv, "c:b:f:t:i:a:l:hV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'b': bind = optarg; break;
		case 'f': features = optarg; break;
		case 't': opt.initdata_toml = optarg; break;
		case 'i': opt.initdata_digest = optarg; break;
		case 'a':
		case OPT_IGNORED:
			log_msg(LOG_LVL_INFO, "attestation-agent: ignoring the ttRPC address %s (kbsfs "
					      "serves the REST API only)",
				optarg);
			break;
		case OPT_TEE: opt.tee = optarg; break;
		case OPT_CMDLINE: cmdline = optarg; break;
		case OPT_EVENTLOG: opt.eventlog_path = optarg; break;
		case OPT_TDX: opt.tdx_measurements = optarg; break;
		case OPT_SEALED_DIR: opt.sealed_key_dir = optarg; break;
		case 'l': level = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': printf("attestation-agent %s\n", KBSFS_VERSION); return 0;
		default:
			fprintf(stderr, "Try 'attestation-agent --help'.\n");
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "attestation-agent: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (config && (rc = aa_config_load(config, &cfg, why, sizeof(why)))) {
		log_msg(LOG_LVL_ERROR, "config: %s", why);
		goto out;
	}
	if (!level)
		level = cfg.log_level;
	if (level) {
		lvl = log_level_parse(level);
		if (lvl < 0) {
			log_msg(LOG_LVL_ERROR, "unknown log level '%s'", level);
			goto out;
		}
		log_set_level((enum log_level)lvl);
	}
	if (features) {
		if (aa_feature_parse(features, &opt.features)) {
			log_msg(LOG_LVL_ERROR, "--features must be resource, attestation or all");
			goto out;
		}
	} else {
		rc = aa_cmdline_feature(cmdline, &opt.features);
		if (rc == KBS_ERR_INVAL) {
			log_msg(LOG_LVL_ERROR, "invalid agent.guest_components_rest_api= on the kernel "
					       "command line");
			goto out;
		}
		if (rc)
			opt.features = AA_FEATURE_RESOURCE;
	}
	if (!aa_addr_is_loopback(bind)) {
		log_msg(LOG_LVL_ERROR, "--bind %s: the REST API is served on loopback addresses only",
			bind);
		goto out;
	}
	if (secmem_init(0, true) != KBS_OK) {
		log_msg(LOG_LVL_ERROR, "cannot set up secret memory");
		goto out;
	}
	rc = aa_new(&cfg, &opt, &aa, why, sizeof(why));
	if (rc) {
		log_msg(LOG_LVL_ERROR, "start-up: %s", why[0] ? why : kbs_strerror(rc));
		goto out;
	}
	memset(&hc, 0, sizeof(hc));
	hc.listen = &bind;
	hc.nlisten = 1;
	hc.workers = 2;
	hc.max_body_size = 64 << 10;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (http_server_new(&hc, aa_http_handler, aa, &srv) || http_server_start(srv)) {
		log_msg(LOG_LVL_ERROR, "cannot listen on %s", bind);
		goto out;
	}
	log_msg(LOG_LVL_INFO, "attestation-agent %s: REST API on %s (port %d), TEE %s, features %s",
		KBSFS_VERSION, bind, http_server_port(srv, 0), aa_tee(aa),
		aa_feature_name(opt.features));
	sigwait(&set, &sig);
	log_msg(LOG_LVL_INFO, "signal %d, stopping", sig);
	http_server_stop(srv);
	status = 0;
out:
	http_server_free(srv);
	aa_free(aa);
	aa_config_release(&cfg);
	return status;
}
