/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_MOUNT_INITDATA_H
#define KBS_MOUNT_INITDATA_H

#include <stddef.h>
#include <stdint.h>

/*
 * Init-data tooling (host side of Confidential Containers init-data, reference
 * guest-components.md §7): build the TOML document, digest it, encode the kata annotation
 * value (standard base64 of gzip) and the block image.
 */

#define KID_DIGEST_MAX 64

/* One [data] member: key and its text value (the file's contents). */
struct kid_entry {
	const char *key;
	const char *value;
	size_t value_len;
};

/*
 * Builds an init-data document: version = "0.1.0", algorithm = ALG, [data] with the entries
 * in the given order. Values are written as TOML multi-line literal strings when possible,
 * else as escaped basic strings; keys are always quoted. *out is NUL-terminated, free().
 * Returns KBS_OK, KBS_ERR_INVAL (unknown algorithm, NUL in a value, empty key), NOMEM.
 */
int kid_build(const char *algorithm, const struct kid_entry *e, size_t n, char **out,
	      size_t *outlen);

/* Digest size of "sha256"/"sha384"/"sha512", 0 for anything else. */
size_t kid_digest_size(const char *algorithm);

/* out = H_algorithm(data); returns KBS_OK or KBS_ERR_INVAL / KBS_ERR_CRYPTO. */
int kid_digest(const char *algorithm, const uint8_t *data, size_t len, uint8_t *out,
	       size_t *outlen);

/*
 * The value of io.katacontainers.config.hypervisor.cc_init_data: standard base64 of a gzip
 * member (mtime 0, so the same TOML always gives the same annotation). *out: free().
 */
int kid_annotation(const uint8_t *toml, size_t len, char **out);

/*
 * The init-data block image kata hands the guest: "initdata", u64 LE length of the gzip
 * stream, the gzip stream, zero padding to a multiple of 512. *out: free().
 */
int kid_block_image(const uint8_t *toml, size_t len, uint8_t **out, size_t *outlen);

#endif
