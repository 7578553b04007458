// SPDX-License-Identifier: Apache-2.0
/*
 * TOML 1.0 parser: the toml-test suite (TOML 1.0.0 selection, see tests/data/toml-test/
 * README.md), real Trustee / guest-components configs, and targeted cases for positions,
 * redefinition rules, numbers, strings and limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/civil.h"
#include "common/err.h"
#include "common/toml.h"

/* ------------------------------------------------------------------ helpers */

/* snprintf that fails the test instead of truncating silently */
static void __attribute__((format(printf, 3, 4))) fmt(char *out, size_t n, const char *f, ...)
{
	va_list ap;
	int r;

	va_start(ap, f);
	r = vsnprintf(out, n, f, ap);
	va_end(ap);
	assert_true(r >= 0 && (size_t)r < n);
}

/* for messages: truncation is harmless */
static void __attribute__((format(printf, 3, 4))) msg(char *out, size_t n, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(out, n, f, ap);
	va_end(ap);
}

static const char *data_dir(void)
{
	const char *d = getenv("KBS_TEST_DATA");

	return d ? d : "tests/data";
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		p = malloc((size_t)n + 1);
		if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
			free(p);
			p = NULL;
		}
		if (p) {
			p[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return p;
}

static int parse_str(const char *s, struct toml_doc **doc, struct toml_err *err)
{
	return toml_parse(s, strlen(s), doc, err);
}

/* Parses s, which must succeed; returns the document. */
static struct toml_doc *must_parse(const char *s)
{
	struct toml_doc *doc = NULL;
	struct toml_err err;
	int rc = parse_str(s, &doc, &err);

	if (rc != KBS_OK)
		fail_msg("parse failed at %d:%d: %s\n--- input:\n%s", err.line, err.column, err.msg,
			 s);
	return doc;
}

static json_t *get(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (!v)
		fail_msg("missing member '%s'", k);
	return v;
}

/* ------------------------------------------------------------------ toml-test converter */

/*
 * jansson can build objects with NUL in keys but its decoder refuses them
 * (valid/key/quoted-unicode has "\u0000" as a key). Both sides of the comparison therefore
 * spell U+0000 as U+2400 SYMBOL FOR NULL: the expected JSON text before decoding, our
 * strings and keys when tagging.
 */
#define NUL_SYMBOL "\xe2\x90\x80"

static char *nul_to_symbol(const char *s, size_t len, size_t *outlen)
{
	char *out = malloc(len * 3 + 1), *o = out;

	assert_non_null(out);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\0') {
			memcpy(o, NUL_SYMBOL, 3);
			o += 3;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	*outlen = (size_t)(o - out);
	return out;
}

/* Rewrites the JSON escape \u0000 as U+2400 (other escapes are copied as they are). */
static char *json_text_nul_to_symbol(const char *s)
{
	char *out = malloc(strlen(s) * 2 + 1), *o = out;

	assert_non_null(out);
	while (*s) {
		if (s[0] == '\\' && strncmp(s + 1, "u0000", 5) == 0) {
			memcpy(o, NUL_SYMBOL, 3);
			o += 3;
			s += 6;
		} else if (s[0] == '\\' && s[1]) {
			*o++ = *s++;
			*o++ = *s++;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

/* Our jansson mapping -> toml-test tagged JSON ({"type": ..., "value": "..."}). */
static json_t *tag(const char *type, const char *value, size_t len)
{
	size_t n;
	char *v = nul_to_symbol(value, len, &n);
	json_t *t = json_pack("{s:s, s:s%}", "type", type, "value", v, n);

	free(v);
	return t;
}

static json_t *to_tagged(json_t *v)
{
	char num[64];

	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		json_t *dt = json_object_get(v, "$datetime");
		json_t *fl = json_object_get(v, "$float");
		json_t *out;

		if (dt && json_object_size(v) == 2) {
			const char *t = json_string_value(json_object_get(v, "$type"));
			const char *tt = !t				     ? "?"
					 : strcmp(t, "offset-datetime") == 0 ? "datetime"
					 : strcmp(t, "local-datetime") == 0  ? "datetime-local"
					 : strcmp(t, "local-date") == 0	     ? "date-local"
					 : strcmp(t, "local-time") == 0	     ? "time-local"
									     : "?";

			return tag(tt, json_string_value(dt), json_string_length(dt));
		}
		if (fl && json_object_size(v) == 1)
			return tag("float", json_string_value(fl), json_string_length(fl));
		out = json_object();
		for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
			size_t kn;
			char *k = nul_to_symbol(json_object_iter_key(it),
						json_object_iter_key_len(it), &kn);

			json_object_setn_new(out, k, kn, to_tagged(json_object_iter_value(it)));
			free(k);
		}
		return out;
	}
	case JSON_ARRAY: {
		json_t *out = json_array();
		size_t i;
		json_t *e;

		json_array_foreach(v, i, e) json_array_append_new(out, to_tagged(e));
		return out;
	}
	case JSON_STRING:
		return tag("string", json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return tag("integer", num, strlen(num));
	case JSON_REAL:
		snprintf(num, sizeof(num), "%.17g", json_real_value(v));
		return tag("float", num, strlen(num));
	case JSON_TRUE:
		return tag("bool", "true", 4);
	case JSON_FALSE:
		return tag("bool", "false", 5);
	default:
		return tag("?", "", 0);
	}
}

static bool is_scalar(json_t *v)
{
	return json_is_object(v) && json_object_size(v) == 2 &&
	       json_is_string(json_object_get(v, "type")) &&
	       json_is_string(json_object_get(v, "value"));
}

struct dt {
	int y, mo, d, h, mi, s, ms, off; /* off in minutes; ms truncated */
};

/* Date/time text of the given tagged type, normalised ('t'/' ' -> 'T', 'z' -> 'Z'). */
static bool parse_dt(const char *in, const char *type, struct dt *o)
{
	char s[96];
	size_t i, n = strlen(in);
	const char *p;

	if (n >= sizeof(s))
		return false;
	for (i = 0; i <= n; i++)
		s[i] = (in[i] == ' ' || in[i] == 't') ? 'T' : in[i] == 'z' ? 'Z' : in[i];
	memset(o, 0, sizeof(*o));
	p = s;
	if (strcmp(type, "time-local") != 0) {
		if (sscanf(p, "%4d-%2d-%2d", &o->y, &o->mo, &o->d) != 3)
			return false;
		p += 10;
		if (strcmp(type, "date-local") == 0)
			return *p == '\0';
		if (*p++ != 'T')
			return false;
	}
	if (sscanf(p, "%2d:%2d:%2d", &o->h, &o->mi, &o->s) != 3)
		return false;
	p += 8;
	if (*p == '.') {
		int digits = 0;

		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 3)
				o->ms = o->ms * 10 + (*p - '0');
		for (; digits < 3; digits++)
			o->ms *= 10;
	}
	if (strcmp(type, "datetime") == 0) {
		int oh, om;

		if (*p == 'Z') {
			p++;
		} else if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &oh, &om) == 2) {
			o->off = (*p == '-' ? -1 : 1) * (oh * 60 + om);
			p += 6;
		} else {
			return false;
		}
	}
	return *p == '\0';
}

static bool same_dt(const char *a, const char *b, const char *type)
{
	struct dt x, y;

	if (!parse_dt(a, type, &x) || !parse_dt(b, type, &y))
		return false;
	if (strcmp(type, "datetime") == 0) {
		int64_t ix = civil_days_from_date(x.y, x.mo, x.d) * 86400 + x.h * 3600 + x.mi * 60 +
			     x.s - x.off * 60;
		int64_t iy = civil_days_from_date(y.y, y.mo, y.d) * 86400 + y.h * 3600 + y.mi * 60 +
			     y.s - y.off * 60;

		return ix == iy && x.ms == y.ms;
	}
	return x.y == y.y && x.mo == y.mo && x.d == y.d && x.h == y.h && x.mi == y.mi &&
	       x.s == y.s && x.ms == y.ms;
}

static bool same_float(const char *a, const char *b)
{
	const char *sa = (*a == '+' || *a == '-') ? a + 1 : a;
	const char *sb = (*b == '+' || *b == '-') ? b + 1 : b;
	char *ea, *eb;
	double x, y;

	if (strcmp(sa, "nan") == 0 || strcmp(sb, "nan") == 0)
		return strcmp(sa, sb) == 0;
	x = strtod(a, &ea);
	y = strtod(b, &eb);
	return *ea == '\0' && *eb == '\0' && x == y && signbit(x) == signbit(y);
}

/* Structural comparison with toml-test's rules; describes the first difference in why. */
static bool same_tagged(json_t *got, json_t *want, const char *path, char *why, size_t whylen)
{
	if (is_scalar(want)) {
		const char *wt = json_string_value(json_object_get(want, "type"));
		const char *wv = json_string_value(json_object_get(want, "value"));
		json_t *gvj = json_object_get(got, "value");
		const char *gt, *gv;
		bool ok;

		if (!is_scalar(got)) {
			msg(why, whylen, "%s: expected a %s, got a table/array", path, wt);
			return false;
		}
		gt = json_string_value(json_object_get(got, "type"));
		gv = json_string_value(gvj);
		if (strcmp(gt, wt) != 0) {
			msg(why, whylen, "%s: expected type %s, got %s", path, wt, gt);
			return false;
		}
		if (strcmp(wt, "float") == 0)
			ok = same_float(gv, wv);
		else if (strcmp(wt, "bool") == 0)
			ok = strcasecmp(gv, wv) == 0;
		else if (strcmp(wt, "string") == 0)
			ok = json_equal(gvj, json_object_get(want, "value"));
		else if (strcmp(wt, "integer") == 0)
			ok = strcmp(gv, wv) == 0;
		else
			ok = same_dt(gv, wv, wt);
		if (!ok)
			msg(why, whylen, "%s: expected %s '%s', got '%s'", path, wt, wv, gv);
		return ok;
	}
	if (json_is_array(want)) {
		size_t i;
		json_t *e;

		if (!json_is_array(got) || json_array_size(got) != json_array_size(want)) {
			msg(why, whylen, "%s: expected an array of %zu", path,
			    json_array_size(want));
			return false;
		}
		json_array_foreach(want, i, e)
		{
			char sub[512];

			msg(sub, sizeof(sub), "%s[%zu]", path, i);
			if (!same_tagged(json_array_get(got, i), e, sub, why, whylen))
				return false;
		}
		return true;
	}
	if (!json_is_object(got) || is_scalar(got) ||
	    json_object_size(got) != json_object_size(want)) {
		msg(why, whylen, "%s: expected a table of %zu keys", path, json_object_size(want));
		return false;
	}
	for (void *it = json_object_iter(want); it; it = json_object_iter_next(want, it)) {
		const char *k = json_object_iter_key(it);
		size_t kl = json_object_iter_key_len(it);
		json_t *g = json_object_getn(got, k, kl);
		char sub[512];

		msg(sub, sizeof(sub), "%s.%s", path, k);
		if (!g) {
			msg(why, whylen, "%s: missing", sub);
			return false;
		}
		if (!same_tagged(g, json_object_iter_value(it), sub, why, whylen))
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------ toml-test runner */

struct suite {
	char **listed; /* files-toml-1.0.0: the TOML 1.0 selection, paths relative to tests/ */
	size_t nlisted;
	bool *seen;
	size_t prefix; /* length of ".../toml-test/tests/" */
	size_t valid_pass, valid_fail, invalid_pass, invalid_fail, unlisted;
};

static struct suite *g_suite; /* nftw() has no user pointer */

static void suite_load_list(struct suite *s, const char *root)
{
	char path[1024];
	size_t len;
	char *text, *line, *save = NULL;

	fmt(path, sizeof(path), "%s/files-toml-1.0.0", root);
	text = read_all(path, &len);
	assert_non_null(text);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(line);

		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (n < 5 || strcmp(line + n - 5, ".toml") != 0)
			continue; /* the list also names the expected .json files */
		s->listed = realloc(s->listed, (s->nlisted + 1) * sizeof(*s->listed));
		assert_non_null(s->listed);
		s->listed[s->nlisted++] = strdup(line);
	}
	free(text);
	s->seen = calloc(s->nlisted ? s->nlisted : 1, sizeof(*s->seen));
	assert_non_null(s->seen);
}

static void run_valid(struct suite *s, const char *path, const char *name)
{
	char jpath[1024], why[768] = "";
	size_t len, jlen, plen = strlen(path);
	char *text = read_all(path, &len), *jtext;
	struct toml_doc *doc = NULL;
	struct toml_err err;
	json_t *want = NULL, *got = NULL;
	json_error_t jerr;
	int rc;

	fmt(jpath, sizeof(jpath), "%.*s.json", (int)(plen - 5), path);
	jtext = read_all(jpath, &jlen);
	if (jtext) {
		char *fixed = json_text_nul_to_symbol(jtext);

		want = json_loads(fixed, 0, &jerr);
		free(fixed);
	} else {
		msg(jerr.text, sizeof(jerr.text), "cannot read");
	}
	rc = text ? toml_parse(text, len, &doc, &err) : KBS_ERR_IO;
	if (rc != KBS_OK) {
		msg(why, sizeof(why), "rejected at %d:%d: %s", err.line, err.column, err.msg);
	} else if (!want) {
		msg(why, sizeof(why), "cannot load %s: %s", jpath, jerr.text);
	} else {
		got = to_tagged(toml_doc_root(doc));
		same_tagged(got, want, "$", why, sizeof(why));
	}
	if (why[0]) {
		print_message("toml-test FAIL valid/%s: %s\n", name, why);
		s->valid_fail++;
	} else {
		s->valid_pass++;
	}
	json_decref(got);
	json_decref(want);
	toml_doc_free(doc);
	free(text);
	free(jtext);
}

static void run_invalid(struct suite *s, const char *path, const char *name)
{
	size_t len;
	char *text = read_all(path, &len);
	struct toml_doc *doc = NULL;
	struct toml_err err;

	if (text && toml_parse(text, len, &doc, &err) == KBS_OK) {
		print_message("toml-test FAIL invalid/%s: accepted\n", name);
		s->invalid_fail++;
	} else if (!text) {
		print_message("toml-test FAIL invalid/%s: cannot read\n", name);
		s->invalid_fail++;
	} else {
		/* every rejection must say where */
		if (err.line < 1 || err.column < 1 || err.msg[0] == '\0') {
			print_message("toml-test FAIL invalid/%s: error without position\n", name);
			s->invalid_fail++;
		} else {
			s->invalid_pass++;
		}
	}
	toml_doc_free(doc);
	free(text);
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	size_t n = strlen(path);
	const char *rel = path + g_suite->prefix;
	size_t i;

	if (type != FTW_F || n < 5 || strcmp(path + n - 5, ".toml") != 0)
		return 0;
	for (i = 0; i < g_suite->nlisted; i++)
		if (strcmp(g_suite->listed[i], rel) == 0)
			break;
	if (i == g_suite->nlisted) {
		/* not part of the TOML 1.0 selection (e.g. a 1.1-only case): skipped */
		g_suite->unlisted++;
		return 0;
	}
	g_suite->seen[i] = true;
	if (strncmp(rel, "valid/", 6) == 0)
		run_valid(g_suite, path, rel + 6);
	else if (strncmp(rel, "invalid/", 8) == 0)
		run_invalid(g_suite, path, rel + 8);
	return 0;
}

static void toml_test_suite_1_0(void **state)
{
	struct suite s = {0};
	char root[1024], tests[1100];
	size_t missing = 0;

	fmt(root, sizeof(root), "%s/toml-test", data_dir());
	fmt(tests, sizeof(tests), "%s/tests", root);
	suite_load_list(&s, root);
	assert_true(s.nlisted > 0);
	s.prefix = strlen(tests) + 1;
	g_suite = &s;
	assert_int_equal(nftw(tests, visit, 16, FTW_PHYS), 0);
	g_suite = NULL;
	for (size_t i = 0; i < s.nlisted; i++) {
		if (!s.seen[i]) {
			print_message("toml-test FAIL %s: listed but missing\n", s.listed[i]);
			missing++;
		}
		free(s.listed[i]);
	}
	free(s.listed);
	free(s.seen);
	print_message("toml-test 1.0: valid %zu passed, %zu failed; invalid %zu rejected, "
		      "%zu accepted; %zu files outside the 1.0 list skipped\n",
		      s.valid_pass, s.valid_fail, s.invalid_pass, s.invalid_fail, s.unlisted);
	assert_true(s.valid_pass > 0 && s.invalid_pass > 0);
	assert_int_equal(missing, 0);
	assert_int_equal(s.valid_fail, 0);
	assert_int_equal(s.invalid_fail, 0);
}

/* ------------------------------------------------------------------ real configs */

static size_t configs_parsed;

static int visit_config(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	size_t n = strlen(path);
	struct toml_doc *doc = NULL;
	struct toml_err err;

	if (type != FTW_F || n < 5 || strcmp(path + n - 5, ".toml") != 0)
		return 0;
	if (toml_parse_file(path, &doc, &err) != KBS_OK)
		fail_msg("%s:%d:%d: %s", path, err.line, err.column, err.msg);
	assert_true(json_is_object(toml_doc_root(doc)));
	toml_doc_free(doc);
	configs_parsed++;
	return 0;
}

static void all_sample_configs_parse(void **state)
{
	char dir[1024];

	fmt(dir, sizeof(dir), "%s/configs", data_dir());
	configs_parsed = 0;
	assert_int_equal(nftw(dir, visit_config, 16, FTW_PHYS), 0);
	assert_true(configs_parsed >= 20);
}

static struct toml_doc *parse_config(const char *rel)
{
	char path[1024];
	struct toml_doc *doc = NULL;
	struct toml_err err;

	fmt(path, sizeof(path), "%s/configs/%s", data_dir(), rel);
	if (toml_parse_file(path, &doc, &err) != KBS_OK)
		fail_msg("%s:%d:%d: %s", path, err.line, err.column, err.msg);
	return doc;
}

static void trustee_kbs_config_values(void **state)
{
	struct toml_doc *doc = parse_config("trustee/parse-coco-as-grpc-1.toml");
	json_t *r = toml_doc_root(doc), *plugins, *certs;
	int line, col;

	assert_string_equal(json_string_value(get(get(r, "attestation_service"), "as_addr")),
			    "http://127.0.0.1:50001");
	assert_int_equal(json_integer_value(get(get(r, "attestation_service"), "timeout")), 600);
	assert_true(json_is_false(get(get(r, "http_server"), "insecure_http")));
	certs = get(get(r, "attestation_token"), "trusted_certs_paths");
	assert_int_equal(json_array_size(certs), 2);
	assert_string_equal(json_string_value(json_array_get(certs, 1)), "/etc/ca2");
	/* backends.local_json.file_dir_path is a dotted key inside [storage_backend] */
	assert_string_equal(
	    json_string_value(get(get(get(get(r, "storage_backend"), "backends"), "local_json"),
				  "file_dir_path")),
	    "/opt/confidential-containers/trustee");
	plugins = get(r, "plugins");
	assert_int_equal(json_array_size(plugins), 2);
	assert_string_equal(json_string_value(get(json_array_get(plugins, 1), "name")), "resource");
	assert_int_equal(toml_key_position(doc, "plugins[1].name", &line, &col), KBS_OK);
	assert_int_equal(line, 28);
	assert_int_equal(col, 1);
	assert_int_equal(toml_key_position(doc, "attestation_service.timeout", &line, &col),
			 KBS_OK);
	assert_int_equal(line, 8);
	toml_doc_free(doc);

	doc = parse_config("trustee/parse-coco-as-grpc-2.toml");
	r = toml_doc_root(doc);
	json_t *idp =
	    get(get(get(get(r, "admin"), "authentication"), "bearer_jwt"), "identity_providers");
	assert_int_equal(json_array_size(idp), 2);
	assert_string_equal(json_string_value(get(json_array_get(idp, 1), "issuer")),
			    "admin2-issuer");
	toml_doc_free(doc);
}

static void initdata_values(void **state)
{
	struct toml_doc *doc = parse_config("guest-components/initdata-sha384.toml");
	json_t *r = toml_doc_root(doc), *data;
	const char *aa;

	assert_string_equal(json_string_value(get(r, "algorithm")), "sha384");
	data = get(r, "data");
	aa = json_string_value(get(data, "aa.toml"));
	assert_non_null(aa);
	/* the literal multi-line string drops the newline after ''' and nothing else */
	assert_true(strncmp(aa, "[token_configs]\n", 16) == 0);
	/* ...and is itself TOML */
	struct toml_doc *inner = must_parse(aa);
	assert_int_equal(
	    json_integer_value(get(get(toml_doc_root(inner), "eventlog_config"), "init_pcr")), 17);
	toml_doc_free(inner);
	assert_non_null(get(data, "policy.rego"));
	toml_doc_free(doc);

	doc = parse_config("guest-components/aa-config5.toml"); /* empty file */
	assert_int_equal(json_object_size(toml_doc_root(doc)), 0);
	toml_doc_free(doc);
}

/* ------------------------------------------------------------------ errors and positions */

struct bad_case {
	const char *in;
	int line, col;
	const char *msg; /* substring of the message */
};

static void errors_report_line_and_column(void **state)
{
	static const struct bad_case cases[] = {
	    {"a = 1\nb = \n", 2, 5, "expected a value"},
	    {"a = 1\na = 2\n", 2, 1, "duplicate key"},
	    {"[t]\nx = 1\n[t]\n", 3, 2, "already defined"},
	    {"s = \"abc\\q\"\n", 1, 9, "escape"},
	    /* columns count characters, not bytes */
	    {"k = \"\xc3\xa9\\q\"\n", 1, 7, "escape"},
	    {"a = 1\nb = \"\xff\"\n", 2, 6, "UTF-8"},
	    {"a = \"\"\"\nline\n\"\"\" b\n", 3, 5, "end of line"},
	    {"x = 0x\n", 1, 5, "invalid number"},
	    {"n = 9223372036854775808\n", 1, 5, "64 bits"},
	    {"[a]\nb = 1\n[a.b]\n", 3, 4, "not a table"},
	    {"a = [1, 2\n", 2, 1, "unterminated array"},
	    {"t = {a = 1\n", 1, 11, "inline table"},
	    {"# ok\n\n  key = \"x\r\"\n", 3, 11, "newline"},
	    {"a = 1\r\nb = 2\rc = 3\n", 2, 6, "carriage return"},
	    {"d = 2021-02-29\n", 1, 5, "date"},
	    {"a.b = 1\n[a.b]\n", 2, 4, "already defined"},
	    {"k = 'x\x01'\n", 1, 7, "control character"},
	    /* the byte order mark takes no column */
	    {"\xef\xbb\xbf"
	     "a = \n",
	     1, 5, "expected a value"},
	    {"a = [\n  1,\n  2 3\n]\n", 3, 5, "expected ',' or ']'"},
	    {"a = { b = 1 }\na.c = 2\n", 2, 1, "cannot add keys"},
	    {"[[a]]\n[a]\n", 2, 2, "already defined"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct toml_doc *doc = NULL;
		struct toml_err err;
		int rc = parse_str(cases[i].in, &doc, &err);

		if (rc != KBS_ERR_PARSE || err.line != cases[i].line ||
		    err.column != cases[i].col || !strstr(err.msg, cases[i].msg))
			fail_msg("case %zu: rc %d at %d:%d '%s'; want %d:%d '%s'", i, rc, err.line,
				 err.column, err.msg, cases[i].line, cases[i].col, cases[i].msg);
		assert_null(doc);
	}
}

static void long_keys_are_cut_in_messages(void **state)
{
	char in[500], key[201], again[400];
	struct toml_doc *doc = NULL;
	struct toml_err err;

	/* 2-byte characters: the cut must not split one */
	for (size_t i = 0; i < 100; i++)
		memcpy(key + 2 * i, "\xc3\xa9", 2);
	key[200] = '\0';
	fmt(in, sizeof(in), "\"%s\" = 1\n\"%s\" = 2\n", key, key);
	assert_int_equal(parse_str(in, &doc, &err), KBS_ERR_PARSE);
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.msg, "duplicate key"));
	assert_true(strlen(err.msg) < 100);
	/* the message is valid UTF-8: a TOML string holding it parses */
	fmt(again, sizeof(again), "m = '''%s'''\n", err.msg);
	doc = must_parse(again);
	toml_doc_free(doc);
}

static void key_positions(void **state)
{
	const char *src = "title = \"x\"\n"		    /* 1 */
			  "\n"				    /* 2 */
			  "[server]\n"			    /* 3 */
			  "  port = 8080\n"		    /* 4 */
			  "  tls.cert = \"c\"   # dotted\n" /* 5 */
			  "[[plugins]]\n"		    /* 6 */
			  "name = \"a\"\n"		    /* 7 */
			  "[[plugins]]\n"		    /* 8 */
			  "  \"x.y\" = [1,\n"		    /* 9 */
			  "     2]\n"			    /* 10 */
			  "[a.b.c]\n"			    /* 11 */
			  "[a]\n";			    /* 12 */
	struct toml_doc *doc = must_parse(src);
	static const struct {
		const char *path;
		int line, col;
	} want[] = {
	    {"title", 1, 1},
	    {"server", 3, 2},
	    {"server.port", 4, 3},
	    {"server.tls", 5, 3},
	    {"server.tls.cert", 5, 7},
	    {"plugins", 6, 3},
	    {"plugins[0]", 6, 3},
	    {"plugins[1]", 8, 3},
	    {"plugins[0].name", 7, 1},
	    {"plugins[1].\"x.y\"", 9, 3},
	    {"plugins[1].\"x.y\"[1]", 10, 6},
	    /* an implicit table takes the position of its later explicit definition */
	    {"a", 12, 2},
	    {"a.b", 11, 4},
	    {"a.b.c", 11, 6},
	};
	static const char *const absent[] = {"nope",	"server.nope", "plugins[2]", "plugins.name",
					     "title.x", "plugins[x]",  "",	     "server.",
					     "\"x.y"};
	int line, col;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		line = col = -1;
		if (toml_key_position(doc, want[i].path, &line, &col) != KBS_OK ||
		    line != want[i].line || col != want[i].col)
			fail_msg("%s: got %d:%d, want %d:%d", want[i].path, line, col, want[i].line,
				 want[i].col);
	}
	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
		assert_int_equal(toml_key_position(doc, absent[i], &line, &col), KBS_ERR_NOTFOUND);
	toml_doc_free(doc);
}

/* ------------------------------------------------------------------ redefinition rules */

static void duplicate_keys_and_tables_rejected(void **state)
{
	static const char *const bad[] = {
	    "a = 1\na = 1\n",
	    "a = 1\n\"a\" = 2\n",
	    "a = 1\n'a' = 2\n",
	    "a = 1\n\"\\u0061\" = 2\n",
	    "[t]\n[t]\n",
	    "[t]\n[\"t\"]\n",
	    "[a.b]\n[a]\n[a]\n",
	    "[a]\nb = 1\n[a.b]\n",
	    "a = {}\n[a]\n",
	    "a = {b = 1}\n[a.c]\n",
	    "a = {b = 1}\na.c = 2\n",
	    "a = {b.c = 1}\n[a.b]\n",
	    "a = {b = 1, b = 2}\n",
	    "a = {b = {c = 1}, b.d = 2}\n",
	    "a = [1]\n[[a]]\n",
	    "a = []\n[a.b]\n",
	    "[[a]]\n[a]\n",
	    "[a]\n[[a]]\n",
	    "a.b = 1\na.b.c = 2\n",
	    "a = false\na.b = true\n",
	    "[fruit]\napple.color = 'red'\n[fruit.apple]\n",
	    "[fruit]\napple.taste.sweet = true\n[fruit.apple.taste]\n",
	    "[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n",
	    "[[a.b]]\n[a]\nb.y = 2\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct toml_doc *doc = NULL;
		struct toml_err err;

		if (parse_str(bad[i], &doc, &err) != KBS_ERR_PARSE)
			fail_msg("accepted:\n%s", bad[i]);
	}
}

static void table_rules_accepted(void **state)
{
	/* implicit then explicit, sub-tables of dotted tables, arrays of tables with children */
	struct toml_doc *doc =
	    must_parse("[a.b.c]\nx = 1\n[a]\ny = 2\n"
		       "[fruit]\napple.color = 'red'\n"
		       "[fruit.apple.texture]\nsmooth = true\n"
		       "[[p]]\nn = 1\n[p.q]\nm = 1\n[[p]]\nn = 2\n[[p.r]]\n[[p.r]]\n"
		       "[x]\nd.e = 1\nd.f = 2\n");
	json_t *r = toml_doc_root(doc);
	json_t *p = get(r, "p");

	assert_int_equal(json_integer_value(get(get(get(get(r, "a"), "b"), "c"), "x")), 1);
	assert_int_equal(json_integer_value(get(get(r, "a"), "y")), 2);
	assert_true(json_is_true(get(get(get(get(r, "fruit"), "apple"), "texture"), "smooth")));
	assert_int_equal(json_array_size(p), 2);
	assert_int_equal(json_integer_value(get(get(json_array_get(p, 0), "q"), "m")), 1);
	assert_int_equal(json_array_size(get(json_array_get(p, 1), "r")), 2);
	assert_int_equal(json_object_size(get(get(r, "x"), "d")), 2);
	toml_doc_free(doc);
}

/* ------------------------------------------------------------------ values */

static void integers(void **state)
{
	struct toml_doc *doc = must_parse("a = 0xDEAD_beef\nb = 0o755\nc = 0b1101\n"
					  "d = 1_000_000\ne = -9223372036854775808\n"
					  "f = 9223372036854775807\ng = 0x7fffffffffffffff\n"
					  "h = +42\ni = -0\n");
	json_t *r = toml_doc_root(doc);
	static const char *const bad[] = {
	    "x = 9223372036854775808",
	    "x = -9223372036854775809",
	    "x = 0x8000000000000000",
	    "x = 0b"
	    "1"
	    "0000000000000000000000000000000000000000000000000000000000000000",
	    "x = 1__0",
	    "x = _1",
	    "x = 1_",
	    "x = 01",
	    "x = +0x1",
	    "x = 0xG",
	    "x = 0o8",
	    "x = 0b2",
	    "x = 0X1",
	    "x = 1 2",
	    "x = --1",
	    "x = 0x",
	    "x = 99999999999999999999999999999",
	};

	assert_int_equal(json_integer_value(get(r, "a")), 0xdeadbeef);
	assert_int_equal(json_integer_value(get(r, "b")), 0755);
	assert_int_equal(json_integer_value(get(r, "c")), 13);
	assert_int_equal(json_integer_value(get(r, "d")), 1000000);
	assert_true(json_integer_value(get(r, "e")) == INT64_MIN);
	assert_true(json_integer_value(get(r, "f")) == INT64_MAX);
	assert_true(json_integer_value(get(r, "g")) == INT64_MAX);
	assert_int_equal(json_integer_value(get(r, "h")), 42);
	assert_int_equal(json_integer_value(get(r, "i")), 0);
	toml_doc_free(doc);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct toml_err err;

		doc = NULL;
		if (parse_str(bad[i], &doc, &err) != KBS_ERR_PARSE)
			fail_msg("accepted: %s", bad[i]);
	}
}

static void floats(void **state)
{
	struct toml_doc *doc =
	    must_parse("a = 0.1\nb = -1e-7\nc = 6.02_214e2_3\nd = 1.7976931348623157e308\n"
		       "e = 4.9e-324\nf = inf\ng = -inf\nh = +nan\ni = -0.0\nj = 1E2\n"
		       "k = 2.2250738585072011e-308\n");
	json_t *r = toml_doc_root(doc);
	static const char *const bad[] = {
	    "x = 1e400",    "x = .5",	 "x = 5.",    "x = 1.e2",  "x = 1e",  "x = 1e+",
	    "x = 01.0",	    "x = 0_1.0", "x = 1_.0",  "x = 1._0",  "x = Inf", "x = NaN",
	    "x = infinity", "x = 1e_2",	 "x = 1.0.0", "x = 0x1p3", "x = 1,0", "x = +.1",
	};

	/* exact strtod semantics: bit-identical to the C library's correctly rounded result */
	assert_true(json_real_value(get(r, "a")) == strtod("0.1", NULL));
	assert_true(json_real_value(get(r, "b")) == -1e-7);
	assert_true(json_real_value(get(r, "c")) == 6.02214e23);
	assert_true(json_real_value(get(r, "d")) == 1.7976931348623157e308);
	assert_true(json_real_value(get(r, "e")) == 4.9e-324);
	assert_true(json_real_value(get(r, "k")) == strtod("2.2250738585072011e-308", NULL));
	assert_string_equal(json_string_value(get(get(r, "f"), "$float")), "inf");
	assert_string_equal(json_string_value(get(get(r, "g"), "$float")), "-inf");
	assert_string_equal(json_string_value(get(get(r, "h"), "$float")), "nan");
	assert_true(json_real_value(get(r, "i")) == 0.0 && signbit(json_real_value(get(r, "i"))));
	assert_true(json_real_value(get(r, "j")) == 100.0);
	toml_doc_free(doc);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct toml_err err;

		doc = NULL;
		if (parse_str(bad[i], &doc, &err) != KBS_ERR_PARSE)
			fail_msg("accepted: %s", bad[i]);
	}
}

static void strings(void **state)
{
	struct toml_doc *doc =
	    must_parse("a = \"tab\\there \\u00e9 \\U0001F600 \\\\ \\\"\"\n"
		       "b = 'C:\\path\\no\\escapes'\n"
		       "c = \"\"\"\nline1\r\nline2\\\n     \n   joined \\\n\tend\"\"\"\n"
		       "d = '''\n''two'' quotes\\n'''''\n"
		       "e = \"\"\"\"\"x\"\"\"\"\"\n"
		       "f = \"nul\\u0000byte\"\n"
		       "g = \"\"\n"
		       "\"\" = 'empty key'\n");
	json_t *r = toml_doc_root(doc);
	json_t *f = get(r, "f");
	static const char *const bad[] = {
	    "x = \"\\ud800\"",
	    "x = \"\\U00110000\"",
	    "x = \"\\x41\"",
	    "x = \"\\e\"",
	    "x = \"a\nb\"",
	    "x = 'a\nb'",
	    "x = \"unterminated",
	    "x = \"\"\"a\"\"\"\"\"\"",
	    "x = \"\\u12\"",
	    "x = \"a\x7f\"",
	    "x = \"\"\"a\\ b\"\"\"",
	    "x = '''a\rb'''",
	    "x = \"\xed\xa0\x80\"",
	    "x = \"\xc0\xaf\"",
	    "x = \"\xf4\x90\x80\x80\"",
	    "\"\"\"k\"\"\" = 1",
	};

	assert_string_equal(json_string_value(get(r, "a")),
			    "tab\there \xc3\xa9 \xf0\x9f\x98\x80 \\ \"");
	assert_string_equal(json_string_value(get(r, "b")), "C:\\path\\no\\escapes");
	/* CRLF normalised, line-ending backslash trims whitespace and newlines */
	assert_string_equal(json_string_value(get(r, "c")), "line1\nline2joined end");
	assert_string_equal(json_string_value(get(r, "d")), "''two'' quotes\\n''");
	assert_string_equal(json_string_value(get(r, "e")), "\"\"x\"\"");
	assert_int_equal(json_string_length(f), 8);
	assert_memory_equal(json_string_value(f), "nul\0byte", 8);
	assert_string_equal(json_string_value(get(r, "g")), "");
	assert_string_equal(json_string_value(get(r, "")), "empty key");
	toml_doc_free(doc);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct toml_err err;

		doc = NULL;
		if (parse_str(bad[i], &doc, &err) != KBS_ERR_PARSE)
			fail_msg("accepted: %s", bad[i]);
	}
}

static void datetimes(void **state)
{
	struct toml_doc *doc =
	    must_parse("a = 1979-05-27T07:32:00Z\nb = 1979-05-27 07:32:00.999-07:00\n"
		       "c = 1979-05-27t07:32:00z\nd = 1979-05-27T00:32:00\n"
		       "e = 1979-05-27\nf = 07:32:00.5\ng = 2000-02-29\n"
		       "h = 1990-12-31T23:59:60Z\n");
	json_t *r = toml_doc_root(doc);
	static const struct {
		const char *key, *text, *type;
	} want[] = {
	    {"a", "1979-05-27T07:32:00Z", "offset-datetime"},
	    {"b", "1979-05-27T07:32:00.999-07:00", "offset-datetime"},
	    {"c", "1979-05-27T07:32:00Z", "offset-datetime"},
	    {"d", "1979-05-27T00:32:00", "local-datetime"},
	    {"e", "1979-05-27", "local-date"},
	    {"f", "07:32:00.5", "local-time"},
	    {"g", "2000-02-29", "local-date"},
	    {"h", "1990-12-31T23:59:60Z", "offset-datetime"},
	};
	static const char *const bad[] = {
	    "x = 1979-05-27T",
	    "x = 1979-05-27T07:32",
	    "x = 07:32",
	    "x = 1979-13-01",
	    "x = 1979-02-29",
	    "x = 1900-02-29",
	    "x = 1979-05-27T24:00:00",
	    "x = 1979-05-27T07:60:00",
	    "x = 07:32:00Z",
	    "x = 1979-05-27T07:32:00+24:00",
	    "x = 1979-05-27T07:32:00.",
	    "x = 79-05-27",
	    "x = 1979-5-27",
	    "x = 1979-05-27T07:32:00+0700",
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		json_t *v = get(r, want[i].key);

		assert_string_equal(json_string_value(get(v, "$datetime")), want[i].text);
		assert_string_equal(json_string_value(get(v, "$type")), want[i].type);
	}
	toml_doc_free(doc);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct toml_err err;

		doc = NULL;
		if (parse_str(bad[i], &doc, &err) != KBS_ERR_PARSE)
			fail_msg("accepted: %s", bad[i]);
	}
}

/* ------------------------------------------------------------------ limits */

static char *put(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

/* head unit*n mid unit2*n2 tail, malloc'ed */
static char *repeat(const char *head, const char *unit, size_t n, const char *mid,
		    const char *unit2, size_t n2, const char *tail)
{
	size_t len =
	    strlen(head) + strlen(unit) * n + strlen(mid) + strlen(unit2) * n2 + strlen(tail) + 1;
	char *s = malloc(len), *p = s;

	assert_non_null(s);
	p = put(p, head);
	for (size_t i = 0; i < n; i++)
		p = put(p, unit);
	p = put(p, mid);
	for (size_t i = 0; i < n2; i++)
		p = put(p, unit2);
	p = put(p, tail);
	*p = '\0';
	return s;
}

static void expect_depth_limit(const char *s, bool ok)
{
	struct toml_doc *doc = NULL;
	struct toml_err err;
	int rc = parse_str(s, &doc, &err);

	if (ok) {
		if (rc != KBS_OK)
			fail_msg("rejected (%s) at depth limit: %.60s...", err.msg, s);
		toml_doc_free(doc);
	} else {
		if (rc != KBS_ERR_RANGE)
			fail_msg("rc %d (%s) beyond the depth limit: %.60s...", rc, err.msg, s);
		assert_true(strstr(err.msg, "nesting") || strstr(err.msg, "parts"));
		assert_int_equal(err.line, 1);
	}
}

static void deep_nesting_bounded(void **state)
{
	/* root is level 0, the value of a is level 1: 128 nested arrays fit, 129 do not */
	char *s;

	s = repeat("a = ", "[", TOML_MAX_DEPTH, "", "]", TOML_MAX_DEPTH, "\n");
	expect_depth_limit(s, true);
	free(s);
	s = repeat("a = ", "[", TOML_MAX_DEPTH + 1, "", "]", TOML_MAX_DEPTH + 1, "\n");
	expect_depth_limit(s, false);
	free(s);
	/* far beyond: must fail fast, not overflow the stack */
	s = repeat("a = ", "[", 1000000, "", "", 0, "\n");
	expect_depth_limit(s, false);
	free(s);
	s = repeat("a = ", "{b = ", 100000, "1", "}", 100000, "\n");
	expect_depth_limit(s, false);
	free(s);
	s = repeat("", "a.", 10000, "b = 1", "", 0, "\n");
	expect_depth_limit(s, false);
	free(s);
	s = repeat("[", "a.", 10000, "b]", "", 0, "\n");
	expect_depth_limit(s, false);
	free(s);
	/* mixed: dotted keys and inline tables add up */
	s = repeat("", "a.", TOML_MAX_DEPTH - 1, "b = ", "[", 1, "[]]\n");
	expect_depth_limit(s, false);
	free(s);
	s = repeat("", "a.", TOML_MAX_DEPTH - 1, "b = 1", "", 0, "\n");
	expect_depth_limit(s, true);
	free(s);
}

static void huge_inputs_bounded(void **state)
{
	struct toml_doc *doc = NULL;
	struct toml_err err;
	char *big = malloc(TOML_MAX_INPUT + 1);
	char path[] = "/tmp/test_toml_XXXXXX";
	int fd;
	FILE *f;

	assert_non_null(big);
	memset(big, '\n', TOML_MAX_INPUT + 1);
	assert_int_equal(toml_parse(big, TOML_MAX_INPUT + 1, &doc, &err), KBS_ERR_RANGE);
	assert_null(doc);
	assert_non_null(strstr(err.msg, "larger than"));
	/* exactly at the limit is fine */
	assert_int_equal(toml_parse(big, TOML_MAX_INPUT, &doc, &err), KBS_OK);
	toml_doc_free(doc);
	doc = NULL;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(big, 1, TOML_MAX_INPUT + 1, f), TOML_MAX_INPUT + 1);
	fclose(f);
	assert_int_equal(toml_parse_file(path, &doc, &err), KBS_ERR_RANGE);
	assert_null(doc);
	unlink(path);
	free(big);

	/* many values within the size limit: bounded by TOML_MAX_NODES */
	char *s = repeat("a = [", "0,", TOML_MAX_NODES, "", "", 0, "]\n");
	assert_int_equal(parse_str(s, &doc, &err), KBS_ERR_RANGE);
	assert_non_null(strstr(err.msg, "values"));
	free(s);

	/* a large but legal document: 20000 tables with keys parses, positions intact */
	size_t cap = 20000 * 40, len = 0;
	s = malloc(cap);
	assert_non_null(s);
	for (int i = 0; i < 20000; i++)
		len += (size_t)snprintf(s + len, cap - len, "[t%d]\nk = %d\n", i, i);
	assert_int_equal(toml_parse(s, len, &doc, &err), KBS_OK);
	assert_int_equal(json_object_size(toml_doc_root(doc)), 20000);
	assert_int_equal(json_integer_value(get(get(toml_doc_root(doc), "t19999"), "k")), 19999);
	int line, col;
	assert_int_equal(toml_key_position(doc, "t19999.k", &line, &col), KBS_OK);
	assert_int_equal(line, 40000);
	toml_doc_free(doc);
	free(s);
}

static void api_edges(void **state)
{
	struct toml_doc *doc = NULL;
	struct toml_err err;
	json_t *keep;

	toml_doc_free(NULL);
	assert_null(toml_doc_root(NULL));
	assert_int_equal(toml_parse_file("/nonexistent/kbsfs.toml", &doc, &err), KBS_ERR_IO);
	assert_non_null(strstr(err.msg, "/nonexistent/kbsfs.toml"));
	assert_int_equal(toml_parse("", 0, &doc, NULL), KBS_OK);
	assert_int_equal(json_object_size(toml_doc_root(doc)), 0);
	toml_doc_free(doc);
	assert_int_equal(toml_parse("a = ", 4, &doc, NULL), KBS_ERR_PARSE);
	assert_null(doc);
	/* not NUL-terminated: only len bytes are read */
	assert_int_equal(toml_parse("a = 1xyz", 5, &doc, &err), KBS_OK);
	/* the root outlives the document when the caller holds a reference */
	keep = json_incref(toml_doc_root(doc));
	toml_doc_free(doc);
	assert_int_equal(json_integer_value(get(keep, "a")), 1);
	json_decref(keep);
	/* BOM only at the very start */
	assert_int_equal(toml_parse("\xef\xbb\xbf"
				    "a = 1",
				    8, &doc, &err),
			 KBS_OK);
	toml_doc_free(doc);
	assert_int_equal(toml_parse("a = 1\n\xef\xbb\xbf", 9, &doc, &err), KBS_ERR_PARSE);
	/* key order is kept */
	doc = must_parse("z = 1\na = 2\nm = 3\n");
	const char *k = json_object_iter_key(json_object_iter(toml_doc_root(doc)));
	assert_string_equal(k, "z");
	toml_doc_free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(toml_test_suite_1_0),
	    cmocka_unit_test(all_sample_configs_parse),
	    cmocka_unit_test(trustee_kbs_config_values),
	    cmocka_unit_test(initdata_values),
	    cmocka_unit_test(errors_report_line_and_column),
	    cmocka_unit_test(key_positions),
	    cmocka_unit_test(long_keys_are_cut_in_messages),
	    cmocka_unit_test(duplicate_keys_and_tables_rejected),
	    cmocka_unit_test(table_rules_accepted),
	    cmocka_unit_test(integers),
	    cmocka_unit_test(floats),
	    cmocka_unit_test(strings),
	    cmocka_unit_test(datetimes),
	    cmocka_unit_test(deep_nesting_bounded),
	    cmocka_unit_test(huge_inputs_bounded),
	    cmocka_unit_test(api_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
