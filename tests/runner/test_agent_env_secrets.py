"""The agent never sees the password of sessmap's store (issue 14 item 19).

``exec … -- env`` showed ``SESSMAP_STORE=redis://:secret@…``: the agent inherited sessmap's own
store URL, password and all. It now inherits the URL with the password masked (``***``), so a
``sessmap`` it runs fails loudly rather than using another store; a URL without a password and
``SESSMAP_CONFIG`` (a path) pass unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from tests.support.cli import run_sessmap
from tests.support.servers import postgres_url

from sessmap.runner.resolve import agent_environment

SECRET = "s3cret-h14"
PRINTER = '#!/bin/sh\nprintf "%s\\n" "$SESSMAP_STORE" "$SESSMAP_CONFIG"\n'


def _printer(tmp_path: Path) -> list[str]:
    """An agent printing the two variables (claude's session flags go after its argv[0])."""
    script = tmp_path / "print_env"
    script.write_text(PRINTER)
    script.chmod(0o755)
    return [str(script)]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:secret@cache:6379/0", "redis://:***@cache:6379/0"),
        ("rediss://user:secret@cache/1?prefix=bot", "rediss://user:***@cache/1?prefix=bot"),
        ("postgresql://bot:secret@db/app", "postgresql://bot:***@db/app"),
        (
            "postgresql:///app?host=/run/postgresql&password=secret",
            "postgresql:///app?host=/run/postgresql&password=***",
        ),
        ("sqlite:/var/lib/bot/sessions.db", "sqlite:/var/lib/bot/sessions.db"),
        ("redis://cache/0", "redis://cache/0"),
    ],
)
def test_the_store_url_reaches_the_agent_masked(url: str, shown: str) -> None:
    env = agent_environment({"SESSMAP_STORE": url, "SESSMAP_CONFIG": "/etc/bot.toml", "OTHER": "x"})
    assert env == {"SESSMAP_STORE": shown, "SESSMAP_CONFIG": "/etc/bot.toml", "OTHER": "x"}


@pytest.fixture
def url_with_password() -> Iterator[str]:
    with postgres_url() as url:
        parts = urlsplit(url)
        netloc = f"{parts.username or 'postgres'}:{SECRET}@{parts.hostname}:{parts.port or 5432}"
        yield urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@pytest.mark.server
def test_an_agent_run_by_exec_cannot_read_the_store_password(url_with_password: str, tmp_path: Path) -> None:
    config = tmp_path / "sessmap.toml"
    config.write_text("")
    result = run_sessmap(
        "exec", "t1", "--provider", "claude", "--", *_printer(tmp_path),
        env={"SESSMAP_STORE": url_with_password, "SESSMAP_CONFIG": str(config)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout
    store_line, config_line = result.stdout.splitlines()
    assert store_line == url_with_password.replace(SECRET, "***")
    assert config_line == str(config)


def test_a_store_url_without_a_password_is_passed_unchanged(tmp_path: Path) -> None:
    url = f"sqlite:{tmp_path / 's.db'}"
    result = run_sessmap(
        "exec", "t1", "--provider", "claude", "--", *_printer(tmp_path), env={"SESSMAP_STORE": url}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == url
