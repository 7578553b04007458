// SPDX-License-Identifier: Apache-2.0
#include "server/as/tdx_collateral.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/civil.h"
#include "common/err.h"
#include "server/as/verifier_tdx.h"
#include "server/as/x509util.h"

#define MAX_COLLATERAL (1024 * 1024)

static const char *str(const json_t *v)
{
	const char *s = json_string_value(v);

	return s ? s : "";
}

#define FAIL(code, ...)                                                                            \
	do {                                                                                       \
		snprintf(why, whylen, __VA_ARGS__);                                                \
		rc = code;                                                                         \
		goto out;                                                                          \
	} while (0)

long long tdx_parse_time(const char *s)
{
	int y, mo, d, h, mi, se;
	char z;
	long long days;

	if (!s || strlen(s) != 20 ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &se, &z) != 7 ||
	    z != 'Z' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	days = civil_days_from_date(y, mo, d);
	return days * 86400 + h * 3600 + mi * 60 + se;
}

int tdx_json_raw_member(const char *t, size_t len, const char *key, const char **val, size_t *vlen)
{
	size_t i = 0, kl = strlen(key);
	int depth = 0;

	while (i < len) {
		char ch = t[i];

		if (ch == '"') {
			size_t s = ++i;

			while (i < len && t[i] != '"')
				i += t[i] == '\\' ? 2 : 1;
			if (i >= len)
				return KBS_ERR_PARSE;
			i++;
			if (depth == 1 && i - 1 - s == kl && memcmp(t + s, key, kl) == 0) {
				size_t v, e;
				int d = 0;

				while (i < len && isspace((unsigned char)t[i]))
					i++;
				if (i >= len || t[i] != ':')
					continue;
				i++;
				while (i < len && isspace((unsigned char)t[i]))
					i++;
				if (i >= len || t[i] != '{')
					return KBS_ERR_PARSE;
				v = e = i;
				while (e < len) {
					if (t[e] == '"') {
						e++;
						while (e < len && t[e] != '"')
							e += t[e] == '\\' ? 2 : 1;
					} else if (t[e] == '{' || t[e] == '[') {
						d++;
					} else if (t[e] == '}' || t[e] == ']') {
						if (--d == 0)
							break;
					}
					e++;
				}
				if (e >= len)
					return KBS_ERR_PARSE;
				*val = t + v;
				*vlen = e + 1 - v;
				return KBS_OK;
			}
			continue;
		}
		if (ch == '{' || ch == '[')
			depth++;
		else if (ch == '}' || ch == ']')
			depth--;
		i++;
	}
	return KBS_ERR_NOTFOUND;
}

static char *read_file(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	FILE *f;
	char *buf;
	size_t n;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return NULL;
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	buf = malloc(MAX_COLLATERAL + 1);
	if (!buf) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, MAX_COLLATERAL + 1, f);
	fclose(f);
	if (n > MAX_COLLATERAL) {
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

static int unhex_n(const char *h, uint8_t *out, size_t n)
{
	if (!h || strlen(h) != 2 * n)
		return KBS_ERR_PARSE;
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (!isxdigit((unsigned char)h[2 * i]) || !isxdigit((unsigned char)h[2 * i + 1]) ||
		    sscanf(h + 2 * i, "%2x", &v) != 1)
			return KBS_ERR_PARSE;
		out[i] = (uint8_t)v;
	}
	return KBS_OK;
}

/* Verifies {"<key>": {...}, "signature": "<128 hex>"} and returns the parsed object. */
static int signed_json(const char *text, size_t len, const char *key, EVP_PKEY *signer,
		       json_t **body, long long *next_update, char *why, size_t whylen)
{
	const char *raw;
	size_t rawlen, derlen;
	uint8_t sig[64], *der = NULL;
	json_t *doc = json_loadb(text, len, 0, NULL);
	int rc;

	*body = NULL;
	if (!doc || tdx_json_raw_member(text, len, key, &raw, &rawlen) != KBS_OK ||
	    unhex_n(json_string_value(json_object_get(doc, "signature")), sig, 64) != KBS_OK)
		FAIL(KBS_ERR_PARSE, "tdx collateral: %s document does not parse", key);
	if (x509u_ecdsa_raw_to_der(sig, sig + 32, 32, 0, &der, &derlen) != KBS_OK ||
	    x509u_verify_ecdsa(signer, "SHA256", (const uint8_t *)raw, rawlen, der, derlen) !=
		KBS_OK)
		FAIL(KBS_ERR_VERIFY, "tdx collateral: %s signature does not verify", key);
	*body = json_incref(json_object_get(doc, key));
	*next_update = tdx_parse_time(json_string_value(json_object_get(*body, "nextUpdate")));
	rc = KBS_OK;
out:
	OPENSSL_free(der);
	json_decref(doc);
	return rc;
}

struct pck_tcb {
	uint32_t comp[16];
	uint32_t pcesvn;
	uint8_t fmspc[6], pceid[2];
	uint32_t sgx_type;
};

static int pck_tcb_read(X509 *leaf, struct pck_tcb *t)
{
	const uint8_t *val, *p, *end, *item, *oid, *v;
	size_t len, il, ol, vl;
	uint8_t tag;
	char got[64];
	unsigned found = 0;

	memset(t, 0, sizeof(*t));
	if (tdx_pck_ext(leaf, 4, &tag, &val, &len) != KBS_OK || tag != 0x04 || len != 6)
		return KBS_ERR_PARSE;
	memcpy(t->fmspc, val, 6);
	if (tdx_pck_ext(leaf, 3, &tag, &val, &len) != KBS_OK || tag != 0x04 || len != 2)
		return KBS_ERR_PARSE;
	memcpy(t->pceid, val, 2);
	if (tdx_pck_ext(leaf, 5, &tag, &val, &len) == KBS_OK && tag == 0x0a)
		x509u_int_content(val, len, &t->sgx_type);
	if (tdx_pck_ext(leaf, 2, &tag, &val, &len) != KBS_OK || tag != 0x30)
		return KBS_ERR_PARSE;
	p = val;
	end = val + len;
	while (p < end) {
		const uint8_t *q;
		unsigned k;

		if (x509u_der_next(&p, end, &tag, &item, &il) != KBS_OK || tag != 0x30)
			return KBS_ERR_PARSE;
		q = item;
		if (x509u_der_next(&q, item + il, &tag, &oid, &ol) != KBS_OK || tag != 0x06 ||
		    x509u_oid_text(oid, ol, got, sizeof(got)) != KBS_OK ||
		    x509u_der_next(&q, item + il, &tag, &v, &vl) != KBS_OK)
			return KBS_ERR_PARSE;
		if (sscanf(got, "1.2.840.113741.1.13.1.2.%u", &k) != 1 || k < 1 || k > 18)
			continue;
		if (k <= 16 && (tag != 0x02 || x509u_int_content(v, vl, &t->comp[k - 1]) != KBS_OK))
			return KBS_ERR_PARSE;
		if (k == 17 && (tag != 0x02 || x509u_int_content(v, vl, &t->pcesvn) != KBS_OK))
			return KBS_ERR_PARSE;
		if (k <= 17)
			found |= 1u << (k - 1);
	}
	return found == 0x1FFFF ? KBS_OK : KBS_ERR_PARSE;
}

static int svn_of(const json_t *arr, size_t i, uint32_t *out)
{
	json_t *s = json_object_get(json_array_get(arr, i), "svn");

	if (!json_is_integer(s) || json_integer_value(s) < 0 || json_integer_value(s) > 255)
		return KBS_ERR_PARSE;
	*out = (uint32_t)json_integer_value(s);
	return KBS_OK;
}

static const char *const good_status[] = {
    "UpToDate",
    "SWHardeningNeeded",
    "ConfigurationNeeded",
    "ConfigurationAndSWHardeningNeeded",
    "OutOfDate",
    "OutOfDateConfigurationNeeded",
    "TDRelaunchAdvised",
    "TDRelaunchAdvisedConfigurationNeeded",
};

/* QVL's merge of a TDX-module or QE "OutOfDate"/"Revoked" into the platform status. */
static void merge_status(char *st, size_t stlen, const char *other)
{
	if (strcmp(other, "Revoked") == 0) {
		snprintf(st, stlen, "Revoked");
	} else if (strcmp(other, "OutOfDate") == 0) {
		if (strcmp(st, "UpToDate") == 0 || strcmp(st, "SWHardeningNeeded") == 0)
			snprintf(st, stlen, "OutOfDate");
		else if (strcmp(st, "ConfigurationNeeded") == 0 ||
			 strcmp(st, "ConfigurationAndSWHardeningNeeded") == 0)
			snprintf(st, stlen, "OutOfDateConfigurationNeeded");
	}
}

static int crl_check(const char *dir, const char *name, X509 *issuer, X509 *subject, time_t now,
		     int *expired, char *why, size_t whylen)
{
	size_t len;
	char *d = read_file(dir, name, &len);
	const unsigned char *p = (const unsigned char *)d;
	X509_CRL *crl = NULL;
	X509_REVOKED *rev = NULL;
	int rc = KBS_OK;

	if (!d)
		return KBS_OK; /* optional */
	crl = d2i_X509_CRL(NULL, &p, (long)len);
	if (!crl)
		FAIL(KBS_ERR_PARSE, "tdx collateral: %s is not a DER CRL", name);
	if (X509_CRL_verify(crl, X509_get0_pubkey(issuer)) != 1)
		FAIL(KBS_ERR_VERIFY, "tdx collateral: %s signature does not verify", name);
	if (X509_CRL_get0_nextUpdate(crl) && X509_cmp_time(X509_CRL_get0_nextUpdate(crl), &now) < 0)
		*expired = 1;
	if (X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(subject)) == 1)
		FAIL(KBS_ERR_VERIFY, "tdx collateral: certificate revoked (%s)", name);
out:
	X509_CRL_free(crl);
	free(d);
	return rc;
}

int tdx_collateral_evaluate(const char *dir, X509 *root, const struct dcap_quote *q, X509 *leaf,
			    X509 *inter, time_t now, json_t *claims, char *why, size_t whylen)
{
	X509 *chain[4] = {NULL}, *signer = NULL;
	size_t n = 0, len;
	char *text = NULL, name[64], cn[64], st[64] = "", hexf[13];
	json_t *tcb = NULL, *qe = NULL, *levels, *lvl = NULL, *adv;
	long long nu_tcb, nu_qe;
	struct pck_tcb pt;
	const uint8_t *svn = q->body + TDX_BODY_TCB_SVN, *qer = q->qe_report;
	uint8_t b[48];
	int expired = 0, rc, plat;
	size_t i;

	/* TCB signing certificate, chained to the pinned root */
	if (!(text = read_file(dir, "tcb-signing-chain.pem", &len)) ||
	    x509u_pem_chain(text, len, chain, 4, &n) != KBS_OK)
		FAIL(KBS_ERR_NOTFOUND, "tdx collateral: no tcb-signing-chain.pem in %s", dir);
	for (i = 0; i < n; i++)
		if (x509u_subject_cn(chain[i], cn, sizeof(cn)) == KBS_OK &&
		    strcmp(cn, "Intel SGX TCB Signing") == 0)
			signer = chain[i];
	if (!signer || x509u_signed_by(signer, root) != KBS_OK)
		FAIL(KBS_ERR_VERIFY, "tdx collateral: TCB signing certificate missing or not "
				     "signed by the Intel root");
	if (x509u_check_time(signer, now) != KBS_OK)
		expired = 1;
	free(text);
	text = NULL;

	if (pck_tcb_read(leaf, &pt) != KBS_OK)
		FAIL(KBS_ERR_PARSE, "tdx collateral: PCK certificate SGX extension unreadable");
	for (i = 0; i < 6; i++)
		snprintf(hexf + 2 * i, 3, "%02x", pt.fmspc[i]);
	snprintf(name, sizeof(name), "tcbinfo-%s.json", hexf);
	if (!(text = read_file(dir, name, &len)))
		FAIL(KBS_ERR_NOTFOUND, "tdx collateral: no TCB info for FMSPC %s (%s)", hexf, name);
	if ((rc = signed_json(text, len, "tcbInfo", X509_get0_pubkey(signer), &tcb, &nu_tcb, why,
			      whylen)) != KBS_OK)
		goto out;
	free(text);
	text = NULL;
	if (strcmp(str(json_object_get(tcb, "id")), "TDX") != 0 ||
	    json_integer_value(json_object_get(tcb, "version")) != 3)
		FAIL(KBS_ERR_UNSUPPORTED, "tdx collateral: TCB info is not TDX version 3");
	if (unhex_n(json_string_value(json_object_get(tcb, "fmspc")), b, 6) != KBS_OK ||
	    memcmp(b, pt.fmspc, 6) != 0 ||
	    unhex_n(json_string_value(json_object_get(tcb, "pceId")), b, 2) != KBS_OK ||
	    memcmp(b, pt.pceid, 2) != 0)
		FAIL(KBS_ERR_VERIFY, "tdx collateral: TCB info FMSPC/PCE-ID do not match the PCK");

	/* TDX module identity */
	{
		json_t *mod = json_object_get(tcb, "tdxModule");
		uint8_t ms[48], at[8], am[8];

		if (svn[1] > 0) {
			char id[16];
			json_t *m;

			snprintf(id, sizeof(id), "TDX_%02X", svn[1]);
			mod = NULL;
			json_array_foreach(json_object_get(tcb, "tdxModuleIdentities"), i,
					   m) if (strcmp(str(json_object_get(m, "id")), id) == 0)
			    mod = m;
			if (!mod)
				FAIL(KBS_ERR_VERIFY, "tdx collateral: no TDX module identity %s",
				     id);
		}
		if (!mod || unhex_n(json_string_value(json_object_get(mod, "mrsigner")), ms, 48) ||
		    unhex_n(json_string_value(json_object_get(mod, "attributes")), at, 8) ||
		    unhex_n(json_string_value(json_object_get(mod, "attributesMask")), am, 8))
			FAIL(KBS_ERR_PARSE, "tdx collateral: TDX module identity unreadable");
		if (memcmp(ms, q->body + TDX_BODY_MRSIGNERSEAM, 48) != 0)
			FAIL(KBS_ERR_VERIFY,
			     "tdx collateral: MRSIGNERSEAM is not the TDX module signer");
		for (int k = 0; k < 8; k++)
			if ((q->body[TDX_BODY_SEAMATTRIBUTES + k] & am[k]) != at[k])
				FAIL(KBS_ERR_VERIFY,
				     "tdx collateral: SEAMATTRIBUTES do not match the TDX module");

		/* platform TCB level */
		levels = json_object_get(tcb, "tcbLevels");
		json_array_foreach(levels, i, lvl)
		{
			json_t *t = json_object_get(lvl, "tcb");
			json_t *sgx = json_object_get(t, "sgxtcbcomponents");
			json_t *tdx = json_object_get(t, "tdxtcbcomponents");
			json_t *pce = json_object_get(t, "pcesvn");
			int ok = json_array_size(sgx) == 16 && json_array_size(tdx) == 16 &&
				 json_is_integer(pce);
			uint32_t v;

			for (int k = 0; ok && k < 16; k++)
				ok = svn_of(sgx, (size_t)k, &v) == KBS_OK && v <= pt.comp[k];
			ok = ok && (uint64_t)json_integer_value(pce) <= pt.pcesvn;
			for (int k = svn[1] > 0 ? 2 : 0; ok && k < 16; k++)
				ok = svn_of(tdx, (size_t)k, &v) == KBS_OK && v <= svn[k];
			if (ok)
				break;
		}
		if (i >= json_array_size(levels))
			FAIL(KBS_ERR_VERIFY,
			     "tdx collateral: TCB not supported (no matching level)");
		snprintf(st, sizeof(st), "%s", str(json_object_get(lvl, "tcbStatus")));
		if (svn[1] > 0) {
			json_t *ml = NULL;

			json_array_foreach(
			    json_object_get(mod, "tcbLevels"), i,
			    ml) if (json_integer_value(json_object_get(json_object_get(ml, "tcb"),
								       "isvsvn")) <= svn[0]) break;
			if (i >= json_array_size(json_object_get(mod, "tcbLevels")))
				FAIL(KBS_ERR_VERIFY,
				     "tdx collateral: TDX module TCB not supported");
			merge_status(st, sizeof(st), str(json_object_get(ml, "tcbStatus")));
		}
	}

	/* QE identity */
	if (!(text = read_file(dir, "qe-identity.json", &len)))
		FAIL(KBS_ERR_NOTFOUND, "tdx collateral: no qe-identity.json in %s", dir);
	if ((rc = signed_json(text, len, "enclaveIdentity", X509_get0_pubkey(signer), &qe, &nu_qe,
			      why, whylen)) != KBS_OK)
		goto out;
	{
		uint8_t ms[32], at[16], am[16], mi[4], mm[4];
		unsigned isvsvn = qer[DCAP_QE_ISVSVN] | qer[DCAP_QE_ISVSVN + 1] << 8;
		unsigned prod = qer[DCAP_QE_ISVPRODID] | qer[DCAP_QE_ISVPRODID + 1] << 8;
		json_t *ql = NULL;

		if (strcmp(str(json_object_get(qe, "id")), "TD_QE") != 0 ||
		    unhex_n(json_string_value(json_object_get(qe, "mrsigner")), ms, 32) ||
		    unhex_n(json_string_value(json_object_get(qe, "attributes")), at, 16) ||
		    unhex_n(json_string_value(json_object_get(qe, "attributesMask")), am, 16) ||
		    unhex_n(json_string_value(json_object_get(qe, "miscselect")), mi, 4) ||
		    unhex_n(json_string_value(json_object_get(qe, "miscselectMask")), mm, 4))
			FAIL(KBS_ERR_PARSE, "tdx collateral: QE identity is not a TD_QE identity");
		if (memcmp(ms, qer + DCAP_QE_MRSIGNER, 32) != 0 ||
		    (json_int_t)prod != json_integer_value(json_object_get(qe, "isvprodid")))
			FAIL(KBS_ERR_VERIFY, "tdx collateral: QE MRSIGNER/ISVPRODID do not match");
		/* miscselect is a little-endian u32 in the report, big-endian hex in the JSON */
		for (int k = 0; k < 4; k++)
			if ((qer[DCAP_QE_MISCSELECT + k] & mm[3 - k]) != mi[3 - k])
				FAIL(KBS_ERR_VERIFY,
				     "tdx collateral: QE MISCSELECT does not match");
		for (int k = 0; k < 16; k++)
			if ((qer[DCAP_QE_ATTRIBUTES + k] & am[k]) != at[k])
				FAIL(KBS_ERR_VERIFY, "tdx collateral: QE ATTRIBUTES do not match");
		json_array_foreach(
		    json_object_get(qe, "tcbLevels"), i,
		    ql) if (json_integer_value(json_object_get(json_object_get(ql, "tcb"),
							       "isvsvn")) <= isvsvn) break;
		if (i >= json_array_size(json_object_get(qe, "tcbLevels")))
			FAIL(KBS_ERR_VERIFY, "tdx collateral: QE TCB not supported");
		merge_status(st, sizeof(st), str(json_object_get(ql, "tcbStatus")));
	}

	/* revocation (CRLs optional) */
	if (x509u_subject_cn(inter, cn, sizeof(cn)) != KBS_OK)
		FAIL(KBS_ERR_PARSE, "tdx collateral: PCK intermediate has no CN");
	plat = strcmp(cn, "Intel SGX PCK Platform CA") == 0;
	if ((rc = crl_check(dir, plat ? "pck-crl-platform.der" : "pck-crl-processor.der", inter,
			    leaf, now, &expired, why, whylen)) != KBS_OK ||
	    (rc = crl_check(dir, "root-ca-crl.der", root, inter, now, &expired, why, whylen)) !=
		KBS_OK)
		goto out;

	for (i = 0; i < sizeof(good_status) / sizeof(good_status[0]); i++)
		if (strcmp(st, good_status[i]) == 0)
			break;
	if (i == sizeof(good_status) / sizeof(good_status[0]))
		FAIL(KBS_ERR_VERIFY, "tdx collateral: TCB status '%s' is not acceptable", st);
	if (nu_tcb < 0 || nu_qe < 0 || (long long)now > nu_tcb || (long long)now > nu_qe)
		expired = 1;
	adv = json_object_get(lvl, "advisoryIDs");
	rc = KBS_ERR_NOMEM;
	{
		static const char *const types[] = {"Standard", "Scalable",
						    "Scalable with Integrity"};
		char fm[13];

		for (int k = 0; k < 6; k++)
			snprintf(fm + 2 * k, 3, "%02X", pt.fmspc[k]);
		if (json_object_set_new(claims, "tcb_status", json_string(st)) ||
		    json_object_set(claims, "tcb_date", json_object_get(lvl, "tcbDate")) ||
		    json_object_set_new(claims, "advisory_ids",
					json_is_array(adv) ? json_deep_copy(adv) : json_array()) ||
		    json_object_set_new(claims, "collateral_expiration_status",
					json_string(expired ? "1" : "0")) ||
		    json_object_set(claims, "tcb_eval_num",
				    json_object_get(tcb, "tcbEvaluationDataNumber")) ||
		    json_object_set_new(claims, "fmspc", json_string(fm)) ||
		    json_object_set_new(
			claims, "sgx_type",
			json_string(pt.sgx_type < 3 ? types[pt.sgx_type] : "unknown")))
			goto out;
	}
	rc = KBS_OK;
out:
	if (rc == KBS_ERR_NOMEM && !why[0])
		snprintf(why, whylen, "out of memory");
	for (i = 0; i < n; i++)
		X509_free(chain[i]);
	json_decref(tcb);
	json_decref(qe);
	free(text);
	return rc;
}
