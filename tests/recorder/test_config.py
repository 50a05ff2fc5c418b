"""Config: defaults, durations, and one clear message (file, key, expectation) with exit status 2 for mistakes."""

from __future__ import annotations

import contextlib

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from pumpwatch.cli import cli
from recorder.config import Config, ConfigError, format_duration, load_config, parse_duration
from tests.conftest import REPO


def test_shipped_config_is_valid_and_enables_all_12_markets():
    config = load_config(REPO / "config" / "pumpwatch.yaml")
    assert config.store.kind == "embedded"
    assert len(config.enabled_markets()) == 12
    assert config.upbit.poll_interval == 3.0


@pytest.mark.parametrize(("text", "seconds"), [("5s", 5), ("500ms", 0.5), ("24h", 86400), ("30d", 2592000), ("10m", 600)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("bad", ["5", 5, "5x", "-1s", "", None, "s"])
def test_bad_durations_are_rejected(bad):
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("store:\n  kind: mongodb\n", "store.kind"),
        ("store:\n  retention: 30\n", "store.retention: expected a duration"),
        ("bogus: 1\n", "bogus: unknown key"),
        ("exchanges:\n  binance:\n    spot:\n      enabled: maybe\n", "exchanges.binance.spot.enabled"),
        ("exchanges:\n  kraken: {}\n", "exchanges.kraken: unknown key"),
        ("exchanges:\n  okx:\n    spot:\n      ws_base: ws://127.0.0.1:1\n", "wss://"),
        ("exchanges:\n  okx:\n    futures:\n      max_symbols_per_connection: zero\n", "max_symbols_per_connection"),
        ("store:\n  questdb:\n    ilp: tcp::addr=localhost:9009;\n", "store.questdb.ilp"),
        ("- a\n- b\n", "expected a mapping"),
        ("store: [\n", "not valid YAML"),
    ],
)
def test_config_errors_name_file_and_key(tmp_path, yaml_text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value) and expected in str(info.value)


@pytest.mark.parametrize("text", ["", "\n\n", "# every key commented out\n# data_dir: data\n", "---\n", "null\n"])
def test_an_empty_or_comment_only_file_is_rejected_not_taken_as_all_defaults(tmp_path, text):
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "no keys" in message and "\n" not in message


def test_invalid_yaml_is_one_line_with_file_line_and_column(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("store:\n  kind: embedded\n  retention: [7d\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message and "<unicode string>" not in message
    assert message.startswith(f"{path}:4:1: not valid YAML: "), message


def test_a_file_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("data_dir: donn\u00e9es\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: not UTF-8 text (byte 0xe9 at offset 14)"


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_config_check_prints_effective_config_and_rejects_bad_ones(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("store:\n  retention: 7d\n")
    result = CliRunner().invoke(cli, ["config", "check", "--config", str(good)])
    assert result.exit_code == 0, result.output
    assert "retention: 7d" in result.output and "poll_interval: 3s" in result.output

    bad = tmp_path / "bad.yaml"
    bad.write_text("upbit:\n  poll_interval: often\n")
    result = CliRunner().invoke(cli, ["--config", str(bad), "config", "check"])
    assert result.exit_code == 2
    assert "upbit.poll_interval" in result.output and str(bad) in result.output


def test_config_is_frozen():
    with pytest.raises(Exception, match="frozen"):
        Config().data_dir = "x"


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
                    max_leaves=10))
def test_arbitrary_yaml_never_crashes_the_loader(tmp_path_factory, value):
    import yaml

    path = tmp_path_factory.mktemp("cfg") / "c.yaml"
    path.write_text(yaml.safe_dump(value))
    with contextlib.suppress(ConfigError):
        load_config(path)


def test_extraction_window_limits():
    extraction = Config().extraction
    assert (extraction.max_window, extraction.max_ahead) == (6 * 3600.0, 3600.0)
    assert Config.model_validate({"extraction": {"max_window": "1d", "max_ahead": "10m"}}).extraction.max_window == 86400.0


@pytest.mark.parametrize(("extraction", "expected"), [({"before": "7h"}, "max_window"), ({"before": "0s", "after": "0s"}, "empty")])
def test_the_services_window_obeys_the_same_limits(extraction, expected):
    with pytest.raises(ValueError, match=expected):
        Config.model_validate({"extraction": extraction})
