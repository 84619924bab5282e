"""Qwen Code (``qwen``): sessmap chooses new sessions' ids (``--session-id``), as for claude.

Resume is ``--resume <id>``. A fork is ``--resume <parent> --fork-session``; qwen refuses
``--session-id`` beside ``--resume`` and draws the fork's id itself, so the fork's id is read
from its JSON output (``-o json`` / ``-o stream-json``: every event carries ``session_id``).
Where its transcripts live: ``sessmap.transcripts.locate_agents.QwenLocator``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sessmap.errors import InvalidInput
from sessmap.providers.base import (
    NO_WATCH,
    AgentOutput,
    OutputWatch,
    Step,
    id_in_output,
    reject_session_flag,
    required_id,
    session_flag_in,
    short_session_flag,
)
from sessmap.transcripts.locate_agents import QwenLocator

SESSION_FLAGS = frozenset({"--resume", "-r", "--session-id", "-c", "--continue", "--fork-session"})
# yargs reads `-r<id>` as -r with a value and clusters booleans (`-yc`); these are qwen's short
# options that take no value, so a cluster goes on past them.
_SHORT_SESSION_LETTERS = frozenset("rc")
_SHORT_BOOLEAN_LETTERS = frozenset("dsylhv")
_OUTPUT_FLAGS = frozenset({"-o", "--output-format"})
_JSON_FORMATS = frozenset({"json", "stream-json"})
_STALE = re.compile(r"No saved session found with ID")
_SESSION_ID = re.compile(rb'"session_id"\s*:\s*"([0-9A-Fa-f-]{36})"')


class QwenProvider:
    name = "qwen"
    chooses_id = True
    chooses_fork_id = False
    opens_session_file = False
    locator = QwenLocator()

    def prepare_command(self, command: Sequence[str], extra_args: Sequence[str] = ()) -> list[str]:
        args = [*extra_args, *command[1:]]
        flag = session_flag_in(args, SESSION_FLAGS) or short_session_flag(
            args, _SHORT_SESSION_LETTERS, _SHORT_BOOLEAN_LETTERS
        )
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
        if not _prints_json(rest):
            raise InvalidInput(
                "qwen picks a fork's session id itself and prints it only in JSON output",
                reason="fork-needs-json",
                provider=self.name,
            )
        return [program, "--resume", required_id(step.parent_id, self.name), "--fork-session", *rest]

    def watch(self, step: Step) -> OutputWatch:
        if step.kind == "new":
            return NO_WATCH
        if step.kind == "fork":
            # Nothing but the output names the fork's session, so even a terminal is read.
            return OutputWatch(stdout=True, stderr=True, required=True)
        return OutputWatch(stderr=True)  # "No saved session found" goes to stderr

    def session_file_id(self, path: str) -> str | None:
        return None

    def captured_id(self, output: AgentOutput) -> str | None:
        return id_in_output(_SESSION_ID, output.stdout)

    def is_stale(self, output: AgentOutput) -> bool:
        return _STALE.search(output.text()) is not None


def _prints_json(args: Sequence[str]) -> bool:
    """``-o json``, ``--output-format=stream-json``… among ``args`` (before a ``--``)."""
    for index, arg in enumerate(args):
        if arg == "--":
            return False
        name, _, value = arg.partition("=")
        if name in _OUTPUT_FLAGS and not value and index + 1 < len(args):
            value = args[index + 1]
        if name in _OUTPUT_FLAGS and value in _JSON_FORMATS:
            return True
        if arg.startswith("-o") and not arg.startswith("--") and arg[2:] in _JSON_FORMATS:
            return True
    return False
