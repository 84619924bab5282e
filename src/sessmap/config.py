"""Where sessmap keeps things, and the TOML config file (SPEC §5).

``SESSMAP_HOME`` relocates all state (config and default store) into one folder; tests and
containers use it. Otherwise platformdirs' user config and data folders, app name ``sessmap``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping as ReadOnlyDict
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from sessmap.errors import InvalidInput, SessmapError
from sessmap.validation import expand_home, validate_agent, validate_provider

APP_NAME = "sessmap"
OnStale = Literal["fresh", "fail"]
ON_STALE_CHOICES: tuple[OnStale, ...] = ("fresh", "fail")
TranscriptsMode = Literal["store", "local"]
TRANSCRIPTS_CHOICES: tuple[TranscriptsMode, ...] = ("store", "local")
DEFAULT_TTL = timedelta(days=30)


def home_override() -> Path | None:
    value = os.environ.get("SESSMAP_HOME")
    return expand_home(value) if value else None


def data_dir() -> Path:
    home = home_override()
    if home is not None:
        return home
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def config_dir() -> Path:
    home = home_override()
    if home is not None:
        return home
    from platformdirs import user_config_path

    return user_config_path(APP_NAME, appauthor=False)


def default_config_path() -> Path:
    """``--config``, else ``SESSMAP_CONFIG``, else ``<config dir>/config.toml``."""
    value = os.environ.get("SESSMAP_CONFIG")
    return expand_home(value) if value else config_dir() / "config.toml"


def default_store_url() -> str:
    return f"sqlite:{data_dir() / 'sessions.db'}"


class AgentProfile(NamedTuple):
    """``[agents.NAME]``: defaults for one agent name."""

    provider: str | None = None
    cwd: str | None = None  # may start with ~; expanded when used
    args: tuple[str, ...] = ()


class ProviderTemplate(NamedTuple):
    """``[providers.NAME]``: a provider defined by argument templates, no code.

    ``new``: args for a new session (``{session_id}`` makes the id chosen by sessmap);
    ``resume``: args to resume ``{session_id}``; ``fork``: args to fork ``{parent_id}`` (with
    ``{session_id}`` if the CLI takes a chosen id); ``capture``: a regex with a group ``id``
    matched against the agent's output to learn an id the CLI chose itself.
    ``stale``: a regex on the agent's output meaning "no such session".
    """

    new: tuple[str, ...] = ()
    resume: tuple[str, ...] = ()
    fork: tuple[str, ...] | None = None
    capture: str | None = None
    stale: str | None = None


class Config(NamedTuple):
    path: Path
    store: str | None = None
    ttl: timedelta = DEFAULT_TTL
    wait_timeout: timedelta | None = None  # None: wait for ever
    on_stale: OnStale = "fresh"
    transcripts: TranscriptsMode | None = None  # None: "store" for the server stores, else "local"
    agents: ReadOnlyDict[str, AgentProfile] = MappingProxyType({})
    providers: ReadOnlyDict[str, ProviderTemplate] = MappingProxyType({})
    unknown: tuple[str, ...] = ()
    """Settings the file holds that sessmap does not know (``colour``, ``agents.r.model``):
    ignored, so one typo does not stop every command; the CLI warns about them."""

    def keeps_transcripts(self, shared: bool) -> bool:
        """``transcripts = "store"``, or by default on a store several hosts share (``shared``)."""
        return self.transcripts == "store" if self.transcripts is not None else shared


# What the file may hold, with each setting's TOML type (`config set` parses values by it).
SCALAR_SETTINGS = ("store", "ttl", "wait_timeout", "on_stale", "transcripts")
AGENT_SETTINGS: dict[str, type] = {"provider": str, "cwd": str, "args": list}
PROVIDER_SETTINGS: dict[str, type] = {"new": list, "resume": list, "fork": list, "capture": str, "stale": str}


def read_toml(path: Path) -> dict[str, Any]:
    """The file's table; {} if it does not exist. Unreadable or invalid TOML: InvalidInput.
    Not a regular file (a FIFO would block for ever, /dev/zero exhaust memory): SessmapError,
    an operational error, and the file is left unopened."""
    from sessmap.files import NotRegularFile, open_regular

    try:
        fd = open_regular(path)
    except FileNotFoundError:
        return {}
    except NotRegularFile as err:
        raise SessmapError(
            f"config file {path} is {err.kind}, not a regular file",
            path=str(path),
            found=err.kind,
        ) from None
    except OSError as err:
        raise InvalidInput(f"cannot read config file {path}: {err.strerror}") from None
    # Loaded only when there is a file to parse: most `sessmap get`/`exec` runs have none.
    import tomllib

    with os.fdopen(fd, "rb") as handle:
        try:
            return tomllib.load(handle)
        except tomllib.TOMLDecodeError as err:
            raise InvalidInput(f"config file {path} is not valid TOML: {err}") from None
        except OSError as err:
            raise InvalidInput(f"cannot read config file {path}: {err.strerror}") from None


def load_config(path: Path | None = None) -> Config:
    path = path or default_config_path()
    return parse_config(read_toml(path), path)


def parse_config(raw: dict[str, Any], path: Path) -> Config:
    """Validate the whole table; the first problem is an InvalidInput naming the file and key.
    Unknown settings are not a problem: they are listed in ``Config.unknown``."""
    try:
        unknown = sorted(set(raw) - {*SCALAR_SETTINGS, "agents", "providers"})
        for kind, known in (("agents", AGENT_SETTINGS), ("providers", PROVIDER_SETTINGS)):
            for name, table in _tables(raw, kind).items():
                unknown += (f"{kind}.{name}.{setting}" for setting in sorted(set(table) - known.keys()))
        return Config(
            path=path,
            store=_store(raw) if "store" in raw else None,
            ttl=_duration(raw, "ttl") if "ttl" in raw else DEFAULT_TTL,
            wait_timeout=_duration(raw, "wait_timeout") if "wait_timeout" in raw else None,
            on_stale=_on_stale(raw),
            transcripts=_transcripts(raw),
            agents={
                validate_agent(name): _agent(name, table) for name, table in _tables(raw, "agents").items()
            },
            providers={
                validate_provider(name): _provider(name, table)
                for name, table in _tables(raw, "providers").items()
            },
            unknown=tuple(unknown),
        )
    except InvalidInput as err:
        setting = err.data.get("setting")
        message = f"config file {path}{f', key {setting}' if setting else ''}: {err}"
        raise InvalidInput(message, reason=err.reason, hint=err.hint, **err.data) from None


def _str(table: dict[str, Any], name: str) -> str:
    value = table[name]
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string")
    return value


def _duration(table: dict[str, Any], name: str) -> timedelta:
    from sessmap.durations import parse_duration  # loaded only for a config that sets a duration

    return parse_duration(_str(table, name))


def _strings(table: dict[str, Any], name: str) -> tuple[str, ...]:
    value = table[name]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidInput(f"{name} must be a list of strings")
    return tuple(value)


def _on_stale(raw: dict[str, Any]) -> OnStale:
    value = raw.get("on_stale", "fresh")
    if value not in ON_STALE_CHOICES:
        raise InvalidInput(f"on_stale must be 'fresh' or 'fail', not {value!r}")
    return value  # type: ignore[no-any-return]


def _transcripts(raw: dict[str, Any]) -> TranscriptsMode | None:
    value = raw.get("transcripts")
    if value is not None and value not in TRANSCRIPTS_CHOICES:
        raise InvalidInput(f"transcripts must be 'store' or 'local', not {value!r}")
    return value


def _tables(raw: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    value = raw.get(name, {})
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise InvalidInput(f"[{name}] must hold tables like [{name}.NAME]")
    return value


def _store(raw: dict[str, Any]) -> str:
    """The store URL, checked now: a bad one is the config file's fault, and says so."""
    from sessmap.stores import store_kind

    url = _str(raw, "store")
    try:
        store_kind(url)
    except InvalidInput as err:
        raise InvalidInput(str(err), hint=err.hint, setting="store") from None
    return url


def _agent(name: str, table: dict[str, Any]) -> AgentProfile:
    return AgentProfile(
        provider=validate_provider(_str(table, "provider")) if "provider" in table else None,
        cwd=_str(table, "cwd") if "cwd" in table else None,
        args=_strings(table, "args") if "args" in table else (),
    )


def _provider(name: str, table: dict[str, Any]) -> ProviderTemplate:
    if "resume" not in table:
        raise InvalidInput(f"providers.{name}: 'resume' is required")
    for pattern in ("capture", "stale"):
        if pattern in table:
            _compile(name, pattern, _str(table, pattern))
    return ProviderTemplate(
        new=_strings(table, "new") if "new" in table else (),
        resume=_strings(table, "resume"),
        fork=_strings(table, "fork") if "fork" in table else None,
        capture=_str(table, "capture") if "capture" in table else None,
        stale=_str(table, "stale") if "stale" in table else None,
    )


def _compile(name: str, setting: str, pattern: str) -> None:
    import re

    try:
        compiled = re.compile(pattern)
    except re.error as err:
        raise InvalidInput(f"providers.{name}.{setting} is not a valid regex: {err}") from None
    if setting == "capture" and "id" not in compiled.groupindex:
        raise InvalidInput(f"providers.{name}.capture needs a named group (?P<id>…)")
