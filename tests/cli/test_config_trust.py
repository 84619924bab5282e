"""A config file with a typo warns instead of stopping every command; a bad value is refused
when set, and named by file and key when found."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from tests.support import SESSMAP


def sessmap(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SESSMAP_")}
    env["SESSMAP_CONFIG"] = str(tmp_path / "config.toml")
    return subprocess.run(
        [SESSMAP, *args], capture_output=True, text=True, cwd=tmp_path, env=env, check=False
    )


def seeded(tmp_path: Path, config: str) -> Path:
    store = tmp_path / "s.db"
    made = subprocess.run(
        [SESSMAP, "--store", f"sqlite:{store}", "create", "k1", "--session-id", "s-1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    path = tmp_path / "config.toml"
    path.write_text(f'store = "sqlite:{store}"\n{config}')
    return path


@pytest.mark.slow
def test_an_unknown_setting_is_a_warning_and_the_command_runs(tmp_path: Path) -> None:
    path = seeded(tmp_path, 'colour = "red"\n[agents.r]\nmodel = "x"\n')
    result = sessmap(tmp_path, "get", "k1")
    assert (result.returncode, result.stdout) == (0, "s-1\n")
    assert result.stderr.splitlines() == [
        f"sessmap: warning: config file {path}: unknown setting 'colour' ignored; "
        "remove it with `sessmap config unset colour`",
        f"sessmap: warning: config file {path}: unknown setting 'agents.r.model' ignored; "
        "remove it with `sessmap config unset agents.r.model`",
    ]
    quiet = sessmap(tmp_path, "-q", "get", "k1")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "s-1\n", "")


@pytest.mark.slow
def test_config_unset_removes_an_unknown_setting(tmp_path: Path) -> None:
    path = seeded(tmp_path, 'colour = "red"\n[agents.r]\nmodel = "x"\n')
    for name in ("colour", "agents.r.model"):
        result = sessmap(tmp_path, "config", "unset", name)
        assert result.returncode == 0, result.stderr
    assert "colour" not in path.read_text() and "agents" not in path.read_text()
    assert sessmap(tmp_path, "get", "k1").stderr == ""


@pytest.mark.slow
def test_unsetting_a_name_neither_known_nor_in_the_file_is_still_an_error(tmp_path: Path) -> None:
    seeded(tmp_path, "")
    result = sessmap(tmp_path, "config", "unset", "colour")
    assert result.returncode == 2
    assert "unknown setting 'colour'" in result.stderr


@pytest.mark.slow
def test_config_set_refuses_a_value_of_the_wrong_kind_and_leaves_the_file(tmp_path: Path) -> None:
    path = seeded(tmp_path, "")
    before = path.read_bytes()
    result = sessmap(tmp_path, "config", "set", "store", "5")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert f"config file {path}, key store: cannot tell which store '5' is" in line
    assert "write sqlite:PATH" in line  # the next step
    assert path.read_bytes() == before


@pytest.mark.slow
def test_a_bad_store_in_the_config_is_named_by_file_and_key_and_doctor_reports_it(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('store = "5"\n')
    result = sessmap(tmp_path, "list")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"sessmap: error: config file {path}, key store: ")
    doctor = sessmap(tmp_path, "--store", f"sqlite:{tmp_path / 'other.db'}", "doctor")
    assert doctor.returncode == 1
    assert f"config file {path}, key store" in doctor.stdout
    unset = sessmap(tmp_path, "config", "unset", "store")
    assert unset.returncode == 0, unset.stderr
