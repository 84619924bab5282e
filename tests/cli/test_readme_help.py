"""The README's command reference is the ``--help`` the app prints (regenerate with
``python -m sessmap.cli.docs --write README.md``)."""

from __future__ import annotations

from pathlib import Path

from sessmap.cli import docs

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_matches_the_help() -> None:
    text = README.read_text()
    assert docs.BEGIN in text and docs.END in text
    assert docs.replace(text) == text, "regenerate: python -m sessmap.cli.docs --write README.md"
