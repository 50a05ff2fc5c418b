"""Analysis of one extracted event folder: who moved first, how far, how fast, with how much money.

`analyze_event(folder)` writes `analysis.json`, `summary.md` and `chart.png` beside the trades;
`summary_table(analysis)` is the markdown the CLI prints. Names are resolved lazily so that
`import analysis` (and a CLI's `--help`) does not pay for pandas or matplotlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analysis.report import analyze_event, build_analysis, summary_markdown, summary_table

__all__ = ["analyze_event", "build_analysis", "summary_markdown", "summary_table"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from analysis import report

        return getattr(report, name)
    raise AttributeError(f"module 'analysis' has no attribute {name!r}")
