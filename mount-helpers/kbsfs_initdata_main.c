// SPDX-License-Identifier: Apache-2.0
/* kbsfs-initdata: build Confidential Containers init-data and print its digests and the
 * kata annotation value (see kbsfs-initdata --help, docs/mount.md). */
#include "common/b64.h"
#include "common/buf.h"
#include "common/err.h"
#include "mount-helpers/initdata.h"

#include <getopt.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ENTRIES 32
#define FILE_MAX (4u << 20)

static void usage(FILE *f)
{
	fputs(
	    "NAME\n"
	    "    kbsfs-initdata - build init-data for a confidential pod or VM, print its\n"
	    "    digests and the kata annotation value\n"
	    "\n"
	    "SYNOPSIS\n"
	    "    kbsfs-initdata [--algorithm sha256|sha384|sha512] [--kbs-url URL]\n"
	    "                   [--kbs-cert FILE] [--aa-toml FILE] [--cdh-toml FILE]\n"
	    "                   [--policy FILE] [--data KEY=FILE]... [--output FILE]\n"
	    "                   [--image FILE] [--annotation]\n"
	    "    kbsfs-initdata --from INITDATA.toml [--output FILE] [--image FILE] "
	    "[--annotation]\n"
	    "\n"
	    "DESCRIPTION\n"
	    "    Builds the init-data TOML (version \"0.1.0\", algorithm, [data]) whose digest\n"
	    "    the host programs into the TEE (SNP HOST_DATA, TDX MRCONFIGID, PCR 8 on vTPMs)\n"
	    "    and whose text the attestation agent sends to the KBS. With --kbs-url it\n"
	    "    writes aa.toml ([token_configs.kbs] url, cert) and cdh.toml ([kbc] cc_kbc, url,\n"
	    "    kbs_cert) pointing at that KBS, unless given as files. With --from it takes an\n"
	    "    existing document as is (its exact bytes are what is digested).\n"
	    "    The report on stdout, one \"name: value\" line each:\n"
	    "      algorithm, digest (hex, of the document's algorithm), sha256, sha384,\n"
	    "      sha512 (hex digests of the same bytes), snp_host_data (base64, digest\n"
	    "      truncated/zero-padded to 32 bytes), tdx_mrconfigid (base64, 48 bytes),\n"
	    "      tpm_pcr8 (hex, SHA-256(0^32 || digest); sha256 only), annotation_key,\n"
	    "      annotation (standard base64 of gzip(TOML): the value of the pod annotation\n"
	    "      io.katacontainers.config.hypervisor.cc_init_data).\n"
	    "\n"
	    "OPTIONS\n"
	    "    --algorithm A     digest algorithm written into the document (default sha256;\n"
	    "                      vTPM platforms support sha256 only)\n"
	    "    --kbs-url URL     KBS base URL for the generated aa.toml and cdh.toml\n"
	    "    --kbs-cert FILE   PEM certificate of the KBS, embedded in both\n"
	    "    --aa-toml FILE    data[\"aa.toml\"] from FILE\n"
	    "    --cdh-toml FILE   data[\"cdh.toml\"] from FILE\n"
	    "    --policy FILE     data[\"policy.rego\"] (kata agent policy) from FILE\n"
	    "    --data KEY=FILE   any other data[KEY] from FILE (repeatable)\n"
	    "    --from FILE       use this init-data document instead of building one\n"
	    "    --output FILE     write the TOML document to FILE (\"-\" = stdout, no report)\n"
	    "    --image FILE      write the kata init-data block image to FILE\n"
	    "    --annotation      print only the annotation value\n"
	    "    -h, --help        this text\n"
	    "\n"
	    "EXIT STATUS\n"
	    "    0 success, 1 error (message on stderr), 2 usage error\n",
	    f);
}

static int read_file(const char *path, char **out, size_t *outlen)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[4096];
	size_t n;
	int rc = KBS_OK;

	*out = NULL;
	if (!f)
		return KBS_ERR_IO;
	buf_init(&b, FILE_MAX);
	while (rc == KBS_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = buf_append(&b, chunk, n);
	if (rc == KBS_OK && ferror(f))
		rc = KBS_ERR_IO;
	fclose(f);
	if (rc == KBS_OK) {
		*outlen = b.len;
		rc = buf_append_byte(&b, 0);
	}
	if (rc == KBS_OK)
		*out = buf_steal(&b, NULL);
	buf_release(&b);
	return rc;
}

static int write_file(const char *path, const void *p, size_t len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "wb") : stdout;
	int ok;

	if (!f)
		return KBS_ERR_IO;
	ok = fwrite(p, 1, len, f) == len;
	if (f != stdout)
		ok = (fclose(f) == 0) && ok;
	else
		ok = (fflush(f) == 0) && ok;
	return ok ? KBS_OK : KBS_ERR_IO;
}

/* TOML basic string of s; keeps the inner documents free of \'\'\' so [data] stays readable */
static int toml_str(struct buf *b, const char *s)
{
	int rc = buf_append_byte(b, '"');

	for (; *s && rc == KBS_OK; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			rc = buf_printf(b, "\\%c", c);
		else if (c == '\n')
			rc = buf_append_str(b, "\\n");
		else if (c < 0x20 || c == 0x7f)
			rc = buf_printf(b, "\\u%04x", c);
		else
			rc = buf_append_byte(b, c);
	}
	return rc == KBS_OK ? buf_append_byte(b, '"') : rc;
}

static int gen_configs(const char *url, const char *cert, char **aa, char **cdh)
{
	struct buf a, c;
	int rc;

	buf_init(&a, FILE_MAX);
	buf_init(&c, FILE_MAX);
	rc = buf_append_str(&a, "[token_configs.kbs]\nurl = ");
	if (rc == KBS_OK)
		rc = toml_str(&a, url);
	if (rc == KBS_OK && cert)
		rc = buf_append_str(&a, "\ncert = ");
	if (rc == KBS_OK && cert)
		rc = toml_str(&a, cert);
	if (rc == KBS_OK)
		rc = buf_append_str(&a, "\n");
	if (rc == KBS_OK)
		rc = buf_append_str(&c, "[kbc]\nname = \"cc_kbc\"\nurl = ");
	if (rc == KBS_OK)
		rc = toml_str(&c, url);
	if (rc == KBS_OK && cert)
		rc = buf_append_str(&c, "\nkbs_cert = ");
	if (rc == KBS_OK && cert)
		rc = toml_str(&c, cert);
	if (rc == KBS_OK)
		rc = buf_append_str(&c, "\n");
	if (rc == KBS_OK)
		rc = buf_append_byte(&a, 0);
	if (rc == KBS_OK)
		rc = buf_append_byte(&c, 0);
	if (rc == KBS_OK) {
		*aa = buf_steal(&a, NULL);
		*cdh = buf_steal(&c, NULL);
	}
	buf_release(&a);
	buf_release(&c);
	return rc;
}

static void print_hex(const char *name, const uint8_t *d, size_t n)
{
	size_t i;

	printf("%s: ", name);
	for (i = 0; i < n; i++)
		printf("%02x", d[i]);
	printf("\n");
}

static int print_resized_b64(const char *name, const uint8_t *d, size_t n, size_t size)
{
	uint8_t field[KID_DIGEST_MAX];
	char *s = NULL;
	int rc;

	memset(field, 0, sizeof(field));
	memcpy(field, d, n < size ? n : size);
	rc = b64_encode_alloc(field, size, B64_STD, &s);
	if (rc == KBS_OK)
		printf("%s: %s\n", name, s);
	free(s);
	return rc;
}

static int report(const char *alg, const uint8_t *doc, size_t len, const char *annotation)
{
	static const char *const algs[] = {"sha256", "sha384", "sha512"};
	uint8_t d[KID_DIGEST_MAX], d2[KID_DIGEST_MAX], zero_d[64];
	size_t n, i;
	int rc;

	printf("algorithm: %s\n", alg);
	if ((rc = kid_digest(alg, doc, len, d, &n)) != KBS_OK)
		return rc;
	print_hex("digest", d, n);
	for (i = 0; i < 3; i++) {
		size_t n2;

		if ((rc = kid_digest(algs[i], doc, len, d2, &n2)) != KBS_OK)
			return rc;
		print_hex(algs[i], d2, n2);
	}
	if ((rc = print_resized_b64("snp_host_data", d, n, 32)) != KBS_OK ||
	    (rc = print_resized_b64("tdx_mrconfigid", d, n, 48)) != KBS_OK)
		return rc;
	if (n == 32) {
		/* a vTPM extends PCR 8 (initially zero) with the digest */
		memset(zero_d, 0, 32);
		memcpy(zero_d + 32, d, 32);
		if ((rc = kid_digest("sha256", zero_d, 64, d2, &n)) != KBS_OK)
			return rc;
		print_hex("tpm_pcr8", d2, n);
	}
	printf("annotation_key: io.katacontainers.config.hypervisor.cc_init_data\n");
	printf("annotation: %s\n", annotation);
	return KBS_OK;
}

/* Reads algorithm = "..." from an existing document (a full TOML parse is the guest's job). */
static int doc_algorithm(const char *doc, char *alg, size_t alglen)
{
	const char *p = doc;

	while (p && *p) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!strncmp(p, "algorithm", 9)) {
			const char *q = p + 9, *e;

			while (*q == ' ' || *q == '\t')
				q++;
			if (*q++ == '=') {
				while (*q == ' ' || *q == '\t')
					q++;
				if (*q == '"' || *q == '\'') {
					e = strchr(q + 1, *q);
					if (e && (size_t)(e - q - 1) < alglen) {
						snprintf(alg, alglen, "%.*s", (int)(e - q - 1),
							 q + 1);
						return kid_digest_size(alg) ? KBS_OK
									    : KBS_ERR_UNSUPPORTED;
					}
				}
			}
		}
		if (*p == '[')
			break; /* top-level keys come before the first table */
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return KBS_ERR_PARSE;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"algorithm", required_argument, NULL, 'a'},
					   {"kbs-url", required_argument, NULL, 'u'},
					   {"kbs-cert", required_argument, NULL, 'c'},
					   {"aa-toml", required_argument, NULL, 'A'},
					   {"cdh-toml", required_argument, NULL, 'C'},
					   {"policy", required_argument, NULL, 'p'},
					   {"data", required_argument, NULL, 'd'},
					   {"from", required_argument, NULL, 'F'},
					   {"output", required_argument, NULL, 'o'},
					   {"image", required_argument, NULL, 'i'},
					   {"annotation", no_argument, NULL, 'n'},
					   {"help", no_argument, NULL, 'h'},
					   {NULL, 0, NULL, 0}};
	const char *alg = "sha256", *url = NULL, *certf = NULL, *aaf = NULL, *cdhf = NULL;
	const char *polf = NULL, *from = NULL, *outf = NULL, *imgf = NULL;
	const char *dkeys[MAX_ENTRIES], *dfiles[MAX_ENTRIES];
	struct kid_entry e[MAX_ENTRIES + 3];
	char *owned[MAX_ENTRIES + 4] = {NULL}, *cert = NULL, *doc = NULL, *ann = NULL, *aa = NULL;
	char *cdh = NULL, dalg[16];
	uint8_t *img = NULL;
	size_t nd = 0, ne = 0, no = 0, doclen = 0, imglen = 0, l, i;
	int c, ret = 2, rc = KBS_OK, only_ann = 0;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'a':
			alg = optarg;
			break;
		case 'u':
			url = optarg;
			break;
		case 'c':
			certf = optarg;
			break;
		case 'A':
			aaf = optarg;
			break;
		case 'C':
			cdhf = optarg;
			break;
		case 'p':
			polf = optarg;
			break;
		case 'F':
			from = optarg;
			break;
		case 'o':
			outf = optarg;
			break;
		case 'i':
			imgf = optarg;
			break;
		case 'n':
			only_ann = 1;
			break;
		case 'd':
			if (nd == MAX_ENTRIES || !strchr(optarg, '=') || optarg[0] == '=') {
				fprintf(stderr, "kbsfs-initdata: --data KEY=FILE (at most %d)\n",
					MAX_ENTRIES);
				goto out;
			}
			dkeys[nd] = optarg;
			dfiles[nd++] = strchr(optarg, '=') + 1;
			break;
		case 'h':
			usage(stdout);
			ret = 0;
			goto out;
		default:
			usage(stderr);
			goto out;
		}
	}
	if (optind != argc || !kid_digest_size(alg)) {
		fprintf(stderr, "kbsfs-initdata: %s (see --help)\n",
			optind != argc ? "unexpected argument"
				       : "algorithm must be sha256, "
					 "sha384 or sha512");
		goto out;
	}
	if (from && (url || certf || aaf || cdhf || polf || nd)) {
		fprintf(stderr, "kbsfs-initdata: --from takes the document as is; no other "
				"content options\n");
		goto out;
	}
	ret = 1;
	if (from) {
		if ((rc = read_file(from, &doc, &doclen)) != KBS_OK) {
			fprintf(stderr, "kbsfs-initdata: cannot read %s\n", from);
			goto out;
		}
		if (doc_algorithm(doc, dalg, sizeof(dalg)) != KBS_OK) {
			fprintf(stderr, "kbsfs-initdata: %s has no supported top-level algorithm\n",
				from);
			goto out;
		}
		alg = dalg;
	} else {
		if (certf && (rc = read_file(certf, &cert, &l)) != KBS_OK) {
			fprintf(stderr, "kbsfs-initdata: cannot read %s\n", certf);
			goto out;
		}
		if (url && (rc = gen_configs(url, cert, &aa, &cdh)) != KBS_OK)
			goto err;
#define ADD_FILE(K, P)                                                                             \
	do {                                                                                       \
		if ((rc = read_file(P, &owned[no], &l)) != KBS_OK) {                               \
			fprintf(stderr, "kbsfs-initdata: cannot read %s\n", P);                    \
			goto out;                                                                  \
		}                                                                                  \
		e[ne].key = K;                                                                     \
		e[ne].value = owned[no++];                                                         \
		e[ne++].value_len = l;                                                             \
	} while (0)
		if (aaf)
			ADD_FILE("aa.toml", aaf);
		else if (aa) {
			e[ne].key = "aa.toml";
			e[ne].value = aa;
			e[ne++].value_len = strlen(aa);
		}
		if (cdhf)
			ADD_FILE("cdh.toml", cdhf);
		else if (cdh) {
			e[ne].key = "cdh.toml";
			e[ne].value = cdh;
			e[ne++].value_len = strlen(cdh);
		}
		if (polf)
			ADD_FILE("policy.rego", polf);
		for (i = 0; i < nd; i++) {
			/* KEY=FILE: the key ends at the '=' */
			((char *)dfiles[i])[-1] = 0;
			ADD_FILE(dkeys[i], dfiles[i]);
		}
#undef ADD_FILE
		rc = kid_build(alg, e, ne, &doc, &doclen);
		if (rc == KBS_ERR_INVAL) {
			fprintf(stderr, "kbsfs-initdata: a data file contains a NUL byte\n");
			goto out;
		}
		if (rc != KBS_OK)
			goto err;
	}
	if (outf && (rc = write_file(outf, doc, doclen)) != KBS_OK) {
		fprintf(stderr, "kbsfs-initdata: cannot write %s\n", outf);
		goto out;
	}
	if ((rc = kid_annotation((const uint8_t *)doc, doclen, &ann)) != KBS_OK)
		goto err;
	if (imgf) {
		if ((rc = kid_block_image((const uint8_t *)doc, doclen, &img, &imglen)) != KBS_OK)
			goto err;
		if ((rc = write_file(imgf, img, imglen)) != KBS_OK) {
			fprintf(stderr, "kbsfs-initdata: cannot write %s\n", imgf);
			goto out;
		}
	}
	if (outf && !strcmp(outf, "-")) {
		ret = 0;
		goto out;
	}
	if (only_ann)
		printf("%s\n", ann);
	else if ((rc = report(alg, (const uint8_t *)doc, doclen, ann)) != KBS_OK)
		goto err;
	ret = fflush(stdout) == 0 ? 0 : 1;
	goto out;
err:
	fprintf(stderr, "kbsfs-initdata: %s\n", kbs_strerror(rc));
out:
	for (i = 0; i < no; i++)
		free(owned[i]);
	free(cert);
	free(doc);
	free(ann);
	free(aa);
	free(cdh);
	free(img);
	return ret;
}
