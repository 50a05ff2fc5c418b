"""What every command's user error must look like: one line on stderr, status 2, no traceback."""

from __future__ import annotations

from click.testing import Result


def one_line_error(result: Result) -> str:
    """The error line of `result`, after checking it is the only line, came with status 2 and no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and result.stdout == "", result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pumpwatch: "), result.stderr
    return lines[0]
