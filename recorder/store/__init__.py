"""Stores: one small protocol, two implementations (embedded SQLite, QuestDB), chosen in config."""

from __future__ import annotations

from recorder.config import Config
from recorder.store.base import CoverageRow, GapRow, NoticeRow, Store, StoreError, TriggerRow


def open_store(config: Config, *, create: bool = True) -> Store:
    """The store the config names; heavy client imports happen only for the kind in use."""
    if config.store.kind == "questdb":
        from recorder.store.questdb import QuestDBStore

        questdb = config.store.questdb
        return QuestDBStore(questdb.ilp, questdb.pg, retention_s=config.store.retention, table_prefix=questdb.table_prefix,
                            create=create)
    from recorder.store.embedded import EmbeddedStore

    return EmbeddedStore(config.data_path / config.store.embedded_file, retention_s=config.store.retention, create=create)


__all__ = ["CoverageRow", "GapRow", "NoticeRow", "Store", "StoreError", "TriggerRow", "open_store"]
