"""``sessmap help``: the topics, a command's --help, and one line naming the topics for an
unknown one."""

from __future__ import annotations

import os
import subprocess

import pytest
from tests.support import SESSMAP

TOPICS = ("exit-codes", "environment", "formats", "store-urls")


def sessmap(*argv: str) -> subprocess.CompletedProcess[str]:
    if not SESSMAP.exists():
        if os.environ.get("CI"):
            pytest.fail(f"the sessmap command is not installed ({SESSMAP})")
        pytest.skip(f"the sessmap command is not installed ({SESSMAP})")
    return subprocess.run([str(SESSMAP), *argv], capture_output=True, text=True, timeout=60)


def test_help_alone_lists_the_topics() -> None:
    done = sessmap("help")
    assert done.returncode == 0, done.stderr
    for topic in TOPICS:
        assert f"  {topic} " in done.stdout


@pytest.mark.parametrize(
    "topic, needles",
    [
        ("exit-codes", ("75", "125", "127", "no such mapping", "conflict")),
        ("environment", ("SESSMAP_HOME", "SESSMAP_STORE", "SESSMAP_CONFIG", "SESSMAP_AGENT", "NO_COLOR")),
        ("formats", ("table", "json", "jsonl", "tsv", "keys")),
        ("store-urls", ("sqlite:PATH", "json:PATH", "postgresql://", "redis://")),
    ],
)
def test_a_topic(topic: str, needles: tuple[str, ...]) -> None:
    done = sessmap("help", topic)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    for needle in needles:
        assert needle in done.stdout, needle


def test_every_envvar_of_the_option_table_is_in_the_environment_topic() -> None:
    from sessmap.cli import spec

    text = sessmap("help", "environment").stdout
    for opts in spec.COMMANDS.values():
        for opt in opts:
            if opt.envvar:
                assert opt.envvar in text, opt.envvar


@pytest.mark.parametrize("argv", [["exec"], ["config", "set"]])
def test_help_command_is_its_help(argv: list[str]) -> None:
    done = sessmap("help", *argv)
    assert done.returncode == 0, done.stderr
    assert done.stdout == sessmap(*argv, "--help").stdout


def test_an_unknown_topic_is_one_line_naming_the_topics() -> None:
    done = sessmap("help", "nope")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("sessmap: error:")
    for topic in TOPICS:
        assert topic in lines[0]
