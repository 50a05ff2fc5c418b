"""The registry of exchange modules agrees with the market table, the config and the simulator; shared code names no exchange."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import recorder
from recorder.config import ExchangeConfig, ExchangesConfig
from recorder.exchanges import EXCHANGES, market_hooks
from recorder.markets import MARKETS

SHARED_PACKAGES = ("recorder", "extractor", "analysis", "pumpwatch")
NAME_LITERALS_ALLOWED = {"recorder/exchanges", "recorder/markets.py", "recorder/config.py", "pumpwatch/demo.py"}
"""where exchange names may be written out: the exchange modules, the market table, the config, and the
demo, which scripts its simulated markets by name (the simulator package is a fake and not scanned)."""


def test_every_market_has_an_exchange_module_and_every_module_a_market():
    table: dict[str, set[str]] = defaultdict(set)
    for spec in MARKETS:
        table[spec.exchange].add(spec.market)
    assert {name: set(exchange.markets) for name, exchange in EXCHANGES.items()} == dict(table)


def test_each_module_registers_under_its_own_name_with_its_own_venues():
    for name, exchange in EXCHANGES.items():
        assert exchange.name == name
        for market, hooks in exchange.markets.items():
            assert (hooks.backfill.exchange, hooks.backfill.market) == (name, market)
            assert hooks.instruments.default_base.startswith("https://"), (name, market)


def test_config_has_one_section_per_exchange_module_and_one_per_market():
    assert list(ExchangesConfig.model_fields) == list(EXCHANGES)
    for exchange in EXCHANGES.values():
        assert set(ExchangeConfig.model_fields) == set(exchange.markets), exchange.name


def test_the_simulator_fakes_exactly_the_registered_markets():
    from simulator.exchanges import VENUES

    assert set(VENUES) == {f"{name}.{market}" for name, exchange in EXCHANGES.items() for market in exchange.markets}


def test_an_unknown_market_names_the_known_ones():
    try:
        market_hooks("nowhere", "spot")
    except KeyError as exc:
        assert "nowhere.spot" in str(exc) and "binance.futures" in str(exc)
    else:
        raise AssertionError("an unknown market must raise")


def test_shared_code_names_no_exchange():
    """No exchange name, market key or cryptofeed id as a string literal outside the places allowed above."""
    names = set(EXCHANGES) | {spec.key for spec in MARKETS} | {spec.cryptofeed_id for spec in MARKETS}
    alternatives = "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
    literal = re.compile(rf"""["'](?:{alternatives})["']""", re.IGNORECASE)
    repo = Path(recorder.__file__).parent.parent
    found = [f"{path.relative_to(repo)}:{number}: {line.strip()}"
             for package in SHARED_PACKAGES for path in sorted((repo / package).rglob("*.py"))
             if "/".join(path.relative_to(repo).parts[:2]) not in NAME_LITERALS_ALLOWED
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if literal.search(line)]
    assert found == []
