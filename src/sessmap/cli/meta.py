"""The Typer commands about sessmap itself: ``completion SHELL`` (the scripts of
cli/completion.py) and ``help [TOPIC | COMMAND]`` (the topics of cli/topics.py)."""

from __future__ import annotations

from typing import Annotated, Literal

import typer
from typer._click.shell_completion import add_completion_class
from typer._completion_classes import BashComplete, FishComplete, ZshComplete, completion_init

from sessmap.cli import completion as scripts
from sessmap.cli import topics

group = typer.Typer()


# Click's `_SESSMAP_COMPLETE=source_<shell> sessmap` prints the same scripts as `completion`.
class _Bash(BashComplete):
    def source(self) -> str:
        return scripts.script("bash").rstrip("\n")  # Click's echo adds the last newline


class _Zsh(ZshComplete):
    def source(self) -> str:
        return scripts.script("zsh").rstrip("\n")


class _Fish(FishComplete):
    def source(self) -> str:
        return scripts.script("fish").rstrip("\n")


# Typer registers its completion protocol (what the scripts speak, under _SESSMAP_COMPLETE)
# only for apps with add_completion on; ours is off, so register it here, with our scripts.
completion_init()
for _shell, _cls in (("bash", _Bash), ("zsh", _Zsh), ("fish", _Fish)):
    add_completion_class(_cls, _shell)

Shell = Literal["bash", "zsh", "fish"]


@group.command()
def completion(shell: Annotated[Shell, typer.Argument(help="bash, zsh or fish.")]) -> None:
    """Print the shell completion script; thread keys complete from the store.

    Writes to stdout only; no rc file is touched.

    \b
    Example:
      eval "$(sessmap completion bash)"                         # in ~/.bashrc
      sessmap completion zsh > "${fpath[1]}/_sessmap"           # before compinit
      sessmap completion fish > ~/.config/fish/completions/sessmap.fish
    """
    typer.echo(scripts.script(shell), nl=False)


@group.command(name="help")
def help_command(
    ctx: typer.Context,
    topic: Annotated[
        list[str] | None,
        typer.Argument(
            help="exit-codes, environment, formats, store-urls, or a command.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Show a help topic, or a command's --help; alone, list the topics.

    \b
    Example:
      sessmap help exit-codes
      sessmap help exec
    """
    words = topic or []
    if not words:
        typer.echo(topics.listing(), nl=False)
        return
    if len(words) == 1 and words[0] in topics.TOPICS:
        typer.echo(topics.render(topics.TOPICS[words[0]]), nl=False)
        return
    typer.echo(_command_help(ctx, words), nl=False)


def _command_help(ctx: typer.Context, words: list[str]) -> str:
    """``sessmap WORDS… --help``, or a usage error naming the topics."""
    root = ctx.find_root()
    command, context = root.command, root
    for word in words:
        lookup = getattr(command, "get_command", None)
        found = lookup(context, word) if lookup is not None else None
        if found is None or getattr(found, "hidden", False):
            known = ", ".join(topics.TOPICS)
            message = f"no help topic or command {' '.join(words)!r} (topics: {known})"
            raise typer.BadParameter(message, ctx=ctx, param_hint="TOPIC")
        command = found
        context = command.make_context(word, ["--help"], parent=context, resilient_parsing=True)
    text = command.get_help(context)
    return text + "\n"
