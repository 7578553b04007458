/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_AS_VENDOR_CERTS_H
#define KBS_AS_VENDOR_CERTS_H

/*
 * Built-in trust anchors of the evidence verifiers, as PEM text (generated into
 * vendor_certs.c by scripts/gen-vendor-certs.sh from server/as/certs/).
 *
 * AMD: per generation the bundle Trustee ships, in the order ASK, ARK, ASVK.
 * Intel: the SGX Root CA (SHA-256 of DER 44a0196b...74d3; the TDX verifier also pins its key).
 * NVIDIA: the Device Identity CA, root of every GPU/switch device chain (SHA-1 72be15b8...54e8).
 */
extern const char vendor_amd_milan_pem[];
extern const char vendor_amd_genoa_pem[];
extern const char vendor_amd_turin_pem[];
extern const char vendor_intel_sgx_root_pem[];
extern const char vendor_nvidia_device_root_pem[];

#endif
