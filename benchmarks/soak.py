"""Soak test: a mixed load through the installed ``sessmap`` command for N minutes.

    python benchmarks/soak.py --minutes 1 --store sqlite:/tmp/soak.db --workers 4

Each worker runs one ``sessmap`` process at a time (create, get, set --label, list, rm, prune,
exec with /bin/true) on keys of its own, so it knows exactly what every command must answer:
any non-zero exit, or a final map that differs from what the workers know, is an error. At the
end it prints errors by kind, operations per second, latency p50/p95/p99 per operation, the
peak RSS and most open file descriptors of the sessmap processes, and the store's size; it
exits 1 if there was any error. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

SESSMAP = str(Path(sys.executable).with_name("sessmap"))  # the one bench.py runs too
TRUE = shutil.which("true") or "/bin/true"
# Relative weights of the operations in the mix.
WEIGHTS = {"create": 4, "get": 8, "set": 4, "list": 2, "rm": 2, "prune": 1, "exec": 3}


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    max_fds: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, op: str, seconds: float, error: str | None, fds: int) -> None:
        with self.lock:
            self.latencies[op].append(seconds)
            self.max_fds = max(self.max_fds, fds)
            if error:
                self.errors[error] += 1


def run(store: str, args: list[str], results: Results, op: str) -> tuple[int, str]:
    """One sessmap process; its latency, open fds (sampled) and failure go to ``results``."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [SESSMAP, "--store", store, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    fds = 0
    fd_folder = Path(f"/proc/{process.pid}/fd")
    while process.poll() is None:
        try:
            fds = max(fds, len(os.listdir(fd_folder)))
        except OSError:
            break  # it exited between poll() and listdir()
        time.sleep(0.005)
    stdout, stderr = process.communicate()
    elapsed = time.perf_counter() - started
    error = None
    if process.returncode != 0:
        first = (stderr.strip().splitlines() or ["(no message)"])[-1]
        error = f"{op} exit {process.returncode}: {first[:160]}"
    results.record(op, elapsed, error, fds)
    return process.returncode, stdout


def worker(
    number: int, store: str, deadline: float, results: Results, known: dict[str, str], seed: int
) -> None:
    """Keys ``soak-<number>-…`` are this worker's alone: it knows every answer in advance."""
    rng = random.Random(seed + number)
    ops, weights = zip(*WEIGHTS.items(), strict=True)
    made = 0
    while time.monotonic() < deadline:
        op = rng.choices(ops, weights)[0]
        if op in ("get", "set", "rm", "exec") and not known:
            op = "create"
        if op == "create":
            key = f"soak-{number}-{made}"
            made += 1
            code, out = run(store, ["create", key, "-l", f"worker={number}"], results, op)
            if code == 0:
                known[key] = out.strip()
        elif op == "get":
            key = rng.choice(sorted(known))
            code, out = run(store, ["get", key], results, op)
            if code == 0 and known[key] and out.strip() != known[key]:
                results.record("get", 0.0, f"get: wrong session id for {key}", 0)
            if code == 0:
                known[key] = out.strip()
        elif op == "set":
            run(store, ["set", rng.choice(sorted(known)), "-l", f"n={rng.randrange(1000)}"], results, op)
        elif op == "list":
            run(store, ["list", "--format", "keys", "--prefix", f"soak-{number}-"], results, op)
        elif op == "rm":
            key = rng.choice(sorted(known))
            code, _ = run(store, ["rm", key], results, op)
            if code == 0:
                del known[key]
        elif op == "prune":
            # Nothing is 30 days old: prune must find (and remove) nothing.
            code, out = run(store, ["prune", "--older-than", "30d"], results, op)
            if code == 0 and out.strip():
                results.record("prune", 0.0, "prune removed live mappings", 0)
        else:
            key = rng.choice(sorted(known))
            code, _ = run(store, ["exec", key, "--provider", "claude", "--", TRUE], results, op)
            if code == 0:
                # /bin/true leaves no claude transcript, so exec finds the session stale and
                # (--on-stale fresh) maps a new one: the next get learns its id.
                known[key] = ""


def store_size(store: str) -> str:
    kind, _, path = store.partition(":")
    if kind not in ("sqlite", "json"):
        return "n/a (server store)"
    files = [Path(path), *Path(path).parent.glob(Path(path).name + "-*")]
    total = sum(f.stat().st_size for f in files if f.is_file())
    return f"{total / 1024:.1f} KiB ({', '.join(f.name for f in files if f.exists())})"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--store", required=True, help="store URL, e.g. sqlite:/tmp/soak.db")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=random.randrange(2**32))
    options = parser.parse_args()

    # Create the store first: a reader (list, prune) on a store that does not exist fails.
    subprocess.run([SESSMAP, "--store", options.store, "import", os.devnull], capture_output=True, check=True)
    results = Results()
    known: list[dict[str, str]] = [{} for _ in range(options.workers)]
    started = time.monotonic()
    deadline = started + options.minutes * 60
    threads = [
        threading.Thread(target=worker, args=(n, options.store, deadline, results, known[n], options.seed))
        for n in range(options.workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    # The map must hold exactly what the workers know (no lost or resurrected mapping).
    listed = subprocess.run(
        [SESSMAP, "--store", options.store, "list", "--format", "keys", "--prefix", "soak-"],
        capture_output=True,
        text=True,
    )
    expected = {key for keys in known for key in keys}
    actual = set(listed.stdout.split())
    if listed.returncode != 0:
        results.errors[f"final list exit {listed.returncode}"] += 1
    if expected - actual:
        results.errors["lost mapping"] += len(expected - actual)
    if actual - expected:
        results.errors["unexpected mapping"] += len(actual - expected)

    total = sum(len(v) for v in results.latencies.values())
    peak_rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux: KiB
    print(f"store     {options.store}")
    print(f"workers   {options.workers}, seed {options.seed}, {elapsed:.1f}s")
    print(f"ops       {total} ({total / elapsed:.1f}/s)")
    print(f"{'op':<8}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for op in WEIGHTS:
        values = [v for v in results.latencies.get(op, []) if v > 0]
        if values:
            cells = [percentile(values, p) * 1000 for p in (0.50, 0.95, 0.99)]
            print(f"{op:<8}{len(values):>7}" + "".join(f"{c:>9.0f}" for c in cells))
    print(f"peak RSS  {peak_rss_mib:.1f} MiB (largest sessmap process)")
    print(f"open fds  {results.max_fds} at most in one process")
    print(f"store     {store_size(options.store)}, {len(expected)} mappings")
    print(
        f"mean      {statistics.fmean(v for vs in results.latencies.values() for v in vs) * 1000:.0f} ms/op"
    )
    if results.errors:
        print(f"errors    {sum(results.errors.values())}")
        for kind, count in results.errors.most_common():
            print(f"  {count:>5}  {kind}")
        return 1
    print("errors    0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
