-- Ready queries for the QuestDB web console (http://<host>:9000). Timestamps are UTC.
-- With store.questdb.table_prefix set, put the prefix before each table name (live_trades, ...).

-- Latest trade per market and instrument (what is flowing right now)
SELECT ts, exchange, market, symbol, side, price, amount, notional
FROM trades
LATEST ON ts PARTITION BY exchange, market, symbol
ORDER BY ts DESC
LIMIT 50;

-- Trades and notional per minute per exchange over the last hour
SELECT ts, exchange, count() AS trades, sum(notional) AS notional
FROM trades
WHERE ts > dateadd('h', -1, now())
SAMPLE BY 1m ALIGN TO CALENDAR;

-- A listing window: every market's trades of one coin, 20 s before to 20 s after the announcement
-- (replace the coin and the time; 14:00:00 KST = 05:00:00 UTC)
SELECT ts, exchange, market, symbol, side, price, amount, notional, trade_id
FROM trades
WHERE base = 'TIA'
  AND ts >= dateadd('s', -20, '2026-11-20T05:00:00.000000Z')
  AND ts <  dateadd('s', 20, '2026-11-20T05:00:00.000000Z')
ORDER BY ts;

-- One-second bars per market for the same window
SELECT ts, exchange, market, first(price) AS open, max(price) AS high, min(price) AS low, last(price) AS close,
       sum(notional) AS notional, count() AS trades
FROM trades
WHERE base = 'TIA'
  AND ts >= dateadd('s', -20, '2026-11-20T05:00:00.000000Z')
  AND ts <  dateadd('s', 20, '2026-11-20T05:00:00.000000Z')
SAMPLE BY 1s;

-- Connection coverage: sessions (up/down) per market in the last day, with the recorder process
SELECT ts, exchange, market, conn_id, process, state
FROM coverage
WHERE state IN ('up', 'down') AND ts > dateadd('d', -1, now())
ORDER BY ts DESC;

-- Gaps found and what became of them
SELECT ts, end_ts, exchange, market, symbol, kind, status, recovered
FROM gaps
ORDER BY ts DESC
LIMIT 100;

-- Listing notices and their triggers
SELECT n.ts AS announced, n.notice_id, n.title, t.symbol, t.latency_ms, t.status, t.event_dir
FROM notices n
JOIN triggers t ON n.notice_id = t.notice_id
ORDER BY n.ts DESC;
