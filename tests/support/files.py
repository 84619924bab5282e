"""Looking at files a command left behind."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256(path: Path) -> str:
    """The file's content hash, to show a command left it byte for byte as it was."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
