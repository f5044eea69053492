//go:build !pipbake_agent

package cli

import (
	"errors"
	"flag"
	"fmt"
	"strings"
)

// commandHelp is what `pipbake COMMAND -h` says before the flags: what the
// command does (one line), its forms and an example.
type commandHelp struct {
	name, does string
	forms      []string
	example    string
}

func (h commandHelp) flags() *flag.FlagSet {
	fs := newFlags(h.name)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "pipbake %s: %s\n\nUsage:\n", h.name, h.does)
		for _, f := range h.forms {
			fmt.Fprintf(w, "  pipbake %s %s\n", h.name, f)
		}
		fmt.Fprintf(w, "\nExample:\n  %s\n\nFlags:\n", h.example)
		fs.PrintDefaults()
	}
	return fs
}

// parseOperands parses flags given before, between or after operands, and
// returns the operands; everything after "--" is an operand.
func parseOperands(fs *flag.FlagSet, args []string) ([]string, error) {
	var operands []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, &exitError{code: 0}
			}
			return nil, &exitError{code: 2, err: err}
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(operands, rest...), nil
		}
		if len(rest) == 0 {
			return operands, nil
		}
		operands = append(operands, rest[0])
		args = rest[1:]
	}
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, " ")
}
