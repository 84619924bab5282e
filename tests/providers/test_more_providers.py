"""qwen, copilot and opencode: each step's command line, refusing commands that pick a session,
reading ids and "no such session" answers (as the real CLIs print them), and transcript paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessmap.errors import InvalidInput
from sessmap.providers import BUILTIN_PROVIDERS, AgentOutput, Step, get_provider
from sessmap.providers.copilot import CopilotProvider
from sessmap.providers.opencode import OpenCodeProvider
from sessmap.providers.qwen import QwenProvider
from sessmap.stores.base import TranscriptKey
from sessmap.transcripts.locate_agents import COPILOT_PROJECT, CopilotLocator, QwenLocator

ID = "11111111-1111-4111-8111-111111111111"
PARENT = "22222222-2222-4222-8222-222222222222"
SES = "ses_dcbbc134bffeoOGvmKqs8Isc51"
SES_PARENT = "ses_dcbbbda62ffe3mQJ2C3ijevtwV"


def argv(
    provider: QwenProvider | CopilotProvider | OpenCodeProvider, command: list[str], step: Step
) -> list[str]:
    return provider.build_argv(provider.prepare_command(command), step)


@pytest.mark.parametrize("name", ["qwen", "copilot", "opencode"])
def test_each_is_built_in_and_inferred_from_the_command_name(name: str) -> None:
    assert name in BUILTIN_PROVIDERS
    assert get_provider(name).name == name


# -- qwen ----------------------------------------------------------------------------------


def test_qwen_new_and_resume_put_the_id_right_after_the_program() -> None:
    qwen = QwenProvider()
    assert argv(qwen, ["qwen", "-p", "hi"], Step.new(ID)) == ["qwen", "--session-id", ID, "-p", "hi"]
    assert argv(qwen, ["qwen", "-p", "hi"], Step.resume(ID)) == ["qwen", "--resume", ID, "-p", "hi"]


def test_qwen_forks_with_fork_session_and_lets_qwen_pick_the_forks_id() -> None:
    qwen = QwenProvider()
    assert qwen.chooses_id and not qwen.chooses_fork_id
    assert argv(qwen, ["qwen", "-o", "json", "-p", "x"], Step.fork(PARENT)) == [
        "qwen",
        "--resume",
        PARENT,
        "--fork-session",
        "-o",
        "json",
        "-p",
        "x",
    ]
    assert qwen.watch(Step.fork(PARENT)).required  # nothing but the output names the fork


@pytest.mark.parametrize("output", [["-o", "stream-json"], ["--output-format=json"], ["-ojson"]])
def test_qwen_fork_accepts_each_json_output_spelling(output: list[str]) -> None:
    assert "--fork-session" in argv(QwenProvider(), ["qwen", *output, "-p", "x"], Step.fork(PARENT))


def test_qwen_fork_without_json_output_is_refused_it_could_not_learn_the_id() -> None:
    with pytest.raises(InvalidInput, match="prints it only in JSON output"):
        argv(QwenProvider(), ["qwen", "-p", "x"], Step.fork(PARENT))


@pytest.mark.parametrize(
    "flag",
    ["--resume", "-r", "--session-id", "-c", "--continue", "--fork-session", "--resume=x", "-rabc", "-yc"],
)
def test_qwen_refuses_a_command_that_picks_a_session(flag: str) -> None:
    with pytest.raises(InvalidInput, match="already picks a session"):
        QwenProvider().prepare_command(["qwen", "-p", "hi", flag])


def test_qwen_short_options_with_values_are_not_taken_for_session_letters() -> None:
    assert QwenProvider().prepare_command(["qwen", "-mqwen-coder", "-p", "hi"])[1] == "-mqwen-coder"


def test_qwen_reads_the_session_id_of_its_json_output_and_its_stale_answer() -> None:
    qwen = QwenProvider()
    events = f'[{{"type":"system","subtype":"init","uuid":"{ID}","session_id":"{ID}","cwd":"/w"}}]'
    assert qwen.captured_id(AgentOutput(stdout=events.encode())) == ID
    assert qwen.captured_id(AgentOutput(stdout=b"plain text")) is None
    stale = f"No saved session found with ID {ID}. Run `qwen --resume` without an ID to choose"
    assert qwen.is_stale(AgentOutput(stderr=stale.encode()))
    assert not qwen.is_stale(AgentOutput(stderr=b"rate limited"))


def test_qwen_transcript_is_under_the_cwd_with_every_other_character_a_dash(tmp_path: Path) -> None:
    locator = QwenLocator()
    home = locator.home({"HOME": str(tmp_path)})
    assert home == tmp_path / ".qwen"
    assert locator.home({"HOME": "/x", "QWEN_HOME": str(tmp_path / "q")}) == tmp_path / "q"
    assert locator.home({"QWEN_HOME": "/q", "QWEN_RUNTIME_DIR": str(tmp_path / "r")}) == tmp_path / "r"
    assert locator.project_key("/tmp/h13p/my_work.d") == "-tmp-h13p-my-work-d"
    path = home / "projects" / "-w-a" / "chats" / f"{ID}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("{}\n")
    found = locator.find(home, ID, "/w/a")
    assert found is not None and found.path == path and found.project_key == "-w-a"
    elsewhere = locator.find(home, ID, "/w/b")  # qwen finds an id in any project folder
    assert elsewhere is not None and elsewhere.path == path
    assert locator.find(home, PARENT, "/w/a") is None
    assert locator.restore_path(home, TranscriptKey("-w-a", ID), None) == path


# -- copilot -------------------------------------------------------------------------------


def test_copilot_new_chooses_the_id_and_resume_uses_resume_which_fails_on_an_unknown_id() -> None:
    copilot = CopilotProvider()
    command = ["copilot", "-p", "hi", "--allow-all-tools"]
    assert argv(copilot, command, Step.new(ID)) == ["copilot", f"--session-id={ID}", *command[1:]]
    assert argv(copilot, command, Step.resume(ID)) == ["copilot", f"--resume={ID}", *command[1:]]


def test_copilot_cannot_fork_from_a_command_line() -> None:
    with pytest.raises(InvalidInput, match="only in its interactive UI") as caught:
        argv(CopilotProvider(), ["copilot", "-p", "x"], Step.fork(PARENT, ID))
    assert caught.value.reason == "fork-unsupported"


@pytest.mark.parametrize("flag", ["--resume", "-r", "--session-id", "--continue", "--resume=x", f"-r{ID}"])
def test_copilot_refuses_a_command_that_picks_a_session(flag: str) -> None:
    with pytest.raises(InvalidInput, match="already picks a session"):
        CopilotProvider().prepare_command(["copilot", "-p", "hi", flag])


def test_copilot_stale_answer() -> None:
    answer = f"Error: No session, task, or name matched '{ID}'.\n\nTo resume by session or task ID:"
    assert CopilotProvider().is_stale(AgentOutput(stderr=answer.encode()))
    assert not CopilotProvider().is_stale(AgentOutput(stderr=b"Error: quota"))


def test_copilot_session_state_folder(tmp_path: Path) -> None:
    locator = CopilotLocator()
    home = locator.home({"HOME": str(tmp_path)})
    assert home == tmp_path / ".copilot"
    assert locator.home({"HOME": "/x", "COPILOT_HOME": str(tmp_path / "c")}) == tmp_path / "c"
    events = home / "session-state" / ID / "events.jsonl"
    assert locator.find(home, ID, None) is None
    events.parent.mkdir(parents=True)
    events.write_text("{}\n")
    found = locator.find(home, ID, "/anywhere")
    assert found is not None and found.path == events and found.project_key == COPILOT_PROJECT
    assert locator.restore_path(home, TranscriptKey(COPILOT_PROJECT, ID), None) == events


# -- opencode ------------------------------------------------------------------------------

RUN = ["opencode", "run", "--format", "json", "fix it"]


def test_opencode_session_words_go_right_after_run() -> None:
    opencode = OpenCodeProvider()
    assert argv(opencode, RUN, Step.new()) == RUN
    assert argv(opencode, RUN, Step.resume(SES)) == ["opencode", "run", "--session", SES, *RUN[2:]]
    assert argv(opencode, RUN, Step.fork(SES_PARENT)) == [
        "opencode",
        "run",
        "--session",
        SES_PARENT,
        "--fork",
        *RUN[2:],
    ]
    top = ["opencode", "--log-level", "ERROR", "run", "--format=json", "x"]
    assert argv(opencode, top, Step.resume(SES)) == [*top[:4], "--session", SES, *top[4:]]


def test_opencode_profile_args_go_after_run() -> None:
    assert OpenCodeProvider().prepare_command(RUN, ("-m", "fake/m")) == [
        "opencode",
        "run",
        "-m",
        "fake/m",
        *RUN[2:],
    ]


@pytest.mark.parametrize("command", [["opencode"], ["opencode", "serve"], ["opencode", "session", "list"]])
def test_opencode_runs_only_run(command: list[str]) -> None:
    with pytest.raises(InvalidInput, match="`run` command only"):
        OpenCodeProvider().prepare_command(command)


def test_opencode_needs_json_output_to_learn_the_id() -> None:
    with pytest.raises(InvalidInput, match="only in JSON output"):
        OpenCodeProvider().prepare_command(["opencode", "run", "fix it"])


@pytest.mark.parametrize("flag", ["--session", "-s", "--continue", "-c", "--fork", f"--session={SES}"])
def test_opencode_refuses_a_command_that_picks_a_session(flag: str) -> None:
    with pytest.raises(InvalidInput, match="already picks a session"):
        OpenCodeProvider().prepare_command([*RUN, flag])


def test_opencode_reads_the_session_id_of_its_json_events_and_its_stale_answer() -> None:
    opencode = OpenCodeProvider()
    line = f'{{"type":"step_start","timestamp":1,"sessionID":"{SES}","part":{{"sessionID":"{SES}"}}}}\n'
    assert opencode.captured_id(AgentOutput(stdout=line.encode())) == SES
    assert opencode.captured_id(AgentOutput(stdout=b"formatted text")) is None
    assert opencode.is_stale(AgentOutput(stderr=b"\x1b[91m\x1b[1mError: \x1b[0mSession not found"))
    assert opencode.watch(Step.new()).required and opencode.watch(Step.resume(SES)).required
    assert opencode.locator is None  # its sessions are rows of an SQLite database
