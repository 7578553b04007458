// SPDX-License-Identifier: Apache-2.0
/*
 * `swid` extractor: a TCG RIM in SWID XML (e.g. NVIDIA's GPU RIMs). One reference value per
 * Payload/Resource of type "Measurement": name "<PlatformManufacturerStr, spaces -> _>.
 * <edition>.measurement_<index>" with '-' -> '_', value = the non-zero Hash<N> attributes
 * (SHA-384 namespace) as hex strings. Resources without a non-zero hash are skipped. The RIM
 * signature is not checked (Trustee does not either).
 *
 * libxml2 (and the ICU libraries it pulls in, ~1 MB resident) is loaded with dlopen() when a
 * SWID manifest is extracted, not linked into every kbs (common/dynlib.h).
 */
#include "rvps/rvps.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynlib.h"
#include "common/err.h"

#define SWID_NS "http://standards.iso.org/iso/19770/-2/2015/schema.xsd"
#define RIMIM_NS                                                                             \
	"https://trustedcomputinggroup.org/resource/"                                        \
	"tcg-reference-integrity-manifest-rim-information-model/"
#define HASH_NS "http://www.w3.org/2001/04/xmlenc#sha384"
#define SWID_MAX_HASHES 64

/* The libxml2 functions the extractor calls, each with the type of the real one. */
struct xml_api {
	void *lib[1];
	DYNLIB_FN(xmlReadMemory);
	DYNLIB_FN(xmlDocGetRootElement);
	DYNLIB_FN(xmlGetNoNsProp);
	DYNLIB_FN(xmlGetNsProp);
	DYNLIB_FN(xmlFreeDoc);
	xmlFreeFunc *free_fn; /* xmlFree is a variable holding libxml2's deallocator */
};

static const char *const xml_libs[1] = {KBS_XML2_SONAME};

#define SYM(n) DYNLIB_SYM(struct xml_api, 0, n)
static const struct dynlib_sym xml_syms[] = {
	SYM(xmlReadMemory),
	SYM(xmlDocGetRootElement),
	SYM(xmlGetNoNsProp),
	SYM(xmlGetNsProp),
	SYM(xmlFreeDoc),
	{0, "xmlFree", offsetof(struct xml_api, free_fn)},
};
#undef SYM

static void xml_free(const struct xml_api *x, xmlChar *p)
{
	if (p)
		(*x->free_fn)(p);
}

static bool is_elem(const xmlNode *n, const char *local)
{
	return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
	       !strcmp((const char *)n->ns->href, SWID_NS) && !strcmp((const char *)n->name, local);
}

/* First element named local (SWID namespace) at or below n, in document order. */
static xmlNode *find_elem(xmlNode *n, const char *local)
{
	for (; n; n = n->next) {
		xmlNode *f;
		if (is_elem(n, local))
			return n;
		if (n->type == XML_ELEMENT_NODE && (f = find_elem(n->children, local)))
			return f;
	}
	return NULL;
}

static void replace_ch(char *s, char from, char to)
{
	for (; *s; s++)
		if (*s == from)
			*s = to;
}

static bool all_zero(const char *s)
{
	for (; *s; s++)
		if (*s != '0')
			return false;
	return true;
}

struct swid_walk {
	const struct xml_api *x;
	const char *prefix;
	int64_t exp;
	struct rvps_rv_list *out;
	char *why;
	size_t whylen;
};

static int one_resource(struct swid_walk *w, xmlNode *res)
{
	const struct xml_api *x = w->x;
	xmlChar *type = x->xmlGetNoNsProp(res, (const xmlChar *)"type");
	xmlChar *index = NULL;
	json_t *hashes = NULL;
	char name[RVPS_MAX_NAME + 1];
	int rc = KBS_OK;

	if (!type || strcmp((const char *)type, "Measurement") != 0)
		goto out;
	if (!(index = x->xmlGetNoNsProp(res, (const xmlChar *)"index"))) {
		snprintf(w->why, w->whylen, "swid: Could not find measurement name");
		rc = KBS_ERR_PARSE;
		goto out;
	}
	if ((size_t)snprintf(name, sizeof(name), "%s.measurement_%s", w->prefix,
			     (const char *)index) >= sizeof(name)) {
		snprintf(w->why, w->whylen, "swid: reference value name too long");
		rc = KBS_ERR_RANGE;
		goto out;
	}
	replace_ch(name, '-', '_'); /* Rego does not like dashes */
	if (!(hashes = json_array())) {
		rc = KBS_ERR_NOMEM;
		goto out;
	}
	for (int i = 0; i < SWID_MAX_HASHES; i++) {
		char an[16];
		xmlChar *h;
		snprintf(an, sizeof(an), "Hash%d", i);
		if (!(h = x->xmlGetNsProp(res, (const xmlChar *)an, (const xmlChar *)HASH_NS)))
			break;
		if (!all_zero((const char *)h) &&
		    json_array_append_new(hashes, json_string((const char *)h)) != 0)
			rc = KBS_ERR_NOMEM;
		xml_free(x, h);
		if (rc != KBS_OK)
			goto out;
	}
	if (json_array_size(hashes) == 0)
		goto out;
	if (!rvps_name_valid(name)) {
		snprintf(w->why, w->whylen, "swid: reference value name '%.80s' is not valid", name);
		rc = KBS_ERR_INVAL;
		goto out;
	}
	rc = rvps_rv_list_add(w->out, name, hashes, w->exp);
	hashes = NULL;
out:
	json_decref(hashes);
	xml_free(x, type);
	xml_free(x, index);
	return rc;
}

static int walk_resources(struct swid_walk *w, xmlNode *n)
{
	int rc;
	for (; n; n = n->next) {
		if (is_elem(n, "Resource") && (rc = one_resource(w, n)) != KBS_OK)
			return rc;
		if (n->type == XML_ELEMENT_NODE && (rc = walk_resources(w, n->children)) != KBS_OK)
			return rc;
	}
	return KBS_OK;
}

int rvps_extract_swid(const uint8_t *p, size_t n, int64_t exp, struct rvps_rv_list *out,
		      char *why, size_t whylen)
{
	xmlDoc *doc = NULL;
	xmlNode *root, *meta, *payload;
	xmlChar *manuf = NULL, *edition = NULL;
	char prefix[RVPS_MAX_NAME];
	struct xml_api x;
	int rc = KBS_ERR_PARSE;

	if (n > RVPS_MAX_MESSAGE || n > INT32_MAX) {
		snprintf(why, whylen, "swid: manifest too large");
		return KBS_ERR_RANGE;
	}
	if ((rc = dynlib_load("swid extractor", "Debian: libxml2", xml_libs, 1, xml_syms,
			      sizeof(xml_syms) / sizeof(xml_syms[0]), x.lib, &x, why, whylen)))
		return rc;
	rc = KBS_ERR_PARSE;
	/* no network, no external entities, no entity substitution; errors not printed */
	doc = x.xmlReadMemory((const char *)p, (int)n, NULL, NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc || !(root = x.xmlDocGetRootElement(doc))) {
		snprintf(why, whylen, "swid: manifest is not well-formed XML");
		goto out;
	}
	if (doc->intSubset || doc->extSubset) {
		snprintf(why, whylen, "swid: document type declarations are refused");
		goto out;
	}
	if (!(meta = find_elem(root, "Meta"))) {
		snprintf(why, whylen, "swid: Could not find meta information.");
		goto out;
	}
	manuf = x.xmlGetNsProp(meta, (const xmlChar *)"PlatformManufacturerStr",
			     (const xmlChar *)RIMIM_NS);
	if (!manuf) {
		snprintf(why, whylen, "swid: Could not find manufacturer information.");
		goto out;
	}
	if (!(edition = x.xmlGetNoNsProp(meta, (const xmlChar *)"edition"))) {
		snprintf(why, whylen, "swid: Could not find edition information.");
		goto out;
	}
	if ((size_t)snprintf(prefix, sizeof(prefix), "%s.%s", (const char *)manuf,
			     (const char *)edition) >= sizeof(prefix) - 40) {
		snprintf(why, whylen, "swid: manufacturer/edition too long");
		rc = KBS_ERR_RANGE;
		goto out;
	}
	/* only the manufacturer's spaces become '_' (Trustee), dashes anywhere later */
	for (char *c = prefix; *c && c < prefix + strlen((const char *)manuf); c++)
		if (*c == ' ')
			*c = '_';
	if (!(payload = find_elem(root, "Payload"))) {
		snprintf(why, whylen, "swid: Could not find SWID payload.");
		goto out;
	}
	struct swid_walk w = {&x, prefix, exp, out, why, whylen};
	rc = walk_resources(&w, payload->children);
out:
	xml_free(&x, manuf);
	xml_free(&x, edition);
	if (doc)
		x.xmlFreeDoc(doc);
	dynlib_unload(x.lib, 1);
	return rc;
}
