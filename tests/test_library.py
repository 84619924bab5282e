"""The library API a Python bot imports: `from sessmap import …`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import sessmap


def test_every_public_name_resolves() -> None:
    for name in sessmap.__all__:
        assert getattr(sessmap, name) is not None, name


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        sessmap.no_such_thing  # noqa: B018


def test_a_bot_maps_and_runs_a_thread(tmp_path: Path) -> None:
    agent = tmp_path / "agent"
    agent.write_text(f"#!{sys.executable}\nprint('hi')\n")
    agent.chmod(0o755)
    store = sessmap.open_store(f"sqlite:{tmp_path / 'bot.db'}")
    with store:
        result = sessmap.run_exec(
            sessmap.ExecRequest(
                key="slack:C1:1700000000.000100",
                command=[str(agent), "-p", "hello"],
                provider="claude",
                cwd=str(tmp_path),
                capture_output=True,
            ),
            store,
        )
        mapping = store.get("default", "slack:C1:1700000000.000100")
    assert result.exit_code == 0 and result.stdout == b"hi\n"
    assert mapping is not None and mapping.turns == 1 and mapping.session_id == result.session_id
    assert "--session-id" in result.argv and result.session_id in result.argv


def test_importing_the_package_loads_nothing_heavy() -> None:
    code = "import sys, sessmap; print(sorted(m for m in sys.modules if m.startswith('sessmap')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "['sessmap']"
