"""Fixtures for the reliability tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before the import, so the helpers' asserts explain themselves like the tests' own.
pytest.register_assert_rewrite("reliability_support")

from reliability_support import Unprivileged, as_unprivileged, unprivileged_ids  # noqa: E402
from tests.support.backends import FILE_KINDS, backend_params  # noqa: E402


@pytest.fixture(params=backend_params(sorted(FILE_KINDS)))
def file_kind(request: pytest.FixtureRequest) -> str:
    """Each embedded store: sqlite and json."""
    return str(request.param)


@pytest.fixture
def unprivileged(tmp_path: Path) -> Iterator[Unprivileged]:
    """Permissions do not bind root, so as root the CLI runs as ``nobody``; otherwise as us.

    As root, the folder is made in the system temp folder behind a 0711 folder of root's
    (pytest's ``tmp_path`` is under a 0700 root folder that nobody cannot enter) and removed
    afterwards.
    """
    if os.geteuid() != 0:
        folder = tmp_path / "home"
        folder.mkdir(mode=0o700)
        yield Unprivileged(folder=folder, prefix=[])
        return
    outer = Path(tempfile.mkdtemp(prefix="sessmap-reliability-"))
    try:
        outer.chmod(0o711)
        folder = outer / "home"
        folder.mkdir(mode=0o700)
        uid, gid = unprivileged_ids()
        os.chown(folder, uid, gid)
        stage = tmp_path / "mount-stage"
        stage.mkdir()
        yield Unprivileged(folder=folder, prefix=as_unprivileged(stage))
    finally:
        shutil.rmtree(outer, ignore_errors=True)
