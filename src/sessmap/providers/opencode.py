"""OpenCode (``opencode run``): the CLI picks the ids (``ses_…``); sessmap reads a new
session's id from the ``sessionID`` of the JSON events ``opencode run --format json`` prints.

Resume is ``run --session <id>``, fork ``run --session <parent> --fork`` (measured on
opencode-ai 1.18.33; npm has no 2.x). OpenCode keeps its sessions in an SQLite database
(``~/.local/share/opencode/opencode.db``), not in a file per session, so sessmap has no
transcript to look at or copy: a lost session is noticed from the CLI's answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sessmap.errors import InvalidInput
from sessmap.providers.base import (
    AgentOutput,
    OutputWatch,
    Step,
    id_in_output,
    reject_session_flag,
    required_id,
    session_flag_in,
)

SESSION_FLAGS = frozenset({"--session", "-s", "--continue", "-c", "--fork"})
# opencode's own options before `run` that take a value.
_TOP_VALUE_OPTIONS = frozenset({"--log-level"})
_SESSION_ID = re.compile(rb'"sessionID"\s*:\s*"(ses_[A-Za-z0-9]+)"')
_STALE = re.compile(r"Session not found")


class OpenCodeProvider:
    name = "opencode"
    chooses_id = False
    chooses_fork_id = False
    opens_session_file = False
    locator = None

    def prepare_command(self, command: Sequence[str], extra_args: Sequence[str] = ()) -> list[str]:
        at = _run_index(command)
        prepared = [*command[: at + 1], *extra_args, *command[at + 1 :]]
        flag = session_flag_in(prepared[at + 1 :], SESSION_FLAGS)
        if flag is not None:
            raise reject_session_flag(self.name, flag)
        if not _prints_json(prepared[at + 1 :]):
            raise InvalidInput(
                "opencode picks session ids itself and prints them only in JSON output",
                reason="needs-json-output",
                provider=self.name,
            )
        return prepared

    def build_argv(self, command: Sequence[str], step: Step) -> list[str]:
        if step.kind == "new":
            return list(command)
        if step.kind == "resume":
            words = ["--session", required_id(step.session_id, self.name)]
        else:
            words = ["--session", required_id(step.parent_id, self.name), "--fork"]
        at = _run_index(command) + 1
        return [*command[:at], *words, *command[at:]]

    def fork_refusal(self) -> InvalidInput | None:
        return None

    def watch(self, step: Step) -> OutputWatch:
        # No transcript file tells anything, so the output is read even at a terminal.
        if step.creates_session:
            return OutputWatch(stdout=True, stderr=True, required=True)
        return OutputWatch(stderr=True, required=True)

    def session_file_id(self, path: str) -> str | None:
        return None

    def captured_id(self, output: AgentOutput) -> str | None:
        return id_in_output(_SESSION_ID, output.stdout)

    def is_stale(self, output: AgentOutput) -> bool:
        return _STALE.search(output.text()) is not None


def _run_index(command: Sequence[str]) -> int:
    """Where ``run`` is in ``opencode [OPTIONS] run …``; InvalidInput for anything else."""
    index = 1
    while index < len(command):
        arg = command[index]
        if arg in _TOP_VALUE_OPTIONS:
            index += 2
            continue
        if arg.startswith("-") and arg != "-" and arg != "--":
            index += 1
            continue
        if arg == "run":
            return index
        break
    raise InvalidInput(
        "sessmap runs opencode's `run` command only",
        reason="not-a-session",
        provider="opencode",
    )


def _prints_json(args: Sequence[str]) -> bool:
    """``--format json`` (or ``--format=json``) among ``args``, before a ``--``."""
    for index, arg in enumerate(args):
        if arg == "--":
            return False
        if arg == "--format=json" or (arg == "--format" and args[index + 1 : index + 2] == ["json"]):
            return True
    return False
