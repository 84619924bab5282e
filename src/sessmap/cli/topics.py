"""The help topics: ``sessmap help TOPIC`` prints one, and the man page (cli/manpage.py) has
them as its sections, so the terminal and ``man sessmap`` say the same.

Each topic is a list of ``(term, text)`` rows under a lead paragraph. Typer-free; the exit
codes come from SPEC §6, the environment from SPEC §4 and the option table's ``envvar``s.
"""

from __future__ import annotations

from typing import NamedTuple


class Topic(NamedTuple):
    title: str
    lead: str
    rows: tuple[tuple[str, str], ...]
    tail: str = ""


EXIT_CODES = Topic(
    "Exit codes",
    "Outside exec, codes 1-4 keep these meanings. Inside exec every failure of sessmap's own "
    'is 125, so a bot can tell "sessmap broke" from "the agent exited 1"; 75 stays "busy".',
    (
        ("0", "success"),
        (
            "1",
            "operational error: store unreachable or corrupt, I/O error, stale session with "
            "--on-stale fail; doctor found problems; config get/unset of a setting that is not set; "
            "transcript found no transcript on this host or in the store",
        ),
        ("2", "usage error or invalid input; which: a session id prefix more than one session matches"),
        (
            "3",
            "no such mapping (or get or transcript on a mapping with no session id yet; which: no "
            "mapping holds that session id)",
        ),
        ("4", "conflict: the mapping exists, provider or directory mismatch"),
        ("75", "thread busy (--no-wait, or the wait timed out)"),
        (
            "125",
            "exec only: sessmap itself failed (store, config, usage, conflict, stale with "
            "--on-stale fail); the reason is on stderr, and in --status",
        ),
        ("126", "exec: CMD is not executable"),
        ("127", "exec: CMD is not found"),
        ("130", "interrupted (Ctrl-C)"),
        ("other", "exec: the agent's own exit status (128+N when signal N killed it)"),
    ),
    "Errors are one line on stderr (sessmap: error: ...), with a traceback only under -v.",
)

ENVIRONMENT = Topic(
    "Environment",
    "Read by sessmap when the matching option is not given (an empty value counts as unset):",
    (
        ("SESSMAP_STORE", "the store URL, as --store"),
        ("SESSMAP_CONFIG", "the config file, as --config"),
        ("SESSMAP_AGENT", "the agent name, as -a/--agent (default: default)"),
        ("SESSMAP_HOME", "one folder for all state: the config, the default store, the summary cache"),
        ("NO_COLOR", "no colours, as --no-color"),
        ("CLAUDE_CONFIG_DIR", "claude's data folder (default ~/.claude), where its transcripts are"),
        ("CODEX_HOME", "codex's data folder (default ~/.codex), where its rollouts are"),
        ("QWEN_HOME, QWEN_RUNTIME_DIR", "qwen's data folder (default ~/.qwen), where its chats are"),
        ("COPILOT_HOME", "copilot's data folder (default ~/.copilot), where its session-state is"),
        (
            "SESSMAP_KEY, SESSMAP_SESSION_ID",
            "set by exec for the agent, with SESSMAP_AGENT: the thread key and the session id of the run",
        ),
    ),
)

FORMATS = Topic(
    "Formats",
    "list, export and prune print mappings in one of these (--format/-f; --json is --format json):",
    (
        (
            "table",
            "aligned columns with a header, fitted to the terminal (the key is never cut); list's "
            "default on a terminal, where it shows 30 rows and says how many more (-n 0: all)",
        ),
        (
            "tsv",
            "tab-separated, no header; list's default when piped. Columns: key agent provider "
            "session_id state turns last_used_at created_at",
        ),
        ("csv", "comma-separated (RFC 4180) with a header row; the tsv columns unless --fields"),
        ("json", "one JSON array of mapping objects"),
        ("jsonl", "one JSON object a line; export's default, what import reads"),
        ("keys", "the thread keys alone, one a line"),
    ),
    "JSON fields: key, agent, provider, session_id, state, cwd, created_at, updated_at, "
    "last_used_at, turns, last_exit, parent, labels, host, agent_home, history. "
    "--fields F,F... picks fields (and last_seen: last use, else creation) in that order, "
    "in every format but keys.",
)

STORE_URLS = Topic(
    "Store URLs",
    "--store (or SESSMAP_STORE, or store in the config) selects the store; the default is the "
    "SQLite file sessions.db in the user data folder (or in SESSMAP_HOME).",
    (
        (
            "sqlite:PATH",
            "SQLite (default, embedded); also a path ending .db, .sqlite or .sqlite3. "
            "One machine, any number of processes",
        ),
        ("json:PATH", "a JSON file; also a path ending .json. Tiny setups, files people read and diff"),
        (
            "postgresql://...",
            "PostgreSQL (also postgres://; pip install 'sessmap[postgres]'). Several hosts sharing one map",
        ),
        (
            "redis://...",
            "Redis (also rediss://; pip install 'sessmap[redis]'). Several hosts, a Redis already in place",
        ),
    ),
    "Example: sessmap --store sqlite:/var/lib/bot/sessions.db list",
)

TOPICS: dict[str, Topic] = {
    "exit-codes": EXIT_CODES,
    "environment": ENVIRONMENT,
    "formats": FORMATS,
    "store-urls": STORE_URLS,
}


def render(topic: Topic, width: int = 80) -> str:
    """The topic as terminal text: the lead, then the terms and their wrapped texts."""
    import textwrap

    lines = [topic.title.upper(), "", *textwrap.wrap(topic.lead, width), ""]
    indent = min(max(len(term) for term, _ in topic.rows) + 4, 24)
    for term, text in topic.rows:
        wrapped = textwrap.wrap(text, width - indent) or [""]
        head = f"  {term}"
        if len(head) + 2 > indent:  # a long term gets a line of its own
            lines += [head, *(" " * indent + line for line in wrapped)]
        else:
            lines += [head.ljust(indent) + wrapped[0], *(" " * indent + line for line in wrapped[1:])]
    if topic.tail:
        lines += ["", *textwrap.wrap(topic.tail, width)]
    return "\n".join(lines) + "\n"


def listing() -> str:
    """What ``sessmap help`` alone prints."""
    width = max(len(name) for name in TOPICS) + 4
    rows = [f"  {name.ljust(width)}{topic.title}" for name, topic in TOPICS.items()]
    return (
        "\n".join(
            [
                "Usage: sessmap help TOPIC | COMMAND",
                "",
                "Topics:",
                *rows,
                "",
                "sessmap help COMMAND shows that command's --help; man sessmap has it all.",
            ]
        )
        + "\n"
    )
