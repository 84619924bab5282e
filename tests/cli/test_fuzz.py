"""Fuzzing the command line with Hypothesis: whatever the arguments, sessmap answers with a
documented exit code and at most one ``sessmap: error: …`` line, never a traceback, and an
invocation rejected as bad input (exit 2) leaves the store file byte for byte as it was.

Most examples run in-process through ``typer.testing.CliRunner`` (fast, and the only way to
hand sessmap a NUL byte: ``execve`` cannot carry one in argv); a few run the installed
``sessmap`` in a subprocess with raw bytes in argv (invalid UTF-8 arrives as lone
surrogates), which also goes through the Typer-free fast path of ``get``.

``exec`` is fuzzed only with ``--dry-run`` placed before anything fuzzed, with PATH pointing
at an empty folder as a second guard: a fuzzer must never start a program. Its printed argv
must carry the thread's session ids in the slots the providers define, never the key.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from tests.support import examples
from tests.support.cli import installed_sessmap
from typer.testing import CliRunner, Result

from sessmap.cli.app import app
from sessmap.providers.codex import FLAG_OPTIONS as CODEX_FLAG_OPTIONS
from sessmap.providers.codex import VALUE_OPTIONS as CODEX_VALUE_OPTIONS
from sessmap.stores import open_store

DOCUMENTED_EXIT_CODES = {0, 1, 2, 3, 4}
ERROR_PREFIX = "sessmap: error: "

COMMANDS: tuple[str, ...] = ("create", "get", "show", "list", "set", "rename", "rm", "delete")
COMMANDS += ("prune", "fork", "export", "import", "doctor", "config")
CONFIG_SUBCOMMANDS = ("path", "show", "get", "set", "unset")
OPTIONS = (
    "--agent", "-a", "--provider", "-p", "--session-id", "--cwd", "--label", "-l", "--force",
    "-f", "--json", "--unlabel", "--missing-ok", "--older-than", "--newer-than", "--missing",
    "--dry-run", "-n", "--on-conflict", "--fix", "--prefix", "--match", "--state", "--sort",
    "--reverse", "-r", "--limit", "--format", "--help", "-h", "-q", "--no-color", "--version",
)  # fmt: skip
AWKWARD = (
    "--", "-", "--force", "-rf", "-a", "-fa", "--=", "---", "--label=", "-l=",
    "$(touch pwned)", "`id`", "; ls", "| cat", "&& true", "*", "?", "[a]", "~", "~root/x", "'", '"',
    "\\", "%s%n", "${HOME}", ">out", "\u202eevil", "e\u0301", "\u00e9", "שלום", "مرحبا", "🙂",
    "\U0010ffff", "\x00", "a\x00b", "\ud800", "\udcff", "\n", "a\rb", "\t", " ", "",
    "k=v", "=v", "team=", "a=b=c", "1d12h", "0s", "-1", "0", "99999999999999999999", "1e9",
    "claude", "codex", "gemini", "skip", "replace", "fail", "table", "json", "jsonl", "tsv",
    "keys", "key", "created", "last-used", "active", "pending", "pending-fork", "ttl",
    "store", "agents.x.args", '["--model","x"]', "/abs/dir", "relative/dir",
    "slack:C024BE91L:1700000000.000100", "alpha", "beta",
)  # fmt: skip
HUGE = ("x" * 100_000, "é" * 50_000, "k=" + "v" * 100_000)  # 100 KB each (in UTF-8)
any_text = st.text(st.characters(exclude_categories=()), max_size=24)  # NUL and surrogates too
tokens = (
    st.sampled_from(AWKWARD)
    | st.sampled_from(OPTIONS)
    | st.sampled_from(COMMANDS)
    | st.from_regex(r"--?[a-z][a-z-]{0,12}(=[a-z0-9]{0,4})?", fullmatch=True)  # random options
    | any_text
    | st.sampled_from(HUGE)
)


def _unsafe(token: str) -> bool:
    """Tokens the fuzzer must not produce. ``exec`` would start a program; ``--store`` and
    ``--config`` before the command (a fuzzed ``-q`` can shift it) could write anywhere; ``-v``
    there would rightly print tracebacks. They are tested elsewhere, on purpose."""
    if token in ("exec", "--store", "--config", "--verbose", "--version") or token.startswith(
        ("--store=", "--config=", "--verbose=")
    ):
        return True
    return re.fullmatch(r"-[A-Za-z]+", token) is not None and "v" in token


safe_tokens = tokens.filter(lambda token: not _unsafe(token))


SEED_ROWS: list[dict[str, Any]] = [
    {"key": "alpha", "provider": "claude", "session_id": "s-alpha", "labels": {"team": "infra"}},
    {"key": "beta", "provider": "codex", "session_id": "s-beta", "created_at": "2020-01-01T00:00:00Z"},
    {"key": "--force", "agent": "reviewer", "provider": "claude", "state": "pending"},
    {"key": "שלום", "provider": "claude", "session_id": "s-rtl", "cwd": "/srv/app"},
    {
        "key": "child",
        "provider": "claude",
        "state": "pending-fork",
        "parent": {"agent": "default", "key": "alpha", "session_id": "s-alpha"},
    },
]


def weighted(*choices: tuple[st.SearchStrategy[Any], int]) -> st.SearchStrategy[Any]:
    """Draw from each strategy with the given relative weight (``one_of`` weighs them alike and
    merges repeats)."""
    return st.sampled_from([strategy for strategy, weight in choices for _ in range(weight)]).flatmap(
        lambda strategy: strategy
    )


valid_keys = st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=16)
FILTERS = ("--provider", "--prefix", "--match", "--label", "--older-than", "--newer-than", "--state")
# Each command's own options, so that structured lines get past the parser to the core.
COMMAND_OPTIONS: dict[str, tuple[str, ...]] = {
    "create": ("-a", "--provider", "--session-id", "--cwd", "--label", "--force", "--json"),
    "get": ("-a", "--json"),
    "show": ("-a", "--json"),
    "list": ("-a", *FILTERS, "--sort", "--reverse", "--limit", "--format", "--json"),
    "set": ("-a", "--session-id", "--provider", "--cwd", "--label", "--unlabel", "--json"),
    "rename": ("-a",),
    "rm": ("-a", "--missing-ok"),
    "delete": ("-a", "--missing-ok"),
    "prune": ("-a", "--older-than", "--missing", "--provider", "--dry-run", "--json"),
    "fork": ("-a", "--label", "--json"),
    "export": ("-a", *FILTERS),
    "import": ("--on-conflict",),
    "doctor": ("--fix", "--json"),
}
FLAGS = {"--force", "--json", "--reverse", "--missing-ok", "--missing", "--dry-run", "--fix"}
PLAUSIBLE = {
    "-a": ("default", "reviewer", "bad agent", "x" * 65),
    "--provider": ("claude", "codex", "gemini", "no such"),
    "--session-id": ("s-1", "0199a2b1-7c3e-7d10-9f00-5a3b2c1d0e4f", "-rf", "a b", "x" * 257),
    "--cwd": ("/srv/app", "relative", "~", "/"),
    "--label": ("team=infra", "k=", "=v", "nolabel", "a=b=c"),
    "--unlabel": ("team", "", "ghost"),
    "--prefix": ("a", "%", "_", "\\", "\U0010ffff"),
    "--match": ("*", "a*", "[!a]*", "[", "?"),
    "--older-than": ("1d", "0s", "1d12h", "12h1d", "soon", "-1d", "99999999999d"),
    "--newer-than": ("1d", "90s", "2w", "x"),
    "--state": ("active", "pending", "pending-fork", "gone"),
    "--sort": ("last-used", "created", "key", "size"),
    "--limit": ("0", "1", "-1", "10", "1e3", "99999999999999999999"),
    "--format": ("table", "json", "jsonl", "tsv", "keys", "xml"),
    "--on-conflict": ("skip", "replace", "fail", "merge"),
}
KEYS_IN_SEED = tuple(str(row["key"]) for row in SEED_ROWS)


@st.composite
def structured_lines(draw: st.DrawFn) -> list[str]:
    """A real command with its own options (plausible or fuzzed values) and 0-3 keys."""
    command = draw(st.sampled_from(sorted(COMMAND_OPTIONS)))
    words = [command]
    for option in draw(st.lists(st.sampled_from(COMMAND_OPTIONS[command]), max_size=4)):
        words.append(option)
        if option not in FLAGS:
            words.append(draw(weighted((st.sampled_from(PLAUSIBLE[option]), 3), (safe_tokens, 1))))
    keys = weighted((st.sampled_from(KEYS_IN_SEED), 2), (valid_keys, 2), (safe_tokens, 1))
    positional: list[str] = draw(st.lists(keys, max_size=3))
    after_dashes: bool = draw(st.booleans())
    if positional and after_dashes:
        positional.insert(0, "--")  # so that option-like keys are keys
    return [*words, *positional]


@st.composite
def random_lines(draw: st.DrawFn) -> list[str]:
    """A command (real or random), maybe a config subcommand, then up to 8 fuzzed tokens."""
    command = draw(st.sampled_from(COMMANDS) | safe_tokens)
    head = [command]
    if command == "config" and draw(st.booleans()):
        head.append(draw(st.sampled_from(CONFIG_SUBCOMMANDS)))
    return [*head, *draw(st.lists(safe_tokens, max_size=8))]


command_lines = weighted((structured_lines(), 3), (random_lines(), 1))


stdin_texts = st.sampled_from(
    (
        "",
        "alpha\nbeta\n",
        '{"key": "new", "provider": "claude", "session_id": "s-new"}\n{not json\n',
        '{"key": "alpha", "provider": "claude", "session_id": "s-x"}\n',
        "\x00\n",
    )
) | st.text(max_size=40)

# --- the stores the fuzzer runs against ----------------------------------------------------

STORE_FILES = {"sqlite": "sessions.db", "json": "sessions.json"}


@pytest.fixture(scope="module")
def seeded_stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The bytes of a small SQLite and JSON store, copied afresh for every example so that
    every example starts from the same state (Hypothesis replays must see the same world)."""
    folder = tmp_path_factory.mktemp("seeded")
    seeded: dict[str, bytes] = {}
    lines = "".join(json.dumps(row) + "\n" for row in SEED_ROWS)
    for kind, name in STORE_FILES.items():
        path = folder / name
        result = CliRunner().invoke(
            app, ["--store", f"{kind}:{path}", "import", "-"], input=lines, env={"SESSMAP_HOME": str(folder)}
        )
        assert result.exit_code == 0, result.stderr
        seeded[kind] = path.read_bytes()
    return seeded


@dataclass
class World:
    """One example's private store, home, agent folders and empty PATH."""

    folder: Path
    store_path: Path
    store_url: str

    @property
    def env(self) -> dict[str, str | None]:
        return {
            "SESSMAP_HOME": str(self.folder / "home"),
            "SESSMAP_STORE": None,
            "SESSMAP_CONFIG": None,
            "SESSMAP_AGENT": None,
            "CLAUDE_CONFIG_DIR": str(self.folder / "claude"),
            "CODEX_HOME": str(self.folder / "codex"),
            "HOME": str(self.folder / "user"),
            "PATH": str(self.folder / "empty-path"),  # nothing to run, should anything try
        }

    def store_digest(self) -> str:
        """Every file of the store (SQLite's -wal and -shm included), by name and content."""
        digest = hashlib.sha256()
        for path in sorted(self.store_path.parent.iterdir()):
            digest.update(path.name.encode() + b"\0")
            if path.is_file():
                digest.update(path.read_bytes())
        return digest.hexdigest()


@pytest.fixture
def new_world(seeded_stores: dict[str, bytes], tmp_path: Path) -> Iterator[Any]:
    """``new_world(kind, seeded=True)``: a fresh World per call (per Hypothesis example)."""
    made: list[Path] = []

    def make(kind: str, *, seeded: bool = True) -> World:
        folder = Path(tempfile.mkdtemp(dir=tmp_path))
        made.append(folder)
        (folder / "store").mkdir()
        (folder / "empty-path").mkdir()
        store_path = folder / "store" / STORE_FILES[kind]
        if seeded:
            store_path.write_bytes(seeded_stores[kind])
            store_path.chmod(0o600)
        else:  # an empty store that exists: opening a missing one creates it, by design
            open_store(f"{kind}:{store_path}").close()
        return World(folder, store_path, f"{kind}:{store_path}")

    yield make
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)


def invoke(world: World, argv: Sequence[str], stdin: str = "") -> Result:
    runner = CliRunner()
    return runner.invoke(
        app, ["--store", world.store_url, *argv], input=stdin, env=world.env, catch_exceptions=False
    )


# --- what every outcome must look like ------------------------------------------------------


def _silent_failure_allowed(argv: Sequence[str], code: int, stdout: str, stderr: str) -> bool:
    """Failures documented to print no error line: ``config get``/``config unset`` of a setting
    that is not set (exit 1, like git config), ``doctor`` finding problems (exit 1, the report
    on stdout), and a command group given nothing (exit 2, its help on stderr)."""
    words = [w for w in argv if w not in ("-q", "--quiet", "--no-color")]
    if code == 1 and stderr == "" and words[:2] in (["config", "get"], ["config", "unset"]):
        return True
    if code == 1 and "doctor" in words[:1] and ERROR_PREFIX not in stderr:
        return True
    return code == 2 and stderr.startswith("Usage: ") and ERROR_PREFIX not in stderr


def assert_documented_outcome(
    argv: Sequence[str], code: int, stdout: str, stderr: str, allowed: set[int] = DOCUMENTED_EXIT_CODES
) -> None:
    assert "Traceback" not in stderr and "Traceback" not in stdout, stderr
    assert code in allowed, (argv, code, stderr)
    if code == 0:
        assert ERROR_PREFIX not in stderr, stderr
    elif not _silent_failure_allowed(argv, code, stdout, stderr):
        lines = stderr.splitlines()
        assert len(lines) == 1 and stderr.endswith("\n"), (argv, stderr)
        assert lines[0].startswith(ERROR_PREFIX), (argv, stderr)


FUZZ_SETTINGS = settings(
    max_examples=examples(150),
    deadline=None,  # 100 KB arguments and store copies vary in time; nothing here is timed
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("kind", sorted(STORE_FILES))
@FUZZ_SETTINGS
@given(argv=command_lines, stdin=stdin_texts)
@pytest.mark.slow
def test_any_command_line_gets_a_documented_answer(
    kind: str, argv: list[str], stdin: str, new_world: Any
) -> None:
    world: World = new_world(kind)
    before = world.store_digest()
    result = invoke(world, argv, stdin)
    event(f"exit {result.exit_code}")
    assert_documented_outcome(argv, result.exit_code, result.stdout, result.stderr)
    if result.exit_code == 2:
        assert world.store_digest() == before, f"{argv!r} failed with 2 but changed the store"


@pytest.mark.parametrize("kind", sorted(STORE_FILES))
@settings(FUZZ_SETTINGS, max_examples=examples(100))
@given(
    command=st.sampled_from(("create", "get", "show", "set", "rm", "fork", "rename")),
    keys=st.lists(st.sampled_from(AWKWARD + HUGE) | any_text, min_size=1, max_size=2),
    after_dashes=st.booleans(),
)
def test_any_key_is_stored_verbatim_or_refused(
    kind: str, command: str, keys: list[str], after_dashes: bool, new_world: Any
) -> None:
    """Keys of every kind, after ``--`` or not: a valid key round-trips exactly (create, then
    get prints its id), an invalid one is exit 2 with the store untouched."""
    world: World = new_world(kind)
    before = world.store_digest()
    extra = ["--label", "x=y"] if command == "set" else []
    argv = [command, *extra, *(["--"] if after_dashes else []), *keys]
    result = invoke(world, argv)
    assert_documented_outcome(argv, result.exit_code, result.stdout, result.stderr)
    if result.exit_code == 2:
        assert world.store_digest() == before
    # Without --, a first word like "--" or "--force" is Click's to read, not a key.
    surely_the_key = after_dashes or keys[0] == "-" or not keys[0].startswith("-")
    if command == "create" and result.exit_code == 0 and surely_the_key:
        key = keys[0]
        session_id = result.stdout.strip()
        got = invoke(world, ["get", "--", key])
        assert (got.exit_code, got.stdout) == (0, session_id + "\n"), key
        listed = invoke(world, ["list", "--format", "keys"]).stdout.splitlines()
        assert key in listed


# --- the installed command, with raw bytes in argv ------------------------------------------


def _argv_bytes(token: str) -> bytes:
    """As a shell would pass the token: UTF-8, with lone surrogates as the bytes they stand
    for (``\\udcff`` → ``\\xff``, as Python decodes argv) or as CESU-8 when they cannot be."""
    try:
        return os.fsencode(token)
    except UnicodeEncodeError:
        return token.encode("utf-8", "surrogatepass")


# execve cannot carry NUL (it ends a C string), so it is taken out; the in-process tests cover NUL.
process_tokens = (
    (safe_tokens.map(_argv_bytes) | st.binary(max_size=16))
    .map(lambda token: token.replace(b"\0", b""))
    .filter(lambda token: not _unsafe(os.fsdecode(token)))
)


@st.composite
def process_command_lines(draw: st.DrawFn) -> list[bytes]:
    command = draw(st.sampled_from([c.encode() for c in COMMANDS]) | process_tokens)
    return [command, *draw(st.lists(process_tokens, max_size=6))]


@settings(FUZZ_SETTINGS, max_examples=examples(20))
@given(argv=process_command_lines())
def test_installed_command_with_raw_bytes(argv: list[bytes], new_world: Any) -> None:
    world: World = new_world("sqlite")
    before = world.store_digest()
    env = {**os.environ, **{k: v for k, v in world.env.items() if v is not None}}
    for name in ("SESSMAP_STORE", "SESSMAP_CONFIG", "SESSMAP_AGENT", "NO_COLOR"):
        env.pop(name, None)
    done = subprocess.run(
        [installed_sessmap().encode(), b"--store", world.store_url.encode(), *argv],
        input=b"",
        capture_output=True,
        env=env,
        cwd=world.folder,
        timeout=60,
        check=False,
    )
    stdout = done.stdout.decode("utf-8", "replace")
    stderr = done.stderr.decode("utf-8", "replace")
    assert_documented_outcome([os.fsdecode(a) for a in argv], done.returncode, stdout, stderr)
    if done.returncode == 2:
        assert world.store_digest() == before


# --- exec --dry-run: where the session ids go -----------------------------------------------

session_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,40}", fullmatch=True)


# Mostly valid keys and agents, so that most runs reach the session slots being tested.
exec_keys = weighted(
    (valid_keys, 6),
    (st.sampled_from(("k", "resume", "fork", "--resume", "-rf", "--", "--session-id")), 2),
    (st.sampled_from(AWKWARD), 1),
    (any_text, 1),
)
SESSION_WORDS = ("--resume", "-r", "--session-id", "-c", "--continue", "--fork-session", "resume", "fork")
plain_args = st.sampled_from(("-p", "hi", "--model", "sonnet", "-m", "o3", "--json", "--", "-", "exec", "e"))
user_args = st.lists(
    weighted((plain_args, 6), (st.sampled_from(SESSION_WORDS), 1), (safe_tokens, 2)), max_size=5
)


@dataclass
class Thread:
    """What the setup made: the mapping's session id and its parent's, if any."""

    session_id: str | None = None
    parent_id: str | None = None


def _mint(world: World, argv: list[str]) -> Result:
    result = invoke(world, argv)
    assert_documented_outcome(argv, result.exit_code, result.stdout, result.stderr)
    return result


def _write_transcript(world: World, provider: str, session_id: str) -> None:
    """A transcript where the provider looks, so the mapping counts as resumable."""
    if provider == "claude":
        path = world.folder / "claude" / "projects" / "-somewhere" / f"{session_id}.jsonl"
    else:
        path = (
            world.folder / "codex" / "sessions/2026/01/01" / f"rollout-2026-01-01T00-00-00-{session_id}.jsonl"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}\n")


@st.composite
def threads(draw: st.DrawFn, world: World, key: str, agent: str, provider: str) -> Thread:
    """Set up the thread in one of the states exec distinguishes, via the CLI."""
    situation = draw(st.sampled_from(("none", "create", "create-with-id", "set-id", "fork")))
    thread = Thread()
    base = ["-a", agent, "--provider", provider]
    if situation == "none":
        return thread
    if situation == "fork":
        parent_id = draw(session_ids)
        if _mint(world, ["create", *base, "--session-id", parent_id, "--", "fork-parent"]).exit_code:
            return thread
        if _mint(world, ["fork", "-a", agent, "--", "fork-parent", key]).exit_code == 0:
            thread.parent_id = parent_id
            if draw(st.booleans()):
                _write_transcript(world, provider, parent_id)
        return thread
    with_id = situation in ("create-with-id", "set-id")
    first_id = draw(session_ids) if situation == "create-with-id" else None
    made = _mint(world, ["create", *base, *(["--session-id", first_id] if first_id else []), "--", key])
    if made.exit_code:
        return thread
    thread.session_id = first_id or (made.stdout.strip() or None)
    if situation == "set-id":
        new_id = draw(session_ids)
        if _mint(world, ["set", "-a", agent, "--session-id", new_id, "--", key]).exit_code == 0:
            thread.session_id = new_id
    if with_id and thread.session_id and draw(st.booleans()):
        _write_transcript(world, provider, thread.session_id)
    return thread


def _is_fresh_uuid(text: str) -> bool:
    try:
        return uuid.UUID(text).version == 4 and str(uuid.UUID(text)) == text
    except ValueError:
        return False


def _unknown_codex_option(token: str) -> bool:
    """An option codex may or may not give a value: the next word could be taken as it."""
    return (
        token.startswith("-")
        and token != "-"
        and "=" not in token
        and token not in CODEX_FLAG_OPTIONS
        and token not in CODEX_VALUE_OPTIONS
    )


def _codex_reads_as_a_word(argv: list[str], at: int) -> bool | None:
    """How codex (clap) reads ``argv[at]``: True, a word of its own (a subcommand); False, the
    value of the option before it, or prompt text after ``--``; None, codex refuses the command
    before it gets there (an option that needs a value is followed by an option or nothing)."""
    index = 1
    while index < at:
        word = argv[index]
        if word == "--":
            return False
        if word in CODEX_VALUE_OPTIONS:
            if index + 1 == len(argv) or argv[index + 1].startswith("-"):
                return None  # clap: "a value is required"
            if index + 1 == at:
                return False
            index += 2
            continue
        index += 1
    return not _unknown_codex_option(argv[at - 1])


def assert_session_slots(provider: str, command: list[str], argv: list[str], thread: Thread, key: str) -> str:
    """argv is the user's command plus only session words, each followed by an id sessmap owns
    (the thread's, its parent's, or a fresh UUID), which cannot pass for an option. Returns
    which step it was (new, resume, fork)."""
    known_ids = {thread.session_id, thread.parent_id} - {None}

    def check_id(session_id: str) -> None:
        assert session_id in known_ids or _is_fresh_uuid(session_id), (session_id, argv)
        assert not session_id.startswith("-"), argv
        if session_id not in known_ids:
            assert session_id != key  # a fresh id is never the key

    if provider == "claude":
        # The flags go right after the program, so nothing of the user's can take the id.
        assert argv[0] == command[0] and argv[len(argv) - len(command) + 1 :] == command[1:], argv
        inserted = argv[1 : len(argv) - len(command) + 1]
        if len(inserted) == 2:
            assert inserted[0] in ("--session-id", "--resume"), inserted
            ids = [inserted[1]]
        else:
            assert len(inserted) == 5, inserted
            assert (inserted[0], *inserted[2:4]) == ("--resume", "--fork-session", "--session-id"), inserted
            ids = [inserted[1], inserted[4]]
        for session_id in ids:
            check_id(session_id)
        return "fork" if len(ids) == 2 else "resume" if inserted[0] == "--resume" else "new"
    if argv == command:  # a new codex session: the CLI picks the id, sessmap adds nothing
        return "new"
    assert len(argv) == len(command) + 2, (command, argv)
    at = next((i for i in range(len(command)) if argv[i] != command[i]), len(command))
    assert argv[:at] + argv[at + 2 :] == command, (command, argv)
    assert argv[at] in ("resume", "fork"), argv
    check_id(argv[at + 1])
    assert at >= 1, argv
    # Never the value of an option before it, nor prompt text: a subcommand, or codex refuses.
    assert _codex_reads_as_a_word(argv, at) is not False, argv
    return argv[at]


@settings(FUZZ_SETTINGS, max_examples=examples(150))
@given(
    data=st.data(),
    key=exec_keys,
    agent=weighted(
        (st.sampled_from(("default", "reviewer")), 6), (st.sampled_from(("bad agent", "", "-a")), 1)
    ),
    provider=st.sampled_from(("claude", "codex")),
    codex_exec=st.booleans(),
    args=user_args,
    new=st.sampled_from((False, False, False, True)),
)
@pytest.mark.slow
def test_exec_dry_run_puts_session_ids_only_in_their_slots(
    data: st.DataObject,
    key: str,
    agent: str,
    provider: str,
    codex_exec: bool,
    args: list[str],
    new: bool,
    new_world: Any,
) -> None:
    world: World = new_world("sqlite", seeded=False)  # only the threads set up below exist
    valid_agent = agent in ("default", "reviewer")
    thread = data.draw(threads(world, key, agent, provider)) if valid_agent else Thread()
    command = [provider, *(["exec"] if provider == "codex" and codex_exec else []), *args]
    # --dry-run first, before anything fuzzed; the key after -- so that "-rf" is a key.
    argv = ["exec", "--dry-run", "-a", agent, *(["--new"] if new else []), "--", key, *command]
    before = world.store_digest()
    result = invoke(world, argv)
    event(f"exit {result.exit_code}")  # --hypothesis-show-statistics: how often each path ran
    # Inside exec, sessmap's own failures are 125 (SPEC §6).
    assert_documented_outcome(argv, result.exit_code, result.stdout, result.stderr, {0, 125})
    assert world.store_digest() == before, "--dry-run changed the store"
    if result.exit_code != 0:
        assert result.stdout == ""
        return
    printed = json.loads(result.stdout)
    assert isinstance(printed, list) and all(isinstance(word, str) for word in printed)
    if new:
        thread = Thread(parent_id=None)  # --new: only a fresh id (or none, for codex)
    event(f"{provider}: {assert_session_slots(provider, command, printed, thread, key)}")


def test_exec_takes_an_option_like_key_after_dashes(new_world: Any) -> None:
    """``exec -- KEY -- CMD``, the documented way to give a key that starts with -: the second
    -- ends the key, it is not the agent command (found by the fuzzer; fixed in ec8c314)."""
    world: World = new_world("sqlite", seeded=False)
    assert invoke(world, ["create", "--session-id", "s-1", "--", "-rf"]).exit_code == 0
    result = invoke(world, ["exec", "--dry-run", "--", "-rf", "--", "claude", "-p", "hi"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == ["claude", "--session-id", "s-1", "-p", "hi"]


def test_codex_value_option_without_its_value_cannot_take_the_session(new_world: Any) -> None:
    """``codex exec -p`` (a value option left without its value) must not read the inserted
    ``resume`` as its value and the session id as the prompt (found by the fuzzer; fixed in
    ec8c314)."""
    world: World = new_world("sqlite", seeded=False)
    made = invoke(world, ["create", "--provider", "codex", "--session-id", "s-1", "k"])
    assert made.exit_code == 0, made.stderr
    _write_transcript(world, "codex", "s-1")
    result = invoke(world, ["exec", "--dry-run", "k", "--", "codex", "exec", "-p"])
    assert result.exit_code in (0, 2), result.stderr
    if result.exit_code == 0:  # either refused, or resume placed where -p cannot take it
        printed = json.loads(result.stdout)
        assert printed.index("resume") < printed.index("-p"), printed
