"""The README documents every config key and every command: a key or a command added later without its row fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
from pydantic import BaseModel

from pumpwatch.cli import cli
from recorder.config import Config, ExchangesConfig
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
EXCHANGE_KEY = "exchanges.<exchange>.<market>."
"""every exchange's sections hold the same keys: the README gives them once"""


def _section_table(heading: str) -> list[str]:
    """The first column of the first table under `## heading`."""
    section = README.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [row.split(" | ")[0].removeprefix("| ") for row in rows[2:]]


def documented_keys() -> set[str]:
    """`a.b` / `.c` / `d` in one cell names a.b, a.c and a.d (siblings of the first key)."""
    keys = set()
    for cell in _section_table("Configuration"):
        names = [name.replace("\\|", "|") for name in re.findall(r"`([^`]+)`", cell)]
        first = names[0]
        parent = first.rpartition(".")[0]
        for name in names:
            key = name if name == first else f"{parent}.{name.lstrip('.')}"
            keys.add(EXCHANGE_KEY + key.rpartition(".")[2] if key.startswith("exchanges.") else key)
    return keys


def model_keys(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Every leaf key of the config model, recursively; the exchange sections once, as `exchanges.<exchange>.<market>.*`."""
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if annotation is ExchangesConfig:
            yield from (EXCHANGE_KEY + key.rpartition(".")[2] for key in model_keys(annotation))
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from model_keys(annotation, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def test_the_configuration_table_lists_every_key_of_the_model_and_no_other():
    model = set(model_keys(Config))
    documented = documented_keys()
    assert sorted(model - documented) == [], "config keys without a README row"
    assert sorted(documented - model) == [], "README rows for keys the config does not have"


def test_the_commands_table_lists_every_command_and_its_options_that_pick_markets():
    commands = " ".join(_section_table("Commands"))

    def leaves(group: click.Group, prefix: str) -> Iterator[tuple[str, click.Command]]:
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                yield from leaves(command, f"{prefix}{name} ")
            else:
                yield f"{prefix}{name}", command

    for path, command in leaves(cli, "pumpwatch "):
        assert path in commands or path.removeprefix("pumpwatch ") in commands, f"{path} has no row"
        if "markets" in {param.name for param in command.params}:
            assert re.search(rf"`{path} [^`]*--markets", commands), f"{path}: --markets not documented"
