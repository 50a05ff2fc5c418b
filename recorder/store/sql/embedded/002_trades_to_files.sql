-- Trades moved to files (recorder/store/columnar.py); the store converts the old table's rows before this runs.
DROP INDEX IF EXISTS trades_base_ts;
DROP INDEX IF EXISTS trades_dedup;
DROP TABLE IF EXISTS trades;
