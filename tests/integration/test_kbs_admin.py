# SPDX-License-Identifier: Apache-2.0
"""Admin API authentication: Trustee's bearer JWT + role ACL, DenyAll, legacy key modes."""
import time

import pytest
import requests

from kbs_pyclient import (ALLOW_ALL, Admin, KbsClient, admin_token, error_type, jwt_sign,
                          start_kbs)


def authn(pub, issuer=None, audience=None, acl=None):
    idp = '{ public_key_uri = "%s"' % pub
    if issuer:
        idp += ', issuer = "%s"' % issuer
    if audience:
        idp += ', audience = "%s"' % audience
    idp += " }"
    s = ('[admin]\nauthorization_mode = "AuthenticatedAuthorization"\n'
         "[admin.authentication.bearer_jwt]\nidentity_providers = [%s]\n" % idp)
    if acl:
        s += "[admin.authorization.regex_acl]\nacls = [%s]\n" % ", ".join(
            '{ role = "%s", allowed_endpoints = "%s" }' % a for a in acl)
    return s


@pytest.mark.parametrize("kind", ["ec", "rsa", "ed25519"])
def test_admin_jwt_key_types(daemons, tmp_dir, free_port, keypair, kind):
    kp = keypair(kind)
    url, _, _, _ = start_kbs(daemons, tmp_dir, free_port(), admin=authn(kp.public))
    good = Admin(url, admin_token(kp.key_obj))
    assert good.set_resource("default/a/b", b"v").status_code == 200
    assert good.set_resource_policy(ALLOW_ALL).status_code == 200
    c = KbsClient(url)
    c.rcar()
    assert c.get_secret("default/a/b") == b"v"


def test_admin_rejections(daemons, tmp_dir, free_port, keypair):
    kp = keypair("ec", name="admin")
    other = keypair("ec", name="other")
    url, _, _, _ = start_kbs(daemons, tmp_dir, free_port(),
                             admin=authn(kp.public, issuer="me", audience="kbs"))

    def check(token, etype_res, etype_pol, detail):
        a = Admin(url, token)
        r = a.set_resource("default/a/b", b"v")
        assert r.status_code == 401 and error_type(r) == etype_res, r.text
        assert detail in r.json()["detail"], r.text
        r = a.set_resource_policy(ALLOW_ALL)
        assert r.status_code == 401 and error_type(r) == etype_pol, r.text
        assert detail in r.json()["detail"] and "resource-policy" in r.json()["detail"]
        r = a.delete_resource("default/a/b")
        assert r.status_code == 401 and error_type(r) == etype_res

    ok = dict(issuer="me", audience="kbs")
    check(None, "AdminAuthInitialization", "AdminAuthAccess",
          "Failed to parse HTTP Auth Bearer header")
    check(admin_token(other.key_obj, **ok), "AdminAuthInitialization", "AdminAuthAccess",
          "Cannot verify token with any of the issuers")
    check(admin_token(kp.key_obj, lifetime=-300, **ok), "AdminAuthInitialization",
          "AdminAuthAccess", "Cannot verify token")
    check(admin_token(kp.key_obj, issuer="you", audience="kbs"), "AdminAuthInitialization",
          "AdminAuthAccess", "Cannot verify token")
    check(admin_token(kp.key_obj, issuer="me", audience="other"), "AdminAuthInitialization",
          "AdminAuthAccess", "Cannot verify token")
    check(admin_token(kp.key_obj, role=None, **ok), "AdminAuthInitialization",
          "AdminAuthAccess", "Missing required `role` claim")
    check(admin_token(kp.key_obj, role="tester", **ok), "AdminAuthInitialization",
          "AdminAuthAccess", "Role tester not allowed")
    # no exp at all
    now = int(time.time())
    noexp = jwt_sign({"typ": "JWT"}, {"iat": now, "role": "admin", **{"iss": "me", "aud": "kbs"}},
                     kp.key_obj)
    check(noexp, "AdminAuthInitialization", "AdminAuthAccess", "Cannot verify token")
    # alg none
    tok = admin_token(kp.key_obj, **ok).split(".")
    none = "eyJhbGciOiJub25lIn0." + tok[1] + "."
    check(none, "AdminAuthInitialization", "AdminAuthAccess", "Cannot verify token")
    # aud as array accepted
    a = Admin(url, admin_token(kp.key_obj, issuer="me", audience=["x", "kbs"]))
    assert a.set_resource("default/a/b", b"v").status_code == 200


def test_admin_role_acl(daemons, tmp_dir, free_port, keypair):
    kp = keypair("ec")
    acl = [("admin", "^/kbs/.+$"), ("tester", "^/kbs/v0/reference-value/[a-zA-Z0-9]+$")]
    url, _, _, _ = start_kbs(daemons, tmp_dir, free_port(), admin=authn(kp.public, acl=acl))
    t = Admin(url, admin_token(kp.key_obj, role="tester"))
    r = t.set_resource_policy(ALLOW_ALL)
    assert r.status_code == 401 and "Role tester not allowed" in r.json()["detail"]
    a = Admin(url, admin_token(kp.key_obj, role="admin"))
    assert a.set_reference_values({"svn": ["1"]}).status_code == 200
    r = requests.get(url + "/kbs/v0/reference-value/svn",
                     headers={"Authorization": "Bearer " + t.token})
    assert r.status_code == 200 and r.json() == ["1"]


@pytest.mark.parametrize("value", ["1", 7, True, 2.5, {"a": ["b"]}, ["x", "y"]])
def test_reference_value_get_returns_any_stored_json(daemons, tmp_dir, free_port, value):
    # kbs-client set-sample-reference-value --as-single-value stores a bare string (or an
    # integer / boolean); Trustee's GET answers the stored JSON text whatever its type
    url, _, _, _ = start_kbs(daemons, tmp_dir, free_port())
    a = Admin(url)
    assert a.set_reference_values({"rv": value}).status_code == 200
    r = requests.get(url + "/kbs/v0/reference-value/rv")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == value


def test_deny_all_and_default_admin(daemons, tmp_dir, free_port):
    url, _, _, _ = start_kbs(daemons, tmp_dir, free_port(),
                             admin='[admin]\nauthorization_mode = "DenyAll"\n')
    r = Admin(url).set_resource("default/a/b", b"v")
    assert r.status_code == 401 and "DenyAll authorization_mode is enabled" in r.text
    # no [admin] table at all: closed as well
    url2, _, _, _ = start_kbs(daemons, tmp_dir, free_port(), admin="", name="kbs2")
    r = Admin(url2).set_resource_policy(ALLOW_ALL)
    assert r.status_code == 401 and error_type(r) == "AdminAuthAccess"


def test_legacy_personas_ed25519(daemons, tmp_dir, free_port, keypair):
    kp = keypair("ed25519")
    admin = ('[admin]\ntype = "Simple"\n[[admin.personas]]\nid = "admin"\n'
             'public_key_path = "%s"\n' % kp.public)
    url, _, _, _ = start_kbs(daemons, tmp_dir, free_port(), admin=admin)
    assert Admin(url, admin_token(kp.key_obj, role=None)).set_resource(
        "default/a/b", b"v").status_code == 200
    other = keypair("ed25519", name="other")
    r = Admin(url, admin_token(other.key_obj, role=None)).set_resource("default/a/b", b"v")
    assert r.status_code == 401


def test_legacy_insecure_api(daemons, tmp_dir, free_port):
    url, _, _, _ = start_kbs(daemons, tmp_dir, free_port(),
                             admin="[admin]\ninsecure_api = true\n")
    assert Admin(url).set_resource("default/a/b", b"v").status_code == 200
