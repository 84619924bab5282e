"""sessmap: a durable map from chat threads to AI coding-agent sessions.

Library use::

    from sessmap import open_store

    with open_store("sqlite:/var/lib/bot/sessions.db") as store:
        mapping = store.get("default", "slack:C024BE91L:1700000000.000100")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Busy",
    "Conflict",
    "ExecRequest",
    "ExecResult",
    "ExitCode",
    "InvalidInput",
    "Mapping",
    "NotFound",
    "Query",
    "SessmapError",
    "StaleSession",
    "Store",
    "StoreError",
    "__version__",
    "open_store",
    "run_exec",
]

if TYPE_CHECKING:
    from sessmap.errors import (
        Busy,
        Conflict,
        ExitCode,
        InvalidInput,
        NotFound,
        SessmapError,
        StaleSession,
        StoreError,
    )
    from sessmap.model import Mapping
    from sessmap.runner import ExecRequest, ExecResult, run_exec
    from sessmap.stores import Query, Store, open_store

_LAZY = {
    "Mapping": "sessmap.model",
    "open_store": "sessmap.stores",
    "Query": "sessmap.stores",
    "Store": "sessmap.stores",
    "ExecRequest": "sessmap.runner",
    "ExecResult": "sessmap.runner",
    "run_exec": "sessmap.runner",
}


def __getattr__(name: str) -> Any:
    # Lazy so `sessmap --version` and `python -m sessmap` do not pay for the whole core.
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in __all__:
        return getattr(importlib.import_module("sessmap.errors"), name)
    raise AttributeError(f"module 'sessmap' has no attribute {name!r}")
