"""Fixtures for the end-to-end tests with the real agent CLIs (see realagents.py)."""

from realagents import agent_bin, model_server, sandbox

__all__ = ["agent_bin", "model_server", "sandbox"]
