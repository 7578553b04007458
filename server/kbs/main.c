// SPDX-License-Identifier: Apache-2.0
/* kbs: Trustee-compatible Key Broker Service daemon. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/secmem.h"
#include "server/kbs/kbs.h"
#include "server/kbs/kbs_config.h"

#ifndef KBSFS_VERSION
#define KBSFS_VERSION "0.1.0"
#endif

#ifdef KBS_RESOURCE_ONLY
#define PROG "resource-kbs"
#else
#define PROG "kbs"
#endif

static const char usage[] =
#ifdef KBS_RESOURCE_ONLY
	"NAME\n"
	"    resource-kbs - Key Broker Service without an attestation service (passport mode)\n"
	"\n"
	"SYNOPSIS\n"
	"    resource-kbs [--config-file FILE] [--check-config] [--log-level LEVEL]\n"
	"    resource-kbs --help | --version\n"
	"\n"
	"DESCRIPTION\n"
	"    The kbs daemon built the way Trustee builds its resource-only KBS: it attests\n"
	"    nobody (POST /kbs/v0/auth, /kbs/v0/attest, /kbs/v0/attestation-policy and\n"
	"    /kbs/v0/reference-value answer 404 PluginNotFound) and serves resources to\n"
	"    requests carrying an attestation token from another KBS or attestation service\n"
	"    (Authorization: Bearer <EAR JWT>). Tokens are trusted only through\n"
	"    [attestation_token]: trusted_certs_paths (x5c chain of the header jwk),\n"
	"    trusted_jwk_sets (kid; files or https URLs) or insecure_header_jwk (testing).\n"
	"    Start-up fails when none of these is set. An [attestation_service] table in the\n"
	"    configuration is ignored. See docs/passport.md.\n"
#else
	"NAME\n"
	"    kbs - Key Broker Service (Trustee KBS protocol 0.4.0)\n"
	"\n"
	"SYNOPSIS\n"
	"    kbs [--config-file FILE] [--check-config] [--log-level LEVEL]\n"
	"    kbs --help | --version\n"
	"\n"
	"DESCRIPTION\n"
	"    Serves Trustee's /kbs/v0 API: RCAR attestation (POST /kbs/v0/auth, /kbs/v0/attest)\n"
	"    with a built-in attestation service issuing EAR tokens, attested resource reads\n"
	"    (GET /kbs/v0/resource/<repo>/<type>/<tag>, answered as a JWE to the TEE key),\n"
	"    the admin API (resources, resource policy, attestation policy, reference values),\n"
	"    GET /metrics (Prometheus) and GET /healthz.\n"
	"\n"
	"    The configuration is Trustee's kbs-config.toml, including the layouts of older\n"
	"    Trustee releases. Every key has a default: a file containing only\n"
	"        [http_server]\n"
	"        insecure_http = true\n"
	"    starts a KBS on 127.0.0.1:8080 with resources in memory and the admin API closed.\n"
	"    Tokens of the built-in attestation service are always trusted (its signing key is\n"
	"    known in-process); insecure_header_jwk is not needed. Tokens of other issuers\n"
	"    need [attestation_token] trust material (docs/passport.md); resource-kbs(1) is\n"
	"    the same daemon without the attestation service.\n"
#endif
	"\n"
	"OPTIONS\n"
	"    -c, --config-file FILE\n"
	"        Configuration file (TOML). Default: $KBS_CONFIG_FILE, else built-in defaults.\n"
	"    --check-config\n"
	"        Load and validate the configuration, print warnings, exit 0 if usable.\n"
	"        Creates nothing: directories, files and database tables a real start would\n"
	"        create are logged as \"would create ...\".\n"
	"    -l, --log-level LEVEL\n"
	"        error, warn, info (default; or $RUST_LOG) or debug.\n"
	"    -h, --help\n"
	"        This text.\n"
	"    -V, --version\n"
	"        Print the version.\n"
	"\n"
	"ENVIRONMENT\n"
	"    KBS_CONFIG_FILE   configuration file when --config-file is absent\n"
	"    RUST_LOG          log level (Trustee compatibility)\n"
	"    KBS_SECMEM_SIZE   size of the locked memory pool for resource plaintext\n"
	"    KBS_JWKS_REFRESH_S  refresh interval of https trusted_jwk_sets (default 300)\n"
	"    SSL_CERT_FILE     CA bundle for https trusted_jwk_sets (default: system store)\n"
	"\n"
	"SIGNALS\n"
	"    SIGINT, SIGTERM   finish in-flight requests and exit.\n"
	"\n"
	"EXIT STATUS\n"
	"    0 on clean shutdown, 1 on a configuration or start-up error, 2 on bad usage.\n"
	"\n"
	"SEE ALSO\n"
	"    docs/kbs.md, docs/passport.md, restful-as(1), kbs-client(1)\n";

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"config-file", required_argument, NULL, 'c'},
					     {"check-config", no_argument, NULL, 'C'},
					     {"log-level", required_argument, NULL, 'l'},
					     {"help", no_argument, NULL, 'h'},
					     {"version", no_argument, NULL, 'V'},
					     {NULL, 0, NULL, 0}};
	const char *config = getenv("KBS_CONFIG_FILE");
	const char *level = getenv("RUST_LOG");
	bool check_only = false;
	struct kbs_config cfg;
	struct kbs_ctx *k = NULL;
	struct http_server *srv = NULL;
	struct http_server_config hc = {0};
	struct kbs_tls_settings tls;
	const char *def_listen[] = {"127.0.0.1:8080"};
	char err[600];
	int c, rc, ret = 1;

	while ((c = getopt_long(argc, argv, "c:l:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'C':
			check_only = true;
			break;
		case 'l':
			level = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf(PROG " (kbsfs) %s\n", KBSFS_VERSION);
			return 0;
		default:
			fputs("usage: " PROG " [--config-file FILE] [--check-config] (see " PROG
			      " --help)\n",
			      stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(PROG ": unexpected argument (see " PROG " --help)\n", stderr);
		return 2;
	}
	log_setup(PROG, LOG_LVL_INFO, LOG_TARGET_STDERR);
	if (level && log_level_parse(level) >= 0)
		log_set_level((enum log_level)log_level_parse(level));

	kbs_config_init(&cfg);
	if (config) {
		rc = kbs_config_load(config, &cfg, err, sizeof(err));
		if (rc != KBS_OK) {
			log_error("%s", err);
			goto out;
		}
	} else {
		log_warn("kbs: no --config-file: built-in defaults (TLS needs a certificate, so "
			 "this will only start with a config)");
	}
	if (!cfg.insecure_http && (!cfg.certificate || !cfg.private_key)) {
		log_error("kbs: %s (set http_server.certificate and private_key, or "
			  "insecure_http = true)",
			  !cfg.certificate ? "Missing certificate" : "Missing private key");
		goto out;
	}
	if (kbs_config_tls(&cfg, &tls, err, sizeof(err)) != KBS_OK) {
		log_error("kbs: %s", err);
		goto out;
	}
#ifdef KBS_RESOURCE_ONLY
	cfg.as_type = KBS_AS_NONE;
#endif
	if (check_only)
		kbs_config_check_only(&cfg);
	if (getenv("KBS_JWKS_REFRESH_S"))
		cfg.jwks_refresh_s = atol(getenv("KBS_JWKS_REFRESH_S"));
	if (getenv("SSL_CERT_FILE") && !(cfg.jwks_ca_file = strdup(getenv("SSL_CERT_FILE"))))
		goto out;
	/* the pool holds resource plaintext while it is encrypted; tolerate no mlock rights */
	secmem_init(0, true);
	rc = kbs_new(&cfg, &k, err, sizeof(err));
	if (rc != KBS_OK) {
		log_error("kbs: %s", err[0] ? err : kbs_strerror(rc));
		goto out;
	}
	if (check_only) {
		printf("kbs: configuration %s is usable (%d warning(s))\n", config ? config : "(none)",
		       cfg.nwarnings);
		ret = 0;
		goto out;
	}
	hc.listen = cfg.nsockets ? (const char *const *)cfg.sockets : def_listen;
	hc.nlisten = cfg.nsockets ? cfg.nsockets : 1;
	hc.tls = !cfg.insecure_http;
	hc.tls_min_version = tls.min_version;
	hc.tls_max_version = tls.max_version;
	hc.tls_cipher_list = tls.cipher_list;
	hc.tls_ciphersuites = tls.ciphersuites;
	hc.tls_groups = tls.groups;
	hc.cert_file = cfg.certificate;
	hc.key_file = cfg.private_key;
	hc.max_body_size = (size_t)cfg.payload_request_size_mib << 20;
	hc.max_header_size = 64 * 1024;
	hc.workers = cfg.worker_count;
	rc = http_server_new(&hc, kbs_handle, k, &srv);
	if (rc == KBS_OK) {
		kbs_set_http_server(k, srv);
		rc = http_server_start(srv);
	}
	if (rc != KBS_OK) {
		log_error("kbs: %s initialization failed (%s)%s", hc.tls ? "HTTPS" : "HTTP",
			  kbs_strerror(rc),
			  rc == KBS_ERR_INVAL && hc.tls
				  ? "; check http_server.tls_ciphers, tls_groups and the TLS versions"
				  : "");
		goto out;
	}
	for (size_t i = 0; i < hc.nlisten; i++)
		log_info("kbs: listening on %s (%s, port %d)", hc.listen[i],
			 hc.tls ? "TLS" : "plain HTTP", http_server_port(srv, i));
	{
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		signal(SIGPIPE, SIG_IGN);
	}
	while (!stop_flag)
		pause();
	log_info("kbs: shutting down");
	ret = 0;
out:
	http_server_stop(srv);
	http_server_free(srv);
	kbs_free(k);
	kbs_config_release(&cfg);
	return ret;
}
