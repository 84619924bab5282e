"""Servers of a test's own, on free ports, for the faults that must not disturb the shared ones:
a PostgreSQL cluster it can restart, a redis-server it can stop. When the binaries are missing
the test is skipped with the reason (failed under CI, as for the shared servers)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.skips import unavailable

if TYPE_CHECKING:
    import redis


@dataclass(frozen=True)
class PrivatePostgres:
    url: str
    restart: Callable[[], None]


@contextlib.contextmanager
def private_postgres_server() -> Iterator[PrivatePostgres]:
    """A private cluster (trust auth, 127.0.0.1, a free port): its URL, and how to restart it."""
    bin_dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        bin_dirs.insert(0, Path(found.stdout.strip()))
    bin_dir = next((d for d in bin_dirs if (d / "initdb").exists() and (d / "pg_ctl").exists()), None)
    if bin_dir is None:
        unavailable("initdb and pg_ctl are not installed: cannot start a private PostgreSQL")
    as_owner: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            unavailable("running as root without runuser: cannot start PostgreSQL as its own user")
        as_owner = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    home = Path(tempfile.mkdtemp(prefix="sessmap-pg-lock-"))
    data = home / "data"
    if as_owner:
        shutil.chown(home, "postgres")
    pg_ctl = [*as_owner, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(home / "log"), "-w"]
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {home}"
    try:
        initdb = [*as_owner, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
        for step in (initdb, [*pg_ctl, "-o", options, "start"]):
            done = subprocess.run(step, capture_output=True, text=True)
            if done.returncode != 0:
                unavailable(
                    f"cannot start a private PostgreSQL: {done.stderr.strip() or done.stdout.strip()}"
                )

        def restart() -> None:
            subprocess.run([*pg_ctl, "-m", "fast", "-o", options, "restart"], check=True, capture_output=True)

        yield PrivatePostgres(f"postgresql://postgres@127.0.0.1:{port}/postgres", restart)
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def private_redis_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of this test's own on a free port, without persistence."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.access(binary, os.X_OK):
        unavailable("redis-server is not installed: cannot start a private Redis")
    port = _free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        import redis  # the driver loads only where a private Redis is started

        client = redis.Redis.from_url(url)
        _wait_until(lambda: _answers(client))
        client.close()
        yield url, server
    finally:
        server.kill()
        server.wait()


def _answers(client: redis.Redis) -> bool:
    import redis

    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the private server did not answer in time")
        time.sleep(0.02)
