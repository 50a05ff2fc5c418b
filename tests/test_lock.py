"""The lock: made from today's pyproject.toml, pinning everything it asks for, and what this suite runs on."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO
from tests.lock_digest import PYPROJECT, dependency_digest

LOCK = REPO / "requirements.lock"


def _pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, pinned = line.partition("==")
            pins[canonicalize_name(name)] = pinned.strip()
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    extras = [dep for deps in project.get("optional-dependencies", {}).values() for dep in deps]
    return [Requirement(dep) for dep in [*project["dependencies"], *extras]]


def test_the_lock_was_made_from_the_current_pyproject():
    header = re.search(r"^# pyproject-dependencies-sha256: (\w+)$", LOCK.read_text(encoding="utf-8"), re.M)
    assert header, "requirements.lock has no digest line: regenerate it with make lock"
    assert header.group(1) == dependency_digest(), "pyproject.toml's dependencies changed since the lock: run make lock"


def test_every_declared_dependency_is_pinned_within_its_range():
    pins = _pins()
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in requirements.lock: run make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{requirement}: the lock pins {pins[name]}"


def test_the_suite_runs_on_the_locked_versions():
    wrong = {}
    for name, pinned in _pins().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = None
        if installed != pinned:
            wrong[name] = (pinned, installed)
    assert not wrong, f"installed versions differ from requirements.lock (locked, installed): {wrong}; run make dev"
