"""Every test gets its own home, agent homes, XDG folders, sessmap config and store: nothing
of the real user's (``~/.claude``, ``~/.codex``, a sessmap config) can change a result.

Hypothesis runs under the profile ``HYPOTHESIS_PROFILE`` names: ``dev`` (few examples, the
default on a developer's machine) or ``ci`` (thorough, the default when ``CI`` is set).
``--hypothesis-profile NAME`` overrides both."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Before the import, so the shared helpers' asserts explain themselves like the tests' own.
pytest.register_assert_rewrite("tests.support")

from tests.support.cli import SESSMAP  # noqa: E402
from tests.support.native import compiled, python_only  # noqa: E402
from tests.support.skips import unavailable  # noqa: E402

# Property tests size themselves with ``tests.support.examples(n)``: n under ``ci``, a tenth under ``dev``.
settings.register_profile("ci", max_examples=100, print_blob=True)
settings.register_profile("dev", max_examples=10)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))

_ENVIRONMENT = ("SESSMAP_STORE", "SESSMAP_CONFIG", "SESSMAP_AGENT", "NO_COLOR", "SESSMAP_HOME")
# The npm cache of installed agent CLIs (tests/e2e) is shared on purpose: it holds programs,
# never anyone's sessions, and installing them per test would take minutes.
_AGENT_CACHE = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")


@pytest.fixture(autouse=True)
def sessmap_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in _ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "sessmap-home"
    monkeypatch.setenv("SESSMAP_HOME", str(home))
    user = tmp_path / "user-home"
    monkeypatch.setenv("HOME", str(user))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(user / ".claude"))
    monkeypatch.setenv("CODEX_HOME", str(user / ".codex"))
    for name, folder in (("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share")):
        monkeypatch.setenv(name, str(user / folder))
    monkeypatch.setenv("XDG_STATE_HOME", str(user / ".local/state"))
    monkeypatch.setenv("XDG_CACHE_HOME", _AGENT_CACHE)
    return home


@pytest.fixture
def needs_sessmap() -> None:
    """Skip (fail under CI) a test that runs the installed ``sessmap`` command when it is missing."""
    if not SESSMAP.exists():
        unavailable(f"the sessmap command is not installed ({SESSMAP}): pip install -e '.[test]'")


@pytest.fixture(params=["c", "python"])
def each_fast_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """The test runs twice: with the summary's C scanner (``_sniff.c``), and in Python alone."""
    if request.param == "c":
        compiled()
        yield "c"
    else:
        with python_only():
            yield "python"
