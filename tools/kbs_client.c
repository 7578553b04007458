// SPDX-License-Identifier: Apache-2.0
/*
 * kbs-client: Trustee-compatible command line client for the KBS (admin configuration and
 * guest-side attest/get-resource). Same sub-commands, flags and stdout as Trustee's tool;
 * errors go to stderr as "Error: ..." with an exit code that names the failure class.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/rcar.h"
#include "common/b64.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/http_client.h"
#include "common/jose/jwk.h"
#include "common/jose/jws.h"
#include "common/json.h"
#include "common/log.h"
#include "common/secmem.h"

/* Exit codes (documented in docs/kbs-client.md). */
enum {
	EX_OK = 0,
	EX_FAIL = 1,     /* any other failure (Trustee's tool uses 1 for everything) */
	EX_USAGE = 2,    /* bad command line (as clap) */
	EX_DENIED = 3,   /* PolicyDeny / admin access denied */
	EX_NOTFOUND = 4, /* resource not found */
	EX_NETWORK = 5,  /* KBS unreachable / TLS failure / timeout */
	EX_ATTEST = 6,   /* attestation refused */
	EX_CRYPTO = 7,   /* response could not be decrypted with our TEE key */
};

#define MAX_FILE (64u << 20)
#define MAX_PATHS 64

struct opts {
	const char *url;
	const char *cert_file;
	const char *tee;
	const char *tee_key_algorithm;
	const char *status_file;
	long timeout_ms;
	int retries;
	bool no_sample;
};

static const char *prog = "kbs-client";

/* Prints a clap-like usage error; the first "%s" in msg is replaced by arg. */
static void die_usage(const char *msg, const char *arg)
{
	const char *p = strstr(msg, "%s");

	fprintf(stderr, "error: ");
	if (p) {
		fwrite(msg, 1, (size_t)(p - msg), stderr);
		fputs(arg ? arg : "", stderr);
		fputs(p + 2, stderr);
	} else {
		fputs(msg, stderr);
	}
	fprintf(stderr, "\n\nFor more information, try '--help'.\n");
	exit(EX_USAGE);
}

static int exit_for(int rc)
{
	switch (rc) {
	case KBS_OK:
		return EX_OK;
	case KBS_ERR_DENIED:
	case KBS_ERR_PERM:
		return EX_DENIED;
	case KBS_ERR_NOTFOUND:
		return EX_NOTFOUND;
	case KBS_ERR_NETWORK:
	case KBS_ERR_TIMEOUT:
	case KBS_ERR_UNAVAILABLE:
		return EX_NETWORK;
	case KBS_ERR_AUTH:
		return EX_ATTEST;
	case KBS_ERR_CRYPTO:
	case KBS_ERR_VERIFY:
		return EX_CRYPTO;
	default:
		return EX_FAIL;
	}
}

/* Reads a whole file (at most MAX_FILE bytes) into b. */
static int read_file(const char *path, struct buf *b)
{
	char tmp[65536];
	ssize_t n;
	int fd, rc = KBS_OK;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "Failed to read: %s\n", path);
		return KBS_ERR_IO;
	}
	buf_init(b, MAX_FILE);
	while ((n = read(fd, tmp, sizeof(tmp))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = KBS_ERR_IO;
			break;
		}
		rc = buf_append(b, tmp, (size_t)n);
		if (rc)
			break;
	}
	close(fd);
	if (rc)
		fprintf(stderr, "Failed to read: %s\n", path);
	return rc;
}

/* Rust's {:?} of a string: quoted, with \" \\ \n \r \t \0 and \u{..} escapes. */
static void print_debug_str(FILE *f, const uint8_t *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\0':
			fputs("\\0", f);
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(f, "\\u{%x}", c);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

/* ---------------------------------------------------------------------------------------- */
/* admin side                                                                                */

struct admin {
	const struct opts *o;
	char *token; /* bearer token or NULL (anonymous) */
	struct http_client *http;
};

/* Signs a Trustee admin JWT with the private key in path (Ed25519, EC or RSA PEM). */
static int mint_admin_token(const char *path, const char *issuer, const char *audience,
			    const char *role, char **out)
{
	struct jwk *k = NULL;
	json_t *claims = NULL, *hdr = NULL;
	const char *alg, *kty, *crv;
	int64_t now = (int64_t)time(NULL);
	int rc;

	rc = jwk_from_pem_file(path, &k);
	if (rc || !jwk_is_private(k)) {
		fprintf(stderr, "Failed to read: %s\n", path);
		rc = rc ? rc : KBS_ERR_INVAL;
		goto out;
	}
	kty = jwk_kty(k);
	crv = jwk_crv(k);
	if (strcmp(kty, "OKP") == 0)
		alg = "EdDSA";
	else if (strcmp(kty, "RSA") == 0)
		alg = "RS256";
	else if (crv && strcmp(crv, "P-384") == 0)
		alg = "ES384";
	else if (crv && strcmp(crv, "P-256") == 0)
		alg = "ES256";
	else {
		rc = KBS_ERR_UNSUPPORTED;
		goto out;
	}
	/* two hours, like Trustee's tool; role for KBS >= v0.21 (ignored by older ones) */
	claims = json_pack("{s:I, s:I, s:I, s:s}", "iat", (json_int_t)now, "exp",
			   (json_int_t)(now + 7200), "nbf", (json_int_t)now, "role", role);
	hdr = json_pack("{s:s}", "typ", "JWT");
	if (!claims || !hdr) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	if (issuer)
		json_object_set_new(claims, "iss", json_string(issuer));
	if (audience)
		json_object_set_new(claims, "aud", json_pack("[s]", audience));
	rc = jwt_sign(k, alg, hdr, claims, out);
out:
	json_decref(claims);
	json_decref(hdr);
	jwk_free(k);
	return rc;
}

/* Trustee's token file resolution when neither --admin-token-file nor a key is given. */
static int resolve_token_file(const char *file, char **out)
{
	struct buf b = BUF_INIT;
	char home_path[PATH_MAX];
	const char *home = getenv("HOME");
	const char *path = file;
	int rc;

	*out = NULL;
	if (!path) {
		if (access("kbs/config/docker-compose/admin-token", R_OK) == 0) {
			path = "kbs/config/docker-compose/admin-token";
		} else if (home && snprintf(home_path, sizeof(home_path), "%s/.trustee/admin-token",
					    home) < (int)sizeof(home_path) &&
			   access(home_path, F_OK) == 0) {
			path = home_path;
		} else {
			fprintf(stderr, "WARN: No admin token configured. Sending anonymous admin "
					"requests; this only works when KBS admin "
					"authorization_mode is InsecureAllowAll.\n");
			return KBS_OK;
		}
	}
	rc = read_file(path, &b);
	if (rc)
		return rc;
	/* trim */
	while (b.len && (b.p[b.len - 1] == '\n' || b.p[b.len - 1] == '\r' ||
			 b.p[b.len - 1] == ' ' || b.p[b.len - 1] == '\t'))
		b.p[--b.len] = '\0';
	{
		size_t start = 0;

		while (start < b.len && (b.p[start] == ' ' || b.p[start] == '\t' ||
					 b.p[start] == '\n'))
			start++;
		*out = strdup((const char *)b.p + start);
	}
	buf_release(&b);
	return *out ? KBS_OK : KBS_ERR_NOMEM;
}

/* One admin request; on a non-200 answer prints Trustee's "Request Failed" message. */
static int admin_request(struct admin *a, const char *method, const char *path,
			 const char *ctype, const void *body, size_t len, struct buf *resp)
{
	struct http_result res;
	struct buf url = BUF_INIT, auth = BUF_INIT, ct = BUF_INIT;
	const char *headers[3] = {NULL, NULL, NULL};
	int nh = 0, rc;

	memset(&res, 0, sizeof(res));
	if (buf_printf(&url, "%s/kbs/v0/%s", a->o->url, path)) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	if (ctype) {
		buf_printf(&ct, "Content-Type: %s", ctype);
		headers[nh++] = (const char *)ct.p;
	}
	if (a->token) {
		buf_printf(&auth, "Authorization: Bearer %s", a->token);
		headers[nh++] = (const char *)auth.p;
	}
	rc = http_client_request(a->http, method, (const char *)url.p, headers, body, len,
				 http_now_ms() + a->o->timeout_ms * (a->o->retries + 1), &res);
	if (rc) {
		fprintf(stderr, "Error: %s %s: %s\n", method, (const char *)url.p,
			res.error[0] ? res.error : kbs_strerror(rc));
		goto out;
	}
	if (res.status != 200) {
		char type[64], detail[256];
		enum rcar_action act;

		fputs("Error: Request Failed, Response: ", stderr);
		print_debug_str(stderr, res.body.p, res.body.len);
		fputc('\n', stderr);
		if (rcar_parse_error((const char *)res.body.p, res.body.len, type, sizeof(type),
				     detail, sizeof(detail)) == KBS_OK)
			rc = rcar_classify(res.status, type, &act);
		else
			rc = rcar_classify(res.status, "", &act);
		if (rc == KBS_ERR_AUTH)
			rc = KBS_ERR_PERM; /* an admin call refused for its credentials */
		goto out;
	}
	if (resp)
		rc = buf_append(resp, res.body.p, res.body.len);
out:
	http_result_release(&res);
	buf_release(&url);
	if (auth.p)
		OPENSSL_cleanse(auth.p, auth.len);
	buf_release(&auth);
	buf_release(&ct);
	return rc;
}

/* Policy texts for --allow-all/--deny-all/--affirming/--default (same rules as Trustee's). */
static const char policy_allow_all[] = "package policy\n"
				       "\n"
				       "default allow = false\n"
				       "\n"
				       "# any resource of the resource plugin\n"
				       "allow if {\n"
				       "\tdata.plugin == \"resource\"\n"
				       "}\n";
static const char policy_deny_all[] = "package policy\n"
				      "\n"
				      "# nothing is released\n"
				      "default allow = false\n";
static const char policy_affirming[] = "package policy\n"
				       "import rego.v1\n"
				       "\n"
				       "default allow = false\n"
				       "\n"
				       "# every appraisal in the token must be affirming\n"
				       "allow if {\n"
				       "\tcount(input.submods) > 0\n"
				       "\tnot some_not_affirming\n"
				       "}\n"
				       "\n"
				       "some_not_affirming if {\n"
				       "\tsome _, s in input.submods\n"
				       "\ts[\"ear.status\"] != \"affirming\"\n"
				       "}\n";
static const char policy_default[] =
	"package policy\n"
	"\n"
	"default allow = false\n"
	"\n"
	"# everything of the resource plugin, except for the sample TEE\n"
	"allow if {\n"
	"\tdata.plugin == \"resource\"\n"
	"\tnot input[\"submods\"][\"cpu0\"][\"ear.veraison.annotated-evidence\"][\"sample\"]\n"
	"}\n";

static void print_b64_line(const char *prefix, const uint8_t *p, size_t n)
{
	char *enc = NULL;

	if (b64_encode_alloc(p, n, B64_STD, &enc) == KBS_OK) {
		printf("%s%s\n", prefix, enc);
		OPENSSL_cleanse(enc, strlen(enc));
	}
	free(enc);
}

static int b64url_json_member(const char *name, const uint8_t *p, size_t n, json_t *o)
{
	char *enc = NULL;
	int rc = b64_encode_alloc(p, n, B64_URL, &enc);

	if (rc)
		return rc;
	rc = json_object_set_new(o, name, json_string(enc)) ? KBS_ERR_NOMEM : KBS_OK;
	free(enc);
	return rc;
}

static int post_json(struct admin *a, const char *path, json_t *o)
{
	size_t n;
	char *s = json_dump_compact(o, &n);
	int rc;

	if (!s)
		return KBS_ERR_NOMEM;
	rc = admin_request(a, "POST", path, "application/json", s, n, NULL);
	free(s);
	return rc;
}

static void usage_config(void)
{
	printf("Set and Config KBS\n\n"
	       "Usage: %s config [OPTIONS] <COMMAND>\n\n"
	       "Commands:\n"
	       "  set-attestation-policy      Set attestation verification policy\n"
	       "  set-resource-policy         Set resource policy\n"
	       "  set-resource                Set confidential resource\n"
	       "  delete-resource             Delete confidential resource\n"
	       "  get-reference-value         Get reference value from RVPS given reference "
	       "value ID\n"
	       "  set-sample-reference-value  Add a sample reference value to the RVPS (proxied "
	       "through the KBS)\n\n"
	       "Options:\n"
	       "      --admin-token-file <FILE>   Admin bearer token file. If omitted (and no "
	       "--auth-private-key), tries\n"
	       "                                  kbs/config/docker-compose/admin-token, then "
	       "~/.trustee/admin-token, then\n"
	       "                                  sends unauthenticated admin requests\n"
	       "      --auth-private-key <FILE>   Private key (Ed25519, EC P-256/P-384 or RSA PEM) "
	       "to sign a 2-hour admin JWT\n"
	       "                                  with (Trustee <= v0.20 style; role claim added "
	       "for newer KBS)\n"
	       "      --admin-role <ROLE>         role claim of the signed JWT [default: admin]\n"
	       "      --admin-issuer <ISS>        iss claim of the signed JWT [default: none]\n"
	       "      --admin-audience <AUD>      aud claim of the signed JWT [default: none]\n"
	       "  -h, --help                      Print help\n",
	       prog);
}

static void usage_config_sub(const char *sub)
{
	if (!strcmp(sub, "set-resource"))
		printf("Set confidential resource\n\nUsage: %s config set-resource --path <PATH> "
		       "--resource-file <RESOURCE_FILE>\n\nOptions:\n"
		       "      --path <PATH>                    KBS Resource path, e.g "
		       "my_repo/resource_type/123abc\n"
		       "      --resource-file <RESOURCE_FILE>  Resource file path\n"
		       "  -h, --help                           Print help\n",
		       prog);
	else if (!strcmp(sub, "delete-resource"))
		printf("Delete confidential resource\n\nUsage: %s config delete-resource --path "
		       "<PATH>\n\nOptions:\n"
		       "      --path <PATH>  KBS Resource path, e.g my_repo/resource_type/123abc\n"
		       "  -h, --help         Print help\n",
		       prog);
	else if (!strcmp(sub, "set-resource-policy"))
		printf("Set resource policy\n\nUsage: %s config set-resource-policy "
		       "<--policy-file <POLICY_FILE>|--allow-all|--deny-all|--affirming|--default>"
		       "\n\nOptions:\n"
		       "      --policy-file <POLICY_FILE>  Policy file path\n"
		       "      --allow-all                  Built-in policy that allows access to all "
		       "resources\n"
		       "      --deny-all                   Built-in policy that does not allow access "
		       "to any resources\n"
		       "      --affirming                  Built-in policy that only releases "
		       "resources if the attestation token is affirming\n"
		       "      --default                    Built-in default policy: everything unless "
		       "the evidence is from the sample TEE\n"
		       "  -h, --help                       Print help\n",
		       prog);
	else if (!strcmp(sub, "set-attestation-policy"))
		printf("Set attestation verification policy\n\nUsage: %s config "
		       "set-attestation-policy [OPTIONS] --policy-file <POLICY_FILE>\n\nOptions:\n"
		       "      --type <TYPE>                Policy format type [default: rego]\n"
		       "      --id <ID>                    Policy ID [default: default_cpu]\n"
		       "      --policy-file <POLICY_FILE>  Policy file path\n"
		       "  -h, --help                       Print help\n",
		       prog);
	else if (!strcmp(sub, "get-reference-value"))
		printf("Get reference value from RVPS given reference value ID\n\nUsage: %s config "
		       "get-reference-value --id <ID>\n\nOptions:\n"
		       "      --id <ID>  The ID of the reference value\n"
		       "  -h, --help     Print help\n",
		       prog);
	else
		printf("Add a sample reference value to the RVPS (proxied through the KBS; the "
		       "RVPS must enable the sample extractor)\n\nUsage: %s config "
		       "set-sample-reference-value [OPTIONS] <NAME> <VALUE>\n\nArguments:\n"
		       "  <NAME>   The name of the reference value\n"
		       "  <VALUE>  The reference value itself (a string unless --as-integer or "
		       "--as-bool)\n\nOptions:\n"
		       "      --as-integer       Parse the value as an integer\n"
		       "      --as-bool          Parse the value as a bool\n"
		       "      --as-single-value  Store the value itself instead of a one-element "
		       "list\n"
		       "  -h, --help             Print help\n",
		       prog);
}

/* Value of --flag VALUE or --flag=VALUE at argv[*i]; advances *i. NULL if not this flag. */
static const char *flag_value(int argc, char **argv, int *i, const char *flag)
{
	size_t fl = strlen(flag);
	const char *a = argv[*i];

	if (strncmp(a, flag, fl) != 0)
		return NULL;
	if (a[fl] == '=')
		return a + fl + 1;
	if (a[fl] != '\0')
		return NULL;
	if (*i + 1 >= argc)
		die_usage("a value is required for '%s <VALUE>' but none was supplied", flag);
	(*i)++;
	return argv[*i];
}

static int cmd_config(const struct opts *o, int argc, char **argv)
{
	struct admin a = {.o = o};
	struct http_client_config hc = {
		.ca_file = o->cert_file,
		.timeout_ms = o->timeout_ms,
		.max_retries = o->retries,
		.user_agent = "kbs-client/0.1",
	};
	const char *token_file = NULL, *auth_key = NULL, *role = "admin", *iss = NULL,
		   *aud = NULL, *v, *sub = NULL;
	int i, rc;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage_config();
			return EX_OK;
		} else if ((v = flag_value(argc, argv, &i, "--admin-token-file"))) {
			token_file = v;
		} else if ((v = flag_value(argc, argv, &i, "--auth-private-key"))) {
			auth_key = v;
		} else if ((v = flag_value(argc, argv, &i, "--admin-role"))) {
			role = v;
		} else if ((v = flag_value(argc, argv, &i, "--admin-issuer"))) {
			iss = v;
		} else if ((v = flag_value(argc, argv, &i, "--admin-audience"))) {
			aud = v;
		} else if (argv[i][0] == '-') {
			die_usage("unexpected argument '%s' found", argv[i]);
		} else {
			sub = argv[i++];
			break;
		}
	}
	if (!sub) {
		usage_config();
		return EX_USAGE;
	}
	argc -= i;
	argv += i;

	/* sub-command flags */
	const char *path = NULL, *resource_file = NULL, *policy_file = NULL, *ptype = NULL,
		   *pid = NULL, *id = NULL, *name = NULL, *value = NULL;
	bool allow_all = false, deny_all = false, affirming = false, dflt = false,
	     as_integer = false, as_bool = false, single = false;

	if (strcmp(sub, "set-resource") && strcmp(sub, "delete-resource") &&
	    strcmp(sub, "set-resource-policy") && strcmp(sub, "set-attestation-policy") &&
	    strcmp(sub, "get-reference-value") && strcmp(sub, "set-sample-reference-value"))
		die_usage("unrecognized subcommand '%s'", sub);
	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage_config_sub(sub);
			return EX_OK;
		} else if ((v = flag_value(argc, argv, &i, "--path"))) {
			path = v;
		} else if ((v = flag_value(argc, argv, &i, "--resource-file"))) {
			resource_file = v;
		} else if ((v = flag_value(argc, argv, &i, "--policy-file"))) {
			policy_file = v;
		} else if ((v = flag_value(argc, argv, &i, "--type"))) {
			ptype = v;
		} else if ((v = flag_value(argc, argv, &i, "--id"))) {
			if (!strcmp(sub, "get-reference-value"))
				id = v;
			else
				pid = v;
		} else if (!strcmp(argv[i], "--allow-all")) {
			allow_all = true;
		} else if (!strcmp(argv[i], "--deny-all")) {
			deny_all = true;
		} else if (!strcmp(argv[i], "--affirming")) {
			affirming = true;
		} else if (!strcmp(argv[i], "--default")) {
			dflt = true;
		} else if (!strcmp(argv[i], "--as-integer")) {
			as_integer = true;
		} else if (!strcmp(argv[i], "--as-bool")) {
			as_bool = true;
		} else if (!strcmp(argv[i], "--as-single-value")) {
			single = true;
		} else if (argv[i][0] == '-' && argv[i][1] == '-') {
			die_usage("unexpected argument '%s' found", argv[i]);
		} else if (!name) {
			name = argv[i];
		} else if (!value) {
			value = argv[i];
		} else {
			die_usage("unexpected argument '%s' found", argv[i]);
		}
	}
	/* required arguments, checked before any network traffic */
	if ((!strcmp(sub, "set-resource") || !strcmp(sub, "delete-resource")) && !path)
		die_usage("the following required arguments were not provided:\n  --path <PATH>",
			  NULL);
	if (!strcmp(sub, "set-resource") && !resource_file)
		die_usage("the following required arguments were not provided:\n  "
			  "--resource-file <RESOURCE_FILE>",
			  NULL);
	if (!strcmp(sub, "set-attestation-policy") && !policy_file)
		die_usage("the following required arguments were not provided:\n  "
			  "--policy-file <POLICY_FILE>",
			  NULL);
	if (!strcmp(sub, "set-resource-policy") &&
	    (int)!!policy_file + allow_all + deny_all + affirming + dflt > 1)
		die_usage("the argument '%s' cannot be used with one or more of the other "
			  "specified arguments",
			  "--policy-file/--allow-all/--deny-all/--affirming/--default");
	if (!strcmp(sub, "get-reference-value") && !id)
		die_usage("the following required arguments were not provided:\n  --id <ID>", NULL);
	if (!strcmp(sub, "set-sample-reference-value") && (!name || !value))
		die_usage("the following required arguments were not provided:\n  <NAME> <VALUE>",
			  NULL);
	if (as_integer && as_bool)
		die_usage("the argument '--as-integer' cannot be used with '--as-bool'", NULL);
	if (token_file && auth_key)
		die_usage("the argument '--admin-token-file' cannot be used with "
			  "'--auth-private-key'",
			  NULL);

	if (auth_key) {
		rc = mint_admin_token(auth_key, iss, aud, role, &a.token);
		if (rc) {
			fprintf(stderr, "Error: cannot sign the admin token with %s: %s\n",
				auth_key, kbs_strerror(rc));
			return EX_FAIL;
		}
	} else {
		rc = resolve_token_file(token_file, &a.token);
		if (rc)
			return EX_FAIL;
	}
	rc = http_client_new(&hc, &a.http);
	if (rc) {
		fprintf(stderr, "Error: HTTP client setup failed (%s); check --cert-file\n",
			kbs_strerror(rc));
		goto out;
	}

	if (!strcmp(sub, "set-resource") || !strcmp(sub, "delete-resource")) {
		struct buf rpath = BUF_INIT, data = BUF_INIT;

		buf_printf(&rpath, "resource/%s", path);
		if (!strcmp(sub, "set-resource")) {
			rc = read_file(resource_file, &data);
			if (rc == KBS_OK)
				rc = admin_request(&a, "POST", (const char *)rpath.p,
						   "application/octet-stream", data.p, data.len,
						   NULL);
			if (rc == KBS_OK)
				print_b64_line("Set resource success \n resource: ", data.p,
					       data.len);
			if (data.p)
				OPENSSL_cleanse(data.p, data.len);
		} else {
			rc = admin_request(&a, "DELETE", (const char *)rpath.p, NULL, NULL, 0,
					   NULL);
			if (rc == KBS_OK)
				printf("Delete resource success\n");
		}
		buf_release(&rpath);
		buf_release(&data);
	} else if (!strcmp(sub, "set-resource-policy")) {
		struct buf pol = BUF_INIT;
		json_t *body = json_object();

		if (policy_file)
			rc = read_file(policy_file, &pol);
		else if (allow_all)
			rc = buf_append_str(&pol, policy_allow_all);
		else if (deny_all)
			rc = buf_append_str(&pol, policy_deny_all);
		else if (affirming)
			rc = buf_append_str(&pol, policy_affirming);
		else if (dflt)
			rc = buf_append_str(&pol, policy_default);
		else {
			fprintf(stderr, "Error: No policy specified\n");
			rc = KBS_ERR_INVAL;
		}
		if (rc == KBS_OK)
			rc = body ? b64url_json_member("policy", pol.p, pol.len, body)
				  : KBS_ERR_NOMEM;
		if (rc == KBS_OK)
			rc = post_json(&a, "resource-policy", body);
		if (rc == KBS_OK)
			print_b64_line("Set resource policy success \n policy: ", pol.p, pol.len);
		json_decref(body);
		buf_release(&pol);
	} else if (!strcmp(sub, "set-attestation-policy")) {
		struct buf pol = BUF_INIT;
		json_t *body = NULL;

		rc = read_file(policy_file, &pol);
		if (rc == KBS_OK) {
			if (!pid)
				fprintf(stderr, "WARN: no policy_id set; using default_cpu\n");
			body = json_pack("{s:s, s:s}", "type", ptype ? ptype : "rego", "policy_id",
					 pid ? pid : "default_cpu");
			rc = body ? b64url_json_member("policy", pol.p, pol.len, body)
				  : KBS_ERR_NOMEM;
		}
		if (rc == KBS_OK)
			rc = post_json(&a, "attestation-policy", body);
		if (rc == KBS_OK)
			print_b64_line("Set attestation policy success \n policy: ", pol.p,
				       pol.len);
		json_decref(body);
		buf_release(&pol);
	} else if (!strcmp(sub, "get-reference-value")) {
		struct buf rpath = BUF_INIT, resp = BUF_INIT;

		buf_printf(&rpath, "reference-value/%s", id);
		rc = admin_request(&a, "GET", (const char *)rpath.p, "application/json", NULL, 0,
				   &resp);
		if (rc == KBS_OK) {
			print_debug_str(stdout, resp.p, resp.len);
			fputc('\n', stdout);
		}
		buf_release(&rpath);
		buf_release(&resp);
	} else { /* set-sample-reference-value */
		json_t *val = NULL, *prov = NULL, *msg = NULL;
		char *provs = NULL, *enc = NULL;
		size_t n;

		rc = KBS_ERR_INVAL;
		if (as_integer) {
			char *end;
			long long x;

			errno = 0;
			x = strtoll(value, &end, 10);
			if (errno || *end || end == value || x < INT32_MIN || x > INT32_MAX) {
				fprintf(stderr, "Error: invalid digit found in string\n");
				goto rv_out;
			}
			val = json_integer(x);
		} else if (as_bool) {
			if (strcmp(value, "true") && strcmp(value, "false")) {
				fprintf(stderr, "Error: provided string was not `true` or `false`\n");
				goto rv_out;
			}
			val = json_boolean(!strcmp(value, "true"));
		} else {
			val = json_string(value);
		}
		if (val && !single)
			val = json_pack("[o]", val);
		rc = KBS_ERR_NOMEM;
		prov = val ? json_pack("{s:O}", name, val) : NULL;
		provs = prov ? json_dump_compact(prov, &n) : NULL;
		if (!provs || b64_encode_alloc((const uint8_t *)provs, n, B64_STD, &enc))
			goto rv_out;
		msg = json_pack("{s:s, s:s, s:s}", "version", "0.1.0", "type", "sample", "payload",
				enc);
		if (!msg)
			goto rv_out;
		rc = post_json(&a, "reference-value", msg);
		if (rc == KBS_OK)
			printf("Reference Values Updated\n");
rv_out:
		json_decref(val);
		json_decref(prov);
		json_decref(msg);
		free(provs);
		free(enc);
	}
out:
	http_client_free(a.http);
	if (a.token) {
		OPENSSL_cleanse(a.token, strlen(a.token));
		free(a.token);
	}
	return exit_for(rc);
}

/* ---------------------------------------------------------------------------------------- */
/* guest side                                                                                */

static void usage_guest(const char *cmd)
{
	if (!strcmp(cmd, "attest"))
		printf("Attestation and get attestation results token\n\nUsage: %s attest "
		       "[OPTIONS] [INIT_DATA]\n\nArguments:\n"
		       "  [INIT_DATA]  InitData plaintext (TOML) sent with the attestation\n\n"
		       "Options:\n"
		       "      --tee-key-file <TEE_KEY_FILE>  Custom TEE private key file (PEM: "
		       "PKCS#1 RSA or PKCS#8 EC P-256/P-521); default: a new key pair\n"
		       "  -h, --help                         Print help\n",
		       prog);
	else
		printf("Get confidential resource\n\nUsage: %s get-resource [OPTIONS] --path "
		       "<PATH> [INIT_DATA]\n\nArguments:\n"
		       "  [INIT_DATA]  InitData plaintext (TOML) sent with the attestation\n\n"
		       "Options:\n"
		       "      --path <PATH>                  KBS Resource path, e.g "
		       "my_repo/resource_type/123abc (may be repeated: one output line per path, "
		       "one attestation for all)\n"
		       "      --tee-key-file <TEE_KEY_FILE>  Custom TEE private key file (PEM); "
		       "default: a new key pair\n"
		       "      --attestation-token <FILE>     Attestation token file (needs "
		       "--tee-key-file)\n"
		       "      --concurrent                   Fetch all --path values at once from "
		       "parallel threads\n"
		       "  -h, --help                         Print help\n",
		       prog);
}

static void write_status(const struct opts *o, struct broker *b)
{
	json_t *st;
	FILE *f;

	if (!o->status_file || !b)
		return;
	st = broker_status(b);
	f = fopen(o->status_file, "we");
	if (f && st) {
		json_dumpf(st, f, JSON_COMPACT);
		fputc('\n', f);
	}
	if (f)
		fclose(f);
	json_decref(st);
}

static void print_broker_error(int rc, const struct broker_error *e)
{
	const char *what;

	switch (rc) {
	case KBS_ERR_DENIED:
		what = "access denied by policy";
		break;
	case KBS_ERR_NOTFOUND:
		what = "resource not found";
		break;
	case KBS_ERR_NETWORK:
		what = "network error";
		break;
	case KBS_ERR_TIMEOUT:
		what = "timed out";
		break;
	case KBS_ERR_AUTH:
		what = "attestation failed";
		break;
	case KBS_ERR_CRYPTO:
		what = "resource decryption failed";
		break;
	default:
		what = kbs_strerror(rc);
	}
	fprintf(stderr, "Error: %s (%s)", what, kbs_errname(rc));
	if (e->type[0])
		fprintf(stderr, " [%s]", e->type);
	if (e->http_status)
		fprintf(stderr, " HTTP %ld", e->http_status);
	if (e->detail[0])
		fprintf(stderr, ": %s", e->detail);
	fputc('\n', stderr);
}

static void print_broker_error(int rc, const struct broker_error *e);

struct fetch_job {
	struct broker *b;
	const char *path;
	struct secbuf res;
	struct broker_error e;
	int rc;
};

static void *fetch_thread(void *arg)
{
	struct fetch_job *j = arg;

	j->rc = broker_get_resource(j->b, j->path, 0, &j->res, &j->e);
	return NULL;
}

/* Prints one resource as standard base64 (encoded in locked memory: it is still secret). */
static int print_resource(const struct secbuf *res)
{
	struct secbuf enc = {NULL, 0};
	int rc;

	rc = secbuf_alloc(&enc, b64_encoded_len(res->len, B64_STD) + 1);
	if (rc == KBS_OK)
		rc = b64_encode(res->p, res->len, (char *)enc.p, enc.len, B64_STD);
	if (rc == KBS_OK) {
		fputs((const char *)enc.p, stdout);
		fputc('\n', stdout);
		fflush(stdout);
	}
	secbuf_free(&enc);
	return rc;
}

/* --concurrent: all paths at once from separate threads (they share one attestation). */
static int fetch_concurrently(struct broker *b, const char *const *paths, int n)
{
	struct fetch_job jobs[MAX_PATHS];
	pthread_t th[MAX_PATHS];
	int rc = KBS_OK, started = 0;

	memset(jobs, 0, sizeof(jobs));
	for (int i = 0; i < n; i++) {
		jobs[i].b = b;
		jobs[i].path = paths[i];
		if (pthread_create(&th[i], NULL, fetch_thread, &jobs[i]) != 0) {
			jobs[i].rc = KBS_ERR_NOMEM;
			break;
		}
		started++;
	}
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < n; i++) {
		if (rc == KBS_OK) {
			rc = jobs[i].rc;
			if (rc == KBS_OK)
				rc = print_resource(&jobs[i].res);
			else
				print_broker_error(rc, &jobs[i].e);
		}
		secbuf_free(&jobs[i].res);
	}
	return rc;
}

static int cmd_guest(const struct opts *o, const char *cmd, int argc, char **argv)
{
	struct broker_config bc = {0};
	struct broker *b = NULL;
	struct buf key = BUF_INIT, tokf = BUF_INIT;
	const char *paths[MAX_PATHS];
	const char *tee_key_file = NULL, *token_file = NULL, *init_data = NULL, *v;
	struct broker_error e;
	int npaths = 0, rc = KBS_OK;
	bool is_get = !strcmp(cmd, "get-resource"), concurrent = false;

	memset(&e, 0, sizeof(e));
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage_guest(cmd);
			return EX_OK;
		} else if ((v = flag_value(argc, argv, &i, "--tee-key-file"))) {
			tee_key_file = v;
		} else if (is_get && (v = flag_value(argc, argv, &i, "--path"))) {
			if (npaths == MAX_PATHS)
				die_usage("too many '%s' arguments", "--path");
			paths[npaths++] = v;
		} else if (is_get && (v = flag_value(argc, argv, &i, "--attestation-token"))) {
			token_file = v;
		} else if (is_get && !strcmp(argv[i], "--concurrent")) {
			concurrent = true;
		} else if (argv[i][0] == '-' && argv[i][1] == '-') {
			die_usage("unexpected argument '%s' found", argv[i]);
		} else if (!init_data) {
			init_data = argv[i];
		} else {
			die_usage("unexpected argument '%s' found", argv[i]);
		}
	}
	if (is_get && !npaths) {
		if (argc == 0) {
			usage_guest(cmd);
			return EX_USAGE;
		}
		die_usage("the following required arguments were not provided:\n  --path <PATH>",
			  NULL);
	}
	if (token_file && !tee_key_file) {
		fprintf(stderr, "Error: if `--attestation-token` is set, `--tee_key_file` argument "
				"should also be set, and the public part of TEE Key should be "
				"consistent with tee-pubkey in the token.\n");
		return EX_FAIL;
	}
	if (tee_key_file && (rc = read_file(tee_key_file, &key)))
		goto out;
	if (token_file && (rc = read_file(token_file, &tokf)))
		goto out;

	bc.kbs_url = o->url;
	bc.kbs_cert_file = o->cert_file;
	bc.tee = o->tee;
	/* like Trustee's tool: the sample TEE stands in when there is no hardware TEE */
	bc.allow_sample = !o->no_sample;
	bc.tee_key_algorithm = o->tee_key_algorithm;
	bc.request_timeout_ms = o->timeout_ms;
	bc.max_retries = o->retries > 0 ? o->retries : -1;
	bc.initdata_toml = init_data;
	bc.tee_key_pem = tee_key_file ? (const char *)key.p : NULL;
	rc = broker_new(&bc, &b);
	if (rc) {
		fprintf(stderr, "Error: cannot set up the KBS client: %s\n", kbs_strerror(rc));
		goto out;
	}
	if (token_file) {
		char *t = (char *)tokf.p;
		size_t n = tokf.len;

		while (n && (t[n - 1] == '\n' || t[n - 1] == '\r' || t[n - 1] == ' '))
			n--;
		while (n && (*t == ' ' || *t == '\n')) {
			t++;
			n--;
		}
		rc = broker_set_token(b, t, n);
		if (rc) {
			fprintf(stderr, "Error: cannot use the attestation token: %s\n",
				kbs_strerror(rc));
			goto out;
		}
	}

	if (!is_get) {
		struct secbuf tok = {NULL, 0};

		rc = broker_attest(b, 0, &tok, &e);
		if (rc == KBS_OK) {
			fwrite(tok.p, 1, tok.len, stdout);
			fputc('\n', stdout);
		} else {
			print_broker_error(rc, &e);
		}
		secbuf_free(&tok);
	} else if (concurrent) {
		rc = fetch_concurrently(b, paths, npaths);
	} else {
		for (int i = 0; i < npaths && rc == KBS_OK; i++) {
			struct secbuf res = {NULL, 0};

			rc = broker_get_resource(b, paths[i], 0, &res, &e);
			if (rc)
				print_broker_error(rc, &e);
			else
				rc = print_resource(&res);
			secbuf_free(&res);
		}
	}
out:
	write_status(o, b);
	broker_free(b);
	if (key.p)
		OPENSSL_cleanse(key.p, key.len);
	buf_release(&key);
	if (tokf.p)
		OPENSSL_cleanse(tokf.p, tokf.len);
	buf_release(&tokf);
	return exit_for(rc);
}

static void usage_main(void)
{
	printf("A command line client tool for KBS APIs.\n\n"
	       "Usage: %s [OPTIONS] <COMMAND>\n\n"
	       "Commands:\n"
	       "  config        Set and Config KBS\n"
	       "  get-resource  Get confidential resource\n"
	       "  attest        Attestation and get attestation results token\n"
	       "  help          Print this message\n\n"
	       "Options:\n"
	       "      --url <URL>              The KBS server root URL [default: "
	       "http://127.0.0.1:8080]\n"
	       "      --cert-file <CERT_FILE>  The KBS HTTPS server custom root certificate file "
	       "path (PEM format)\n"
	       "      --tee <TEE>              TEE to attest as: auto, sample, snp, tdx, tpm, "
	       "az-snp-vtpm, az-tdx-vtpm [default: auto]\n"
	       "      --no-sample              Never fall back to the sample TEE\n"
	       "      --tee-key-algorithm <A>  ECDH-ES+A256KW-P256 (default), "
	       "ECDH-ES+A256KW-P521, RSA-OAEP-256\n"
	       "      --timeout-ms <MS>        Per-request timeout [default: 10000]\n"
	       "      --retries <N>            Network retries [default: 4]\n"
	       "      --status-file <FILE>     Write the broker status JSON (attestation count, "
	       "last error) there on exit\n"
	       "      --log-level <LEVEL>      error, warn, info, debug [default: error; env "
	       "KBS_LOG]\n"
	       "  -h, --help                   Print help\n"
	       "  -V, --version                Print version\n\n"
	       "Exit status: 0 ok, 1 error, 2 usage, 3 denied, 4 not found, 5 network, "
	       "6 attestation failed, 7 decryption failed\n",
	       prog);
}

int main(int argc, char **argv)
{
	struct opts o = {
		.url = "http://127.0.0.1:8080",
		.tee = "auto",
		.timeout_ms = 10000,
		.retries = 4,
	};
	const char *v, *lvl = getenv("KBS_LOG");
	int i, l;

	log_setup("kbs-client", LOG_LVL_ERROR, LOG_TARGET_STDERR);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") ||
		    !strcmp(argv[i], "help")) {
			usage_main();
			return EX_OK;
		} else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
			printf("kbs-client 0.1.0 (kbsfs)\n");
			return EX_OK;
		} else if ((v = flag_value(argc, argv, &i, "--url"))) {
			o.url = v;
		} else if ((v = flag_value(argc, argv, &i, "--cert-file"))) {
			o.cert_file = v;
		} else if ((v = flag_value(argc, argv, &i, "--tee-key-algorithm"))) {
			o.tee_key_algorithm = v;
		} else if ((v = flag_value(argc, argv, &i, "--tee"))) {
			o.tee = v;
		} else if (!strcmp(argv[i], "--no-sample")) {
			o.no_sample = true;
		} else if ((v = flag_value(argc, argv, &i, "--timeout-ms"))) {
			o.timeout_ms = strtol(v, NULL, 10);
			if (o.timeout_ms <= 0)
				die_usage("invalid value '%s' for '--timeout-ms <MS>'", v);
		} else if ((v = flag_value(argc, argv, &i, "--retries"))) {
			o.retries = (int)strtol(v, NULL, 10);
			if (o.retries < 0 || o.retries > 20)
				die_usage("invalid value '%s' for '--retries <N>'", v);
		} else if ((v = flag_value(argc, argv, &i, "--status-file"))) {
			o.status_file = v;
		} else if ((v = flag_value(argc, argv, &i, "--log-level"))) {
			lvl = v;
		} else if (argv[i][0] == '-') {
			die_usage("unexpected argument '%s' found", argv[i]);
		} else {
			break;
		}
	}
	if (lvl) {
		l = log_level_parse(lvl);
		if (l < 0)
			die_usage("invalid log level '%s'", lvl);
		log_set_level((enum log_level)l);
	}
	if (i >= argc) {
		usage_main();
		return EX_USAGE;
	}
	/* a CLI tool on a developer box may lack RLIMIT_MEMLOCK: fall back to unlocked memory */
	if (secmem_init(0, true) != KBS_OK) {
		fprintf(stderr, "Error: secure memory setup failed\n");
		return EX_FAIL;
	}
	if (!strcmp(argv[i], "config"))
		return cmd_config(&o, argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "get-resource") || !strcmp(argv[i], "attest"))
		return cmd_guest(&o, argv[i], argc - i - 1, argv + i + 1);
	die_usage("unrecognized subcommand '%s'", argv[i]);
	return EX_USAGE;
}
