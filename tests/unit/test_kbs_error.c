// SPDX-License-Identifier: Apache-2.0
/* The KBS error table (Trustee statuses and names) and the error body; metrics rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "common/err.h"
#include "server/kbs/kbs_error.h"
#include "server/kbs/metrics.h"

static void test_statuses(void **state)
{
	(void)state;
	for (int e = 0; e < KBS_WERR__COUNT; e++) {
		int st = kbs_werr_status((enum kbs_werr)e);
		if (e == KBS_WERR_PLUGIN_NOT_FOUND || e == KBS_WERR_INVALID_REQUEST_PATH)
			assert_int_equal(st, 404);
		else if (e == KBS_WERR_METHOD_NOT_ALLOWED)
			assert_int_equal(st, 405);
		else if (e == KBS_WERR_PAYLOAD_TOO_LARGE)
			assert_int_equal(st, 413);
		else if (e == KBS_WERR_POSTGRES_UNAVAILABLE || e == KBS_WERR_PKCS11_UNAVAILABLE ||
			 e == KBS_WERR_VAULT_UNAVAILABLE || e == KBS_WERR_AZURE_KV_UNAVAILABLE)
			assert_int_equal(st, 503);
		else
			assert_int_equal(st, 401);
		assert_non_null(kbs_werr_name((enum kbs_werr)e));
	}
	assert_string_equal(kbs_werr_name(KBS_WERR_POLICY_DENY), "PolicyDeny");
	assert_string_equal(kbs_werr_name(KBS_WERR_TOKEN_VERIFIER), "TokenVerifierError");
	assert_string_equal(kbs_werr_name(KBS_WERR_PLUGIN_INTERNAL), "PluginInternalError");
	assert_string_equal(kbs_werr_name(KBS_WERR_POSTGRES_UNAVAILABLE), "PostgresUnavailable");
	assert_string_equal(kbs_werr_name(KBS_WERR_PKCS11_UNAVAILABLE), "Pkcs11Unavailable");
	assert_string_equal(kbs_werr_name(KBS_WERR_VAULT_UNAVAILABLE), "VaultUnavailable");
	assert_string_equal(kbs_werr_name(KBS_WERR_AZURE_KV_UNAVAILABLE),
			    "AzureKeyVaultUnavailable");
}

static json_t *body_of(struct http_response *r)
{
	json_t *j = json_loadb((const char *)r->body.p, r->body.len, 0, NULL);
	assert_non_null(j);
	return j;
}

static void test_body_shape_and_detail(void **state)
{
	struct http_response r;
	json_t *j;
	const char *k;
	json_t *v;
	int i = 0;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(kbs_error_respond(&r, KBS_WERR_PLUGIN_INTERNAL, "resource %s not found",
					   "a/b/c"),
			 KBS_OK);
	assert_int_equal(r.status, 401);
	assert_int_equal(r.nheaders, 0); /* Trustee sets no Content-Type */
	j = body_of(&r);
	json_object_foreach(j, k, v) assert_string_equal(k, i++ == 0 ? "type" : "detail");
	assert_string_equal(json_string_value(json_object_get(j, "type")),
			    "https://github.com/confidential-containers/kbs/errors/"
			    "PluginInternalError");
	assert_string_equal(json_string_value(json_object_get(j, "detail")),
			    "Plugin internal error: resource a/b/c not found");
	json_decref(j);

	assert_int_equal(kbs_error_respond(&r, KBS_WERR_PLUGIN_NOT_FOUND, "%s", "auth"), KBS_OK);
	assert_int_equal(r.status, 404);
	j = body_of(&r);
	assert_string_equal(json_string_value(json_object_get(j, "detail")),
			    "Plugin auth not found");
	json_decref(j);

	assert_int_equal(kbs_error_respond(&r, KBS_WERR_TOKEN_NOT_FOUND, NULL), KBS_OK);
	j = body_of(&r);
	assert_string_equal(json_string_value(json_object_get(j, "detail")),
			    "Attestation Token not found");
	json_decref(j);

	/* request bytes quoted in a cause stay printable ASCII and valid JSON */
	assert_int_equal(kbs_error_respond(&r, KBS_WERR_ATTESTATION, "tee '%s'", "\xff\n\"x"),
			 KBS_OK);
	j = body_of(&r);
	assert_string_equal(json_string_value(json_object_get(j, "detail")),
			    "Attestation error: tee '??\"x'");
	json_decref(j);
	buf_release(&r.body);
}

static void test_metrics_render(void **state)
{
	struct kbs_metrics *m = NULL;
	struct buf b = BUF_INIT;

	(void)state;
	assert_int_equal(kbs_metrics_new(&m), KBS_OK);
	kbs_metrics_request(m, KBS_EP_AUTH, 200, 0.0001);
	kbs_metrics_request(m, KBS_EP_RESOURCE, 401, 0.2);
	kbs_metrics_attestation(m, "sample", 1);
	kbs_metrics_attestation(m, "sample", 1);
	kbs_metrics_attestation(m, "weird\"tee", 0);
	assert_int_equal(kbs_metrics_render(m, 7, &b), KBS_OK);
	const char *t = (const char *)b.p;
	assert_non_null(strstr(t, "kbs_http_requests_total{endpoint=\"auth\",status=\"200\"} 1\n"));
	assert_non_null(strstr(t, "kbs_attestations_total{tee=\"sample\",result=\"success\"} 2\n"));
	assert_non_null(strstr(t, "kbs_attestations_total{tee=\"other\",result=\"failure\"} 1\n"));
	assert_non_null(strstr(t, "kbs_http_request_duration_seconds_bucket{endpoint=\"resource\","
				  "le=\"0.05\"} 0\n"));
	assert_non_null(strstr(t, "kbs_http_request_duration_seconds_bucket{endpoint=\"resource\","
				  "le=\"0.5\"} 1\n"));
	assert_non_null(strstr(t, "kbs_sessions 7\n"));
	buf_release(&b);
	kbs_metrics_free(m);
	kbs_metrics_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statuses),
		cmocka_unit_test(test_body_shape_and_detail),
		cmocka_unit_test(test_metrics_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
