"""The transcript files of one session, per agent CLI (facts in AGENT-CLIS.md).

claude: ``<home>/projects/<project folder>/<id>.jsonl`` plus side files under
``<home>/projects/<project folder>/<id>/`` (``subagents/agent-<id>.jsonl``). The folder is
named after the working directory (the Claude Agent SDK's ``project_key``); claude ≥ 2.1.223
finds an id in any project folder, so a miss there is looked for in every folder.

codex: ``<home>/sessions/YYYY/MM/DD/rollout-<timestamp>-<id>.jsonl``, or directly in
``sessions/``, or under ``archived_sessions/`` once the user ran ``codex archive``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from collections.abc import Mapping as EnvMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple, Protocol

from sessmap.sdk_keys import project_key_for
from sessmap.stores.base import TranscriptKey

CODEX_PROJECT = "codex"
_ROLLOUT_DATE = re.compile(r"rollout-(\d{4})-(\d{2})-(\d{2})T")
"""The store's project key for codex rollouts: a claude project key always starts with '-'."""


class Found(NamedTuple):
    """A session's main transcript file, and whether the agent has archived it."""

    path: Path
    project_key: str
    archived: bool = False


class Locator(Protocol):
    """Where one agent CLI keeps a session's transcript."""

    def home(self, env: EnvMapping[str, str] | None) -> Path:
        """The agent's data folder for a run with ``env`` (this process's when None), absolute."""
        ...

    def project_key(self, cwd: str | None) -> str:
        """The store's project key for a session run in ``cwd``."""
        ...

    def find(self, home: Path, session_id: str, cwd: str | None) -> Found | None:
        """The session's main transcript in ``home``, or None. Never raises for odd paths."""
        ...

    def restore_path(self, home: Path, key: TranscriptKey, first_line: bytes | None) -> Path:
        """Where a stored transcript goes so the agent finds it, in its canonical name."""
        ...

    def side_files(self, main: Path) -> Iterator[tuple[str, Path]]:
        """``(subpath, path)`` of the session's side files beside its main transcript."""
        ...

    def searched(self, home: Path, cwd: str | None) -> tuple[Path, ...]:
        """The folders ``find`` looks in: a miss proves nothing unless each one that exists
        could be read."""
        ...

    def settle(self, found: Found) -> Path:
        """Put a transcript found off the agent's own layout back where the agent will look
        for it before a resume; where it is now."""
        ...


def _home(env: EnvMapping[str, str] | None, variable: str, default: str) -> Path:
    env = os.environ if env is None else env
    configured = env.get(variable)
    if configured:
        return Path(configured).expanduser().absolute()
    home = env.get("HOME")
    return (Path(home) if home else Path.home()).absolute() / default


def is_file(path: Path) -> bool:
    """``path.is_file()``, False for names the file system cannot even look up (too long)."""
    try:
        return path.is_file()
    except OSError:
        return False


def _glob(folder: Path, pattern: str) -> list[Path]:
    try:
        return sorted(path for path in folder.glob(pattern) if is_file(path))
    except OSError:
        return []


class ClaudeLocator:
    def home(self, env: EnvMapping[str, str] | None) -> Path:
        return _home(env, "CLAUDE_CONFIG_DIR", ".claude")

    def project_key(self, cwd: str | None) -> str:
        return project_key_for(cwd) if cwd else ""

    def find(self, home: Path, session_id: str, cwd: str | None) -> Found | None:
        projects = home / "projects"
        if cwd is not None:
            expected = projects / self.project_key(cwd) / f"{session_id}.jsonl"
            if is_file(expected):
                return Found(expected, expected.parent.name)
        for path in _glob(projects, f"*/{session_id}.jsonl"):
            return Found(path, path.parent.name)
        return None

    def restore_path(self, home: Path, key: TranscriptKey, first_line: bytes | None) -> Path:
        folder = home / "projects" / key.project_key
        if key.subpath:
            return folder / key.session_id / f"{key.subpath}.jsonl"
        return folder / f"{key.session_id}.jsonl"

    def side_files(self, main: Path) -> Iterator[tuple[str, Path]]:
        folder = main.with_suffix("")
        for path in _glob(folder, "**/*.jsonl"):
            yield path.relative_to(folder).with_suffix("").as_posix(), path

    def searched(self, home: Path, cwd: str | None) -> tuple[Path, ...]:
        projects = home / "projects"
        return (projects, projects / self.project_key(cwd)) if cwd else (projects,)

    def settle(self, found: Found) -> Path:
        return found.path


class CodexLocator:
    def home(self, env: EnvMapping[str, str] | None) -> Path:
        return _home(env, "CODEX_HOME", ".codex")

    def project_key(self, cwd: str | None) -> str:
        return CODEX_PROJECT

    def find(self, home: Path, session_id: str, cwd: str | None) -> Found | None:
        name = f"rollout-*-{session_id}.jsonl"
        sessions = home / "sessions"
        for path in (*_glob(sessions, f"*/*/*/{name}"), *_glob(sessions, name)):
            return Found(path, CODEX_PROJECT)
        archived = home / "archived_sessions"
        for path in (*_glob(archived, name), *_glob(archived, f"**/{name}")):
            return Found(path, CODEX_PROJECT, archived=True)
        return None

    def restore_path(self, home: Path, key: TranscriptKey, first_line: bytes | None) -> Path:
        started = _rollout_start(first_line) or datetime.now(UTC)
        stamp = started.strftime("%Y-%m-%dT%H-%M-%S")
        folder = home / "sessions" / started.strftime("%Y/%m/%d")
        return folder / f"rollout-{stamp}-{key.session_id}.jsonl"

    def side_files(self, main: Path) -> Iterator[tuple[str, Path]]:
        return iter(())

    def searched(self, home: Path, cwd: str | None) -> tuple[Path, ...]:
        return (home / "sessions", home / "archived_sessions")

    def settle(self, found: Found) -> Path:
        """A rollout moved directly into ``sessions/`` goes back to its dated folder: codex's
        own index remembers that path and answers "no rollout found" for the flat file."""
        path = found.path
        match = _ROLLOUT_DATE.match(path.name)
        if found.archived or path.parent.name != "sessions" or match is None:
            return path
        year, month, day = match.groups()
        target = path.parent / year / month / day / path.name
        if target.exists():
            return path
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.replace(target)
        return target


def _rollout_start(first_line: bytes | None) -> datetime | None:
    """When the session began, from its ``session_meta`` line (the rollout's name carries it)."""
    if not first_line:
        return None
    try:
        import json  # only a codex restore reads a rollout's first line

        meta = json.loads(first_line)
        stamp = meta.get("payload", {}).get("timestamp") or meta.get("timestamp")
        return datetime.fromisoformat(stamp).astimezone(UTC)
    except (ValueError, TypeError, AttributeError, OverflowError):  # Overflow: past year 1 or 9999 in UTC
        return None


def locator_for(provider: str) -> Locator | None:
    """The built-in providers' locators; a config template's transcripts are unknown."""
    if provider == "claude":
        return ClaudeLocator()
    if provider == "codex":
        return CodexLocator()
    return None
