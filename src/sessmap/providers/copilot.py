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
    Step,
    reject_session_flag,
    required_id,
    session_flag_in,
)
from sessmap.transcripts.locate_agents import CopilotLocator

SESSION_FLAGS = frozenset({"--resume", "-r", "--session-id", "--continue", "--connect"})
_STALE = re.compile(r"No session, task, or name matched")


class CopilotProvider:
    name = "copilot"
    chooses_id = True
    chooses_fork_id = True
    opens_session_file = False
    locator = CopilotLocator()

    def prepare_command(self, command: Sequence[str], extra_args: Sequence[str] = ()) -> list[str]:
        args = [*extra_args, *command[1:]]
        flag = session_flag_in(args, SESSION_FLAGS) or _attached_resume(args)
        if flag is not None:
            raise reject_session_flag(self.name, flag)
        return [command[0], *args]

    def build_argv(self, command: Sequence[str], step: Step) -> list[str]:
        program, rest = command[0], list(command[1:])
        if step.kind == "new":
            return [program, f"--session-id={required_id(step.session_id, self.name)}", *rest]
        if step.kind == "resume":
            return [program, f"--resume={required_id(step.session_id, self.name)}", *rest]
        raise InvalidInput(
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


def _attached_resume(args: Sequence[str]) -> str | None:
    """``-r<id>``: the short resume option with its value attached."""
    for arg in args:
        if arg == "--":
            return None
        if arg.startswith("-r") and not arg.startswith("--"):
            return "-r"
    return None
