"""Running a test on each of the summary's two fast paths: the C scanner (``_sniff.c``) and
the Python one it stands in for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from tests.support.skips import unavailable

from sessmap.transcripts import native_sniff


def compiled() -> ModuleType:
    """The C scanner; a test needing it is skipped (fails under CI) when it was not built."""
    if native_sniff.MODULE is None:
        unavailable("sessmap.transcripts._sniff is not built (no C compiler at install?): pip install -e .")
    return native_sniff.MODULE


@contextmanager
def python_only() -> Iterator[None]:
    """Inside: summaries read in Python alone, as without the compiled module."""
    saved = native_sniff.MODULE
    native_sniff.MODULE = None
    try:
        yield
    finally:
        native_sniff.MODULE = saved
