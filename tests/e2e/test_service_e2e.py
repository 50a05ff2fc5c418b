"""The service against the simulators: status shows all 12 markets; the demo scenario ends in a right analysis."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest
from click.testing import CliRunner

from pumpwatch.cli import cli
from pumpwatch.service import Service
from simulator.exchanges import ExchangeSimulator
from simulator.upbit import FakeUpbit
from simulator.wiring import simulator_config
from tests.conftest import drop_questdb_namespace, eventually_async, questdb_overrides, questdb_test_prefix, store_kinds


def test_status_endpoint_and_command_show_all_12_markets(tmp_path):
    async def scenario():
        async with ExchangeSimulator(symbols=3, trades_per_second=2) as sim:
            upbit = FakeUpbit(krw_coins=("BTC",))
            await upbit.start()
            config = simulator_config(sim, upbit.base_url, tmp_path)
            service = Service(config)
            ready = asyncio.Event()
            task = asyncio.create_task(service.run(install_signals=False, ready=ready))
            try:
                await asyncio.wait_for(ready.wait(), 60)

                def quiet() -> list[str]:
                    snapshot = service.snapshot()
                    return [key for key, m in snapshot["markets"].items() if not (m["connected"] and m["trades_total"])] + (
                        [] if snapshot["writer"]["rows_written"] else ["writer"])

                await eventually_async(lambda: not quiet(), timeout=60,
                                       what=lambda: f"every market connected with trades, rows written; not yet: {quiet()}")
                url = f"http://127.0.0.1:{service.status_server.port}"
                status = await asyncio.to_thread(lambda: json.load(urllib.request.urlopen(url + "/status", timeout=5)))
                metrics = await asyncio.to_thread(lambda: urllib.request.urlopen(url + "/metrics", timeout=5).read().decode())
                table = await asyncio.to_thread(lambda: CliRunner().invoke(cli, ["status", "--url", url + "/status"]).output)
            finally:
                service.request_stop()
                await task
                await upbit.stop()
            return status, metrics, table

    status, metrics, table = asyncio.run(scenario())
    assert len(status["markets"]) == 12
    assert all(m["connected"] and m["symbols"] > 0 and m["trades_total"] > 0 for m in status["markets"].values()), status["markets"]
    assert status["writer"]["rows_written"] > 0 and status["upbit"]["polls"] >= 0
    assert metrics.count("pumpwatch_market_connected{") == 12
    for key in status["markets"]:
        assert key in table


@pytest.mark.parametrize("kind", store_kinds())
def test_demo_scenario_names_the_right_first_venue_and_flags_the_disconnected_one(tmp_path, kind):
    from pumpwatch.demo import DEMO_PREFIX, DISCONNECTED, run_demo

    prefix = questdb_test_prefix()
    store = questdb_overrides(prefix)["store"] if kind == "questdb" else None
    try:
        result = asyncio.run(run_demo(tmp_path, before_s=8.0, after_s=8.0, symbols=4, store=store, progress=lambda line: None))
    finally:
        if kind == "questdb":
            drop_questdb_namespace(prefix + DEMO_PREFIX)
    assert result.metadata["store"] == kind and result.metadata["store_caught_up"]
    analysis = result.analysis
    assert (analysis["first_pump"]["exchange"], analysis["first_pump"]["market"]) == ("binance", "futures")
    assert analysis["first_pump"]["first_pump_trade_ms"] >= 800  # the scenario jumps binance futures 0.8 s after the notice
    unranked = {f"{m['exchange']}.{m['market']}": m["verdict"] for m in analysis["unranked"]}
    assert unranked == {DISCONNECTED: "gap"}
    assert (result.event_dir / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "binance futures" in result.summary


def test_the_demo_runs_again_in_the_folder_of_a_previous_run(tmp_path):
    from pumpwatch.demo import run_demo

    runs = [asyncio.run(run_demo(tmp_path, before_s=3.0, after_s=3.0, symbols=3, progress=lambda line: None)) for _ in range(2)]
    first, second = runs
    assert second.event_dir != first.event_dir and second.event_dir.parent == first.event_dir.parent
    assert second.metadata["notice_id"] != first.metadata["notice_id"]
