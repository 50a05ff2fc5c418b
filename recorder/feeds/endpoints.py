"""Endpoint addresses rewritten to the configured bases, and cryptofeed's HTTP connection with our TLS context.

- Endpoints: a subclass per market (`feed_class.feed_subclass`) replaces `websocket_endpoints` and
  `rest_endpoints` (both class attributes; symbol loading is a classmethod reading
  `cls.rest_endpoints`), replacing scheme+host+port with `ws_base`/`rest_base` and keeping each path
  (Bybit reads spot/linear from the last path segment, bybit.py:246).
- TLS: `WebsocketEndpoint.options` go verbatim to `websockets.connect` (connection.py:295), so
  `options['ssl']` carries an SSLContext that trusts the system store plus `tls_ca_file`.
  `HTTPAsyncConn` builds a bare `aiohttp.ClientSession()` (connection.py:169); the feed's
  `http_conn` is replaced by `TLSHTTPConn`, whose session uses the same context (cryptofeed makes no
  HTTP call for trades once symbols are set, but any future one is covered).
"""

from __future__ import annotations

import ssl as ssl_module
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from cryptofeed.connection import HTTPAsyncConn


def rewrite_url(url: str, base: str | None) -> str:
    """`url` with scheme, host and port taken from `base` (a path in `base` is prepended); None keeps `url`."""
    if not base:
        return url
    target, new = urlsplit(url), urlsplit(base)
    if not new.scheme or not new.netloc:
        raise ValueError(f"endpoint base {base!r} must look like scheme://host[:port]")
    path = new.path.rstrip("/") + target.path if new.path.rstrip("/") else target.path
    return urlunsplit((new.scheme, new.netloc, path, target.query, target.fragment))


class TLSHTTPConn(HTTPAsyncConn):
    """cryptofeed's HTTP connection with an explicit SSL context (connection.py:169 uses the default)."""

    def __init__(self, conn_id: str, proxy: Any = None, ssl: ssl_module.SSLContext | None = None) -> None:
        super().__init__(conn_id, proxy)
        self._ssl = ssl

    async def _open(self) -> None:
        if self.is_open:
            return
        connector = aiohttp.TCPConnector(ssl=self._ssl) if self._ssl is not None else None
        self.conn = aiohttp.ClientSession(connector=connector)
        self._reset_counters()
