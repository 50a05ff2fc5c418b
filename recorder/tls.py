"""One SSL context for every client connection: the system trust store plus an optional extra CA bundle."""

from __future__ import annotations

import ssl


def client_ssl_context(extra_ca_file: str | None) -> ssl.SSLContext:
    """Trust the system CAs and, when configured, `tls_ca_file` (testnets, proxies, the local simulator)."""
    context = ssl.create_default_context()
    if extra_ca_file:
        context.load_verify_locations(cafile=extra_ca_file)
    return context
