"""The context every command gets: the global options, resolved once, with the config and
the store loaded only when a command first asks for them.

No Typer here: the fast path (cli/fast.py) answers ``get`` and ``exec`` with this same
context, so both resolve the store and the config one way."""

from __future__ import annotations

import sys
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

    from sessmap.config import Config
    from sessmap.stores import Store


class AppContext:
    """Built from ``--store``, ``--config``, ``-q``, ``-v`` and ``--no-color``.

    Commands read it, never change it. ``config`` and ``store`` are cached on first use. A
    plain class, not a dataclass: see ``sessmap.model.Mapping`` for why.
    """

    def __init__(
        self,
        store_option: str | None,  # --store or SESSMAP_STORE
        config_option: Path | None,  # --config or SESSMAP_CONFIG, ~ expanded
        quiet: bool = False,
        verbose: bool = False,
        color: bool = True,
    ) -> None:
        self.store_option = store_option
        self.config_option = config_option
        self.quiet = quiet
        self.verbose = verbose
        self.color = color

    @cached_property
    def config_path(self) -> Path:
        if self.config_option is not None:
            return self.config_option
        # Found only when asked for: platformdirs is not needed otherwise.
        from sessmap.config import default_config_path

        return default_config_path()

    @cached_property
    def config(self) -> Config:
        from sessmap.config import load_config

        config = load_config(self.config_path)
        for name in config.unknown:
            import shlex  # only with an unknown setting to name

            self.info(
                f"sessmap: warning: config file {config.path}: unknown setting {name!r} ignored; "
                f"remove it with `sessmap config unset {shlex.quote(name)}`"
            )
        return config

    @cached_property
    def store_url(self) -> str:
        """``--store``, else ``SESSMAP_STORE``, else the config's ``store``, else the default."""
        if self.store_option:
            return self.store_option
        from sessmap.config import default_store_url

        return self.config.store or default_store_url()

    @cached_property
    def store(self) -> Store:
        from sessmap.stores import open_store

        return open_store(self.store_url)

    @property
    def existing_store(self) -> Store:
        """The store, for a command that only reads (get, show, list, export, doctor): a store
        file that does not exist is an error there, and nothing is created."""
        if "store" not in self.__dict__:
            from sessmap.stores import open_store

            self.__dict__["store"] = open_store(self.store_url, create=False)
        return self.store

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()

    def info(self, message: str) -> None:
        """A message for people (stderr); ``-q`` silences it."""
        if not self.quiet:
            self.echo_err(message)

    def debug(self, message: str) -> None:
        if self.verbose:
            self.echo_err(message)

    def echo_err(self, message: str) -> None:
        import typer

        typer.echo(message, err=True)

    def out(self, text: str) -> None:
        """Data: one line on stdout."""
        sys.stdout.write(text + "\n")


def app_context(ctx: typer.Context) -> AppContext:
    """The AppContext the root callback stored on the Click context."""
    obj = ctx.find_root().obj
    if not isinstance(obj, AppContext):  # pragma: no cover - the root callback always sets it
        raise RuntimeError("sessmap commands run under the sessmap app")
    return obj
