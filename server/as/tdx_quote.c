// SPDX-License-Identifier: Apache-2.0
#include "server/as/tdx_quote.h"

json_t *tdx_quote_claims(const struct dcap_quote *q)
{
	static const struct {
		const char *name;
		size_t off, len;
	} body[] = {
	    {"tcb_svn", TDX_BODY_TCB_SVN, 16},
	    {"mr_seam", TDX_BODY_MRSEAM, 48},
	    {"mrsigner_seam", TDX_BODY_MRSIGNERSEAM, 48},
	    {"seam_attributes", TDX_BODY_SEAMATTRIBUTES, 8},
	    {"td_attributes", TDX_BODY_TDATTRIBUTES, 8},
	    {"xfam", TDX_BODY_XFAM, 8},
	    {"mr_td", TDX_BODY_MRTD, 48},
	    {"mr_config_id", TDX_BODY_MRCONFIGID, 48},
	    {"mr_owner", TDX_BODY_MROWNER, 48},
	    {"mr_owner_config", TDX_BODY_MROWNERCONFIG, 48},
	    {"rtmr_0", TDX_BODY_RTMR0, 48},
	    {"rtmr_1", TDX_BODY_RTMR0 + 48, 48},
	    {"rtmr_2", TDX_BODY_RTMR0 + 96, 48},
	    {"rtmr_3", TDX_BODY_RTMR0 + 144, 48},
	    {"report_data", TDX_BODY_REPORTDATA, 64},
	    {"tee_tcb_svn2", TDX_BODY_TEE_TCB_SVN2, 16},
	    {"mr_servicetd", TDX_BODY_MRSERVICETD, 48},
	};
	size_t nbody = q->body_size == TDX_BODY_V15_LEN ? 17 : 15;
	const uint8_t *h = q->header, *b = q->body;
	uint64_t attr = 0;
	json_t *c, *jb, *quote;
	int bad = 0;

	for (int i = 7; i >= 0; i--)
		attr = attr << 8 | b[TDX_BODY_TDATTRIBUTES + i];
	jb = json_object();
	for (size_t i = 0; jb && i < nbody; i++)
		bad |= json_object_set_new(jb, body[i].name,
					   dcap_hex(b + body[i].off, body[i].len, 0));
	quote =
	    json_pack("{s:{s:o,s:o,s:o,s:o,s:o,s:o},s:o}", "header", "version", dcap_hex(h, 2, 0),
		      "att_key_type", dcap_hex(h + 2, 2, 0), "tee_type", dcap_hex(h + 4, 4, 0),
		      "reserved", dcap_hex(h + 8, 4, 0), "vendor_id", dcap_hex(h + 12, 16, 0),
		      "user_data", dcap_hex(h + 28, 20, 0), "body", jb);
	if (quote && q->version == 5)
		bad |= json_object_set_new(quote, "type", dcap_hex(h + 48, 2, 0)) |
		       json_object_set_new(quote, "size", dcap_hex(h + 50, 4, 0));
	c = json_pack("{s:o,s:{s:b,s:b,s:b,s:b,s:b},s:o,s:o}", "quote", quote, "td_attributes",
		      "debug", !!(attr & 1), "septve_disable", !!(attr >> 28 & 1),
		      "protection_keys", !!(attr >> 30 & 1), "key_locker", !!(attr >> 31 & 1),
		      "perfmon", !!(attr >> 63 & 1), "report_data",
		      dcap_hex(b + TDX_BODY_REPORTDATA, 64, 0), "init_data",
		      dcap_hex(b + TDX_BODY_MRCONFIGID, 48, 0));
	if (bad) {
		json_decref(c);
		return NULL;
	}
	return c;
}
