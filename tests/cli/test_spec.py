"""The option table (cli/spec.py) is what the Typer app offers, each short flag means one thing,
and the table is plain data, cheap to import."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from tests.support.cli import Sessmap
from typer.main import get_command

from sessmap.cli import spec
from sessmap.cli.app import app

ROOT: Any = get_command(app)


def click_command(name: str) -> Any:
    if not name:
        return ROOT
    command = ROOT
    for word in name.split():
        command = command.commands[word]
    return command


@pytest.mark.parametrize("name", sorted(spec.COMMANDS))
def test_the_app_offers_exactly_the_table(name: str) -> None:
    params = {p.name: p for p in click_command(name).params if p.param_type_name == "option"}
    params.pop("help", None)
    if not name:
        params = {k: v for k, v in params.items() if k not in ("install_completion", "show_completion")}
    table = {opt.dest: opt for opt in spec.COMMANDS[name]}
    assert set(params) == set(table)
    for dest, opt in table.items():
        param = params[dest]
        assert sorted(param.opts) == sorted(opt.flags), dest
        assert param.envvar == opt.envvar, dest
        assert param.hidden == opt.hidden, dest
        assert param.is_flag == opt.is_flag, dest
        assert param.multiple == opt.multiple, dest
        if not opt.multiple:
            assert param.default == opt.default, dest


def test_choices_are_the_literal_types() -> None:
    from typing import get_args

    from sessmap.cli import options

    pairs = {
        ("list", "sort"): options.SortName,
        ("list", "output_format"): options.OutputFormat,
        ("list", "state"): options.StateName,
        ("import", "on_conflict"): options.ConflictPolicy,
        ("exec", "on_stale"): options.OnStaleName,
    }
    for (command, dest), literal in pairs.items():
        assert spec.find(command, dest).choices == get_args(literal), dest


def test_one_meaning_per_short_flag() -> None:
    meanings: dict[str, set[str]] = {}
    for options in spec.COMMANDS.values():
        for opt in options:
            if opt.short and not opt.deprecated:
                meanings.setdefault(opt.short, set()).add(opt.long)
    assert {short: longs for short, longs in meanings.items() if len(longs) > 1} == {}
    assert meanings["-f"] == {"--format"} and meanings["-n"] == {"--limit"}


def test_commands_that_print_rows_share_the_output_options() -> None:
    for name in ("list", "export"):
        assert {o.long for o in spec.COMMANDS[name]} >= {"--format", "--json", "--limit"}
    assert {o.long for o in spec.COMMANDS["prune"]} >= {"--format", "--json"}


def test_the_table_loads_nothing_heavy() -> None:
    code = (
        "import sys, sessmap.cli.spec, sessmap.cli.fast; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'click', 'rich')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout == "[]\n", done.stderr


def test_deprecated_short_flags_still_work_with_a_note(sessmap: Sessmap) -> None:
    sessmap.ok("create", "k")
    forced = sessmap("create", "-f", "k")
    assert forced.exit_code == 0, forced.stderr
    assert (
        forced.stderr
        == "sessmap: warning: -f for --force is deprecated and will mean --format; use --force\n"
    )
    sessmap.import_rows(
        {"key": "old", "provider": "claude", "session_id": "s-old", "created_at": "2020-01-01T00:00:00Z"}
    )
    dry = sessmap("prune", "-n", "--older-than", "1d")
    assert dry.exit_code == 0
    assert dry.stderr.startswith("sessmap: warning: -n for --dry-run is deprecated")
    assert dry.stdout.startswith("old\t") and sessmap.ok("get", "old").stdout == "s-old\n"  # kept


def test_export_takes_the_output_options(sessmap: Sessmap) -> None:
    for key in ("a", "b", "c"):
        sessmap.ok("create", key)
    assert sessmap.ok("export", "-f", "keys", "-n", "2").stdout == "a\nb\n"
    assert sessmap.ok("export", "--json", "--limit", "1").stdout.startswith("[\n")
    assert sessmap("export", "--transcripts", "-f", "tsv").exit_code == 2
