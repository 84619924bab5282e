"""OpenAI Codex CLI: ``codex exec …`` (and interactive ``codex``). The CLI picks the ids.

A new session's id is read from the ``{"type":"thread.started","thread_id":…}`` line that
``codex exec --json`` prints first on stdout, else from the ``session id: <id>`` line of its
human-readable header (stderr), else from the rollout file the run's own processes hold open
(``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<timestamp>-<id>.jsonl``): a rollout merely created
meanwhile may be another thread's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePath

from sessmap.errors import InvalidInput
from sessmap.providers.base import (
    AgentOutput,
    OutputWatch,
    Step,
    reject_session_flag,
    required_id,
)
from sessmap.transcripts.locate import CodexLocator
from sessmap.validation import validate_session_id

EXEC_SUBCOMMANDS = frozenset({"exec", "e"})
SESSION_SUBCOMMANDS = frozenset({"resume", "fork"})
# Subcommands that run no conversation sessmap could map (`codex exec review` included).
OTHER_SUBCOMMANDS = frozenset(
    {
        "agents", "review", "login", "logout", "mcp", "mcp-server", "plugin", "app-server",
        "remote-control", "completion", "update", "doctor", "sandbox", "debug", "apply", "a",
        "queue", "archive", "delete", "migrate-rollouts", "migrate-nfs-db", "unarchive", "cloud",
        "exec-server", "features", "help",
    }
)  # fmt: skip
# Options of `codex` and `codex exec` (0.169.0) that take a value as the next argument.
VALUE_OPTIONS = frozenset(
    {
        "-c", "--config", "--enable", "--disable", "--remote", "--remote-auth-token-env",
        "-i", "--image", "-m", "--model", "--local-provider", "-p", "--profile", "-s",
        "--sandbox", "-a", "--ask-for-approval", "-C", "--cd", "--add-dir", "--thread-source",
        "--cyber-access-program", "--output-schema", "--color", "-o", "--output-last-message",
    }
)  # fmt: skip
FLAG_OPTIONS = frozenset(
    {
        "--strict-config", "--oss", "--approve-for-me", "--dangerously-bypass-approvals-and-sandbox",
        "--dangerously-bypass-hook-trust", "--worktree", "--skip-git-repo-check", "--trust",
        "--ephemeral", "--ignore-user-config", "--ignore-rules", "--json", "--search",
        "--no-alt-screen", "--no-daemon", "--full-auto", "--yolo", "-h", "--help", "-V", "--version",
    }
)  # fmt: skip
_VALUE_SHORTS = frozenset(option for option in VALUE_OPTIONS if len(option) == 2)
_SESSION_LINE = re.compile(r"^\s*session id:\s*(\S+)\s*$", re.MULTILINE | re.IGNORECASE)
_STALE = re.compile(r"no rollout found for thread id", re.IGNORECASE)
EXEC_FORK_SINCE = (0, 148, 0)  # `codex exec fork` (PR #37367); older ones refuse the word


class CodexProvider:
    name = "codex"
    chooses_id = False
    chooses_fork_id = False
    opens_session_file = True
    locator = CodexLocator()

    def prepare_command(self, command: Sequence[str], extra_args: Sequence[str] = ()) -> list[str]:
        exec_at = _exec_index(command)
        anchor = 1 if exec_at is None else exec_at + 1
        prepared = [*command[:anchor], *extra_args, *command[anchor:]]
        if exec_at is not None:
            word = _positional_word(prepared, exec_at + 1)
            if word in SESSION_SUBCOMMANDS:
                raise reject_session_flag(self.name, word)
            if word in OTHER_SUBCOMMANDS:
                raise _not_a_session(f"exec {word}")
        return prepared

    def build_argv(self, command: Sequence[str], step: Step) -> list[str]:
        if step.kind == "new":
            return list(command)
        if step.kind == "resume":
            words = ["resume", required_id(step.session_id, self.name)]
        else:
            words = ["fork", required_id(step.parent_id, self.name)]
        at = _session_words_index(command)
        return [*command[:at], *words, *command[at:]]

    def check_version(self, command: Sequence[str], step: Step, env: Mapping[str, str], cwd: str) -> None:
        # Only a fork through `codex exec` depends on the version: asking costs a process start.
        if step.kind == "fork" and _exec_index(command) is not None:
            from sessmap.providers.versions import require_version

            feature = "fork a session (`codex exec fork`)"
            require_version(self.name, feature, EXEC_FORK_SINCE, command, env, cwd)

    def fork_refusal(self) -> InvalidInput | None:
        return None

    def watch(self, step: Step) -> OutputWatch:
        # The rollout files tell as much, so a terminal is never teed.
        if step.creates_session:
            return OutputWatch(stdout=True, stderr=True)
        return OutputWatch(stderr=True)

    def session_file_id(self, path: str) -> str | None:
        name = PurePath(path).name
        if not (name.startswith("rollout-") and name.endswith(".jsonl")):
            return None
        return _rollout_id(name)

    def captured_id(self, output: AgentOutput) -> str | None:
        for line in output.stdout.splitlines():
            if b"thread.started" in line:
                found = _thread_started_id(line)
                if found is not None:
                    return found
        for stream in (output.stderr, output.stdout):
            match = _SESSION_LINE.search(stream.decode("utf-8", "replace"))
            if match and _valid(match.group(1)):
                return match.group(1)
        return None

    def is_stale(self, output: AgentOutput) -> bool:
        return _STALE.search(output.text()) is not None


def _first_positional(command: Sequence[str], start: int) -> tuple[int | None, bool]:
    """Index of the first argument from ``start`` on that is not an option or an option's value,
    or of a ``--`` (None if neither), and whether every option before it is one sessmap knows."""
    known = True
    index = start
    while index < len(command):
        arg = command[index]
        if arg == "--" or not arg.startswith("-") or arg == "-":
            return index, known
        if arg in VALUE_OPTIONS:
            if index + 1 == len(command):
                # Its value is missing: whatever sessmap appends would become that value.
                return None, False
            index += 2
            continue
        if not (arg in FLAG_OPTIONS or "=" in arg or arg[:2] in _VALUE_SHORTS):
            known = False  # may or may not take the next argument
        index += 1
    return None, known


def _positional_word(command: Sequence[str], start: int) -> str | None:
    """The first positional argument from ``start`` on, if it comes before any ``--``."""
    index, _ = _first_positional(command, start)
    if index is None or command[index] == "--":
        return None
    return command[index]


def _exec_index(command: Sequence[str]) -> int | None:
    """Where ``exec`` is in ``codex … exec …``; None for interactive ``codex [PROMPT]``."""
    index, _ = _first_positional(command, 1)
    word = _positional_word(command, 1)
    if index is None or word is None:
        return None
    if word in EXEC_SUBCOMMANDS:
        return index
    if word in SESSION_SUBCOMMANDS:
        raise reject_session_flag("codex", word)
    if word in OTHER_SUBCOMMANDS:
        raise _not_a_session(word)
    return None


def _session_words_index(command: Sequence[str]) -> int:
    """Where ``resume <id>`` / ``fork <id>`` go.

    ``codex exec resume`` accepts fewer options than ``codex exec`` (no ``-s``, ``-C``,
    ``--add-dir``, ``--color``…), so the words go after exec's own options, before the prompt.
    If an option sessmap does not know comes first, they go right after ``exec``: an unknown
    option might take the next argument, and it must never take the session id.
    """
    exec_at = _exec_index(command)
    if exec_at is None:
        return 1  # `codex resume <id> [OPTIONS] [PROMPT]` takes every top-level option
    index, known = _first_positional(command, exec_at + 1)
    if not known:
        return exec_at + 1
    return len(command) if index is None else index


def _thread_started_id(line: bytes) -> str | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if isinstance(event, dict) and event.get("type") == "thread.started":
        thread_id = event.get("thread_id")
        if isinstance(thread_id, str) and _valid(thread_id):
            return thread_id
    return None


def _rollout_id(name: str) -> str | None:
    """``rollout-2026-11-21T10-49-54-<id>.jsonl`` -> ``<id>`` (the timestamp has 19 characters)."""
    stem = name.removeprefix("rollout-").removesuffix(".jsonl")
    session_id = stem[20:]
    return session_id if _valid(session_id) else None


def _valid(session_id: str) -> bool:
    try:
        validate_session_id(session_id)
    except InvalidInput:
        return False
    return True


def _not_a_session(subcommand: str) -> InvalidInput:
    return InvalidInput(
        f"`codex {subcommand}` runs no session sessmap can map",
        hint='run `codex exec [OPTIONS] "PROMPT"`, or interactive `codex`',
    )
