"""The JSON store's document: ``{"format": "sessmap", "version": 2, "mappings": [...]}``, how
it is decoded (older versions upgraded on read) and encoded (pretty-printed, sorted by agent
then key). Pure: the file, its lock and its writes are jsonfile.py's."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sessmap.errors import InvalidInput, StoreError
from sessmap.model import Mapping

FORMAT = "sessmap"
FORMAT_VERSION = 2

Key = tuple[str, str]  # (agent, key)
Snapshot = dict[Key, Mapping]


def _upgrade_v1(document: dict[str, Any]) -> dict[str, Any]:
    # Version 2 added host, agent_home and history to mappings; Mapping.from_dict defaults
    # them, so a version 1 document needs nothing but its new number.
    return {**document, "version": 2}


# Upgrades of older documents, version N -> N+1, applied on read; append only.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _upgrade_v1}


def entries(path: Path, data: bytes) -> list[Any]:
    """The raw ``mappings`` list of a well-formed document of a version this code knows
    (``path``: the file it came from, for messages)."""
    if not data:
        return []
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise StoreError(
            f"{path} is not valid JSON (corrupt or truncated); restore it from a backup or use another path"
        ) from None
    document = upgrade(path, document)
    found = document.get("mappings")
    if not isinstance(found, list):
        raise StoreError(f"{path} is corrupt: 'mappings' is not a list")
    return found


def parse(path: Path, data: bytes, problems: list[str] | None) -> Snapshot:
    """Decode the file. Bad entries raise StoreError, or are listed in ``problems`` if given."""
    snapshot: Snapshot = {}
    for number, entry in enumerate(entries(path, data), start=1):
        try:
            mapping = Mapping.from_dict(entry)
            if (mapping.agent, mapping.key) in snapshot:
                raise InvalidInput(f"{mapping.key!r} (agent {mapping.agent}) appears twice")
        except InvalidInput as err:
            message = f"{path}: mapping #{number} is invalid: {err}"
            if problems is None:
                raise StoreError(message, reason="damaged-store", path=str(path)) from None
            problems.append(message)
            continue
        snapshot[mapping.agent, mapping.key] = mapping
    return snapshot


def upgrade(path: Path, decoded: Any) -> dict[str, Any]:
    """``decoded`` as a document of ``FORMAT_VERSION``; StoreError if it is not ours or newer."""
    if not isinstance(decoded, dict) or decoded.get("format") != FORMAT:
        raise StoreError(f"{path} is not a sessmap store (a JSON file of another kind); use another path")
    document: dict[str, Any] = decoded
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise StoreError(f"{path} is corrupt: invalid version {version!r}")
    if version > FORMAT_VERSION:
        raise StoreError(
            f"{path} was written by a newer sessmap (format version {version}, this one knows "
            f"{FORMAT_VERSION}); upgrade sessmap"
        )
    while version < FORMAT_VERSION:
        document = UPGRADES[version](document)
        version += 1
    return document


def encode(mappings: Snapshot) -> bytes:
    """The file's bytes: each mapping validated, sorted by agent then key."""
    document = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "mappings": [mappings[k].validate().to_document() for k in sorted(mappings)],
    }
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
