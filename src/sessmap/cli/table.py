"""The ``list`` table: plain aligned text, written row by row as the store streams them.

No Rich and no whole-table object: the column widths come from the first page of rows and
the terminal's width, then every row is written as it arrives, so 100k mappings start to show
at once and memory stays flat. The key is never cut nor dropped (a key wider than its column
gets a line of its own, which the terminal may wrap); free-text columns are cut with an
ellipsis; at narrow widths the least useful columns go first, never KEY nor LAST SEEN.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import IO, Literal, NamedTuple

from sessmap.durations import format_duration
from sessmap.model import Mapping, now

SHORT_ID_LENGTH = 8
GAP = "  "
FIRST_PAGE = 30  # rows read before the widths are chosen
ELLIPSIS = "…"

Cut = Literal["never", "end", "middle"]


class Column(NamedTuple):
    header: str
    cell: Callable[[Mapping, datetime], str]
    cut: Cut = "end"  # how a value too wide for the column is shortened
    right: bool = False  # numbers and ages line up on the right


def age(delta: timedelta) -> str:
    """``3h ago``: the largest whole unit, as people skim a table."""
    largest = format_duration(max(delta, timedelta(0)))
    unit_end = next(i for i, char in enumerate(largest) if not char.isdigit()) + 1
    return "just now" if largest == "0s" else f"{largest[:unit_end]} ago"


def _ago(moment: datetime | None, at: datetime) -> str:
    return "-" if moment is None else age(at - moment)


def _text(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


# What each field of a mapping looks like in the table (``--fields`` picks among them).
COLUMNS: dict[str, Column] = {
    "key": Column("KEY", lambda m, at: m.key, cut="never"),
    "agent": Column("AGENT", lambda m, at: m.agent),
    "provider": Column("PROVIDER", lambda m, at: m.provider),
    "session_id": Column("SESSION", lambda m, at: _text(m.session_id), cut="middle"),
    "state": Column("STATE", lambda m, at: m.state),
    "cwd": Column("CWD", lambda m, at: _text(m.cwd), cut="middle"),
    "created_at": Column("CREATED", lambda m, at: _ago(m.created_at, at), right=True),
    "updated_at": Column("UPDATED", lambda m, at: _ago(m.updated_at, at), right=True),
    "last_used_at": Column("LAST USED", lambda m, at: _ago(m.last_used_at, at), right=True),
    "last_seen": Column("LAST SEEN", lambda m, at: _ago(m.last_seen, at), right=True),
    "turns": Column("TURNS", lambda m, at: str(m.turns), right=True),
    "last_exit": Column("EXIT", lambda m, at: _text(m.last_exit), right=True),
    "parent": Column("PARENT", lambda m, at: m.parent.key if m.parent else "-"),
    "labels": Column("LABELS", lambda m, at: ",".join(f"{k}={v}" for k, v in m.labels.items()) or "-"),
    "host": Column("HOST", lambda m, at: _text(m.host)),
    "agent_home": Column("AGENT HOME", lambda m, at: _text(m.agent_home), cut="middle"),
    "history": Column("HISTORY", lambda m, at: str(len(m.history)), right=True),
}

# The default table: the session id short, like a git hash (`get`, tsv and json give it whole).
DEFAULT = (
    "key",
    "agent",
    "provider",
    "session_id",
    "state",
    "turns",
    "last_seen",
)
_SHORT_SESSION = COLUMNS["session_id"]._replace(cell=lambda m, at: (m.session_id or "-")[:SHORT_ID_LENGTH])
# Dropped in this order when the default table is too wide; KEY and LAST SEEN always stay.
DROP_ORDER = ("turns", "provider", "agent", "session_id", "state")
MIN_CUT_WIDTH = 6


def width_of(text: str) -> int:
    """Terminal cells ``text`` takes: wide (East Asian) characters two, combining marks none."""
    if text.isascii():
        return len(text)
    return sum(_char_width(char) for char in text)


def _char_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def cut(text: str, width: int, how: Cut) -> str:
    """``text`` shortened to ``width`` cells with an ellipsis at its end or in its middle."""
    if how == "never" or width_of(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    if how == "middle":
        tail = _take(text[::-1], (width - 1) // 2)[::-1]
        head = _take(text, width - 1 - width_of(tail))
        return head + ELLIPSIS + tail
    return _take(text, width - 1) + ELLIPSIS


def _take(text: str, width: int) -> str:
    """The longest start of ``text`` that fits ``width`` cells."""
    used = 0
    for index, char in enumerate(text):
        used += _char_width(char)
        if used > width:
            return text[:index]
    return text


class Layout(NamedTuple):
    names: tuple[str, ...]
    columns: tuple[Column, ...]
    widths: tuple[int, ...]


def plan(
    names: Sequence[str],
    first: Sequence[Mapping],
    width: int,
    at: datetime,
    *,
    fixed: bool,
    extra: dict[str, Column] | None = None,
) -> Layout:
    """Column widths for ``first`` (the first page) at ``width`` cells. ``fixed``: the user chose
    the columns (``--fields``), so none is dropped, only cut. ``extra``: computed columns."""
    known = {**COLUMNS, **extra} if extra else COLUMNS
    columns = {name: _SHORT_SESSION if name == "session_id" and not fixed else known[name] for name in names}
    natural = {
        name: max([width_of(column.header), *(width_of(column.cell(m, at)) for m in first)])
        for name, column in columns.items()
    }
    shown = list(names)

    def total() -> int:
        return sum(natural[name] for name in shown) + len(GAP) * (len(shown) - 1)

    if "key" in natural and total() > width:
        # One odd long key should not push every other column out: size KEY for nine keys in
        # ten; a longer one gets a line of its own.
        keys = sorted(width_of(m.key) for m in first)
        natural["key"] = max(width_of("KEY"), keys[max(0, len(keys) * 9 // 10 - 1)])
    if not fixed:
        order = list(DROP_ORDER)
        if len({m.agent for m in first}) <= 1:  # one agent: its column says nothing
            order.remove("agent")
            order.insert(0, "agent")
        for name in order:
            if total() <= width:
                break
            if name in shown:
                shown.remove(name)
    # Free text gives way next, the widest first, down to a readable minimum.
    while total() > width:
        candidates = [n for n in shown if columns[n].cut != "never" and not columns[n].right]
        widest = max(candidates, key=lambda n: natural[n], default=None)
        if widest is None or natural[widest] <= MIN_CUT_WIDTH:
            break
        natural[widest] -= 1
    if "key" in shown and total() > width:
        natural["key"] = max(width_of("KEY"), natural["key"] - (total() - width))
    return Layout(tuple(shown), tuple(columns[n] for n in shown), tuple(natural[n] for n in shown))


def _line(cells: Sequence[str], layout: Layout, *, header: bool = False) -> str:
    parts = []
    last = len(cells) - 1
    for index, (text, column, width) in enumerate(zip(cells, layout.columns, layout.widths, strict=True)):
        text = cut(text, width, "end" if header and column.cut != "never" else column.cut)
        pad = " " * max(0, width - width_of(text))
        if column.right:
            parts.append(pad + text)
        else:
            parts.append(text if index == last else text + pad)
    return GAP.join(parts)


def _row_lines(mapping: Mapping, layout: Layout, at: datetime) -> str:
    cells = [column.cell(mapping, at) for column in layout.columns]
    if layout.names[0] == "key" and len(cells) > 1 and width_of(mapping.key) > layout.widths[0]:
        # The key whole on a line of its own; the rest of the row below it, in its columns.
        return f"{mapping.key}\n{_line(['', *cells[1:]], layout)}\n"
    return _line(cells, layout) + "\n"


def write_table(
    mappings: Iterable[Mapping],
    out: IO[str],
    *,
    width: int,
    fields: Sequence[str] | None = None,
    bold: bool = False,
    extra: dict[str, Column] | None = None,
) -> int:
    """Write the header and the rows as they come; returns how many rows. Nothing at all for
    no rows (the caller says so on stderr)."""
    rows: Iterator[Mapping] = iter(mappings)
    first = list(itertools.islice(rows, FIRST_PAGE))
    if not first:
        return 0
    at = now()
    layout = plan(fields or DEFAULT, first, width, at, fixed=fields is not None, extra=extra)
    header = _line([column.header for column in layout.columns], layout, header=True)
    out.write(f"\033[1m{header}\033[0m\n" if bold else header + "\n")
    count = 0
    for mapping in itertools.chain(first, rows):
        count += 1
        out.write(_row_lines(mapping, layout, at))
    return count
