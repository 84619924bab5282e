"""A retried agent gets the same stdin (runner/stdin.py, SPEC §4 stale restart in the same run).

The agents are real subprocesses (``python -c``) given the descriptor ``attach`` returns, as
the runner gives it; ``detach`` follows each one's exit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sessmap.runner import stdin as stdin_module
from sessmap.runner.stdin import REPLAY_LIMIT, StdinReplay, StdinTooLong

READ_ALL = "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())"
READ_NOTHING = "pass"
READ_LINE = "import sys; sys.stdout.buffer.write(sys.stdin.buffer.readline())"
COUNT_ALL = (
    "import sys\nn = 0\nwhile chunk := sys.stdin.buffer.read1(1 << 16):\n    n += len(chunk)\nprint(n)"
)


def read_exactly(n: int) -> str:
    """An agent that reads exactly ``n`` bytes (no read-ahead) and echoes them."""
    return (
        "import os, sys\ndata = b''\n"
        f"while len(data) < {n}:\n    chunk = os.read(0, {n} - len(data))\n    if not chunk: break\n"
        "    data += chunk\nsys.stdout.buffer.write(data)"
    )


def agent(stdin: int, code: str, timeout: float = 20) -> bytes:
    done = subprocess.run(
        [sys.executable, "-c", code], stdin=stdin, capture_output=True, timeout=timeout, check=True
    )
    return done.stdout


class Source:
    """A pipe as sessmap's stdin, written by a thread (as a shell pipeline would)."""

    def __init__(self, data: bytes, *, close: bool = True) -> None:
        self.read_end, self.write_end = os.pipe()
        self._thread = threading.Thread(target=self._write, args=(data, close), daemon=True)
        self._thread.start()

    def _write(self, data: bytes, close: bool) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.write_end, view[: 1 << 16]) :]
        except OSError:
            return
        if close:
            self.close_writer()

    def close_writer(self) -> None:
        if self.write_end >= 0:
            os.close(self.write_end)
            self.write_end = -1

    def close(self) -> None:
        os.close(self.read_end)  # a writer still blocked gets EPIPE and ends
        self._thread.join(10)
        self.close_writer()


@pytest.fixture
def sources() -> Iterator[list[Source]]:
    made: list[Source] = []
    yield made
    for source in made:
        source.close()


def pipe_replay(sources: list[Source], data: bytes, *, close: bool = True) -> tuple[Source, StdinReplay]:
    source = Source(data, close=close)
    sources.append(source)
    return source, StdinReplay(source.read_end)


def attempt(replay: StdinReplay, code: str) -> bytes:
    fd = replay.attach()
    try:
        return agent(fd, code)
    finally:
        replay.detach()


DATA = bytes(range(256)) * 1200  # 300 KiB: more than the pipes in between hold


# -- pipes -------------------------------------------------------------------------------------


def test_a_second_attempt_gets_the_same_bytes_including_what_the_first_never_read(
    sources: list[Source],
) -> None:
    _, replay = pipe_replay(sources, DATA)
    assert attempt(replay, read_exactly(1000)) == DATA[:1000]
    assert attempt(replay, READ_ALL) == DATA
    assert not replay.regular


def test_a_first_agent_that_exits_without_reading(sources: list[Source]) -> None:
    _, replay = pipe_replay(sources, DATA)
    assert attempt(replay, READ_NOTHING) == b""
    assert attempt(replay, READ_ALL) == DATA


def test_input_the_first_agent_read_to_the_end_is_replayed(sources: list[Source]) -> None:
    _, replay = pipe_replay(sources, b"the prompt\nsecond line\n")
    assert attempt(replay, READ_ALL) == b"the prompt\nsecond line\n"
    assert replay.eof
    assert attempt(replay, READ_ALL) == b"the prompt\nsecond line\n"
    assert attempt(replay, READ_ALL) == b"the prompt\nsecond line\n"  # and a third time


def test_empty_input_gives_each_attempt_end_of_input(sources: list[Source]) -> None:
    _, replay = pipe_replay(sources, b"")
    assert attempt(replay, READ_ALL) == b""
    assert attempt(replay, READ_ALL) == b""


def test_streaming_input_is_forwarded_before_end_of_input(sources: list[Source]) -> None:
    # The writer keeps the pipe open: an agent waiting for EOF would time out here.
    source, replay = pipe_replay(sources, b"first line\n", close=False)
    fd = replay.attach()
    try:
        assert agent(fd, READ_LINE, timeout=10) == b"first line\n"
    finally:
        replay.detach()
    assert not replay.eof
    source.close_writer()
    assert attempt(replay, READ_ALL) == b"first line\n"


def test_more_than_the_bound_passes_through_once_then_cannot_be_replayed(sources: list[Source]) -> None:
    size = REPLAY_LIMIT + 1
    _, replay = pipe_replay(sources, b"x" * size)
    assert attempt(replay, COUNT_ALL) == f"{size}\n".encode()  # the first agent gets all of it
    assert replay.overflowed
    with pytest.raises(StdinTooLong, match="16 MiB") as caught:
        replay.attach()
    assert caught.value.exit_code != 0 and caught.value.hint


@pytest.mark.parametrize(("size", "replayable"), [(1000, True), (1001, False)])
def test_the_bound_is_inclusive(
    sources: list[Source], monkeypatch: pytest.MonkeyPatch, size: int, replayable: bool
) -> None:
    monkeypatch.setattr(stdin_module, "REPLAY_LIMIT", 1000)
    data = os.urandom(size)
    _, replay = pipe_replay(sources, data)
    assert attempt(replay, READ_ALL) == data
    if replayable:
        assert attempt(replay, READ_ALL) == data
    else:
        with pytest.raises(StdinTooLong):
            replay.attach()


def test_detach_without_attach_is_harmless(sources: list[Source]) -> None:
    _, replay = pipe_replay(sources, b"x")
    replay.detach()
    assert attempt(replay, READ_ALL) == b"x"


# -- regular files -----------------------------------------------------------------------------


def test_a_regular_file_is_rewound_to_where_it_was(tmp_path: Path) -> None:
    path = tmp_path / "prompt.txt"
    path.write_bytes(b"skip:the prompt\n" * 1000)
    with path.open("rb") as stream:
        fd = stream.fileno()
        os.lseek(fd, 5, os.SEEK_SET)  # sessmap was given it part-read
        replay = StdinReplay(fd)
        assert replay.regular
        assert replay.attach() == fd  # the file itself, no pipe
        assert agent(fd, READ_ALL) == path.read_bytes()[5:]
        replay.detach()
        assert os.lseek(fd, 0, os.SEEK_CUR) == path.stat().st_size  # the agent moved the shared offset
        assert replay.attach() == fd
        assert agent(fd, READ_ALL) == path.read_bytes()[5:]
        replay.detach()


def test_a_regular_file_has_no_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stdin_module, "REPLAY_LIMIT", 10)
    path = tmp_path / "prompt.txt"
    path.write_bytes(b"y" * 100)
    with path.open("rb") as stream:
        replay = StdinReplay(stream.fileno())
        assert agent(replay.attach(), READ_ALL) == b"y" * 100
        assert agent(replay.attach(), READ_ALL) == b"y" * 100


# -- whether to replay at all -------------------------------------------------------------------


def test_wanted_for_pipes_and_files_not_terminals_or_closed_fds(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    primary, secondary = os.openpty()
    path = tmp_path / "f"
    path.write_text("x")
    try:
        with path.open("rb") as stream:
            assert StdinReplay.wanted(read_end)
            assert StdinReplay.wanted(stream.fileno())
            assert not StdinReplay.wanted(secondary)
    finally:
        for fd in (read_end, write_end, primary, secondary):
            os.close(fd)
    assert not StdinReplay.wanted(read_end)  # closed now
    with open(os.devnull, "rb") as null:  # a device reads the same again: nothing to keep
        assert not StdinReplay.wanted(null.fileno())
