"""At a terminal, the commands that delete or replace many mappings show what they will do and
ask; anything but y/yes cancels (exit 1, nothing changed), --yes skips the question, and
without a terminal (scripts, cron) nobody is asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.trust_helpers import (
    FILE_STORES,
    NEW,
    gone_row,
    in_terminal,
    pairs,
    row,
    run,
    seed,
    snapshot,
    store_url,
)


@pytest.fixture(params=FILE_STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = store_url(str(request.param), tmp_path)
    seed(url, [*(row(f"old:{n}") for n in range(12)), row("fresh", seen=NEW)])
    return url


@pytest.mark.slow
def test_prune_asks_and_no_cancels_changing_nothing(store: str) -> None:
    before = snapshot(store)
    code, out, shown = in_terminal(store, "prune", answer="n")
    assert code == 1, shown
    assert "Remove 12 mappings? [y/N]" in shown
    assert "old:0 (agent default)" in shown and "… and 2 more" in shown
    assert "cancelled; nothing removed" in shown
    assert out == ""
    assert snapshot(store) == before


@pytest.mark.slow
def test_prune_proceeds_on_yes(store: str) -> None:
    code, out, shown = in_terminal(store, "prune", answer="y")
    assert code == 0, shown
    assert "Remove 12 mappings? [y/N]" in shown
    assert len(out.splitlines()) == 12
    assert pairs(store) == {("default", "fresh")}


@pytest.mark.parametrize("answer", ["", "no", "yess", "q"])
@pytest.mark.slow
def test_anything_but_y_cancels(store: str, answer: str) -> None:
    before = snapshot(store)
    code, _, shown = in_terminal(store, "prune", answer=answer)
    assert code == 1, shown
    assert snapshot(store) == before


@pytest.mark.slow
def test_yes_skips_the_question(store: str) -> None:
    code, _, shown = in_terminal(store, "prune", "-y")
    assert code == 0, shown
    assert "[y/N]" not in shown
    assert pairs(store) == {("default", "fresh")}


@pytest.mark.slow
def test_not_at_a_terminal_nobody_is_asked(store: str) -> None:
    done = run(store, "prune")
    assert done.returncode == 0, done.stderr
    assert "[y/N]" not in done.stderr
    assert pairs(store) == {("default", "fresh")}


@pytest.mark.slow
def test_stdin_not_a_terminal_is_not_asked(store: str) -> None:
    code, _, shown = in_terminal(store, "prune", stdin_terminal=False)
    assert code == 0 and "[y/N]" not in shown
    assert pairs(store) == {("default", "fresh")}


def test_nothing_to_remove_asks_nothing(store: str) -> None:
    code, _, shown = in_terminal(store, "prune", "--prefix", "none:")
    assert code == 0 and "[y/N]" not in shown


@pytest.mark.slow
def test_rm_of_several_keys_asks(store: str) -> None:
    before = snapshot(store)
    code, _, shown = in_terminal(store, "rm", "old:1", "old:2", answer="n")
    assert code == 1 and "Remove 2 mappings? [y/N]" in shown
    assert snapshot(store) == before
    code, _, shown = in_terminal(store, "rm", "old:1", "old:2", answer="yes")
    assert code == 0, shown
    assert ("default", "old:1") not in pairs(store)


@pytest.mark.slow
def test_a_pipe_into_rm_typed_at_a_terminal_asks_on_the_terminal(store: str) -> None:
    """``sessmap list … | sessmap rm -``: stdin is the list, so the answer comes from the
    controlling terminal, where the person who typed the pipe is."""
    before = snapshot(store)
    listed = b"old:1\tdefault\nold:2\tdefault\n"
    code, _, shown = in_terminal(store, "rm", "-", piped=listed, answer="n")
    assert code == 1 and "Remove 2 mappings? [y/N]" in shown, shown
    assert snapshot(store) == before
    code, _, shown = in_terminal(store, "rm", "-", piped=listed, answer="y")
    assert code == 0, shown
    assert not {("default", "old:1"), ("default", "old:2")} & pairs(store)


@pytest.mark.slow
def test_a_pipe_into_rm_without_a_controlling_terminal_is_not_asked(store: str) -> None:
    """Cron: no terminal anywhere, so ``rm -`` removes what it is given, as it always did."""
    done = run(store, "rm", "-", input="old:1\tdefault\n")
    assert done.returncode == 0, done.stderr
    assert "[y/N]" not in done.stderr
    assert ("default", "old:1") not in pairs(store)


@pytest.mark.slow
def test_rm_of_one_key_does_not_ask(store: str) -> None:
    code, _, shown = in_terminal(store, "rm", "old:1")
    assert code == 0 and "[y/N]" not in shown
    assert ("default", "old:1") not in pairs(store)


@pytest.mark.slow
def test_import_replace_asks_only_when_it_replaces(store: str, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(row("old:0", session_id="0199a2b1-0000-7000-8000-000000000001")) + "\n")
    before = snapshot(store)
    code, _, shown = in_terminal(store, "import", str(source), "--on-conflict", "replace", answer="n")
    assert code == 1 and "Replace 1 mapping? [y/N]" in shown, shown
    assert "cancelled; nothing imported" in shown
    assert snapshot(store) == before
    code, _, shown = in_terminal(store, "import", str(source), "--on-conflict", "replace", answer="y")
    assert code == 0, shown
    new = tmp_path / "new.jsonl"
    new.write_text(json.dumps(row("brand-new")) + "\n")
    code, _, shown = in_terminal(store, "import", str(new), "--on-conflict", "replace")
    assert code == 0 and "[y/N]" not in shown


@pytest.mark.slow
def test_doctor_fix_asks(tmp_path: Path) -> None:
    url = store_url("sqlite", tmp_path)
    seed(url, [gone_row("gone:1", tmp_path / "home"), gone_row("gone:2", tmp_path / "home")])
    before = snapshot(url)
    code, _, shown = in_terminal(url, "doctor", "--fix", answer="n")
    assert code == 1 and "Remove 2 mappings? [y/N]" in shown, shown
    assert snapshot(url) == before
    code, _, shown = in_terminal(url, "doctor", "--fix", answer="y")
    assert code == 0, shown
    assert pairs(url) == set()
