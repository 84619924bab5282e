"""Fixtures for the end-to-end tests with the real agent CLIs (see realagents.py).

Every test that runs an agent is parametrised over the version sets ``SESSMAP_E2E_AGENTS``
selects (agentversions.py). A test taking an ``agent`` argument runs once per agent named by
its ``@pytest.mark.agents(...)`` mark and per set, with ids like ``claude-2.1.197``; a test
without one names the versions of the agents its mark lists (default: claude and codex).
"""

from __future__ import annotations

import pytest
from agentversions import DEFAULT_AGENTS, set_id, sets_for, version
from realagents import agent_bin, model_server, sandbox

__all__ = ["agent_bin", "model_server", "sandbox"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "agents(*names): the agent CLIs an e2e test runs (agents.toml)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "agent_set" not in metafunc.fixturenames:
        return
    mark = metafunc.definition.get_closest_marker("agents")
    names = tuple(mark.args) if mark and mark.args else DEFAULT_AGENTS
    if "agent" in metafunc.fixturenames:
        pairs = [(name, agent_set) for name in names for agent_set in sets_for([name])]
        ids = [version(name, agent_set).id for name, agent_set in pairs]
        metafunc.parametrize(("agent", "agent_set"), pairs, ids=ids, scope="session")
    else:
        sets = sets_for(names)
        metafunc.parametrize("agent_set", sets, ids=[set_id(s, names) for s in sets], scope="session")
