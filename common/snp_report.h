/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_COMMON_SNP_REPORT_H
#define KBS_COMMON_SNP_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * AMD SEV-SNP ATTESTATION_REPORT codec (evidence.md §1.1-1.3, kbs-protocol §13.2): the
 * 1184-byte binary report and Trustee's JSON form of it (the sev crate's serde output).
 * Trustee's guest sends the JSON form, so the verifier rebuilds the exact signed bytes from it
 * (reserved bytes zero, TCB fields packed per CPU generation).
 */

#define SNP_REPORT_SIZE 1184
#define SNP_SIGNED_LEN 0x2A0

enum snp_gen {
	SNP_GEN_UNKNOWN = 0,
	SNP_GEN_MILAN,
	SNP_GEN_GENOA,
	SNP_GEN_TURIN,
	/* v2 reports carry no CPUID: Milan and Genoa share the TCB layout; the chain decides */
	SNP_GEN_MILAN_OR_GENOA,
};

struct snp_tcb {
	bool has_fmc;
	uint8_t fmc, bootloader, tee, snp, microcode;
};

struct snp_fw_version {
	uint8_t major, minor, build;
};

struct snp_report {
	uint32_t version;
	uint32_t guest_svn;
	uint64_t policy;
	uint8_t family_id[16];
	uint8_t image_id[16];
	uint32_t vmpl;
	uint32_t sig_algo;
	struct snp_tcb current_tcb;
	uint64_t plat_info;
	uint32_t key_info;
	uint8_t report_data[64];
	uint8_t measurement[48];
	uint8_t host_data[32];
	uint8_t id_key_digest[48];
	uint8_t author_key_digest[48];
	uint8_t report_id[32];
	uint8_t report_id_ma[32];
	struct snp_tcb reported_tcb;
	uint8_t cpuid_fam_id, cpuid_mod_id, cpuid_step; /* v3+ */
	uint8_t chip_id[64];
	struct snp_tcb committed_tcb;
	struct snp_fw_version current, committed;
	struct snp_tcb launch_tcb;
	uint64_t launch_mit_vector, current_mit_vector; /* v5+ */
	uint8_t sig_r[72], sig_s[72];			/* little-endian, zero-extended */
	enum snp_gen gen;				/* derived, see snp_report_generation */
};

/* Policy / platform-info / key-info bits used by the verifier and the claims. */
#define SNP_POLICY_SMT (1ull << 16)
#define SNP_POLICY_MIGRATE_MA (1ull << 18)
#define SNP_POLICY_DEBUG (1ull << 19)
#define SNP_POLICY_SINGLE_SOCKET (1ull << 20)
#define SNP_PLAT_SMT_EN (1ull << 0)
#define SNP_PLAT_TSME_EN (1ull << 1)
#define SNP_KEYINFO_SIGNING_KEY(k) (((k) >> 2) & 7u) /* 0 VCEK, 1 VLEK, 7 none */

/*
 * CPU generation: from CPUID family/model for v3+, from the CHIP_ID heuristic for v2
 * (bytes 8..63 zero → Turin, else Milan or Genoa; all zero → unknown).
 */
enum snp_gen snp_report_generation(const struct snp_report *r);

/* "Milan", "Genoa", "Turin" (KDS product names); "Milan/Genoa", "unknown". */
const char *snp_gen_name(enum snp_gen g);

/*
 * Decodes a binary report (exactly SNP_REPORT_SIZE bytes). Versions 2..5. Fills r->gen;
 * fails for an unknown generation. why names the failed field.
 */
int snp_report_decode(const uint8_t *buf, size_t len, struct snp_report *r, char *why,
		      size_t whylen);

/*
 * Reads Trustee's JSON form (the "attestation_report" object). Every member is required
 * except cpuid_* (null for v2), launch_mit_vector / current_mit_vector (null or absent
 * before v5) and the fmc members of the TCB objects. Fills r->gen.
 */
int snp_report_from_json(const json_t *j, struct snp_report *r, char *why, size_t whylen);

/* Encodes r into the exact binary report (reserved bytes zero). Needs r->gen. */
int snp_report_encode(const struct snp_report *r, uint8_t out[SNP_REPORT_SIZE]);

/* Trustee's JSON form of r (new reference; NULL on allocation failure). */
json_t *snp_report_to_json(const struct snp_report *r);

/* Packs / unpacks an 8-byte TCB_VERSION for a generation (Turin differs). */
void snp_tcb_encode(const struct snp_tcb *t, enum snp_gen g, uint8_t out[8]);
void snp_tcb_decode(const uint8_t in[8], enum snp_gen g, struct snp_tcb *t);

#endif
