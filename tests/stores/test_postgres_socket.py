"""libpq's own URL spellings reach libpq unchanged: a Unix socket above all (issue 14 item 9).

``postgresql:///db?host=/path/to/socket&port=5440`` exited 2: splitting sessmap's own
parameters off the URL (``urlunsplit``) dropped the ``//`` of the empty host, and libpq
cannot read ``postgresql:/db?…``. Every form libpq accepts now passes through as it was, and
a store opens over the machine's real PostgreSQL socket.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from psycopg.conninfo import conninfo_to_dict
from tests.support.cli import run_sessmap
from tests.support.mappings import make_mapping
from tests.support.servers import postgres_url
from tests.support.skips import unavailable

from sessmap.stores import open_store
from sessmap.urls import mask_password, pop_parameters

SOCKET_DIRS = ("/var/run/postgresql", "/run/postgresql", "/tmp")

LIBPQ_URLS = [
    "postgresql:///db?host=/var/run/postgresql&port=5440",
    "postgresql:///db?host=%2Fvar%2Frun%2Fpostgresql",
    "postgresql://%2Fvar%2Frun%2Fpostgresql:5440/db",
    "postgresql://user@/db?host=/tmp",
    "postgresql:///db",
    "postgresql://",
    "postgresql://localhost",
    "postgres://u:p%40ss@h1:5432,h2:5433/db?target_session_attrs=read-write&sslmode=disable",
    "postgresql://[::1]:5432/db?connect_timeout=3",
    "postgresql://host/db?host=/var/run/postgresql&application_name=bot",
]


@pytest.mark.parametrize("url", LIBPQ_URLS)
def test_every_libpq_url_reaches_the_driver_as_libpq_reads_it(url: str) -> None:
    with_ours = url + ("&" if "?" in url else "?") + "schema=s1&prefix=p"
    conninfo, ours = pop_parameters(with_ours, {"schema", "prefix"})
    assert ours == {"schema": "s1", "prefix": "p"}
    assert conninfo_to_dict(conninfo) == conninfo_to_dict(url)
    assert pop_parameters(url, {"schema"}) == (url, {})


@pytest.mark.parametrize("url", LIBPQ_URLS)
def test_masking_keeps_the_url_one_libpq_reads(url: str) -> None:
    masked = mask_password(url)
    expected = conninfo_to_dict(url)
    if "password" in expected:
        expected["password"] = "***"
    assert conninfo_to_dict(masked) == expected


def _socket_dir(port: int) -> str:
    for folder in SOCKET_DIRS:
        if Path(folder, f".s.PGSQL.{port}").exists():
            return folder
    unavailable(f"no PostgreSQL socket .s.PGSQL.{port} in {', '.join(SOCKET_DIRS)}")


@pytest.fixture
def socket_url() -> Iterator[str]:
    """The test store's URL in libpq's Unix-socket spelling: no host, ``?host=<socket dir>``."""
    with postgres_url() as tcp_url:
        parts = urlsplit(tcp_url)
        port = parts.port or 5432
        user = f"&user={parts.username}" if parts.username else ""
        yield f"postgresql://{parts.path}?host={_socket_dir(port)}&port={port}{user}&{parts.query}"


@pytest.mark.server
def test_a_store_opens_over_the_real_unix_socket(socket_url: str) -> None:
    assert socket_url.startswith("postgresql:///")
    with open_store(socket_url) as store:
        store.insert(make_mapping("over-the-socket"))
    created = run_sessmap("create", "by-cli", "--provider", "claude", store=socket_url)
    assert created.returncode == 0, created.stderr
    listed = run_sessmap("list", "--format", "keys", store=socket_url)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["by-cli", "over-the-socket"]
