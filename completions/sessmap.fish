# fish completion for sessmap. Save it where fish looks for completions:
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
