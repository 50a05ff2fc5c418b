"""Point a PumpWatch config at the local simulators through config overrides alone, as a user would a testnet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recorder.config import Config
from recorder.markets import MARKETS


def simulator_overrides(sim, upbit_base: str, markets: list[str] | None = None) -> dict[str, Any]:
    """The config keys that redirect every market (and Upbit) to the local servers."""
    exchanges: dict[str, dict] = {}
    for spec in MARKETS:
        entry: dict[str, Any] = {"enabled": (markets is None or spec.key in markets)}
        if entry["enabled"]:
            ws_base, rest_base = sim.endpoint(spec.key)
            entry.update(ws_base=ws_base, rest_base=rest_base)
        exchanges.setdefault(spec.exchange, {})[spec.market] = entry
    return {"exchanges": exchanges, "tls_ca_file": str(sim.ca_file),
            "upbit": {"api_base": upbit_base, "announcements_base": upbit_base}}


def merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def simulator_config(sim, upbit_base: str, data_dir: Path, markets: list[str] | None = None, **extra: Any) -> Config:
    raw = {"data_dir": str(data_dir), "recorder": {"symbols_file": str(data_dir / "symbols.yaml")},
           "service": {"log_dir": str(data_dir / "logs"), "status_port": 0}}
    raw = merge(raw, simulator_overrides(sim, upbit_base, markets))
    return Config.model_validate(merge(raw, extra))
