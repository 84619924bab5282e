"""Every command's options, declared once, as plain data.

The Typer app builds its parameters from this table (``option``), the fast path
(``cli/fast.py``) tokenizes ``get`` and ``exec`` with it, the comparison test generates its
command lines from it, and the README's command reference comes from the ``--help`` it makes.
The options several commands share (and ``Opt`` itself) are declared in ``spec_options.py``;
this module holds the per-command table, the fast path's subset, and the lookups.

Cheap to import: no Typer, no Click, nothing beyond the standard library's ``typing``.
"""

from __future__ import annotations

import os
from typing import Any

# The shared blocks live in spec_options; every name is re-exported (__all__), so callers
# keep importing the whole table from here.
from sessmap.cli.spec_options import (
    AGENT,
    AGENT_FILTER,
    CONVERSATION_FIELDS,
    CWD,
    DRY_RUN,
    DRY_RUN_N,
    FIELDS,
    FILTERS,
    FORCE_F,
    FORMAT,
    FORMATS,
    JSON,
    JSON_SUMMARY,
    LABEL,
    LIMIT,
    MAPPING_FIELDS,
    OUTPUT,
    PROVIDER,
    PROVIDER_FILTER,
    PRUNE_FILTERS,
    PURGE,
    SESSION_ID,
    YES,
    Opt,
)
from sessmap.cli.spec_options import declare as _o

__all__ = [
    "AGENT",
    "AGENT_FILTER",
    "COMMANDS",
    "CONVERSATION_FIELDS",
    "CWD",
    "DRY_RUN",
    "DRY_RUN_N",
    "FAST",
    "FIELDS",
    "FILTERS",
    "FORCE_F",
    "FORMAT",
    "FORMATS",
    "GLOBAL",
    "JSON",
    "JSON_SUMMARY",
    "LABEL",
    "LIMIT",
    "MAPPING_FIELDS",
    "OUTPUT",
    "PROVIDER",
    "PROVIDER_FILTER",
    "PRUNE_FILTERS",
    "PURGE",
    "SESSION_ID",
    "YES",
    "Opt",
    "find",
    "resolve",
]

GLOBAL = (
    _o(
        "store",
        "--store",
        help="sqlite:PATH, json:PATH, a .db/.json path, postgresql://… or redis://… "
        "[default: config 'store', else the user data dir's sessions.db]",
        metavar="URL",
        envvar="SESSMAP_STORE",
        show_default=False,
    ),
    _o(
        "config",
        "--config",
        help="Config file [default: config.toml in the user config dir].",
        metavar="PATH",
        envvar="SESSMAP_CONFIG",
        show_default=False,
    ),
    _o("version", "--version", help="Print the version.", is_flag=True, default=False),
    _o("quiet", "--quiet", "-q", help="Only data and errors; no messages.", is_flag=True, default=False),
    _o(
        "verbose", "--verbose", "-v", help="More messages; tracebacks on errors.", is_flag=True, default=False
    ),
    _o("no_color", "--no-color", help="No colours (also: NO_COLOR=1).", is_flag=True, default=False),
)

COMMANDS: dict[str, tuple[Opt, ...]] = {
    "": GLOBAL,
    "create": (
        AGENT,
        PROVIDER,
        SESSION_ID,
        CWD,
        LABEL,
        _o("force", "--force", help="Replace an existing mapping.", is_flag=True, default=False),
        FORCE_F,
        DRY_RUN._replace(help="Check and show the mapping it would write; write nothing."),
        JSON,
    ),
    "get": (AGENT, JSON),
    "show": (AGENT, JSON),
    "which": (
        AGENT_FILTER._replace(help="Only this agent's mappings (default: every agent)."),
        JSON._replace(help="Print JSON: the mapping as show --json prints it, and what matched."),
    ),
    "transcript": (
        AGENT,
        _o(
            "output_format",
            "--format",
            "-f",
            help="text: for reading at a terminal; markdown: to paste into a ticket or a wiki; "
            "jsonl: one JSON object per prompt, reply and tool call.",
            choices=("text", "markdown", "jsonl"),
            default="text",
        ),
        _o(
            "last",
            "--last",
            help="Only the last N turns (a turn: a prompt and the agent's answer to it).",
            metavar="N",
            minimum=1,
            show_default=False,
        ),
    ),
    "list": (
        _o(
            "sort",
            "--sort",
            help="Order: newest first for times.",
            choices=("last-used", "created", "key"),
            default="last-used",
        ),
        _o("reverse", "--reverse", "-r", help="Reverse the order.", is_flag=True, default=False),
        FORMAT,
        JSON,
        LIMIT._replace(help="At most N rows; 0 for all [default: 30 at a terminal, else all]."),
        FIELDS,
        *FILTERS,
    ),
    "export": (
        _o(
            "transcripts",
            "--transcripts",
            help="Also write the store's copies of their transcripts.",
            is_flag=True,
            default=False,
        ),
        FORMAT._replace(help="jsonl unless given; --transcripts takes only jsonl."),
        JSON._replace(help="Print one JSON array (as --format json)."),
        LIMIT,
        FIELDS,
        *FILTERS,
    ),
    "du": (
        FORMAT._replace(
            help="table on a terminal, else tsv (no header; columns: " + "key agent provider "
            "session_id local stored total files sessions); csv has a header row."
        ),
        JSON._replace(help="Print JSON: the mappings, largest first, and the total."),
        LIMIT._replace(help="Only the N largest; the total still counts all. 0 for all."),
        *FILTERS,
    ),
    "set": (
        AGENT,
        SESSION_ID,
        PROVIDER,
        CWD,
        LABEL,
        _o("unlabel", "--unlabel", help="Remove a label (repeatable).", metavar="K", multiple=True),
        JSON,
    ),
    "rename": (AGENT, DRY_RUN, JSON_SUMMARY),
    "rm": (
        AGENT._replace(help="Agent of the KEYs, and of bare keys read by - [default: default]."),
        _o(
            "missing_ok",
            "--missing-ok",
            help="A key with no mapping is not an error.",
            is_flag=True,
            default=False,
        ),
        PURGE,
        DRY_RUN,
        YES,
        JSON_SUMMARY,
    ),
    "fork": (AGENT, LABEL, JSON),
    "prune": (
        _o(
            "older_than",
            "--older-than",
            help="Age limit [default: config ttl, else 30d].",
            metavar="DUR",
            show_default=False,
        ),
        _o(
            "missing",
            "--missing",
            help="Also remove mappings whose transcript is proven gone (seen before on this host, "
            "now missing there and from the store). Ones that cannot be checked are kept.",
            is_flag=True,
            default=False,
        ),
        *PRUNE_FILTERS,
        PURGE,
        DRY_RUN._replace(help="Show what would go; delete nothing."),
        DRY_RUN_N,
        YES,
        FORMAT._replace(help="How to print the removed mappings [default: tsv]."),
        JSON._replace(help="Print a JSON summary: counts, cutoff, and the removed mappings."),
    ),
    "import": (
        _o(
            "on_conflict",
            "--on-conflict",
            help="What to do with mappings that exist already.",
            choices=("skip", "replace", "fail"),
            default="fail",
        ),
        DRY_RUN._replace(help="Read and check every line; say what would be inserted, replaced, skipped."),
        YES,
        JSON_SUMMARY,
    ),
    "doctor": (
        _o(
            "fix",
            "--fix",
            help="Remove mappings whose transcript is gone (not those labelled pin=true).",
            is_flag=True,
            default=False,
        ),
        PURGE._replace(
            help="With --fix: also delete the local transcripts of sessions sessmap started "
            "that no mapping uses any more."
        ),
        DRY_RUN._replace(help="With --fix: show what it would remove; remove nothing."),
        YES,
        JSON,
    ),
    "config show": (JSON,),
    "exec": (
        AGENT,
        PROVIDER._replace(
            flags=("--provider",),
            help="claude, codex, copilot, opencode, qwen, or a provider from the config "
            "[default: the agent's profile, else CMD's name].",
            show_default=False,
        ),
        CWD,
        _o("new", "--new", help="Start a fresh session, replacing the mapping.", is_flag=True, default=False),
        _o(
            "no_wait",
            "--no-wait",
            help="Exit 75 at once if another exec holds the thread.",
            is_flag=True,
            default=False,
        ),
        _o(
            "wait_timeout",
            "--wait-timeout",
            help="Wait at most DUR for the thread, then exit 75 "
            "[default: config wait_timeout, else no limit].",
            metavar="DUR",
            show_default=False,
        ),
        _o(
            "on_stale",
            "--on-stale",
            help="When the session is gone: start a new one (fresh), or exit 125 (fail) "
            "[default: config on_stale, else fresh].",
            choices=("fresh", "fail"),
            show_default=False,
        ),
        _o(
            "dry_run",
            "--dry-run",
            help="Print the command it would run (a JSON array); change nothing.",
            is_flag=True,
            default=False,
        ),
        _o(
            "status",
            "--status",
            help="When the run ends, write one JSON object there: key, agent, session_id, "
            "previous_session_id, action, turns, exit, error.",
            metavar="FILE",
            show_default=False,
        ),
        _o(
            "status_fd",
            "--status-fd",
            help="The same report, to file descriptor N.",
            metavar="N",
            show_default=False,
        ),
    ),
}

# What the fast path answers itself; any other option sends the command line to the full app.
FAST: dict[str, tuple[str, ...]] = {
    "": ("store", "config", "quiet", "no_color"),
    "get": ("agent",),
    "exec": ("agent", "provider", "cwd", "new", "no_wait", "wait_timeout", "on_stale", "status", "status_fd"),
}


def find(command: str, dest: str) -> Opt:
    """The option ``dest`` of ``command`` ("" for the global options)."""
    for opt in COMMANDS[command]:
        if opt.dest == dest:
            return opt
    raise KeyError(f"{command or 'sessmap'} has no option {dest!r}")


def resolve(opt: Opt, given: Any) -> Any:
    """The one precedence rule: the command line, else the environment variable (when set and
    not empty), else the default. Typer applies it through Click's ``envvar``; the fast path
    calls this."""
    if given is not None:
        return given
    if opt.envvar and os.environ.get(opt.envvar):
        return os.environ[opt.envvar]
    return opt.default
