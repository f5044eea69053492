package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

var completionHelp = commandHelp{
	name:    "completion",
	does:    "print a shell completion script for pipbake's commands and flags",
	forms:   []string{"bash", "zsh", "fish"},
	example: "source <(pipbake completion bash)",
	more: `Load it for every shell: bash: add the example to ~/.bashrc (or save the
script as /etc/bash_completion.d/pipbake); zsh: save it as _pipbake in a
folder of $fpath (or add "source <(pipbake completion zsh)" to ~/.zshrc
after compinit); fish: save it as ~/.config/fish/completions/pipbake.fish.`,
}

func cmdCompletion(ctx context.Context, s stdio, args []string) error {
	fs := completionHelp.flags(s)
	operands, err := fs.parseOperands(args)
	if err != nil {
		return err
	}
	if len(operands) != 1 {
		return usageErr("completion: name one shell: bash, zsh or fish")
	}
	cmds := completionData(ctx)
	switch operands[0] {
	case "bash":
		writeBash(s.stdout, cmds)
	case "zsh":
		writeZsh(s.stdout, cmds)
	case "fish":
		writeFish(s.stdout, cmds)
	default:
		msg := fmt.Sprintf("completion: no script for %q: give bash, zsh or fish", operands[0])
		if near := nearest(operands[0], []string{"bash", "zsh", "fish"}); near != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", near)
		}
		return usageErr("%s", msg)
	}
	return nil
}

// completionFlag is one flag a command takes.
type completionFlag struct {
	name, usage string
	isBool      bool
}

// completionCommand is a command with its flags, and the words its first
// operand may be (help's commands, completion's shells).
type completionCommand struct {
	name, does string
	flags      []completionFlag
	operands   []string
}

// completionData collects every command's flags from the flag sets the
// commands themselves make: each is run with -h, which hands its flag set
// to onHelp instead of printing the help.
func completionData(ctx context.Context) []completionCommand {
	var out []completionCommand
	for _, c := range commands() {
		if c.hidden {
			continue
		}
		cc := completionCommand{name: c.help.name, does: c.help.does}
		seen := map[string]bool{}
		for _, a := range c.helpArgs {
			s := stdio{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, onHelp: func(fs *flagSet) {
				fs.VisitAll(func(f *flag.Flag) {
					if seen[f.Name] {
						return
					}
					seen[f.Name] = true
					_, usage := flag.UnquoteUsage(f)
					b, ok := f.Value.(interface{ IsBoolFlag() bool })
					cc.flags = append(cc.flags, completionFlag{name: f.Name, usage: usage, isBool: ok && b.IsBoolFlag()})
				})
			}}
			_ = run(ctx, append([]string{c.help.name}, a...), s)
		}
		sort.Slice(cc.flags, func(i, j int) bool { return cc.flags[i].name < cc.flags[j].name })
		switch c.help.name {
		case "help":
			cc.operands = commandNames()
		case "completion":
			cc.operands = []string{"bash", "zsh", "fish"}
		default:
			cc.operands = c.help.operands
		}
		out = append(out, cc)
	}
	return out
}

// dash is how a flag is offered: --name, or -x for a one-letter flag.
func (f completionFlag) dash() string {
	if len(f.name) == 1 {
		return "-" + f.name
	}
	return "--" + f.name
}

func writeBash(w io.Writer, cmds []completionCommand) {
	fmt.Fprint(w, `# bash completion for pipbake (pipbake completion bash).
# Load it with: source <(pipbake completion bash)
_pipbake() {
    local cur=${COMP_WORDS[COMP_CWORD]} words=
    if [[ $COMP_CWORD -eq 1 ]]; then
        COMPREPLY=($(compgen -W "`)
	var names []string
	for _, c := range cmds {
		names = append(names, c.name)
	}
	fmt.Fprintf(w, "%s\" -- \"$cur\"))\n        return\n    fi\n    case ${COMP_WORDS[1]} in\n", strings.Join(names, " "))
	for _, c := range cmds {
		var ws []string
		for _, f := range c.flags {
			ws = append(ws, f.dash())
		}
		fmt.Fprintf(w, "    %s)\n", c.name)
		if len(c.operands) > 0 {
			fmt.Fprintf(w, "        if [[ $COMP_CWORD -eq 2 && $cur != -* ]]; then COMPREPLY=($(compgen -W %q -- \"$cur\")); return; fi\n", strings.Join(c.operands, " "))
		}
		fmt.Fprintf(w, "        words=%q ;;\n", strings.Join(ws, " "))
	}
	fmt.Fprint(w, `    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
    fi
}
complete -o bashdefault -o default -F _pipbake pipbake
`)
}

func writeZsh(w io.Writer, cmds []completionCommand) {
	fmt.Fprint(w, `#compdef pipbake
# zsh completion for pipbake (pipbake completion zsh). Save it as _pipbake
# in a folder of $fpath, or load it with: source <(pipbake completion zsh)
_pipbake() {
  local -a cmds specs
  cmds=(
`)
	for _, c := range cmds {
		fmt.Fprintf(w, "    %s\n", zshDescribe(c.name, c.does))
	}
	fmt.Fprint(w, `  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'pipbake command' cmds
    return
  fi
  case $words[2] in
`)
	for _, c := range cmds {
		fmt.Fprintf(w, "    (%s)\n", c.name)
		if len(c.operands) > 0 {
			fmt.Fprintf(w, "      if (( CURRENT == 3 )) && [[ $PREFIX != -* ]]; then compadd -- %s; return; fi\n", strings.Join(c.operands, " "))
		}
		fmt.Fprint(w, "      specs=(")
		for _, f := range c.flags {
			fmt.Fprintf(w, "\n        %s", zshSpec(f))
		}
		fmt.Fprint(w, "\n      ) ;;\n")
	}
	fmt.Fprint(w, `  esac
  shift 2 words
  (( CURRENT -= 2 ))
  _arguments -s $specs '*:file:_files'
}
if [[ $zsh_eval_context[-1] == loadautoload ]]; then
  _pipbake "$@"
else
  compdef _pipbake pipbake
fi
`)
}

// zshDescribe is a _describe entry "name:description".
func zshDescribe(name, does string) string {
	d := strings.NewReplacer(`\`, `\\`, ":", `\:`).Replace(does)
	return "'" + strings.ReplaceAll(name+":"+d, "'", `'\''`) + "'"
}

// zshSpec is an _arguments spec: -x[usage] or *-x[usage]:name:_files,
// with the usage's brackets and colons escaped.
func zshSpec(f completionFlag) string {
	u := strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`, ":", `\:`).Replace(f.usage)
	spec := f.dash() + "[" + u + "]"
	if !f.isBool {
		spec = "*" + spec + ":" + f.name + ":_files"
	}
	return "'" + strings.ReplaceAll(spec, "'", `'\''`) + "'"
}

// fishQuote quotes s as a single-quoted fish string.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}

func writeFish(w io.Writer, cmds []completionCommand) {
	fmt.Fprint(w, "# fish completion for pipbake (pipbake completion fish). Save it as\n# ~/.config/fish/completions/pipbake.fish, or load it with: pipbake completion fish | source\n")
	fmt.Fprint(w, "complete -c pipbake -e\n")
	for _, c := range cmds {
		fmt.Fprintf(w, "complete -c pipbake -f -n __fish_use_subcommand -a %s -d %s\n", c.name, fishQuote(c.does))
	}
	for _, c := range cmds {
		cond := fishQuote("__fish_seen_subcommand_from " + c.name)
		if len(c.operands) > 0 {
			fmt.Fprintf(w, "complete -c pipbake -f -n %s -a %s\n", cond, fishQuote(strings.Join(c.operands, " ")))
		}
		for _, f := range c.flags {
			opt := "-l " + f.name
			if len(f.name) == 1 {
				opt = "-s " + f.name
			}
			if !f.isBool {
				opt += " -r -F"
			}
			fmt.Fprintf(w, "complete -c pipbake -n %s %s -d %s\n", cond, opt, fishQuote(f.usage))
		}
	}
}
