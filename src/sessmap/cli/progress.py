"""A progress bar on stderr for long work (import, prune, doctor, export).

``with progress(ctx, "importing") as tick:`` hands the work a plain ``tick(n)`` callback (the
core's ``progress`` parameters take one). The bar shows only when stderr is a terminal and
``-q`` is off, and only once the work has run for ``DELAY`` seconds, so quick runs print
nothing and pay nothing: Rich is imported only when a bar is actually drawn.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from sessmap.cli.echo import isatty

if TYPE_CHECKING:
    from sessmap.cli.context import AppContext

Tick = Callable[[int], None]
T = TypeVar("T")

DELAY = 1.0
"""Seconds of work before a bar appears. ``SESSMAP_PROGRESS_DELAY`` changes it (tests set 0)."""
CHECK_EVERY = 256
"""Ticks between looks at the clock: a tick per mapping must stay nearly free."""
REFRESH = 0.1


def _noop(count: int) -> None:
    pass


def _delay() -> float:
    try:
        return float(os.environ.get("SESSMAP_PROGRESS_DELAY", DELAY))
    except ValueError:
        return DELAY


@contextmanager
def progress(ctx: AppContext, description: str, total: int | None = None) -> Iterator[Tick]:
    """A ``tick(n)`` that counts ``n`` more items done; a no-op off a terminal or with -q."""
    if ctx.quiet or not isatty(sys.stderr):
        yield _noop
        return
    bar = _Bar(description, total, _delay(), color=ctx.color)
    try:
        yield bar.tick
    finally:
        bar.close()


def counted(items: Iterator[T], tick: Tick) -> Iterator[T]:
    """``items``, ticking once for each; closing this closes ``items`` (a store's cursor)."""
    try:
        for item in items:
            yield item
            tick(1)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


class _Bar:
    def __init__(self, description: str, total: int | None, delay: float, *, color: bool) -> None:
        self.description, self.total, self.color = description, total, color
        self.started = time.monotonic()
        self.delay = delay
        self.done = 0
        self.since_check = CHECK_EVERY  # look at the clock on the first tick
        self.shown_at = 0.0
        self.rich: Any = None
        self.task: Any = None

    def tick(self, count: int) -> None:
        self.done += count
        self.since_check += 1
        if self.since_check < CHECK_EVERY:
            return
        self.since_check = 0
        moment = time.monotonic()
        if self.rich is None:
            if moment - self.started >= self.delay:
                self._show()
        elif moment - self.shown_at >= REFRESH:
            self.shown_at = moment
            self.rich.update(self.task, completed=self.done)

    def _show(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(file=sys.stderr, no_color=not self.color, highlight=False)
        self.rich = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,}" + ("" if self.total is None else " of {task.total:,}")),
            TimeElapsedColumn(),
            console=console,
            transient=True,  # the bar goes when the work ends; the command's own lines stay
        )
        self.task = self.rich.add_task(self.description, total=self.total, completed=self.done)
        self.rich.start()

    def close(self) -> None:
        if self.rich is not None:
            self.rich.update(self.task, completed=self.done)
            self.rich.stop()
