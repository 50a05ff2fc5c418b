"""A throw-away certificate authority so the simulator can serve `wss://` and `https://` locally.

cryptofeed refuses websocket addresses that are not `wss://`, so TLS is not optional even for a
local test server. Clients trust `ca_file` (see `client_ssl_context`).
"""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme

HOSTS = ("127.0.0.1", "localhost")


def server_ssl_context(directory: Path) -> tuple[Path, ssl.SSLContext]:
    """Issue a certificate for the loopback host; return the CA PEM path and the server context."""
    ca = trustme.CA()
    cert = ca.issue_cert(*HOSTS)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = directory / "simulator-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return ca_file, context


def client_ssl_context(ca_file: Path) -> ssl.SSLContext:
    """A verifying client context that trusts only the simulator's CA."""
    return ssl.create_default_context(cafile=str(ca_file))
