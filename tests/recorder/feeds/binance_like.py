"""A tiny Binance-style TLS websocket server for the live feed tests."""

from __future__ import annotations

import asyncio
import json
import ssl
import time

import trustme
from websockets.asyncio.server import serve

from recorder.instruments.model import Instrument


class BinanceLike:
    """Combined-stream server: one aggTrade per subscribed stream every `period` seconds; first frame malformed."""

    def __init__(self, period: float = 0.05) -> None:
        self.period = period
        self.ca = trustme.CA()
        self.server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1").configure_cert(self.server_ctx)
        self.paths: list[str] = []
        self.connections: list = []
        self.refuse = False
        self.trade_id = 0
        self.server = None
        self.port = 0

    async def handler(self, connection) -> None:
        path = connection.request.path
        if self.refuse:
            await connection.close(1013, "try again later")
            return
        self.paths.append(path)
        self.connections.append(connection)
        streams = path.split("streams=", 1)[1].split("/") if "streams=" in path else []
        await connection.send(json.dumps({"result": None, "id": 1}))  # not a stream frame: cryptofeed raises on it
        while True:
            for stream in streams:
                self.trade_id += 1
                symbol = stream.split("@")[0].upper()
                data = {"e": "aggTrade", "E": int(time.time() * 1000), "s": symbol, "a": self.trade_id, "p": "2.5", "q": "4",
                        "f": 1, "l": 1, "T": int(time.time() * 1000), "m": False}
                await connection.send(json.dumps({"stream": stream, "data": data}))
            await asyncio.sleep(self.period)

    async def __aenter__(self) -> BinanceLike:
        self.server = await serve(self.handler, "127.0.0.1", 0, ssl=self.server_ctx)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()
        await self.server.wait_closed()

    def ca_file(self, tmp_path) -> str:
        path = tmp_path / "ca.pem"
        self.ca.cert_pem.write_to_path(str(path))
        return str(path)

    async def drop_all(self) -> None:
        for connection in list(self.connections):
            await connection.close(1011, "going away")
        self.connections.clear()


def binance_spot(*bases: str) -> list[Instrument]:
    return [Instrument("binance", "spot", f"{b}-USDT", f"{b}USDT", b, "USDT") for b in bases]
