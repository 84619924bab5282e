"""The fast path (``sessmap.cli.fast``) answers exactly as the full Typer app would.

Every command line runs through both paths, each on a fresh copy of the same files and with
the same environment, and stdout, stderr (as bytes) and the exit code must be equal. ``get``
runs in-process (many forms, Hypothesis keys and agents); ``exec`` runs as real processes,
since the agent writes to the real file descriptors.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.fakeagent.harness import install_fake_agent
from tests.support import examples

from sessmap.cli import fast, spec
from sessmap.cli.app import app
from sessmap.model import Mapping, Parent, parse_timestamp
from sessmap.stores import Query, open_store

STAMP = parse_timestamp("2026-01-02T03:04:05Z")
ACTIVE_ID = "0199a2b1-7c3e-7d10-9f00-5a3b2c1d0e4f"


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: bytes
    stderr: bytes


def _mappings() -> list[Mapping]:
    def mapping(key: str, **fields: object) -> Mapping:
        values: dict[str, object] = {
            "key": key,
            "provider": "claude",
            "session_id": ACTIVE_ID,
            "created_at": STAMP,
            "updated_at": STAMP,
            **fields,
        }
        return Mapping(**values).validate()  # type: ignore[arg-type]

    return [
        mapping("slack:C1:1", turns=3, last_used_at=STAMP),
        mapping("slack:C1:1", agent="reviewer", session_id="sess-reviewer"),
        mapping("-dash", session_id="sess-dash"),
        mapping("é ü ☃", session_id="sess-unicode"),
        mapping("tg:pending", provider="codex", session_id=None, state="pending"),
        mapping(
            "slack:C1:fork",
            session_id=None,
            state="pending-fork",
            parent=Parent("default", "slack:C1:1", ACTIVE_ID),
        ),
    ]


class World:
    """A folder of stores and configs (kept pristine) and the environment commands run in."""

    def __init__(self, root: Path) -> None:
        self.pristine = root / "pristine"
        self.work = root / "work"
        self.pristine.mkdir()
        for name in ("good.db", "home/sessions.db"):
            (self.pristine / name).parent.mkdir(parents=True, exist_ok=True)
            with open_store(f"sqlite:{self.pristine / name}") as store:
                for mapping in _mappings():
                    store.insert(mapping)
        with open_store(f"json:{self.pristine / 'good.json'}") as store:
            for mapping in _mappings():
                store.insert(mapping)
        (self.pristine / "garbage.db").write_bytes(b"this is not a database\n" * 50)
        (self.pristine / "truncated.db").write_bytes((self.pristine / "good.db").read_bytes()[:1500])
        (self.pristine / "corrupt.json").write_text("{not json")
        shutil.copy(self.pristine / "good.db", self.pristine / "damaged.db")
        import sqlite3

        with sqlite3.connect(self.pristine / "damaged.db") as db:
            db.execute("UPDATE mappings SET created_at = 'yesterday' WHERE key = 'slack:C1:1'")
        db.close()
        with sqlite3.connect(self.pristine / "foreign.db") as db:
            db.execute("CREATE TABLE t (x)")
        db.close()
        for name in ("good.db", "damaged.db", "foreign.db", "home/sessions.db"):
            for suffix in ("-wal", "-shm"):
                (self.pristine / f"{name}{suffix}").unlink(missing_ok=True)
        (self.pristine / "store-in-config.toml").write_text(f'store = "json:{self.work / "good.json"}"\n')
        (self.pristine / "broken.toml").write_text("store = [unclosed\n")
        (self.pristine / "bad-ttl.toml").write_text('ttl = "soon"\n')
        (self.pristine / "home/config.toml").write_text('wait_timeout = "1m"\n')
        self.env = {"SESSMAP_HOME": str(self.work / "home")}

    def url(self, name: str) -> str:
        return f"{'json' if name.endswith('.json') else 'sqlite'}:{self.work / name}"

    def reset(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.copytree(self.pristine, self.work)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    names = ("SESSMAP_STORE", "SESSMAP_CONFIG", "SESSMAP_AGENT", "SESSMAP_HOME", "_SESSMAP_COMPLETE")
    saved = {name: os.environ.get(name) for name in names}
    for name in names:
        os.environ.pop(name, None)
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def captured(encoding: str = "utf-8") -> Iterator[tuple[io.BytesIO, io.BytesIO]]:
    """sys.stdout/sys.stderr as Python sets them up for pipes, writing into bytes."""
    out, err = io.BytesIO(), io.BytesIO()
    saved = sys.stdout, sys.stderr
    sys.stdout = io.TextIOWrapper(out, encoding=encoding, errors="strict", write_through=True)
    sys.stderr = io.TextIOWrapper(err, encoding=encoding, errors="backslashreplace", write_through=True)
    try:
        yield out, err
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = saved


def through_app(argv: Sequence[str]) -> Outcome:
    with captured() as (out, err):
        try:
            app(args=list(argv), prog_name="sessmap")
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        return Outcome(int(code), out.getvalue(), err.getvalue())


def through_fast(argv: Sequence[str]) -> Outcome:
    with captured() as (out, err):
        code = fast.run(list(argv))
        assert code is not None, f"the fast path should answer {argv!r}"
        return Outcome(code, out.getvalue(), err.getvalue())


def assert_same(world: World, argv: Sequence[str], env: dict[str, str] | None = None) -> Outcome:
    """Run ``argv`` through both paths on fresh copies of the world; they must agree."""
    with environment({**world.env, **(env or {})}):
        world.reset()
        expected = through_app(argv)
        world.reset()
        got = through_fast(argv)
    assert got == expected, argv
    return got


# --- get: every plain form, every kind of store and failure ----------------------------------

GET_FORMS = [
    lambda key, agent: ["get", key] if agent is None else ["get", "-a", agent, key],
    lambda key, agent: ["get", "--", key] if agent is None else ["get", key, "--agent", agent],
    lambda key, agent: ["get", "--", key] if agent is None else ["get", f"--agent={agent}", "--", key],
    lambda key, agent: ["get", "--", key] if agent is None else ["get", f"-a{agent}", "--", key],
]
KEYS = [
    ("slack:C1:1", None),
    ("slack:C1:1", "reviewer"),
    ("é ü ☃", None),
    ("tg:pending", None),
    ("slack:C1:fork", None),
    ("slack:C1:missing", None),
    ("slack:C1:1", "nobody"),
    ("", None),
    ("k" * 513, None),
    ("bell\x07key", None),
    ("esc\x1b[31mkey", None),
    ("slack:C1:1", "no/slash"),
    ("slack:C1:1", "a" * 65),
]


@pytest.mark.parametrize("key, agent", KEYS)
@pytest.mark.parametrize("form", range(len(GET_FORMS)))
def test_get_forms_and_keys(world: World, key: str, agent: str | None, form: int) -> None:
    argv = GET_FORMS[form](key, agent)
    if key.startswith("-") or not key:
        argv = [*argv[:-1], "--", key] if "--" not in argv else argv
    assert_same(world, ["--store", world.url("good.db"), *argv])


def test_get_finds_the_mapping(world: World) -> None:
    got = assert_same(world, ["--store", world.url("good.db"), "get", "slack:C1:1"])
    assert got == Outcome(0, f"{ACTIVE_ID}\n".encode(), b"")
    missing = assert_same(world, ["--store", world.url("good.db"), "get", "nope"])
    assert missing.code == 3 and missing.stderr.startswith(b"sessmap: error: no mapping for 'nope'")
    pending = assert_same(world, ["--store", world.url("good.db"), "get", "tg:pending"])
    assert pending.code == 3 and b"is pending" in pending.stderr


GLOBALS = [
    lambda w: ["--store", w.url("good.db")],
    lambda w: [f"--store={w.url('good.db')}"],
    lambda w: ["-q", "--store", w.url("good.json")],
    lambda w: ["--no-color", "--quiet", "--store", str(w.work / "good.db")],
    lambda w: ["--store", str(w.work / "good.json"), "--no-color"],
    lambda w: ["--config", str(w.work / "store-in-config.toml")],
    lambda w: [f"--config={w.work / 'broken.toml'}", "--store", w.url("good.db")],
    lambda w: [],  # the default store under SESSMAP_HOME
]


@pytest.mark.parametrize("index", range(len(GLOBALS)))
@pytest.mark.parametrize("key", ["slack:C1:1", "nope"])
def test_get_global_options(world: World, index: int, key: str) -> None:
    assert_same(world, [*GLOBALS[index](world), "get", key])


@pytest.mark.parametrize(
    "env",
    [
        {"SESSMAP_STORE": "json:{work}/good.json"},
        {"SESSMAP_STORE": "{work}/good.db", "SESSMAP_AGENT": "reviewer"},
        {"SESSMAP_CONFIG": "{work}/store-in-config.toml"},
        {"SESSMAP_CONFIG": "{work}/broken.toml"},
        {"SESSMAP_CONFIG": "{work}/bad-ttl.toml"},
        {"SESSMAP_CONFIG": "{work}/absent.toml"},
        {"SESSMAP_AGENT": "reviewer"},
        {"SESSMAP_AGENT": "bad agent"},
        {"SESSMAP_HOME": "{work}/elsewhere/new"},  # a new default store is created: nothing in it
        {"SESSMAP_CONFIG": "~no-such-user-here/config.toml"},
    ],
)
@pytest.mark.parametrize("argv", [["get", "slack:C1:1"], ["get", "-a", "default", "slack:C1:1"]])
def test_get_environment(world: World, env: dict[str, str], argv: list[str]) -> None:
    assert_same(world, argv, {name: value.format(work=world.work) for name, value in env.items()})


@pytest.mark.parametrize(
    "store",
    [
        "garbage.db",
        "truncated.db",
        "foreign.db",
        "damaged.db",
        "corrupt.json",
        "new/folder/fresh.db",
        "new-store.json",
    ],
)
def test_get_broken_or_new_stores(world: World, store: str) -> None:
    got = assert_same(world, ["--store", world.url(store), "get", "slack:C1:1"])
    assert got.code != 0 and got.stderr.count(b"\n") == 1


@pytest.mark.parametrize(
    "url", ["foo:bar", "nowhere", "sqlite:", "json:", "mysql://host/db", "http://x", "C:thing"]
)
def test_get_bad_store_urls(world: World, url: str) -> None:
    got = assert_same(world, ["--store", url, "get", "slack:C1:1"])
    assert got.code == 2


def test_get_with_a_broken_config_and_no_store(world: World) -> None:
    got = assert_same(world, ["--config", str(world.work / "broken.toml"), "get", "slack:C1:1"])
    assert got.code == 2 and b"not valid TOML" in got.stderr


def test_get_config_path_with_unknown_user(world: World) -> None:
    assert_same(world, ["--config", "~no-such-user-here/c.toml", "--store", world.url("good.db"), "get", "k"])


def test_error_lines_on_an_ascii_stderr(world: World) -> None:
    argv = ["--store", world.url("good.db"), "get", "no ☃ here"]
    with environment(world.env):
        world.reset()
        with captured("ascii") as (_, err):
            app(args=argv, prog_name="sessmap", standalone_mode=False)
            expected = err.getvalue()
        world.reset()
        with captured("ascii") as (_, err):
            assert fast.run(argv) == 3
            got = err.getvalue()
    assert got == expected
    assert "☃".encode() in got  # Click writes UTF-8 to a stream that claims ASCII


@settings(
    max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    key=st.text(max_size=20) | st.sampled_from([m.key for m in _mappings()]),
    agent=st.none() | st.from_regex(r"[A-Za-z0-9._-]{1,8}", fullmatch=True) | st.text(max_size=6),
    store=st.sampled_from(["good.db", "good.json", "garbage.db", "damaged.db"]),
    form=st.integers(0, 1),
)
@example(key="slack:C1:1", agent="reviewer", store="good.db", form=0)
@pytest.mark.slow
def test_get_hypothesis(world: World, key: str, agent: str | None, store: str, form: int) -> None:
    agent_options = [] if agent is None else ["--agent", agent] if form else [f"-a{agent}"]
    argv = ["--store", world.url(store), "get", *agent_options, "--", key]
    if fast.plan(argv) is None:
        assert agent is not None and (agent == "" or agent.startswith("-"))  # left to Click
        return
    assert_same(world, argv)


# --- what the fast path leaves to the full app -------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--version"],
        ["--help"],
        ["-v", "get", "k"],
        ["-qv", "get", "k"],
        ["--verbose", "get", "k"],
        ["--store"],
        ["--store", "x.db"],
        ["--store", "--json", "get", "k"],
        ["--store=", "get", "k"],
        ["--store", "a.db", "--store", "b.db", "get", "k"],
        ["--color", "get", "k"],
        ["list"],
        ["show", "k"],
        ["get"],
        ["get", "--json", "k"],
        ["get", "k", "--json"],
        ["get", "--help"],
        ["get", "-h"],
        ["get", "k", "other"],
        ["get", "-a"],
        ["get", "-a", "x", "-a", "y", "k"],
        ["get", "--agent=", "k"],
        ["get", "-a", "-x", "k"],
        ["get", "--agen", "x", "k"],
        ["get", "-x", "k"],
        ["get", "-k"],
        ["exec", "k"],
        ["exec", "k", "claude"],
        ["exec", "k", "--"],
        ["exec", "k", "--dry-run", "--", "claude"],
        ["exec", "k", "--on-stale", "later", "--", "claude"],
        ["exec", "k", "--new", "--new", "--", "claude"],
        ["exec", "--help"],
        ["config", "path"],
        ["--", "get", "k"],
    ],
)
def test_unusual_forms_fall_through(argv: list[str]) -> None:
    assert fast.plan(argv) is None


@pytest.mark.parametrize("name", ["SESSMAP_STORE", "SESSMAP_CONFIG", "SESSMAP_AGENT"])
def test_empty_environment_values_fall_through(world: World, name: str) -> None:
    with environment({**world.env, name: ""}):
        assert fast.plan(["get", "k"]) is None


def test_completion_falls_through(world: World) -> None:
    with environment({**world.env, "_SESSMAP_COMPLETE": "complete_bash"}):
        assert fast.plan(["get", "k"]) is None


@pytest.mark.parametrize(
    "argv",
    [
        ["get", "k"],
        ["-q", "--no-color", "get", "-a", "x", "--", "-k"],
        ["exec", "k", "--", "claude", "-p", "hi", "--json"],
        [
            "exec",
            "-a",
            "x",
            "k",
            "--provider",
            "codex",
            "--cwd",
            "/tmp",
            "--new",
            "--wait-timeout",
            "5m",
            "--on-stale",
            "fail",
            "--",
            "codex",
            "exec",
        ],
        ["exec", "k", "--no-wait", "--", "claude"],
    ],
)
def test_plain_forms_take_the_fast_path(argv: list[str]) -> None:
    assert fast.plan(argv) is not None


# --- exec, as real processes -------------------------------------------------------------------

APP_MAIN = "import sys; from sessmap.cli.app import run; run()"
# 99: the fast path declined (the test says when that is expected).
FAST_MAIN = (
    "import sys; from sessmap.cli.fast import run; code = run(sys.argv[1:]); "
    "sys.exit(99 if code is None else code)"
)
UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def run_process(main: str, argv: Sequence[str], env: dict[str, str]) -> Outcome:
    done = subprocess.run(
        [sys.executable, "-c", main, *argv],
        capture_output=True,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    # New sessions get new UUIDs; everything else must match byte for byte.
    return Outcome(done.returncode, UUID.sub(b"<uuid>", done.stdout), UUID.sub(b"<uuid>", done.stderr))


@pytest.fixture
def agents_env(world: World) -> dict[str, str]:
    bin_dir = world.pristine / "bin"
    install_fake_agent(bin_dir, "claude")
    install_fake_agent(bin_dir, "codex")
    (bin_dir / "exit7").write_text("#!/bin/sh\nexit 7\n")
    (bin_dir / "exit7").chmod(0o755)
    (world.pristine / "claude-home").mkdir()
    (world.pristine / "project").mkdir()
    env = {
        name: value for name, value in os.environ.items() if not name.startswith(("SESSMAP_", "FAKEAGENT_"))
    }
    env.update(
        world.env,
        PATH=f"{world.work / 'bin'}{os.pathsep}{env.get('PATH', os.defpath)}",
        CLAUDE_CONFIG_DIR=str(world.work / "claude-home"),
        CODEX_HOME=str(world.work / "codex-home"),
        HOME=str(world.work),
        SESSMAP_STORE=world.url("good.db"),
    )
    return env


EXEC_CASES = [
    (["exec", "new:thread", "--cwd", "{work}/project", "--", "claude", "-p", "hi"], {}),
    (["exec", "-a", "reviewer", "new:thread", "--", "claude", "-p", "hi"], {"FAKEAGENT_EXIT": "5"}),
    (["exec", "slack:C1:1", "--", "claude", "-p", "again"], {}),  # its transcript is gone: fresh
    (["-q", "exec", "slack:C1:1", "--", "claude", "-p", "again"], {}),
    (["exec", "slack:C1:1", "--on-stale", "fail", "--", "claude", "-p", "again"], {}),
    (["exec", "tg:pending", "--", "codex", "exec", "--json", "hi"], {}),
    (["exec", "tg:pending", "--", "claude", "-p", "hi"], {}),  # provider mismatch
    (["exec", "new:thread", "--no-wait", "--wait-timeout", "1s", "--", "claude"], {}),
    (["exec", "new:thread", "--wait-timeout", "soon", "--", "claude"], {}),
    (["exec", "", "--", "claude"], {}),
    (["exec", "--", "-dash", "--", "claude", "-p", "hi"], {}),  # a key that starts with -
    (["exec", "-a", "bad/agent", "k", "--", "claude"], {}),
    (["exec", "k", "--", "no-such-agent-cli"], {}),
    (["exec", "k", "--provider", "claude", "--", "/no/such/claude"], {}),
    (["exec", "k", "--", "claude", "--resume", "x"], {}),
    (["exec", "k", "--cwd", "{work}/project", "--provider", "claude", "--", "exit7"], {}),
    (["exec", "new:thread", "--", "claude", "-p", "hi"], {"FAKEAGENT_OUT": "out", "FAKEAGENT_ERR": "err"}),
    (["--store", "foo:bar", "exec", "k", "--", "claude"], {}),
    (["--store", "{work}/garbage.db", "exec", "k", "--", "claude"], {}),
    (["exec", "k", "--", "claude"], {"SESSMAP_CONFIG": "{work}/broken.toml"}),
    (["exec", "k", "--", "claude"], {"SESSMAP_STORE": "", "SESSMAP_HOME": "{work}/home"}),
]


@pytest.mark.parametrize("argv, extra", EXEC_CASES)
@pytest.mark.slow
def test_exec_matches_the_full_app(
    world: World, agents_env: dict[str, str], argv: list[str], extra: dict[str, str]
) -> None:
    argv = [arg.format(work=world.work) for arg in argv]
    env = {**agents_env, **{name: value.format(work=world.work) for name, value in extra.items()}}
    world.reset()
    expected = run_process(APP_MAIN, argv, env)
    expected_rows = recorded(world)
    world.reset()
    got = run_process(FAST_MAIN, argv, env)
    if env.get("SESSMAP_STORE") == "":
        assert got.code == 99  # left to the full app
        return
    assert got.code != 99, "the fast path should answer this"
    assert got == expected
    assert recorded(world) == expected_rows


def recorded(world: World) -> list[tuple[object, ...]]:
    """What exec recorded in the store, less what differs from run to run (ids, times)."""
    with open_store(world.url("good.db")) as store:
        return sorted(
            (m.key, m.agent, m.provider, m.state, m.session_id is None, m.cwd, m.turns, m.last_exit)
            for m in store.query(Query())
        )


@pytest.mark.slow
def test_exec_busy_thread(world: World, agents_env: dict[str, str]) -> None:
    argv = ["exec", "slack:C1:1", "--no-wait", "--", "claude", "-p", "hi"]
    outcomes = []
    for main in (APP_MAIN, FAST_MAIN):
        world.reset()
        with open_store(world.url("good.db")) as store, store.thread_lock("default", "slack:C1:1", 0):
            outcomes.append(run_process(main, argv, agents_env))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0].code == 75


def test_installed_command_takes_the_fast_path(world: World) -> None:
    """The console script answers `get` without importing Typer (checked by what it loads)."""
    world.reset()
    code = (
        "import sys; sys.argv = ['sessmap', '--store', sys.argv[1], 'get', 'slack:C1:1']\n"
        "from sessmap.cli import main\n"
        "try:\n    main()\nexcept SystemExit as done:\n"
        "    print(done.code, 'typer' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, world.url("good.db")], capture_output=True, text=True, timeout=60
    )
    assert done.stdout == f"{ACTIVE_ID}\n"
    assert done.stderr == "0 False\n"


# --- command lines generated from the option table (cli/spec.py) -------------------------------

SAMPLES: dict[str, tuple[str, ...]] = {
    "agent": ("reviewer", "nobody", "bad/agent"),
    "provider": ("claude", "codex", "nope"),
    "cwd": ("{work}/project", "{work}/missing"),
    "wait_timeout": ("1s", "soon"),
    "on_stale": ("fail", "fresh"),
    "status": ("{work}/status.json",),
    "status_fd": ("x", "9"),
}


def spellings(opt: spec.Opt, value: str | None) -> list[list[str]]:
    """Every way Click reads ``opt`` (with ``value``): --opt V, --opt=V, -o V, -oV."""
    if opt.is_flag:
        return [[flag] for flag in opt.flags]
    assert value is not None
    forms = [[opt.long, value], [f"{opt.long}={value}"]]
    if opt.short:
        forms += [[opt.short, value], [f"{opt.short}{value}"]]
    return forms


def fast_options(command: str) -> list[spec.Opt]:
    return [opt for opt in spec.COMMANDS[command] if opt.dest in spec.FAST[command]]


def generated_get_cases() -> list[list[str]]:
    cases = []
    for opt in fast_options("get"):
        for value in SAMPLES.get(opt.dest, (None,)):
            for form in spellings(opt, value):
                cases += [
                    ["get", *form, "slack:C1:1"],
                    ["get", "slack:C1:1", *form],
                    ["get", *form, "--", "-dash"],
                ]
    for opt in fast_options(""):
        for form in spellings(
            opt, "{work}/good.json" if opt.dest == "store" else "{work}/store-in-config.toml"
        ):
            cases.append([*form, "get", "slack:C1:1"])
    return cases


@pytest.mark.parametrize("argv", generated_get_cases(), ids=" ".join)
@pytest.mark.slow
def test_generated_get(world: World, argv: list[str]) -> None:
    argv = [arg.format(work=world.work) for arg in argv]
    assert fast.plan(argv) is not None, argv
    assert_same(world, argv if argv[0].startswith("--store") else ["--store", world.url("good.db"), *argv])


@pytest.mark.parametrize(
    "opt", [opt for command in ("", "get") for opt in spec.COMMANDS[command] if opt.envvar], ids=str
)
@pytest.mark.parametrize("argv", [["get", "slack:C1:1"], ["get", "nope"]])
def test_generated_environment(world: World, opt: spec.Opt, argv: list[str]) -> None:
    value = {"store": "{work}/good.json", "config": "{work}/store-in-config.toml"}.get(opt.dest, "reviewer")
    assert opt.envvar is not None
    assert_same(world, argv, {opt.envvar: value.format(work=world.work)})


def generated_fall_through() -> list[list[str]]:
    """Forms the fast path must leave to the full app: options it does not take, bad values."""
    cases = []
    for command in ("get", "exec"):
        tail = ["k"] if command == "get" else ["k", "--", "claude"]
        for opt in spec.COMMANDS[command]:
            if opt.dest not in spec.FAST[command]:
                cases.append([command, *(opt.flags[:1] if opt.is_flag else [opt.long, "x"]), *tail])
            elif not opt.is_flag:
                cases += [[command, f"{opt.long}=", *tail], [command, opt.long, "-x", *tail]]
                cases.append([command, opt.long, "a", opt.long, "b", *tail])  # repeated
                if opt.choices:
                    cases.append([command, opt.long, "never-a-choice", *tail])
            else:
                cases.append([command, opt.long, opt.long, *tail])
    for opt in spec.GLOBAL:
        if opt.dest not in spec.FAST[""]:
            cases.append([opt.long, "get", "k"])
    return cases


@pytest.mark.parametrize("argv", generated_fall_through(), ids=" ".join)
def test_generated_forms_fall_through(argv: list[str]) -> None:
    assert fast.plan(argv) is None


def generated_exec_cases() -> list[list[str]]:
    cases = []
    for opt in fast_options("exec"):
        if opt.is_flag:
            for form in spellings(opt, None):
                cases.append(["exec", *form, "new:thread", "--", "claude", "-p", "hi"])
            continue
        for index, value in enumerate(SAMPLES[opt.dest]):
            forms = spellings(opt, value)
            # Every spelling with the first value; the others in the long form only.
            for form in forms if index == 0 else forms[:1]:
                cases.append(["exec", "new:thread", *form, "--", "claude", "-p", "hi"])
    return cases


@pytest.mark.parametrize("argv", generated_exec_cases(), ids=" ".join)
@pytest.mark.slow
def test_generated_exec(world: World, agents_env: dict[str, str], argv: list[str]) -> None:
    argv = [arg.format(work=world.work) for arg in argv]
    assert fast.plan(argv) is not None, argv
    world.reset()
    expected = run_process(APP_MAIN, argv, agents_env)
    world.reset()
    got = run_process(FAST_MAIN, argv, agents_env)
    assert got == expected
