"""Helpers the test folders share."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

# The console script installed next to this interpreter, run as users run it.
SESSMAP = Path(sys.executable).with_name("sessmap")


def sha256(path: Path) -> str:
    """The file's content hash, to show a command left it byte for byte as it was."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
