"""Pre-populate cryptofeed's global symbol table from our instruments, so it never loads symbols itself.

`cryptofeed.symbols.Symbols.set(cryptofeed_id, normalized_mapping, info)` is what each feed class's
`load_symbols` would do after its REST call and `_parse_symbol_data`. We build the same two dicts
from our own instruments:

- `normalized_mapping`: normalized symbol (`TIA-USDT`, `TIA-USDT-PERP`) → the exchange symbol that
  cryptofeed subscribes with and looks trades up by: the market's `cryptofeed_symbol` hook, the
  exchange's own id unless the exchange module says otherwise (Bybit spot: `BASE/QUOTE`).
- `info`: the per-symbol facts the feed classes read at run time. `instrument_type` is written for
  every exchange (OKX's `instrument_type()` classmethod reads it); the rest comes from the market's
  `symbol_info` hook (checked in cryptofeed 3.0.1: Phemex's `price_scale` and `api_version`,
  KuCoin futures' `contract_size`/`is_inverse`). `tick_size` is not written: no feed reads it while
  running and `Instrument` has no such field.

Several markets share one cryptofeed id (Bybit, OKX, Phemex spot and futures), so `install` MERGES
into what is already there and never removes a symbol (a running feed may still use it).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from cryptofeed.symbols import Symbols

from recorder.exchanges import market_hooks
from recorder.instruments.model import Instrument
from recorder.markets import SPOT, MarketSpec

PERPETUAL = "perpetual"
"""cryptofeed.defines.PERPETUAL (its SPOT is our `recorder.markets.SPOT`)."""


def feed_class(spec: MarketSpec) -> type:
    """The cryptofeed class named by `spec.feed_class` (`module:Class`)."""
    module_name, _, class_name = spec.feed_class.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def exchange_symbol(instrument: Instrument) -> str:
    """The symbol cryptofeed's mapping holds for this instrument (what it subscribes with)."""
    return market_hooks(instrument.exchange, instrument.market).cryptofeed_symbol(instrument)


def symbol_data(instruments: Iterable[Instrument]) -> tuple[dict[str, str], dict[str, dict]]:
    """`(normalized_mapping, info)` as the feed class's `_parse_symbol_data` would return them."""
    mapping: dict[str, str] = {}
    info: dict[str, dict] = {"instrument_type": {}}
    for instrument in instruments:
        hooks = market_hooks(instrument.exchange, instrument.market)
        mapping[instrument.symbol] = hooks.cryptofeed_symbol(instrument)
        info["instrument_type"][instrument.symbol] = SPOT if instrument.market == SPOT else PERPETUAL
        for key, value in hooks.symbol_info(instrument).items():
            info.setdefault(key, {})[instrument.symbol] = value
    return mapping, info


def merged(cryptofeed_id: str, instruments: Iterable[Instrument]) -> tuple[dict[str, str], dict[str, dict]]:
    """What is in cryptofeed's table for this id now, plus these instruments (new facts win)."""
    mapping, info = symbol_data(instruments)
    if not Symbols.populated(cryptofeed_id):
        return mapping, info
    old_mapping, old_info = Symbols.get(cryptofeed_id)
    out_mapping = {**old_mapping, **mapping}
    out_info: dict[str, dict] = {key: dict(value) if isinstance(value, dict) else value for key, value in old_info.items()}
    for key, values in info.items():
        target = out_info.get(key)
        if not isinstance(target, dict):
            target = out_info[key] = {}
        target.update(values)
    return out_mapping, out_info


def install(spec: MarketSpec, instruments: Iterable[Instrument]) -> int:
    """Merge these instruments into cryptofeed's symbol table for `spec.cryptofeed_id`; return its size.

    Call before constructing a feed: cryptofeed copies the mapping (and Phemex its scales) when
    a feed object is created.
    """
    instruments = [i for i in instruments if i.exchange == spec.exchange and i.market == spec.market]
    mapping, info = merged(spec.cryptofeed_id, instruments)
    Symbols.set(spec.cryptofeed_id, mapping, info)
    return len(mapping)
