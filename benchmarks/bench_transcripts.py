"""The rows of "Conversations that survive": what keeping transcripts in a server store costs.

Called from ``bench.py``'s ``main()`` with its ``Bench``; the same rules hold (every figure a
ratio against a baseline measured in the same run, interleaved, the fastest of its runs, every
command its own process). The agent is the tests' fake ``claude`` (tests/fakeagent/agent.py, a
Python script): it resumes ``--resume ID`` from ``$CLAUDE_CONFIG_DIR/projects/<cwd>/ID.jsonl``
and writes it back with the prompt appended, so the transcript grows as claude's does.

* ``exec`` with the store's copy kept in step (``transcripts = "store"``) vs the same ``exec``
  with ``transcripts = "local"``, on a 10 MB transcript; both minus the agent alone.
* the first restore of that transcript into an empty agent home (``TranscriptSync.restore``)
  vs ``shutil.copyfile`` of the same file, timed inside one process.
* ``exec`` on PostgreSQL / Redis vs ``exec`` on SQLite, each store as configured by default.

The test data is built with the library, not through ``exec``: the transcript is written and
appended to the store in one call, the mapping inserted with this host and agent home, so the
first measured run already finds everything in step.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import bench as b

if TYPE_CHECKING:
    from sessmap.stores.base import Store

TRANSCRIPT_BYTES = 10_000_000
SMALL_TRANSCRIPT_BYTES = 50_000  # the store-vs-store row: a short thread, so the stores dominate
TURN_LINES = 5  # each measured turn appends this many lines of about a kB: ~5 KB
AGENT_SCRIPT = Path(__file__).resolve().parent.parent / "tests" / "fakeagent" / "agent.py"
STORE_CONFIG = 'transcripts = "store"\n'
LOCAL_CONFIG = 'transcripts = "local"\n'

# Run in its own process (the bench's interpreter): one store opened once, then, interleaved,
# TranscriptSync.restore into an emptied agent home and shutil.copyfile of the same file into
# the same emptied folder; the fastest of each, as JSON. Only the two calls are timed.
RESTORE_DRIVER = """\
import json, shutil, sys, time
from pathlib import Path
from sessmap.stores import open_store
from sessmap.transcripts.locate import ClaudeLocator
from sessmap.transcripts.sync import TranscriptSync

url, session_id, cwd, home, source, repeat, clock = sys.argv[1:]
home, source, repeat = Path(home), Path(source), int(repeat)
timer = time.process_time if clock == "cpu" else time.perf_counter
locator = ClaudeLocator()
copy_target = home / "projects" / locator.project_key(cwd) / source.name
problems = []
with open_store(url) as store:
    sync = TranscriptSync(locator, store.transcripts, home, problems.append)

    def restore():
        sync.restore(session_id, cwd)
        return locator.find(home, session_id, cwd).path

    def copy():
        copy_target.parent.mkdir(mode=0o700, parents=True)
        shutil.copyfile(source, copy_target)
        return copy_target

    best = {}
    for round_number in range(repeat):
        order = [("restore", restore), ("copy", copy)]
        for name, action in order if round_number % 2 == 0 else reversed(order):
            shutil.rmtree(home, ignore_errors=True)
            start = timer()
            path = action()
            seconds = timer() - start
            if path.read_bytes() != source.read_bytes():
                sys.exit(f"{name}: {path} differs from {source}")
            best[name] = min(seconds, best.get(name, seconds))
if problems:
    sys.exit("; ".join(problems))
print(json.dumps(best))
"""


# --- the data ---------------------------------------------------------------------------------


def claude_lines(total_bytes: int, session_id: str, cwd: str, seed: int = 7) -> list[bytes]:
    """Lines like claude's: user and assistant messages, tool calls and their (sometimes long)
    results, as JSON objects of a few hundred bytes to tens of kB, of word-like text (so it
    compresses as text does, where a store compresses)."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choices(letters, k=rng.randint(2, 10))) for _ in range(3000)]
    sizes = (300, 900, 1500, 2500, 600, 4000, 1200, 8000, 800, 3000, 450, 12000)
    lines: list[bytes] = []
    size, parent = 0, None
    while size < total_bytes:
        number = len(lines)
        text = " ".join(rng.choices(words, k=sizes[number % len(sizes)] // 6))
        kind = ("user", "assistant", "assistant", "user")[number % 4]
        if number % 4 == 2:
            content: object = [{"type": "tool_use", "id": f"toolu_{number:08d}", "name": "Bash",
                                "input": {"command": text[:200]}}]  # fmt: skip
        elif number % 4 == 3:
            content = [{"type": "tool_result", "tool_use_id": f"toolu_{number - 1:08d}", "content": text}]
        else:
            content = [{"type": "text", "text": text}]
        entry_id = str(uuid.UUID(int=rng.getrandbits(128)))
        entry = {
            "parentUuid": parent,
            "isSidechain": False,
            "userType": "external",
            "cwd": cwd,
            "sessionId": session_id,
            "version": "2.1.0",
            "type": kind,
            "message": {"role": kind, "content": content},
            "uuid": entry_id,
            "timestamp": f"2026-05-01T10:{number // 60 % 60:02d}:{number % 60:02d}.000Z",
        }
        line = json.dumps(entry, separators=(",", ":")).encode()
        lines.append(line)
        size += len(line) + 1
        parent = entry_id
    return lines


def turn_prompt() -> str:
    """The prompt each measured run passes: ``TURN_LINES`` JSON lines (the fake agent writes
    its prompt as it is, so one turn appends ~5 KB in several lines, as a claude turn does)."""
    filler = "x" * 950
    return "\n".join(json.dumps({"type": "user", "turn": n, "text": filler}) for n in range(TURN_LINES))


def install_fake_claude(bin_dir: Path) -> Path:
    """As tests/fakeagent/harness.py's install_fake_agent: an executable named ``claude``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / "claude"
    path.write_text(
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(AGENT_SCRIPT.parent)!r})\n"
        "import agent\nagent.main()\n"
    )
    path.chmod(0o755)
    return path


@dataclass
class Thread:
    """One mapped claude session: its key, id and transcript file."""

    key: str
    session_id: str
    transcript: Path


class Transcripts:
    def __init__(self, bench: b.Bench) -> None:
        from sessmap.sdk_keys import project_key_for

        self.bench = bench
        self.folder = bench.folder / "transcripts"
        self.folder.mkdir()
        self.cwd = str(bench.workdir.resolve())
        self.project_key = project_key_for(self.cwd)
        self.claude = install_fake_claude(self.folder / "bin")
        self.home = self.folder / "claude-home"  # the agent home every in-step run uses
        self.env = {**bench.env, "CLAUDE_CONFIG_DIR": str(self.home)}
        self.prompt = turn_prompt()
        self.store_config = self.folder / "store.toml"
        self.store_config.write_text(STORE_CONFIG)
        self.local_config = self.folder / "local.toml"
        self.local_config.write_text(LOCAL_CONFIG)
        self.big_lines: list[bytes] = []
        self.big = b""
        self.small_lines: list[bytes] = []
        self.small = b""
        self.servers: dict[str, str | None] = {
            "PostgreSQL": bench.options.postgres or None,
            "Redis": bench.options.redis or None,
        }
        self.open: dict[str, str] = {}  # kind -> private store URL, for the servers that answered
        self.skipped: dict[str, str] = {}  # kind -> why its rows are skipped

    # -- building --

    def build(self) -> None:
        print("building 10 MB transcripts…", file=sys.stderr, flush=True)
        self.big_lines = claude_lines(TRANSCRIPT_BYTES, str(uuid.uuid4()), self.cwd)
        self.big = b"".join(line + b"\n" for line in self.big_lines)
        self.small_lines = claude_lines(SMALL_TRANSCRIPT_BYTES, str(uuid.uuid4()), self.cwd, seed=8)
        self.small = b"".join(line + b"\n" for line in self.small_lines)

    def thread(self, name: str, content: bytes) -> Thread:
        """A session of its own, its transcript written where the fake claude (and sessmap)
        look for it in the agent home."""
        session_id = str(uuid.uuid4())
        path = self.home / "projects" / self.project_key / f"{session_id}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return Thread(f"bench:transcripts:{name}", session_id, path)

    def map(self, store: Store, thread: Thread, lines: list[bytes] | None) -> None:
        """Map ``thread`` as a run on this host with this agent home would have left it; with
        ``lines``, the store's copy of its transcript, in step with the file."""
        from sessmap.model import Mapping, now
        from sessmap.stores.base import TranscriptKey
        from sessmap.transcripts.presence import this_host

        stamp = now()
        mapping = Mapping(
            key=thread.key,
            provider="claude",
            created_at=stamp,
            updated_at=stamp,
            session_id=thread.session_id,
            state="active",
            cwd=self.cwd,
            last_used_at=stamp,
            turns=1,
            last_exit=0,
            host=this_host(),
            agent_home=str(self.home),
        ).validate()
        store.insert(mapping, replace=True)
        if lines is not None:
            store.transcripts.append(TranscriptKey(self.project_key, thread.session_id), iter(lines))

    def connect(self) -> None:
        """Open a private corner of each server (the bench's schema / prefix); note the ones
        that do not answer."""
        self.open, self.skipped = b.open_server_stores(self.servers)

    def close(self) -> None:
        b.drop_server_stores(self.servers, self.open)

    # -- running --

    def exec_(self, url: str, thread: Thread, config: Path | None = None) -> Callable[[], b.Run]:
        options = ["--config", str(config)] if config else []
        argv = [b.SESSMAP, "--store", url, *options, "exec", thread.key, "--", str(self.claude), "-p"]
        return lambda: b.run([*argv, self.prompt], env=self.env)

    def agent(self, thread: Thread) -> Callable[[], b.Run]:
        """The fake claude alone, resuming ``thread`` as exec would start it."""
        argv = [str(self.claude), "--resume", thread.session_id, "-p", self.prompt]
        return lambda: b.run(argv, env=self.env, cwd=Path(self.cwd))

    # -- the rows --

    def sync_overhead(self, kind: str) -> None:
        name = f'{kind} `exec` minus the agent, 10 MB transcript kept in step vs `transcripts = "local"`'
        if kind not in self.open:
            self.bench.add(b.Row(name, "—", "—", None, None, self.skipped[kind]))
            return
        from sessmap.stores import open_store

        url = self.open[kind]
        synced = self.thread(f"synced-{kind}", self.big)
        local = self.thread(f"local-{kind}", self.big)
        alone = self.thread(f"alone-{kind}", self.big)
        with open_store(url) as store:
            self.map(store, synced, self.big_lines)
            self.map(store, local, None)  # transcripts = "local": the store never had a copy
        best = b.interleaved(
            {
                "agent": self.agent(alone),
                "local": self.exec_(url, local, self.local_config),
                "store": self.exec_(url, synced, self.store_config),
            },
            self.bench.repeat,
        )
        self.check_in_step(url, synced)
        agent = best["agent"].seconds
        measured, baseline = best["store"].seconds - agent, best["local"].seconds - agent
        self.bench.add(
            b.Row(
                name,
                b.ms(measured),
                b.ms(baseline),
                measured / baseline,
                1.3,
                f"whole exec {b.ms(best['store'].seconds)} vs {b.ms(best['local'].seconds)} "
                f"({best['store'].seconds / best['local'].seconds:.2f}×); the fake claude alone "
                f"{b.ms(agent)}",
            )
        )

    def check_in_step(self, url: str, thread: Thread) -> None:
        """The synced thread's store copy is the file, byte for byte: every run uploaded."""
        from sessmap.stores import open_store
        from sessmap.stores.base import TranscriptKey

        with open_store(url) as store:
            info = store.transcripts.info(TranscriptKey(self.project_key, thread.session_id))
        size = thread.transcript.stat().st_size
        if info is None or info.size != size:
            raise SystemExit(
                f"bench: the store's copy of {thread.key} is not in step ({info} vs {size} bytes)"
            )

    def first_restore(self, kind: str) -> None:
        name = f"{kind} first restore of a 10 MB transcript into an empty agent home vs `shutil.copyfile`"
        if kind not in self.open:
            self.bench.add(b.Row(name, "—", "—", None, None, self.skipped[kind]))
            return
        from sessmap.stores import open_store

        url = self.open[kind]
        thread = self.thread(f"restore-{kind}", self.big)
        with open_store(url) as store:
            self.map(store, thread, self.big_lines)
        fresh = self.folder / f"fresh-home-{kind}"
        argv = [sys.executable, "-c", RESTORE_DRIVER, url, thread.session_id, self.cwd]
        argv += [str(fresh), str(thread.transcript), str(self.bench.repeat), b.CLOCK]
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"bench: the restore driver failed: {done.stderr.strip()}")
        best = json.loads(done.stdout)
        self.bench.add(
            b.Row(name, b.ms(best["restore"]), b.ms(best["copy"]), best["restore"] / best["copy"], 3.0)
        )

    def store_vs_sqlite(self) -> None:
        kinds = list(self.servers)
        names = {kind: f"{kind} `exec` vs SQLite `exec` (fake claude, 50 kB transcript)" for kind in kinds}
        for kind in kinds:
            if kind not in self.open:
                self.bench.add(b.Row(names[kind], "—", "—", None, None, self.skipped[kind]))
        if not self.open:
            return
        from sessmap.stores import open_store

        # Each store as configured by default (the bench's config says nothing of transcripts):
        # the server stores keep the copy in step, SQLite keeps none.
        urls = {"SQLite": f"sqlite:{self.folder / 'sessions.db'}", **self.open}
        threads = {store_kind: self.thread(f"small-{store_kind}", self.small) for store_kind in urls}
        for store_kind, url in urls.items():
            with open_store(url) as store:
                self.map(store, threads[store_kind], self.small_lines if store.shared else None)
        alone = self.thread("small-alone", self.small)
        commands = {"agent": self.agent(alone)}
        commands.update(
            {store_kind: self.exec_(url, threads[store_kind]) for store_kind, url in urls.items()}
        )
        best = b.interleaved(commands, self.bench.repeat)
        sqlite, agent = best["SQLite"].seconds, best["agent"].seconds
        for kind in self.open:
            server = best[kind].seconds
            self.check_in_step(urls[kind], threads[kind])
            self.bench.add(
                b.Row(
                    names[kind],
                    b.ms(server),
                    b.ms(sqlite),
                    server / sqlite,
                    2.0,
                    f"goal 1.5×; minus the fake claude alone ({b.ms(agent)}): "
                    f"{b.ms(server - agent)} vs {b.ms(sqlite - agent)} "
                    f"({(server - agent) / (sqlite - agent):.2f}×)",
                )
            )


def add_rows(bench: b.Bench) -> None:
    """The transcript rows, on the servers that answer (the others' rows say why not)."""
    rows = Transcripts(bench)
    try:
        rows.connect()
        if rows.open:
            rows.build()
        for kind in rows.servers:
            rows.sync_overhead(kind)
        for kind in rows.servers:
            rows.first_restore(kind)
        rows.store_vs_sqlite()
    finally:
        rows.close()
