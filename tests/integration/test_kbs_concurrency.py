# SPDX-License-Identifier: Apache-2.0
"""1,000 concurrent RCAR sessions against one kbs with zero errors."""
import os
from concurrent.futures import ThreadPoolExecutor

from kbs_pyclient import ALLOW_ALL, Admin, KbsClient, TeeKey, metric_value, start_kbs

N = 1000


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def test_thousand_concurrent_sessions(daemons, tmp_dir, free_port):
    url, _, d, _ = start_kbs(daemons, tmp_dir, free_port())
    a = Admin(url)
    a.set_resource("default/c/k", b"concurrent")
    a.set_resource_policy(ALLOW_ALL)
    key = TeeKey()  # one key: the load is on the server, not on Python key generation
    clients = [KbsClient(url, tee_key=key) for _ in range(N)]
    # phase 1: all sessions open at once (auth), then all attest, then all read
    with ThreadPoolExecutor(max_workers=32) as ex:
        nonces = list(ex.map(lambda c: c.auth().json()["nonce"], clients))
        toks = list(ex.map(lambda cn: cn[0].attest(cn[0].attest_body(cn[1])),
                           zip(clients, nonces)))
        assert all(r.status_code == 200 for r in toks)
        got = list(ex.map(lambda c: c.get("default/c/k"), clients))
    assert [r.status_code for r in got] == [200] * N
    assert key.decrypt(got[0].json()) == b"concurrent"
    assert key.decrypt(got[-1].json()) == b"concurrent"
    assert metric_value(url, "kbs_attestations_total",
                        {"tee": "sample", "result": "success"}) == N
    # bounded memory: 1,000 live sessions (each holding its ~2 KB token) stay far below
    # 100 MB; docs/performance.md measured 54 MB peak after 22,000 sessions
    assert d.proc.poll() is None
    # ASan's shadow memory and quarantine multiply the resident size, so the bound is only
    # meaningful for the default build (KBS_CONFIG is passed by ctest).
    limit_mb = 400 if os.environ.get("KBS_CONFIG") == "asan" else 100
    assert rss_kb(d.proc.pid) < limit_mb * 1024, rss_kb(d.proc.pid)
