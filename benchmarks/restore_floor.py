#!/usr/bin/env python3
"""The floor under "first restore of a 10 MB transcript ≤ 3× cp": what the servers and their
drivers alone take to hand 10 MB to Python, with no sessmap code at all, against
``shutil.copyfile`` of the same bytes. If a raw read already costs more than 3× the copy, no
restore through that server can meet the target on this machine.

    python benchmarks/restore_floor.py [--postgres URL] [--redis URL] [--repeat 15]

Each figure is the fastest of ``--repeat`` runs, interleaved with the copy. The data: 10 MB of
claude-like JSONL (the transcript rows' generator) in 1 MiB chunks, as the PostgreSQL store
keeps it (a bytea column with STORAGE EXTERNAL) and as the Redis store keeps it (a list, one
line per entry), written to a table / key of this run's own and removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import bench
import bench_transcripts

CHUNK = 1 << 20


def chunks_of(lines: list[bytes]) -> list[bytes]:
    chunks, current, size = [], [], 0
    for line in lines:
        current.append(line)
        size += len(line) + 1
        if size >= CHUNK:
            chunks.append(b"\n".join(current))
            current, size = [], 0
    if current:
        chunks.append(b"\n".join(current))
    return chunks


def fastest(actions: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    best: dict[str, float] = {}
    for number in range(repeat):
        names = list(actions) if number % 2 == 0 else list(reversed(actions))
        for name in names:
            start = time.perf_counter()
            actions[name]()
            seconds = time.perf_counter() - start
            best[name] = min(seconds, best.get(name, seconds))
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", default=bench.DEFAULT_POSTGRES)
    parser.add_argument("--redis", default=bench.DEFAULT_REDIS)
    parser.add_argument("--repeat", type=int, default=15)
    options = parser.parse_args()
    lines = bench_transcripts.claude_lines(bench_transcripts.TRANSCRIPT_BYTES, "floor", "/srv/app")
    data = b"".join(line + b"\n" for line in lines)
    folder = Path(tempfile.mkdtemp(prefix="sessmap-floor-"))
    source = folder / "source.jsonl"
    source.write_bytes(data)
    target = folder / "copy" / "x.jsonl"

    def copy() -> None:
        shutil.rmtree(target.parent, ignore_errors=True)
        target.parent.mkdir()
        shutil.copyfile(source, target)

    actions: dict[str, Callable[[], object]] = {"cp": copy}
    cleanup: list[Callable[[], None]] = []
    table = f"sessmap_floor_{os.getpid()}"
    if options.postgres:
        import psycopg

        db = psycopg.connect(options.postgres, autocommit=True)
        db.execute(f"CREATE TABLE {table} (seq int PRIMARY KEY, data bytea)")
        db.execute(f"ALTER TABLE {table} ALTER data SET STORAGE EXTERNAL")
        with db.cursor() as cursor:
            for number, chunk in enumerate(chunks_of(lines)):
                cursor.execute(f"INSERT INTO {table} VALUES (%s, %s)", (number, chunk))

        def postgres_fetch() -> None:
            with db.cursor(binary=True) as cursor:
                cursor.execute(f"SELECT data FROM {table} ORDER BY seq")
                cursor.fetchall()

        def postgres_copy() -> None:
            with (
                db.cursor() as cursor,
                cursor.copy(
                    f"COPY (SELECT data FROM {table} ORDER BY seq) TO STDOUT (FORMAT binary)"
                ) as stream,
            ):
                for _ in stream:
                    pass

        actions.update(
            {"PostgreSQL SELECT (binary)": postgres_fetch, "PostgreSQL COPY TO STDOUT": postgres_copy}
        )

        def drop_table() -> None:
            db.execute(f"DROP TABLE {table}")
            db.close()

        cleanup.append(drop_table)
    if options.redis:
        import redis

        client = redis.Redis.from_url(options.redis)
        key = f"{table}:lines"
        client.delete(key)
        for start in range(0, len(lines), 1000):
            client.rpush(key, *lines[start : start + 1000])
        actions["Redis LRANGE (redis-py)"] = lambda: client.lrange(key, 0, -1)

        def delete_key() -> None:
            client.delete(key)
            client.close()

        cleanup.append(delete_key)
    try:
        best = fastest(actions, options.repeat)
    finally:
        for step in cleanup:
            step()
        shutil.rmtree(folder, ignore_errors=True)
    print(bench.machine())
    print(f"10 MB ({len(data):,} bytes, {len(lines):,} lines); fastest of {options.repeat}")
    for name, seconds in best.items():
        print(f"  {name:<28} {seconds * 1000:7.1f} ms   {seconds / best['cp']:5.1f}× cp")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
