# SPDX-License-Identifier: Apache-2.0
"""kbs over TLS, seen from the wire: every response leaves as a single TLS record (status line,
headers and body written together, so no Nagle / delayed-ACK stall between them)."""
import socket
import ssl
import struct

from kbs_pyclient import start_kbs


def tls_exchange(port, cafile, request, max_version=ssl.TLSVersion.TLSv1_2):
    """Sends request over a fresh TLS connection driven through memory BIOs, so the raw
    records the server sends can be inspected. Returns (response bytes, list of the
    (content type, length) of every record received after the handshake)."""
    ctx = ssl.create_default_context(cafile=str(cafile))
    ctx.maximum_version = max_version
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname="127.0.0.1")
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    raw = bytearray()

    def pump():
        data = out.read()
        if data:
            sock.sendall(data)

    def recv():
        chunk = sock.recv(65536)
        assert chunk, "server closed the connection"
        inc.write(chunk)
        return chunk

    try:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                pump()
                recv()
        pump()
        tls.write(request)
        pump()
        resp = b""
        while True:
            raw += recv()
            try:
                while True:
                    resp += tls.read(65536)
            except ssl.SSLWantReadError:
                pass
            head, sep, body = resp.partition(b"\r\n\r\n")
            if sep:
                length = [int(l.split(b":", 1)[1]) for l in head.split(b"\r\n")
                          if l.lower().startswith(b"content-length:")]
                if length and len(body) >= length[0]:
                    break
    finally:
        sock.close()
    records, off = [], 0
    while off + 5 <= len(raw):
        ctype, _, length = struct.unpack("!BHH", raw[off:off + 5])
        records.append((ctype, length))
        off += 5 + length
    return resp, records


def test_response_is_one_tls_record(daemons, tmp_dir, free_port, tls_cert):
    cert = tls_cert()
    port = free_port()
    start_kbs(daemons, tmp_dir, port, tls=cert)
    body = b'{"version":"0.4.0","tee":"sample","extra-params":""}'
    req = (b"POST /kbs/v0/auth HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
           b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    resp, records = tls_exchange(port, cert.cert, req)
    assert resp.startswith(b"HTTP/1.1 200"), resp
    assert b"kbs-session-id=" in resp and resp.endswith(b'"extra-params":""}')
    # TLS 1.2: everything after the handshake is application data (23); the reply with its
    # Set-Cookie header and JSON body must be one record, not headers and body apart
    app = [r for r in records if r[0] == 23]
    assert len(app) == 1, records
