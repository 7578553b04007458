// SPDX-License-Identifier: Apache-2.0
/*
 * TPM verifier: Trustee's tpm_evidence.json (64-byte extraData from an older attester) parses,
 * verifies and yields Trustee's claims; flipped message/signature bytes, changed PCRs, a wrong
 * nonce, a wrong init-data, an untrusted or foreign AK are refused with the check named.
 * Synthetic quotes signed with RSASSA, RSA-PSS and ECDSA AKs (the scheme follows the AK key
 * type). TCG event log replay on Trustee's CCEL sample (SHA-384 bank) and AAEL replay on the
 * vTPM PCR 17 vector; event logs bound to the quoted PCRs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testdata.h"
#include "common/b64.h"
#include "common/err.h"
#include "server/as/tcg_eventlog.h"
#include "server/as/tpm_quote.h"
#include "server/as/verifier.h"
#include "server/as/verifier_tpm.h"

static json_t *sample(void)
{
	size_t n;
	char *p = td_read_file("tpm", "tpm_evidence.json", &n);
	json_t *j = json_loadb(p, n, 0, NULL);

	free(p);
	assert_non_null(j);
	return j;
}

static uint8_t *b64m(const json_t *o, const char *k, size_t *n)
{
	uint8_t *p = NULL;
	const char *s = json_string_value(json_object_get(o, k));

	assert_non_null(s);
	assert_int_equal(b64_decode_alloc(s, strlen(s), B64_STD, &p, n), KBS_OK);
	return p;
}

static void set_b64(json_t *o, const char *k, const uint8_t *p, size_t n)
{
	char *s = NULL;

	assert_int_equal(b64_encode_alloc(p, n, B64_STD, &s), KBS_OK);
	json_object_set_new(o, k, json_string(s));
	free(s);
}

static struct tpm_verifier *mkv(const struct tpm_verifier_config *cfg)
{
	struct tpm_verifier *v = NULL;
	char why[256];

	assert_int_equal(tpm_verifier_new(cfg, &v, why, sizeof(why)), KBS_OK);
	return v;
}

static int run(const struct tpm_verifier *v, const json_t *ev, const uint8_t *rd, size_t rdlen,
	       const uint8_t *init, size_t initlen, json_t **claims, char *why, size_t whylen)
{
	struct as_verify_input in = {.evidence = ev,
				     .report_data = rd,
				     .report_data_len = rdlen,
				     .init_data_digest = init,
				     .init_data_digest_len = initlen};
	json_t *c = NULL;
	int rc = tpm_verifier_verify(v, &in, &c, why, whylen);

	if (claims)
		*claims = c;
	else
		json_decref(c);
	return rc;
}

static void expect_fail(const struct tpm_verifier *v, const json_t *ev, const uint8_t *rd,
			size_t rdlen, const char *needle)
{
	char why[256] = "";

	assert_int_not_equal(run(v, ev, rd, rdlen, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
	if (needle && !strstr(why, needle))
		fail_msg("expected '%s' in '%s'", needle, why);
}

static void trustee_attest_parses(void **state)
{
	json_t *ev = sample();
	size_t n;
	uint8_t *msg = b64m(json_object_get(ev, "tpm_quote"), "message", &n);
	struct tpm_attest a;
	unsigned idx[32];
	char why[256], hex[80];

	(void)state;
	assert_int_equal(n, 177);
	assert_int_equal(tpm_attest_parse(msg, n, &a, why, sizeof(why)), KBS_OK);
	assert_int_equal(a.magic, 0xFF544347u);
	assert_int_equal(a.type, 0x8018);
	assert_int_equal(a.extra_len, 64);
	assert_int_equal(a.nbanks, 1);
	assert_int_equal(a.banks[0].alg, TPM_ALG_SHA256);
	assert_int_equal(tpm_bank_pcrs(&a.banks[0], idx), 24);
	hex_encode(a.pcr_digest, a.pcr_digest_len, hex, sizeof(hex));
	assert_string_equal(hex, "019de64c9318655e422c3d03831169896e31f02a1d74e4d8fef575bf4e0d75fa");
	/* every truncation fails, trailing bytes fail */
	for (size_t cut = 0; cut < n; cut++)
		assert_int_not_equal(tpm_attest_parse(msg, cut, &a, why, sizeof(why)), KBS_OK);
	msg[0] ^= 1;
	assert_int_equal(tpm_attest_parse(msg, n, &a, why, sizeof(why)), KBS_ERR_PARSE);
	assert_non_null(strstr(why, "not TPM_GENERATED_VALUE"));
	msg[0] ^= 1;
	msg[5] = 0x17; /* TPM_ST_ATTEST_CERTIFY */
	assert_int_equal(tpm_attest_parse(msg, n, &a, why, sizeof(why)), KBS_ERR_PARSE);
	assert_non_null(strstr(why, "not TPM_ST_ATTEST_QUOTE"));
	free(msg);
	json_decref(ev);
}

static void trustee_sample_verifies_with_claims(void **state)
{
	struct tpm_verifier_config cfg = {.allow_unverified_ak = true};
	struct tpm_verifier *v = mkv(&cfg);
	json_t *ev = sample(), *c = NULL;
	size_t n;
	uint8_t *msg = b64m(json_object_get(ev, "tpm_quote"), "message", &n);
	struct tpm_attest a;
	char why[256], hex[129];

	(void)state;
	assert_int_equal(tpm_attest_parse(msg, n, &a, why, sizeof(why)), KBS_OK);
	/* the older attester put a 48-byte digest + 16 zero bytes into extraData */
	assert_int_equal(run(v, ev, a.extra, 48, NULL, 0, &c, why, sizeof(why)), KBS_OK);
	hex_encode(a.extra, 64, hex, sizeof(hex));
	assert_string_equal(json_string_value(json_object_get(c, "report_data")), hex);
	assert_int_equal(strlen(hex), 128);
	assert_string_equal(json_string_value(json_object_get(c, "init_data")),
			    "0000000000000000000000000000000000000000000000000000000000000000");
	assert_string_equal(json_string_value(json_object_get(c, "ak_public")),
			    json_string_value(json_object_get(ev, "ak_public")));
	assert_string_equal(json_string_value(json_object_get(c, "ak_trust")), "unverified");
	for (int i = 0; i < 24; i++) {
		char k[8];

		snprintf(k, sizeof(k), "pcr%02d", i);
		assert_non_null(json_object_get(c, k));
	}
	json_decref(c);
	/* without expected report data: also fine */
	assert_int_equal(run(v, ev, NULL, 0, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
	/* wrong nonce */
	{
		uint8_t bad[48];

		memcpy(bad, a.extra, 48);
		bad[47] ^= 1;
		expect_fail(v, ev, bad, 48, "extraData does not match");
	}
	/* init-data: PCR 8 is zero, so any init-data digest fails */
	{
		uint8_t init[32] = {1};

		assert_int_equal(run(v, ev, a.extra, 48, init, 32, NULL, why, sizeof(why)),
				 KBS_ERR_VERIFY);
		assert_non_null(strstr(why, "PCR 8 does not match the init-data digest"));
	}
	free(msg);
	json_decref(ev);
	tpm_verifier_free(v);
}

static void every_flipped_byte_is_refused(void **state)
{
	struct tpm_verifier_config cfg = {.allow_unverified_ak = true};
	struct tpm_verifier *v = mkv(&cfg);
	json_t *ev = sample(), *q = json_object_get(ev, "tpm_quote");
	size_t n, sn;
	uint8_t *msg = b64m(q, "message", &n), *sig = b64m(q, "signature", &sn);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		msg[i] ^= 0x01;
		set_b64(q, "message", msg, n);
		expect_fail(v, ev, NULL, 0, NULL);
		msg[i] ^= 0x01;
	}
	set_b64(q, "message", msg, n);
	for (size_t i = 6; i < sn; i += 7) {
		sig[i] ^= 0x80;
		set_b64(q, "signature", sig, sn);
		expect_fail(v, ev, NULL, 0, "signature does not verify with the AK");
		sig[i] ^= 0x80;
	}
	set_b64(q, "signature", sig, sn);
	assert_int_equal(run(v, ev, NULL, 0, NULL, 0, NULL, (char[256]){0}, 256), KBS_OK);
	/* a changed PCR value no longer hashes to pcrDigest */
	json_array_set_new(json_object_get(q, "pcrs"), 5,
			   json_string("0100000000000000000000000000000000000000000000000000000000000000"));
	expect_fail(v, ev, NULL, 0, "pcrDigest does not match");
	json_array_remove(json_object_get(q, "pcrs"), 5);
	expect_fail(v, ev, NULL, 0, "pcrs lists 23 values but 24 PCRs are quoted");
	free(msg);
	free(sig);
	json_decref(ev);
	tpm_verifier_free(v);
}

static char *write_tmp_dir(void)
{
	char *dir = strdup("/tmp/kbs-tpm-test-XXXXXX");

	assert_non_null(mkdtemp(dir));
	return dir;
}

static void write_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

static void rm_dir(char *dir, const char *const *names)
{
	char path[512];

	for (; *names; names++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *names);
		unlink(path);
	}
	rmdir(dir);
	free(dir);
}

static EVP_PKEY *gen_rsa(void)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);

	assert_non_null(k);
	return k;
}

static void ak_trust_by_keys_dir_and_default_deny(void **state)
{
	json_t *ev = sample(), *c = NULL;
	size_t n;
	uint8_t *ak = b64m(ev, "ak_public", &n);
	char *dir = write_tmp_dir(), why[256];
	static const char *const files[] = {"sample-ak.der", "other.pem", "junk.txt", NULL};
	struct tpm_verifier *v;
	EVP_PKEY *other = gen_rsa();
	unsigned char *oder = NULL;
	int olen = i2d_PUBKEY(other, &oder);

	(void)state;
	/* default configuration: an AK trusted by nothing is refused */
	v = mkv(&(struct tpm_verifier_config){0});
	expect_fail(v, ev, NULL, 0, "AK is not trusted");
	tpm_verifier_free(v);

	/* a directory holding only another key (and junk): refused */
	write_file(dir, "other.pem", oder, (size_t)olen);
	write_file(dir, "junk.txt", (const uint8_t *)"not a key", 9);
	v = mkv(&(struct tpm_verifier_config){.trusted_ak_keys_dir = dir});
	expect_fail(v, ev, NULL, 0, "AK is not trusted");
	tpm_verifier_free(v);

	/* the sample's AK in the directory: trusted */
	write_file(dir, "sample-ak.der", ak, n);
	v = mkv(&(struct tpm_verifier_config){.trusted_ak_keys_dir = dir});
	assert_int_equal(run(v, ev, NULL, 0, NULL, 0, &c, why, sizeof(why)), KBS_OK);
	assert_string_equal(json_string_value(json_object_get(c, "ak_trust")),
			    "trusted_ak_keys_dir");
	json_decref(c);
	/* max_trusted_ak_keys bounds what is read */
	tpm_verifier_free(v);

	/* a foreign AK (signature made by the sample AK, ak_public swapped) */
	v = mkv(&(struct tpm_verifier_config){.allow_unverified_ak = true});
	set_b64(ev, "ak_public", oder, (size_t)olen);
	expect_fail(v, ev, NULL, 0, "signature does not verify with the AK");
	tpm_verifier_free(v);

	/* a missing directory (Trustee configs name one it never reads) trusts nothing */
	v = mkv(&(struct tpm_verifier_config){.trusted_ak_keys_dir = "/nonexistent/aks"});
	set_b64(ev, "ak_public", ak, n);
	expect_fail(v, ev, NULL, 0, "AK is not trusted");
	tpm_verifier_free(v);
	/* a missing AK CA bundle (our extension key) is a configuration error */
	assert_int_equal(tpm_verifier_new(&(struct tpm_verifier_config){.ak_ca_path =
									  "/nonexistent/ca.pem"},
					  &v, why, sizeof(why)),
			 KBS_ERR_IO);
	OPENSSL_free(oder);
	EVP_PKEY_free(other);
	free(ak);
	json_decref(ev);
	rm_dir(dir, files);
}

/* ---- synthetic quotes ---- */

static size_t put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

/* TPMS_ATTEST quoting PCRs 0-23 of the SHA-256 bank with pcrDigest over pcrs. */
static size_t build_attest(uint8_t *out, const uint8_t nonce[32], const uint8_t pcrs[24][32],
			   uint16_t digest_alg)
{
	size_t o = 0;
	unsigned int dn = 0;
	uint8_t d[64];
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	memcpy(out, "\xff\x54\x43\x47\x80\x18", 6);
	o = 6;
	o += put16(out + o, 34);
	o += put16(out + o, TPM_ALG_SHA256);
	memset(out + o, 0xab, 32);
	o += 32;
	o += put16(out + o, 32);
	memcpy(out + o, nonce, 32);
	o += 32;
	memset(out + o, 0, 25); /* clockInfo + firmwareVersion */
	out[o + 16] = 1;
	o += 25;
	memcpy(out + o, "\x00\x00\x00\x01\x00\x0b\x03\xff\xff\xff", 10);
	o += 10;
	assert_true(EVP_DigestInit_ex(md, tpm_alg_md(digest_alg), NULL));
	for (int i = 0; i < 24; i++)
		EVP_DigestUpdate(md, pcrs[i], 32);
	EVP_DigestFinal_ex(md, d, &dn);
	EVP_MD_CTX_free(md);
	o += put16(out + o, dn);
	memcpy(out + o, d, dn);
	return o + dn;
}

/* TPMT_SIGNATURE over msg with key (scheme RSASSA, RSAPSS or ECDSA). */
static size_t sign_attest(EVP_PKEY *k, uint16_t scheme, uint16_t hash, const uint8_t *msg,
			  size_t len, uint8_t *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	uint8_t sig[600];
	size_t sl = sizeof(sig), o = 0;

	assert_int_equal(EVP_DigestSignInit(ctx, &pctx, tpm_alg_md(hash), NULL, k), 1);
	if (scheme == TPM_ALG_RSAPSS) {
		EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
		EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
	}
	assert_int_equal(EVP_DigestSign(ctx, sig, &sl, msg, len), 1);
	EVP_MD_CTX_free(ctx);
	o += put16(out + o, scheme);
	o += put16(out + o, hash);
	if (scheme == TPM_ALG_ECDSA) {
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sl);
		const BIGNUM *r, *s;

		assert_non_null(es);
		ECDSA_SIG_get0(es, &r, &s);
		o += put16(out + o, 32);
		BN_bn2binpad(r, out + o, 32);
		o += 32;
		o += put16(out + o, 32);
		BN_bn2binpad(s, out + o, 32);
		o += 32;
		ECDSA_SIG_free(es);
	} else {
		o += put16(out + o, (unsigned)sl);
		memcpy(out + o, sig, sl);
		o += sl;
	}
	return o;
}

static json_t *synthetic(EVP_PKEY *k, uint16_t scheme, uint16_t hash, const uint8_t nonce[32],
			 const uint8_t pcrs[24][32])
{
	uint8_t msg[512], sig[700];
	size_t ml = build_attest(msg, nonce, pcrs, hash), sl;
	unsigned char *der = NULL;
	int dl = i2d_PUBKEY(k, &der);
	json_t *ev = json_object(), *q = json_object(), *pa = json_array();

	sl = sign_attest(k, scheme, hash, msg, ml, sig);
	set_b64(ev, "ak_public", der, (size_t)dl);
	set_b64(q, "message", msg, ml);
	set_b64(q, "signature", sig, sl);
	for (int i = 0; i < 24; i++) {
		char h[65];

		hex_encode(pcrs[i], 32, h, sizeof(h));
		json_array_append_new(pa, json_string(h));
	}
	json_object_set_new(q, "pcrs", pa);
	json_object_set_new(ev, "tpm_quote", q);
	OPENSSL_free(der);
	return ev;
}

static void scheme_follows_the_ak_key(void **state)
{
	struct tpm_verifier *v = mkv(&(struct tpm_verifier_config){.allow_unverified_ak = true});
	EVP_PKEY *rsa = gen_rsa(), *ec = EVP_EC_gen("P-256");
	uint8_t nonce[32] = {7}, pcrs[24][32] = {{0}};
	json_t *ev;
	char why[256];

	(void)state;
	assert_non_null(ec);
	pcrs[3][0] = 0x33;
	ev = synthetic(rsa, TPM_ALG_RSASSA, TPM_ALG_SHA256, nonce, pcrs);
	assert_int_equal(run(v, ev, nonce, 32, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
	json_decref(ev);
	ev = synthetic(rsa, TPM_ALG_RSAPSS, TPM_ALG_SHA256, nonce, pcrs);
	assert_int_equal(run(v, ev, nonce, 32, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
	json_decref(ev);
	ev = synthetic(rsa, TPM_ALG_RSASSA, TPM_ALG_SHA384, nonce, pcrs);
	assert_int_equal(run(v, ev, nonce, 32, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
	json_decref(ev);
	ev = synthetic(ec, TPM_ALG_ECDSA, TPM_ALG_SHA256, nonce, pcrs);
	assert_int_equal(run(v, ev, nonce, 32, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
	/* the ECDSA quote presented with an RSA AK */
	{
		unsigned char *der = NULL;
		int dl = i2d_PUBKEY(rsa, &der);

		set_b64(ev, "ak_public", der, (size_t)dl);
		expect_fail(v, ev, NULL, 0, "ECDSA signature but the AK is not an EC key");
		OPENSSL_free(der);
	}
	json_decref(ev);
	/* RSA-PSS signature labelled RSASSA */
	ev = synthetic(rsa, TPM_ALG_RSAPSS, TPM_ALG_SHA256, nonce, pcrs);
	{
		json_t *q = json_object_get(ev, "tpm_quote");
		size_t n;
		uint8_t *s = b64m(q, "signature", &n);

		s[1] = 0x14;
		set_b64(q, "signature", s, n);
		expect_fail(v, ev, NULL, 0, "RSASSA signature does not verify");
		free(s);
	}
	json_decref(ev);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	tpm_verifier_free(v);
}

static void init_data_binds_pcr8(void **state)
{
	struct tpm_verifier *v = mkv(&(struct tpm_verifier_config){.allow_unverified_ak = true});
	EVP_PKEY *ec = EVP_EC_gen("P-256");
	uint8_t nonce[32] = {1}, pcrs[24][32] = {{0}}, init[32], buf[64] = {0};
	unsigned int n = 0;
	json_t *ev, *c = NULL;
	char why[256];

	(void)state;
	memset(init, 0x5a, 32);
	memcpy(buf + 32, init, 32);
	EVP_Digest(buf, 64, pcrs[8], &n, EVP_sha256(), NULL);
	ev = synthetic(ec, TPM_ALG_ECDSA, TPM_ALG_SHA256, nonce, pcrs);
	assert_int_equal(run(v, ev, nonce, 32, init, 32, &c, why, sizeof(why)), KBS_OK);
	{
		char h[65];

		hex_encode(pcrs[8], 32, h, sizeof(h));
		assert_string_equal(json_string_value(json_object_get(c, "init_data")), h);
	}
	json_decref(c);
	init[0] ^= 1;
	assert_int_equal(run(v, ev, nonce, 32, init, 32, NULL, why, sizeof(why)), KBS_ERR_VERIFY);
	assert_non_null(strstr(why, "PCR 8 does not match"));
	assert_int_equal(run(v, ev, nonce, 32, init, 48, NULL, why, sizeof(why)), KBS_ERR_VERIFY);
	json_decref(ev);
	EVP_PKEY_free(ec);
	tpm_verifier_free(v);
}

/* ---- event logs ---- */

static void unhex(const char *h, uint8_t *out, size_t n)
{
	size_t got = 0;

	assert_int_equal(hex_decode(h, strlen(h), out, n, &got), KBS_OK);
	assert_int_equal(got, n);
}

static void firmware_log_replays_trustee_ccel(void **state)
{
	size_t n;
	uint8_t *log = td_read_file("tdx", "CCEL_data.trimmed", &n), want[48];
	struct tcg_replay r;
	char why[256];

	(void)state;
	assert_int_equal(tcg_replay_init(&r, TPM_ALG_SHA384), KBS_OK);
	assert_int_equal(tcg_replay_firmware_log(&r, log, n, why, sizeof(why)), KBS_OK);
	/* MR index 1 and 2 = RTMR0 and RTMR1 (Trustee's asserted values) */
	unhex("2dc712306a963eadb894ad47dbaa17df44814151555aee11cbb843becca88950ffd079664902e6f22c66"
	      "f7c8213543f4",
	      want, 48);
	assert_memory_equal(r.pcr[1], want, 48);
	unhex("0fa3be56af61208bbd179dc7b124988eb929319154663c539d6f46445ecac2fec287075047ff7bd19228"
	      "29fec28cd3cf",
	      want, 48);
	assert_memory_equal(r.pcr[2], want, 48);
	assert_int_equal(r.nevents, 5);
	assert_true(r.touched & (1u << 1));
	/* a bank the log does not carry */
	assert_int_equal(tcg_replay_init(&r, TPM_ALG_SHA256), KBS_OK);
	assert_int_equal(tcg_replay_firmware_log(&r, log, n, why, sizeof(why)), KBS_ERR_PARSE);
	/* truncations never pass silently past a record boundary with garbage */
	for (size_t cut = 1; cut < 200 && cut < n; cut += 3) {
		assert_int_equal(tcg_replay_init(&r, TPM_ALG_SHA384), KBS_OK);
		(void)tcg_replay_firmware_log(&r, log, cut, why, sizeof(why));
	}
	log[32] ^= 1;
	assert_int_equal(tcg_replay_init(&r, TPM_ALG_SHA384), KBS_OK);
	assert_int_equal(tcg_replay_firmware_log(&r, log, n, why, sizeof(why)), KBS_ERR_PARSE);
	assert_non_null(strstr(why, "Spec ID Event03"));
	free(log);
}

static void aael_replays_vtpm_pcr17_vector(void **state)
{
	size_t n, en;
	uint8_t *log = td_read_file("attester", "aael/vtpm-pcr17-aael.bin", &n), want[32];
	char *exp = td_read_file("attester", "aael/expected.json", &en), why[256];
	json_t *e = json_loadb(exp, en, 0, NULL);
	const char *fin = json_string_value(json_object_get(
	    json_object_get(json_object_get(e, "vtpm_chain"), "ff_start"), "final_register_hex"));
	struct tcg_replay r;

	(void)state;
	assert_non_null(fin);
	unhex(fin, want, 32);
	assert_int_equal(tcg_replay_init(&r, TPM_ALG_SHA256), KBS_OK);
	assert_int_equal(tcg_replay_aael(&r, log, n, why, sizeof(why)), KBS_OK);
	assert_memory_equal(r.pcr[17], want, 32);
	assert_int_equal(r.touched, 1u << 17);
	/* a text byte changed: its digest no longer matches */
	log[n - 1] ^= 1;
	assert_int_equal(tcg_replay_init(&r, TPM_ALG_SHA256), KBS_OK);
	assert_int_equal(tcg_replay_aael(&r, log, n, why, sizeof(why)), KBS_ERR_PARSE);
	assert_non_null(strstr(why, "digest does not match its text"));
	free(log);
	free(exp);
	json_decref(e);
}

static void eventlogs_bound_to_quoted_pcrs(void **state)
{
	struct tpm_verifier *v = mkv(&(struct tpm_verifier_config){.allow_unverified_ak = true});
	EVP_PKEY *ec = EVP_EC_gen("P-256");
	size_t n;
	uint8_t *log = td_read_file("attester", "aael/vtpm-pcr17-aael.bin", &n);
	uint8_t nonce[32] = {2}, pcrs[24][32] = {{0}};
	struct tcg_replay r;
	json_t *ev;
	char why[256];

	(void)state;
	assert_int_equal(tcg_replay_init(&r, TPM_ALG_SHA256), KBS_OK);
	assert_int_equal(tcg_replay_aael(&r, log, n, why, sizeof(why)), KBS_OK);
	for (int i = 17; i <= 22; i++)
		memset(pcrs[i], 0xff, 32);
	memcpy(pcrs[17], r.pcr[17], 32);
	ev = synthetic(ec, TPM_ALG_ECDSA, TPM_ALG_SHA256, nonce, pcrs);
	set_b64(ev, "aa_eventlog", log, n);
	assert_int_equal(run(v, ev, nonce, 32, NULL, 0, NULL, why, sizeof(why)), KBS_OK);
	json_decref(ev);
	/* PCR 17 quoted with another value: the AAEL does not replay to it */
	pcrs[17][0] ^= 1;
	ev = synthetic(ec, TPM_ALG_ECDSA, TPM_ALG_SHA256, nonce, pcrs);
	set_b64(ev, "aa_eventlog", log, n);
	expect_fail(v, ev, NULL, 0, "event log replay does not match PCR 17");
	/* a firmware log that is not one */
	json_object_set_new(ev, "aa_eventlog", json_null());
	set_b64(ev, "eventlog", (const uint8_t *)"garbage-garbage-garbage-garbage-garbage", 39);
	expect_fail(v, ev, NULL, 0, "tpm: eventlog: event log:");
	json_decref(ev);
	free(log);
	EVP_PKEY_free(ec);
	tpm_verifier_free(v);
}

static void verifier_config_keys(void **state)
{
	size_t n;
	char *p = td_read_file("kbs", "trustee/configs/example_with_tpm_verifier.json", &n), why[256];
	json_t *j = json_loadb(p, n, 0, NULL), *bad;
	struct as_verifier_config c;

	(void)state;
	assert_int_equal(as_verifier_config_from_json(json_object_get(j, "verifier_config"), &c,
						      why, sizeof(why)),
			 KBS_OK);
	assert_string_equal(c.tpm_trusted_ak_keys_dir, "/etc/tpm/trusted_ak_keys");
	assert_int_equal(c.tpm_max_trusted_ak_keys, 50);
	assert_false(c.tpm_allow_unverified_ak);
	assert_null(c.tpm_ak_ca_path);
	as_verifier_config_release(&c);
	bad = json_pack("{s:{s:[{s:s,s:s},{s:s}],s:i},s:{s:s},s:{s:s,s:b}}", "snp_verifier",
			"vcek_sources", "type", "OfflineStore", "path", "/kds", "type", "KDS",
			"max_vmpl", 2, "dcap_verifier", "collateral_dir", "/coll", "tpm_verifier",
			"ak_ca_certs", "/ca.pem", "allow_unverified_ak", 1);
	assert_int_equal(as_verifier_config_from_json(bad, &c, why, sizeof(why)), KBS_OK);
	assert_string_equal(c.snp_vcek_dir, "/kds");
	assert_string_equal(c.snp_kds_url, "https://kdsintf.amd.com");
	assert_int_equal(c.snp_max_vmpl, 2);
	assert_string_equal(c.tdx_collateral_dir, "/coll");
	assert_string_equal(c.tpm_ak_ca_path, "/ca.pem");
	assert_true(c.tpm_allow_unverified_ak);
	as_verifier_config_release(&c);
	json_object_set_new(json_object_get(bad, "snp_verifier"), "max_vmpl", json_integer(4));
	assert_int_equal(as_verifier_config_from_json(bad, &c, why, sizeof(why)), KBS_ERR_INVAL);
	assert_non_null(strstr(why, "verifier_config.snp_verifier.max_vmpl"));
	json_object_set_new(json_object_get(bad, "snp_verifier"), "max_vmpl", json_integer(0));
	json_object_set_new(json_object_get(bad, "tpm_verifier"), "allow_unverified_ak",
			    json_string("yes"));
	assert_int_equal(as_verifier_config_from_json(bad, &c, why, sizeof(why)), KBS_ERR_INVAL);
	assert_non_null(strstr(why, "allow_unverified_ak"));
	json_decref(bad);
	/* not configured: no network, the default cache directory */
	unsetenv("KBSFS_SNP_KDS_URL");
	unsetenv("KBSFS_SNP_VCEK_DIR");
	assert_int_equal(as_verifier_config_from_json(NULL, &c, why, sizeof(why)), KBS_OK);
	assert_null(c.snp_kds_url);
	assert_string_equal(c.snp_vcek_dir,
			    "/opt/confidential-containers/attestation-service/kds-store");
	as_verifier_config_release(&c);
	/* the environment is only a fallback under the configuration */
	setenv("KBSFS_SNP_VCEK_DIR", "/env-dir", 1);
	assert_int_equal(as_verifier_config_from_json(NULL, &c, why, sizeof(why)), KBS_OK);
	assert_string_equal(c.snp_vcek_dir, "/env-dir");
	as_verifier_config_release(&c);
	bad = json_pack("{s:{s:[{s:s,s:s}]}}", "snp_verifier", "vcek_sources", "type",
			"OfflineStore", "path", "/cfg-dir");
	assert_int_equal(as_verifier_config_from_json(bad, &c, why, sizeof(why)), KBS_OK);
	assert_string_equal(c.snp_vcek_dir, "/cfg-dir");
	as_verifier_config_release(&c);
	unsetenv("KBSFS_SNP_VCEK_DIR");
	json_decref(bad);
	json_decref(j);
	free(p);
}

static void table_entry_registered(void **state)
{
	const struct as_verifier *v = as_verifier_find("tpm");

	(void)state;
	assert_non_null(v);
	assert_string_equal(v->tee_class, "cpu");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(trustee_attest_parses),
	    cmocka_unit_test(trustee_sample_verifies_with_claims),
	    cmocka_unit_test(every_flipped_byte_is_refused),
	    cmocka_unit_test(ak_trust_by_keys_dir_and_default_deny),
	    cmocka_unit_test(scheme_follows_the_ak_key),
	    cmocka_unit_test(init_data_binds_pcr8),
	    cmocka_unit_test(firmware_log_replays_trustee_ccel),
	    cmocka_unit_test(aael_replays_vtpm_pcr17_vector),
	    cmocka_unit_test(eventlogs_bound_to_quoted_pcrs),
	    cmocka_unit_test(verifier_config_keys),
	    cmocka_unit_test(table_entry_registered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
