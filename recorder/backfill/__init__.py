"""Recover missed trades over REST, as rows identical to the live path's (see `base`).

`base` walks an exchange's REST trades the way its `Venue` (in `recorder.exchanges`) describes;
`fill.backfill_gap` picks the market's venue from the registry and `fill.resolved` turns a gap plus
an attempt into the updated `GapRow`. This package's `__init__` imports nothing, so the exchange
modules can import `base` without a cycle. What each market can recover:

- exact by id: Binance spot and USDT-M (`aggTrades?fromId`; USDT-M is reported to answer only about
  the last two days), OKX spot and swap (`history-trades`, about three months, fills merged into the
  live feed's aggregated messages), Gate spot and USDT futures (`last_id`, while Gate keeps it);
- recent only (complete only while the gap is within the latest trades): Bybit spot (60) and linear
  (1000), KuCoin spot and futures (100), Phemex spot and perpetuals (the endpoint's latest).
"""
