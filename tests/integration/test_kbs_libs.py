# SPDX-License-Identifier: Apache-2.0
"""Optional libraries stay out of the kbs until its configuration uses them
(docs/performance.md, "KBS end to end", idle memory): libgrpc (coco_as_grpc, GrpcRemote RVPS),
libpq (PostgreSQL store/backend) and libxml2 (swid reference values) are loaded with dlopen()
(common/dynlib.h), so a kbs on LocalFs with the built-in AS neither links nor maps them nor
what they pull in (libstdc++, abseil, GnuTLS, Kerberos, LDAP, ICU)."""
import os

import requests

from kbs_pyclient import start_kbs
from kbsfs_testlib import needed_libs

# libraries only some configurations need: never NEEDED by the kbs binaries
OPTIONAL = ("libgrpc", "libgpr", "libxml2", "libpq")
# what they pull in: must not be mapped by a kbs that does not use them
PULLED_IN = OPTIONAL + ("libstdc++", "libabsl", "libicuuc", "libgnutls", "libkrb5",
                        "libldap", "libp11-kit")


def mapped(pid):
    with open(f"/proc/{pid}/maps") as f:
        return {os.path.basename(line.split()[-1]) for line in f if "/" in line}


def hits(names, prefixes):
    return sorted(n for n in names if n.startswith(prefixes))


def sanitizer_deps(pid):
    """What the sanitizer runtimes of an ASan/UBSan build bring along themselves (libasan
    NEEDs libstdc++): not the kbs's doing, so not counted against it."""
    deps = set()
    with open(f"/proc/{pid}/maps") as f:
        paths = {line.split()[-1] for line in f if "/" in line}
    for path in paths:
        if os.path.basename(path).startswith(("libasan", "libubsan")):
            deps.update(needed_libs(path))
    return deps


def unexpected(pid, prefixes):
    allowed = tuple(a.split(".so")[0] + ".so" for a in sanitizer_deps(pid))
    return [n for n in hits(mapped(pid), prefixes) if not (allowed and n.startswith(allowed))]


def test_kbs_binaries_do_not_link_optional_libraries():
    for name in ("kbs", "resource-kbs"):
        needed = needed_libs(name)
        assert "libssl.so.3" in needed, needed  # the right binary: it does TLS
        assert not hits(needed, OPTIONAL), (name, needed)


def test_idle_kbs_maps_none_then_swid_loads_libxml2_only(daemons, free_port, tmp_dir,
                                                         test_data, tls_cert):
    cert = tls_cert()
    url, verify, d, _ = start_kbs(daemons, tmp_dir, free_port(), tls=cert)
    r = requests.get(url + "/kbs/v0/reference-value/nothing", verify=verify, timeout=10)
    assert r.status_code in (200, 401, 404), r.text  # the built-in RVPS answered
    assert not unexpected(d.pid, PULLED_IN), mapped(d.pid)
    # a swid reference value needs the XML parser: loaded then, and nothing else with it
    msg = (test_data / "rvps" / "rvps-swid-message-test-rim.json").read_text()
    r = requests.post(url + "/kbs/v0/reference-value", data=msg, verify=verify, timeout=10)
    assert r.status_code == 200, r.text
    now = mapped(d.pid)
    assert hits(now, ("libxml2",)), now
    assert not hits(now, ("libgrpc", "libgpr", "libpq", "libgnutls")), now
    # (ICU brings libstdc++ along)
