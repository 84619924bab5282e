"""The man page ``sessmap.1``, from the app's own help (its options come from cli/spec.py) and
the help topics (cli/topics.py): ``python -m sessmap.cli.manpage`` prints it,
``python -m sessmap.cli.manpage --write man/sessmap.1`` writes it, and
tests/cli/test_manpage.py fails when the committed file differs. The wheel ships it as
``share/man/man1/sessmap.1``.

No date in the header: a page that changed with the clock would never match its check.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from sessmap.cli import topics

_EXAMPLES = (
    (
        "Start or resume the session of a Slack thread with claude:",
        'sessmap exec slack:C024BE91L:1700000000.000100 -- claude -p "hello"',
    ),
    ("The session id of a thread, alone on stdout:", "sessmap get slack:C024BE91L:1700000000.000100"),
    (
        "A new thread that starts from another thread's conversation:",
        "sessmap fork slack:C1:1700000000.1 slack:C1:1700000500.2",
    ),
    ("Prune mappings unused for two weeks, from cron:", "sessmap -q prune --older-than 14d"),
    (
        "Move a map to another store:",
        "sessmap export --transcripts | sessmap --store postgresql://db/bots import -",
    ),
    ("Shell completion for bash:", 'eval "$(sessmap completion bash)"'),
)


def escape(text: str) -> str:
    """``text`` as roff prints it literally: backslashes, dashes, a leading dot or quote."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


def _paragraphs(help_text: str) -> list[str]:
    """A Click help text as roff: ``\\b`` blocks stay as they are written (no fill)."""
    out: list[str] = []
    for block in help_text.strip().split("\n\n"):
        lines = block.strip("\n").splitlines()
        if lines and lines[0].strip() == "\b":
            out += [".PP", ".nf", *(escape(line) for line in lines[1:]), ".fi"]
        else:
            out += [".PP", escape(" ".join(line.strip() for line in lines))]
    return out


def _commands() -> list[tuple[str, Any, Any]]:
    """(name, Click command, its context) for every visible command; a group's subcommands
    instead of the group, named ``config show``."""
    import typer

    from sessmap.cli.app import ORDER, app

    root = typer.main.get_command(app)
    root_ctx = root.make_context("sessmap", ["--help"], resilient_parsing=True)
    found: list[tuple[str, Any, Any]] = [("", root, root_ctx)]
    names = [*ORDER, *(n for n in root.list_commands(root_ctx) if n not in ORDER)]  # type: ignore[attr-defined]
    for name in names:
        command = root.get_command(root_ctx, name)  # type: ignore[attr-defined]
        if command is None or command.hidden:
            continue
        ctx = command.make_context(name, ["--help"], parent=root_ctx, resilient_parsing=True)
        if hasattr(command, "list_commands"):
            for sub in command.list_commands(ctx):
                child = command.get_command(ctx, sub)
                sub_ctx = child.make_context(sub, ["--help"], parent=ctx, resilient_parsing=True)
                found.append((f"{name} {sub}", child, sub_ctx))
        else:
            found.append((name, command, ctx))
    return found


def _options(command: Any, ctx: Any) -> list[str]:
    out: list[str] = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        flags, text = record
        out += [".TP", f"\\fB{escape(flags)}\\fR", escape(text) if text else "\\&"]
    return out


def _topic(topic: topics.Topic, title: str | None = None) -> list[str]:
    out = [f".SH {title or topic.title.upper()}", escape(topic.lead)]
    for term, text in topic.rows:
        out += [".TP", f"\\fB{escape(term)}\\fR", escape(text)]
    if topic.tail:
        out += [".PP", escape(topic.tail)]
    return out


def page() -> str:
    from sessmap import __version__

    commands = _commands()
    _, root, root_ctx = commands[0]
    out = [
        f'.TH SESSMAP 1 "" "sessmap {escape(__version__)}" "User Commands"',
        ".SH NAME",
        "sessmap \\- map chat threads to AI coding\\-agent sessions",
        ".SH SYNOPSIS",
        ".B sessmap",
        "[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGS\\fR]...",
        ".br",
        ".B sessmap exec",
        "\\fIKEY\\fR [\\fIOPTIONS\\fR] \\fB\\-\\-\\fR \\fICMD\\fR [\\fIARG\\fR]...",
        ".SH DESCRIPTION",
        *_paragraphs(root.help or ""),
        ".PP",
        escape("sessmap help TOPIC prints the sections below on the terminal; topics: ")
        + escape(", ".join(topics.TOPICS))
        + ".",
        ".SH GLOBAL OPTIONS",
        *_options(root, root_ctx),
        ".SH COMMANDS",
    ]
    for name, command, ctx in commands[1:]:
        pieces = " ".join(command.collect_usage_pieces(ctx))
        out += [f".SS {escape(name)}", ".nf", f"\\fBsessmap {escape(name)}\\fR {escape(pieces)}", ".fi"]
        out += _paragraphs(command.help or "")
        out += _options(command, ctx)
    out += _topic(topics.EXIT_CODES, "EXIT STATUS")  # the name man pages give it
    out += _topic(topics.ENVIRONMENT)
    out += [
        ".SH FILES",
        ".TP",
        "\\fI~/.config/sessmap/config.toml\\fR (Linux)",
        escape(
            "The config file (TOML), in the platformdirs user config folder; "
            "SESSMAP_CONFIG or --config name another, SESSMAP_HOME moves it to SESSMAP_HOME/config.toml."
        ),
        ".TP",
        "\\fI~/.local/share/sessmap/sessions.db\\fR (Linux)",
        escape(
            "The default store (SQLite), in the platformdirs user data folder, or SESSMAP_HOME/sessions.db."
        ),
        ".TP",
        "\\fI~/.cache/sessmap/summaries/\\fR (Linux)",
        escape(
            "What show and list --fields read of each large claude or codex transcript (its title, "
            "first and last prompt, counts), so that the next look reads only the lines added since; "
            "in the platformdirs user cache folder, or SESSMAP_HOME/cache. Always safe to delete."
        ),
    ]
    out += _topic(topics.STORE_URLS)
    out += _topic(topics.FORMATS)
    out += [".SH EXAMPLES"]
    for text, command_line in _EXAMPLES:
        out += [".PP", escape(text), ".PP", ".RS", ".nf", escape(command_line), ".fi", ".RE"]
    out += [".SH SEE ALSO", "\\fBclaude\\fR(1), \\fBcodex\\fR(1)"]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    if argv[:1] == ["--write"] and len(argv) == 2:
        path = Path(argv[1])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page())
    else:
        sys.stdout.write(page())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
