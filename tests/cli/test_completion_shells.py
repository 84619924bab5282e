"""Completion in the real shells, installed the README's way into the test's own HOME: bash
(interactive, through a pty), zsh (interactive, compinit loading the file from $fpath) and fish
(``complete -C``), each completing a thread key with colons from the store.

A missing shell skips the test with the reason, and fails it under CI (.ci/run installs them).
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from tests.support import SESSMAP

KEY = "slack:C0123:1700000000.1"
OTHER = "telegram:42:7"
SESSION_ID = "0199a2b1-7c3e-7d10-9f00-5a3b2c1d0e4f"
ROOT = Path(__file__).resolve().parents[2]
FILES = {"bash": "sessmap.bash", "zsh": "_sessmap", "fish": "sessmap.fish"}
BASH_COMPLETION = Path("/usr/share/bash-completion/bash_completion")


def need(what: str, present: bool) -> None:
    if present:
        return
    message = f"{what} is not installed (apt-get install -y zsh fish bash-completion)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def shell(name: str) -> str:
    path = shutil.which(name)
    need(name, path is not None)
    assert path is not None
    return path


def sessmap(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    if not SESSMAP.exists():
        need(f"the sessmap command ({SESSMAP})", False)
    return subprocess.run(
        [str(SESSMAP), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The test's environment with a store holding KEY (and OTHER, so ``slack:C0`` is unique)
    and ``sessmap`` on PATH, as the scripts call it."""
    url = f"sqlite:{tmp_path / 'sessions.db'}"
    environment = dict(os.environ, SESSMAP_STORE=url, TERM="dumb")
    environment["PATH"] = f"{SESSMAP.parent}{os.pathsep}{environment.get('PATH', os.defpath)}"
    for key in (KEY, OTHER):
        done = sessmap("--store", url, "create", key, "--session-id", SESSION_ID, env=environment)
        assert done.returncode == 0, done.stderr
    return environment


def script(name: str, env: dict[str, str]) -> str:
    done = sessmap("completion", name, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def home(env: dict[str, str]) -> Path:
    path = Path(env["HOME"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def interact(argv: list[str], env: dict[str, str], typed: str, expect: str, timeout: float = 20.0) -> str:
    """Run an interactive shell on a pty, type ``typed`` once it has started, and return what
    it wrote by the time ``expect`` shows up after the typing (or the timeout passes)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the shell, nothing else
        try:
            os.chdir(env["HOME"])
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    seen, typed_at = b"", -1
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if typed_at < 0 and (b"READY" in seen or time.monotonic() > deadline - timeout + 3):
                typed_at = len(seen)
                os.write(fd, typed.encode())
            if typed_at >= 0 and expect.encode() in seen[typed_at:]:
                break
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    seen += os.read(fd, 65536)
                except OSError:
                    break
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)
    return seen[max(typed_at, 0) :].decode(errors="replace")


# --- one source -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FILES))
def test_shipped_file_is_what_the_command_prints(name: str, env: dict[str, str]) -> None:
    assert (ROOT / "completions" / FILES[name]).read_text() == script(name, env), (
        "regenerate: python -m sessmap.cli.completion --write completions"
    )


@pytest.mark.slow
def test_the_command_touches_no_rc_file(env: dict[str, str]) -> None:
    before = sorted(home(env).rglob("*"))
    for name in FILES:
        script(name, env)
    assert sorted(home(env).rglob("*")) == before


def test_typer_install_and_show_completion_are_gone(env: dict[str, str]) -> None:
    for option in ("--install-completion", "--show-completion"):
        assert sessmap(option, env=env).returncode == 2
    assert "--install-completion" not in sessmap("--help", env=env).stdout


def test_an_unknown_shell_is_a_usage_error(env: dict[str, str]) -> None:
    done = sessmap("completion", "tcsh", env=env)
    assert done.returncode == 2
    assert done.stdout == ""


# --- bash -------------------------------------------------------------------------------------


@pytest.mark.parametrize("way", ["bashrc-eval", "bash-completion-dir"])
def test_bash_completes_a_key_with_colons(way: str, env: dict[str, str]) -> None:
    bash = shell("bash")
    rc = home(env) / ".bashrc"
    if way == "bashrc-eval":
        rc.write_text('eval "$(sessmap completion bash)"\nPS1="> "\necho READY\n')
    else:
        need("bash-completion", BASH_COMPLETION.exists())
        folder = Path(env["XDG_DATA_HOME"]) / "bash-completion" / "completions"
        folder.mkdir(parents=True)
        (folder / "sessmap").write_text(script("bash", env))
        rc.write_text(f'. {BASH_COMPLETION}\nPS1="> "\necho READY\n')
    out = interact([bash, "--rcfile", str(rc), "-i"], env, "sessmap get slack:C0\t", KEY)
    assert KEY in out, out


def run_bash_function(env: dict[str, str], line: str, words: list[str], bash_completion: bool) -> list[str]:
    """Call the completion function as bash does for the end of ``line``, ``words`` being bash's
    own split of it (a character of COMP_WORDBREAKS, ':' too, is a word of its own), and return
    COMPREPLY."""
    bash = shell("bash")
    path = home(env) / "complete.sh"
    path.write_text(script("bash", env))
    setup = f". {BASH_COMPLETION}\n" if bash_completion else ""
    program = (
        f"{setup}. {path}\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        f"COMP_LINE={line!r}; COMP_POINT=${{#COMP_LINE}}\n"
        "_sessmap_completion sessmap\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run([bash, "--norc", "-c", program], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize("bash_completion", [False, True])
@pytest.mark.slow
def test_bash_replaces_only_its_own_current_word(env: dict[str, str], bash_completion: bool) -> None:
    if bash_completion:
        need("bash-completion", BASH_COMPLETION.exists())
    # `slack:C0`: bash's current word is `C0`, after the last colon.
    words = ["sessmap", "get", "slack", ":", "C0"]
    assert run_bash_function(env, "sessmap get slack:C0", words, bash_completion) == ["C0123:1700000000.1"]
    # `slack:`: bash's current word is the colon itself.
    words = ["sessmap", "get", "slack", ":"]
    assert run_bash_function(env, "sessmap get slack:", words, bash_completion) == [":C0123:1700000000.1"]


@pytest.mark.slow
def test_bash_leaves_the_command_after_dashdash_to_the_shell(env: dict[str, str]) -> None:
    words = ["sessmap", "exec", "k", "--", "ech"]
    offered = run_bash_function(env, "sessmap exec k -- ech", words, bash_completion=False)
    assert "echo" in offered
    assert KEY not in offered


# --- zsh --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_zsh_file_starts_with_compdef(env: dict[str, str]) -> None:
    assert script("zsh", env).splitlines()[0] == "#compdef sessmap"


def install_zsh(env: dict[str, str], way: str) -> None:
    """The README's ways: the file in a folder on $fpath before compinit, or eval after it."""
    zshrc = home(env) / ".zshrc"
    if way == "fpath":
        folder = home(env) / ".zfunc"
        folder.mkdir()
        (folder / "_sessmap").write_text(script("zsh", env))
        zshrc.write_text("fpath=(~/.zfunc $fpath)\nautoload -U compinit; compinit -u\nPS1='> '\necho READY\n")
    else:
        zshrc.write_text(
            "autoload -U compinit; compinit -u\neval \"$(sessmap completion zsh)\"\nPS1='> '\necho READY\n"
        )


def zsh_session(env: dict[str, str], way: str, typed: str, expect: str) -> str:
    zsh = shell("zsh")
    install_zsh(env, way)
    return interact([zsh, "-i"], dict(env, ZDOTDIR=env["HOME"]), typed, expect)


@pytest.mark.parametrize("way", ["fpath", "zshrc-eval"])
@pytest.mark.slow
def test_zsh_completes_a_key_with_colons(way: str, env: dict[str, str]) -> None:
    out = zsh_session(env, way, "sessmap get slack:C0\t", KEY)
    assert KEY in out, out


@pytest.mark.slow
def test_zsh_compinit_loads_the_file_from_fpath(env: dict[str, str]) -> None:
    zsh = shell("zsh")
    install_zsh(env, "fpath")
    program = "fpath=(~/.zfunc $fpath); autoload -U compinit; compinit -u; print -r -- $_comps[sessmap]"
    done = subprocess.run(
        [zsh, "-f", "-c", program], capture_output=True, text=True, env=env, cwd=env["HOME"], timeout=60
    )
    assert done.stdout.strip() == "_sessmap", (done.stdout, done.stderr)


@pytest.mark.slow
def test_zsh_leaves_the_command_after_dashdash_to_the_shell(env: dict[str, str]) -> None:
    # echo, echotc, echoti: zsh completes the common part and lists the rest
    out = zsh_session(env, "fpath", "sessmap exec k -- ech\t", "-- echo")
    assert "-- echo" in out, out


# --- fish -------------------------------------------------------------------------------------


def fish_complete(env: dict[str, str], line: str) -> list[str]:
    """``complete -C LINE`` in a fish that loads its completions from the test's own
    ~/.config/fish/completions, where the README puts the script."""
    fish = shell("fish")
    folder = Path(env["XDG_CONFIG_HOME"]) / "fish" / "completions"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sessmap.fish").write_text(script("fish", env))
    done = subprocess.run(
        [fish, "-c", f"complete -C {line!r}"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [candidate.split("\t")[0] for candidate in done.stdout.splitlines()]


@pytest.mark.slow
def test_fish_completes_a_key_with_colons(env: dict[str, str]) -> None:
    assert fish_complete(env, "sessmap get slack:C0") == [KEY]


@pytest.mark.slow
def test_fish_without_config_sources_the_script(env: dict[str, str]) -> None:
    fish = shell("fish")
    path = home(env) / "sessmap.fish"
    path.write_text(script("fish", env))
    program = f"source {path}; complete -C 'sessmap get slack:C0'"
    done = subprocess.run([fish, "--no-config", "-c", program], capture_output=True, text=True, env=env)
    assert done.stdout.split() == [KEY], done.stderr


@pytest.mark.slow
def test_fish_leaves_the_command_after_dashdash_to_the_shell(env: dict[str, str]) -> None:
    offered = fish_complete(env, "sessmap exec k -- ech")
    assert "echo" in offered
    assert KEY not in offered
