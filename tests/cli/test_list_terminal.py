"""``list`` at a real terminal (a pseudo-terminal of a set width): the table streams, fits
60, 80 and 120 columns with the key whole and LAST SEEN visible, shows a page of 30 and says on
stderr how many more there are; ``-n 0`` shows all. 100k mappings answer within seconds with
flat memory. The installed command runs in a process of its own, as users run it."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import termios
import time
from pathlib import Path
from typing import NamedTuple

import pytest
from tests.support import SESSMAP
from tests.support.terminal import read_terminal

AGE = re.compile(r"(\d+[smhdw] ago|just now)$")
LONG_KEY = "discord:" + "1234567890" * 7  # 78 characters: wider than 60 and 70 columns


class Seen(NamedTuple):
    stdout: str
    stderr: str
    code: int
    first_page_seconds: float  # from spawn until the header and 30 rows had arrived
    max_rss_kib: int


def at_terminal(*args: str, columns: int, page_lines: int = 31) -> Seen:
    """Run ``sessmap ARGS…`` with stdout on a pseudo-terminal ``columns`` wide; stderr a pipe."""
    controller, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {name: value for name, value in os.environ.items() if name not in ("COLUMNS", "LINES")}
    start = time.perf_counter()
    process = subprocess.Popen(
        [str(SESSMAP), "--no-color", *args],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(follower)
    first_page: list[float] = []

    def time_the_first_page(shown: bytes) -> None:
        if not first_page and shown.count(b"\n") >= page_lines:
            first_page.append(time.perf_counter() - start)

    shown = read_terminal(controller, on_output=time_the_first_page)
    os.close(controller)
    assert process.stderr is not None
    with process.stderr:
        stderr = process.stderr.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    stdout = shown.decode().replace("\r\n", "\n")  # the terminal's own newline mapping
    return Seen(stdout, stderr, process.returncode, first_page[0] if first_page else elapsed, usage.ru_maxrss)


def import_rows(rows: list[dict[str, object]], tmp_path: Path) -> None:
    file = tmp_path / "rows.jsonl"
    file.write_text("".join(json.dumps(row) + "\n" for row in rows))
    subprocess.run([str(SESSMAP), "import", str(file)], check=True, capture_output=True, timeout=300)


def row(number: int, **fields: object) -> dict[str, object]:
    return {
        "key": f"slack:C024BE91L:17000000{number:02d}.000100",
        "provider": "codex" if number % 3 == 0 else "claude",
        "agent": "reviewer" if number % 4 == 0 else "default",
        "session_id": f"0199a2b1-7c3e-7d10-9f00-5a3b2c1d{number:04d}",
        "turns": number,
        **fields,
    }


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_the_table_fits_the_terminal_with_keys_whole_and_ages_visible(tmp_path: Path, columns: int) -> None:
    import_rows([*(row(n) for n in range(8)), row(99, key=LONG_KEY)], tmp_path)
    seen = at_terminal("list", columns=columns)
    assert seen.code == 0, seen.stderr
    assert seen.stderr == ""
    lines = seen.stdout.splitlines()
    header = lines[0]
    assert header.startswith("KEY") and header.endswith("LAST SEEN"), header
    assert len(header) <= columns
    keys = [f"slack:C024BE91L:17000000{n:02d}.000100" for n in range(8)]
    for key in [*keys, LONG_KEY]:
        assert any(line.split(" ")[0] == key for line in lines[1:]), (key, seen.stdout)
    for line in lines[1:]:
        # Only a key wider than the terminal overflows it (its line wraps; the key is not cut).
        assert len(line) <= columns or line == LONG_KEY, line
    rows_with_age = [line for line in lines[1:] if AGE.search(line.rstrip())]
    assert len(rows_with_age) == 9, seen.stdout  # every row's LAST SEEN, the long key's below it
    if columns >= 120:
        assert header.split() == ["KEY", "AGENT", "PROVIDER", "SESSION", "STATE", "TURNS", "LAST", "SEEN"]


def test_a_key_wider_than_its_column_gets_a_line_of_its_own(tmp_path: Path) -> None:
    import_rows([row(1), row(2, key=LONG_KEY)], tmp_path)
    lines = at_terminal("list", "--sort", "key", columns=60).stdout.splitlines()
    at = lines.index(LONG_KEY)
    below = lines[at + 1]
    assert below.startswith(" ") and AGE.search(below.rstrip()), lines


def test_a_page_of_30_then_how_many_more_on_stderr(tmp_path: Path) -> None:
    import_rows([row(n) for n in range(47)], tmp_path)
    seen = at_terminal("list", columns=120)
    assert seen.code == 0
    lines = seen.stdout.splitlines()
    assert lines[0].startswith("KEY")
    assert len(lines) == 31
    assert seen.stderr == "17 more; use -n 0 for all\n"
    quiet = at_terminal("-q", "list", columns=120)
    assert len(quiet.stdout.splitlines()) == 31 and quiet.stderr == ""


@pytest.mark.slow
def test_n_0_shows_every_row_and_n_limits_without_a_more_line(tmp_path: Path) -> None:
    import_rows([row(n) for n in range(47)], tmp_path)
    every = at_terminal("list", "-n", "0", columns=120)
    assert len(every.stdout.splitlines()) == 48 and every.stderr == ""
    five = at_terminal("list", "-n", "5", columns=120)
    assert len(five.stdout.splitlines()) == 6 and five.stderr == ""
    as_json = at_terminal("list", "--json", columns=120)  # a page at a terminal, whatever the format
    assert len(json.loads(as_json.stdout)) == 30 and as_json.stderr == "17 more; use -n 0 for all\n"


def test_exactly_a_page_says_nothing_more(tmp_path: Path) -> None:
    import_rows([row(n) for n in range(30)], tmp_path)
    seen = at_terminal("list", columns=80)
    assert len(seen.stdout.splitlines()) == 31 and seen.stderr == ""


@pytest.mark.slow
def test_100k_mappings_the_first_page_within_seconds_and_memory_flat(tmp_path: Path) -> None:
    size = 100_000
    file = tmp_path / "many.jsonl"
    with file.open("w") as out:
        for number in range(size):
            line = {"key": f"slack:C{number % 97:03d}:{1700000000 + number}.000100", "provider": "claude"}
            line["session_id"] = f"0199a2b1-7c3e-7d10-9f00-{number:012d}"
            out.write(json.dumps(line) + "\n")
    subprocess.run([str(SESSMAP), "import", str(file)], check=True, capture_output=True, timeout=600)
    one = at_terminal("list", "-n", "1", columns=120, page_lines=2)
    assert one.code == 0 and len(one.stdout.splitlines()) == 2
    page = at_terminal("list", columns=120)
    assert page.code == 0, page.stderr
    assert len(page.stdout.splitlines()) == 31
    assert page.stderr == f"{size - 30} more; use -n 0 for all\n"
    assert page.first_page_seconds < 20, page.first_page_seconds
    # The old table held every row (553 MB at 100k); streaming stays near a one-row run.
    assert page.max_rss_kib < one.max_rss_kib * 1.5, (page.max_rss_kib, one.max_rss_kib)
    every = at_terminal("list", "-n", "0", columns=120)
    assert len(every.stdout.splitlines()) == size + 1
    assert every.max_rss_kib < one.max_rss_kib * 1.5, (every.max_rss_kib, one.max_rss_kib)


def test_cutting_free_text_counts_terminal_cells() -> None:
    from sessmap.cli.table import cut, width_of

    assert cut("abcdefghij", 5, "end") == "abcd…"
    assert cut("abcdefghij", 5, "middle") == "ab…ij"  # paths and ids keep both ends
    assert cut("slack:C1:17", 3, "never") == "slack:C1:17"  # the key
    assert width_of("日本") == 4
    assert cut("日本語テキスト", 5, "end") == "日本…" and width_of(cut("日本語テキスト", 5, "end")) == 5
