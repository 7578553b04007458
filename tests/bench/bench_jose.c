// SPDX-License-Identifier: Apache-2.0
/*
 * bench_jose: JOSE hot paths against the raw OpenSSL primitives they are built from.
 *
 *   jwe_encrypt ECDH-ES+A256KW P-256  vs  ephemeral keygen + ECDH + Concat KDF + AES-KW +
 *                                         AES-GCM done directly on EVP (the floor)
 *   jwe_decrypt ECDH-ES+A256KW P-256  vs  ECDH + KDF + AES-KW unwrap + GCM
 *   jws_verify ES256                  vs  SHA-256 + ECDSA verify on a prepared EVP_PKEY_CTX
 *   (also the bare ECDH derive and ECDSA verify, comparable to `openssl speed`)
 *
 * Usage: bench_jose [seconds-per-case]   (default 2, split into 5 interleaved rounds; the
 * best round counts). Times are process CPU time. Not part of ctest; see bench_jose.sh.
 */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/jose/jwe.h"
#include "common/jose/jwk.h"
#include "common/jose/jws.h"
#include "common/secmem.h"

/* Rates are per process CPU second (bench_rate), like `openssl speed` (user CPU time): other
 * load on the machine does not count against us. */
struct ctx {
	struct jwk *key;
	EVP_PKEY *peer;         /* second P-256 key for raw ECDH */
	EVP_PKEY_CTX *derive;   /* prepared ECDH ctx (as openssl speed does) */
	EVP_PKEY_CTX *verify;   /* prepared ECDSA verify ctx */
	uint8_t digest[32], der_sig[80];
	size_t der_len;
	char *token;
	struct buf jwe;
};

static const uint8_t payload[32] = "0123456789abcdef0123456789abcdef";

static int op_raw_ecdh(void *a)
{
	struct ctx *c = a;
	uint8_t z[32];
	size_t n = sizeof(z);

	return EVP_PKEY_derive(c->derive, z, &n) == 1 ? 0 : 1;
}

static int op_raw_ecdsa_verify(void *a)
{
	struct ctx *c = a;

	return EVP_PKEY_verify(c->verify, c->der_sig, c->der_len, c->digest, 32) == 1 ? 0 : 1;
}

/* The cost floor of one ECDH-ES+A256KW/A256GCM encryption, on EVP directly. */
static int op_raw_ecdh_es_encrypt(void *a)
{
	struct ctx *c = a;
	EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_from_pkey(NULL, jwk_pkey(c->key), NULL), *dc = NULL;
	EVP_PKEY *eph = NULL;
	uint8_t z[32], kek[32], cek[32], iv[12], ek[40], ct[32], tag[16], pt[65];
	static const uint8_t aad[176]; /* size of the base64url protected header */
	uint8_t other[4 + 4 + 14 + 12] = {0, 0, 0, 1};
	size_t n = sizeof(z), ptlen;
	int l, rc = 1;
	EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();

	if (!kc || EVP_PKEY_keygen_init(kc) != 1 || EVP_PKEY_keygen(kc, &eph) != 1)
		goto out;
	EVP_PKEY_get_octet_string_param(eph, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &ptlen);
	dc = EVP_PKEY_CTX_new_from_pkey(NULL, eph, NULL);
	if (EVP_PKEY_derive_init(dc) != 1 || EVP_PKEY_derive_set_peer_ex(dc, jwk_pkey(c->key), 0) != 1 ||
	    EVP_PKEY_derive(dc, z, &n) != 1)
		goto out;
	{
		EVP_MD_CTX *m = EVP_MD_CTX_new();

		EVP_DigestInit_ex(m, EVP_sha256(), NULL);
		EVP_DigestUpdate(m, other, 4);
		EVP_DigestUpdate(m, z, 32);
		EVP_DigestUpdate(m, other + 4, sizeof(other) - 4);
		EVP_DigestFinal_ex(m, kek, NULL);
		EVP_MD_CTX_free(m);
	}
	RAND_bytes(cek, 32);
	RAND_bytes(iv, 12);
	EVP_CIPHER_CTX_set_flags(cc, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	EVP_EncryptInit_ex(cc, EVP_aes_256_wrap(), NULL, kek, NULL);
	EVP_EncryptUpdate(cc, ek, &l, cek, 32);
	EVP_EncryptFinal_ex(cc, ek + l, &l);
	EVP_CIPHER_CTX_reset(cc);
	EVP_EncryptInit_ex(cc, EVP_aes_256_gcm(), NULL, cek, iv);
	EVP_EncryptUpdate(cc, NULL, &l, aad, sizeof(aad));
	EVP_EncryptUpdate(cc, ct, &l, payload, sizeof(payload));
	EVP_EncryptFinal_ex(cc, ct + l, &l);
	EVP_CIPHER_CTX_ctrl(cc, EVP_CTRL_GCM_GET_TAG, 16, tag);
	rc = 0;
out:
	EVP_CIPHER_CTX_free(cc);
	EVP_PKEY_free(eph);
	EVP_PKEY_CTX_free(kc);
	EVP_PKEY_CTX_free(dc);
	return rc;
}

/* SHA-256 of a token-sized input plus ECDSA verify, ctx prepared per call like jws_verify. */
static int op_raw_es256_verify(void *a)
{
	struct ctx *c = a;
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	int ok = EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, jwk_pkey(c->key)) == 1 &&
		 EVP_DigestVerify(m, c->der_sig, c->der_len, (const uint8_t *)c->token,
				  strrchr(c->token, '.') - c->token) == 1;

	EVP_MD_CTX_free(m);
	return ok ? 0 : 1;
}

static int op_jwe_encrypt(void *a)
{
	struct ctx *c = a;
	struct buf out = BUF_INIT;
	int rc = jwe_encrypt(c->key, "ECDH-ES+A256KW", payload, sizeof(payload), &out);

	buf_release(&out);
	return rc;
}

static int op_jwe_decrypt(void *a)
{
	struct ctx *c = a;
	struct secbuf pt = {0};
	int rc = jwe_decrypt(c->key, (const char *)c->jwe.p, c->jwe.len, NULL, &pt);

	secbuf_free(&pt);
	return rc;
}

static int op_jws_verify(void *a)
{
	static const char *const es256[] = {"ES256", NULL};
	struct ctx *c = a;

	return jws_verify(c->token, strlen(c->token), c->key, es256, NULL, NULL, NULL);
}

static double best(double a, double b)
{
	return a > b ? a : b;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	struct ctx c = {.jwe = BUF_INIT};
	double r_ecdh, r_ecdsa, r_floor_enc, r_enc, r_dec, r_floor_ver, r_ver;
	EVP_MD_CTX *m;

	secmem_init(0, true);
	if (jwk_generate(JWK_EC_P256, &c.key) || !(c.peer = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")))
		return 1;
	c.derive = EVP_PKEY_CTX_new_from_pkey(NULL, jwk_pkey(c.key), NULL);
	EVP_PKEY_derive_init(c.derive);
	EVP_PKEY_derive_set_peer(c.derive, c.peer);
	if (jws_sign(c.key, "ES256", NULL, "{\"sub\":\"bench\",\"exp\":4102444800}", 34, &c.token) ||
	    jwe_encrypt(c.key, "ECDH-ES+A256KW", payload, sizeof(payload), &c.jwe))
		return 1;
	/* a DER signature over the token's signing input, for the raw verify baselines */
	m = EVP_MD_CTX_new();
	c.der_len = sizeof(c.der_sig);
	EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, jwk_pkey(c.key));
	EVP_DigestSign(m, c.der_sig, &c.der_len, (const uint8_t *)c.token,
		       strrchr(c.token, '.') - c.token);
	EVP_MD_CTX_free(m);
	EVP_Digest(c.token, strrchr(c.token, '.') - c.token, c.digest, NULL, EVP_sha256(), NULL);
	c.verify = EVP_PKEY_CTX_new_from_pkey(NULL, jwk_pkey(c.key), NULL);
	EVP_PKEY_verify_init(c.verify);

	/* interleaved rounds, best of each: a pair is compared under the same conditions */
	r_ecdh = r_floor_enc = r_enc = r_dec = r_ecdsa = r_floor_ver = r_ver = 0;
	for (int round = 0; round < 5; round++) {
		double q = secs / 5;

		r_ecdh = best(r_ecdh, bench_rate("bench_jose", op_raw_ecdh, &c, 16, q));
		r_floor_enc =
		    best(r_floor_enc, bench_rate("bench_jose", op_raw_ecdh_es_encrypt, &c, 16, q));
		r_enc = best(r_enc, bench_rate("bench_jose", op_jwe_encrypt, &c, 16, q));
		r_dec = best(r_dec, bench_rate("bench_jose", op_jwe_decrypt, &c, 16, q));
		r_ecdsa = best(r_ecdsa, bench_rate("bench_jose", op_raw_ecdsa_verify, &c, 16, q));
		r_floor_ver =
		    best(r_floor_ver, bench_rate("bench_jose", op_raw_es256_verify, &c, 16, q));
		r_ver = best(r_ver, bench_rate("bench_jose", op_jws_verify, &c, 16, q));
	}

	printf("%-44s %12s %10s\n", "case (P-256, 32-byte payload)", "ops/s", "vs floor");
	printf("%-44s %12.0f %10s\n", "raw ECDH derive (prepared ctx)", r_ecdh, "-");
	printf("%-44s %12.0f %10s\n", "raw ECDH-ES+A256KW encrypt floor", r_floor_enc, "1.00");
	printf("%-44s %12.0f %10.2f\n", "jwe_encrypt ECDH-ES+A256KW", r_enc, r_enc / r_floor_enc);
	printf("%-44s %12.0f %10s\n", "jwe_decrypt ECDH-ES+A256KW", r_dec, "-");
	printf("%-44s %12.0f %10s\n", "raw ECDSA verify (prepared ctx)", r_ecdsa, "-");
	printf("%-44s %12.0f %10s\n", "raw ES256 verify floor (SHA-256+ECDSA)", r_floor_ver, "1.00");
	printf("%-44s %12.0f %10.2f\n", "jws_verify ES256", r_ver, r_ver / r_floor_ver);
	printf("machine-readable: jwe_encrypt=%.0f jwe_encrypt_floor=%.0f jwe_decrypt=%.0f "
	       "jws_verify=%.0f jws_verify_floor=%.0f raw_ecdh=%.0f raw_ecdsa_verify=%.0f\n",
	       r_enc, r_floor_enc, r_dec, r_ver, r_floor_ver, r_ecdh, r_ecdsa);
	EVP_PKEY_CTX_free(c.derive);
	EVP_PKEY_CTX_free(c.verify);
	EVP_PKEY_free(c.peer);
	buf_release(&c.jwe);
	free(c.token);
	jwk_free(c.key);
	return 0;
}
