"""A stand-in for `claude` and `codex`: session files like the real CLIs, and knobs for tests.

Installed by tests as an executable named ``claude`` or ``codex`` (the name picks the
behaviour). It keeps sessions the way the real CLIs do, so sessmap's checks see real files:

* claude: ``--session-id ID`` creates ``$CLAUDE_CONFIG_DIR/projects/<cwd>/<ID>.jsonl``
  (refused if it exists); ``--resume ID`` needs it ("No conversation found with session ID");
  ``--resume P --fork-session --session-id N`` copies P to N.
* codex: ``exec …`` creates ``$CODEX_HOME/sessions/Y/M/D/rollout-<ts>-<id>.jsonl`` and reports
  the id (``thread.started`` on stdout with ``--json``, else ``session id:`` on stderr);
  ``exec resume ID`` / ``exec fork ID`` need that file ("no rollout found for thread id").

Knobs (environment): FAKEAGENT_LOG (append a JSON line per run: argv, cwd, ttys, turns seen),
FAKEAGENT_EXIT (exit status), FAKEAGENT_SLEEP (seconds, after the session work),
FAKEAGENT_CAT (copy stdin to stdout byte for byte), FAKEAGENT_READY (file created once signal
handlers are set), FAKEAGENT_SIGNALS (log SIGINT/SIGTERM, then die by them; ``count``: log every
one for half a second, then exit 128+N),
FAKEAGENT_QUIET_ID (codex: print no id, leaving only the rollout file), FAKEAGENT_VERSION (what
``--version`` says, as ``codex-cli X.Y.Z``; default 0.169.0), FAKEAGENT_READ_STDIN
(read all of stdin first, and log it), FAKEAGENT_OUT and
FAKEAGENT_ERR (text to print on stdout / stderr), FAKEAGENT_MARK (a file the agent holds a
flock on while it runs: when another agent holds it already, the two overlap, and a line goes
to ``<file>.overlaps``; every start goes to ``<file>.runs``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

ENV = os.environ


_MARKS: list[int] = []  # held open until the process ends: the kernel drops the flock then


def hold_the_mark(path: Path) -> None:
    """Prove no two agents of one thread run at once: an agent that finds the mark held by a
    live agent records the overlap. A killed agent frees it at once, so it cannot lie."""
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with path.with_name(path.name + ".runs").open("a") as runs:
        runs.write(f"{os.getpid()} {time.time()}\n")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        with path.with_name(path.name + ".overlaps").open("a") as overlaps:
            overlaps.write(f"{os.getpid()} {time.time()}\n")
    _MARKS.append(fd)


def log(entry: dict[str, Any]) -> None:
    path = ENV.get("FAKEAGENT_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")


def option(argv: list[str], name: str) -> str | None:
    if name in argv:
        index = argv.index(name)
        return argv[index + 1] if index + 1 < len(argv) else None
    return None


def claude_transcript(session_id: str) -> Path:
    base = Path(ENV.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude")
    return base / "projects" / re.sub(r"[^A-Za-z0-9]", "-", os.getcwd()) / f"{session_id}.jsonl"


def prompt_of(argv: list[str]) -> str:
    words = [word for word in argv if not word.startswith("-")]
    return words[-1] if words else ""


def run_claude(argv: list[str]) -> tuple[str, list[str]]:
    resume = option(argv, "--resume")
    chosen = option(argv, "--session-id")
    history: list[str] = []
    if resume is not None:
        source = claude_transcript(resume)
        if not source.exists():
            print(f"No conversation found with session ID: {resume}", file=sys.stderr)
            sys.exit(1)
        history = source.read_text().splitlines()
    if resume is not None and "--fork-session" not in argv:
        session_id = resume
    else:
        session_id = chosen or str(uuid.uuid4())
        if claude_transcript(session_id).exists():
            print(f"Error: Session ID {session_id} is already in use.", file=sys.stderr)
            sys.exit(1)
    path = claude_transcript(session_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([*history, prompt_of(argv)]) + "\n")
    return session_id, history


OPEN_FILES: list[Any] = []
CODEX_TURN_SECONDS = 0.3


def codex_sessions() -> Path:
    return Path(ENV.get("CODEX_HOME") or Path.home() / ".codex") / "sessions"


def codex_rollout(session_id: str) -> Path | None:
    return next(iter(codex_sessions().glob(f"*/*/*/rollout-*-{session_id}.jsonl")), None)


def run_codex(argv: list[str]) -> tuple[str, list[str]]:
    words = [word for word in argv if not word.startswith("-")]
    history: list[str] = []
    session_id = str(uuid.uuid4())
    for verb in ("resume", "fork"):
        if verb in words:
            target = words[words.index(verb) + 1]
            source = codex_rollout(target)
            if source is None:
                print(
                    f"Error: thread/resume failed: no rollout found for thread id {target}", file=sys.stderr
                )
                sys.exit(1)
            history = [json.loads(line)["prompt"] for line in source.read_text().splitlines()[1:]]
            if verb == "resume":
                session_id = target
    if "--json" in argv:
        if not ENV.get("FAKEAGENT_QUIET_ID"):
            print(json.dumps({"type": "thread.started", "thread_id": session_id}), flush=True)
    elif not ENV.get("FAKEAGENT_QUIET_ID"):
        print(f"--------\nworkdir: {os.getcwd()}\nsession id: {session_id}\n--------", file=sys.stderr)
    if "--ephemeral" in argv:  # like the real one: no session files at all
        return session_id, history
    path = codex_rollout(session_id)
    if path is None:
        stamp = datetime.now()
        folder = codex_sessions() / stamp.strftime("%Y/%m/%d")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"rollout-{stamp.strftime('%Y-%m-%dT%H-%M-%S')}-{session_id}.jsonl"
        meta = {"type": "session_meta", "payload": {"id": session_id, "cwd": os.getcwd()}}
        lines = [json.dumps(meta)] + [json.dumps({"prompt": turn}) for turn in history]
        path.write_text("\n".join(lines) + "\n")
    # Like the real codex: the rollout stays open for the whole turn, which takes a while.
    OPEN_FILES.append(path.open("a"))
    OPEN_FILES[-1].write(json.dumps({"prompt": prompt_of(argv)}) + "\n")
    OPEN_FILES[-1].flush()
    time.sleep(CODEX_TURN_SECONDS)
    return session_id, history


def main() -> None:
    argv = sys.argv[1:]
    name = Path(sys.argv[0]).name
    if argv == ["--version"]:
        log({"version_asked": name})
        print(f"{name}-cli {ENV.get('FAKEAGENT_VERSION', '0.169.0')}")
        sys.exit(0)
    received: list[int] = []
    mode = ENV.get("FAKEAGENT_SIGNALS")
    wakeup = -1
    if mode == "count":
        # Python runs a handler once for signals that arrive together; the wakeup fd gets one
        # byte per delivery, so it counts them all.
        wakeup, wakeup_write = os.pipe()
        os.set_blocking(wakeup, False)
        os.set_blocking(wakeup_write, False)
        signal.set_wakeup_fd(wakeup_write, warn_on_full_buffer=False)
    if mode:

        def on_signal(number: int, frame: object) -> None:
            received.append(number)
            if mode != "count":  # log it and die by it, as most programs do
                log({"signal": number, "at": time.time()})
                signal.signal(number, signal.SIG_DFL)
                os.kill(os.getpid(), number)

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
    if ENV.get("FAKEAGENT_MARK"):
        hold_the_mark(Path(ENV["FAKEAGENT_MARK"]))
    if ENV.get("FAKEAGENT_READY"):
        Path(ENV["FAKEAGENT_READY"]).touch()
    stdin = None
    if ENV.get("FAKEAGENT_READ_STDIN"):  # as `claude -p` reads its prompt, before it looks for the session
        stdin = sys.stdin.buffer.read().decode("utf-8", "replace")
        log({"read_stdin": stdin})
    session_id, history = run_codex(argv) if name == "codex" else run_claude(argv)
    log(
        {
            "argv": argv,
            "cwd": os.getcwd(),
            "tty": [os.isatty(fd) for fd in (0, 1, 2)],
            "session_id": session_id,
            "history": history,
            "stdin": stdin,
            "sessmap_env": {name: value for name, value in ENV.items() if name.startswith("SESSMAP_")},
            "pid": os.getpid(),
            "at": time.time(),
        }
    )
    if ENV.get("FAKEAGENT_OUT"):
        sys.stdout.write(ENV["FAKEAGENT_OUT"])
        sys.stdout.flush()
    if ENV.get("FAKEAGENT_ERR"):
        sys.stderr.write(ENV["FAKEAGENT_ERR"])
        sys.stderr.flush()
    if ENV.get("FAKEAGENT_CAT"):
        while chunk := os.read(0, 65536):
            os.write(1, chunk)
    if ENV.get("FAKEAGENT_SLEEP"):
        deadline = time.monotonic() + float(ENV["FAKEAGENT_SLEEP"])
        while time.monotonic() < deadline:
            time.sleep(0.05)
            if received:  # FAKEAGENT_SIGNALS=count: see whether more come, then exit as if killed
                time.sleep(0.5)
                for number in os.read(wakeup, 1024):
                    log({"signal": number, "at": time.time()})
                sys.exit(128 + received[0])
    sys.exit(int(ENV.get("FAKEAGENT_EXIT", "0")))


if __name__ == "__main__":
    main()
