"""Every command's options, declared once, as plain data.

The Typer app builds its parameters from this table (``option``), the fast path
(``cli/fast.py``) tokenizes ``get`` and ``exec`` with it, the comparison test generates its
command lines from it, and the README's command reference comes from the ``--help`` it makes.

Cheap to import: no Typer, no Click, nothing beyond the standard library's ``typing``.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple


class Opt(NamedTuple):
    """One option. ``flags``: the long name first, then the short one, if any."""

    dest: str  # the Python parameter's name
    flags: tuple[str, ...]
    help: str
    metavar: str | None = None
    is_flag: bool = False  # takes no value
    multiple: bool = False  # repeatable, collected in a list
    envvar: str | None = None  # read when the option is not given (and not empty)
    default: Any = None
    choices: tuple[str, ...] | None = None  # for the fast path; Typer takes them from the Literal
    complete: str | None = None  # "agents", "providers" or "keys": a completer of cli/complete.py
    minimum: int | None = None
    show_default: bool = True
    hidden: bool = False
    deprecated: str | None = None  # a note for stderr: this spelling goes in the next release

    @property
    def long(self) -> str:
        return self.flags[0]

    @property
    def short(self) -> str | None:
        return next((flag for flag in self.flags[1:] if not flag.startswith("--")), None)


def _o(dest: str, *flags: str, help: str, **fields: Any) -> Opt:
    return Opt(dest, flags, help, **fields)


# --- options several commands share ------------------------------------------------------------

AGENT = _o(
    "agent",
    "--agent",
    "-a",
    help="Agent name: one thread can hold a separate session per agent.",
    metavar="NAME",
    envvar="SESSMAP_AGENT",
    default="default",
    complete="agents",
)
AGENT_FILTER = _o(
    "agent",
    "--agent",
    "-a",
    help="Only this agent's mappings (default: every agent).",
    metavar="NAME",
    complete="agents",
)
PROVIDER = _o(
    "provider",
    "--provider",
    "-p",
    help="claude, codex, or a provider from the config.",
    metavar="NAME",
    complete="providers",
)
PROVIDER_FILTER = PROVIDER._replace(help="Only mappings of this provider.")
LABEL = _o(
    "label",
    "--label",
    "-l",
    help="Set a label (repeatable).",
    metavar="K=V",
    multiple=True,
    show_default=False,
)
JSON = _o("json_output", "--json", help="Print JSON.", is_flag=True, default=False)
CWD = _o(
    "cwd", "--cwd", help="Directory the agent runs in (made absolute).", metavar="DIR", show_default=False
)
SESSION_ID = _o(
    "session_id", "--session-id", help="The agent's session id.", metavar="ID", show_default=False
)
# The commands that delete or replace mappings: show it first (--dry-run); at a terminal they
# ask before doing it, unless --yes (as gh does). Scripts and cron (no terminal) are not asked.
DRY_RUN = _o(
    "dry_run", "--dry-run", help="Show what would change; change nothing.", is_flag=True, default=False
)
YES = _o(
    "yes",
    "--yes",
    "-y",
    help="Do not ask for confirmation (asked only when stdin and stderr are a terminal).",
    is_flag=True,
    default=False,
)
JSON_SUMMARY = JSON._replace(help="Print a JSON summary of what changed (or would).")

FORMATS = ("table", "json", "jsonl", "tsv", "csv", "keys")
FORMAT = _o(
    "output_format",
    "--format",
    "-f",
    help="table on a terminal, else tsv (no header; columns: key agent provider session_id "
    "state turns last_used_at created_at); csv has a header row.",
    choices=FORMATS,
    show_default=False,
)
LIMIT = _o("limit", "--limit", "-n", help="At most N rows; 0 for all.", metavar="N", minimum=0)
# What --fields can name: SPEC §1's fields of a mapping, in its order, and last_seen (the last
# use, else the creation: what ages and the table's LAST SEEN are measured from).
_FIELD_NAMES = (
    "key agent provider session_id state cwd created_at updated_at last_used_at turns last_exit "
    "parent labels host agent_home history last_seen"
)
MAPPING_FIELDS = tuple(_FIELD_NAMES.split())
FIELDS = _o(
    "fields",
    "--fields",
    help="Only these fields, in this order, comma-separated (table, tsv, csv, json, jsonl): "
    + ", ".join(MAPPING_FIELDS)
    + ".",
    metavar="F,F…",
    show_default=False,
)
# The output options of every command that prints rows of mappings (list, export, prune):
# cli/options.py ``output_options`` hands them over as one ``cli.output.Output``, and
# ``cli.output.show`` prints the rows with them.
OUTPUT = (FORMAT, JSON, LIMIT, FIELDS)

FILTERS = (
    AGENT_FILTER,
    PROVIDER_FILTER,
    _o("prefix", "--prefix", help="Only keys starting with S.", metavar="S"),
    _o("match", "--match", help="Only keys matching GLOB (case-sensitive, * ? [..]).", metavar="GLOB"),
    _o(
        "label",
        "--label",
        "-l",
        help="Only mappings with this label (repeatable, ANDed).",
        metavar="K=V",
        multiple=True,
        show_default=False,
    ),
    _o("older_than", "--older-than", help="Last used (or created) more than DUR ago.", metavar="DUR"),
    _o("newer_than", "--newer-than", help="Last used (or created) within DUR.", metavar="DUR"),
    _o(
        "state", "--state", help="Only mappings in this state.", choices=("active", "pending", "pending-fork")
    ),
)

# prune selects as list does; its own --older-than is the age limit. A mapping labelled
# pin=true is kept unless the prune itself filters on that label.
PRUNE_FILTERS = tuple(
    opt._replace(
        help="Only mappings with this label (repeatable, ANDed). Mappings labelled pin=true are "
        "kept unless --label pin=true is given."
    )
    if opt.dest == "label"
    else opt
    for opt in FILTERS
    if opt.dest not in ("older_than", "newer_than")
)

# The short flags whose meaning changed in 0.3: the old spelling still works, with a note.
FORCE_F = _o(
    "force_f",
    "-f",
    help="Deprecated: -f is --format now; use --force.",
    is_flag=True,
    default=False,
    hidden=True,
    deprecated="-f for --force is deprecated and will mean --format; use --force",
)
DRY_RUN_N = _o(
    "dry_run_n",
    "-n",
    help="Deprecated: -n is --limit now; use --dry-run.",
    is_flag=True,
    default=False,
    hidden=True,
    deprecated="-n for --dry-run is deprecated and will mean --limit; use --dry-run",
)

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
        DRY_RUN._replace(help="With --fix: show what it would remove; remove nothing."),
        YES,
        JSON,
    ),
    "config show": (JSON,),
    "exec": (
        AGENT,
        PROVIDER._replace(
            flags=("--provider",),
            help="claude, codex, or a provider from the config [default: the agent's profile, "
            "else CMD's name].",
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
