# bash completion for sessmap. Load it from ~/.bashrc:
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
