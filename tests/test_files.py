"""Writing a file atomically (sessmap/files.py): readers see the old content or the new."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from sessmap.files import NoTempFile, atomic_write, fsync_dir


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_new_file_is_written_with_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    atomic_write(path, b"ttl = '2d'\n")
    assert path.read_bytes() == b"ttl = '2d'\n"
    assert path.stat().st_mode & 0o777 == 0o600  # the default
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_the_mode_is_kept_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "shared.json"
    before = os.umask(umask)
    try:
        atomic_write(path, b"{}", mode=0o644)
    finally:
        os.umask(before)
    assert path.stat().st_mode & 0o777 == 0o644


def test_an_existing_file_is_replaced_not_rewritten_in_place(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    path.write_bytes(b"old")
    path.chmod(0o644)
    inode = path.stat().st_ino
    with path.open("rb") as reader:  # a reader that opened the old file keeps reading it whole
        atomic_write(path, b"new content", mode=0o600)
        assert reader.read() == b"old"
    assert path.read_bytes() == b"new content"
    assert path.stat().st_ino != inode
    assert path.stat().st_mode & 0o777 == 0o600
    assert leftovers(tmp_path) == []


def test_readers_never_see_half_a_write(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    contents = [bytes([n]) * 1_000_000 for n in range(2)]
    atomic_write(path, contents[0])
    seen: set[bytes] = set()
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            data = path.read_bytes()
            seen.add(data[:1] + data[-1:] + len(data).to_bytes(4, "big"))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(20):
            atomic_write(path, contents[n % 2])
    finally:
        done.set()
        reader.join()
    whole = {c[:1] + c[-1:] + len(c).to_bytes(4, "big") for c in contents}
    assert seen <= whole


def test_no_temp_file_names_the_folder(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(NoTempFile) as caught:
        atomic_write(missing / "config.toml", b"x")
    assert caught.value.filename == str(missing)
    assert isinstance(caught.value, OSError)


def test_a_failed_replace_leaves_no_temp_file_and_the_old_content(tmp_path: Path) -> None:
    folder_in_the_way = tmp_path / "store.json"
    (folder_in_the_way / "inside").mkdir(parents=True)  # os.replace cannot put a file over it
    with pytest.raises(OSError) as caught:
        atomic_write(folder_in_the_way, b"x")
    assert not isinstance(caught.value, NoTempFile)
    assert folder_in_the_way.is_dir() and leftovers(tmp_path) == []


def test_a_folder_can_be_fsynced(tmp_path: Path) -> None:
    fsync_dir(tmp_path)
    with pytest.raises(FileNotFoundError):
        fsync_dir(tmp_path / "missing")
