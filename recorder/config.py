"""Typed, frozen configuration loaded from YAML; every mistake names the file, the key and what was expected."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, ValidationError, field_validator, model_validator
from pydantic.functional_validators import BeforeValidator

from recorder.markets import MARKETS, MarketSpec

DEFAULT_CONFIG = Path("config/pumpwatch.yaml")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class ConfigError(Exception):
    """A configuration problem, already phrased for the user (file, key, expectation)."""


def parse_duration(value: Any) -> float:
    """`5s`, `500ms`, `24h`, `30d` → seconds. Bare numbers are rejected: a unit avoids ms/s mix-ups."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    raise ValueError(f"expected a duration like 5s, 500ms, 24h or 30d, got {value!r}")


def format_duration(seconds: float) -> str:
    for unit in ("d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{round(seconds * 1000)}ms"


Duration = Annotated[float, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class QuestDBConfig(_Strict):
    ilp: str = "http::addr=127.0.0.1:9000;"
    pg: str = "postgresql://admin:quest@127.0.0.1:8812/qdb"
    table_prefix: str = ""
    """prepended to every table name, so several deployments (or a test run) share one server without touching each other"""

    @field_validator("table_prefix")
    @classmethod
    def _table_name(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", value):
            raise ValueError("expected letters, digits and underscores, starting with a letter (it becomes part of table names)")
        return value

    @field_validator("ilp")
    @classmethod
    def _http_only(cls, value: str) -> str:
        if not value.startswith(("http::", "https::")):
            raise ValueError("expected an ILP/HTTP conf string starting with http:: or https:: (ILP over TCP drops bad rows)")
        return value


class StoreConfig(_Strict):
    kind: Literal["embedded", "questdb"] = "embedded"
    retention: Duration = 30 * 86400.0
    embedded_file: str = "pumpwatch.sqlite"
    questdb: QuestDBConfig = QuestDBConfig()


class MarketConfig(_Strict):
    enabled: bool = True
    ws_base: str | None = None
    rest_base: str | None = None
    max_symbols_per_connection: int = Field(default=100, ge=1, le=5000)

    @field_validator("ws_base")
    @classmethod
    def _wss(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("wss://"):
            raise ValueError("expected a wss:// address (cryptofeed requires TLS websockets)")
        return value

    @field_validator("rest_base")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("expected an http:// or https:// address")
        return value


class ExchangeConfig(_Strict):
    spot: MarketConfig = MarketConfig()
    futures: MarketConfig = MarketConfig()


class ExchangesConfig(_Strict):
    """One section per exchange module, in the registry's order (`recorder.exchanges.EXCHANGES`; a test keeps them equal)."""

    binance: ExchangeConfig = ExchangeConfig()
    bybit: ExchangeConfig = ExchangeConfig()
    okx: ExchangeConfig = ExchangeConfig()
    kucoin: ExchangeConfig = ExchangeConfig()
    gate: ExchangeConfig = ExchangeConfig()
    phemex: ExchangeConfig = ExchangeConfig()

    def market(self, spec: MarketSpec) -> MarketConfig:
        return getattr(getattr(self, spec.exchange), spec.market)


class RecorderConfig(_Strict):
    quotes: tuple[str, ...] = ("USDT",)
    symbols_file: str = "config/symbols.yaml"
    refresh_interval: Duration = 3600.0
    listed_tail: Duration = 86400.0
    flush_rows: int = Field(default=5000, ge=1)
    flush_interval: Duration = 0.5
    coverage_heartbeat: Duration = 5.0


class UpbitConfig(_Strict):
    api_base: str = "https://api.upbit.com"
    announcements_base: str = "https://api-manager.upbit.com"
    poll_interval: Duration = 3.0
    poll_jitter: Duration = 0.5
    max_backoff: Duration = 60.0
    lookback: Duration = 86400.0
    per_page: int = Field(default=20, ge=1, le=100)


class ExtractionConfig(_Strict):
    before: Duration = 20.0
    after: Duration = 20.0
    settle: Duration = 5.0
    events_dir: str | None = None
    max_window: Duration = 6 * 3600.0
    """the longest window `extract` accepts (before + after): a typo like `--before 400d` is refused, not read for hours"""
    max_ahead: Duration = 3600.0
    """how far in the future `extract --at` may lie: a wrong year is refused, not waited for"""

    @model_validator(mode="after")
    def _window_within_limits(self) -> ExtractionConfig:
        """The service extracts `before` + `after`: the same bounds as `extract`'s, checked when the config loads."""
        window = f"before + after ({format_duration(self.before)} + {format_duration(self.after)})"
        if self.before + self.after <= 0:
            raise ValueError(f"{window} is an empty window")
        if self.before + self.after > self.max_window:
            raise ValueError(f"{window} is longer than max_window ({format_duration(self.max_window)})")
        return self


class AnalysisConfig(_Strict):
    pump_threshold: float = Field(default=0.03, gt=0, lt=10)
    min_trades: int = Field(default=3, ge=1)


class ServiceConfig(_Strict):
    status_host: str = "127.0.0.1"
    status_port: int = Field(default=9108, ge=0, le=65535)
    log_dir: str = "logs"
    rate_log_interval: Duration = 60.0
    receive_lag_warn: Duration = 5.0
    """a WARNING (at most once a minute per market) while a market's receive lag over the last minute passes this"""


class Config(_Strict):
    data_dir: str = "data"
    store: StoreConfig = StoreConfig()
    exchanges: ExchangesConfig = ExchangesConfig()
    recorder: RecorderConfig = RecorderConfig()
    upbit: UpbitConfig = UpbitConfig()
    extraction: ExtractionConfig = ExtractionConfig()
    analysis: AnalysisConfig = AnalysisConfig()
    service: ServiceConfig = ServiceConfig()
    tls_ca_file: str | None = None

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def events_path(self) -> Path:
        return Path(self.extraction.events_dir) if self.extraction.events_dir else self.data_path / "events"

    def enabled_markets(self) -> list[MarketSpec]:
        return [spec for spec in MARKETS if self.exchanges.market(spec).enabled]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def _describe(error: dict) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    message = error["msg"].removeprefix("Value error, ")
    return f"{key}: {message} (got {error.get('input')!r})" if "got" not in message else f"{key}: {message}"


def _yaml_problem(path: Path, exc: yaml.YAMLError) -> str:
    """One line naming the file, line and column: PyYAML's own message spans lines and names `<unicode string>`."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    parts = [getattr(exc, "context", None), getattr(exc, "problem", None)]
    reason = ", ".join(part for part in parts if part) or str(exc)
    return f"{where}: not valid YAML: {' '.join(reason.split())}"


def load_config(path: str | Path | None = None) -> Config:
    """Read and validate a YAML config; raise ConfigError with every problem named."""
    path = Path(path) if path is not None else DEFAULT_CONFIG
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_problem(path, exc)) from None
    if raw is None:  # an empty or all-comments file is a mistake (a wrong path, a truncated file), not "all defaults"
        raise ConfigError(f"{path}: the config file has no keys (empty or only comments); "
                          "config/pumpwatch.yaml lists every key with its default")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, got {type(raw).__name__}")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(err) for err in exc.errors())
        raise ConfigError(f"{path}: {problems}") from None
