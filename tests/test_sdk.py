"""``sessmap.sdk`` and ``sessmap.sdk_keys`` apart from any store: the project key claude and the
Claude Agent SDK give a directory, and what loads the SDK (only a ``ClaudeSessionStore``).

The adapter over every store, and the SDK's own conformance suite, are in
tests/stores/test_sdk_conformance.py; the SDK and ``sessmap exec`` sharing sessions, with the
real CLIs, in tests/e2e/test_sdk_bot.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from claude_agent_sdk import project_key_for_directory

from sessmap.sdk_keys import MAX_SANITIZED_LENGTH, project_key_for, sanitize_path


@pytest.fixture(autouse=True)
def own_homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing here may read or write the real user's claude or XDG folders."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(home / ".claude"))
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, str(home / name.lower()))


def _made(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_short_path_is_the_folder_claude_uses(tmp_path: Path) -> None:
    work = _made(tmp_path / "work.dir" / "my app")
    key = project_key_for(str(work))
    assert key == project_key_for_directory(str(work))
    assert key == "".join(c if c.isascii() and c.isalnum() else "-" for c in str(work.resolve()))
    assert project_key_for("/tmp/work1") == project_key_for_directory("/tmp/work1") == "-tmp-work1"


@pytest.mark.parametrize("extra", [1, 37, 400], ids=["just-over", "longer", "much-longer"])
def test_long_path_is_truncated_with_the_sdks_hash(tmp_path: Path, extra: int) -> None:
    deep = tmp_path / ("x" * 120)
    while len(str(deep)) <= len(str(tmp_path)) + MAX_SANITIZED_LENGTH + extra:
        deep = deep / ("y" * 100)
    _made(deep)
    key = project_key_for(str(deep))
    assert key == project_key_for_directory(str(deep))
    assert len(key) > MAX_SANITIZED_LENGTH + 1 and key[MAX_SANITIZED_LENGTH] == "-"


def test_exactly_the_limit_is_kept_whole() -> None:
    name = "/" + "a" * (MAX_SANITIZED_LENGTH - 1)
    assert sanitize_path(name) == "-" + "a" * (MAX_SANITIZED_LENGTH - 1)
    assert project_key_for(name) == project_key_for_directory(name)


@pytest.mark.parametrize(
    "name",
    [
        "caf\u0065\u0301",  # decomposed (as macOS HFS+ hands it back): NFC first
        "café",
        "żółw ✓",
        "日本語のフォルダ",
        "tab\there",
    ],
)
def test_non_ascii_paths(tmp_path: Path, name: str) -> None:
    work = tmp_path / name
    os.mkdir(work)
    assert project_key_for(str(work)) == project_key_for_directory(str(work))
    long = _made(work / ("é" * 100) / ("ü" * 100) / "ïcode")  # non-ASCII past the limit: the hash sees it
    assert project_key_for(str(long)) == project_key_for_directory(str(long))


def test_characters_beyond_the_bmp_count_twice_as_in_claude() -> None:
    # claude (JavaScript) sees UTF-16 code units: an emoji is two, so two "-", and the hash
    # runs over both. Measured: claude 2.1.197 and 2.1.332 made exactly these folders for
    # these directories. The Python SDK writes one "-" there; we follow claude.
    assert sanitize_path("/tmp/sessmap-key-🦀-x") == "-tmp-sessmap-key----x"
    long = "/tmp/sessmap-key-🦀-" + "c" * 200
    assert sanitize_path(long) == ("-tmp-sessmap-key----" + "c" * 200)[:MAX_SANITIZED_LENGTH] + "-lee3v7"
    assert project_key_for_directory("/tmp/sessmap-key-🦀-x") != "-tmp-sessmap-key----x"


def test_nfc_and_nfd_spellings_give_one_key(tmp_path: Path) -> None:
    nfd = unicodedata.normalize("NFD", "/srv/café")
    assert project_key_for(nfd) == project_key_for("/srv/café") == project_key_for_directory(nfd)


def test_symlinks_and_relative_paths_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = _made(tmp_path / "real")
    link = tmp_path / "link"
    link.symlink_to(real)
    assert project_key_for(str(link)) == project_key_for(str(real)) == project_key_for_directory(str(link))
    monkeypatch.chdir(real)
    assert project_key_for(".") == project_key_for(real) == project_key_for_directory(".")


def test_a_missing_directory_still_has_a_key(tmp_path: Path) -> None:
    gone = str(tmp_path / "never" / "made")
    assert project_key_for(gone) == project_key_for_directory(gone)


def _modules_after(code: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(done.stdout.split())


def test_the_keys_module_never_loads_the_sdk() -> None:
    names = _modules_after("from sessmap.sdk_keys import project_key_for; project_key_for('/tmp')")
    assert "sessmap.sdk_keys" in names
    assert not {name for name in names if name.startswith("claude_agent_sdk")}


@pytest.mark.slow
def test_the_sdk_loads_only_when_an_adapter_is_made(tmp_path: Path) -> None:
    importing = _modules_after("import sessmap.sdk")
    assert "sessmap.sdk" in importing and "claude_agent_sdk" not in importing
    making = _modules_after(
        "from sessmap.stores import open_store\nfrom sessmap.sdk import ClaudeSessionStore\n"
        f"ClaudeSessionStore(open_store('sqlite:{tmp_path / 's.db'}'))"
    )
    assert "claude_agent_sdk" in making


def test_without_the_sdk_the_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sessmap.sdk import ClaudeSessionStore
    from sessmap.stores import open_store

    monkeypatch.setitem(sys.modules, "claude_agent_sdk", None)  # what a missing package does
    with open_store(f"sqlite:{tmp_path / 's.db'}") as store, pytest.raises(ImportError) as raised:
        ClaudeSessionStore(store)
    assert "pip install 'sessmap[sdk]'" in str(raised.value)
