"""The shell completion scripts ``sessmap completion SHELL`` prints, and the one source of the
files in completions/ (``python -m sessmap.cli.completion --write completions``;
tests/cli/test_completion_shells.py fails when they differ).

The scripts only collect the command line and hand it to ``sessmap`` under
``_SESSMAP_COMPLETE=complete_<shell>``, Click's dynamic completion protocol, so thread keys
come from the store at the moment of the Tab (cli/complete.py). They replace Typer's own
scripts, which split keys at ``:`` in bash, were not loadable by zsh's compinit (a blank line
before ``#compdef``), and asked sessmap to complete the agent's command line after ``--``.

Typer-free: nothing here but strings.
"""

from __future__ import annotations

import sys
from pathlib import Path

SHELLS = ("bash", "zsh", "fish")

# Where each script goes in completions/ and, through the wheel's shared-data, under share/.
FILES = {"bash": "sessmap.bash", "zsh": "_sessmap", "fish": "sessmap.fish"}

BASH = r"""# bash completion for sessmap. Load it from ~/.bashrc:
#   eval "$(sessmap completion bash)"
# or save it where bash-completion finds it:
#   sessmap completion bash > ~/.local/share/bash-completion/completions/sessmap

_sessmap_completion() {
    local cur=${COMP_WORDS[COMP_CWORD]} i
    # After `--` comes the agent's own command line (exec KEY -- CMD ARG...): the shell's.
    for (( i = 1; i < COMP_CWORD; i++ )); do
        if [[ ${COMP_WORDS[i]} == -- ]]; then
            if declare -F _comp_command_offset >/dev/null; then
                _comp_command_offset $(( i + 1 ))
            elif declare -F _command_offset >/dev/null; then
                _command_offset $(( i + 1 ))
            elif (( COMP_CWORD == i + 1 )); then
                mapfile -t COMPREPLY < <(compgen -c -- "$cur")
            else
                mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            fi
            return 0
        fi
    done
    # COMP_WORDS is split at every character of COMP_WORDBREAKS, ':' among them, which would
    # cut a key like slack:C1:1700000000.1 in five: read the words from the line instead.
    local line=${COMP_LINE:0:COMP_POINT} words=()
    read -r -a words <<< "$line"
    local cword=$(( ${#words[@]} - 1 ))
    if [[ -z $line || $line == *[[:space:]] ]]; then
        cword=${#words[@]}
    fi
    local word=${words[cword]-}
    local IFS=$'\n'
    COMPREPLY=( $(env COMP_WORDS="$line" COMP_CWORD="$cword" _SESSMAP_COMPLETE=complete_bash "$1") )
    # Bash replaces only its own current word, the part after the last break character: drop
    # what comes before it from every candidate (as bash-completion's
    # __ltrim_colon_completions does, for any break character).
    if [[ $word != "$cur" && $word == *"$cur" ]]; then
        local before=${word%"$cur"}
        for i in "${!COMPREPLY[@]}"; do
            COMPREPLY[i]=${COMPREPLY[i]#"$before"}
        done
    fi
    return 0
}

complete -o default -F _sessmap_completion sessmap
"""

# The first line must be `#compdef`: compinit reads only that line to decide what to load.
ZSH = r"""#compdef sessmap
# zsh completion for sessmap. Save it as _sessmap in a folder on $fpath, before compinit:
#   sessmap completion zsh > "${fpath[1]}/_sessmap"
# or load it in ~/.zshrc after compinit:
#   eval "$(sessmap completion zsh)"

_sessmap() {
  local -i dashdash=${words[(i)--]}
  if (( dashdash < CURRENT )); then
    # After `--` comes the agent's own command line (exec KEY -- CMD ARG...): the shell's.
    shift $dashdash words
    (( CURRENT -= dashdash ))
    _normal
    return
  fi
  eval "$(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _SESSMAP_COMPLETE=complete_zsh sessmap)"
}

# Autoloaded from $fpath, this file's body is the first call of _sessmap; sourced or eval'd,
# it registers the function instead.
if [[ $funcstack[1] == _sessmap ]]; then
  _sessmap "$@"
else
  compdef _sessmap sessmap
fi
"""

FISH = r"""# fish completion for sessmap. Save it where fish looks for completions:
#   sessmap completion fish > ~/.config/fish/completions/sessmap.fish

function __sessmap_complete
    set -l tokens (commandline -opc)
    if set -l at (contains -i -- -- $tokens)
        # After `--` comes the agent's own command line (exec KEY -- CMD ARG...): the shell's.
        set -l rest (string escape -- $tokens[(math $at + 1)..-1])
        if test (count $tokens) -le $at
            set rest
        end
        complete -C (string join ' ' -- $rest (commandline -ct))
        return
    end
    set -l candidates (env _SESSMAP_COMPLETE=complete_fish _TYPER_COMPLETE_FISH_ACTION=get-args \
        _TYPER_COMPLETE_ARGS=(commandline -cp) sessmap | string match -v -- '')
    if set -q candidates[1]
        printf '%s\n' $candidates
    else
        # Nothing of sessmap's here (import FILE, --cwd DIR...): paths.
        __fish_complete_path (commandline -ct)
    end
end

complete --command sessmap --no-files --arguments '(__sessmap_complete)'
"""

SCRIPTS = {"bash": BASH, "zsh": ZSH, "fish": FISH}


def script(shell: str) -> str:
    """The completion script for ``shell`` (one of ``SHELLS``)."""
    return SCRIPTS[shell]


def write(folder: Path) -> None:
    for shell, name in FILES.items():
        (folder / name).write_text(script(shell))


def main(argv: list[str]) -> int:
    if argv[:1] == ["--write"] and len(argv) == 2:
        write(Path(argv[1]))
        return 0
    sys.stderr.write("usage: python -m sessmap.cli.completion --write FOLDER\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
