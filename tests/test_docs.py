"""Every command and config subcommand has help text with an example (like sqlite-utils)."""

from __future__ import annotations

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from sessmap.cli.app import app

ROOT = get_command(app)
COMMANDS = sorted(ROOT.commands)  # type: ignore[attr-defined]
CONFIG_COMMANDS = sorted(ROOT.commands["config"].commands)  # type: ignore[attr-defined]


def test_the_spec_commands_exist() -> None:
    expected = {
        "create",
        "get",
        "show",
        "list",
        "set",
        "rename",
        "rm",
        "delete",
        "prune",
        "fork",
        "export",
        "import",
        "doctor",
        "config",
    }
    assert expected <= set(COMMANDS)
    assert set(CONFIG_COMMANDS) == {"path", "show", "get", "set", "unset"}


@pytest.mark.parametrize(
    "argv", [[name] for name in COMMANDS] + [["config", name] for name in CONFIG_COMMANDS]
)
def test_help_has_an_example(argv: list[str]) -> None:
    result = CliRunner().invoke(app, [*argv, "--help"])
    assert result.exit_code == 0, result.stderr
    assert "Example:" in result.stdout
    example = result.stdout.split("Example:", 1)[1].splitlines()[1:]
    assert any(line.startswith("    ") and "sessmap" in line for line in example), result.stdout
    description = result.stdout.split("\n\n")[1].strip()
    assert len(description) > 10


def test_root_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"])
    for name in COMMANDS:
        assert f"\n  {name} " in result.stdout
