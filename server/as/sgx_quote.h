/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_SGX_QUOTE_H
#define KBS_AS_SGX_QUOTE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "server/as/dcap_quote.h"

/*
 * Intel SGX DCAP quote, version 3 (read by dcap_quote_parse with DCAP_TEE_SGX): header 48
 * bytes, body = the 384-byte enclave report, signed region [0, 432). Enclave report layout
 * and Trustee's claims.
 */

#define SGX_REPORT_BODY_LEN 384

/* enclave report body offsets */
#define SGX_BODY_CPUSVN 0
#define SGX_BODY_MISCSELECT 16
#define SGX_BODY_RESERVED1 20
#define SGX_BODY_ISVEXTPRODID 32
#define SGX_BODY_ATTRIBUTES 48
#define SGX_BODY_MRENCLAVE 64
#define SGX_BODY_RESERVED2 96
#define SGX_BODY_MRSIGNER 128
#define SGX_BODY_RESERVED3 160
#define SGX_BODY_CONFIGID 192
#define SGX_BODY_ISVPRODID 256
#define SGX_BODY_ISVSVN 258
#define SGX_BODY_CONFIGSVN 260
#define SGX_BODY_RESERVED4 262
#define SGX_BODY_ISVFAMILYID 304
#define SGX_BODY_REPORTDATA 320

/*
 * Trustee's SGX claims: {"header": {version, att_key_type, att_key_data_0, qe_svn, pce_svn,
 * vendor_id, user_data}, "body": {cpu_svn, misc_select, reserved1, isv_ext_prod_id,
 * "attributes.flags", "attributes.xfrm", mr_enclave, reserved2, mr_signer, reserved3,
 * config_id, isv_prod_id, isv_svn, config_svn, reserved4, isv_family_id, report_data},
 * "report_data", "init_data" (= config_id)}; lowercase hex of the raw bytes. New reference,
 * NULL on allocation failure.
 */
json_t *sgx_quote_claims(const struct dcap_quote *q);

#endif
