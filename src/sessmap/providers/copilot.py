"""GitHub Copilot CLI (``copilot``): sessmap chooses the ids (``--session-id=<uuid>``).

Resume is ``--resume=<id>``, not ``--session-id`` (which resumes a session that exists and
silently starts one that does not, so a lost session would go unnoticed). Copilot forks only
in its interactive UI: there is no command line for it, so sessmap cannot fork a copilot
thread. Where its sessions live: ``sessmap.transcripts.locate_agents.CopilotLocator``.
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
from sessmap.transcripts.locate_agents import CopilotLocator

# ``-r<id>``: the short resume option with its value attached (not in clusters: no booleans).
SESSION_FLAGS = SessionFlags(
    frozenset({"--resume", "-r", "--session-id", "--continue", "--connect"}), short_letters=frozenset("r")
)
_STALE = re.compile(r"No session, task, or name matched")


class CopilotProvider:
    name = "copilot"
    chooses_id = True
    chooses_fork_id = True
    opens_session_file = False
    locator = CopilotLocator()

    def prepare_command(self, command: Sequence[str], extra_args: Sequence[str] = ()) -> list[str]:
        return with_extra_args(self.name, command, extra_args, SESSION_FLAGS)

    def build_argv(self, command: Sequence[str], step: Step) -> list[str]:
        if step.kind == "new":
            return after_program(command, f"--session-id={required_id(step.session_id, self.name)}")
        if step.kind == "resume":
            return after_program(command, f"--resume={required_id(step.session_id, self.name)}")
        raise self.fork_refusal()

    def fork_refusal(self) -> InvalidInput:
        return InvalidInput(
            "copilot can fork a session only in its interactive UI, not from a command line",
            reason="fork-unsupported",
            provider=self.name,
        )

    def watch(self, step: Step) -> OutputWatch:
        # The session-state folder tells as much before the run, so a terminal is left alone.
        return NO_WATCH if step.kind == "new" else OutputWatch(stdout=True, stderr=True)

    def session_file_id(self, path: str) -> str | None:
        return None

    def captured_id(self, output: AgentOutput) -> str | None:
        return None

    def is_stale(self, output: AgentOutput) -> bool:
        return _STALE.search(output.text()) is not None
