-- Embedded store (SQLite, WAL). Timestamps are integer nanoseconds since the epoch, UTC.
CREATE TABLE IF NOT EXISTS trades (
    ts          INTEGER NOT NULL,
    received_ts INTEGER NOT NULL,
    exchange    TEXT    NOT NULL,
    market      TEXT    NOT NULL,
    symbol      TEXT    NOT NULL,
    base        TEXT    NOT NULL,
    quote       TEXT    NOT NULL,
    side        TEXT    NOT NULL,
    price       REAL    NOT NULL,
    amount      REAL    NOT NULL,
    notional    REAL    NOT NULL,
    trade_id    TEXT    NOT NULL
);
-- The dedup key leads with ts, so it also serves retention deletes.
CREATE UNIQUE INDEX IF NOT EXISTS trades_dedup ON trades (ts, exchange, market, symbol, trade_id);
CREATE INDEX IF NOT EXISTS trades_base_ts ON trades (base, ts);

CREATE TABLE IF NOT EXISTS coverage (
    ts       INTEGER NOT NULL,
    exchange TEXT    NOT NULL,
    market   TEXT    NOT NULL,
    conn_id  TEXT    NOT NULL,
    process  TEXT    NOT NULL,
    state    TEXT    NOT NULL,
    symbols  TEXT    NOT NULL,
    PRIMARY KEY (ts, exchange, market, conn_id, state)
);
CREATE INDEX IF NOT EXISTS coverage_market_ts ON coverage (exchange, market, ts);
CREATE INDEX IF NOT EXISTS coverage_conn ON coverage (conn_id, state);

CREATE TABLE IF NOT EXISTS gaps (
    ts               INTEGER NOT NULL,
    end_ts           INTEGER NOT NULL,
    exchange         TEXT    NOT NULL,
    market           TEXT    NOT NULL,
    symbol           TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    first_missing_id TEXT    NOT NULL,
    last_missing_id  TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    recovered        INTEGER NOT NULL,
    PRIMARY KEY (ts, exchange, market, symbol, kind)
);

CREATE TABLE IF NOT EXISTS notices (
    ts          INTEGER NOT NULL,
    notice_id   INTEGER NOT NULL,
    title       TEXT    NOT NULL,
    listed_at   INTEGER NOT NULL,
    seen_at     INTEGER NOT NULL,
    listing     INTEGER NOT NULL,
    krw_symbols TEXT    NOT NULL,
    url         TEXT    NOT NULL,
    PRIMARY KEY (ts, notice_id)
);

CREATE TABLE IF NOT EXISTS triggers (
    ts          INTEGER NOT NULL,
    notice_id   INTEGER NOT NULL,
    symbol      TEXT    NOT NULL,
    detected_at INTEGER NOT NULL,
    latency_ms  INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    event_dir   TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    PRIMARY KEY (ts, notice_id, symbol)
);
