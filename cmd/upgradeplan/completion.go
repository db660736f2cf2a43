package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
)

// completionCommand prints a shell completion script to source. The scripts are urfave/cli's
// own (autocomplete/bash_autocomplete and zsh_autocomplete of v2.27.7, with the program name
// fixed) and its generated fish script: bash and zsh ask the binary for candidates with
// --generate-bash-completion at every Tab, so they follow the commands and flags of the
// installed version; fish's list is written out when the script is made.
func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish) to source",
		ArgsUsage: "bash|zsh|fish",
		Description: `Load completion for the current shell, or install it for every new one:

   bash:  source <(upgradeplan completion bash)
          upgradeplan completion bash > /etc/bash_completion.d/upgradeplan
   zsh:   source <(upgradeplan completion zsh)
          upgradeplan completion zsh > "${fpath[1]}/_upgradeplan"
   fish:  upgradeplan completion fish | source
          upgradeplan completion fish > ~/.config/fish/completions/upgradeplan.fish`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return exitError(ExitInvalid, usageError{fmt.Errorf("completion needs one shell: bash, zsh or fish")})
			}
			return writeCompletion(c.App, c.Args().First(), c.App.Writer)
		},
	}
}

func writeCompletion(app *cli.App, shell string, w io.Writer) error {
	var script string
	switch shell {
	case "bash":
		script = bashCompletion
	case "zsh":
		script = zshCompletion
	case "fish":
		s, err := app.ToFishCompletion()
		if err != nil {
			return err
		}
		script = s
	default:
		return exitError(ExitInvalid, usageError{fmt.Errorf("unknown shell %q: use bash, zsh or fish", shell)})
	}
	_, err := io.WriteString(w, script)
	return err
}

const bashCompletion = `# bash completion for upgradeplan: source <(upgradeplan completion bash)

# Without the bash-completion package (macOS's bash 3), a minimal _init_completion.
_upgradeplan_init_completion() {
  COMPREPLY=()
  _get_comp_words_by_ref "$@" cur prev words cword
}

_upgradeplan_bash_autocomplete() {
  if [[ "${COMP_WORDS[0]}" != "source" ]]; then
    local cur opts words cword
    COMPREPLY=()
    cur="${COMP_WORDS[COMP_CWORD]}"
    if declare -F _init_completion >/dev/null 2>&1; then
      _init_completion -n "=:" || return
    elif declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
      _upgradeplan_init_completion -n "=:" || return
    else
      words=("${COMP_WORDS[@]}")
      cword=$COMP_CWORD
    fi
    words=("${words[@]:0:$cword}")
    if [[ "$cur" == "-"* ]]; then
      requestComp="${words[*]} ${cur} --generate-bash-completion"
    else
      requestComp="${words[*]} --generate-bash-completion"
    fi
    opts=$(eval "${requestComp}" 2>/dev/null)
    COMPREPLY=($(compgen -W "${opts}" -- ${cur}))
    return 0
  fi
}

complete -o bashdefault -o default -o nospace -F _upgradeplan_bash_autocomplete upgradeplan
`

const zshCompletion = `#compdef upgradeplan
# zsh completion for upgradeplan: source <(upgradeplan completion zsh)

_upgradeplan_zsh_autocomplete() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion)}")
  fi

  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}

compdef _upgradeplan_zsh_autocomplete upgradeplan
`
