"""Each provider's command line for every session step, and refusing commands that pick a session."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessmap.config import ProviderTemplate, parse_config
from sessmap.errors import InvalidInput
from sessmap.providers import AgentOutput, Step, get_provider, provider_names
from sessmap.providers.claude import ClaudeProvider
from sessmap.providers.codex import CodexProvider
from sessmap.providers.template import TemplateProvider
from sessmap.stores.base import TranscriptKey
from sessmap.transcripts.locate import CODEX_PROJECT, ClaudeLocator, CodexLocator

ID = "11111111-1111-4111-8111-111111111111"
PARENT = "22222222-2222-4222-8222-222222222222"


def claude_argv(command: list[str], step: Step, extra: tuple[str, ...] = ()) -> list[str]:
    provider = ClaudeProvider()
    return provider.build_argv(provider.prepare_command(command, extra), step)


def codex_argv(command: list[str], step: Step, extra: tuple[str, ...] = ()) -> list[str]:
    provider = CodexProvider()
    return provider.build_argv(provider.prepare_command(command, extra), step)


# -- claude --------------------------------------------------------------------------------


def test_claude_new_puts_the_chosen_id_right_after_the_program() -> None:
    assert claude_argv(["claude", "-p", "hi"], Step.new(ID)) == ["claude", "--session-id", ID, "-p", "hi"]


def test_claude_resume() -> None:
    assert claude_argv(["/opt/bin/claude", "-p", "x"], Step.resume(ID)) == [
        "/opt/bin/claude",
        "--resume",
        ID,
        "-p",
        "x",
    ]


def test_claude_fork_resumes_the_parent_into_a_chosen_id() -> None:
    assert claude_argv(["claude", "-p", "x"], Step.fork(PARENT, ID)) == [
        "claude",
        "--resume",
        PARENT,
        "--fork-session",
        "--session-id",
        ID,
        "-p",
        "x",
    ]


def test_claude_profile_args_go_before_the_users() -> None:
    assert claude_argv(["claude", "-p", "x"], Step.resume(ID), ("--model", "sonnet")) == [
        "claude",
        "--resume",
        ID,
        "--model",
        "sonnet",
        "-p",
        "x",
    ]


@pytest.mark.parametrize(
    "flag",
    ["--resume", "-r", "--session-id", "-c", "--continue", "--fork-session", "--resume=abc", "-rabc", "-pc"],
)
def test_claude_refuses_a_command_that_picks_a_session(flag: str) -> None:
    with pytest.raises(InvalidInput, match="already picks a session") as caught:
        ClaudeProvider().prepare_command(["claude", "-p", "hi", flag, ID])
    assert caught.value.exit_code == 2


def test_claude_session_flags_in_profile_args_are_refused_too() -> None:
    with pytest.raises(InvalidInput):
        ClaudeProvider().prepare_command(["claude"], ("--continue",))


def test_claude_words_after_double_dash_are_not_flags() -> None:
    assert ClaudeProvider().prepare_command(["claude", "-p", "--", "-c"]) == ["claude", "-p", "--", "-c"]


def test_claude_reads_stale_from_its_error() -> None:
    provider = ClaudeProvider()
    assert provider.is_stale(AgentOutput(stderr=f"No conversation found with session ID: {ID}\n".encode()))
    assert not provider.is_stale(AgentOutput(stderr=b"Error: rate limited\n"))


def test_claude_watches_stderr_only_when_resuming() -> None:
    provider = ClaudeProvider()
    assert provider.watch(Step.new(ID)).stderr is False
    watch = provider.watch(Step.resume(ID))
    assert (watch.stdout, watch.stderr, watch.required) == (False, True, False)


# Where claude keeps transcripts (project folders, long cwds, CLAUDE_CONFIG_DIR / HOME) is
# tested with its locator in tests/transcripts/test_locate.py.


def test_claude_locates_transcripts_with_the_claude_locator_and_names_no_files() -> None:
    provider = ClaudeProvider()
    assert isinstance(provider.locator, ClaudeLocator)
    assert provider.opens_session_file is False  # the id is chosen, never read from a file
    assert provider.session_file_id(f"/h/projects/-w/{ID}.jsonl") is None


# -- codex ---------------------------------------------------------------------------------


def test_codex_new_is_unchanged() -> None:
    command = ["codex", "exec", "--json", "hi"]
    assert codex_argv(command, Step.new()) == command


def test_codex_resume_goes_after_execs_options_before_the_prompt() -> None:
    assert codex_argv(["codex", "exec", "--json", "-s", "read-only", "hi"], Step.resume(ID)) == [
        "codex",
        "exec",
        "--json",
        "-s",
        "read-only",
        "resume",
        ID,
        "hi",
    ]


def test_codex_resume_right_after_exec_without_options() -> None:
    assert codex_argv(["codex", "exec", "hi"], Step.resume(ID)) == ["codex", "exec", "resume", ID, "hi"]


def test_codex_resume_with_no_prompt_and_with_double_dash() -> None:
    assert codex_argv(["codex", "exec", "--json"], Step.resume(ID)) == [
        "codex",
        "exec",
        "--json",
        "resume",
        ID,
    ]
    assert codex_argv(["codex", "exec", "--json", "--", "-hi"], Step.resume(ID)) == [
        "codex",
        "exec",
        "--json",
        "resume",
        ID,
        "--",
        "-hi",
    ]


def test_codex_unknown_option_puts_the_session_right_after_exec() -> None:
    # --new-flag might take the next word as its value; it must never take the id.
    assert codex_argv(["codex", "exec", "--new-flag", "x", "hi"], Step.resume(ID)) == [
        "codex",
        "exec",
        "resume",
        ID,
        "--new-flag",
        "x",
        "hi",
    ]


def test_codex_top_level_options_before_exec_are_kept() -> None:
    assert codex_argv(["codex", "-c", 'model="o3"', "exec", "hi"], Step.resume(ID)) == [
        "codex",
        "-c",
        'model="o3"',
        "exec",
        "resume",
        ID,
        "hi",
    ]


def test_codex_fork() -> None:
    assert codex_argv(["codex", "exec", "--json", "hi"], Step.fork(PARENT)) == [
        "codex",
        "exec",
        "--json",
        "fork",
        PARENT,
        "hi",
    ]


def test_codex_interactive() -> None:
    assert codex_argv(["codex"], Step.new()) == ["codex"]
    assert codex_argv(["codex", "-m", "o3", "hi"], Step.resume(ID)) == [
        "codex",
        "resume",
        ID,
        "-m",
        "o3",
        "hi",
    ]
    assert codex_argv(["codex"], Step.fork(PARENT)) == ["codex", "fork", PARENT]


def test_codex_profile_args_go_after_exec() -> None:
    assert codex_argv(["codex", "exec", "hi"], Step.resume(ID), ("--skip-git-repo-check",)) == [
        "codex",
        "exec",
        "--skip-git-repo-check",
        "resume",
        ID,
        "hi",
    ]


@pytest.mark.parametrize(
    "command",
    [
        ["codex", "exec", "resume", ID, "hi"],
        ["codex", "exec", "--json", "fork", ID, "hi"],
        ["codex", "e", "-m", "o3", "resume", "--last"],
        ["codex", "resume", ID],
        ["codex", "fork", "--last"],
    ],
)
def test_codex_refuses_session_subcommands(command: list[str]) -> None:
    with pytest.raises(InvalidInput, match="already picks a session"):
        CodexProvider().prepare_command(command)


def test_codex_c_is_a_config_option_not_a_session_flag() -> None:
    command = ["codex", "exec", "-c", "model=o3", "hi"]
    assert CodexProvider().prepare_command(command) == command


@pytest.mark.parametrize(
    "command", [["codex", "login"], ["codex", "exec", "review"], ["codex", "mcp", "list"]]
)
def test_codex_refuses_commands_without_a_session(command: list[str]) -> None:
    with pytest.raises(InvalidInput, match="runs no session"):
        CodexProvider().prepare_command(command)


def test_codex_captures_the_id_from_thread_started_on_stdout() -> None:
    stdout = (
        b'{"type":"thread.started","thread_id":"' + ID.encode() + b'"}\n{"type":"turn.started"}\n'
        b'{"type":"item.completed","item":{"type":"agent_message","text":"session id: nope"}}\n'
    )
    assert CodexProvider().captured_id(AgentOutput(stdout=stdout)) == ID


def test_codex_captures_the_id_from_the_session_id_line_on_stderr() -> None:
    stderr = f"OpenAI Codex v0.169.0\n--------\nworkdir: /w\nmodel: gpt-5\nsession id: {ID}\n--------\n"
    assert CodexProvider().captured_id(AgentOutput(stdout=b"reply\n", stderr=stderr.encode())) == ID


def test_codex_captures_nothing_from_unrelated_output() -> None:
    assert CodexProvider().captured_id(AgentOutput(stdout=b"hello\n", stderr=b"session id: --evil\n")) is None


# Where codex keeps rollouts (dated, flat, archived; the canonical name) is tested with its
# locator in tests/transcripts/test_locate.py; which open file is a new session's, here.


def test_codex_locates_rollouts_with_the_codex_locator_and_holds_them_open() -> None:
    provider = CodexProvider()
    assert isinstance(provider.locator, CodexLocator)
    assert provider.opens_session_file is True


@pytest.mark.parametrize(
    "path",
    [
        f"/home/u/.codex/sessions/2026/11/21/rollout-2026-11-21T10-49-54-{ID}.jsonl",
        f"/home/u/.codex/sessions/rollout-2026-11-21T10-49-54-{ID}.jsonl",
        f"/home/u/.codex/archived_sessions/rollout-2026-11-21T10-49-54-{ID}.jsonl",
        f"rollout-2026-11-21T10-49-54-{ID}.jsonl",
    ],
)
def test_codex_session_file_id_reads_the_id_from_a_rollout_name(path: str) -> None:
    assert CodexProvider().session_file_id(path) == ID


def test_codex_session_file_id_of_a_non_uuid_id() -> None:
    assert (
        CodexProvider().session_file_id("/s/rollout-2026-11-21T10-49-54-thread_01.abc.jsonl")
        == "thread_01.abc"
    )


@pytest.mark.parametrize(
    "path",
    [
        f"/h/sessions/2026/11/21/{ID}.jsonl",  # not a rollout
        f"/h/sessions/2026/11/21/rollout-2026-11-21T10-49-54-{ID}.json",
        f"/h/sessions/2026/11/21/rollout-2026-11-21T10-49-54-{ID}.jsonl.diverged-2026-11-21T10:00:00Z",
        f"/h/rollout-2026-11-21T10-49-54-{ID}.jsonl/state.db",  # a file inside such a folder
        "/h/sessions/rollout-2026-11-21T10-49-54.jsonl",  # no id
        "/h/sessions/rollout-.jsonl",
        "/h/sessions/rollout-2026-11-21T10-49-54---evil.jsonl",  # option-like
        "/h/sessions/rollout-2026-11-21T10-49-54-a b.jsonl",  # a space
        f"/h/sessions/rollout-2026-11-21T10-49-54-{'a' * 300}.jsonl",  # too long for an id
        "/h/state_5.sqlite",
        "/dev/null",
    ],
)
def test_codex_session_file_id_of_other_files_is_none(path: str) -> None:
    assert CodexProvider().session_file_id(path) is None


def test_codex_session_file_id_of_a_restored_rollout(tmp_path: Path) -> None:
    meta = b'{"type":"session_meta","payload":{"id":"x","timestamp":"2025-10-05T14:03:09.511Z"}}'
    path = CodexLocator().restore_path(tmp_path, TranscriptKey(CODEX_PROJECT, ID), meta)
    assert CodexProvider().session_file_id(str(path)) == ID


def test_codex_reads_stale_from_its_error() -> None:
    err = f"Error: thread/resume: thread/resume failed: no rollout found for thread id {ID} (code -32600)"
    assert CodexProvider().is_stale(AgentOutput(stderr=err.encode()))


def test_codex_watches_both_streams_for_a_new_id_but_never_requires_a_terminal_to_be_teed() -> None:
    watch = CodexProvider().watch(Step.new())
    assert (watch.stdout, watch.stderr, watch.required) == (True, True, False)
    assert CodexProvider().watch(Step.resume(ID)).stdout is False


# -- templates from the config -------------------------------------------------------------

GEMINI = {
    "new": ["--session-id", "{session_id}"],
    "resume": ["--resume", "{session_id}"],
    "stale": "No session found|Invalid session",
}
OPENCODE = {
    "new": ["run"],
    "resume": ["run", "--session", "{session_id}"],
    "fork": ["run", "--session", "{parent_id}", "--fork"],
    "capture": r'"sessionID"\s*:\s*"(?P<id>ses_[A-Za-z0-9]+)"',
}


def template_provider(name: str, table: dict[str, object]) -> TemplateProvider:
    config = parse_config({"providers": {name: table}}, Path("config.toml"))
    provider = get_provider(name, config)
    assert isinstance(provider, TemplateProvider)
    assert name in provider_names(config)
    return provider


def test_template_with_a_chosen_id_fills_the_placeholders() -> None:
    gemini = template_provider("gemini", GEMINI)
    assert gemini.chooses_id
    command = gemini.prepare_command(["gemini", "-p", "hi", "-o", "json"])
    assert gemini.build_argv(command, Step.new(ID)) == [
        "gemini",
        "--session-id",
        ID,
        "-p",
        "hi",
        "-o",
        "json",
    ]
    assert gemini.build_argv(command, Step.resume(ID)) == ["gemini", "--resume", ID, "-p", "hi", "-o", "json"]


def test_template_without_fork_cannot_fork() -> None:
    gemini = template_provider("gemini", GEMINI)
    with pytest.raises(InvalidInput, match="cannot fork"):
        gemini.build_argv(["gemini", "-p", "hi"], Step.fork(PARENT, ID))


def test_template_stale_regex_is_read_from_the_output_even_on_a_terminal() -> None:
    gemini = template_provider("gemini", GEMINI)
    assert gemini.is_stale(AgentOutput(stderr=b"Error: No session found for id x"))
    assert not gemini.is_stale(AgentOutput(stderr=b"ok"))
    assert gemini.watch(Step.resume(ID)).required
    assert not gemini.watch(Step.new(ID)).stdout  # nothing to read when the id is chosen


def test_template_subcommand_prefix_goes_after_the_commands_subcommand() -> None:
    opencode = template_provider("oc", OPENCODE)  # not the built-in opencode
    assert not opencode.chooses_id
    command = opencode.prepare_command(["opencode", "run", "--format", "json", "hi"])
    assert opencode.build_argv(command, Step.new()) == ["opencode", "run", "--format", "json", "hi"]
    assert opencode.build_argv(command, Step.resume("ses_abc")) == [
        "opencode",
        "run",
        "--session",
        "ses_abc",
        "--format",
        "json",
        "hi",
    ]
    assert opencode.build_argv(command, Step.fork("ses_abc")) == [
        "opencode",
        "run",
        "--session",
        "ses_abc",
        "--fork",
        "--format",
        "json",
        "hi",
    ]


def test_template_capture_regex_finds_the_new_id() -> None:
    opencode = template_provider("oc", OPENCODE)  # not the built-in opencode
    watch = opencode.watch(Step.new())
    assert (watch.stdout, watch.stderr, watch.required) == (True, True, True)
    out = b'{"type":"step_start","sessionID":"ses_4f2a9c","part":{}}\n'
    assert opencode.captured_id(AgentOutput(stdout=out)) == "ses_4f2a9c"
    assert opencode.captured_id(AgentOutput(stdout=b"nothing")) is None


def test_template_refuses_its_own_session_flags() -> None:
    opencode = template_provider("oc", OPENCODE)  # not the built-in opencode
    with pytest.raises(InvalidInput, match="already picks a session"):
        opencode.prepare_command(["opencode", "run", "--session", "ses_x", "hi"])
    gemini = template_provider("gemini", GEMINI)
    with pytest.raises(InvalidInput):
        gemini.prepare_command(["gemini", "--resume=latest"])


def test_template_direct_construction() -> None:
    provider = TemplateProvider("x", ProviderTemplate(resume=("-s", "{session_id}")))
    assert provider.locator is None  # sessmap cannot know where such an agent keeps transcripts
    assert provider.opens_session_file is False
    assert provider.session_file_id(f"/h/sessions/rollout-2026-11-21T10-49-54-{ID}.jsonl") is None
    assert provider.build_argv(["x", "go"], Step.resume(ID)) == ["x", "-s", ID, "go"]


def test_builtins_win_and_unknown_providers_are_usage_errors() -> None:
    config = parse_config({"providers": {"claude": {"resume": ["-x", "{session_id}"]}}}, Path("c.toml"))
    assert isinstance(get_provider("claude", config), ClaudeProvider)
    with pytest.raises(InvalidInput, match="unknown provider"):
        get_provider("gemini")
