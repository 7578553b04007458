// SPDX-License-Identifier: Apache-2.0
/*
 * jose-tool: a thin test CLI over common/jose for the cross-implementation tests.
 * Keys are files holding a JWK (JSON) or PEM; data comes on stdin, results go to stdout.
 *
 *   jose-tool genkey p256|p384|p521|rsa2048|ed25519         private JWK to stdout
 *   jose-tool pub KEY                                          public JWK
 *   jose-tool pem KEY [private]                                PEM (SPKI or PKCS#8)
 *   jose-tool thumbprint KEY                                   RFC 7638 base64url
 *   jose-tool teepub KEY ALG                                   guest tee-pubkey JSON
 *   jose-tool sign KEY ALG [HEADER_JSON] < payload             compact JWS
 *   jose-tool verify KEY ALG[,ALG...] < jws                    payload
 *   jose-tool jwt-verify KEY|insecure LEEWAY < jwt             claims JSON (ES256 only)
 *   jose-tool encrypt KEY [ALG] < plaintext                    flattened JWE JSON
 *   jose-tool decrypt KEY [ALG,...] < jwe                      plaintext
 * Exit status 0 on success, 1 on a library error (its name on stderr), 2 on usage errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/jose/jwe.h"
#include "common/jose/jwk.h"
#include "common/jose/jws.h"
#include "common/secmem.h"

#define TOOL_MAX_INPUT (64u << 20)

static int read_stream(FILE *f, struct buf *b)
{
	char tmp[65536];
	size_t n;
	int rc;

	buf_init(b, TOOL_MAX_INPUT);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		if ((rc = buf_append(b, tmp, n)))
			return rc;
	return ferror(f) ? KBS_ERR_IO : KBS_OK;
}

static int load_key(const char *path, struct jwk **k)
{
	struct buf b;
	FILE *f = fopen(path, "rb");
	size_t i = 0;
	int rc;

	if (!f)
		return KBS_ERR_IO;
	rc = read_stream(f, &b);
	fclose(f);
	if (rc == KBS_OK) {
		while (i < b.len && (b.p[i] == ' ' || b.p[i] == '\n'))
			i++;
		rc = i < b.len && b.p[i] == '{' ? jwk_from_json_text((char *)b.p, b.len, k)
						: jwk_from_pem((char *)b.p, b.len, k);
	}
	buf_release(&b);
	return rc;
}

static int print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	if (!s)
		return KBS_ERR_NOMEM;
	puts(s);
	free(s);
	return KBS_OK;
}

/* Splits "A,B,C" into a NULL-terminated list (in place). */
static const char **split_algs(char *s)
{
	static const char *list[16];
	size_t n = 0;

	for (char *tok = strtok(s, ","); tok && n < 15; tok = strtok(NULL, ","))
		list[n++] = tok;
	list[n] = NULL;
	return list;
}

static int cmd_genkey(const char *kind)
{
	static const struct {
		const char *name;
		enum jwk_kind kind;
	} kinds[] = {{"p256", JWK_EC_P256},	    {"p384", JWK_EC_P384},
		     {"p521", JWK_EC_P521},	    {"rsa2048", JWK_RSA_2048},
		     {"ed25519", JWK_OKP_ED25519}};
	struct jwk *k = NULL;
	json_t *j = NULL;
	int rc = KBS_ERR_INVAL;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kind, kinds[i].name) == 0)
			rc = jwk_generate(kinds[i].kind, &k);
	if (rc == KBS_OK && (rc = jwk_to_json(k, true, &j)) == KBS_OK)
		rc = print_json(j);
	json_decref(j);
	jwk_free(k);
	return rc;
}

int main(int argc, char **argv)
{
	struct jwk *k = NULL;
	struct buf in = BUF_INIT, out = BUF_INIT;
	json_t *j = NULL;
	char *s = NULL;
	const char *cmd;
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: see the comment at the top of tests/tools/jose_tool.c\n");
		return 2;
	}
	secmem_init(0, true);
	cmd = argv[1];
	if (strcmp(cmd, "genkey") == 0) {
		rc = cmd_genkey(argv[2]);
		goto out;
	}
	if ((rc = load_key(argv[2], &k)) && strcmp(argv[2], "insecure") != 0)
		goto out;
	rc = KBS_OK;
	if (strcmp(cmd, "pub") == 0) {
		if (!(rc = jwk_to_json(k, false, &j)))
			rc = print_json(j);
	} else if (strcmp(cmd, "pem") == 0) {
		if (!(rc = jwk_to_pem(k, argc > 3 && strcmp(argv[3], "private") == 0, &s)))
			fputs(s, stdout);
	} else if (strcmp(cmd, "thumbprint") == 0) {
		char tp[64];

		if (!(rc = jwk_thumbprint(k, NULL, tp, sizeof(tp))))
			puts(tp);
	} else if (strcmp(cmd, "teepub") == 0 && argc > 3) {
		if (!(rc = jwk_tee_pubkey_json(k, argv[3], &j)))
			rc = print_json(j);
	} else if (strcmp(cmd, "sign") == 0 && argc > 3) {
		json_t *hdr = argc > 4 ? json_loads(argv[4], 0, NULL) : NULL;

		if (argc > 4 && !hdr)
			rc = KBS_ERR_PARSE;
		if (!rc && !(rc = read_stream(stdin, &in)) &&
		    !(rc = jws_sign(k, argv[3], hdr, in.p, in.len, &s)))
			puts(s);
		json_decref(hdr);
	} else if (strcmp(cmd, "verify") == 0 && argc > 3) {
		uint8_t *pl = NULL;
		size_t n = 0;

		if (!(rc = read_stream(stdin, &in))) {
			while (in.len && (in.p[in.len - 1] == '\n' || in.p[in.len - 1] == '\r'))
				in.len--;
			rc = jws_verify((char *)in.p, in.len, k, split_algs(argv[3]), NULL, &pl, &n);
		}
		if (!rc)
			fwrite(pl, 1, n, stdout);
		free(pl);
	} else if (strcmp(cmd, "jwt-verify") == 0 && argc > 3) {
		static const char *const es256[] = {"ES256", NULL};
		struct jwt_verify_opts o = {.allowed_algs = es256,
					    .keys = &k,
					    .nkeys = k ? 1 : 0,
					    .insecure_header_jwk = k == NULL,
					    .leeway_s = atoi(argv[3]),
					    .require_exp = true};

		if (!(rc = read_stream(stdin, &in))) {
			while (in.len && (in.p[in.len - 1] == '\n' || in.p[in.len - 1] == '\r'))
				in.len--;
			rc = jwt_verify((char *)in.p, in.len, &o, &j, NULL);
		}
		if (!rc)
			rc = print_json(j);
	} else if (strcmp(cmd, "encrypt") == 0) {
		if (!(rc = read_stream(stdin, &in)) &&
		    !(rc = jwe_encrypt(k, argc > 3 ? argv[3] : NULL, in.p, in.len, &out)))
			fwrite(out.p, 1, out.len, stdout);
	} else if (strcmp(cmd, "decrypt") == 0) {
		struct secbuf pt = {0};

		if (!(rc = read_stream(stdin, &in)) &&
		    !(rc = jwe_decrypt(k, (char *)in.p, in.len, argc > 3 ? split_algs(argv[3]) : NULL,
				       &pt)))
			fwrite(pt.p, 1, pt.len, stdout);
		secbuf_free(&pt);
	} else {
		fprintf(stderr, "jose-tool: unknown command or missing arguments: %s\n", cmd);
		jwk_free(k);
		return 2;
	}
out:
	if (rc)
		fprintf(stderr, "jose-tool: %s\n", kbs_errname(rc));
	json_decref(j);
	free(s);
	buf_release(&in);
	buf_release(&out);
	jwk_free(k);
	return rc ? 1 : 0;
}
