// SPDX-License-Identifier: Apache-2.0
#include "server/as/sgx_quote.h"

json_t *sgx_quote_claims(const struct dcap_quote *q)
{
	static const struct {
		const char *name;
		size_t off, len;
	} hdr[] = {{"version", 0, 2},	 {"att_key_type", 2, 2}, {"att_key_data_0", 4, 4},
		   {"qe_svn", 8, 2},	 {"pce_svn", 10, 2},	 {"vendor_id", 12, 16},
		   {"user_data", 28, 20}},
	  body[] = {
	      {"cpu_svn", SGX_BODY_CPUSVN, 16},
	      {"misc_select", SGX_BODY_MISCSELECT, 4},
	      {"reserved1", SGX_BODY_RESERVED1, 12},
	      {"isv_ext_prod_id", SGX_BODY_ISVEXTPRODID, 16},
	      {"attributes.flags", SGX_BODY_ATTRIBUTES, 8},
	      {"attributes.xfrm", SGX_BODY_ATTRIBUTES + 8, 8},
	      {"mr_enclave", SGX_BODY_MRENCLAVE, 32},
	      {"reserved2", SGX_BODY_RESERVED2, 32},
	      {"mr_signer", SGX_BODY_MRSIGNER, 32},
	      {"reserved3", SGX_BODY_RESERVED3, 32},
	      {"config_id", SGX_BODY_CONFIGID, 64},
	      {"isv_prod_id", SGX_BODY_ISVPRODID, 2},
	      {"isv_svn", SGX_BODY_ISVSVN, 2},
	      {"config_svn", SGX_BODY_CONFIGSVN, 2},
	      {"reserved4", SGX_BODY_RESERVED4, 42},
	      {"isv_family_id", SGX_BODY_ISVFAMILYID, 16},
	      {"report_data", SGX_BODY_REPORTDATA, 64},
	  };
	json_t *c = json_object(), *jh = json_object(), *jb = json_object();
	int bad = !c || !jh || !jb;

	for (size_t i = 0; !bad && i < sizeof(hdr) / sizeof(hdr[0]); i++)
		bad |= json_object_set_new(jh, hdr[i].name,
					   dcap_hex(q->header + hdr[i].off, hdr[i].len, 0));
	for (size_t i = 0; !bad && i < sizeof(body) / sizeof(body[0]); i++)
		bad |= json_object_set_new(jb, body[i].name,
					   dcap_hex(q->body + body[i].off, body[i].len, 0));
	if (!bad) {
		bad |= json_object_set(c, "header", jh) | json_object_set(c, "body", jb) |
		       json_object_set_new(c, "report_data",
					   dcap_hex(q->body + SGX_BODY_REPORTDATA, 64, 0)) |
		       json_object_set_new(c, "init_data",
					   dcap_hex(q->body + SGX_BODY_CONFIGID, 64, 0));
	}
	json_decref(jh);
	json_decref(jb);
	if (bad) {
		json_decref(c);
		return NULL;
	}
	return c;
}
