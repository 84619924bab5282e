#!/usr/bin/env python3
"""The rows of what a thread holds (``show``'s conversation facts, ``list --fields``):

* ``show`` of a thread with a 10 MB transcript vs ``wc -l`` on the same file (claude and codex
  shaped, tests/support/conversations.py): what the transcript adds to ``show``, that is
  ``show`` of that thread minus ``show`` of a thread whose transcript has one turn (the same
  store and lookup on both sides), run in this process after the imports (Python's start-up
  alone is ~10× ``wc -l``, and a whole process's CPU time varies by more than the transcript
  costs); the whole processes' times are in the note. Twice, each ≤ 3×: the first ``show``
  (the summary cache deleted before every run: the whole file is read) and ``show`` again
  (the cache warm, as after any ``show``).
* ``list --fields key,title`` over 1k threads (each with a ~20 kB claude transcript) vs plain
  ``list``, both ``-f tsv``: info.
* plain ``list -f tsv`` of this tree vs the last commit's (``git archive HEAD``, run from a
  temporary folder with ``python -m sessmap``, on both sides), on the same store: ≤ 1.05×.

    python benchmarks/bench_conversation.py              # these rows alone (~1 minute)
    python benchmarks/bench_conversation.py --repeat 21 --clock cpu

``bench.py`` adds them to its table.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import bench as b

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.conversations import claude_lines, claude_user, codex_lines  # noqa: E402

THREADS = 1000


class Conversations:
    def __init__(self, bench: b.Bench) -> None:
        self.bench = bench
        self.folder = bench.folder / "conversations"
        self.claude_home = self.folder / "claude"
        self.codex_home = self.folder / "codex"
        self.store = self.folder / "conversations.db"
        self.url = f"sqlite:{self.store}"
        self.env = {
            **bench.env,
            "CLAUDE_CONFIG_DIR": str(self.claude_home),
            "CODEX_HOME": str(self.codex_home),
        }
        self.files: dict[str, Path] = {}

    def sessmap(self, *args: str) -> b.Run:
        return b.run([b.SESSMAP, "--store", self.url, *args], env=self.env)

    def claude_file(self, session_id: str) -> Path:
        from sessmap.sdk_keys import project_key_for

        path = (
            self.claude_home / "projects" / project_key_for(str(self.bench.workdir)) / f"{session_id}.jsonl"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def build(self) -> None:
        print("building 10 MB transcripts and 1k threads…", file=sys.stderr, flush=True)
        self.folder.mkdir()
        rows = []
        big_claude = str(uuid.UUID(int=1))
        self.claude_file(big_claude).write_bytes(
            b"\n".join(claude_lines(10 << 20, title="Big thread")) + b"\n"
        )
        self.files["claude"] = self.claude_file(big_claude)
        rows.append(self.row("big-claude", big_claude, "claude"))
        small = str(uuid.UUID(int=2))
        self.claude_file(small).write_bytes(claude_user("one prompt", 1) + b"\n")
        rows.append(self.row("small-claude", small, "claude"))
        codex_id = "01a23441-e420-7973-b896-7df34ec70037"
        self.rollout(codex_id).write_bytes(b"\n".join(codex_lines(10 << 20)) + b"\n")
        self.files["codex"] = self.rollout(codex_id)
        rows.append(self.row("big-codex", codex_id, "codex"))
        small = "01a23441-e420-7973-b896-7df34ec70038"
        self.rollout(small).write_bytes(b"\n".join(codex_lines(1)) + b"\n")
        rows.append(self.row("small-codex", small, "codex"))
        template = b"\n".join(claude_lines(20_000)) + b"\n"
        for number in range(THREADS):
            session_id = str(uuid.UUID(int=1000 + number))
            self.claude_file(session_id).write_bytes(template)
            rows.append(self.row(f"thread-{number:04d}", session_id, "claude"))
        lines = self.folder / "rows.jsonl"
        lines.write_text("".join(json.dumps(row) + "\n" for row in rows))
        self.sessmap("import", str(lines))
        self.threads = rows
        # The ~40 MB just written would be flushed during the first rows (Linux writes dirty
        # pages back after 30 s), slowing whichever runs then: flush them now.
        os.sync()

    def rollout(self, session_id: str) -> Path:
        folder = self.codex_home / "sessions" / "2026" / "05" / "01"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"rollout-2026-05-01T10-00-00-{session_id}.jsonl"

    def row(self, key: str, session_id: str, provider: str) -> dict[str, object]:
        stamp = b.stamp(self.bench.now)
        return {
            "key": key,
            "agent": "default",
            "provider": provider,
            "session_id": session_id,
            "state": "active",
            "cwd": str(self.bench.workdir),
            "created_at": stamp,
            "updated_at": stamp,
            "labels": {},
        }

    def show_vs_wc(self, provider: str) -> None:
        """Two rows: the first ``show`` of the file (no summary cache: it is deleted before
        each run, on both sides) and ``show`` again (the cache holds it, as after any ``show``)."""
        wc = shutil.which("wc")
        if wc is None:
            self.bench.add(b.Row(f"`show`, 10 MB {provider} transcript", "-", "-", None, None, "no wc"))
            return
        path = self.files[provider]
        commands = {
            "wc": lambda: b.run([wc, "-l", str(path)], env=self.env),
            "show": lambda: self.sessmap("show", f"big-{provider}"),
            "small": lambda: self.sessmap("show", f"small-{provider}"),
        }
        cache = Path(self.env["SESSMAP_HOME"]) / "cache"
        cold = b.interleaved(commands, self.bench.repeat, lambda _: shutil.rmtree(cache, ignore_errors=True))
        first = self.shows_in_process(provider, cache)
        self.show_row(provider, cold, "first `show` (summary cache cold)", first)
        self.sessmap("show", f"big-{provider}")
        warm = b.interleaved(commands, self.bench.repeat)
        self.show_row(provider, warm, "`show` again (summary cache warm)", self.shows_in_process(provider))

    def shows_in_process(self, provider: str, cache: Path | None = None) -> dict[str, float]:
        """``show`` of the big and of the one-turn thread, run through the CLI app in this
        process (imports done, so the same start-up is not timed twice): the fastest run of each
        (on the bench's clock), interleaved. A whole process's time varies by ~10 ms here, this
        by well under one. ``cache``: deleted before each run."""
        import contextlib
        import io

        from sessmap.cli.app import app

        clock = time.process_time if b.CLOCK == "cpu" else time.perf_counter
        keys = {"show": f"big-{provider}", "small": f"small-{provider}"}
        fastest = dict.fromkeys(keys, float("inf"))
        saved = dict(os.environ)
        os.environ.update(self.env)
        try:
            for round_number in range(max(21, 3 * self.bench.repeat)):  # ~30 ms a run: cheap
                order = list(keys.items())
                for name, key in order if round_number % 2 else reversed(order):
                    if cache is not None:
                        shutil.rmtree(cache, ignore_errors=True)
                    started = clock()
                    with contextlib.redirect_stdout(io.StringIO()):
                        try:
                            app(["--store", self.url, "show", key], prog_name="sessmap")
                        except SystemExit as exit:
                            if exit.code not in (0, None):
                                raise SystemExit(f"bench: show {key} exited {exit.code}") from None
                    fastest[name] = min(fastest[name], clock() - started)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return fastest

    def show_row(self, provider: str, best: dict[str, b.Run], which: str, inside: dict[str, float]) -> None:
        wc_s, show_s, small_s = best["wc"].seconds, best["show"].seconds, best["small"].seconds
        added = max(inside["show"] - inside["small"], 0.0)
        note = (
            f"in-process `show` {b.ms(inside['show'])}, one-turn thread {b.ms(inside['small'])}; "
            f"whole processes: `show` {b.ms(show_s)} = {show_s / wc_s:.1f}× `wc -l`, "
            f"one-turn thread {b.ms(small_s)}"
        )
        self.bench.add(
            b.Row(
                f"{which} of a 10 MB {provider} transcript, minus a one-turn one, vs `wc -l`",
                b.ms(added),
                b.ms(wc_s),
                added / wc_s,
                3.0,
                note,
            )
        )

    def list_fields(self) -> None:
        commands = {
            "list": lambda: self.sessmap("list", "-f", "tsv"),
            "fields": lambda: self.sessmap("list", "-f", "tsv", "--fields", "key,title"),
        }
        best = b.interleaved(commands, max(3, self.bench.repeat // 3))
        plain, fields = best["list"].seconds, best["fields"].seconds
        self.bench.add(
            b.Row(
                f"`list --fields key,title` over {THREADS + 4} threads (20 kB transcripts) vs plain `list`",
                b.ms(fields),
                b.ms(plain),
                fields / plain,
                None,
                f"{b.ms((fields - plain) / (THREADS + 4))} a transcript",
            )
        )

    def plain_list_unchanged(self) -> None:
        """The same rows in two stores, each made by its own code (the last commit may not read
        a newer schema), listed by each code, interleaved."""
        head = self.folder / "head"
        head.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "HEAD", "src/sessmap"], capture_output=True, check=False
        )
        if archive.returncode != 0:
            self.bench.add(b.Row("plain `list` vs the last commit's", "-", "-", None, None, "no git HEAD"))
            return
        subprocess.run(["tar", "-x", "-C", str(head)], input=archive.stdout, check=True)
        b.run([sys.executable, "-m", "compileall", "-q", str(head / "src")], env=self.env)
        rows = self.folder / "rows.jsonl"
        argv: dict[str, list[str]] = {}
        envs = {"now": str(ROOT / "src"), "head": str(head / "src")}
        for side, source in envs.items():
            url = f"sqlite:{self.folder / f'list-{side}.db'}"
            env = {**self.env, "PYTHONPATH": source}
            b.run([sys.executable, "-m", "sessmap", "--store", url, "import", str(rows)], env=env)
            argv[side] = [sys.executable, "-m", "sessmap", "--store", url, "list", "-f", "tsv"]

        def lister(side: str) -> Callable[[], b.Run]:
            env = {**self.env, "PYTHONPATH": envs[side]}
            return lambda: b.run(argv[side], env=env)

        best = b.interleaved({side: lister(side) for side in envs}, self.bench.repeat)
        now, before = best["now"].seconds, best["head"].seconds
        self.bench.add(
            b.Row(
                f"plain `list -f tsv` ({THREADS + 4} threads) vs the last commit's (`git archive HEAD`)",
                b.ms(now),
                b.ms(before),
                now / before,
                1.05,
                "each side lists a store it made itself from the same rows",
            )
        )


def add_rows(bench: b.Bench) -> None:
    rows = Conversations(bench)
    rows.build()
    rows.show_vs_wc("claude")
    rows.show_vs_wc("codex")
    rows.list_fields()
    rows.plain_list_unchanged()


def main() -> int:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    options = parser.parse_args()
    b.CLOCK = options.clock
    options.sizes, options.quick, options.postgres, options.redis, options.keep = "", False, "", "", False
    print(b.machine(), flush=True)
    print(f"clock: {options.clock}; each figure the fastest of its runs", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="sessmap-bench-"))
    try:
        bench = b.Bench(options, folder)
        add_rows(bench)
        print()
        b.print_table(bench.rows)
        return 1 if any(row.verdict == "FAIL" for row in bench.rows) else 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
