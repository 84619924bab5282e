"""PostgreSQL and Redis for the tests: private databases, key prefixes, and URL factories.

The servers come from ``SESSMAP_TEST_POSTGRES_URL`` and ``SESSMAP_TEST_REDIS_URL`` (defaults:
the machine's own servers). A test session gets a private database ``sessmap_test_<random>``
(dropped at exit), each store in it a schema of its own (``?schema=…``); each Redis store gets
a key prefix of its own (``?prefix=…``), deleted afterwards with SCAN (never KEYS).

When a server does not answer, its tests are skipped with the reason, unless ``CI`` is set:
then they fail, so a CI machine without its servers cannot pass quietly.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import itertools
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from tests.support.skips import unavailable

from sessmap.urls import mask_password

if TYPE_CHECKING:
    import psycopg
    import redis

# The drivers load inside the helpers (as in sessmap itself), so collecting the file-store
# tests never needs them.

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Short enough that the contract suite's "a killed holder frees the lock" passes for Redis.
TEST_LOCK_TTL = "2s"

RUN_ID = secrets.token_hex(4)
_numbers = itertools.count()


def _with_query(url: str, extra: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


# --- PostgreSQL ---------------------------------------------------------------------------------


def postgres_admin_url() -> str:
    return os.environ.get("SESSMAP_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def postgres_database_url(database: str) -> str:
    """The admin URL pointed at another database."""
    parts = urlsplit(postgres_admin_url())
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def database_name(url: str) -> str:
    """The database a PostgreSQL URL points at."""
    return urlsplit(url).path.lstrip("/")


def postgres_admin(database: str | None = None) -> psycopg.Connection[tuple[Any, ...]]:
    """An autocommit connection to the admin database (or ``database``); skips when unreachable."""
    import psycopg

    url = postgres_admin_url() if database is None else postgres_database_url(database)
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        unavailable(f"PostgreSQL at {mask_password(url)} is unreachable: {' '.join(str(error).split())}")


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """The URL of a new, empty database of its own, dropped on exit."""
    from psycopg import sql

    name = f"sessmap_test_{RUN_ID}_{next(_numbers)}"
    with postgres_admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield postgres_database_url(name)
    finally:
        with postgres_admin() as admin:
            # FORCE: lock holders a test killed may not have been noticed by the server yet.
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@functools.cache
def _session_database() -> str:
    """This test session's private database, created on first use and dropped at exit."""
    stack = contextlib.ExitStack()
    url = stack.enter_context(fresh_postgres_database())
    atexit.register(stack.close)
    return url


@contextlib.contextmanager
def postgres_url(folder: Path | None = None) -> Iterator[str]:
    """For the backend list (backends.py): a new, empty store, a schema of its own in the
    session database."""
    from psycopg import sql

    database_url = _session_database()
    schema = f"t_{next(_numbers)}"
    try:
        yield _with_query(database_url, f"schema={schema}")
    finally:
        with postgres_admin(database_name(database_url)) as admin:
            admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


# --- Redis ----------------------------------------------------------------------------------------


def redis_server_url() -> str:
    return os.environ.get("SESSMAP_TEST_REDIS_URL", DEFAULT_REDIS_URL)


def redis_client() -> redis.Redis:
    """A client for the test server; skips when unreachable."""
    import redis

    client = redis.Redis.from_url(redis_server_url(), decode_responses=True, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        unavailable(f"Redis at {mask_password(redis_server_url())} is unreachable: {error}")
    return client


def delete_prefix(client: redis.Redis, prefix: str) -> None:
    """Remove every key under ``prefix:`` (SCAN in batches, never KEYS)."""
    batch: list[str] = []
    for name in client.scan_iter(match=f"{prefix}:*", count=1000):
        batch.append(name)
        if len(batch) >= 1000:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)


@contextlib.contextmanager
def redis_url(folder: Path | None = None, *, lock_ttl: str = TEST_LOCK_TTL) -> Iterator[str]:
    """For the backend list (backends.py): a new, empty store under a key prefix of its own."""
    client = redis_client()
    prefix = f"sessmap_test_{RUN_ID}_{next(_numbers)}"
    try:
        yield _with_query(redis_server_url(), f"prefix={prefix}&lock_ttl={lock_ttl}")
    finally:
        delete_prefix(client, prefix)
        client.close()


def prefix_of(url: str) -> str:
    """The ``prefix`` parameter of a Redis store URL made by ``redis_url``."""
    return dict(piece.partition("=")[::2] for piece in urlsplit(url).query.split("&"))["prefix"]


@contextlib.contextmanager
def password_postgres(user: str, password: str) -> Iterator[str]:
    """A throw-away PostgreSQL cluster that checks passwords (scram-sha-256) on 127.0.0.1.

    The shared test server trusts every local connection, so a wrong password is accepted
    there; this cluster is how a test proves the wrong-password path. Yields the URL of
    ``user`` (with ``password``) without the database part. Needs initdb and, as root, the
    postgres account; skips otherwise.
    """
    import shutil
    import socket
    import subprocess
    import tempfile

    bin_dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    initdb = next((str(d / "initdb") for d in bin_dirs if (d / "initdb").exists()), None) or shutil.which(
        "initdb"
    )
    if initdb is None:
        pytest.skip("initdb is not installed: cannot start a password-checking PostgreSQL")
    bin_dir = Path(initdb).parent
    as_owner: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as its own user")
        as_owner = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    home = Path(tempfile.mkdtemp(prefix="sessmap-pg-"))
    data = home / "data"
    if as_owner:
        shutil.chown(home, "postgres")
    try:
        subprocess.run(
            [
                *as_owner,
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ],
            check=True,
            capture_output=True,
        )
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {home}"
        subprocess.run(
            [
                *as_owner,
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(home / "log"),
                "-w",
                "start",
            ],
            check=True,
            capture_output=True,
        )
        try:
            import psycopg

            with psycopg.connect(host=str(home), port=port, user="postgres", dbname="postgres") as admin:
                admin.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")  # type: ignore[arg-type]
                admin.execute(f"GRANT CREATE ON DATABASE postgres TO {user}")  # type: ignore[arg-type]
            yield f"postgresql://{user}:{password}@127.0.0.1:{port}"
        finally:
            subprocess.run(
                [*as_owner, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
            )
    finally:
        shutil.rmtree(home, ignore_errors=True)
