# SPDX-License-Identifier: Apache-2.0
"""The kbs spreads keep-alive connections over its HTTP worker threads (common/http_server.c:
the worker that accepts hands each new connection to the one with the fewest connections), and
/metrics shows the per-worker figures (docs/performance.md, KBS end to end)."""
import http.client
import re

from kbs_pyclient import start_kbs


def worker_figures(text, name):
    return {int(w): int(v) for w, v in
            re.findall(r'^%s\{worker="(\d+)"\} (\d+)$' % name, text, re.M)}


def test_burst_of_keepalive_connections_uses_every_worker(daemons, free_port, tmp_dir):
    port = free_port()
    start_kbs(daemons, tmp_dir, port, http_extra="worker_count = 2")
    # connect all first (they wait in the listen backlog together), then use each one
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(6)]
    for c in conns:
        c.connect()
    for _ in range(2):
        for c in conns:
            c.request("GET", "/healthz")
            r = c.getresponse()
            r.read()
            assert r.status == 200 and not r.will_close
    conns[0].request("GET", "/metrics")
    r = conns[0].getresponse()
    text = r.read().decode()
    assert r.status == 200, text
    open_ = worker_figures(text, "kbs_http_worker_connections")
    total = worker_figures(text, "kbs_http_worker_connections_total")
    assert sorted(open_) == [0, 1] and sorted(total) == [0, 1], text
    # six keep-alive connections, open together: three on each worker, none left idle (a
    # readiness probe's connection not yet seen closed may add one)
    assert min(open_.values()) >= 3 and max(open_.values()) - min(open_.values()) <= 1, text
    assert sum(total.values()) >= 6, text  # plus the readiness probes' connections
    for c in conns:
        c.close()
