"""The digest of pyproject.toml's dependency lists that requirements.lock was made from (`python -m tests.lock_digest`).

Standard library only: `make lock` runs it with the bare interpreter, before any venv exists.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def dependency_digest(pyproject: Path = PYPROJECT) -> str:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    declared = {"dependencies": sorted(project.get("dependencies", [])),
                "optional": {name: sorted(deps) for name, deps in sorted(project.get("optional-dependencies", {}).items())},
                "python": project.get("requires-python", "")}
    return hashlib.sha256(json.dumps(declared, sort_keys=True).encode()).hexdigest()


if __name__ == "__main__":
    print(dependency_digest())
