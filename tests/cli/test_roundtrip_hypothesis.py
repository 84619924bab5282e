"""Hypothesis: any valid mapping survives export → import, into either store."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support import examples
from tests.support.cli import Sessmap

from sessmap.model import Mapping, Parent

text_no_controls = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\x85"),
    min_size=1,
    max_size=40,
)
agents = st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True)
session_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,40}", fullmatch=True)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))


@st.composite
def mappings(draw: st.DrawFn) -> Mapping:
    state = draw(st.sampled_from(["active", "pending", "pending-fork"]))
    created = draw(moments)
    return Mapping(
        key=draw(text_no_controls),
        agent=draw(agents),
        provider=draw(st.sampled_from(["claude", "codex", "gemini"])),
        session_id=draw(session_ids) if state == "active" else None,
        state=state,
        cwd=draw(st.none() | text_no_controls.map(lambda s: "/" + s.replace("\x00", ""))),
        created_at=created,
        updated_at=created + timedelta(seconds=draw(st.integers(0, 10**6))),
        last_used_at=draw(st.none() | moments),
        turns=draw(st.integers(0, 10**6)),
        last_exit=draw(st.none() | st.integers(-255, 255)),
        parent=Parent(draw(agents), draw(text_no_controls), draw(st.none() | session_ids))
        if state == "pending-fork"
        else None,
        labels=draw(
            st.dictionaries(
                text_no_controls.filter(lambda s: "=" not in s),
                st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=20),
                max_size=3,
            )
        ),
    ).validate()


@settings(
    max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(mappings(), max_size=6, unique_by=lambda m: (m.agent, m.key)))
@pytest.mark.slow
def test_export_import_round_trip(rows: list[Mapping]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        first = Sessmap(f"sqlite:{base / 'a.db'}", base / "a.db")
        second = Sessmap(f"json:{base / 'b.json'}", base / "b.json")
        third = Sessmap(f"sqlite:{base / 'c.db'}", base / "c.db")
        first.ok("import", "-", input="".join(json.dumps(m.to_dict()) + "\n" for m in rows))
        second.ok("import", "-", input=first.ok("export").stdout)
        third.ok("import", "-", input=second.ok("export").stdout)
        expected = sorted((m.to_dict() for m in rows), key=lambda d: (d["key"], d["agent"]))
        for store in (first, second, third):
            got = sorted(store.rows(), key=lambda d: (d["key"], d["agent"]))
            assert got == expected
