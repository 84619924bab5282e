"""Claude Code (``claude``): sessmap chooses the ids (``--session-id``).

Where its transcripts live: ``sessmap.transcripts.locate.ClaudeLocator``.
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
    required_id,
    with_extra_args,
)
from sessmap.transcripts.locate import ClaudeLocator

# Short options take attached values (``-r<id>``) and cluster (``-pc``), the way commander.js
# parses them; "pvh" are claude's short options that take no value.
SESSION_FLAGS = SessionFlags(
    frozenset({"--resume", "-r", "--session-id", "-c", "--continue", "--fork-session"}),
    short_letters=frozenset("rc"),
    boolean_letters=frozenset("pvh"),
)
_STALE = re.compile(r"No conversation found with session ID")


class ClaudeProvider:
    name = "claude"
    chooses_id = True
    chooses_fork_id = True
    opens_session_file = False
    locator = ClaudeLocator()

    def prepare_command(self, command: Sequence[str], extra_args: Sequence[str] = ()) -> list[str]:
        return with_extra_args(self.name, command, extra_args, SESSION_FLAGS)

    def build_argv(self, command: Sequence[str], step: Step) -> list[str]:
        if step.kind == "new":
            return after_program(command, "--session-id", required_id(step.session_id, self.name))
        if step.kind == "resume":
            return after_program(command, "--resume", required_id(step.session_id, self.name))
        parent, session_id = required_id(step.parent_id, self.name), required_id(step.session_id, self.name)
        return after_program(command, "--resume", parent, "--fork-session", "--session-id", session_id)

    def fork_refusal(self) -> InvalidInput | None:
        return None

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
