// SPDX-License-Identifier: Apache-2.0
/*
 * NVIDIA SPDM GET_MEASUREMENTS report parser (layout in nv_spdm.h). Every length is checked
 * against the bytes that are left before it is used; values point into the caller's buffer.
 */
#include "server/as/nv_spdm.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/b64.h"
#include "common/buf.h"
#include "common/err.h"

#define DMTF_SPEC 1

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		snprintf(why, whylen, __VA_ARGS__);                                                \
		rc = KBS_ERR_PARSE;                                                                \
		goto out;                                                                          \
	} while (0)

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* NVIDIA's opaque data types and the names nvtrust (and Trustee) give them. */
enum vt { V_HEX, V_STR, V_VBIOS, V_MSRCNT, V_PDI, V_U64, V_FEATURE };
static const struct {
	uint16_t type;
	const char *name;
	enum vt enc;
} opaque_types[] = {
    {1, "cert_issuer_name", V_HEX},
    {2, "cert_authority_key_identifier", V_HEX},
    {3, "driver_version", V_STR},
    {4, "gpu_info", V_HEX},
    {5, "id_sku", V_HEX},
    {6, "vbios_version", V_VBIOS},
    {7, "manufacturer_id", V_HEX},
    {8, "tamper_detection", V_HEX},
    {9, "smc", V_HEX},
    {10, "vpr", V_HEX},
    {11, "nvdec0_status", V_STR},
    {12, "measurement_count", V_MSRCNT},
    {13, "cpr_info", V_HEX},
    {14, "board_id", V_HEX},
    {15, "chip_sku", V_STR},
    {16, "chip_sku_mod", V_STR},
    {17, "project", V_STR},
    {18, "project_sku", V_STR},
    {19, "project_sku_mod", V_HEX},
    {20, "fwid", V_HEX},
    {21, "protected_pcie_status", V_STR},
    {22, "switch_pdi", V_PDI},
    {23, "floorswept_ports", V_HEX},
    {24, "position_id", V_HEX},
    {25, "lock_switch_status", V_HEX},
    {32, "gpu_link_conn", V_HEX},
    {33, "sys_enable_status", V_HEX},
    {34, "opaque_data_version", V_U64},
    {35, "chip_info", V_STR},
    {36, "feature_flag", V_FEATURE},
};

static json_t *hex_json(const uint8_t *p, size_t n)
{
	char *s = malloc(2 * n + 1);
	json_t *j;

	if (!s)
		return NULL;
	hex_encode(p, n, s, 2 * n + 1);
	s[2 * n] = 0;
	j = json_stringn(s, 2 * n);
	free(s);
	return j;
}

/* Length of the valid UTF-8 sequence at p[0..n), or 0 (invalid), with *bad = bytes of the
 * maximal invalid subpart (Unicode's "U+FFFD substitution of maximal subparts", which is what
 * Rust's String::from_utf8_lossy does). */
static size_t utf8_seq(const uint8_t *p, size_t n, size_t *bad)
{
	uint8_t c = p[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 2;
	else if (c >= 0xe0 && c <= 0xef)
		need = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 4;
	else {
		*bad = 1;
		return 0;
	}
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	for (i = 1; i < need; i++) {
		if (i >= n || p[i] < lo || p[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return need;
}

/* String::from_utf8_lossy(bytes).trim_end_matches('\0') */
static json_t *lossy_json(const uint8_t *p, size_t n)
{
	struct buf b;
	json_t *j = NULL;
	size_t i = 0, bad, k;

	buf_init(&b, 4 * n + 16);
	while (i < n) {
		if ((k = utf8_seq(p + i, n - i, &bad)) > 0) {
			if (buf_append(&b, p + i, k) != KBS_OK)
				goto out;
			i += k;
		} else {
			if (buf_append(&b, "\xef\xbf\xbd", 3) != KBS_OK)
				goto out;
			i += bad;
		}
	}
	k = b.len;
	while (k > 0 && b.p[k - 1] == 0)
		k--;
	j = json_stringn(k ? (const char *)b.p : "", k);
out:
	buf_release(&b);
	return j;
}

static int le_u64(const uint8_t *p, size_t n, uint64_t *v, char *why, size_t whylen)
{
	if (n > 8) {
		snprintf(why, whylen, "OpaqueDataType integer larger than 8 bytes");
		return KBS_ERR_PARSE;
	}
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v |= (uint64_t)p[i] << (8 * i);
	return KBS_OK;
}

/* Decodes one opaque item into *out (new reference). */
static int opaque_value(enum vt enc, const uint8_t *p, size_t n, json_t **out, char *why,
			size_t whylen)
{
	json_t *j = NULL;
	char key[24];
	uint64_t v;
	int rc = KBS_ERR_NOMEM;

	switch (enc) {
	case V_HEX:
		j = hex_json(p, n);
		break;
	case V_STR:
		j = lossy_json(p, n);
		break;
	case V_VBIOS: {
		/* first half reversed, dot-joined hex bytes, then ".<first byte of second half>":
		 * 00 9f 00 96 01 00 00 00 -> 96.00.9f.00.01 */
		struct buf b;
		size_t half = n / 2;
		if (half >= n) {
			snprintf(why, whylen, "Invalid gpu vbios version");
			return KBS_ERR_PARSE;
		}
		buf_init(&b, 3 * n + 8);
		for (size_t i = half; i > 0; i--)
			if (buf_printf(&b, i == half ? "%02x" : ".%02x", p[i - 1]) != KBS_OK)
				break;
		if (buf_printf(&b, ".%02x", p[half]) == KBS_OK)
			j = json_stringn((const char *)b.p, b.len);
		buf_release(&b);
		break;
	}
	case V_MSRCNT:
		if (n % 4) {
			snprintf(why, whylen, "OpaqueDataType is not multiple of 4");
			return KBS_ERR_PARSE;
		}
		/* Trustee keys the counts with a u8 starting at 1 */
		if (n / 4 > 255) {
			snprintf(why, whylen, "measurement_count: more than 255 entries");
			return KBS_ERR_PARSE;
		}
		if (!(j = json_object()))
			break;
		for (size_t i = 0; i < n / 4; i++) {
			uint32_t c = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
				     (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
			snprintf(key, sizeof(key), "%zu", i + 1);
			if (json_object_set_new(j, key, json_integer(c)) != 0) {
				json_decref(j);
				return KBS_ERR_NOMEM;
			}
		}
		break;
	case V_PDI:
		if (n % 8) {
			snprintf(why, whylen, "OpaqueDataType is not multiple of 8");
			return KBS_ERR_PARSE;
		}
		if (!(j = json_array()))
			break;
		for (size_t i = 0; i < n; i += 8)
			if (json_array_append_new(j, hex_json(p + i, 8)) != 0) {
				json_decref(j);
				return KBS_ERR_NOMEM;
			}
		break;
	case V_U64:
		if ((rc = le_u64(p, n, &v, why, whylen)) != KBS_OK)
			return rc;
		/* JSON integers here are signed 64-bit */
		if (v > INT64_MAX) {
			snprintf(why, whylen, "opaque_data_version %" PRIu64 " out of range", v);
			return KBS_ERR_PARSE;
		}
		j = json_integer((json_int_t)v);
		break;
	case V_FEATURE:
		if ((rc = le_u64(p, n, &v, why, whylen)) != KBS_OK)
			return rc;
		j = json_string(v == 0 ? "SPT" : v == 1 ? "MPT" : v == 2 ? "PPCIE" : "unknown");
		break;
	}
	if (!j)
		return KBS_ERR_NOMEM;
	*out = j;
	return KBS_OK;
}

static int parse_opaque(const uint8_t *p, size_t n, json_t **out, char *why, size_t whylen)
{
	json_t *o = json_object(), *v = NULL;
	size_t off = 0;
	int rc = KBS_ERR_NOMEM;

	if (!o)
		goto out;
	/* Trustee's loop condition: an item header ending exactly at the end is not read */
	while (off + 4 < n) {
		uint16_t type = le16(p + off), size = le16(p + off + 2);
		size_t t;

		for (t = 0; t < sizeof(opaque_types) / sizeof(opaque_types[0]); t++)
			if (opaque_types[t].type == type)
				break;
		if (t == sizeof(opaque_types) / sizeof(opaque_types[0]))
			FAIL("Invalid OpaqueDataType %u", type);
		off += 4;
		if (size > n - off)
			FAIL("OpaqueData overflow: offset %#zx, data_size %#x", off, size);
		if ((rc = opaque_value(opaque_types[t].enc, p + off, size, &v, why, whylen)))
			goto out;
		off += size;
		if (json_object_get(o, opaque_types[t].name)) {
			json_decref(v);
			FAIL("Duplicated OpaqueDataType: %s", opaque_types[t].name);
		}
		if (json_object_set_new(o, opaque_types[t].name, v) != 0) {
			rc = KBS_ERR_NOMEM;
			goto out;
		}
	}
	/* the device TCB is judged by these two */
	if (!json_object_get(o, "vbios_version") || !json_object_get(o, "driver_version"))
		FAIL("Both vbios_version and driver_version must be present in the report");
	*out = o;
	o = NULL;
	rc = KBS_OK;
out:
	json_decref(o);
	return rc;
}

static int parse_record(const uint8_t *p, size_t n, size_t nblocks, struct nv_spdm_report *r,
			char *why, size_t whylen)
{
	size_t off = 0;
	int rc = KBS_ERR_PARSE;

	for (size_t i = 0; i < nblocks; i++) {
		struct nv_spdm_block *b = &r->blocks[i];
		size_t msize, vsize;

		if (n < off + 4)
			FAIL("MeasurementBlock overflow");
		b->index = p[off];
		if (p[off + 1] != DMTF_SPEC)
			FAIL("Only measurements encoded in the DMTF layout are supported");
		msize = le16(p + off + 2);
		off += 4;
		if (msize > n - off)
			FAIL("Measurement overflow");
		if (msize < 3)
			FAIL("DMTF measurement must be bigger than 3 bytes");
		b->dmtf_type = p[off];
		vsize = le16(p + off + 1);
		if (vsize > msize - 3)
			FAIL("DMTF measurement overflow");
		b->value = p + off + 3;
		b->value_len = vsize;
		off += msize;
		r->nblocks = i + 1;
	}
	rc = KBS_OK;
out:
	return rc;
}

int nv_spdm_parse(const uint8_t *report, size_t len, size_t sig_len, struct nv_spdm_report *r,
		  char *why, size_t whylen)
{
	const uint8_t *p;
	size_t n, off, reclen, oplen;
	int rc = KBS_ERR_PARSE;

	memset(r, 0, sizeof(*r));
	if (len < NV_SPDM_REQUEST_LEN)
		FAIL("Attestation report data is too small");
	if (report[0] != NV_SPDM_VERSION)
		FAIL("SPDM version 0x%02x not supported", report[0]);
	r->req_code = report[1];
	r->req_param1 = report[2];
	r->req_param2 = report[3];
	memcpy(r->req_nonce, report + 4, NV_SPDM_NONCE_LEN);
	r->req_slot = report[36];

	p = report + NV_SPDM_REQUEST_LEN;
	n = len - NV_SPDM_REQUEST_LEN;
	if (n < 8)
		FAIL("SpdmGetMeasurementsResponse message smaller 8 bytes");
	if (p[0] != NV_SPDM_VERSION)
		FAIL("SPDM version 0x%02x not supported", p[0]);
	r->resp_code = p[1];
	r->resp_param1 = p[2];
	r->resp_param2 = p[3];
	reclen = (size_t)p[5] | (size_t)p[6] << 8 | (size_t)p[7] << 16;
	off = 8;
	if (reclen > 0) {
		if (reclen > n - off)
			FAIL("MeasurementRecord overflow");
		if ((rc = parse_record(p + off, reclen, p[4], r, why, whylen)) != KBS_OK)
			goto out;
		off += reclen;
	}
	if (NV_SPDM_NONCE_LEN > n - off)
		FAIL("Nonce overflow");
	memcpy(r->resp_nonce, p + off, NV_SPDM_NONCE_LEN);
	off += NV_SPDM_NONCE_LEN;
	if (2 > n - off)
		FAIL("OpaqueDataLength overflow");
	oplen = le16(p + off);
	off += 2;
	if (oplen > 0) {
		if (oplen > n - off)
			FAIL("OpaqueData overflow");
		if ((rc = parse_opaque(p + off, oplen, &r->opaque, why, whylen)) != KBS_OK)
			goto out;
		off += oplen;
	} else if (!(r->opaque = json_object())) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	if (sig_len > n - off)
		FAIL("Signature overflow");
	r->sig = p + off;
	r->sig_len = sig_len;
	r->signed_len = NV_SPDM_REQUEST_LEN + off;
	r->report_len = r->signed_len + sig_len;
	rc = KBS_OK;
out:
	if (rc == KBS_ERR_NOMEM)
		snprintf(why, whylen, "out of memory");
	return rc;
}

void nv_spdm_report_release(struct nv_spdm_report *r)
{
	if (!r)
		return;
	json_decref(r->opaque);
	r->opaque = NULL;
}

json_t *nv_spdm_measurements_json(const struct nv_spdm_report *r)
{
	json_t *m = json_object();
	char key[24];

	for (size_t i = 0; m && i < r->nblocks; i++) {
		snprintf(key, sizeof(key), "%u", r->blocks[i].index);
		/* a repeated index replaces the earlier value (Trustee's HashMap insert) */
		if (json_object_set_new(m, key, hex_json(r->blocks[i].value, r->blocks[i].value_len))) {
			json_decref(m);
			return NULL;
		}
	}
	return m;
}
