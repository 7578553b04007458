// SPDX-License-Identifier: Apache-2.0
#include "common/snp_report.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"

/* Byte-array fields: JSON name, offset in the binary report, size, member offset. */
struct bytes_field {
	const char *name;
	size_t off, len, member;
};

#define BF(n, o)                                                                                   \
	{                                                                                          \
#n, o, sizeof(((struct snp_report *)0)->n), offsetof(struct snp_report, n)         \
	}
static const struct bytes_field byte_fields[] = {
    BF(family_id, 0x010),	  BF(image_id, 0x020),	BF(report_data, 0x050),
    BF(measurement, 0x090),	  BF(host_data, 0x0C0), BF(id_key_digest, 0x0E0),
    BF(author_key_digest, 0x110), BF(report_id, 0x140), BF(report_id_ma, 0x160),
    BF(chip_id, 0x1A0),
};
#undef BF

/* TCB fields: JSON name, offset, member offset. */
struct tcb_field {
	const char *name;
	size_t off, member;
};
static const struct tcb_field tcb_fields[] = {
    {"current_tcb", 0x038, offsetof(struct snp_report, current_tcb)},
    {"reported_tcb", 0x180, offsetof(struct snp_report, reported_tcb)},
    {"committed_tcb", 0x1E0, offsetof(struct snp_report, committed_tcb)},
    {"launch_tcb", 0x1F0, offsetof(struct snp_report, launch_tcb)},
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

const char *snp_gen_name(enum snp_gen g)
{
	switch (g) {
	case SNP_GEN_MILAN:
		return "Milan";
	case SNP_GEN_GENOA:
		return "Genoa";
	case SNP_GEN_TURIN:
		return "Turin";
	case SNP_GEN_MILAN_OR_GENOA:
		return "Milan/Genoa";
	default:
		return "unknown";
	}
}

enum snp_gen snp_report_generation(const struct snp_report *r)
{
	if (r->version >= 3) {
		uint8_t f = r->cpuid_fam_id, m = r->cpuid_mod_id;

		if (f == 0x19 && m <= 0x0F)
			return SNP_GEN_MILAN;
		if (f == 0x19 && ((m >= 0x10 && m <= 0x1F) || (m >= 0xA0 && m <= 0xAF)))
			return SNP_GEN_GENOA;
		if (f == 0x1A && m <= 0x11)
			return SNP_GEN_TURIN;
		return SNP_GEN_UNKNOWN;
	}
	/* v2: the sev crate's heuristic (Turin uses only the first 8 CHIP_ID bytes) */
	bool lo = false, hi = false;

	for (size_t i = 0; i < 64; i++) {
		if (!r->chip_id[i])
			continue;
		if (i < 8)
			lo = true;
		else
			hi = true;
	}
	if (hi)
		return SNP_GEN_MILAN_OR_GENOA;
	return lo ? SNP_GEN_TURIN : SNP_GEN_UNKNOWN;
}

void snp_tcb_encode(const struct snp_tcb *t, enum snp_gen g, uint8_t out[8])
{
	memset(out, 0, 8);
	if (g == SNP_GEN_TURIN) {
		out[0] = t->fmc;
		out[1] = t->bootloader;
		out[2] = t->tee;
		out[3] = t->snp;
	} else {
		out[0] = t->bootloader;
		out[1] = t->tee;
		out[6] = t->snp;
	}
	out[7] = t->microcode;
}

void snp_tcb_decode(const uint8_t in[8], enum snp_gen g, struct snp_tcb *t)
{
	memset(t, 0, sizeof(*t));
	if (g == SNP_GEN_TURIN) {
		t->has_fmc = true;
		t->fmc = in[0];
		t->bootloader = in[1];
		t->tee = in[2];
		t->snp = in[3];
	} else {
		t->bootloader = in[0];
		t->tee = in[1];
		t->snp = in[6];
	}
	t->microcode = in[7];
}

static int check_version(uint32_t v, char *why, size_t whylen)
{
	if (v < 2 || v > 5) {
		snprintf(why, whylen, "snp report: unsupported version %u (2..5 accepted)", v);
		return KBS_ERR_UNSUPPORTED;
	}
	return KBS_OK;
}

static int set_gen(struct snp_report *r, char *why, size_t whylen)
{
	r->gen = snp_report_generation(r);
	if (r->gen == SNP_GEN_UNKNOWN) {
		if (r->version >= 3)
			snprintf(why, whylen,
				 "snp report: unsupported CPU (family 0x%02x model 0x%02x)",
				 r->cpuid_fam_id, r->cpuid_mod_id);
		else
			snprintf(why, whylen,
				 "snp report: v2 report with zero CHIP_ID: CPU generation unknown");
		return KBS_ERR_UNSUPPORTED;
	}
	return KBS_OK;
}

int snp_report_decode(const uint8_t *b, size_t len, struct snp_report *r, char *why, size_t whylen)
{
	int rc;

	memset(r, 0, sizeof(*r));
	if (len != SNP_REPORT_SIZE) {
		snprintf(why, whylen, "snp report: %zu bytes, expected %d", len, SNP_REPORT_SIZE);
		return KBS_ERR_PARSE;
	}
	r->version = le32(b);
	if ((rc = check_version(r->version, why, whylen)) != KBS_OK)
		return rc;
	r->guest_svn = le32(b + 0x04);
	r->policy = le64(b + 0x08);
	r->vmpl = le32(b + 0x30);
	r->sig_algo = le32(b + 0x34);
	r->plat_info = le64(b + 0x40);
	r->key_info = le32(b + 0x48);
	for (size_t i = 0; i < sizeof(byte_fields) / sizeof(byte_fields[0]); i++)
		memcpy((uint8_t *)r + byte_fields[i].member, b + byte_fields[i].off,
		       byte_fields[i].len);
	if (r->version >= 3) {
		r->cpuid_fam_id = b[0x188];
		r->cpuid_mod_id = b[0x189];
		r->cpuid_step = b[0x18A];
	}
	if ((rc = set_gen(r, why, whylen)) != KBS_OK)
		return rc;
	for (size_t i = 0; i < sizeof(tcb_fields) / sizeof(tcb_fields[0]); i++)
		snp_tcb_decode(b + tcb_fields[i].off, r->gen,
			       (struct snp_tcb *)((uint8_t *)r + tcb_fields[i].member));
	r->current.build = b[0x1E8];
	r->current.minor = b[0x1E9];
	r->current.major = b[0x1EA];
	r->committed.build = b[0x1EC];
	r->committed.minor = b[0x1ED];
	r->committed.major = b[0x1EE];
	if (r->version >= 5) {
		r->launch_mit_vector = le64(b + 0x1F8);
		r->current_mit_vector = le64(b + 0x200);
	}
	memcpy(r->sig_r, b + 0x2A0, 72);
	memcpy(r->sig_s, b + 0x2E8, 72);
	/* bit 63 is reserved in all of these; the JSON form (jansson: signed 64-bit) cannot
	 * carry it either, so both forms accept the same reports */
	if ((r->policy | r->plat_info | r->launch_mit_vector | r->current_mit_vector) >> 63) {
		snprintf(why, whylen, "snp report: reserved bit 63 set in a 64-bit field");
		return KBS_ERR_RANGE;
	}
	return KBS_OK;
}

int snp_report_encode(const struct snp_report *r, uint8_t b[SNP_REPORT_SIZE])
{
	if (r->version < 2 || r->version > 5 || r->gen == SNP_GEN_UNKNOWN)
		return KBS_ERR_INVAL;
	memset(b, 0, SNP_REPORT_SIZE);
	put32(b, r->version);
	put32(b + 0x04, r->guest_svn);
	put64(b + 0x08, r->policy);
	put32(b + 0x30, r->vmpl);
	put32(b + 0x34, r->sig_algo);
	put64(b + 0x40, r->plat_info);
	put32(b + 0x48, r->key_info);
	for (size_t i = 0; i < sizeof(byte_fields) / sizeof(byte_fields[0]); i++)
		memcpy(b + byte_fields[i].off, (const uint8_t *)r + byte_fields[i].member,
		       byte_fields[i].len);
	for (size_t i = 0; i < sizeof(tcb_fields) / sizeof(tcb_fields[0]); i++)
		snp_tcb_encode((const struct snp_tcb *)((const uint8_t *)r + tcb_fields[i].member),
			       r->gen, b + tcb_fields[i].off);
	if (r->version >= 3) {
		b[0x188] = r->cpuid_fam_id;
		b[0x189] = r->cpuid_mod_id;
		b[0x18A] = r->cpuid_step;
	}
	b[0x1E8] = r->current.build;
	b[0x1E9] = r->current.minor;
	b[0x1EA] = r->current.major;
	b[0x1EC] = r->committed.build;
	b[0x1ED] = r->committed.minor;
	b[0x1EE] = r->committed.major;
	if (r->version >= 5) {
		put64(b + 0x1F8, r->launch_mit_vector);
		put64(b + 0x200, r->current_mit_vector);
	}
	memcpy(b + 0x2A0, r->sig_r, 72);
	memcpy(b + 0x2E8, r->sig_s, 72);
	return KBS_OK;
}

/* ---- JSON ---- */

static int get_uint(const json_t *o, const char *k, uint64_t max, bool nullable, uint64_t *out,
		    bool *present, char *why, size_t whylen)
{
	json_t *v = json_object_get(o, k);

	if (present)
		*present = false;
	if ((!v || json_is_null(v)) && nullable) {
		*out = 0;
		return KBS_OK;
	}
	if (!json_is_integer(v)) {
		snprintf(why, whylen, "snp report: member '%s' must be an integer", k);
		return KBS_ERR_PARSE;
	}
	/* jansson's json_int_t is signed 64-bit: u64 values >= 2^63 arrive as reals (rejected) */
	if (json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max) {
		snprintf(why, whylen, "snp report: member '%s' out of range", k);
		return KBS_ERR_RANGE;
	}
	*out = (uint64_t)json_integer_value(v);
	if (present)
		*present = true;
	return KBS_OK;
}

static int get_bytes(const json_t *o, const char *k, uint8_t *out, size_t n, char *why,
		     size_t whylen)
{
	json_t *a = json_object_get(o, k);

	if (!json_is_array(a) || json_array_size(a) != n) {
		snprintf(why, whylen, "snp report: member '%s' must be an array of %zu bytes", k,
			 n);
		return KBS_ERR_PARSE;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(a, i);

		if (!json_is_integer(e) || json_integer_value(e) < 0 ||
		    json_integer_value(e) > 255) {
			snprintf(why, whylen, "snp report: '%s'[%zu] is not a byte", k, i);
			return KBS_ERR_PARSE;
		}
		out[i] = (uint8_t)json_integer_value(e);
	}
	return KBS_OK;
}

static int get_tcb(const json_t *o, const char *k, struct snp_tcb *t, char *why, size_t whylen)
{
	json_t *j = json_object_get(o, k);
	static const char *const names[] = {"bootloader", "tee", "snp", "microcode"};
	uint8_t *dst[] = {&t->bootloader, &t->tee, &t->snp, &t->microcode};
	uint64_t v;
	bool present;
	int rc;

	memset(t, 0, sizeof(*t));
	if (!json_is_object(j)) {
		snprintf(why, whylen, "snp report: member '%s' must be an object", k);
		return KBS_ERR_PARSE;
	}
	for (size_t i = 0; i < 4; i++) {
		if ((rc = get_uint(j, names[i], 255, false, &v, NULL, why, whylen)) != KBS_OK) {
			snprintf(why, whylen, "snp report: member '%s.%s' must be a byte", k,
				 names[i]);
			return rc;
		}
		*dst[i] = (uint8_t)v;
	}
	if ((rc = get_uint(j, "fmc", 255, true, &v, &present, why, whylen)) != KBS_OK)
		return rc;
	t->has_fmc = present;
	t->fmc = (uint8_t)v;
	return KBS_OK;
}

static int get_fw(const json_t *o, const char *k, struct snp_fw_version *f, char *why,
		  size_t whylen)
{
	json_t *j = json_object_get(o, k);
	uint64_t a, b, c;

	if (!json_is_object(j) || get_uint(j, "major", 255, false, &a, NULL, why, whylen) ||
	    get_uint(j, "minor", 255, false, &b, NULL, why, whylen) ||
	    get_uint(j, "build", 255, false, &c, NULL, why, whylen)) {
		snprintf(why, whylen, "snp report: member '%s' must be {major,minor,build}", k);
		return KBS_ERR_PARSE;
	}
	f->major = (uint8_t)a;
	f->minor = (uint8_t)b;
	f->build = (uint8_t)c;
	return KBS_OK;
}

int snp_report_from_json(const json_t *j, struct snp_report *r, char *why, size_t whylen)
{
	json_t *sig;
	uint64_t v;
	bool present;
	int rc;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(j)) {
		snprintf(why, whylen, "snp evidence: attestation_report must be an object");
		return KBS_ERR_PARSE;
	}
#define U(name, max, dst)                                                                          \
	do {                                                                                       \
		if ((rc = get_uint(j, name, max, false, &v, NULL, why, whylen)) != KBS_OK)         \
			return rc;                                                                 \
		dst = v;                                                                           \
	} while (0)
	U("version", UINT32_MAX, r->version);
	if ((rc = check_version(r->version, why, whylen)) != KBS_OK)
		return rc;
	U("guest_svn", UINT32_MAX, r->guest_svn);
	U("policy", UINT64_MAX, r->policy);
	U("vmpl", UINT32_MAX, r->vmpl);
	U("sig_algo", UINT32_MAX, r->sig_algo);
	U("plat_info", UINT64_MAX, r->plat_info);
	U("key_info", UINT32_MAX, r->key_info);
#undef U
	for (size_t i = 0; i < sizeof(byte_fields) / sizeof(byte_fields[0]); i++)
		if ((rc = get_bytes(j, byte_fields[i].name, (uint8_t *)r + byte_fields[i].member,
				    byte_fields[i].len, why, whylen)) != KBS_OK)
			return rc;
	for (size_t i = 0; i < sizeof(tcb_fields) / sizeof(tcb_fields[0]); i++)
		if ((rc = get_tcb(j, tcb_fields[i].name,
				  (struct snp_tcb *)((uint8_t *)r + tcb_fields[i].member), why,
				  whylen)) != KBS_OK)
			return rc;
	if ((rc = get_fw(j, "current", &r->current, why, whylen)) != KBS_OK ||
	    (rc = get_fw(j, "committed", &r->committed, why, whylen)) != KBS_OK)
		return rc;
	{
		static const char *const cpuid[] = {"cpuid_fam_id", "cpuid_mod_id", "cpuid_step"};
		uint8_t *dst[] = {&r->cpuid_fam_id, &r->cpuid_mod_id, &r->cpuid_step};

		for (size_t i = 0; i < 3; i++) {
			if ((rc = get_uint(j, cpuid[i], 255, true, &v, &present, why, whylen)) !=
			    KBS_OK)
				return rc;
			if (!present && r->version >= 3) {
				snprintf(why, whylen, "snp report: v%u report without '%s'",
					 r->version, cpuid[i]);
				return KBS_ERR_PARSE;
			}
			*dst[i] = (uint8_t)v;
		}
	}
	if ((rc = get_uint(j, "launch_mit_vector", UINT64_MAX, true, &r->launch_mit_vector, NULL,
			   why, whylen)) != KBS_OK ||
	    (rc = get_uint(j, "current_mit_vector", UINT64_MAX, true, &r->current_mit_vector, NULL,
			   why, whylen)) != KBS_OK)
		return rc;
	if (r->version < 5)
		r->launch_mit_vector = r->current_mit_vector = 0; /* not part of the signed bytes */
	sig = json_object_get(j, "signature");
	if (!json_is_object(sig)) {
		snprintf(why, whylen, "snp report: member 'signature' must be {r,s}");
		return KBS_ERR_PARSE;
	}
	if ((rc = get_bytes(sig, "r", r->sig_r, 72, why, whylen)) != KBS_OK ||
	    (rc = get_bytes(sig, "s", r->sig_s, 72, why, whylen)) != KBS_OK)
		return rc;
	return set_gen(r, why, whylen);
}

static json_t *bytes_json(const uint8_t *p, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_integer(p[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *tcb_json(const struct snp_tcb *t)
{
	return json_pack("{s:o,s:i,s:i,s:i,s:i}", "fmc",
			 t->has_fmc ? json_integer(t->fmc) : json_null(), "bootloader",
			 t->bootloader, "tee", t->tee, "snp", t->snp, "microcode", t->microcode);
}

static json_t *opt_u8(bool present, uint8_t v)
{
	return present ? json_integer(v) : json_null();
}

json_t *snp_report_to_json(const struct snp_report *r)
{
	bool v3 = r->version >= 3, v5 = r->version >= 5;
	json_t *j =
	    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "version", (json_int_t)r->version,
		      "guest_svn", (json_int_t)r->guest_svn, "policy", (json_int_t)r->policy,
		      "vmpl", (json_int_t)r->vmpl, "sig_algo", (json_int_t)r->sig_algo, "plat_info",
		      (json_int_t)r->plat_info, "key_info", (json_int_t)r->key_info);
	int bad = !j;

	for (size_t i = 0; !bad && i < sizeof(byte_fields) / sizeof(byte_fields[0]); i++)
		bad |= json_object_set_new(
		    j, byte_fields[i].name,
		    bytes_json((const uint8_t *)r + byte_fields[i].member, byte_fields[i].len));
	for (size_t i = 0; !bad && i < sizeof(tcb_fields) / sizeof(tcb_fields[0]); i++)
		bad |= json_object_set_new(
		    j, tcb_fields[i].name,
		    tcb_json((const struct snp_tcb *)((const uint8_t *)r + tcb_fields[i].member)));
	if (!bad)
		bad |= json_object_set_new(j, "cpuid_fam_id", opt_u8(v3, r->cpuid_fam_id)) |
		       json_object_set_new(j, "cpuid_mod_id", opt_u8(v3, r->cpuid_mod_id)) |
		       json_object_set_new(j, "cpuid_step", opt_u8(v3, r->cpuid_step)) |
		       json_object_set_new(j, "current",
					   json_pack("{s:i,s:i,s:i}", "major", r->current.major,
						     "minor", r->current.minor, "build",
						     r->current.build)) |
		       json_object_set_new(j, "committed",
					   json_pack("{s:i,s:i,s:i}", "major", r->committed.major,
						     "minor", r->committed.minor, "build",
						     r->committed.build)) |
		       json_object_set_new(j, "launch_mit_vector",
					   v5 ? json_integer((json_int_t)r->launch_mit_vector)
					      : json_null()) |
		       json_object_set_new(j, "current_mit_vector",
					   v5 ? json_integer((json_int_t)r->current_mit_vector)
					      : json_null()) |
		       json_object_set_new(j, "signature",
					   json_pack("{s:o,s:o}", "r", bytes_json(r->sig_r, 72),
						     "s", bytes_json(r->sig_s, 72)));
	if (bad) {
		json_decref(j);
		return NULL;
	}
	return j;
}
