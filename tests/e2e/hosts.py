"""Several "hosts" for the end-to-end tests, sharing one sessmap store.

A host is its own ``HOME``, ``CLAUDE_CONFIG_DIR``, ``CODEX_HOME`` (with the fake-provider codex
config) and sessmap home, and its own host name: every command of a host runs in a UTS
namespace of its own (``unshare --uts``) whose hostname is the host's name, so sessmap's
``socket.gethostname()`` there is that name. That needs root; where it cannot be had, the
tests that need it skip with the reason, or fail under ``CI``. A host made with
``hostname=None`` runs under this machine's own name and needs no namespace.

With a ``Network``, a host can also get a network namespace of its own (``ip netns``, a veth
pair), reaching the store's server and the fake model only through relays this process runs
on its side of the link: its 127.0.0.1 is not this machine's.

The hosts share the file system (the project folder is the same path on each, as a checkout
would be), but no host's agent home is another's: host B can know host A's conversation only
through the store.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import pty
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from realagents import Sandbox, write_codex_config
from tests.support import SET_HOSTNAME, require_host_names, unavailable, uts_problem
from tests.support.cli import sessmap_argv

from sessmap.model import Mapping
from sessmap.stores import open_store

TURN_TIMEOUT = 120.0


# --- processes --------------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """Every living process below ``pid`` (children first), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: the fields follow the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    queue = list(children.get(pid, []))
    while queue:
        child = queue.pop(0)
        found.append(child)
        queue.extend(children.get(child, []))
    return found


def kill_tree(pids: Sequence[int]) -> None:
    """SIGKILL each of ``pids`` and wait (a few seconds at most) until /proc shows them gone."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if _alive(pid)]
        if not alive:
            return
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _kill_group(process: subprocess.Popen[Any]) -> None:
    """Kill the process and everything it started (it leads a session of its own)."""
    tree = [process.pid, *descendants(process.pid)]
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    kill_tree(tree)


# --- hosts ------------------------------------------------------------------------------------


@dataclass
class Host:
    """One simulated machine. ``env`` is what its processes get (``exec`` adds nothing).
    ``hostname``: the host name its commands run under; None: this machine's own (no namespace)."""

    label: str
    hostname: str | None
    root: Path
    env: dict[str, str]
    work: Path
    netns: str | None = None
    """The network namespace its commands run in (None: this one)."""
    started: list[subprocess.Popen[Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The host name sessmap records for this host's runs."""
        return self.hostname if self.hostname is not None else socket.gethostname()

    @property
    def home(self) -> Path:
        return Path(self.env["HOME"])

    @property
    def claude_home(self) -> Path:
        configured = self.env.get("CLAUDE_CONFIG_DIR")
        return Path(configured) if configured else self.home / ".claude"

    @property
    def codex_home(self) -> Path:
        configured = self.env.get("CODEX_HOME")
        return Path(configured) if configured else self.home / ".codex"

    def agent_home(self, agent: str) -> Path:
        """What sessmap records as ``agent_home`` for a run of ``agent`` here."""
        return self.claude_home if agent == "claude" else self.codex_home

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """``argv`` as run on this host: under its host name."""
        wrapped = list(argv)
        if self.hostname is not None:
            wrapped = ["unshare", "--uts", "sh", "-c", SET_HOSTNAME, self.hostname, *wrapped]
        if self.netns is not None:
            wrapped = ["ip", "netns", "exec", self.netns, *wrapped]
        return wrapped

    def start(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        stdout: int | None = subprocess.PIPE,
        stderr: int | None = subprocess.PIPE,
    ) -> subprocess.Popen[str]:
        """Start ``argv`` on this host, in a session of its own (so its whole tree can be killed).
        ``unshare`` and ``sh`` exec in place: the process is ``argv[0]`` itself."""
        process = subprocess.Popen(
            self.wrap(argv),
            cwd=cwd or self.work,
            env=self.env if env is None else env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )
        self.started.append(process)
        return process

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        timeout: float = TURN_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        process = self.start(argv, cwd=cwd, env=env)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            stdout, stderr = process.communicate()
            raise AssertionError(
                f"{' '.join(argv)} on {self.label} ran over {timeout}s\nstdout: {stdout}\nstderr: {stderr}"
            ) from None
        return subprocess.CompletedProcess(list(argv), process.returncode, stdout, stderr)

    # -- sessmap ---------------------------------------------------------------------------

    def sessmap(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.run(sessmap_argv(*args), env=env, timeout=60)

    def sessmap_ok(self, *args: str) -> str:
        result = self.sessmap(*args)
        assert result.returncode == 0, f"sessmap {' '.join(args)} on {self.label}: {result.stderr}"
        return result.stdout

    def show(self, key: str, *options: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.sessmap_ok("show", key, "--json", *options))
        return data

    def exec(
        self, key: str, command: Sequence[str], *options: str, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``sessmap exec KEY [OPTIONS] -- COMMAND`` on this host."""
        return self.run(sessmap_argv("exec", key, *options, "--", *command), cwd=cwd)

    def turn(
        self, key: str, agent: str, message: str, *options: str, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """One turn of ``agent`` (claude -p / codex exec --json) on thread ``key``; must succeed."""
        result = self.exec(key, agent_command(agent, message), *options, cwd=cwd)
        assert result.returncode == 0, (
            f"turn {message} of {key} on {self.label} exited {result.returncode}\n"
            f"stdout: {result.stdout[-3000:]}\nstderr: {result.stderr[-3000:]}"
        )
        return result

    # -- the agents' files -----------------------------------------------------------------

    def transcripts(self, session_id: str) -> list[Path]:
        """This host's transcript files of ``session_id`` (claude and codex homes)."""
        found: set[Path] = set()
        for home in (self.claude_home, self.codex_home):
            if home.is_dir():
                found.update(p for p in home.rglob(f"*{session_id}.jsonl") if p.is_file())
        return sorted(found)

    def reap(self) -> None:
        for process in self.started:
            if process.poll() is None:
                _kill_group(process)
            with contextlib.suppress(ValueError, OSError):
                process.communicate(timeout=10)
        self.started.clear()


def agent_command(agent: str, message: str) -> list[str]:
    """The same commands ``Sandbox.command`` runs."""
    if agent == "claude":
        return ["claude", "-p", message]
    return ["codex", "exec", "--json", "--skip-git-repo-check", message]


def thread_ids(stdout: str) -> list[str]:
    """The ``thread_id`` of each ``thread.started`` event in ``codex exec --json`` output."""
    ids = []
    for line in stdout.splitlines():
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if isinstance(event, dict) and event.get("type") == "thread.started":
                ids.append(event["thread_id"])
    return ids


@dataclass
class Cluster:
    """Hosts sharing one store URL and one project folder, and the fake model they all call."""

    sandbox: Sandbox
    store_url: str
    work: Path
    network: Network | None = None
    hosts: dict[str, Host] = field(default_factory=dict)

    def host(
        self,
        label: str,
        *,
        hostname: str | bool | None = True,
        home: Path | None = None,
        agent_dirs: bool = True,
        own_network: bool = False,
        env: dict[str, str] | None = None,
    ) -> Host:
        """A new host. ``hostname``: the host name it runs under (True: ``label``; None: this
        machine's own, no namespace needed). ``home``: its HOME (default: a folder of its own).
        ``agent_dirs``: set CLAUDE_CONFIG_DIR and CODEX_HOME (else the agents use HOME's
        ``.claude`` / ``.codex``, as a bot run with a plain HOME does). ``own_network``: run in a
        network namespace of its own, reaching the store and the model through relays (needs
        ``network``). ``env``: more variables."""
        if hostname is True:
            hostname = label
        if hostname is not None:
            require_host_names()
        assert hostname is not False
        root = self.sandbox.root / "hosts" / label
        root.mkdir(parents=True, exist_ok=False)
        home = home or root / "home"
        home.mkdir(parents=True, exist_ok=True)
        netns, store, model = None, self.store_url, self.sandbox.server.url
        if own_network:
            assert self.network is not None, "own_network needs a Cluster with a Network"
            netns, here = self.network.namespace()
            model = self.network.relay(here, model).url(model)
            if not store.startswith("sqlite:"):
                store = self.network.relay(here, store).url(store)
        codex_home = root / "codex" if agent_dirs else home / ".codex"
        write_codex_config(codex_home, model)
        host_env = dict(self.sandbox.env)
        host_env.update(
            HOME=str(home), SESSMAP_HOME=str(root / "sessmap"), SESSMAP_STORE=store, ANTHROPIC_BASE_URL=model
        )
        if agent_dirs:
            host_env.update(CLAUDE_CONFIG_DIR=str(root / "claude"), CODEX_HOME=str(codex_home))
        else:
            host_env.pop("CLAUDE_CONFIG_DIR", None)
            host_env.pop("CODEX_HOME", None)
        host_env.update(env or {})
        host = Host(label, hostname, root, host_env, self.work, netns=netns)
        self.hosts[label] = host
        return host

    def mapping(self, key: str, agent: str = "default") -> Mapping:
        with open_store(self.store_url) as store:
            mapping = store.get(agent, key)
        assert mapping is not None, f"no mapping for {key} (agent {agent})"
        return mapping

    def maybe_mapping(self, key: str, agent: str = "default") -> Mapping | None:
        with open_store(self.store_url) as store:
            return store.get(agent, key)

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, f"timed out after {timeout}s waiting until {what}"
            time.sleep(0.05)

    def reap(self) -> None:
        for host in self.hosts.values():
            host.reap()


# --- a terminal for the agent's output --------------------------------------------------------


class Terminal:
    """A pseudo-terminal: give ``fd`` (the slave) as a process's stdout/stderr; what is written
    there is drained into ``output`` so the writer never blocks."""

    def __init__(self) -> None:
        self.master, self.fd = pty.openpty()
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO once every writer has closed the slave (or we closed master)
                return
            if not chunk:
                return
            self._chunks.append(chunk)

    def release_slave(self) -> None:
        """Close our copy of the slave (after the process got its own)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    @property
    def output(self) -> str:
        return b"".join(self._chunks).decode("utf-8", "replace")

    def close(self) -> None:
        self.release_slave()
        self._reader.join(timeout=5)
        with contextlib.suppress(OSError):
            os.close(self.master)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --- hosts in network namespaces of their own -------------------------------------------------


class Relay:
    """A TCP relay: accepts on ``listen_host`` (an address of this network namespace) and
    copies each connection both ways to ``target``: how a host in a network namespace of its
    own reaches a server that listens on this namespace's 127.0.0.1 only.

    Each socket is closed only by the thread that uses it; ``close()`` shuts them down, which
    wakes those threads, so no socket is closed under a thread still blocked on it."""

    def __init__(self, listen_host: str, target: tuple[str, int]) -> None:
        self.target = target
        self._server = socket.create_server((listen_host, 0))
        self.address: tuple[str, int] = self._server.getsockname()[:2]
        self._pairs: dict[int, tuple[socket.socket, socket.socket]] = {}
        self._finished: dict[int, int] = {}
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._closed = False
        self.failures: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        try:
            while True:
                try:
                    client, _ = self._server.accept()
                except OSError:
                    return  # shut down by close()
                try:
                    upstream = socket.create_connection(self.target, timeout=10)
                    upstream.settimeout(None)
                except OSError as error:
                    self.failures.append(f"connecting to {self.target}: {error!r}")
                    print(f"relay {self.address} -> {self.target}: {error!r}", file=sys.stderr)
                    client.close()
                    continue
                with self._lock:
                    if self._closed:
                        client.close()
                        upstream.close()
                        return
                    number = next(self._numbers)
                    self._pairs[number] = (client, upstream)
                    self._finished[number] = 0
                for source, sink in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._copy, args=(number, source, sink), daemon=True).start()
        finally:
            self._server.close()

    def _copy(self, number: int, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
            with self._lock:
                self._finished[number] += 1
                last = self._finished[number] == 2
                if last:
                    del self._pairs[number], self._finished[number]
            if last:  # both directions are done: nobody uses these sockets any more
                source.close()
                sink.close()

    def url(self, url: str) -> str:
        """``url`` with its host:port (the target's) replaced by the relay's."""
        parts = urlsplit(url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@" if userinfo else ""
        return urlunsplit((parts.scheme, f"{netloc}{self.address[0]}:{self.address[1]}", *parts[2:]))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pairs = list(self._pairs.values())
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)  # wakes accept()
        for pair in pairs:
            for connection in pair:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)  # wakes recv()


@functools.cache
def _netns_problem() -> str | None:
    """Why hosts cannot get network namespaces of their own here, or None if they can."""
    if shutil.which("ip") is None:
        return "iproute2 (ip) is not installed: cannot give a simulated host a network of its own"
    probe_name = f"sessmap-probe-{os.getpid()}"
    added = subprocess.run(["ip", "netns", "add", probe_name], capture_output=True, text=True)
    if added.returncode != 0:
        return f"ip netns add failed (needs root): {' '.join(added.stderr.split())}"
    subprocess.run(["ip", "netns", "del", probe_name], capture_output=True)
    return uts_problem()


_subnets = itertools.count()


class Network:
    """Network namespaces for hosts, each joined to this namespace by a veth pair on a /30 of
    its own in 10.231.0.0/16 (this side ``.1``, the host's side ``.2``), with relays on this
    side's address to the servers the hosts need. Tear down with ``close()``."""

    def __init__(self) -> None:
        problem = _netns_problem()
        if problem is not None:
            unavailable(problem)
        self._tag = f"{os.getpid() % 100000:05d}"
        self._namespaces: list[str] = []
        self._relays: list[Relay] = []

    def namespace(self) -> tuple[str, str]:
        """A new network namespace: its name, and the address of this side of its link."""
        number = next(_subnets) % 16384  # never the same names or addresses twice in a run
        name = f"sessmap-{self._tag}-{number}"
        outside, inside = f"sm{self._tag}{number:x}a", f"sm{self._tag}{number:x}b"
        base = 4 * number
        here = f"10.231.{base // 256}.{base % 256 + 1}"
        there = f"10.231.{base // 256}.{base % 256 + 2}"
        steps = [
            ["ip", "netns", "add", name],
            ["ip", "link", "add", outside, "type", "veth", "peer", "name", inside],
            ["ip", "link", "set", inside, "netns", name],
            ["ip", "addr", "add", f"{here}/30", "dev", outside],
            ["ip", "link", "set", outside, "up"],
            ["ip", "netns", "exec", name, "ip", "addr", "add", f"{there}/30", "dev", inside],
            ["ip", "netns", "exec", name, "ip", "link", "set", inside, "up"],
            ["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"],
        ]
        self._namespaces.append(name)
        # `ip netns exec` puts /etc/netns/NAME/resolv.conf over /etc/resolv.conf: a name server
        # on the namespace's own loopback refuses at once, where the machine's (unreachable from
        # here) would make every lookup codex tries wait for the resolver's retries.
        resolv = Path("/etc/netns") / name / "resolv.conf"
        resolv.parent.mkdir(parents=True, exist_ok=True)
        resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True)
            assert done.returncode == 0, f"{' '.join(step)}: {done.stderr}"
        return name, here

    def relay(self, listen_host: str, url: str) -> Relay:
        """A relay on ``listen_host`` to the host:port of ``url`` (default ports filled in)."""
        parts = urlsplit(url)
        default = {"postgresql": 5432, "postgres": 5432, "redis": 6379, "http": 80}[parts.scheme]
        relay = Relay(listen_host, (parts.hostname or "127.0.0.1", parts.port or default))
        self._relays.append(relay)
        return relay

    def close(self) -> None:
        for relay in self._relays:
            relay.close()
        for name in self._namespaces:
            # Deleting the namespace deletes the veth pair with it.
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
            shutil.rmtree(Path("/etc/netns") / name, ignore_errors=True)
        self._namespaces.clear()
        with contextlib.suppress(OSError):
            Path("/etc/netns").rmdir()  # only if no one else keeps anything there
