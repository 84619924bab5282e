"""CLI tests run the real app in-process against real SQLite and JSON store files."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.support import SESSMAP
from typer.testing import CliRunner, Result

from sessmap.cli.app import app

STORE_KINDS = ("sqlite", "json")


@dataclass
class Sessmap:
    """Runs ``sessmap --store URL ARGS…`` in-process."""

    store_url: str
    store_path: Path

    def __call__(self, *args: str, input: str | bytes | None = None, store: bool = True) -> Result:
        runner = CliRunner()
        argv = ["--store", self.store_url, *args] if store else list(args)
        return runner.invoke(app, argv, input=input, catch_exceptions=False)

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return result

    def import_rows(self, *rows: dict[str, Any]) -> None:
        lines = "".join(json.dumps(row) + "\n" for row in rows)
        self.ok("import", "-", input=lines)

    def rows(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.ok("export").stdout.splitlines()]


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sessmap(tmp_path: Path, store_kind: str) -> Sessmap:
    path = tmp_path / ("sessions.db" if store_kind == "sqlite" else "sessions.json")
    return Sessmap(store_url=f"{store_kind}:{path}", store_path=path)


def ago(**delta: float) -> str:
    """A timestamp ``delta`` before now, in the stored format."""
    moment = datetime.now(UTC).replace(microsecond=0) - timedelta(**delta)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def one_error_line(result: Result) -> str:
    """The stderr of a failed command: exactly one ``sessmap: error:`` line, no traceback."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sessmap: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def installed_sessmap() -> str:
    """The console script installed next to this interpreter, as users run it."""
    assert SESSMAP.exists(), SESSMAP
    return str(SESSMAP)


Runner = Callable[..., Result]
