"""Transcript locators of the agent CLIs other than claude and codex (facts in AGENT-CLIS.md,
measured on the real binaries: qwen 0.24.4, copilot 1.0.102).

qwen: ``<runtime dir>/projects/<cwd, each character not [A-Za-z0-9] made '-'>/chats/<id>.jsonl``;
the runtime dir is ``$QWEN_RUNTIME_DIR``, else ``$QWEN_HOME``, else ``~/.qwen``. Like claude, a
miss in the expected project folder is looked for in every project folder.

copilot: ``<home>/session-state/<id>/events.jsonl`` (``$COPILOT_HOME``, else ``~/.copilot``),
beside the session's other state (``workspace.yaml``, checkpoints, file snapshots).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from collections.abc import Mapping as EnvMapping
from pathlib import Path

from sessmap.stores.base import TranscriptKey
from sessmap.transcripts.locate import Found, is_file

QWEN_PROJECT_CHARS = re.compile(r"[^a-zA-Z0-9]")
COPILOT_PROJECT = "copilot"
COPILOT_EVENTS = "events.jsonl"


def _home(env: EnvMapping[str, str] | None, variables: tuple[str, ...], default: str) -> Path:
    env = os.environ if env is None else env
    for variable in variables:
        configured = env.get(variable)
        if configured:
            return Path(configured).expanduser().absolute()
    home = env.get("HOME")
    return (Path(home) if home else Path.home()).absolute() / default


class QwenLocator:
    def home(self, env: EnvMapping[str, str] | None) -> Path:
        return _home(env, ("QWEN_RUNTIME_DIR", "QWEN_HOME"), ".qwen")

    def project_key(self, cwd: str | None) -> str:
        return QWEN_PROJECT_CHARS.sub("-", cwd) if cwd else ""

    def find(self, home: Path, session_id: str, cwd: str | None) -> Found | None:
        projects = home / "projects"
        name = f"{session_id}.jsonl"
        if cwd is not None:
            expected = projects / self.project_key(cwd) / "chats" / name
            if is_file(expected):
                return Found(expected, self.project_key(cwd))
        try:
            candidates = sorted(projects.glob(f"*/chats/{name}"))
        except OSError:
            return None
        for path in candidates:
            if is_file(path):
                return Found(path, path.parent.parent.name)
        return None

    def restore_path(self, home: Path, key: TranscriptKey, first_line: bytes | None) -> Path:
        return home / "projects" / key.project_key / "chats" / f"{key.session_id}.jsonl"

    def side_files(self, main: Path) -> Iterator[tuple[str, Path]]:
        return iter(())

    def searched(self, home: Path, cwd: str | None) -> tuple[Path, ...]:
        projects = home / "projects"
        if cwd is None:
            return (projects,)
        return (projects, projects / self.project_key(cwd) / "chats")

    def settle(self, found: Found) -> Path:
        return found.path


class CopilotLocator:
    def home(self, env: EnvMapping[str, str] | None) -> Path:
        return _home(env, ("COPILOT_HOME",), ".copilot")

    def project_key(self, cwd: str | None) -> str:
        return COPILOT_PROJECT

    def find(self, home: Path, session_id: str, cwd: str | None) -> Found | None:
        path = home / "session-state" / session_id / COPILOT_EVENTS
        return Found(path, COPILOT_PROJECT) if is_file(path) else None

    def restore_path(self, home: Path, key: TranscriptKey, first_line: bytes | None) -> Path:
        folder = home / "session-state" / key.session_id
        return folder / f"{key.subpath}.jsonl" if key.subpath else folder / COPILOT_EVENTS

    def side_files(self, main: Path) -> Iterator[tuple[str, Path]]:
        return iter(())

    def searched(self, home: Path, cwd: str | None) -> tuple[Path, ...]:
        return (home / "session-state",)

    def settle(self, found: Found) -> Path:
        return found.path
