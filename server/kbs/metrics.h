/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KBS_SERVER_METRICS_H
#define KBS_SERVER_METRICS_H

#include <stddef.h>

#include "common/buf.h"

/*
 * Prometheus counters of the KBS (text exposition format 0.0.4). Fixed label sets, so
 * the memory use is constant and nothing from requests becomes a label value.
 */
enum kbs_endpoint {
	KBS_EP_AUTH = 0,
	KBS_EP_ATTEST,
	KBS_EP_RESOURCE,
	KBS_EP_RESOURCE_POLICY,
	KBS_EP_ATTESTATION_POLICY,
	KBS_EP_REFERENCE_VALUE,
	KBS_EP_METRICS,
	KBS_EP_HEALTH,
	KBS_EP_OTHER,
	KBS_EP__COUNT
};

enum kbs_counter {
	KBS_CNT_RESOURCE_READS = 0,
	KBS_CNT_RESOURCE_WRITES,
	KBS_CNT_RESOURCE_DELETES,
	KBS_CNT_POLICY_EVALUATIONS,
	KBS_CNT_POLICY_APPROVALS,
	KBS_CNT_POLICY_VIOLATIONS,
	KBS_CNT_POLICY_ERRORS,
	KBS_CNT_TOKEN_CACHE_HITS,
	KBS_CNT__COUNT
};

struct kbs_metrics;

int kbs_metrics_new(struct kbs_metrics **out);
void kbs_metrics_free(struct kbs_metrics *m);

void kbs_metrics_request(struct kbs_metrics *m, enum kbs_endpoint ep, int status,
			 double seconds);
/* result: true = success. tee outside the known list is counted as "other". */
void kbs_metrics_attestation(struct kbs_metrics *m, const char *tee, int success);
void kbs_metrics_inc(struct kbs_metrics *m, enum kbs_counter c);

/* Appends the exposition text; sessions = current live RCAR sessions. */
int kbs_metrics_render(struct kbs_metrics *m, size_t sessions, struct buf *out);

/*
 * Appends the per-worker connection gauges and counters of the HTTP server
 * (kbs_http_worker_connections{worker="i"}, kbs_http_worker_connections_total{worker="i"});
 * nothing when srv is NULL.
 */
struct http_server;
int kbs_metrics_render_workers(const struct http_server *srv, struct buf *out);

const char *kbs_endpoint_name(enum kbs_endpoint ep);

#endif
