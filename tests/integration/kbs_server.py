# SPDX-License-Identifier: Apache-2.0
"""A real kbs for guest-side integration tests (mount helpers, CSI plugin): TLS, open admin
API (test only), LocalFs repository, allow-all resource policy, the sample TEE accepted.
start_admin_jwt_kbs: the same with Trustee's bearer-JWT admin authentication instead."""

import base64
from types import SimpleNamespace

import requests

from kbsfs_testlib import Daemon, free_port, make_ed25519_keypair, make_self_signed_cert

# the identity provider start_admin_jwt_kbs trusts for admin tokens
ADMIN_ISSUER, ADMIN_AUDIENCE = "kbsfs-test", "kbs"

ALLOW_ALL = "package policy\n\ndefault allow = true\n"


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Kbs:
    def __init__(self, daemons, tmp_dir, port, cert):
        self.daemons, self.port, self.cert = daemons, port, cert
        self.url = f"https://127.0.0.1:{port}"
        self.repo = tmp_dir / "repository"
        self.repo.mkdir(exist_ok=True)
        cfg = [
            "[http_server]", f'sockets = ["127.0.0.1:{port}"]',
            f'certificate = "{cert.cert}"', f'private_key = "{cert.key}"', "",
            "[admin]", 'authorization_mode = "InsecureAllowAll"', "",
            "[[plugins]]", 'name = "resource"', 'type = "LocalFs"', f'dir_path = "{self.repo}"',
        ]
        self.config = tmp_dir / "kbs.toml"
        self.config.write_text("\n".join(cfg) + "\n")
        self.daemon = None

    def start(self):
        self.daemon = self.daemons.start(["kbs", "--config-file", str(self.config)],
                                         ready_port=self.port)
        self.set_policy(ALLOW_ALL)
        return self

    def admin(self, method, path, **kw):
        r = requests.request(method, self.url + path, verify=str(self.cert.cert), timeout=10,
                             **kw)
        assert r.status_code == 200, (method, path, r.status_code, r.text)
        return r

    def set_resource(self, path, data):
        self.admin("POST", "/kbs/v0/resource/" + path, data=data,
                   headers={"Content-Type": "application/octet-stream"})

    def set_policy(self, rego):
        self.admin("POST", "/kbs/v0/resource-policy", json={"policy": b64u(rego.encode())})

    def client_options(self):
        """kbsfs options that reach this kbs with the sample TEE."""
        return [f"kbs_url={self.url}", f"kbs_cert={self.cert.cert}", "tee=sample",
                "allow_sample", "timeout=5"]


def start_admin_jwt_kbs(d):
    """A kbs in directory d with TLS (d/kbs.crt), the built-in AS and Trustee's bearer-JWT
    admin authentication: tokens of the Ed25519 key d/admin.key, issuer ADMIN_ISSUER and
    audience ADMIN_AUDIENCE, role admin, may call every /kbs/ endpoint. Returns a namespace
    (daemon, url, port, cert, admin: KeyPairFiles); the caller stops the daemon."""
    port = free_port()
    cert = make_self_signed_cert(d, name="kbs")
    admin = make_ed25519_keypair(d, "admin")
    iss, aud = ADMIN_ISSUER, ADMIN_AUDIENCE
    cfg = d / "kbs-config.toml"
    cfg.write_text(f"""
[http_server]
sockets = ["127.0.0.1:{port}"]
insecure_http = false
certificate = "{cert.cert}"
private_key = "{cert.key}"

[admin]
authorization_mode = "AuthenticatedAuthorization"

[admin.authentication.bearer_jwt]
identity_providers = [
  {{ issuer = "{iss}", audience = "{aud}", public_key_uri = "{admin.public}" }},
]

[admin.authorization.regex_acl]
acls = [ {{ role = "admin", allowed_endpoints = "^/kbs/.+$" }} ]

[attestation_token]
insecure_header_jwk = true

[attestation_service]
type = "coco_as_builtin"
""")
    daemon = Daemon(["kbs", "--config-file", cfg], log_dir=d, ready_port=port).start()
    return SimpleNamespace(daemon=daemon, url=f"https://127.0.0.1:{port}", port=port,
                           cert=cert.cert, admin=admin)
