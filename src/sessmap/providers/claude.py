"""Claude Code (``claude``): sessmap chooses the ids (``--session-id``).

Transcripts live in ``$CLAUDE_CONFIG_DIR`` (default ``~/.claude``)
``/projects/<cwd with every non-alphanumeric character replaced by '-'>/<id>.jsonl``. Newer
versions shorten long project folder names and add a hash, so a miss there falls back to
looking for ``<id>.jsonl`` in every project folder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping as EnvMapping
from collections.abc import Sequence
from pathlib import Path

from sessmap.model import Mapping
from sessmap.providers.base import (
    NO_WATCH,
    AgentOutput,
    OutputWatch,
    SessionFinder,
    Step,
    reject_session_flag,
    required_id,
    session_flag_in,
)

_NON_ALNUM = re.compile(r"[^A-Za-z0-9]")
SESSION_FLAGS = frozenset({"--resume", "-r", "--session-id", "-c", "--continue", "--fork-session"})
# Short options take attached values (``-r<id>``) and cluster (``-pc``), the way commander.js
# parses them; these are claude's short options that take no value, so a cluster goes on past them.
_SHORT_SESSION_LETTERS = frozenset("rc")
_SHORT_BOOLEAN_LETTERS = frozenset("pvh")
_STALE = re.compile(r"No conversation found with session ID")


def claude_config_dir(env: EnvMapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    configured = env.get("CLAUDE_CONFIG_DIR")
    if configured:
        return Path(configured).expanduser()
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / ".claude"


def project_folder_name(cwd: str) -> str:
    """The folder Claude Code keeps a working directory's sessions in: ``/tmp/a`` -> ``-tmp-a``."""
    return _NON_ALNUM.sub("-", cwd)


class ClaudeProvider:
    name = "claude"
    chooses_id = True

    def __init__(self, env: EnvMapping[str, str] | None = None) -> None:
        self._env = env

    def transcript_path(self, mapping: Mapping) -> Path | None:
        if mapping.session_id is None:
            return None
        found = self._find_transcript(mapping.session_id, mapping.cwd)
        if found is not None or mapping.cwd is None:
            return found
        return self._expected_path(mapping.session_id, mapping.cwd)

    def session_exists(self, session_id: str, cwd: str | None) -> bool | None:
        return self._find_transcript(session_id, cwd) is not None

    def prepare_command(self, command: Sequence[str], extra_args: Sequence[str] = ()) -> list[str]:
        args = [*extra_args, *command[1:]]
        flag = session_flag_in(args, SESSION_FLAGS) or _short_session_flag(args)
        if flag is not None:
            raise reject_session_flag(self.name, flag)
        return [command[0], *args]

    def build_argv(self, command: Sequence[str], step: Step) -> list[str]:
        # Right after the program name: no option before it can take the id as its value.
        program, rest = command[0], list(command[1:])
        if step.kind == "new":
            return [program, "--session-id", required_id(step.session_id, self.name), *rest]
        if step.kind == "resume":
            return [program, "--resume", required_id(step.session_id, self.name), *rest]
        parent = required_id(step.parent_id, self.name)
        return [
            program,
            "--resume",
            parent,
            "--fork-session",
            "--session-id",
            required_id(step.session_id, self.name),
            *rest,
        ]

    def watch(self, step: Step) -> OutputWatch:
        # "No conversation found" goes to stderr; the transcript check before the run is the
        # main defence, so a terminal is left alone.
        return NO_WATCH if step.kind == "new" else OutputWatch(stderr=True)

    def find_new_session(self, step: Step, cwd: str) -> SessionFinder | None:
        return None

    def captured_id(self, output: AgentOutput) -> str | None:
        return None

    def is_stale(self, output: AgentOutput) -> bool:
        return _STALE.search(output.text()) is not None

    def _expected_path(self, session_id: str, cwd: str) -> Path:
        return claude_config_dir(self._env) / "projects" / project_folder_name(cwd) / f"{session_id}.jsonl"

    def _find_transcript(self, session_id: str, cwd: str | None) -> Path | None:
        if cwd is not None:
            expected = self._expected_path(session_id, cwd)
            if _is_file(expected):
                return expected
        projects = claude_config_dir(self._env) / "projects"
        return next((path for path in projects.glob(f"*/{session_id}.jsonl") if _is_file(path)), None)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a folder name over the file system's limit: the reason Claude shortens them
        return False


def _short_session_flag(args: Sequence[str]) -> str | None:
    """``-r<id>``, ``-pc`` and the like: a session letter in a cluster of short options."""
    for arg in args:
        if arg == "--":
            return None
        if len(arg) <= 2 or arg[0] != "-" or arg[1] == "-":
            continue
        for letter in arg[1:]:
            if letter in _SHORT_SESSION_LETTERS:
                return f"-{letter}"
            if letter not in _SHORT_BOOLEAN_LETTERS:
                break
    return None
