"""One readable line for an error of a network call: host:port and the reason.

aiohttp's own text for a connection error carries `ssl:<ssl.SSLContext object at 0x…>`, which
tells a reader nothing and differs on every run (so identical failures never look identical).
"""

from __future__ import annotations

import os
import socket

import aiohttp


def describe_error(exc: BaseException) -> str:
    """`cannot connect to api.binance.com:443: Domain name not found`, `timed out`, our own errors' text, `Type: text` for the rest."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"TLS certificate of {exc.host}:{exc.port} not trusted: {exc.certificate_error}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port}: {_reason(exc.os_error)}"
    if isinstance(exc, TimeoutError):  # asyncio's and aiohttp's timeouts carry no text
        return f"timed out{': ' + str(exc) if str(exc) else ''}"
    text = " ".join(str(exc).split())
    if text and type(exc).__module__.partition(".")[0] == "recorder":
        return text  # our own errors are phrased for the reader already
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _reason(error: OSError) -> str:
    if isinstance(error, socket.gaierror) or not error.errno or error.errno < 0:
        return error.strerror or str(error) or type(error).__name__
    return os.strerror(error.errno)
