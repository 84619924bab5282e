"""Domain operations behind the commands: explicit inputs in, values out, typed errors raised.

No Typer and no Rich here: the CLI parses, calls one of these, and renders what comes back.
Library users get the same operations (``from sessmap import service``).

This module holds the lookups ``sessmap get`` makes and names the rest, which load on first
use from the module that does each job:

- ``service_mappings``: create, set (``update``), rename, rm (``remove``), fork;
- ``service_details``: ``show`` (``describe``) and where a transcript is (``transcript_of``);
- ``service_filters``: the filters of list, export and prune;
- ``service_maintenance``: ``prune`` and ``doctor``;
- ``service_transfer``: the JSONL of import and export;
- ``sessmap.config_file``: the config commands' settings.

The clock is ``sessmap.service.now``, which every operation reads when it runs: a test that
replaces it freezes them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sessmap.errors import Conflict, NotFound
from sessmap.model import Mapping, now
from sessmap.stores.base import Store
from sessmap.validation import validate_agent, validate_key

if TYPE_CHECKING:
    from sessmap.config_file import (
        get_setting,
        parse_setting_value,
        set_setting,
        setting_path,
        unset_setting,
        with_setting,
        without_setting,
        write_config,
    )
    from sessmap.service_details import Details, Transcript, describe, transcript_of
    from sessmap.service_filters import Filters
    from sessmap.service_maintenance import Health, Pruned, Unverified, check_config, doctor, prune
    from sessmap.service_mappings import (
        DEFAULT_PROVIDER,
        Removal,
        absolute_dir,
        create,
        fork,
        remove,
        rename,
        update,
    )
    from sessmap.service_transfer import Imported, export_lines, import_mappings, parse_jsonl

# Where each name not defined here lives. `sessmap get` imports this module for one lookup and
# needs none of them (nor the config module, uuid, tempfile and tomllib that they load).
_LAZY = {
    **dict.fromkeys(("Details", "Transcript", "describe", "transcript_of"), "sessmap.service_details"),
    "Filters": "sessmap.service_filters",
    **dict.fromkeys(
        ("Health", "Pruned", "Unverified", "check_config", "doctor", "prune"), "sessmap.service_maintenance"
    ),
    **dict.fromkeys(
        ("DEFAULT_PROVIDER", "Removal", "absolute_dir", "create", "fork", "remove", "rename", "update"),
        "sessmap.service_mappings",
    ),
    **dict.fromkeys(
        ("Imported", "export_lines", "import_mappings", "parse_jsonl"), "sessmap.service_transfer"
    ),
    **dict.fromkeys(
        (
            "get_setting",
            "parse_setting_value",
            "set_setting",
            "setting_path",
            "unset_setting",
            "with_setting",
            "without_setting",
            "write_config",
        ),
        "sessmap.config_file",
    ),
}

# Names this module has always carried from elsewhere, still found here.
_LAZY.update(
    {
        **dict.fromkeys(("InvalidInput", "StoreError"), "sessmap.errors"),
        **dict.fromkeys(("MAX_HISTORY", "Parent"), "sessmap.model"),
        **dict.fromkeys(("validate_cwd", "validate_provider", "validate_session_id"), "sessmap.validation"),
        **dict.fromkeys(("ImportResult", "OnConflict", "Query"), "sessmap.stores.base"),
    }
)

__all__ = [
    "DEFAULT_PROVIDER",
    "Details",
    "Filters",
    "Health",
    "Imported",
    "Pruned",
    "Removal",
    "Transcript",
    "Unverified",
    "absolute_dir",
    "check_config",
    "create",
    "describe",
    "doctor",
    "export_lines",
    "fork",
    "get_setting",
    "import_mappings",
    "now",
    "parse_jsonl",
    "parse_setting_value",
    "prune",
    "remove",
    "rename",
    "require",
    "session_id_of",
    "set_setting",
    "setting_path",
    "transcript_of",
    "unset_setting",
    "update",
    "with_setting",
    "without_setting",
    "write_config",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # __import__, not importlib.import_module: `python -X importtime` (tests/test_startup.py)
    # sees only what goes through the import statement's machinery.
    value = getattr(__import__(module, fromlist=[name]), name)
    globals()[name] = value  # found once: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


# --- reading -------------------------------------------------------------------------------


def _no_mapping(agent: str, key: str) -> NotFound:
    return NotFound(f"no mapping for {key!r} (agent {agent})", reason="not-found", agent=agent, key=key)


def _exists_already(agent: str, key: str, *, reason: str) -> Conflict:
    """``reason``: ``mapping-exists`` (creating it) or ``target-exists`` (renaming or forking to it)."""
    return Conflict(
        f"a mapping for {key!r} (agent {agent}) exists already", reason=reason, agent=agent, key=key
    )


def require(store: Store, agent: str, key: str) -> Mapping:
    """The mapping for (agent, key), or NotFound with a hint."""
    mapping = store.get(validate_agent(agent), validate_key(key))
    if mapping is None:
        raise _no_mapping(agent, key)
    return mapping


def session_id_of(store: Store, agent: str, key: str) -> str:
    """The session id alone; NotFound while the mapping is pending (no id yet)."""
    mapping = require(store, agent, key)
    if mapping.session_id is None:
        raise NotFound(
            f"mapping {key!r} (agent {agent}) is {mapping.state}: it has no session id until its first exec",
            reason="no-session-yet",
            agent=agent,
            key=key,
            found=mapping.state,
        )
    return mapping.session_id
