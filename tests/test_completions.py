"""The checked-in completion scripts are what the installed command generates, and dynamic
completion offers keys from the store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.support.cli import Sessmap, run_sessmap

COMPLETIONS = Path(__file__).resolve().parent.parent / "completions"
SCRIPTS = {"bash": "sessmap.bash", "zsh": "_sessmap", "fish": "sessmap.fish"}


def _generate(shell: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSMAP_")}
    env["_SESSMAP_COMPLETE"] = f"source_{shell}"
    return run_sessmap(base_env=env, check=True).stdout


@pytest.mark.parametrize("shell", sorted(SCRIPTS))
def test_checked_in_script_is_current(shell: str) -> None:
    expected = _generate(shell)
    assert expected.strip(), shell
    actual = (COMPLETIONS / SCRIPTS[shell]).read_text()
    assert actual == expected, (
        f"regenerate: _SESSMAP_COMPLETE=source_{shell} sessmap > completions/{SCRIPTS[shell]}"
    )


def _complete(words: str, store_url: str | None = None) -> list[str]:
    """What bash would offer for the last word of ``words``."""
    env = dict(os.environ, _SESSMAP_COMPLETE="complete_bash", COMP_WORDS=words)
    env["COMP_CWORD"] = str(len(words.split()) - 1)
    if store_url:
        env["SESSMAP_STORE"] = store_url
    return run_sessmap(base_env=env, check=True).stdout.split()


@pytest.mark.slow
def test_keys_complete_from_the_store(tmp_path: Path) -> None:
    store = Sessmap(f"sqlite:{tmp_path / 's.db'}", tmp_path / "s.db")
    for key in ("alpha", "alps", "beta"):
        store.ok("create", key)
    store.ok("create", "-a", "other", "alien")
    assert _complete("sessmap get al", store.store_url) == ["alpha", "alps"]  # agent default
    assert _complete("sessmap get -a other al", store.store_url) == ["alien"]
    assert _complete(f"sessmap --store {store.store_url} rm b") == ["beta"]
    assert _complete("sessmap list --state p") == ["pending", "pending-fork"]


@pytest.mark.slow
def test_completion_never_creates_a_store(tmp_path: Path) -> None:
    url = f"sqlite:{tmp_path / 'none.db'}"
    assert _complete("sessmap get a", url) == []
    assert not (tmp_path / "none.db").exists()


@pytest.mark.slow
def test_keys_complete_from_the_store_a_tilde_config_names(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    store = Sessmap(f"sqlite:{tmp_path / 's.db'}", tmp_path / "s.db")
    store.ok("create", "gamma")
    (home / "sessmap.toml").write_text(f'store = "{store.store_url}"\n')
    env = dict(os.environ, HOME=str(home), _SESSMAP_COMPLETE="complete_bash")
    env.update(COMP_WORDS="sessmap --config ~/sessmap.toml get g", COMP_CWORD="4")
    assert run_sessmap(base_env=env).stdout.split() == ["gamma"]
