"""The shared option blocks of the table in ``cli/spec.py``: ``Opt`` itself and the options
(and groups of options) that several commands declare alike: agent, provider, labels, the
output options, the filters, and the deprecated short flags.

Kept apart from ``spec.py`` so the per-command table reads on its own; ``spec`` re-exports
every name here, so callers keep importing from ``sessmap.cli.spec``. Standard library only:
the fast path loads it.
"""

from __future__ import annotations

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


def declare(dest: str, *flags: str, help: str, **fields: Any) -> Opt:
    """An ``Opt``, with the flags spelled out as arguments (the table reads as a command line)."""
    return Opt(dest, flags, help, **fields)


_o = declare  # short: the declarations below use it on every line


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
    help="claude, codex, copilot, opencode, qwen, or a provider from the config.",
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
# Read from each mapping's transcript, so only when named (a plain list reads no transcript).
CONVERSATION_FIELDS = ("title", "messages", "size", "tokens")
MAPPING_FIELDS = (*_FIELD_NAMES.split(), *CONVERSATION_FIELDS)
FIELDS = _o(
    "fields",
    "--fields",
    help="Only these fields, in this order, comma-separated (table, tsv, csv, json, jsonl): "
    + ", ".join(MAPPING_FIELDS)
    + ". The last four are read from each transcript, so only when named.",
    metavar="F,F…",
    show_default=False,
)
PURGE = _o(
    "purge",
    "--purge",
    help="Also delete the agent's own files (transcripts) of the removed sessions that no other "
    "mapping holds, and the store's copy.",
    is_flag=True,
    default=False,
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
