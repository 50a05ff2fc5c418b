"""Schema files under `sql/<store>/NNN_*.sql`, applied in order so an upgrade needs no manual step."""

from __future__ import annotations

from pathlib import Path

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def migrations(store_kind: str) -> list[tuple[int, str, str]]:
    """(number, file name, sql text) for every schema file of a store kind, in order."""
    files = sorted((SQL_DIR / store_kind).glob("[0-9][0-9][0-9]_*.sql"))
    return [(int(path.name[:3]), path.name, path.read_text(encoding="utf-8")) for path in files]
