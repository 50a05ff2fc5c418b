"""An installed wheel works on its own: schema files ship inside the package, not beside the checkout.

The wheel is built from a copy of the tracked files and installed with `--no-deps` into a fresh
virtual environment that sees the project environment's third-party packages through a path file
(not its editable install, whose finder only a site directory would load). Commands then run from
an empty folder, so nothing can come from the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import REPO

ROUND_TRIP = """
import sys, time
from pathlib import Path
import recorder
from recorder.store.embedded import EmbeddedStore
from recorder.trade_row import TradeRow
assert Path(recorder.__file__).is_relative_to(sys.prefix), recorder.__file__
store = EmbeddedStore(Path(sys.argv[1]))
now = time.time_ns()
store.write_trades([TradeRow(now, now, "binance", "spot", "TIA-USDT", "TIA", "USDT", "buy", 5.0, 2.0, 10.0, "1")])
table = store.read_window("TIA", now - 1, now + 1)
assert table.num_rows == 1 and table.column("price")[0].as_py() == 5.0, table
assert store.seal(now + 3600 * 10**9) == 1  # the sealing child runs the installed package too
assert store.read_window("TIA", now - 1, now + 1).num_rows == 1 and store.sealed_parts()
print("round trip ok")
"""


def run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A fresh venv with only the built wheel of this checkout installed into it."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, tracked):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name, follow_symlinks=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PIP_"))}
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"), str(source)],
        root, env)
    wheel = next((root / "dist").glob("pumpwatch-*.whl"))
    target = root / "venv"
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    site = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root, env).strip()
    project_site = next(p for p in sys.path if p.endswith("site-packages"))
    Path(site, "project-dependencies.pth").write_text(project_site + "\n")
    run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], root, env)
    work = root / "work"
    work.mkdir()
    return target, env | {"PATH": f"{target / 'bin'}{os.pathsep}{env.get('PATH', '')}"}


def test_the_installed_wheel_checks_the_shipped_config(installed):
    target, env = installed
    work = target.parent / "work"
    shutil.copy(REPO / "config" / "pumpwatch.yaml", work / "pumpwatch.yaml")
    out = run([str(target / "bin" / "pumpwatch"), "config", "check", "--config", "pumpwatch.yaml"], work, env)
    assert "store" in out and "exchanges" in out


def test_the_installed_wheel_creates_a_store_and_reads_a_trade_back(installed):
    target, env = installed
    work = target.parent / "work"
    out = run([str(target / "bin" / "python"), "-c", ROUND_TRIP, str(work / "pumpwatch.sqlite")], work, env)
    assert "round trip ok" in out
