"""Reading what a command wrote to a pseudo-terminal (the tests of what people see)."""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Callable


def read_terminal(
    controller: int,
    *,
    on_output: Callable[[bytes], None] | None = None,
    process: subprocess.Popen[bytes] | subprocess.Popen[str] | None = None,
    timeout: float | None = None,
) -> bytes:
    """Everything written to the terminal whose controller side is ``controller``, until its
    last writer is gone (EIO), ``process`` has ended and the terminal is quiet, or ``timeout``
    seconds pass. ``on_output`` sees all that was shown so far after each chunk (to answer a
    question, or to time the first page)."""
    shown = b""
    deadline = None if timeout is None else time.monotonic() + timeout
    while deadline is None or time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the terminal's last writer is gone
                break
            if not chunk:
                break
            shown += chunk
            if on_output is not None:
                on_output(shown)
        elif process is not None and process.poll() is not None:
            break
    return shown
