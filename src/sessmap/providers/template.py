"""Providers defined in the config from argument templates (``[providers.NAME]``).

``new``, ``resume`` and ``fork`` are argument lists with ``{session_id}`` and ``{parent_id}``
placeholders, inserted right after the program name. If a list starts with the word that
follows the program name in the command (a subcommand, like OpenCode's ``run``), the rest of
the list goes right after that subcommand instead. ``capture`` (a regex with a group ``id``)
finds the id of a new session in the output when the CLI picks ids itself; ``stale`` (a regex)
recognises the CLI's "no such session" answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sessmap.config import ProviderTemplate
from sessmap.errors import InvalidInput
from sessmap.providers.base import (
    NO_WATCH,
    AgentOutput,
    OutputWatch,
    Step,
    reject_session_flag,
    session_flag_in,
)
from sessmap.validation import validate_session_id

SESSION_ID = "{session_id}"
PARENT_ID = "{parent_id}"


class TemplateProvider:
    locator = None
    opens_session_file = False

    def __init__(self, name: str, template: ProviderTemplate) -> None:
        self.name = name
        self.template = template
        self.chooses_id = any(SESSION_ID in arg for arg in template.new)
        # A fork template without {session_id} lets the CLI pick the fork's id: captured.
        self.chooses_fork_id = any(SESSION_ID in arg for arg in template.fork or ())
        self._capture = re.compile(template.capture) if template.capture else None
        self._stale = re.compile(template.stale) if template.stale else None
        self._session_flags = _session_flags(template)

    def prepare_command(self, command: Sequence[str], extra_args: Sequence[str] = ()) -> list[str]:
        prepared = [command[0], *extra_args, *command[1:]]
        flag = session_flag_in(prepared[1:], self._session_flags)
        if flag is not None:
            raise reject_session_flag(self.name, flag)
        return prepared

    def build_argv(self, command: Sequence[str], step: Step) -> list[str]:
        if step.kind == "new":
            words = self.template.new
        elif step.kind == "resume":
            words = self.template.resume
        else:
            words = self.fork_template()
        values = {SESSION_ID: step.session_id, PARENT_ID: step.parent_id}
        filled = [_fill(word, values) for word in words]
        at = 1
        if filled and len(command) > 1 and filled[0] == command[1]:
            at, filled = 2, filled[1:]  # the template names the command's subcommand
        return [*command[:at], *filled, *command[at:]]

    def fork_template(self) -> tuple[str, ...]:
        if self.template.fork is None:
            raise _no_fork_template(self.name)
        return self.template.fork

    def fork_refusal(self) -> InvalidInput | None:
        return None if self.template.fork is not None else _no_fork_template(self.name)

    def watch(self, step: Step) -> OutputWatch:
        # Nothing but the output tells, so even a terminal is read (the agent then sees a pipe).
        if self._needs_capture(step) or (step.kind != "new" and self._stale is not None):
            return OutputWatch(stdout=True, stderr=True, required=True)
        return NO_WATCH

    def session_file_id(self, path: str) -> str | None:
        return None

    def captured_id(self, output: AgentOutput) -> str | None:
        if self._capture is None:
            return None
        for stream in (output.stdout, output.stderr):
            match = self._capture.search(stream.decode("utf-8", "replace"))
            if match:
                try:
                    return validate_session_id(match.group("id"))
                except InvalidInput:
                    continue
        return None

    def is_stale(self, output: AgentOutput) -> bool:
        return self._stale is not None and self._stale.search(output.text()) is not None

    def _needs_capture(self, step: Step) -> bool:
        if self._capture is None or not step.creates_session:
            return False
        words = self.template.new if step.kind == "new" else self.template.fork or ()
        return step.session_id is None or not any(SESSION_ID in word for word in words)


def _fill(word: str, values: dict[str, str | None]) -> str:
    for placeholder, value in values.items():
        if placeholder in word:
            if value is None:
                raise ValueError(f"no value for {placeholder} in {word!r}")
            word = word.replace(placeholder, value)
    return word


def _session_flags(template: ProviderTemplate) -> frozenset[str]:
    """Options of the templates that carry an id (``--resume {session_id}``,
    ``--session={session_id}``): a command that already has one picks a session itself."""
    flags: set[str] = set()
    for words in (template.new, template.resume, template.fork or ()):
        for index, word in enumerate(words):
            following = words[index + 1] if index + 1 < len(words) else ""
            carries_id = SESSION_ID in following or PARENT_ID in following
            if word.startswith("-") and "=" not in word and carries_id:
                flags.add(word)
            elif word.startswith("-") and "=" in word and (SESSION_ID in word or PARENT_ID in word):
                flags.add(word.split("=", 1)[0])
    return frozenset(flags)


def _no_fork_template(provider: str) -> InvalidInput:
    return InvalidInput(
        f"provider {provider!r} cannot fork: its config has no 'fork' template",
        hint=f'add fork = [...] with "{PARENT_ID}" to [providers.{provider}]',
    )
