"""Schema files `recorder/store/sql/<store>/NNN_*.sql`, applied in order so an upgrade needs no manual step.

They are package data (read through `importlib.resources`), so an installed wheel carries them.
"""

from __future__ import annotations

from importlib.resources import files


def migrations(store_kind: str) -> list[tuple[int, str, str]]:
    """(number, file name, sql text) for every schema file of a store kind, in order."""
    folder = files(__package__).joinpath("sql", store_kind)
    names = sorted(entry.name for entry in folder.iterdir()
                   if entry.name.endswith(".sql") and entry.name[:3].isdigit() and entry.name[3] == "_")
    return [(int(name[:3]), name, folder.joinpath(name).read_text(encoding="utf-8")) for name in names]
