// SPDX-License-Identifier: Apache-2.0
#include "server/kbs/metrics.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/http_server.h"

#ifndef KBSFS_VERSION
#define KBSFS_VERSION "0.1.0"
#endif

static const int statuses[] = {200, 400, 401, 404, 405, 413, 431, 500};
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0]) + 1) /* + "other" */
static const double buckets[] = {0.0005, 0.001, 0.005, 0.01, 0.05, 0.5, 1};
#define NBUCKET (sizeof(buckets) / sizeof(buckets[0]))
static const char *const tees[] = {"az-snp-vtpm", "az-tdx-vtpm", "nvidia",   "sgx",
				   "snp",         "tdx",         "cca",      "csv",
				   "se",          "hygondcu",    "tpm",      "sample",
				   "sampledevice", "other"};
#define NTEE (sizeof(tees) / sizeof(tees[0]))

static const char *const ep_names[KBS_EP__COUNT] = {
	"auth", "attest", "resource", "resource-policy", "attestation-policy",
	"reference-value", "metrics", "healthz", "other"};

static const char *const cnt_names[KBS_CNT__COUNT] = {
	"kbs_resource_reads_total",     "kbs_resource_writes_total",
	"kbs_resource_deletes_total",   "kbs_policy_evaluations_total",
	"kbs_policy_approvals_total",   "kbs_policy_violations_total",
	"kbs_policy_errors_total",      "kbs_token_cache_hits_total"};

struct kbs_metrics {
	pthread_mutex_t lock;
	uint64_t req[KBS_EP__COUNT][NSTATUS];
	uint64_t hist[KBS_EP__COUNT][NBUCKET];
	uint64_t hist_count[KBS_EP__COUNT];
	double hist_sum[KBS_EP__COUNT];
	uint64_t att[NTEE][2];
	uint64_t cnt[KBS_CNT__COUNT];
};

const char *kbs_endpoint_name(enum kbs_endpoint ep)
{
	return (unsigned)ep < KBS_EP__COUNT ? ep_names[ep] : "other";
}

int kbs_metrics_new(struct kbs_metrics **out)
{
	struct kbs_metrics *m = calloc(1, sizeof(*m));

	*out = m;
	if (!m)
		return KBS_ERR_NOMEM;
	pthread_mutex_init(&m->lock, NULL);
	return KBS_OK;
}

void kbs_metrics_free(struct kbs_metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m);
}

void kbs_metrics_request(struct kbs_metrics *m, enum kbs_endpoint ep, int status,
			 double seconds)
{
	size_t si = NSTATUS - 1;

	if ((unsigned)ep >= KBS_EP__COUNT)
		ep = KBS_EP_OTHER;
	for (size_t i = 0; i < NSTATUS - 1; i++)
		if (statuses[i] == status)
			si = i;
	pthread_mutex_lock(&m->lock);
	m->req[ep][si]++;
	for (size_t i = 0; i < NBUCKET; i++)
		if (seconds <= buckets[i])
			m->hist[ep][i]++;
	m->hist_count[ep]++;
	m->hist_sum[ep] += seconds;
	pthread_mutex_unlock(&m->lock);
}

void kbs_metrics_attestation(struct kbs_metrics *m, const char *tee, int success)
{
	size_t ti = NTEE - 1;

	for (size_t i = 0; tee && i < NTEE - 1; i++)
		if (strcmp(tees[i], tee) == 0)
			ti = i;
	pthread_mutex_lock(&m->lock);
	m->att[ti][success ? 0 : 1]++;
	pthread_mutex_unlock(&m->lock);
}

void kbs_metrics_inc(struct kbs_metrics *m, enum kbs_counter c)
{
	if ((unsigned)c >= KBS_CNT__COUNT)
		return;
	pthread_mutex_lock(&m->lock);
	m->cnt[c]++;
	pthread_mutex_unlock(&m->lock);
}

int kbs_metrics_render(struct kbs_metrics *m, size_t sessions, struct buf *out)
{
	struct kbs_metrics s;
	int rc = KBS_OK;

	pthread_mutex_lock(&m->lock);
	memcpy(&s, m, sizeof(s));
	pthread_mutex_unlock(&m->lock);

#define P(...)                                                                                     \
	do {                                                                                       \
		if (rc == KBS_OK)                                                                  \
			rc = buf_printf(out, __VA_ARGS__);                                         \
	} while (0)
	P("# HELP kbs_build_info KBS build information.\n# TYPE kbs_build_info gauge\n"
	  "kbs_build_info{version=\"%s\",implementation=\"kbsfs\"} 1\n", KBSFS_VERSION);
	P("# HELP kbs_http_requests_total HTTP requests by endpoint and status.\n"
	  "# TYPE kbs_http_requests_total counter\n");
	for (size_t e = 0; e < KBS_EP__COUNT; e++)
		for (size_t i = 0; i < NSTATUS; i++)
			if (s.req[e][i]) {
				if (i < NSTATUS - 1)
					P("kbs_http_requests_total{endpoint=\"%s\",status=\"%d\"} "
					  "%llu\n", ep_names[e], statuses[i],
					  (unsigned long long)s.req[e][i]);
				else
					P("kbs_http_requests_total{endpoint=\"%s\",status=\"other\"} "
					  "%llu\n", ep_names[e], (unsigned long long)s.req[e][i]);
			}
	P("# HELP kbs_http_request_duration_seconds Request latency by endpoint.\n"
	  "# TYPE kbs_http_request_duration_seconds histogram\n");
	for (size_t e = 0; e < KBS_EP__COUNT; e++) {
		if (!s.hist_count[e])
			continue;
		for (size_t i = 0; i < NBUCKET; i++) {
			char le[32];
			/* buf_printf's format is a plain printf: %g is fine here */
			snprintf(le, sizeof(le), "%g", buckets[i]);
			P("kbs_http_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%s\"} "
			  "%llu\n", ep_names[e], le, (unsigned long long)s.hist[e][i]);
		}
		P("kbs_http_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n",
		  ep_names[e], (unsigned long long)s.hist_count[e]);
		P("kbs_http_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n", ep_names[e],
		  s.hist_sum[e]);
		P("kbs_http_request_duration_seconds_count{endpoint=\"%s\"} %llu\n", ep_names[e],
		  (unsigned long long)s.hist_count[e]);
	}
	P("# HELP kbs_attestations_total Attestations by TEE and result.\n"
	  "# TYPE kbs_attestations_total counter\n");
	for (size_t t = 0; t < NTEE; t++)
		for (int r = 0; r < 2; r++)
			if (s.att[t][r])
				P("kbs_attestations_total{tee=\"%s\",result=\"%s\"} %llu\n",
				  tees[t], r ? "failure" : "success",
				  (unsigned long long)s.att[t][r]);
	P("# HELP kbs_attestation_successes_total Successful attestations (Trustee name).\n"
	  "# TYPE kbs_attestation_successes_total counter\n");
	for (size_t t = 0; t < NTEE; t++)
		if (s.att[t][0])
			P("kbs_attestation_successes_total{tee_type=\"%s\"} %llu\n", tees[t],
			  (unsigned long long)s.att[t][0]);
	P("# HELP kbs_attestation_failures_total Failed attestations (Trustee name).\n"
	  "# TYPE kbs_attestation_failures_total counter\n");
	for (size_t t = 0; t < NTEE; t++)
		if (s.att[t][1])
			P("kbs_attestation_failures_total{tee_type=\"%s\"} %llu\n", tees[t],
			  (unsigned long long)s.att[t][1]);
	for (size_t c = 0; c < KBS_CNT__COUNT; c++)
		P("# TYPE %s counter\n%s %llu\n", cnt_names[c], cnt_names[c],
		  (unsigned long long)s.cnt[c]);
	P("# HELP kbs_sessions Live RCAR sessions.\n# TYPE kbs_sessions gauge\nkbs_sessions %zu\n",
	  sessions);
#undef P
	return rc;
}

int kbs_metrics_render_workers(const struct http_server *srv, struct buf *out)
{
	int n = http_server_workers(srv), rc = KBS_OK;

	if (n <= 0)
		return KBS_OK;
	rc = buf_printf(out, "# HELP kbs_http_worker_connections Connections open on each HTTP "
			     "worker thread.\n# TYPE kbs_http_worker_connections gauge\n");
	for (int i = 0; i < n && rc == KBS_OK; i++) {
		size_t open = 0;

		http_server_worker_stats(srv, i, &open, NULL);
		rc = buf_printf(out, "kbs_http_worker_connections{worker=\"%d\"} %zu\n", i, open);
	}
	if (rc == KBS_OK)
		rc = buf_printf(out, "# HELP kbs_http_worker_connections_total Connections each HTTP "
				     "worker thread has taken on.\n"
				     "# TYPE kbs_http_worker_connections_total counter\n");
	for (int i = 0; i < n && rc == KBS_OK; i++) {
		uint64_t total = 0;

		http_server_worker_stats(srv, i, NULL, &total);
		rc = buf_printf(out, "kbs_http_worker_connections_total{worker=\"%d\"} %llu\n", i,
				(unsigned long long)total);
	}
	return rc;
}
