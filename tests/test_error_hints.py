"""Errors carry data; hints live in the CLI.

The core names no CLI flag (a bot calling ``run_exec`` has none): its errors carry a ``reason``
and data, and the CLI's table (``sessmap.cli.errors.HINTS``) turns them into the hint a user
at a shell reads, word for word what the CLI printed before the table existed.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.cli import SESSMAP, one_error_line, run_sessmap

from sessmap import service
from sessmap.cli.errors import HINT_FREE, HINTS, cli_hint, describe, exec_describe
from sessmap.errors import Busy, Conflict, ExecFailed, ExitCode, InvalidInput, NotFound, SessmapError
from sessmap.model import Mapping, Parent, now
from sessmap.runner import ExecRequest, plan_exec, run_exec
from sessmap.runner.stdin import StdinReplay
from sessmap.stores import open_store
from sessmap.stores.base import Store

SOURCE = Path(__file__).parents[1] / "src" / "sessmap"
REASON = re.compile(r"""\breason=["']([a-z][a-z0-9]*(?:-[a-z0-9]+)*)["']""")
FLAG = re.compile(r"(?<![\w-])--[a-z]")  # --new, --cwd DIR, -a/--agent


def reasons_in_source() -> dict[str, list[str]]:
    """Every ``reason="…"`` code in the package, and the files that use it."""
    found: dict[str, list[str]] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        for code in REASON.findall(path.read_text(encoding="utf-8")):
            found.setdefault(code, []).append(str(path.relative_to(SOURCE)))
    return found


# --- (a) the table and the source agree ------------------------------------------------------


def test_every_reason_has_a_row_or_is_hint_free_on_purpose() -> None:
    used = reasons_in_source()
    assert "busy" in used and "cwd-mismatch" in used  # the scan finds them
    unclassified = {
        code: files for code, files in used.items() if code not in HINTS and code not in HINT_FREE
    }
    assert unclassified == {}, "give each a row in sessmap.cli.errors.HINTS, or list it in HINT_FREE"


def test_every_row_is_used() -> None:
    used = reasons_in_source()
    assert sorted(set(HINTS) - set(used)) == []
    assert sorted(set(HINT_FREE) - set(used)) == []
    assert set(HINTS).isdisjoint(HINT_FREE)


def test_the_rows_are_plain_and_fill_from_the_data() -> None:
    for reason, hint in HINTS.items():
        if isinstance(hint, str):
            assert set(re.findall(r"\{(\w+)\}", hint)) <= {"agent", "key"}, reason
    err = NotFound("no mapping for 'k' (agent a)", reason="no-session-yet", agent="a", key="k")
    assert describe(err) == (
        "no mapping for 'k' (agent a); try: sessmap exec -- k -- CMD",
        ExitCode.NOT_FOUND,
    )


def test_a_reason_without_a_row_says_the_cores_hint() -> None:
    err = InvalidInput("unknown setting 'x'", reason="unknown-setting", hint="use store or ttl")
    assert describe(err) == ("unknown setting 'x'; use store or ttl", ExitCode.USAGE)
    assert describe(SessmapError("plain"))[0] == "plain"


def test_a_row_whose_data_is_missing_falls_back_to_the_hint() -> None:
    err = Conflict("exists", reason="mapping-exists", hint="a hint")
    assert describe(err)[0] == "exists; a hint"


def test_busy_gets_its_hint_from_the_table() -> None:
    err = Busy("default", "k")
    assert err.hint is None and not FLAG.search(str(err))
    message, code = describe(err)
    assert message.endswith("is busy: another exec is running; wait for it, or give --wait-timeout DURATION")
    assert code == ExitCode.BUSY
    assert exec_describe(err) == (message, ExitCode.BUSY)


def test_wrapped_for_exec_the_hint_is_the_same() -> None:
    err = Conflict("thread 'k' has a claude session, not codex", reason="provider-mismatch", key="k")
    wrapped = ExecFailed.wrapping(err)
    assert wrapped.reason == "provider-mismatch" and wrapped.data == {"key": "k"}
    assert exec_describe(wrapped) == (describe(err)[0], ExitCode.SESSMAP_FAILED)


# --- (b) the library's errors name no flag; the CLI's describe() gives the hint ----------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:{tmp_path / 'sessions.db'}") as opened:
        yield opened


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "agent-home"
    return {
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "CODEX_HOME": str(home / ".codex"),
        "PATH": os.environ.get("PATH", os.defpath),
    }


def insert(store: Store, key: str, **fields: Any) -> None:
    stamp = now()
    fields.setdefault("provider", "claude")
    store.insert(Mapping(key=key, created_at=stamp, updated_at=stamp, **fields).validate())


def caught(call: Callable[[], object]) -> SessmapError:
    with pytest.raises(SessmapError) as info:
        call()
    return info.value


def assert_library_safe(err: SessmapError, reason: str, cli_hint: str) -> None:
    """No flag in what a library caller reads; the CLI's hint from the table."""
    assert err.reason == reason, (err.reason, str(err))
    said = str(err)
    for value in err.data.values():  # what it is about may be an agent's flag (``--resume``)
        said = said.replace(str(value), "…")
    assert not FLAG.search(said), str(err)
    assert err.hint is None or not FLAG.search(err.hint), err.hint
    assert err.hint is None or "sessmap " not in err.hint, err.hint
    message, code = describe(err)
    assert message == f"{err}; {cli_hint}"
    assert code == int(err.exit_code)


def test_service_errors(store: Store, tmp_path: Path) -> None:
    service.create(store, None, agent="default", key="k")
    service.create(store, None, agent="default", key="c", provider="codex")  # pending
    service.create(store, None, agent="default", key="other")

    err = caught(lambda: service.require(store, "default", "nope"))
    assert_library_safe(err, "not-found", "try: sessmap list")
    assert err.data == {"agent": "default", "key": "nope"}
    err = caught(lambda: service.update(store, None, agent="default", key="nope", cwd=str(tmp_path)))
    assert_library_safe(err, "not-found", "try: sessmap list")

    err = caught(lambda: service.session_id_of(store, "default", "c"))
    assert_library_safe(err, "no-session-yet", "try: sessmap exec -- c -- CMD")
    assert err.data["found"] == "pending"

    err = caught(lambda: service.create(store, None, agent="default", key="k"))
    assert_library_safe(err, "mapping-exists", "try: sessmap create --force -- k, or sessmap show -- k")

    err = caught(lambda: service.update(store, None, agent="default", key="k"))
    assert_library_safe(
        err, "nothing-to-change", "give --session-id, --provider, --cwd, --label or --unlabel"
    )

    err = caught(lambda: service.rename(store, agent="default", old_key="k", new_key="other"))
    assert_library_safe(err, "target-exists", "try: sessmap rm -- other first")
    err = caught(lambda: service.fork(store, agent="default", source_key="k", target_key="other"))
    assert_library_safe(err, "target-exists", "try: sessmap rm -- other first")

    err = caught(lambda: service.fork(store, agent="default", source_key="c", target_key="f"))
    assert_library_safe(err, "fork-without-session", "exec it first: sessmap exec -- c -- CMD")

    line = store.get("default", "k")
    assert line is not None
    exported = list(service.export_lines(store, service.Filters().query(), transcripts=False))
    err = caught(lambda: service.import_mappings(store, exported, "fail"))
    assert_library_safe(err, "import-conflict", "try: --on-conflict skip or --on-conflict replace")
    assert err.data["count"] == 3


def test_config_file_errors(tmp_path: Path) -> None:
    err = caught(lambda: service.set_setting(tmp_path / "config.toml", "bogus", "1"))
    assert err.reason == "unknown-setting" and err.reason in HINT_FREE
    assert err.hint is not None and not FLAG.search(err.hint) and not FLAG.search(str(err))
    assert describe(err)[0] == err.line  # no row: the core's own hint
    assert not (tmp_path / "config.toml").exists()


def test_run_exec_errors(store: Store, env: dict[str, str], tmp_path: Path) -> None:
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    insert(store, "t", session_id="s1", cwd=str(work.resolve()))

    def run(**fields: Any) -> SessmapError:
        fields.setdefault("key", "t")
        fields.setdefault("command", ["claude", "-p", "hi"])
        return caught(lambda: run_exec(ExecRequest(env=env, capture_output=True, **fields), store))

    err = run(cwd=str(elsewhere))
    assert_library_safe(
        err, "cwd-mismatch", "leave out --cwd, or use --new to start the thread over in the other directory"
    )
    assert err.data == {
        "agent": "default",
        "key": "t",
        "expected": str(work.resolve()),
        "found": str(elsewhere.resolve()),
    }

    err = run(command=["codex", "exec", "hi"])
    assert_library_safe(
        err,
        "provider-mismatch",
        "use --new to start the thread over with the other provider, or another -a/--agent",
    )
    assert (err.data["expected"], err.data["found"]) == ("claude", "codex")

    gone = tmp_path / "gone"
    gone.mkdir()
    insert(store, "g", session_id="s2", cwd=str(gone))
    gone.rmdir()
    err = run(key="g")
    assert_library_safe(
        err, "cwd-missing", "create it, or start the thread over elsewhere with --new --cwd DIR"
    )
    assert err.data["path"] == str(gone)

    err = run(key="new", command=["/bin/true"], cwd=str(work))
    assert_library_safe(
        err, "unknown-provider", "pass --provider, or set provider in the agent's [agents.NAME] profile"
    )

    err = run(command=["claude", "--resume", "x", "-p", "hi"])
    assert_library_safe(
        err,
        "session-flag",
        "drop it; use --new to start over, or `sessmap set KEY --session-id ID` to switch sessions",
    )
    assert err.data == {"provider": "claude", "found": "--resume"}


def test_plan_exec_stale_session_under_on_stale_fail(
    store: Store, env: dict[str, str], tmp_path: Path
) -> None:
    insert(store, "p", provider="codex", state="pending")
    insert(
        store,
        "f",
        provider="codex",
        state="pending-fork",
        parent=Parent("default", "p", None),
        cwd=str(tmp_path),
    )
    request = ExecRequest(key="f", command=["codex", "exec", "hi"], on_stale="fail", env=env)
    err = caught(lambda: plan_exec(request, store))
    assert_library_safe(err, "stale-session", "start over with --new, or use --on-stale fresh")
    assert (err.data["agent"], err.data["key"]) == ("default", "f")


def test_stdin_too_long(tmp_path: Path) -> None:
    source = tmp_path / "stdin"
    source.write_bytes(b"x")
    with source.open("rb") as stream:
        replay = StdinReplay(stream.fileno())
        replay.attempts, replay.overflowed = 1, True
        err = caught(replay.attach)
    assert_library_safe(
        err, "stdin-too-long", "start the thread over with --new, or pass the prompt as an argument"
    )
    assert err.hint  # the library's own next step, with no flag in it


# --- (c) the installed CLI prints what it printed before ---------------------------------------


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:{tmp_path / 'cli.db'}"


@pytest.mark.slow
def test_the_fast_path_prints_the_same_lines(store_url: str, tmp_path: Path) -> None:
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    with open_store(store_url) as opened:
        insert(opened, "t", session_id="s1", cwd=str(work.resolve()))

    done = run_sessmap("get", "nope", store=store_url)
    assert done.returncode == 3
    assert one_error_line(done) == "sessmap: error: no mapping for 'nope' (agent default); try: sessmap list"

    done = run_sessmap("exec", "--cwd", str(elsewhere), "t", "--", "claude", "-p", "hi", store=store_url)
    assert done.returncode == 125
    assert one_error_line(done) == (
        f"sessmap: error: thread 't' runs in {work.resolve()}, not {elsewhere.resolve()}; "
        "leave out --cwd, or use --new to start the thread over in the other directory"
    )

    done = run_sessmap("exec", "t", "--", "codex", "exec", "hi", store=store_url)
    assert done.returncode == 125
    assert one_error_line(done) == (
        "sessmap: error: thread 't' has a claude session, not codex; "
        "use --new to start the thread over with the other provider, or another -a/--agent"
    )

    done = run_sessmap("exec", "n", "--", "/bin/true", cwd=work, store=store_url)
    assert done.returncode == 125
    assert one_error_line(done) == (
        "sessmap: error: cannot tell which provider '/bin/true' is; "
        "pass --provider, or set provider in the agent's [agents.NAME] profile"
    )


@pytest.mark.slow
def test_the_full_app_prints_the_same_lines(store_url: str) -> None:
    assert run_sessmap("create", "k", store=store_url).returncode == 0
    done = run_sessmap("create", "k", store=store_url)
    assert done.returncode == 4
    assert one_error_line(done) == (
        "sessmap: error: a mapping for 'k' (agent default) exists already; "
        "try: sessmap create --force -- k, or sessmap show -- k"
    )
    done = run_sessmap("set", "k", store=store_url)
    assert done.returncode == 2
    assert one_error_line(done) == (
        "sessmap: error: nothing to change; give --session-id, --provider, --cwd, --label or --unlabel"
    )


# --- issue 14 item 18: a key is pasted into the hint's command line shell-quoted, after `--` ---


@pytest.mark.parametrize(
    ("key", "quoted"),
    [
        ("$(touch x)", "'$(touch x)'"),
        ("-k", "-k"),
        ("a b", "'a b'"),
        ("it's", "'it'\"'\"'s'"),
        ("plain", "plain"),
    ],
)
def test_a_key_in_a_hint_is_shell_quoted_after_double_dash(key: str, quoted: str) -> None:
    err = Conflict("exists", reason="mapping-exists", agent="default", key=key)
    assert cli_hint(err) == f"try: sessmap create --force -- {quoted}, or sessmap show -- {quoted}"
    assert shlex.split(f"sessmap show -- {quoted}")[-1] == key  # what the shell hands sessmap


def test_create_twice_with_a_shell_key_suggests_a_command_that_runs_nothing(tmp_path: Path) -> None:
    key = f"$(touch {tmp_path / 'pwned'})"
    assert run_sessmap("create", "--provider", "claude", "--", key).returncode == 0
    again = run_sessmap("create", "--provider", "claude", "--", key)
    assert again.returncode == 4
    suggested = again.stderr.split("try: ", 1)[1].split(", or ")[0].strip()
    subprocess.run(
        ["sh", "-c", suggested.replace("sessmap", str(SESSMAP), 1)], check=True, capture_output=True
    )
    assert not (tmp_path / "pwned").exists()
    assert run_sessmap("get", "--", key).returncode == 0
