"""A store, config or side file path that is a FIFO or a device is refused, never touched.

``json:/dev/null`` used to turn the node into a 0600 regular file, a FIFO at a store or config
path hung sessmap for ever, and ``/dev/zero`` as the config ran it out of memory. Every such
path is now refused in one line (exit 1; 125 inside ``exec``) and left as it was.

The nodes are made by each test in its own tmp_path: a FIFO (``mkfifo``), and, as root, a
character device (``mknod``) of the null or zero driver. The real /dev/null and /dev/zero
are never used. Every command runs with a timeout, so a hang fails the test.
"""

from __future__ import annotations

import os
import resource
import stat
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.support import SESSMAP

from sessmap import files
from sessmap.errors import StoreError
from sessmap.stores import open_store
from sessmap.stores.base import TranscriptKey

TIMEOUT = 30  # seconds: a command that blocks on a FIFO fails the test instead of hanging it
NULL_DEVICE = (1, 3)  # Linux's major/minor of /dev/null
ZERO_DEVICE = (1, 5)  # ... and of /dev/zero

Maker = Callable[[Path], None]


def make_fifo(path: Path) -> None:
    os.mkfifo(path, 0o600)


def device_maker(numbers: tuple[int, int]) -> Maker:
    def make(path: Path) -> None:
        if os.geteuid() != 0:
            pytest.skip("making a character device node (mknod) needs root; the FIFO cases still run")
        try:
            os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(*numbers))
        except PermissionError as err:
            pytest.skip(f"mknod is refused here (no CAP_MKNOD, or a nodev mount): {err}")

    return make


NODES = [
    pytest.param((make_fifo, stat.S_ISFIFO), id="fifo"),
    pytest.param((device_maker(NULL_DEVICE), stat.S_ISCHR), id="char-device"),
]


@pytest.fixture(params=NODES)
def node(request: pytest.FixtureRequest) -> tuple[Maker, Callable[[int], bool]]:
    make, is_kind = request.param
    return make, is_kind


def sessmap(
    *args: str, env: dict[str, str] | None = None, limit_memory: bool = False
) -> subprocess.CompletedProcess[str]:
    def preexec() -> None:
        # Without the fix, reading a zero device fills memory until MemoryError: keep that
        # failure to this process, not the machine the tests share.
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    return subprocess.run(
        [str(SESSMAP), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
        env={**os.environ, **(env or {})},
        preexec_fn=preexec if limit_memory else None,
    )


def refused(result: subprocess.CompletedProcess[str], path: Path, code: int = 1) -> str:
    """The command failed with ``code`` and said so in one ``sessmap: error:`` line naming ``path``."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sessmap: error: "), result.stderr
    assert str(path) in lines[0] and "not a regular file" in lines[0], lines[0]
    return lines[0]


def still(path: Path, is_kind: Callable[[int], bool]) -> None:
    assert is_kind(os.lstat(path).st_mode), f"{path} was replaced: {stat.filemode(os.lstat(path).st_mode)}"


# --- the store file itself ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["json", "sqlite"])
@pytest.mark.slow
def test_a_store_path_that_is_not_a_regular_file_is_refused_untouched(
    tmp_path: Path, kind: str, node: tuple[Maker, Callable[[int], bool]]
) -> None:
    make, is_kind = node
    folder = tmp_path / "stores"
    folder.mkdir()
    path = folder / "sessions"
    make(path)
    url = f"{kind}:{path}"
    for args in (["create", "k"], ["list"], ["get", "k"], ["set", "k", "--label", "a=b"]):
        refused(sessmap("--store", url, *args), path)
        still(path, is_kind)
    refused(sessmap("--store", url, "exec", "k", "--", "true"), path, code=125)
    still(path, is_kind)
    doctor = sessmap("--store", url, "doctor")  # a finding on stdout, not a crash
    assert doctor.returncode == 1 and f"store: {path} is " in doctor.stdout, (doctor.stdout, doctor.stderr)
    still(path, is_kind)
    assert sorted(p.name for p in folder.iterdir()) == ["sessions"]  # no lock, temp or side file


@pytest.mark.parametrize(
    "suffix",
    [".lock", "-wal", "-shm", "-journal"],
    ids=["json-lock", "sqlite-wal", "sqlite-shm", "sqlite-journal"],
)
def test_a_side_file_that_is_not_a_regular_file_is_refused_untouched(
    tmp_path: Path, suffix: str, node: tuple[Maker, Callable[[int], bool]]
) -> None:
    make, is_kind = node
    kind = "json" if suffix == ".lock" else "sqlite"
    path = tmp_path / f"sessions.{kind}"
    side = path.with_name(path.name + suffix)
    make(side)
    refused(sessmap("--store", f"{kind}:{path}", "create", "k"), side)
    still(side, is_kind)
    assert not path.exists()


@pytest.mark.slow
def test_a_thread_lock_file_that_is_not_a_regular_file_is_refused(
    tmp_path: Path, node: tuple[Maker, Callable[[int], bool]]
) -> None:
    from sessmap.stores.locks import locks_dir_for, thread_lock_path

    make, is_kind = node
    path = tmp_path / "sessions.json"
    assert sessmap("--store", f"json:{path}", "create", "k", "--provider", "claude").returncode == 0
    lock = thread_lock_path(locks_dir_for(path), "default", "k")
    lock.parent.mkdir(mode=0o700, exist_ok=True)
    make(lock)
    result = sessmap("--store", f"json:{path}", "exec", "k", "--", "true")
    assert result.returncode == 125, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "not a regular file" in result.stderr, result.stderr
    still(lock, is_kind)


def finishes_without_blocking(action: Callable[[], object], fifo: Path) -> BaseException | None:
    """Run ``action`` in a thread; what it raised. If it hangs (opening ``fifo`` for reading),
    a writer is opened on the FIFO to wake it, and the test fails."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            action()
        except BaseException as err:  # handed to the test
            outcome.append(err)
        else:
            outcome.append(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(TIMEOUT)
    if thread.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # the blocked open returns now
        thread.join(TIMEOUT)
        pytest.fail(f"blocked opening the FIFO {fifo}")
    return outcome[0]


@pytest.mark.parametrize("which", ["lines", "metadata"])
def test_a_json_store_transcript_file_that_is_a_fifo_is_refused(tmp_path: Path, which: str) -> None:
    path = tmp_path / "sessions.json"
    key = TranscriptKey("project", "session", "")
    with open_store(f"json:{path}") as store:
        store.transcripts.append(key, [b'{"n": 1}'])
        suffix = ".jsonl" if which == "lines" else ".json"
        [file] = [p for p in path.with_name(path.name + ".transcripts").rglob(f"*{suffix}")]
        file.unlink()
        make_fifo(file)
        raised = finishes_without_blocking(lambda: list(store.transcripts.read(key)), file)
    assert isinstance(raised, StoreError) and "not a regular file" in str(raised), raised
    assert stat.S_ISFIFO(os.lstat(file).st_mode)


# --- the config file -----------------------------------------------------------------------------


CONFIG_NODES = [
    pytest.param(make_fifo, stat.S_ISFIFO, id="fifo"),
    pytest.param(device_maker(NULL_DEVICE), stat.S_ISCHR, id="null-device"),
    pytest.param(device_maker(ZERO_DEVICE), stat.S_ISCHR, id="zero-device"),
]


@pytest.mark.parametrize(("make", "is_kind"), CONFIG_NODES)
@pytest.mark.slow
def test_a_config_file_that_is_not_a_regular_file_is_refused_untouched(
    tmp_path: Path, make: Maker, is_kind: Callable[[int], bool]
) -> None:
    config = tmp_path / "config.toml"
    make(config)
    env = {"SESSMAP_CONFIG": str(config)}
    for args in (
        ["list"],
        ["get", "k"],
        ["config", "show"],
        ["config", "get", "ttl"],
        ["config", "set", "ttl", "3d"],
    ):
        refused(sessmap(*args, env=env, limit_memory=True), config)
        still(config, is_kind)
    refused(sessmap("exec", "k", "--", "true", env=env, limit_memory=True), config, code=125)
    refused(sessmap("--config", str(config), "config", "unset", "ttl", limit_memory=True), config)
    still(config, is_kind)
    # doctor reports it as the config's problem, and the exit says something is wrong
    doctor = sessmap("doctor", env=env, limit_memory=True)
    assert doctor.returncode == 1, (doctor.stdout, doctor.stderr)
    assert f"config: {config}: config file {config} is" in doctor.stdout, doctor.stdout
    still(config, is_kind)


@pytest.mark.slow
def test_the_default_config_location_is_checked_too(
    tmp_path: Path, sessmap_home: Path, node: tuple[Maker, Callable[[int], bool]]
) -> None:
    make, is_kind = node
    sessmap_home.mkdir(parents=True, exist_ok=True)
    config = sessmap_home / "config.toml"  # SESSMAP_HOME holds the config (tests/conftest.py)
    make(config)
    refused(sessmap("list", limit_memory=True), config)
    still(config, is_kind)


# --- the helpers, in-process -----------------------------------------------------------------------


def test_atomic_write_never_replaces_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    make_fifo(fifo)
    with pytest.raises(files.NotRegularFile) as raised:
        files.atomic_write(fifo, b"data")
    assert raised.value.kind == "a FIFO"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]  # no temp file left either


def test_atomic_write_still_replaces_a_link_and_a_file(tmp_path: Path) -> None:
    target, link = tmp_path / "target", tmp_path / "link"
    target.write_bytes(b"old")
    link.symlink_to(target)
    files.atomic_write(link, b"new")
    files.atomic_write(target, b"newer")
    assert not link.is_symlink() and link.read_bytes() == b"new"
    assert target.read_bytes() == b"newer"


def test_open_regular_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    make_fifo(fifo)
    with pytest.raises(files.NotRegularFile):
        files.open_regular(fifo)  # a plain open(O_RDONLY) would block here for ever
    with pytest.raises(FileNotFoundError):
        files.open_regular(tmp_path / "missing")
    regular = tmp_path / "file"
    regular.write_bytes(b"x")
    fd = files.open_regular(regular)
    try:
        assert os.read(fd, 10) == b"x" and os.get_blocking(fd)
    finally:
        os.close(fd)
