# SPDX-License-Identifier: Apache-2.0
"""Local stand-ins for the HTTP secret stores the kbs resource backends talk to. They speak
the documented wire shapes (paths, headers, JSON bodies, error bodies) of:

* HashiCorp Vault KV v1 and v2 (X-Vault-Token; /v1/<mount>/<path> for v1,
  /v1/<mount>/data/<path> and /v1/<mount>/metadata/<path> for v2; {"errors": [...]});
* Azure Key Vault secrets (api-version 7.4; GET/PUT/DELETE /secrets/<name>[/<version>],
  {"error": {"code", "message"}}, 401 with WWW-Authenticate, 429 with Retry-After) and the
  Microsoft identity platform token endpoint (/<tenant>/oauth2/v2.0/token, client
  credentials with a client secret or a federated client assertion).

Each server records the requests it saw (method, path, relevant headers) for the tests."""
import base64
import json
import secrets
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, obj=None, headers=None):
        data = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if obj is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        # one request per connection: a stopped mock is really gone for the client
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.server.mock.handle(self, "GET", b"")

    def do_POST(self):
        self.server.mock.handle(self, "POST", self._body())

    def do_PUT(self):
        self.server.mock.handle(self, "PUT", self._body())

    def do_DELETE(self):
        self.server.mock.handle(self, "DELETE", b"")


class _Mock:
    def __init__(self, port, tls=None):
        self.port = port
        self.requests = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.httpd.mock = self
        self.scheme = "http"
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self.url = "%s://127.0.0.1:%d" % (self.scheme, port)
        self.t = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self.t.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def handle(self, h, method, body):
        with self.lock:
            self.requests.append((method, h.path, dict(h.headers), body))
            self.route(h, method, urllib.parse.urlsplit(h.path), body)


# ---------------------------------------------------------------------- HashiCorp Vault

class VaultMock(_Mock):
    """mounts: {"secret": 1, "kv": 2}; store[(mount, path)] = list of data dicts (versions)."""

    def __init__(self, port, token, mounts=None, tls=None):
        super().__init__(port, tls)
        self.token = token
        self.mounts = mounts or {"secret": 1}
        self.store = {}
        self.sealed = False

    def put(self, mount, path, data):
        self.store.setdefault((mount, path), []).append(dict(data))

    def get(self, mount, path):
        v = self.store.get((mount, path))
        return v[-1] if v else None

    def route(self, h, method, u, body):
        if self.sealed:
            return h._send(503, {"errors": ["Vault is sealed"]})
        if h.headers.get("X-Vault-Token") != self.token:
            return h._send(403, {"errors": ["permission denied"]})
        parts = u.path.split("/")
        if len(parts) < 4 or parts[1] != "v1" or parts[2] not in self.mounts:
            return h._send(404, {"errors": ["no handler for route \"%s\"" % u.path]})
        mount, rest = parts[2], parts[3:]
        if self.mounts[mount] == 2:
            if rest[0] not in ("data", "metadata"):
                return h._send(404, {"errors": []})
            kind, path = rest[0], "/".join(rest[1:])
        else:
            kind, path = None, "/".join(rest)
        key = (mount, path)
        if method == "GET":
            if key not in self.store:
                return h._send(404, {"errors": []})
            data = self.store[key][-1]
            if self.mounts[mount] == 2:
                return h._send(200, {"request_id": "r", "lease_id": "", "renewable": False,
                                     "lease_duration": 0,
                                     "data": {"data": data, "metadata": {
                                         "created_time": "2026-11-27T00:00:00Z",
                                         "custom_metadata": None, "deletion_time": "",
                                         "destroyed": False,
                                         "version": len(self.store[key])}},
                                     "wrap_info": None, "warnings": None, "auth": None})
            return h._send(200, {"request_id": "r", "lease_id": "", "renewable": False,
                                 "lease_duration": 2764800, "data": data, "wrap_info": None,
                                 "warnings": None, "auth": None})
        if method in ("POST", "PUT"):
            try:
                doc = json.loads(body)
            except ValueError:
                return h._send(400, {"errors": ["failed to parse JSON input"]})
            if self.mounts[mount] == 2:
                if kind != "data" or not isinstance(doc.get("data"), dict):
                    return h._send(400, {"errors": ["no data provided"]})
                doc = doc["data"]
            self.store.setdefault(key, []).append(doc)
            if self.mounts[mount] == 2:
                return h._send(200, {"data": {"version": len(self.store[key])}})
            return h._send(204)
        if method == "DELETE":
            if self.mounts[mount] == 2 and kind != "metadata":
                self.store.pop(key, None)  # (soft delete of the latest: same for readers)
            self.store.pop(key, None)
            return h._send(204)
        return h._send(405, {"errors": ["unsupported operation"]})


# ---------------------------------------------------------------------- Azure Key Vault

class AkvMock(_Mock):
    """One HTTPS server plays both login.microsoftonline.com (authority) and the vault."""

    def __init__(self, port, tls, tenant, client_id, client_secret=None, assertion=None):
        super().__init__(port, tls)
        self.tenant, self.client_id = tenant, client_id
        self.client_secret, self.assertion = client_secret, assertion
        self.secrets = {}        # name -> list of (version, value, content_type)
        self.tokens = set()
        self.token_requests = []
        self.throttle = 0        # next N vault calls answer 429
        self.retry_after = "1"   # Retry-After of those 429s
        self.auth_broken = False  # the token endpoint refuses the client

    def set_secret(self, name, value, content_type=None):
        ver = secrets.token_hex(16)
        self.secrets.setdefault(name, []).append((ver, value, content_type))
        return ver

    def revoke_tokens(self):
        self.tokens.clear()

    def _err(self, h, status, code, msg, headers=None):
        return h._send(status, {"error": {"code": code, "message": msg}}, headers)

    def _bundle(self, name, ver, value, ct):
        b = {"value": value, "id": "%s/secrets/%s/%s" % (self.url, name, ver),
             "attributes": {"enabled": True, "created": 1764200000, "updated": 1764200000,
                            "recoveryLevel": "Recoverable+Purgeable",
                            "recoverableDays": 90}, "tags": {}}
        if ct:
            b["contentType"] = ct
        return b

    def route(self, h, method, u, body):
        if u.path == "/%s/oauth2/v2.0/token" % self.tenant and method == "POST":
            return self._token(h, body)
        if u.path == "/metadata/identity/oauth2/token" and method == "GET":
            return self._imds(h, urllib.parse.parse_qs(u.query))
        if not u.path.startswith("/secrets/"):
            return self._err(h, 404, "NotFound", "no such route")
        q = urllib.parse.parse_qs(u.query)
        if q.get("api-version") != ["7.4"]:
            return self._err(h, 400, "BadParameter", "api-version missing or unsupported")
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return self._err(h, 401, "Unauthorized", "AKV10000: Request is missing a Bearer "
                             "or PoP token.", {"WWW-Authenticate": 'Bearer authorization="'
                                               'https://login.microsoftonline.com/%s", '
                                               'resource="https://vault.azure.net"'
                                               % self.tenant})
        if self.throttle > 0:
            self.throttle -= 1
            return self._err(h, 429, "Throttled", "Request was not processed because too "
                             "many requests were received.",
                             {"Retry-After": self.retry_after})
        parts = u.path.split("/")[2:]
        name = parts[0]
        ver = parts[1] if len(parts) > 1 and parts[1] else None
        if method == "GET":
            vs = self.secrets.get(name)
            match = [v for v in vs or [] if ver is None or v[0] == ver]
            if not match:
                return self._err(h, 404, "SecretNotFound", "A secret with (name/id) %s was "
                                 "not found in this key vault." % name)
            v = match[-1]
            return h._send(200, self._bundle(name, *v))
        if method == "PUT":
            doc = json.loads(body)
            v = self.set_secret(name, doc["value"], doc.get("contentType"))
            return h._send(200, self._bundle(name, v, doc["value"], doc.get("contentType")))
        if method == "DELETE":
            if name not in self.secrets:
                return self._err(h, 404, "SecretNotFound", "A secret with (name/id) %s was "
                                 "not found in this key vault." % name)
            del self.secrets[name]
            return h._send(200, {"recoveryId": "%s/deletedsecrets/%s" % (self.url, name),
                                 "deletedDate": 1764200000})
        return self._err(h, 405, "MethodNotAllowed", "")

    def _imds(self, h, q):
        """Azure Instance Metadata Service token endpoint (managed identity)."""
        self.token_requests.append({k: v[0] for k, v in q.items()})
        if h.headers.get("Metadata") != "true":
            return h._send(400, {"error": "invalid_request",
                                 "error_description": "Required metadata header not specified"})
        if q.get("api-version") != ["2018-02-01"] or \
                q.get("resource") != ["https://vault.azure.net"]:
            return h._send(400, {"error": "invalid_request",
                                 "error_description": "bad api-version or resource"})
        if self.auth_broken or (q.get("client_id") and q["client_id"] != [self.client_id]):
            return h._send(400, {"error": "invalid_request", "error_description":
                                 "Identity not found"})
        tok = secrets.token_urlsafe(24)
        self.tokens.add(tok)
        # IMDS sends every number as a string
        return h._send(200, {"access_token": tok, "client_id": self.client_id,
                             "expires_in": "86399", "expires_on": "1764286399",
                             "ext_expires_in": "86399", "not_before": "1764199699",
                             "resource": "https://vault.azure.net", "token_type": "Bearer"})

    def _token(self, h, body):
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
        self.token_requests.append(form)
        ok = (form.get("grant_type") == "client_credentials" and
              form.get("client_id") == self.client_id and
              form.get("scope") == "https://vault.azure.net/.default")
        if self.client_secret is not None:
            ok = ok and form.get("client_secret") == self.client_secret
        if self.assertion is not None:
            ok = ok and form.get("client_assertion") == self.assertion and \
                form.get("client_assertion_type") == \
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        if self.auth_broken or not ok:
            return h._send(401, {"error": "invalid_client", "error_description":
                                 "AADSTS7000215: Invalid client secret provided.",
                                 "error_codes": [7000215], "timestamp": "2026-11-27",
                                 "trace_id": "t", "correlation_id": "c"})
        tok = secrets.token_urlsafe(24)
        self.tokens.add(tok)
        return h._send(200, {"token_type": "Bearer", "expires_in": 3599,
                             "ext_expires_in": 3599, "access_token": tok})


def b64(data):
    return base64.b64encode(data).decode()


def wait_until(pred, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()
