package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// commandHelp is what `pipbake COMMAND -h` says before the flags: what the
// command does (one line), its forms and an example, then more (optional
// paragraphs).
type commandHelp struct {
	name, does string
	forms      []string
	example    string
	more       string
	// extra are further flag sets the forms take (rollback --asg's, beside
	// rollback --root's), printed after the command's own, each under its
	// heading.
	extra []extraFlags
	// operands are the words the first operand may be (cache's
	// subcommands), for completion.
	operands []string
}

type extraFlags struct {
	heading string
	flags   func(stdio) *flagSet
}

// print writes the whole help: the line, the forms, the example, more and
// the flags of fs (when given) and of extra.
func (h commandHelp) print(w io.Writer, fs *flagSet) {
	fmt.Fprintf(w, "pipbake %s: %s\n\nUsage:\n", h.name, h.does)
	h.printForms(w)
	fmt.Fprintf(w, "\nExample:\n  %s\n", h.example)
	if h.more != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(h.more))
	}
	if fs != nil && hasFlags(fs.FlagSet) {
		fmt.Fprint(w, "\nFlags:\n")
		printDefaults(w, fs.FlagSet)
	}
	for _, x := range h.extra {
		fmt.Fprintf(w, "\n%s:\n", x.heading)
		printDefaults(w, x.flags(stdio{stdout: io.Discard, stderr: io.Discard}).FlagSet)
	}
}

func (h commandHelp) printForms(w io.Writer) {
	for _, f := range h.forms {
		fmt.Fprintf(w, "  pipbake %s %s\n", h.name, f)
	}
	if len(h.forms) == 0 {
		fmt.Fprintf(w, "  pipbake %s\n", h.name)
	}
}

// short writes the usage a usage error is followed by: the forms and where
// the rest is.
func (h commandHelp) short(w io.Writer) {
	fmt.Fprint(w, "Usage:\n")
	h.printForms(w)
	fmt.Fprintf(w, "Run \"pipbake %s -h\" for the flags and an example.\n", h.name)
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

func printDefaults(w io.Writer, fs *flag.FlagSet) {
	old := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(old)
}

// flagSet is a command's flags with its help and where it writes: parse
// prints -h's help to stdout and a bad flag's one error and the short usage
// to stderr.
type flagSet struct {
	*flag.FlagSet
	help commandHelp
	s    stdio
}

// flags returns a new flag set for the command.
func (h commandHelp) flags(s stdio) *flagSet {
	fs := flag.NewFlagSet("pipbake "+h.name, flag.ContinueOnError)
	// The flag package would print the error and the whole usage itself;
	// parse does it instead, once.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, help: h, s: s}
}

// parse parses flags, turning -h into the help (exit 0) and a bad flag or
// an operand into a usage error (exit 2).
func (fs *flagSet) parse(args []string) error {
	if err := fs.parseFlags(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("%s: unexpected argument %q", fs.help.name, fs.Arg(0))
	}
	return nil
}

func (fs *flagSet) parseFlags(args []string) error {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		if fs.s.onHelp != nil {
			fs.s.onHelp(fs)
		} else {
			fs.help.print(fs.s.stdout, fs)
		}
		return &exitError{code: 0}
	}
	return usageErr("%s: %v", fs.help.name, err)
}

// parseOperands parses flags given before, between or after operands, and
// returns the operands; everything after "--" is an operand.
func (fs *flagSet) parseOperands(args []string) ([]string, error) {
	var operands []string
	for {
		if err := fs.parseFlags(args); err != nil {
			return nil, err
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

// nearest returns the name closest to s by edit distance, or "" when none
// is close (more than a third of the letters, at least 2, differ) and none
// starts with s.
func nearest(s string, names []string) string {
	best, bestD := "", -1
	for _, n := range names {
		d := editDistance(s, n)
		if bestD < 0 || d < bestD {
			best, bestD = n, d
		}
	}
	limit := max(2, len(s)/3)
	if bestD >= 0 && bestD <= limit {
		return best
	}
	if len(s) >= 2 {
		for _, n := range names {
			if strings.HasPrefix(n, s) {
				return n
			}
		}
	}
	return ""
}

// editDistance is the Levenshtein distance of a and b, counting an
// exchange of two neighbouring letters as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
