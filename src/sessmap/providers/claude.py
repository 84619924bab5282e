"""Claude Code (``claude``): sessmap chooses the ids (``--session-id``).

Where its transcripts live: ``sessmap.transcripts.locate.ClaudeLocator``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sessmap.providers.base import (
    NO_WATCH,
    AgentOutput,
    OutputWatch,
    Step,
    reject_session_flag,
    required_id,
    session_flag_in,
    short_session_flag,
)
from sessmap.transcripts.locate import ClaudeLocator

SESSION_FLAGS = frozenset({"--resume", "-r", "--session-id", "-c", "--continue", "--fork-session"})
# Short options take attached values (``-r<id>``) and cluster (``-pc``), the way commander.js
# parses them; these are claude's short options that take no value, so a cluster goes on past them.
_SHORT_SESSION_LETTERS = frozenset("rc")
_SHORT_BOOLEAN_LETTERS = frozenset("pvh")
_STALE = re.compile(r"No conversation found with session ID")


class ClaudeProvider:
    name = "claude"
    chooses_id = True
    chooses_fork_id = True
    opens_session_file = False
    locator = ClaudeLocator()

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

    def session_file_id(self, path: str) -> str | None:
        return None

    def captured_id(self, output: AgentOutput) -> str | None:
        return None

    def is_stale(self, output: AgentOutput) -> bool:
        return _STALE.search(output.text()) is not None
