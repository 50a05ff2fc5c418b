-- QuestDB schema, applied idempotently at every start (CREATE TABLE IF NOT EXISTS).
-- ${retention_hours} is filled from store.retention; TTL is in HOURS because trades are PARTITION BY HOUR.
-- Timestamps are microsecond TIMESTAMPs: exchange trade times arrive at millisecond or microsecond precision.

CREATE TABLE IF NOT EXISTS trades (
    ts          TIMESTAMP,
    received_ts TIMESTAMP,
    exchange    SYMBOL CAPACITY 16,
    market      SYMBOL CAPACITY 4,
    symbol      SYMBOL CAPACITY 16384,
    base        SYMBOL CAPACITY 16384,
    quote       SYMBOL CAPACITY 64,
    side        SYMBOL CAPACITY 4,
    price       DOUBLE,
    amount      DOUBLE,
    notional    DOUBLE,
    trade_id    VARCHAR
) TIMESTAMP(ts) PARTITION BY HOUR WAL TTL ${retention_hours} HOURS
DEDUP UPSERT KEYS(ts, exchange, market, symbol, trade_id);

ALTER TABLE trades SET TTL ${retention_hours} HOURS;

CREATE TABLE IF NOT EXISTS coverage (
    ts       TIMESTAMP,
    exchange SYMBOL,
    market   SYMBOL,
    conn_id  SYMBOL CAPACITY 65536,
    process  SYMBOL,
    state    SYMBOL,
    symbols  VARCHAR
) TIMESTAMP(ts) PARTITION BY DAY WAL TTL ${retention_days} DAYS
DEDUP UPSERT KEYS(ts, exchange, market, conn_id, state);

CREATE TABLE IF NOT EXISTS gaps (
    ts               TIMESTAMP,
    end_ts           TIMESTAMP,
    exchange         SYMBOL,
    market           SYMBOL,
    symbol           SYMBOL,
    kind             SYMBOL,
    first_missing_id VARCHAR,
    last_missing_id  VARCHAR,
    status           SYMBOL,
    recovered        LONG
) TIMESTAMP(ts) PARTITION BY DAY WAL TTL ${retention_days} DAYS
DEDUP UPSERT KEYS(ts, exchange, market, symbol, kind);

CREATE TABLE IF NOT EXISTS notices (
    ts          TIMESTAMP,
    notice_id   LONG,
    title       VARCHAR,
    listed_at   TIMESTAMP,
    seen_at     TIMESTAMP,
    listing     BOOLEAN,
    krw_symbols VARCHAR,
    url         VARCHAR
) TIMESTAMP(ts) PARTITION BY MONTH WAL
DEDUP UPSERT KEYS(ts, notice_id);

CREATE TABLE IF NOT EXISTS triggers (
    ts          TIMESTAMP,
    notice_id   LONG,
    symbol      SYMBOL,
    detected_at TIMESTAMP,
    latency_ms  LONG,
    status      SYMBOL,
    event_dir   VARCHAR,
    detail      VARCHAR
) TIMESTAMP(ts) PARTITION BY MONTH WAL
DEDUP UPSERT KEYS(ts, notice_id, symbol);
