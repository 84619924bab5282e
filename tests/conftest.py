"""Every test gets its own sessmap home, config and store; nothing touches the real user's."""

from __future__ import annotations

from pathlib import Path

import pytest

_ENVIRONMENT = ("SESSMAP_STORE", "SESSMAP_CONFIG", "SESSMAP_AGENT", "NO_COLOR", "SESSMAP_HOME")


@pytest.fixture(autouse=True)
def sessmap_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in _ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "sessmap-home"
    monkeypatch.setenv("SESSMAP_HOME", str(home))
    return home
