"""What sessmap can prove about a transcript (transcripts/presence.py, SPEC §7 "stale means stale").

"gone" needs every proof at once: the recorded host is this one, the recorded agent home is
here and readable and lacks the file, and the store holds no copy. Each test below takes one
proof away and checks the answer turns to "unknown" (or better), with the reason.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sessmap.stores import Store, open_store
from sessmap.stores.base import TranscriptKey
from sessmap.transcripts.locate import CODEX_PROJECT, ClaudeLocator, CodexLocator
from sessmap.transcripts.presence import Presence, Sighting, presence, this_host

ID = "0d3c4b2a-1111-4222-8333-444455556666"
ELSEWHERE = "another-host.invalid"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:{tmp_path / 's.db'}") as opened:
        yield opened


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "claude-home"
    (folder / "projects").mkdir(parents=True)
    return folder


CWD = "/srv/work"


def transcript(home: Path, cwd: str = CWD) -> Path:
    path = home / "projects" / ClaudeLocator().project_key(cwd) / f"{ID}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"type":"user"}\n')
    return path


def here(home: Path | None, host: str | None = None) -> Sighting:
    return Sighting(ID, CWD, this_host() if host is None else host, None if home is None else str(home))


def test_this_host_is_the_host_name() -> None:
    import socket

    assert this_host() == socket.gethostname() and this_host()


def test_local_when_the_file_is_in_the_recorded_home(home: Path, store: Store) -> None:
    path = transcript(home)
    found = presence(here(home), ClaudeLocator(), store.transcripts)
    assert found == Presence("local", path)
    assert found.resumable is True


def test_local_even_with_a_store_copy(home: Path, store: Store) -> None:
    path = transcript(home)
    store.transcripts.append(TranscriptKey(ClaudeLocator().project_key(CWD), ID), [b"{}"])
    assert presence(here(home), ClaudeLocator(), store.transcripts) == Presence("local", path)


def test_archived_codex_rollout(tmp_path: Path, store: Store) -> None:
    home = tmp_path / "codex-home"
    path = home / "archived_sessions" / f"rollout-2026-11-21T10-49-54-{ID}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("{}\n")
    found = presence(here(home), CodexLocator(), store.transcripts)
    assert found == Presence("archived", path)
    assert found.resumable is None  # codex refuses it until unarchived, but it is not gone


def test_stored_when_only_the_store_has_a_copy(home: Path, store: Store) -> None:
    store.transcripts.append(TranscriptKey("-any-project", ID), [b'{"type":"user"}'])
    found = presence(here(home), ClaudeLocator(), store.transcripts)
    assert found == Presence("stored")
    assert found.resumable is True


def test_stored_beats_unknown_for_another_host(home: Path, store: Store) -> None:
    store.transcripts.append(TranscriptKey(CODEX_PROJECT, ID), [b"{}"])
    assert presence(here(home, ELSEWHERE), CodexLocator(), store.transcripts).state == "stored"


def test_gone_when_every_proof_holds(home: Path, store: Store) -> None:
    other = home / "projects" / ClaudeLocator().project_key(CWD) / "another-session.jsonl"
    other.parent.mkdir()
    other.write_text("{}\n")
    found = presence(here(home), ClaudeLocator(), store.transcripts)
    assert found.state == "gone"
    assert found.path is None
    assert found.reason is not None and str(home) in found.reason
    assert found.resumable is False


def test_gone_when_the_store_keeps_no_copies(home: Path) -> None:
    assert presence(here(home), ClaudeLocator(), None).state == "gone"


def test_gone_for_codex_too(tmp_path: Path, store: Store) -> None:
    home = tmp_path / "codex-home"
    (home / "sessions" / "2026" / "11" / "21").mkdir(parents=True)
    assert presence(here(home), CodexLocator(), store.transcripts).state == "gone"


def test_another_hosts_transcript_is_unknown(home: Path, store: Store) -> None:
    found = presence(here(home, ELSEWHERE), ClaudeLocator(), store.transcripts)
    assert found.state == "unknown"
    assert found.reason is not None and "another host" in found.reason and ELSEWHERE in found.reason
    assert found.resumable is None


def test_another_hosts_home_path_is_not_searched_here(home: Path, store: Store) -> None:
    # The same path on this host is another folder than the one the session ran with.
    transcript(home)
    assert presence(here(home, ELSEWHERE), ClaudeLocator(), store.transcripts).state == "unknown"


def test_never_recorded_home_is_unknown(home: Path, store: Store) -> None:
    found = presence(Sighting(ID, CWD, this_host(), None), ClaudeLocator(), store.transcripts)
    assert found.state == "unknown"
    assert found.reason is not None and "no run recorded" in found.reason


def test_never_recorded_host_is_unknown_but_its_home_is_searched(home: Path, store: Store) -> None:
    sighting = Sighting(ID, CWD, None, str(home))
    found = presence(sighting, ClaudeLocator(), store.transcripts)
    assert found.state == "unknown"
    assert found.reason is not None and "no run recorded" in found.reason
    path = transcript(home)
    assert presence(sighting, ClaudeLocator(), store.transcripts) == Presence("local", path)


def test_missing_agent_home_is_unknown(tmp_path: Path, store: Store) -> None:
    missing = tmp_path / "not-here"
    found = presence(here(missing), ClaudeLocator(), store.transcripts)
    assert found.state == "unknown"
    assert found.reason is not None and "missing" in found.reason and str(missing) in found.reason


def test_agent_home_that_is_a_file_is_unknown(tmp_path: Path, store: Store) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    assert presence(here(not_a_folder), ClaudeLocator(), store.transcripts).state == "unknown"


def test_look_in_finds_the_file_in_the_current_home(home: Path, tmp_path: Path, store: Store) -> None:
    current = tmp_path / "current-home"
    path = transcript(current)
    found = presence(here(home), ClaudeLocator(), store.transcripts, look_in=current)
    assert found == Presence("local", path)
    # Also for a session last run on another host, or never recorded.
    assert presence(here(home, ELSEWHERE), ClaudeLocator(), None, look_in=current) == Presence("local", path)
    assert presence(Sighting(ID, None, None, None), ClaudeLocator(), None, look_in=current).state == "local"


def test_look_in_without_the_file_does_not_prove_anything_else(home: Path, tmp_path: Path) -> None:
    current = tmp_path / "current-home"
    current.mkdir()
    assert presence(here(home), ClaudeLocator(), None, look_in=current).state == "gone"
    assert presence(here(home, ELSEWHERE), ClaudeLocator(), None, look_in=current).state == "unknown"


def test_overlong_ids_and_homes_never_raise(tmp_path: Path, store: Store) -> None:
    long_home = tmp_path / ("h" * 300)
    assert (
        presence(Sighting("a" * 256, CWD, this_host(), str(tmp_path)), ClaudeLocator(), None).state == "gone"
    )
    assert presence(here(long_home), ClaudeLocator(), store.transcripts).state == "unknown"


# -- an agent home this user cannot read ---------------------------------------------------

_PROBE = """
import json, sys
from sessmap.transcripts.locate import ClaudeLocator
from sessmap.transcripts.presence import Sighting, presence, this_host
session_id, cwd, home = sys.argv[1:4]
found = presence(Sighting(session_id, cwd, this_host(), home), ClaudeLocator(), None)
print(json.dumps({"state": found.state, "reason": found.reason}))
"""


def _drop_file_permission_override() -> None:
    """In the child before exec: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding
    set, so root after exec is held to file modes (os.access then answers as for anyone)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def presence_without_override(home: Path) -> dict[str, str]:
    """``presence`` of a session whose recorded home is ``home``, by a process that file modes
    apply to (this one when not root; a child without the DAC capabilities when root)."""
    if os.geteuid() != 0:
        found = presence(Sighting(ID, CWD, this_host(), str(home)), ClaudeLocator(), None)
        return {"state": found.state, "reason": found.reason or ""}
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, ID, CWD, str(home)],
            preexec_fn=_drop_file_permission_override,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except subprocess.SubprocessError as err:
        pytest.skip(f"running as root and cannot drop CAP_DAC_OVERRIDE to test file modes: {err}")
    result: dict[str, str] = json.loads(done.stdout)
    return result


@pytest.fixture
def locked_home(home: Path) -> Iterator[Path]:
    home.chmod(0)
    try:
        if os.geteuid() != 0 and os.access(home, os.R_OK):
            pytest.skip("this user can read a mode-000 folder")
        yield home
    finally:
        home.chmod(0o700)


def test_unreadable_agent_home_is_unknown(locked_home: Path) -> None:
    found = presence_without_override(locked_home)
    assert found["state"] == "unknown"
    assert "not readable" in found["reason"] and str(locked_home) in found["reason"]


def test_readable_agent_home_without_the_file_is_gone_for_the_same_probe(home: Path) -> None:
    # The control for the test above: the same probe, one proof different.
    assert presence_without_override(home)["state"] == "gone"


def test_unreadable_projects_folder_inside_a_readable_home_is_not_gone(home: Path) -> None:
    transcript(home)
    (home / "projects").chmod(0)
    try:
        assert presence_without_override(home)["state"] != "gone"
    finally:
        (home / "projects").chmod(0o700)
