"""Validation of what users type into a mapping: keys, names, ids, labels, paths, hosts."""

from __future__ import annotations

import re
from pathlib import Path

from sessmap.errors import InvalidInput

MAX_KEY_LENGTH = 512
MAX_LABEL_KEY_LENGTH = 128
MAX_LABEL_VALUE_LENGTH = 1024
# Ids become file names (claude `<id>.jsonl`, codex `rollout-<timestamp>-<id>.jsonl`), which
# most file systems cap at 255 bytes: 128 leaves room, and every agent's ids are far shorter.
MAX_SESSION_ID_LENGTH = 128
# sessmap 0.1.0 took ids of up to 256 characters: stored ones stay readable, never crash a read.
MAX_STORED_SESSION_ID_LENGTH = 256
MAX_HOST_LENGTH = 255
# The one range of every integer field (turns, last_exit, generation): what all four stores
# hold alike (SQLite INTEGER and PostgreSQL bigint are 64-bit signed; JSON and Redis take any).
MIN_INTEGER = -(2**63)
MAX_INTEGER = 2**63 - 1

_AGENT_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_PROVIDER_NAME = _AGENT_NAME
# C0, DEL and C1 control characters; NUL included.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Lone surrogates (from undecodable bytes in argv, via surrogateescape) cannot be stored as UTF-8.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Session ids reach agent command lines: never let one look like an option or carry spaces.
_SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


def validate_key(key: str) -> str:
    """A thread key: 1-512 characters, no control characters; otherwise opaque."""
    if not isinstance(key, str) or not key:
        raise InvalidInput("thread key is empty")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"thread key is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}")
    if _CONTROL.search(key):
        raise InvalidInput(f"thread key {key!r} contains a control character")
    if _SURROGATE.search(key):
        raise InvalidInput(f"thread key {key!r} is not valid Unicode (undecodable bytes?)")
    return key


def validate_agent(agent: str) -> str:
    """An agent name: 1-64 of ``[A-Za-z0-9._-]``."""
    if not isinstance(agent, str) or not _AGENT_NAME.fullmatch(agent):
        raise InvalidInput(f"invalid agent name {agent!r}: use 1-64 of A-Z a-z 0-9 . _ -")
    return agent


def validate_provider(provider: str) -> str:
    """A provider name: same alphabet as agent names."""
    if not isinstance(provider, str) or not _PROVIDER_NAME.fullmatch(provider):
        raise InvalidInput(f"invalid provider name {provider!r}: use 1-64 of A-Z a-z 0-9 . _ -")
    return provider


def validate_session_id(session_id: str, limit: int = MAX_SESSION_ID_LENGTH) -> str:
    """A session id as agent CLIs print them; never option-like, never with spaces."""
    if not isinstance(session_id, str) or len(session_id) > limit or not _SESSION_ID.fullmatch(session_id):
        raise InvalidInput(
            f"invalid session id {session_id!r}: letters, digits and . _ : - "
            f"(not first), at most {limit} characters"
        )
    return session_id


def validate_stored_session_id(session_id: str) -> str:
    return validate_session_id(session_id, MAX_STORED_SESSION_ID_LENGTH)


def validate_label(name: str, value: str) -> tuple[str, str]:
    if (
        not name
        or len(name) > MAX_LABEL_KEY_LENGTH
        or "=" in name
        or _CONTROL.search(name)
        or _SURROGATE.search(name)
    ):
        raise InvalidInput(
            f"invalid label name {name!r}: 1-{MAX_LABEL_KEY_LENGTH} characters, no '=' or control characters"
        )
    if len(value) > MAX_LABEL_VALUE_LENGTH or _CONTROL.search(value) or _SURROGATE.search(value):
        raise InvalidInput(
            f"invalid value for label {name!r}: at most {MAX_LABEL_VALUE_LENGTH} characters, "
            "no control characters"
        )
    return name, value


def parse_label(text: str) -> tuple[str, str]:
    """``k=v`` from the command line."""
    name, sep, value = text.partition("=")
    if not sep:
        raise InvalidInput(f"invalid label {text!r}: use name=value")
    return validate_label(name, value)


def validate_cwd(cwd: str) -> str:
    if not cwd.startswith("/") or "\x00" in cwd:
        raise InvalidInput(f"working directory {cwd!r} must be an absolute path")
    if _SURROGATE.search(cwd):
        raise InvalidInput(f"working directory {cwd!r} is not valid Unicode (undecodable bytes?)")
    return cwd


def validate_host(host: str) -> str:
    """A host name as the machine reports it: 1-255 characters, no control characters or spaces."""
    if (
        not isinstance(host, str)
        or not host
        or len(host) > MAX_HOST_LENGTH
        or _CONTROL.search(host)
        or _SURROGATE.search(host)
        or " " in host
    ):
        raise InvalidInput(f"invalid host name {host!r}")
    return host


def validate_integer(name: str, value: object, minimum: int = MIN_INTEGER) -> int:
    """An integer field: a real int (not a bool) from ``minimum`` to ``MAX_INTEGER``."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_INTEGER:
        raise InvalidInput(f"invalid {name} {value!r}: give a whole number from {minimum} to {MAX_INTEGER}")
    return value


def expand_home(path: str | Path) -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded; InvalidInput (not RuntimeError)
    when there is no such user, or no home directory to expand to."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        raise InvalidInput(f"cannot expand {str(path)!r}: no such user, or no home directory") from None
