// SPDX-License-Identifier: Apache-2.0
/*
 * Trustee's shipped policies (tests/data/policies, copied verbatim) decide the way Trustee's
 * own tests and reference/kbs-protocol.md §15 say they do.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "server/policy/policy.h"

static char *slurp(const char *rel, size_t *len)
{
	const char *base = getenv("KBS_TEST_DATA");
	char path[4096];
	FILE *f;
	char *buf;
	long n;

	assert_non_null(base);
	snprintf(path, sizeof(path), "%.3000s/policies/%.500s", base, rel);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static struct rego_module *load_opts(const char *rel, const struct rego_compile_opts *opts)
{
	size_t len;
	char *src = slurp(rel, &len);
	const char *srcs[1] = { src };
	struct rego_module *m = NULL;
	struct rego_error err = { 0 };
	int rc = rego_compile_modules(srcs, &len, 1, opts, &m, &err);

	if (rc != KBS_OK)
		fail_msg("%s: %s (line %d col %d)", rel, err.msg, err.line, err.col);
	free(src);
	return m;
}

static struct rego_module *load(const char *rel)
{
	return load_opts(rel, NULL);
}

static json_t *J(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &je);

	if (!j)
		fail_msg("bad test JSON: %s: %s", je.text, text);
	return j;
}

static json_t *file_json(const char *rel)
{
	size_t len;
	char *s = slurp(rel, &len);
	json_t *j = J(s);

	free(s);
	return j;
}

/* Claims of the sample EAR token (tee "sample"), as the KBS passes them to the policy. */
static json_t *sample_claims(void)
{
	json_t *tok = file_json("ear-token-sample.decoded.json");
	json_t *claims = json_incref(json_object_get(tok, "claims_valid"));

	json_decref(tok);
	assert_non_null(claims);
	return claims;
}

static json_t *resource_data(const char *plugin, const char *a, const char *b, const char *c)
{
	json_t *d = json_pack("{s:s, s:[s,s,s], s:{}}", "plugin", plugin, "resource-path", a, b, c,
			      "query");

	assert_non_null(d);
	return d;
}

static bool allow(struct rego_module *m, json_t *input, json_t *data, struct rego_explain *why)
{
	bool ok = true;
	struct rego_error err = { 0 };
	int rc = rego_eval_bool(m, "data.policy.allow", input, data, &ok, why, &err);

	if (rc != KBS_OK)
		fail_msg("eval failed: %s", err.msg);
	return ok;
}

/* ---------- KBS resource policies (§15.1) ---------- */

static void test_default_policy_denies_sample_tee(void **state)
{
	struct rego_module *m = load("kbs/default.rego");
	json_t *in = sample_claims();
	json_t *d = resource_data("resource", "default", "test", "secret");
	struct rego_explain why;
	char text[2048];

	assert_false(allow(m, in, d, &why));
	/* the explanation names the rule body and the expression that did not hold */
	rego_explain_format(&why, text, sizeof(text));
	assert_non_null(strstr(text, "data.policy.allow"));
	assert_non_null(strstr(text, "not input[\"submods\"][\"cpu0\"]"));
	bool found = false;

	for (size_t i = 0; i < why.n; i++)
		if (strcmp(why.e[i].rule, "data.policy.allow") == 0 && !why.e[i].matched) {
			assert_int_equal(why.e[i].fail_line, 85);
			found = true;
		}
	assert_true(found);
	json_decref(in);
	json_decref(d);
	rego_module_free(m);
}

static void test_default_policy_allows_real_tee(void **state)
{
	struct rego_module *m = load("kbs/default.rego");
	json_t *in = J("{\"submods\":{\"cpu0\":{\"ear.status\":\"affirming\","
		       "\"ear.veraison.annotated-evidence\":{\"tdx\":{\"tcb_status\":\"UpToDate\"}}}}}");
	json_t *res = resource_data("resource", "default", "key", "1");
	json_t *other = resource_data("plugin1", "a", "b", "c");

	assert_true(allow(m, in, res, NULL));
	assert_false(allow(m, in, other, NULL));
	/* no claims at all: still not the sample TEE, so allowed (Trustee behaviour) */
	json_t *empty = J("{}");

	assert_true(allow(m, empty, res, NULL));
	json_decref(empty);
	json_decref(in);
	json_decref(res);
	json_decref(other);
	rego_module_free(m);
}

static void test_allow_all_and_deny_all(void **state)
{
	struct rego_module *aa = load("kbs/allow_all.rego");
	struct rego_module *da = load("kbs/deny_all.rego");
	json_t *in = sample_claims();
	json_t *res = resource_data("resource", "default", "test", "secret");
	json_t *other = resource_data("sample", "a", "b", "c");

	assert_true(allow(aa, in, res, NULL));
	assert_false(allow(aa, in, other, NULL));
	assert_false(allow(da, in, res, NULL));
	assert_false(allow(da, in, other, NULL));
	json_decref(in);
	json_decref(res);
	json_decref(other);
	rego_module_free(aa);
	rego_module_free(da);
}

static void test_affirming_policy(void **state)
{
	struct rego_module *m = load("kbs/affirming.rego");
	json_t *res = resource_data("resource", "a", "b", "c");
	json_t *good = J("{\"submods\":{\"cpu0\":{\"ear.status\":\"affirming\"},"
			 "\"gpu0\":{\"ear.status\":\"affirming\"}}}");
	json_t *mixed = J("{\"submods\":{\"cpu0\":{\"ear.status\":\"affirming\"},"
			  "\"gpu0\":{\"ear.status\":\"contraindicated\"}}}");
	json_t *none = J("{\"submods\":{}}");
	json_t *sample = sample_claims(); /* status "warning" */

	assert_true(allow(m, good, res, NULL));
	assert_false(allow(m, mixed, res, NULL));
	assert_false(allow(m, none, res, NULL));
	assert_false(allow(m, sample, res, NULL));
	json_decref(res);
	json_decref(good);
	json_decref(mixed);
	json_decref(none);
	json_decref(sample);
	rego_module_free(m);
}

/* Trustee deps/policy-engine test_kbs_policy_evaluate inputs */
static json_t *engine_input(const char *name, int svn)
{
	json_t *j = json_pack("{s:{s:{s:{s:i,s:i},s:{s:{s:s,s:i}}}}}", "submods", "cpu0",
			      "ear.trustworthiness-vector", "executables", 2, "hardware", 3,
			      "ear.veraison.annotated-evidence", "sample", "productId", name, "svn",
			      svn);

	assert_non_null(j);
	return j;
}

static void test_engine_policies(void **state)
{
	struct rego_module *p1 = load("kbs/engine-test-policy_1.rego");
	struct rego_module *p2 = load("kbs/engine-test-policy_2.rego");
	struct rego_module *p3 = load("kbs/engine-test-policy_3.rego");
	struct rego_module *p4 = load("kbs/engine-test-policy_4.rego");
	struct rego_module *p5 = load("kbs/engine-test-policy_5.rego");
	json_t *alice1 = engine_input("Alice", 1), *bob1 = engine_input("Bob", 1);
	json_t *res = resource_data("resource", "my_repo", "Alice", "key");
	json_t *other = resource_data("another-plugin", "my_repo", "Alice", "key");

	assert_true(allow(p1, alice1, res, NULL));
	assert_false(allow(p1, alice1, other, NULL));
	assert_false(allow(p1, bob1, res, NULL));
	assert_true(allow(p2, alice1, res, NULL));
	assert_false(allow(p3, alice1, res, NULL));
	assert_true(allow(p4, alice1, res, NULL));

	/* policy_5 (rego.v1, minimum SVN map): every Trustee case is false */
	static const struct {
		const char *plugin, *a, *b, *c;
		int svn;
	} p5cases[] = {
		{ "resource", "myrepo", "secret", "secret", 2 },
		{ "resource", "myrepo", "secret", "secret1", 1 },
		{ "resource", "myrepo", "secret", "secret2", 2 },
		{ "resource", "myrepo", "secret", "secret3", 3 },
		{ "resource", "a", "b", "secret2", 3 },
	};
	for (size_t i = 0; i < sizeof(p5cases) / sizeof(p5cases[0]); i++) {
		json_t *in = engine_input("n", p5cases[i].svn);
		json_t *d = resource_data(p5cases[i].plugin, p5cases[i].a, p5cases[i].b,
					  p5cases[i].c);

		assert_false(allow(p5, in, d, NULL));
		json_decref(in);
		json_decref(d);
	}
	json_t *abc = J("{\"plugin\":\"abc\",\"resource-path\":[],\"query\":{}}");
	json_t *in3 = engine_input("n", 3);

	assert_false(allow(p5, in3, abc, NULL));
	/* and the positive case the policy is written for: svn 3 >= minimum 2 for secret1 */
	json_t *ok = resource_data("resource", "myrepo", "secret", "secret1");

	assert_true(allow(p5, in3, ok, NULL));
	json_decref(ok);
	json_decref(abc);
	json_decref(in3);
	json_decref(alice1);
	json_decref(bob1);
	json_decref(res);
	json_decref(other);
	rego_module_free(p1);
	rego_module_free(p2);
	rego_module_free(p3);
	rego_module_free(p4);
	rego_module_free(p5);
}

static void test_legacy_v0_policy(void **state)
{
	struct rego_module *m = load("kbs/legacy-v0.10.0-default_policy.rego");
	json_t *d = J("{\"resource-path\":\"repo/type/tag\"}");
	json_t *sample = J("{\"tee\":\"sample\"}"), *tdx = J("{\"tee\":\"tdx\"}");

	assert_false(allow(m, sample, d, NULL));
	assert_true(allow(m, tdx, d, NULL));
	json_decref(d);
	json_decref(sample);
	json_decref(tdx);
	rego_module_free(m);
}

static void test_integration_kbs_policies(void **state)
{
	struct rego_module *cc = load("integration/kbs-check-contraindicated.rego");
	struct rego_module *ccd = load("integration/kbs-check-contraindicated-device.rego");
	struct rego_module *aa = load("integration/kbs-allow-all.rego");
	struct rego_module *da = load("integration/kbs-deny-all.rego");
	json_t *res = resource_data("resource", "default", "test", "secret");
	json_t *warn = sample_claims();
	json_t *bad = J("{\"submods\":{\"cpu0\":{\"ear.status\":\"contraindicated\"}}}");
	json_t *dev = J("{\"submods\":{\"cpu0\":{\"ear.status\":\"affirming\"},"
			"\"gpu0\":{\"ear.status\":\"contraindicated\"}}}");

	assert_true(allow(cc, warn, res, NULL));
	assert_false(allow(cc, bad, res, NULL));
	assert_true(allow(cc, dev, res, NULL));
	assert_false(allow(ccd, dev, res, NULL));
	/* gpu0 missing: the comparison is undefined, so the device policy denies */
	assert_false(allow(ccd, warn, res, NULL));
	assert_true(allow(aa, bad, res, NULL));
	assert_false(allow(da, warn, res, NULL));
	json_decref(res);
	json_decref(warn);
	json_decref(bad);
	json_decref(dev);
	rego_module_free(cc);
	rego_module_free(ccd);
	rego_module_free(aa);
	rego_module_free(da);
}

/* ---------- AS (EAR) policies (§15.2) ---------- */

/* query_reference_value(id): looks id up in the JSON object passed as host context */
static int qrv(void *ctx, json_t *const *args, size_t nargs, json_t **out)
{
	json_t *rvs = ctx;
	json_t *v;

	if (nargs != 1 || !json_is_string(args[0]))
		return KBS_ERR_INVAL;
	v = rvs ? json_object_get(rvs, json_string_value(args[0])) : NULL;
	*out = v ? json_incref(v) : json_null();
	return KBS_OK;
}

static const struct rego_host_fn host_fns[] = { { "query_reference_value", 1, qrv } };
static const struct rego_compile_opts as_opts = { host_fns, 1 };

static json_t *trust_claims(struct rego_module *m, json_t *input, json_t *rvs)
{
	struct rego_eval_opts o = { .host_ctx = rvs };
	struct rego_error err = { 0 };
	json_t *r = NULL;
	int rc = rego_eval_ex(m, "data.policy.trust_claims", input, NULL, &o, &r, NULL, &err);

	if (rc != KBS_OK)
		fail_msg("eval failed: %s", err.msg);
	assert_non_null(r);
	return r;
}

static void assert_vector(json_t *tc, int exe, int hw, int conf)
{
	assert_int_equal(json_integer_value(json_object_get(tc, "executables")), exe);
	assert_int_equal(json_integer_value(json_object_get(tc, "hardware")), hw);
	assert_int_equal(json_integer_value(json_object_get(tc, "configuration")), conf);
	assert_int_equal(json_integer_value(json_object_get(tc, "file-system")), 0);
	assert_int_equal(json_integer_value(json_object_get(tc, "instance-identity")), 0);
	assert_int_equal(json_integer_value(json_object_get(tc, "runtime-opaque")), 0);
	assert_int_equal(json_integer_value(json_object_get(tc, "storage-opaque")), 0);
	assert_int_equal(json_integer_value(json_object_get(tc, "sourced-data")), 0);
	assert_int_equal(json_object_size(tc), 8);
}

static json_t *sample_evidence(void)
{
	json_t *c = sample_claims();
	json_t *ae = json_incref(json_object_get(
		json_object_get(json_object_get(c, "submods"), "cpu0"),
		"ear.veraison.annotated-evidence"));

	json_decref(c);
	assert_non_null(ae);
	return ae;
}

static void test_ear_default_cpu_sample(void **state)
{
	struct rego_module *m = load_opts("as/ear_default_policy_cpu.rego", &as_opts);
	json_t *ev = sample_evidence();
	json_t *tc;

	/* no reference values: executables 33, hardware 97, configuration 2 (§15.2) */
	tc = trust_claims(m, ev, NULL);
	assert_vector(tc, 33, 97, 2);
	json_decref(tc);

	/* Trustee integration RVs: svn ["1"], launch_digest ["abcde"], major 1, minor 1 */
	json_t *rvs = J("{\"svn\":[\"1\"],\"launch_digest\":[\"abcde\"],\"major_version\":1,"
			"\"minimum_minor_version\":1}");

	tc = trust_claims(m, ev, rvs);
	assert_vector(tc, 3, 2, 2);
	json_decref(tc);
	json_decref(rvs);

	/* minor version below the minimum: hardware not recognised */
	rvs = J("{\"svn\":[\"1\"],\"launch_digest\":[\"abcde\"],\"major_version\":1,"
		"\"minimum_minor_version\":5}");
	tc = trust_claims(m, ev, rvs);
	assert_vector(tc, 3, 97, 2);
	json_decref(tc);
	json_decref(rvs);
	json_decref(ev);
	rego_module_free(m);
}

static void test_ear_default_cpu_platforms(void **state)
{
	struct rego_module *m = load_opts("as/ear_default_policy_cpu.rego", &as_opts);
	json_t *tc;
	json_t *se = J("{\"se\":{\"version\":256}}");
	json_t *tpm = J("{\"tpm\":{\"pcr11\":\"aa\",\"ak_public\":\"k\"}}");
	json_t *tdx = J("{\"tdx\":{\"quote\":{\"header\":{\"tee_type\":\"81000000\","
			"\"vendor_id\":\"939a7233f79c4ca9940a0db3957f0607\"},"
			"\"body\":{\"mr_td\":\"td1\",\"rtmr_1\":\"r1\",\"rtmr_2\":\"r2\",\"xfam\":\"x\"}},"
			"\"tcb_status\":\"UpToDate\",\"collateral_expiration_status\":\"0\","
			"\"td_attributes\":{\"debug\":false},"
			"\"uefi_event_logs\":[{\"type_name\":\"EV_EFI_BOOT_SERVICES_APPLICATION\","
			"\"details\":{\"device_paths\":[\"File(kernel)\"]},\"digests\":[{\"digest\":\"k\"}]},"
			"{\"type_name\":\"EV_EVENT_TAG\",\"details\":{\"string\":\"LOADED_IMAGE::LoadOptions\"},"
			"\"digests\":[{\"digest\":\"p\"}]}]}}");
	json_t *tdx_rvs = J("{\"mr_td\":[\"td1\"],\"rtmr_1\":[\"r1\"],\"rtmr_2\":[\"r2\"],"
			    "\"xfam\":[\"x\"],\"tdvfkernel\":\"k\",\"tdvfkernelparams\":\"p\"}");
	json_t *tdx_grub_rvs = J("{\"mr_td\":[\"td1\"],\"rtmr_1\":[\"r1\"],\"rtmr_2\":[\"r2\"],"
				 "\"xfam\":[\"x\"]}");

	/* se: presence is enough (3/2/2); tpm: hardware 2, configuration 0 (§15.2) */
	tc = trust_claims(m, se, NULL);
	assert_vector(tc, 3, 2, 2);
	json_decref(tc);
	tc = trust_claims(m, tpm, NULL);
	assert_vector(tc, 33, 2, 0);
	json_decref(tc);
	/* tdx without RVs: contraindicated defaults */
	tc = trust_claims(m, tdx, NULL);
	assert_vector(tc, 33, 97, 36);
	json_decref(tc);
	/* tdx with RVs and matching event log digests: executables 3 */
	tc = trust_claims(m, tdx, tdx_rvs);
	assert_vector(tc, 3, 2, 2);
	json_decref(tc);
	/* without the kernel digests the `else := 4` (GKE grub) branch applies */
	tc = trust_claims(m, tdx, tdx_grub_rvs);
	assert_vector(tc, 4, 2, 2);
	json_decref(tc);
	json_decref(se);
	json_decref(tpm);
	json_decref(tdx);
	json_decref(tdx_rvs);
	json_decref(tdx_grub_rvs);
	rego_module_free(m);
}

static void test_ear_default_cpu_snp_else(void **state)
{
	struct rego_module *m = load_opts("as/ear_default_policy_cpu.rego", &as_opts);
	json_t *snp = J("{\"snp\":{\"policy_debug_allowed\":false,\"policy_migrate_ma\":false,"
			"\"platform_smt_enabled\":true,\"platform_tsme_enabled\":false,"
			"\"policy_abi_major\":1,\"policy_abi_minor\":55,\"policy_single_socket\":false,"
			"\"policy_smt_allowed\":true,\"measurement\":\"m\","
			"\"reported_tcb_bootloader\":3,\"reported_tcb_microcode\":115,"
			"\"reported_tcb_snp\":8,\"reported_tcb_tee\":0}}");
	json_t *rvs = J("{\"snp_launch_measurement\":[\"m\"],\"snp_bootloader\":[3],"
			"\"snp_microcode\":[115],\"snp_snp_svn\":[8],\"snp_tee_svn\":[0],"
			"\"snp_smt_enabled\":true,\"snp_tsme_enabled\":false,"
			"\"snp_guest_abi_major\":1,\"snp_guest_abi_minor\":55,"
			"\"snp_single_socket\":false,\"snp_smt_allowed\":true}");
	json_t *tc;

	tc = trust_claims(m, snp, rvs);
	assert_vector(tc, 3, 2, 2);
	json_decref(tc);
	/* configuration RVs absent: the `else := 3` branch (debug and migration off) */
	tc = trust_claims(m, snp, NULL);
	assert_vector(tc, 33, 97, 3);
	json_decref(tc);
	json_decref(snp);
	json_decref(rvs);
	rego_module_free(m);
}

static void test_ear_extensions_identifiers(void **state)
{
	struct rego_module *m = load_opts("as/ear_default_policy_cpu.rego", &as_opts);
	json_t *in = J("{\"sample\":{\"debug\":false},\"init_data_claims\":{\"agent_policy_claims\":"
		       "{\"containers\":[{\"OCI\":{\"Annotations\":{\"io.kubernetes.cri.image-name\":"
		       "\"pause\"},\"Process\":{\"User\":{\"UID\":65535}}}},"
		       "{\"OCI\":{\"Annotations\":{\"io.kubernetes.cri.image-name\":"
		       "\"bitnami/nginx:latest\"},\"Process\":{\"User\":{\"UID\":1001}}}}]}}}");
	json_t *want = J("[{\"name\":\"ear.trustee.identifiers\",\"key\":-18,\"value\":{"
			 "\"validated\":{\"container_images\":[\"pause\",\"bitnami/nginx:latest\"],"
			 "\"container_uids\":[65535,1001]}}}]");
	json_t *want_empty = J("[{\"name\":\"ear.trustee.identifiers\",\"key\":-18,"
			       "\"value\":{\"validated\":{}}}]");
	json_t *r = NULL, *ev = sample_evidence();

	assert_int_equal(rego_eval(m, "data.policy.extensions", in, NULL, &r, NULL), KBS_OK);
	assert_true(json_equal(r, want));
	json_decref(r);
	/* sample evidence has no init-data: validated is an empty object */
	assert_int_equal(rego_eval(m, "data.policy.extensions", ev, NULL, &r, NULL), KBS_OK);
	assert_true(json_equal(r, want_empty));
	json_decref(r);
	json_decref(ev);
	json_decref(in);
	json_decref(want);
	json_decref(want_empty);
	rego_module_free(m);
}

static void test_ear_device_policies(void **state)
{
	struct rego_module *gpu = load_opts("as/ear_default_policy_gpu.rego", &as_opts);
	struct rego_module *sw = load_opts("as/ear_default_policy_switch.rego", &as_opts);
	struct rego_module *pp = load_opts("as/ear_default_policy_ppcie.rego", &as_opts);
	struct rego_module *dev = load_opts("integration/as-ear-device-rv_gpu.rego", &as_opts);
	json_t *sd = J("{\"sampledevice\":{\"svn\":\"2\"}}");
	json_t *rv = J("{\"device_svn\":[\"2\"]}");
	json_t *tc;

	/* data.reference.device_svn is never populated: hardware stays 97 (§15.2) */
	tc = trust_claims(gpu, sd, rv);
	assert_vector(tc, 33, 97, 36);
	json_decref(tc);
	tc = trust_claims(sw, sd, rv);
	assert_vector(tc, 33, 97, 36);
	json_decref(tc);
	tc = trust_claims(pp, sd, NULL);
	assert_vector(tc, 0, 0, 2);
	json_decref(tc);
	/* the integration device policy reads the RV through query_reference_value */
	tc = trust_claims(dev, sd, rv);
	assert_vector(tc, 33, 2, 36);
	json_decref(tc);
	json_decref(sd);
	json_decref(rv);
	rego_module_free(gpu);
	rego_module_free(sw);
	rego_module_free(pp);
	rego_module_free(dev);
}

static void test_ear_no_rv_and_examples(void **state)
{
	struct rego_module *norv = load("as/ear_no_rv_policy_cpu.rego");
	struct rego_module *ex3 = load("as/example-3.rego");
	struct rego_module *cca = load("cca/default.rego");
	json_t *ev = sample_evidence();
	json_t *tc, *r = NULL;

	tc = trust_claims(norv, ev, NULL);
	assert_vector(tc, 3, 2, 2);
	json_decref(tc);

	json_t *se = J("{\"se.version\":256,\"se.user_data\":\"00\","
		       "\"se.tag\":\"773780962a7350165054673b6c54235d\","
		       "\"se.image_phkh\":\"92d0aff6eb86719b6b1ea0cb98d2c99ff2ec693df3efff2158f54112f6961508\","
		       "\"se.attestation_phkh\":\"92d0aff6eb86719b6b1ea0cb98d2c99ff2ec693df3efff2158f54112f6961508\"}");

	assert_int_equal(rego_eval(ex3, "data.policy.executables", se, NULL, &r, NULL), KBS_OK);
	assert_int_equal(json_integer_value(r), 3);
	json_decref(r);
	assert_int_equal(rego_eval(ex3, "data.policy.converted_version", se, NULL, &r, NULL),
			 KBS_OK);
	assert_string_equal(json_string_value(r), "256");
	json_decref(r);

	json_t *realm = J("{\"cca\":{\"realm\":{\"cca-realm-initial-measurement\":\"rim\"}}}");
	json_t *data = J("{\"reference\":{\"cca.realm.cca-realm-initial-measurement\":[\"rim\"]}}");

	assert_int_equal(rego_eval(cca, "data.policy.trust_claims", realm, data, &r, NULL), KBS_OK);
	assert_int_equal(json_integer_value(json_object_get(r, "executables")), 3);
	assert_int_equal(json_integer_value(json_object_get(r, "hardware")), 2);
	json_decref(r);
	json_decref(realm);
	json_decref(data);
	json_decref(se);
	json_decref(ev);
	rego_module_free(norv);
	rego_module_free(ex3);
	rego_module_free(cca);
}

static void test_legacy_simple_policy(void **state)
{
	struct rego_module *m = load("as/legacy-v0.15.0-simple_default_policy.rego");
	json_t *in = J("{\"sample1\":\"112233\",\"sample2\":\"332211\",\"other\":\"x\"}");
	json_t *ok = J("{\"reference\":{\"sample1\":[\"112233\",\"223311\"],\"sample2\":\"332211\","
		       "\"sample3\":[]}}");
	json_t *bad = J("{\"reference\":{\"sample1\":[\"000000\"],\"sample2\":\"332211\"}}");
	json_t *empty_list = J("{\"reference\":{\"sample1\":[],\"sample2\":\"332211\"}}");

	assert_true(allow(m, in, ok, NULL));
	assert_false(allow(m, in, bad, NULL));
	assert_true(allow(m, in, empty_list, NULL));
	json_decref(in);
	json_decref(ok);
	json_decref(bad);
	json_decref(empty_list);
	rego_module_free(m);
}

static void test_every_shipped_policy_compiles(void **state)
{
	static const char *const files[] = {
		"kbs/affirming.rego", "kbs/allow_all.rego", "kbs/default.rego", "kbs/deny_all.rego",
		"kbs/engine-test-policy_1.rego", "kbs/engine-test-policy_2.rego",
		"kbs/engine-test-policy_3.rego", "kbs/engine-test-policy_4.rego",
		"kbs/engine-test-policy_5.rego", "kbs/legacy-v0.10.0-default_policy.rego",
		"as/ear_default_policy_cpu.rego", "as/ear_default_policy_gpu.rego",
		"as/ear_default_policy_ppcie.rego", "as/ear_default_policy_switch.rego",
		"as/ear_no_rv_policy_cpu.rego", "as/ear_sample.rego", "as/example-1.rego",
		"as/example-2.rego", "as/example-3.rego",
		"as/legacy-v0.15.0-simple_default_policy.rego", "as/new_policy.rego",
		"cca/default.rego", "integration/as-dummy-policy.rego",
		"integration/as-ear-contraindicated_cpu.rego",
		"integration/as-ear-device-rv_gpu.rego", "integration/as-ear-rv_cpu.rego",
		"integration/kbs-allow-all.rego", "integration/kbs-check-contraindicated-device.rego",
		"integration/kbs-check-contraindicated.rego", "integration/kbs-deny-all.rego",
		"integration/kbs-init-data-agent-policy.rego",
		"integration/kbs-init-data-config-field.rego",
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		rego_module_free(load_opts(files[i], &as_opts));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_policy_denies_sample_tee),
		cmocka_unit_test(test_default_policy_allows_real_tee),
		cmocka_unit_test(test_allow_all_and_deny_all),
		cmocka_unit_test(test_affirming_policy),
		cmocka_unit_test(test_engine_policies),
		cmocka_unit_test(test_legacy_v0_policy),
		cmocka_unit_test(test_integration_kbs_policies),
		cmocka_unit_test(test_ear_default_cpu_sample),
		cmocka_unit_test(test_ear_default_cpu_platforms),
		cmocka_unit_test(test_ear_default_cpu_snp_else),
		cmocka_unit_test(test_ear_extensions_identifiers),
		cmocka_unit_test(test_ear_device_policies),
		cmocka_unit_test(test_ear_no_rv_and_examples),
		cmocka_unit_test(test_legacy_simple_policy),
		cmocka_unit_test(test_every_shipped_policy_compiles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
