"""Every JSON sessmap prints parses, and every JSONL record is one line, even under
``str.splitlines()``.

``json.dumps(ensure_ascii=False)`` leaves U+2028, U+2029 and U+0085 raw: valid JSON, but
``str.splitlines()`` (and many JSONL readers) break lines there, so a label holding one made
``list --format jsonl`` and ``export`` records fall apart, and ``list --json`` (which indents
each record with ``splitlines()``) printed invalid JSON. ``sessmap.jsontext.dumps`` escapes
them, and every JSON output goes through it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tests.support import SESSMAP, examples

from sessmap import jsontext

TIMEOUT = 30
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # where str.splitlines() breaks
UNSAFE = "\x85\u2028\u2029"  # ... and json.dumps(ensure_ascii=False) leaves raw

# Every code point, surrogates and unassigned ones included, with the line breaks made likely.
ANY_CHARACTER = st.characters(exclude_categories=()) | st.sampled_from([*LINE_BREAKS, "\ud800", "\udfff"])
TEXT = st.text(ANY_CHARACTER)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=examples(500))
@given(TEXT)
@example("label\u2028value\u2029end\x85")
@example("\ud83d")  # a lone surrogate, as surrogateescape makes of an undecodable byte
def test_dumps_of_any_text_is_one_line_that_reads_back(text: str) -> None:
    out = jsontext.dumps(text)
    assert out.splitlines() == [out]
    assert json.loads(out) == text
    out.encode("utf-8")  # printable on a UTF-8 stdout: no lone surrogate left raw
    # Other non-ASCII stays as it is, readable (only what could split a line is escaped).
    kept = {c for c in text if ord(c) > 0x7F and c not in UNSAFE and not 0xD800 <= ord(c) <= 0xDFFF}
    assert all(c in out for c in kept)


@settings(max_examples=examples(300))
@given(JSON_VALUES)
@example({"labels": {"note\u2028": ["para\u2029graph", "next\x85line"]}})
def test_dumps_of_any_value_reads_back_one_line_or_indented(value: Any) -> None:
    line = jsontext.dumps(value)
    assert line.splitlines() == [line]
    assert json.loads(line) == value
    pretty = jsontext.dumps(value, indent=2)
    assert json.loads(pretty) == value
    assert pretty.splitlines() == pretty.split("\n")  # no line break but "\n"
    assert not any(c in pretty for c in UNSAFE)


# --- end to end: the installed command ---------------------------------------------------------

KEY = "thread\u2028one\u2029"
LABEL = "note=para\u2029graph\u2028line"


def sessmap(store: str, *args: str, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(SESSMAP), "--store", store, *args],
        capture_output=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert result.returncode == 0, (args, result.returncode, result.stderr.decode(errors="replace"))
    return result.stdout.decode("utf-8")


def records(text: str) -> list[Any]:
    """JSONL as a strict reader sees it: every ``splitlines()`` line one JSON document."""
    assert not any(c in text for c in UNSAFE), "a raw line break inside a record"
    return [json.loads(line) for line in text.splitlines()]


def document(text: str) -> Any:
    """Pretty JSON: one document, and no line break in it but "\\n"."""
    assert text.splitlines() == text.rstrip("\n").split("\n"), "a raw line break inside a value"
    return json.loads(text)


@pytest.mark.slow
def test_every_json_output_survives_line_separators(tmp_path: Path) -> None:
    for kind in ("sqlite", "json"):
        store = f"{kind}:{tmp_path / f'sessions.{kind}'}"
        created = document(sessmap(store, "create", KEY, "--provider", "claude", "--label", LABEL, "--json"))
        assert created["key"] == KEY and created["labels"] == {"note": LABEL.split("=", 1)[1]}
        sessmap(store, "create", "plain", "--provider", "claude")

        jsonl = records(sessmap(store, "list", "--format", "jsonl"))
        assert sorted(row["key"] for row in jsonl) == sorted([KEY, "plain"])
        for args in (["list", "--json"], ["list", "--format", "json"]):
            assert sorted(row["key"] for row in document(sessmap(store, *args))) == sorted([KEY, "plain"])
        assert document(sessmap(store, "show", KEY, "--json"))["labels"] == created["labels"]
        assert document(sessmap(store, "get", KEY, "--json"))["key"] == KEY

        exported = records(sessmap(store, "export"))
        assert {row["key"]: row for row in exported}[KEY]["labels"] == created["labels"]

        status = tmp_path / f"status-{kind}.json"
        work = tmp_path / "work"
        work.mkdir(exist_ok=True)
        new_key = f"exec\u2028{kind}"
        sessmap(
            store, "exec", new_key, "--provider", "claude", "--status", str(status), "--", "true", cwd=work
        )
        [report] = records(status.read_text(encoding="utf-8"))
        assert report["key"] == new_key and report["exit"] == 0
