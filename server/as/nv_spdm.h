/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_NV_SPDM_H
#define KBS_AS_NV_SPDM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * NVIDIA device attestation report: an SPDM 1.1 GET_MEASUREMENTS request (37 bytes) followed
 * by the signed GET_MEASUREMENTS response (DSP0274 1.1.1 §10.11), as the GPU driver returns
 * it. Layout and acceptance rules are Trustee's (deps/verifier/src/nvidia/spdm_*.rs):
 *
 *   request   0 SPDMVersion (0x11) 1 code 2 param1 3 param2 4 nonce[32] 36 slot
 *   response  0 SPDMVersion (0x11) 1 code 2 param1 3 param2 4 NumberOfBlocks
 *             5 MeasurementRecordLength (u24 LE) 8 record[L1] nonce[32] OpaqueLength (u16 LE)
 *             opaque[L2] signature[sig_len]
 *   block     index, spec (must be 1 = DMTF), size (u16 LE), DMTF measurement:
 *             type, value size (u16 LE), value
 *   opaque    items {type u16 LE, size u16 LE, data}: NVIDIA's opaque data (driver and vbios
 *             versions, FWID, measurement counts, ...); vbios_version and driver_version must
 *             be present when the opaque data is not empty
 *
 * Bytes behind the signature are ignored (Trustee computes the report size from the fields).
 * The signature covers report[0 .. signed_len).
 */

#define NV_SPDM_VERSION 0x11
#define NV_SPDM_NONCE_LEN 32
#define NV_SPDM_REQUEST_LEN 37
#define NV_HOPPER_SIG_LEN 96 /* raw ECDSA P-384 r||s */

struct nv_spdm_block {
	uint8_t index;
	uint8_t dmtf_type;
	const uint8_t *value; /* points into the report */
	size_t value_len;
};

struct nv_spdm_report {
	uint8_t req_code, req_param1, req_param2, req_slot;
	uint8_t req_nonce[NV_SPDM_NONCE_LEN]; /* the nonce the verifier binds (Trustee) */
	uint8_t resp_code, resp_param1, resp_param2;
	uint8_t resp_nonce[NV_SPDM_NONCE_LEN]; /* responder's nonce (not checked) */
	size_t nblocks;                        /* decoded measurement blocks */
	struct nv_spdm_block blocks[255];
	/* decoded opaque data, Trustee's key names and value encodings:
	 * {"driver_version":"550.90.07","vbios_version":"96.00.9f.00.01","fwid":"<hex>",...} */
	json_t *opaque;
	const uint8_t *sig; /* sig_len bytes, points into the report */
	size_t sig_len;
	size_t signed_len; /* bytes covered by the signature */
	size_t report_len; /* request + response including the signature */
};

/*
 * Parses report[0..len) with a signature of sig_len bytes. Fills *r (release with
 * nv_spdm_report_release, also after a failure). Errors: KBS_ERR_PARSE with Trustee's message
 * in why ("SPDM version 0x10 not supported", "MeasurementRecord overflow", "Invalid
 * OpaqueDataType 99", ...), KBS_ERR_NOMEM.
 */
int nv_spdm_parse(const uint8_t *report, size_t len, size_t sig_len, struct nv_spdm_report *r,
		  char *why, size_t whylen);

void nv_spdm_report_release(struct nv_spdm_report *r);

/* {"<index>": "<hex value>", ...} of the measurement blocks (new reference, NULL = no memory). */
json_t *nv_spdm_measurements_json(const struct nv_spdm_report *r);

#endif
