# SPDX-License-Identifier: Apache-2.0
"""Trustee's own integration scenarios (kbs-protocol §20) with its policy texts, verbatim."""
import base64
import hashlib

import pytest

from kbs_pyclient import Admin, KbsClient, error_type, start_kbs

SECRET = b"shhhhhhh"


@pytest.fixture
def kbs(daemons, tmp_dir, free_port):
    url, _, _, _ = start_kbs(daemons, tmp_dir, free_port())
    Admin(url).set_resource("default/test/secret", SECRET)
    return url


def policy(test_data, name):
    return (test_data / "kbs" / "trustee" / "integration" / name).read_text()


def fetch(url, **kw):
    c = KbsClient(url)
    c.rcar(**kw)
    return c, c.get("default/test/secret")


def test_basic_allow_all_and_deny_all(kbs, test_data):
    a = Admin(kbs)
    assert a.set_resource_policy(policy(test_data, "kbs-allow-all.rego")).status_code == 200
    c, r = fetch(kbs)
    assert c.key.decrypt(r.json()) == SECRET
    assert a.set_resource_policy(policy(test_data, "kbs-deny-all.rego")).status_code == 200
    _, r = fetch(kbs)
    assert r.status_code == 401 and error_type(r) == "PolicyDeny"


def test_contraindicated_then_reference_values(kbs, test_data):
    a = Admin(kbs)
    assert a.set_resource_policy(policy(test_data, "kbs-check-contraindicated.rego")
                                 ).status_code == 200
    r = a.set_attestation_policy(policy(test_data, "as-ear-contraindicated_cpu.rego"))
    assert r.status_code == 200, r.text
    _, r = fetch(kbs)
    assert r.status_code == 401 and error_type(r) == "PolicyDeny"
    r = a.set_attestation_policy(policy(test_data, "as-ear-rv_cpu.rego"))
    assert r.status_code == 200, r.text
    r = a.set_reference_values({"svn": ["1"], "launch_digest": ["abcde"], "major_version": 1,
                                "minimum_minor_version": 1})
    assert r.status_code == 200, r.text
    c, r = fetch(kbs)
    assert r.status_code == 200, r.text
    assert c.key.decrypt(r.json()) == SECRET
    import requests
    v = requests.get(kbs + "/kbs/v0/reference-value/svn")
    assert v.status_code == 200 and v.json() == ["1"]


def test_init_data_hash_policy(kbs, test_data):
    init = policy(test_data, "simple-init-data.toml")
    digest = base64.b64encode(hashlib.sha256(init.encode()).digest()).decode()
    assert digest == "3wlz8dSrJAhU3wLkZ9HzClrvUrnBJr66MzBV40YGXIw="
    tmpl = policy(test_data, "kbs-init-data-hash.rego.template")
    a = Admin(kbs)
    assert a.set_resource_policy(tmpl.replace("{init_data_hash}", digest)).status_code == 200
    c, r = fetch(kbs, init_data=init)
    assert r.status_code == 200, r.text
    assert c.key.decrypt(r.json()) == SECRET
    _, r = fetch(kbs)  # no init-data: denied
    assert r.status_code == 401 and error_type(r) == "PolicyDeny"


def test_init_data_config_field_policy(kbs, test_data):
    a = Admin(kbs)
    assert a.set_resource_policy(policy(test_data, "kbs-init-data-config-field.rego")
                                 ).status_code == 200
    c, r = fetch(kbs, init_data=policy(test_data, "simple-init-data.toml"))
    assert r.status_code == 200, r.text
    assert c.key.decrypt(r.json()) == SECRET
