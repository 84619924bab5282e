"""Dynamic shell completion: thread keys from the store, agents and providers from the config.

Completion must never fail loudly nor create anything, so every error means "no candidates"
and a store file that does not exist yet is not opened (opening would create it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from sessmap.config import Config

_MAX_CANDIDATES = 200


def _root_params(ctx: typer.Context) -> dict[str, object]:
    return dict(ctx.find_root().params)


def _config(ctx: typer.Context) -> Config | None:
    from sessmap.config import default_config_path, load_config

    path = _root_params(ctx).get("config")
    try:
        # As the root callback reads --config: with ~ expanded.
        return load_config(Path(str(path)).expanduser() if path else default_config_path())
    except Exception:
        return None


def _store_url(ctx: typer.Context) -> str:
    from sessmap.config import default_store_url

    url = _root_params(ctx).get("store") or os.environ.get("SESSMAP_STORE")
    if url:
        return str(url)
    config = _config(ctx)
    return (config.store if config else None) or default_store_url()


def complete_keys(ctx: typer.Context, incomplete: str) -> list[str]:
    """Keys of the selected agent (``-a``, else every agent) starting with what is typed."""
    from sessmap.stores import Query, open_store, store_kind

    try:
        url = _store_url(ctx)
        kind, location = store_kind(url)
        if kind in ("sqlite", "json") and not Path(location).expanduser().exists():
            return []
        agent = ctx.params.get("agent")
        query = Query(
            agent=str(agent) if agent else None, prefix=incomplete or None, sort="key", limit=_MAX_CANDIDATES
        )
        with open_store(url) as store:
            return sorted({mapping.key for mapping in store.query(query)})
    except Exception:  # completion is best effort: a broken store offers nothing
        return []


def complete_agents(ctx: typer.Context, incomplete: str) -> list[str]:
    config = _config(ctx)
    names = {"default", *(config.agents if config else {})}
    return sorted(name for name in names if name.startswith(incomplete))


def complete_providers(ctx: typer.Context, incomplete: str) -> list[str]:
    from sessmap.providers import provider_names

    return [name for name in provider_names(_config(ctx)) if name.startswith(incomplete)]
