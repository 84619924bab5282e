"""A long import draws a progress bar on a terminal's stderr, and nothing in a pipe.
SESSMAP_PROGRESS_DELAY=0 shows the bar at once, so no test depends on how fast a machine is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.trust_helpers import in_terminal, row, run, store_url

ROWS = 50_000
pytestmark = pytest.mark.slow  # 50k-row imports: CI runs them, the fast loop does not


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "many.jsonl"
    with path.open("w") as out:
        for n in range(ROWS):
            out.write(json.dumps(row(f"k:{n}")) + "\n")
    return path


def test_a_long_import_shows_a_bar_at_a_terminal(tmp_path: Path, source: Path) -> None:
    url = store_url("sqlite", tmp_path)
    code, _, shown = in_terminal(url, "import", str(source), env={"SESSMAP_PROGRESS_DELAY": "0"})
    assert code == 0, shown
    assert "importing" in shown
    assert f"imported {ROWS} mapping(s)" in shown


def test_no_bar_in_a_pipe_or_with_q(tmp_path: Path, source: Path) -> None:
    url = store_url("sqlite", tmp_path)
    done = run(url, "import", str(source), env={"SESSMAP_PROGRESS_DELAY": "0"})
    assert done.returncode == 0
    assert done.stderr == f"imported {ROWS} mapping(s): {ROWS} new, 0 replaced, 0 skipped\n"
    code, _, shown = in_terminal(
        url, "-q", "import", str(source), "--on-conflict", "skip", env={"SESSMAP_PROGRESS_DELAY": "0"}
    )
    assert code == 0 and shown == ""


def test_a_quick_run_shows_no_bar(tmp_path: Path) -> None:
    url = store_url("sqlite", tmp_path)
    small = tmp_path / "one.jsonl"
    small.write_text(json.dumps(row("k")) + "\n")
    code, _, shown = in_terminal(url, "import", str(small), env={"SESSMAP_PROGRESS_DELAY": "30"})
    assert code == 0 and "importing" not in shown


def test_a_long_export_shows_a_bar_at_a_terminal_and_nothing_in_a_pipe(tmp_path: Path, source: Path) -> None:
    url = store_url("sqlite", tmp_path)
    assert run(url, "-q", "import", str(source)).returncode == 0
    # in_terminal reads stdout only at the end: a page of keys fits the pipe's buffer.
    args = ("export", "-n", "2000", "--fields", "key")
    code, exported, shown = in_terminal(url, *args, env={"SESSMAP_PROGRESS_DELAY": "0"})
    assert code == 0, shown
    assert "exporting" in shown
    assert len(exported.splitlines()) == 2000  # the bar is on stderr only: the rows are whole
    piped = run(url, "export", env={"SESSMAP_PROGRESS_DELAY": "0"})
    assert piped.returncode == 0 and piped.stderr == ""
