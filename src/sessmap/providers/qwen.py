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
    SessionFlags,
    Step,
    after_program,
    id_in_output,
    required_id,
    with_extra_args,
)
from sessmap.transcripts.locate_agents import QwenLocator

# yargs reads `-r<id>` as -r with a value and clusters booleans (`-yc`); "dsylhv" are qwen's
# short options that take no value.
SESSION_FLAGS = SessionFlags(
    frozenset({"--resume", "-r", "--session-id", "-c", "--continue", "--fork-session"}),
    short_letters=frozenset("rc"),
    boolean_letters=frozenset("dsylhv"),
)
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
        return with_extra_args(self.name, command, extra_args, SESSION_FLAGS)

    def build_argv(self, command: Sequence[str], step: Step) -> list[str]:
        if step.kind == "new":
            return after_program(command, "--session-id", required_id(step.session_id, self.name))
        if step.kind == "resume":
            return after_program(command, "--resume", required_id(step.session_id, self.name))
        if not _prints_json(command[1:]):
            raise InvalidInput(
                "qwen picks a fork's session id itself and prints it only in JSON output",
                reason="fork-needs-json",
                provider=self.name,
            )
        return after_program(command, "--resume", required_id(step.parent_id, self.name), "--fork-session")

    def fork_refusal(self) -> InvalidInput | None:
        return None

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
