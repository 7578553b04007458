// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP wrapper throughput on loopback: in-process server + client, small JSON-sized bodies.
 * usage: bench_http [seconds-per-case] [cert.pem key.pem]
 * Cases: keep-alive sequential, keep-alive with 4 client threads, new connection per request;
 * plain HTTP and (when a cert/key pair is given) TLS.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/http_client.h"
#include "common/http_server.h"

static int handler(void *ctx, const struct http_request *r, struct http_response *resp)
{
	size_t n;

	(void)http_request_body(r, &n);
	http_response_header(resp, "Content-Type", "application/json");
	return buf_printf(&resp->body, "{\"nonce\":\"%064d\",\"len\":%zu}", 0, n);
}

struct job {
	char url[128];
	const char *ca;
	long ms;
	int fresh; /* new client (= new connection) per request */
	long done;
	long failed;
};

static struct http_client *mk(const char *ca)
{
	struct http_client_config cc = {.ca_file = ca};
	struct http_client *c = NULL;

	http_client_new(&cc, &c);
	return c;
}

static void *run(void *p)
{
	struct job *j = p;
	struct http_client *c = j->fresh ? NULL : mk(j->ca);
	int64_t end = http_now_ms() + j->ms;
	static const char body[] = "{\"tee\":\"sample\",\"extra-params\":\"\"}";

	while (http_now_ms() < end) {
		struct http_result res;

		if (j->fresh)
			c = mk(j->ca);
		if (c != NULL &&
		    http_client_request(c, "POST", j->url, NULL, body, sizeof(body) - 1, 0, &res) ==
			KBS_OK &&
		    res.status == 200)
			j->done++;
		else
			j->failed++;
		http_result_release(&res);
		if (j->fresh) {
			http_client_free(c);
			c = NULL;
		}
	}
	http_client_free(c);
	return NULL;
}

static void bench(const char *name, int port, int tls, const char *ca, int threads, int fresh,
		  long ms)
{
	struct job j[8];
	pthread_t th[8];
	long done = 0, failed = 0;

	for (int i = 0; i < threads; i++) {
		memset(&j[i], 0, sizeof(j[i]));
		snprintf(j[i].url, sizeof(j[i].url), "%s://127.0.0.1:%d/kbs/v0/auth",
			 tls ? "https" : "http", port);
		j[i].ca = ca;
		j[i].ms = ms;
		j[i].fresh = fresh;
		pthread_create(&th[i], NULL, run, &j[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		done += j[i].done;
		failed += j[i].failed;
	}
	printf("%-34s %9.0f req/s  (%ld ok, %ld failed, %d client thread%s)\n", name,
	       (double)done * 1000.0 / (double)ms, done, failed, threads, threads > 1 ? "s" : "");
}

static void suite(int tls, const char *cert, const char *key, long ms)
{
	const char *addr[] = {"127.0.0.1:0"};
	struct http_server_config cfg = {.listen = addr,
					 .nlisten = 1,
					 .tls = tls,
					 .cert_file = cert,
					 .key_file = key,
					 .workers = 2};
	struct http_server *s;
	const char *p = tls ? "https" : "http";
	char n[64];

	if (http_server_new(&cfg, handler, NULL, &s) != KBS_OK || http_server_start(s) != KBS_OK) {
		fprintf(stderr, "bench_http: server setup failed\n");
		exit(1);
	}
	int port = http_server_port(s, 0);
	snprintf(n, sizeof(n), "%s keep-alive sequential", p);
	bench(n, port, tls, cert, 1, 0, ms);
	snprintf(n, sizeof(n), "%s keep-alive 4 threads", p);
	bench(n, port, tls, cert, 4, 0, ms);
	snprintf(n, sizeof(n), "%s new connection per request", p);
	bench(n, port, tls, cert, 1, 1, ms);
	http_server_free(s);
}

int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) * 1000 : 3000;

	if (ms <= 0)
		ms = 3000;
	suite(0, NULL, NULL, ms);
	if (argc > 3)
		suite(1, argv[2], argv[3], ms);
	return 0;
}
