-- QuestDB schema version 1. The store records each applied file in ${prefix}pumpwatch_schema and
-- applies a file once; IF NOT EXISTS only lets an interrupted first start finish.
-- ${prefix} is store.questdb.table_prefix. Retention is not written here: the recorder sets each
-- table's TTL from store.retention (ALTER TABLE ... SET TTL) and changes it only when the config does.
-- Timestamps are TIMESTAMP_NS (QuestDB 9.1+), so a nanosecond exchange or receive time is kept as is.

CREATE TABLE IF NOT EXISTS ${prefix}trades (
    ts          TIMESTAMP_NS,
    received_ts TIMESTAMP_NS,
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
) TIMESTAMP(ts) PARTITION BY HOUR WAL
DEDUP UPSERT KEYS(ts, exchange, market, symbol, trade_id);

CREATE TABLE IF NOT EXISTS ${prefix}coverage (
    ts       TIMESTAMP_NS,
    exchange SYMBOL,
    market   SYMBOL,
    conn_id  SYMBOL CAPACITY 65536,
    process  SYMBOL,
    state    SYMBOL,
    symbols  VARCHAR
) TIMESTAMP(ts) PARTITION BY DAY WAL
DEDUP UPSERT KEYS(ts, exchange, market, conn_id, state);

CREATE TABLE IF NOT EXISTS ${prefix}gaps (
    ts               TIMESTAMP_NS,
    end_ts           TIMESTAMP_NS,
    exchange         SYMBOL,
    market           SYMBOL,
    symbol           SYMBOL,
    kind             SYMBOL,
    first_missing_id VARCHAR,
    last_missing_id  VARCHAR,
    status           SYMBOL,
    recovered        LONG
) TIMESTAMP(ts) PARTITION BY DAY WAL
DEDUP UPSERT KEYS(ts, exchange, market, symbol, kind);

CREATE TABLE IF NOT EXISTS ${prefix}notices (
    ts          TIMESTAMP_NS,
    notice_id   LONG,
    title       VARCHAR,
    listed_at   TIMESTAMP_NS,
    seen_at     TIMESTAMP_NS,
    listing     BOOLEAN,
    krw_symbols VARCHAR,
    url         VARCHAR
) TIMESTAMP(ts) PARTITION BY MONTH WAL
DEDUP UPSERT KEYS(ts, notice_id);

CREATE TABLE IF NOT EXISTS ${prefix}triggers (
    ts          TIMESTAMP_NS,
    notice_id   LONG,
    symbol      SYMBOL,
    detected_at TIMESTAMP_NS,
    latency_ms  LONG,
    status      SYMBOL,
    event_dir   VARCHAR,
    detail      VARCHAR
) TIMESTAMP(ts) PARTITION BY MONTH WAL
DEDUP UPSERT KEYS(ts, notice_id, symbol);
