"""Editing the TOML config file (``sessmap config get/set/unset``): which setting names it
can hold, reading one, and writing the whole table back validated and atomically.

Loaded only by the config commands: ``tomllib``, ``tomli_w`` and the config module load
inside the functions that use them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sessmap.errors import InvalidInput, SessmapError
from sessmap.validation import validate_agent

if TYPE_CHECKING:
    from sessmap.config import Config


def setting_path(name: str, *, leaf: bool) -> list[str]:
    """``agents.reviewer.args`` → its parts; InvalidInput for a name the config cannot hold.

    With ``leaf`` only single settings are accepted, else also ``agents.NAME`` tables.
    """
    from sessmap.config import AGENT_SETTINGS, PROVIDER_SETTINGS, SCALAR_SETTINGS

    parts = name.split(".")
    valid = (
        (len(parts) == 1 and parts[0] in SCALAR_SETTINGS)
        or (len(parts) == 3 and parts[0] == "agents" and parts[2] in AGENT_SETTINGS)
        or (len(parts) == 3 and parts[0] == "providers" and parts[2] in PROVIDER_SETTINGS)
        or (not leaf and len(parts) == 2 and parts[0] in ("agents", "providers") and parts[1] != "")
        or (not leaf and len(parts) == 1 and parts[0] in ("agents", "providers"))
    )
    if not valid:
        raise InvalidInput(
            f"unknown setting {name!r}",
            reason="unknown-setting",
            found=name,
            hint="use store, ttl, wait_timeout, on_stale, transcripts, agents.NAME.{provider,cwd,args} or "
            "providers.NAME.{new,resume,fork,capture,stale}",
        )
    if len(parts) >= 2 and parts[1] and parts[0] == "agents":
        validate_agent(parts[1])
    return parts


def get_setting(raw: dict[str, Any], name: str) -> Any | None:
    """The value at ``name`` in the file's table, or None when it is not set."""
    node: Any = raw
    for part in setting_path(name, leaf=False):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def parse_setting_value(name: str, text: str) -> Any:
    """A TOML value when the text is one (``["--model", "sonnet"]``, ``"x"``), else the text.

    Settings that hold a string keep the text as typed unless it is a quoted TOML string, so
    ``ttl 30`` is the string "30" (and then rejected as a duration) rather than the integer 30.
    """
    import tomllib

    try:
        value = tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text
    expected = _expected_type(name)
    if expected is str and not isinstance(value, str):
        return text
    return value


def _expected_type(name: str) -> type:
    from sessmap.config import AGENT_SETTINGS, PROVIDER_SETTINGS

    parts = name.split(".")
    if len(parts) == 3:
        return (AGENT_SETTINGS if parts[0] == "agents" else PROVIDER_SETTINGS)[parts[2]]
    return str


def with_setting(raw: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    """A copy of the table with ``name`` set to ``value`` (tables made as needed)."""
    parts = setting_path(name, leaf=True)
    updated = _deep_copy(raw)
    node = updated
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value
    return updated


def without_setting(raw: dict[str, Any], name: str) -> dict[str, Any] | None:
    """A copy without ``name`` (and tables it leaves empty), or None if it was not set.

    A name sessmap does not know can still be removed when the file holds it: that is how a
    misspelt setting is cleaned up."""
    try:
        parts = setting_path(name, leaf=False)
    except InvalidInput:
        if not _holds(raw, name.split(".")):
            raise
        parts = name.split(".")
    updated = _deep_copy(raw)
    trail: list[dict[str, Any]] = []
    node: Any = updated
    for part in parts[:-1]:
        trail.append(node)
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return None
    if parts[-1] not in node:
        return None
    del node[parts[-1]]
    # Drop tables left empty, innermost first: `unset agents.x.provider` should not leave [agents.x].
    for parent, part in zip(reversed(trail), reversed(parts[:-1]), strict=True):
        if parent[part] == {}:
            del parent[part]
    return updated


def _holds(raw: dict[str, Any], parts: list[str]) -> bool:
    node: Any = raw
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _deep_copy(table: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in table.items()}


def write_config(path: Path, raw: dict[str, Any]) -> Config:
    """Validate the whole table, then write it atomically (temp file + replace), 0600 in 0700."""
    import tomli_w

    from sessmap.config import parse_config
    from sessmap.files import atomic_write
    from sessmap.stores.locks import make_private_dir

    config = parse_config(raw, path)
    make_private_dir(path.parent)  # mkdir's mode alone would be filtered by the umask
    atomic_write(path, tomli_w.dumps(raw).encode("utf-8"), 0o600)
    return config


# How long `config set` waits for another one editing the same file.
LOCK_TIMEOUT_SECONDS = 30.0


@contextlib.contextmanager
def editing(path: Path) -> Iterator[None]:
    """Hold ``<config>.lock`` for a read-modify-write of the config file: 16 parallel
    ``config set`` used to read the same old file and keep only the last one's change. The
    lock file is kept (a waiter and a newcomer must lock the same inode)."""
    from filelock import FileLock, Timeout

    from sessmap.stores.locks import PRIVATE_FILE_MODE, make_private_dir, refuse_special

    make_private_dir(path.parent)
    lock_path = path.with_name(path.name + ".lock")
    refuse_special(lock_path)
    lock = FileLock(lock_path, mode=PRIVATE_FILE_MODE, preserve_lock_file=True, fallback_to_soft=False)
    try:
        lock.acquire(timeout=LOCK_TIMEOUT_SECONDS)
    except Timeout:
        raise SessmapError(
            f"{path} is being edited by another process for more than {int(LOCK_TIMEOUT_SECONDS)}s",
            reason="config-locked",
            path=str(path),
        ) from None
    except OSError as err:
        raise SessmapError(f"cannot lock {lock_path}: {err.strerror or err}", path=str(path)) from None
    try:
        yield
    finally:
        lock.release()


def set_setting(path: Path, name: str, text: str) -> Config:
    from sessmap.config import read_toml

    value = parse_setting_value(name, text)
    with editing(path):
        return write_config(path, with_setting(read_toml(path), name, value))


def unset_setting(path: Path, name: str) -> bool:
    """False when ``name`` was not set (nothing written)."""
    from sessmap.config import read_toml

    with editing(path):
        updated = without_setting(read_toml(path), name)
        if updated is None:
            return False
        write_config(path, updated)
        return True
