"""Giving a retried agent the same stdin (SPEC §4: a stale session is replaced in the same run).

An agent asked to resume a session it no longer has may read its prompt from stdin before it
answers "no conversation". The fresh session started next must get those bytes again: a
regular file is rewound; a pipe or socket is fed to the agent through a pipe of sessmap's
while a copy is kept (up to ``REPLAY_LIMIT``). A terminal passes through: whoever types will
see the agent ask again.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import stat
import threading

from sessmap.errors import SessmapError

REPLAY_LIMIT = 16 << 20
_CHUNK = 64 << 10


class StdinTooLong(SessmapError):
    """The agent consumed more stdin than sessmap keeps before it turned out to be stale."""


class StdinReplay:
    """The agent's stdin for each attempt of one run; ``attach`` before, ``detach`` after."""

    def __init__(self, source: int) -> None:
        self.source = source
        mode = os.fstat(source).st_mode
        self.regular = stat.S_ISREG(mode)
        self.start = os.lseek(source, 0, os.SEEK_CUR) if self.regular else 0
        self.kept = bytearray()
        self.overflowed = False
        self.eof = False
        self.attempts = 0
        self._feeder: threading.Thread | None = None
        self._stop: tuple[int, int] | None = None
        self._read_end: int | None = None

    @classmethod
    def wanted(cls, source: int | None) -> bool:
        """Whether stdin must be kept: a regular file, a pipe or a socket. A terminal is the
        user's to answer again, and a device (``/dev/null``) reads the same the second time."""
        fd = 0 if source is None else source
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            return False
        return stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)

    def attach(self) -> int:
        """The file descriptor to give the next attempt's agent as its stdin."""
        if self.attempts and self.overflowed:
            raise StdinTooLong(
                f"the agent read more than {REPLAY_LIMIT >> 20} MiB of stdin before answering that it has "
                "no such conversation, so the new session cannot be given it again",
                reason="stdin-too-long",
                hint="pass the prompt as an argument, or start the thread over",
                limit=REPLAY_LIMIT,
            )
        self.attempts += 1
        if self.regular:
            os.lseek(self.source, self.start, os.SEEK_SET)
            return self.source
        read_end, write_end = os.pipe()
        self._read_end = read_end
        self._stop = os.pipe()
        replay = bytes(self.kept)
        self._feeder = threading.Thread(
            target=self._feed, args=(write_end, replay, self._stop[0]), name="sessmap-stdin", daemon=True
        )
        self._feeder.start()
        return read_end

    def detach(self) -> None:
        """The attempt's agent has exited: stop feeding it."""
        if self._feeder is None or self._stop is None:
            return
        os.write(self._stop[1], b"x")
        self._feeder.join()
        for fd in (*self._stop, self._read_end):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._feeder = self._stop = self._read_end = None

    def _feed(self, target: int, replay: bytes, stop: int) -> None:
        try:
            if self._write(target, replay, stop):
                while not self.eof:
                    chunk = self._read(stop)
                    if chunk is None or not self._write(target, chunk, stop):
                        break
        finally:
            os.close(target)  # the agent sees end of input

    def _read(self, stop: int) -> bytes | None:
        """The next chunk of our stdin (kept for a retry); None once told to stop or at its end."""
        ready, _, _ = select.select([self.source, stop], [], [])
        if stop in ready:
            return None
        try:
            chunk = os.read(self.source, _CHUNK)
        except OSError:
            chunk = b""
        if not chunk:
            self.eof = True
            return None
        if len(self.kept) + len(chunk) <= REPLAY_LIMIT:
            self.kept += chunk
        else:
            self.overflowed = True
        return chunk

    def _write(self, target: int, data: bytes, stop: int) -> bool:
        """Write all of ``data``; False when told to stop or the agent closed its stdin."""
        view = memoryview(data)
        while view:
            _, writable, _ = select.select([], [target], [], 0.05)
            ready, _, _ = select.select([stop], [], [], 0)
            if ready:
                return False
            if not writable:
                continue
            try:
                view = view[os.write(target, view[: select.PIPE_BUF]) :]
            except OSError as err:
                if err.errno in (errno.EPIPE, errno.EAGAIN):
                    return err.errno == errno.EAGAIN
                raise
        return True
