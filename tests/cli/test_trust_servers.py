"""The same dry runs, pins, ``rm -`` pipe and summaries on PostgreSQL and Redis: each test in a
schema (PostgreSQL) or key prefix (Redis) of its own, removed afterwards."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from tests.cli.trust_helpers import NEW, pairs, row, run, seed
from tests.support import SESSMAP

POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/0"

pytestmark = pytest.mark.server


def _postgres() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    name = f"trust_{uuid.uuid4().hex[:12]}"
    try:
        psycopg.connect(POSTGRES, connect_timeout=3).close()
    except psycopg.OperationalError as err:
        pytest.skip(f"no PostgreSQL at {POSTGRES}: {err}")
    yield f"{POSTGRES}?schema={name}"
    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def _redis() -> Iterator[str]:
    redis = pytest.importorskip("redis")
    prefix = f"trust-{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(REDIS, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as err:
        pytest.skip(f"no Redis at {REDIS}: {err}")
    yield f"{REDIS}?prefix={prefix}"
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)
    client.close()


@pytest.fixture(params=["postgres", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[str]:
    urls = _postgres() if request.param == "postgres" else _redis()
    url = next(urls)
    rows = [
        row("tmp:a"),
        row("tmp:a", "other"),
        row("keep"),
        row("pin", labels={"pin": "true"}),
        row("new", seen=NEW),
    ]
    seed(url, rows)
    yield url
    next(urls, None)


def content(store: str) -> list[str]:
    done = run(store, "export")
    assert done.returncode == 0, done.stderr
    return sorted(done.stdout.splitlines())


@pytest.mark.slow
def test_dry_runs_change_nothing(store: str) -> None:
    before = content(store)
    for args in (
        ("prune", "--dry-run"),
        ("rm", "--dry-run", "tmp:a", "keep"),
        ("doctor", "--fix", "--dry-run"),
    ):
        assert run(store, *args).returncode == 0, args
    assert content(store) == before


@pytest.mark.slow
def test_prune_keeps_the_pinned_and_summarises(store: str) -> None:
    got = json.loads(run(store, "prune", "--json").stdout)
    assert got["count"] == 3 and got["scanned"] == 5 and got["pinned"] == 1
    assert pairs(store) == {("default", "pin"), ("default", "new")}
    quiet = run(store, "-q", "prune", "--label", "pin=true")
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert pairs(store) == {("default", "new")}


@pytest.mark.slow
def test_rm_pipe_from_list_across_agents(store: str) -> None:
    listing = subprocess.run(
        [str(SESSMAP), "--store", store, "list", "-f", "tsv", "--prefix", "tmp:"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    done = run(store, "rm", "-", input=listing.stdout)
    assert done.returncode == 0, done.stderr
    assert pairs(store) == {("default", "keep"), ("default", "pin"), ("default", "new")}
