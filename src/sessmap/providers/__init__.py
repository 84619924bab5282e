"""Agent CLIs behind one Provider protocol; ``get_provider`` resolves a name.

Built in: ``claude``, ``codex``, ``copilot``, ``opencode`` and ``qwen``. Others come from
``[providers.NAME]`` templates in the config. Provider modules load only when their provider is asked for.
"""

from __future__ import annotations

from sessmap.config import Config
from sessmap.errors import InvalidInput
from sessmap.providers.base import AgentOutput, OutputWatch, Provider, Step

__all__ = [
    "BUILTIN_PROVIDERS",
    "AgentOutput",
    "OutputWatch",
    "Provider",
    "Step",
    "get_provider",
    "provider_names",
]

BUILTIN_PROVIDERS = ("claude", "codex", "copilot", "opencode", "qwen")


def provider_names(config: Config | None = None) -> list[str]:
    return sorted({*BUILTIN_PROVIDERS, *(config.providers if config else {})})


def get_provider(name: str, config: Config | None = None) -> Provider:
    """The provider called ``name``; a config template wins over nothing, never over built-ins."""
    if name == "claude":
        from sessmap.providers.claude import ClaudeProvider

        return ClaudeProvider()
    if name == "codex":
        from sessmap.providers.codex import CodexProvider

        return CodexProvider()
    if name == "qwen":
        from sessmap.providers.qwen import QwenProvider

        return QwenProvider()
    if name == "copilot":
        from sessmap.providers.copilot import CopilotProvider

        return CopilotProvider()
    if name == "opencode":
        from sessmap.providers.opencode import OpenCodeProvider

        return OpenCodeProvider()
    if config is not None and name in config.providers:
        from sessmap.providers.template import TemplateProvider

        return TemplateProvider(name, config.providers[name])
    raise InvalidInput(
        f"unknown provider {name!r}",
        hint=f"use one of {', '.join(provider_names(config))}, or define [providers.{name}] in the config",
    )
