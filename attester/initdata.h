/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_ATTESTER_INITDATA_H
#define KBS_ATTESTER_INITDATA_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Init-data (reference guest-components.md §7): a TOML document with `version` (string),
 * `algorithm` ("sha256" | "sha384" | "sha512") and a `[data]` table of strings. Its digest is
 * H_algorithm(the exact bytes of the document), with no normalisation. It arrives as a file
 * (kata writes /run/confidential-containers/initdata/initdata.toml), as the pod annotation
 * value std-base64(gzip(TOML)), or as the kata block image
 * ("initdata" ‖ u64 LE gzip length ‖ gzip ‖ zero padding).
 */

#define INITDATA_MAX (1u << 20) /* largest document accepted (decompressed) */

struct initdata;

/* Parses text[0..len); why (may be NULL) names the problem on KBS_ERR_PARSE/INVAL. */
int initdata_parse(const char *text, size_t len, struct initdata **out, char *why, size_t whylen);
/* Reads and parses a file. */
int initdata_load_file(const char *path, struct initdata **out, char *why, size_t whylen);
/* Decodes a kata annotation value (std base64 of gzip) and parses the TOML inside. */
int initdata_from_annotation(const char *b64, size_t len, struct initdata **out, char *why,
			     size_t whylen);
/* Decodes a kata init-data block image and parses the TOML inside. */
int initdata_from_image(const uint8_t *img, size_t len, struct initdata **out, char *why,
			size_t whylen);
void initdata_free(struct initdata *d);

/* The exact document bytes (NUL-terminated) and their length. */
const char *initdata_text(const struct initdata *d, size_t *len);
/* "sha256" | "sha384" | "sha512". */
const char *initdata_algorithm(const struct initdata *d);
const char *initdata_version(const struct initdata *d);
/* Digest of the document (32/48/64 bytes). */
const uint8_t *initdata_digest(const struct initdata *d, size_t *len);
/* The [data] table (borrowed): string → string. */
json_t *initdata_data(const struct initdata *d);

/*
 * Compares a TEE field (HOSTDATA 32, MRCONFIGID 48, CCA 64 bytes) with the digest copied into
 * a zero buffer of the field size (truncated if longer). KBS_ERR_VERIFY on mismatch.
 */
int initdata_check_field(const struct initdata *d, const uint8_t *field, size_t field_len);

/* gunzip (one or more gzip members) with an output cap; *out is malloc'ed, NUL-terminated. */
int initdata_gunzip(const uint8_t *in, size_t len, size_t max, uint8_t **out, size_t *outlen);

#endif
