// Package cli is pipbake's command line: flag parsing and output over the
// core packages. The pipbake binary runs it, and so does the Packer plugin
// when it is uploaded to a machine as the pipbake agent.
//
// Every command writes where it is told: its result to stdout, its log,
// warnings and errors to stderr (see stdio), so that tests run the command
// line in process, in parallel.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

// exitError carries an exit status for main. A nil err means the command
// has said everything already; usage marks a usage error, after which the
// command's short usage is printed.
type exitError struct {
	code  int
	err   error
	usage bool
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// usageErr is a usage error: exit status 2, the message, then the
// command's short usage.
func usageErr(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...), usage: true}
}

// stdio is where a command reads and writes: its result (a listing, a
// report, JSON) goes to stdout, its log, warnings and help to stderr
// (help asked for with -h goes to stdout).
type stdio struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// onHelp, when set, is given the flag set of a command asked for -h
	// instead of the help being printed (completion collects flags so).
	onHelp func(*flagSet)
}

// Main runs the pipbake command line with args (without the program name)
// and exits with its status: 0 success, 1 failure (or drift, for verify),
// 2 usage or operational error where a command says so.
func Main(args []string) {
	ctx, stop := signalContext()
	code := Run(ctx, args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Run runs the command line with args (without the program name), reading
// stdin and writing to stdout and stderr, and returns the exit status Main
// exits with. It touches no other process-wide state, so tests call it in
// parallel.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	code, _ := execute(ctx, args, stdio{stdin: stdin, stdout: stdout, stderr: stderr})
	return code
}

// execute runs the command line, prints its error (once) and returns the
// exit status and the error.
func execute(ctx context.Context, args []string, s stdio) (int, error) {
	err := run(ctx, args, s)
	if err == nil {
		return 0, nil
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			return code, err
		}
	}
	fmt.Fprintf(s.stderr, "pipbake: %v\n", err)
	if ee != nil && ee.usage && len(args) > 0 {
		if c := lookup(args[0]); c != nil {
			c.help.short(s.stderr)
		}
	}
	return code, err
}

// signalContext is cancelled, with the signal as its cause, on SIGINT,
// SIGTERM, and SIGHUP unless that is ignored (nohup): the terminal or the
// SSH session that ran pipbake is gone. An install cancelled so stops
// before it switches current and removes its new release.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := []os.Signal{os.Interrupt, syscall.SIGTERM}
	if !signal.Ignored(syscall.SIGHUP) {
		sigs = append(sigs, syscall.SIGHUP)
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			cancel(fmt.Errorf("got %v", s))
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(context.Canceled)
	}
}

// command is one subcommand: its help and what it runs.
type command struct {
	help commandHelp
	run  func(ctx context.Context, s stdio, args []string) error
	// helpArgs are the argument lists that show each of its flag sets
	// with -h (default: just -h, and one per variant); completion offers
	// the flags of all.
	helpArgs [][]string
	// hidden commands are run by pipbake itself (activate, on a host that
	// push reaches) and not listed.
	hidden bool
}

// variant is another form of a command that its flags choose (rollback
// --asg, releases --host, verify --image), with its own flags and run.
// The full build has them (variants in full.go); the lean agent none.
type variant struct {
	// match reports whether the arguments choose this form.
	match func(args []string) bool
	run   func(ctx context.Context, s stdio, args []string) error
	// forms are its lines in the command's help, flags its flag set
	// (printed there under heading), helpArg a flag that chooses it.
	forms   []string
	heading string
	flags   func(stdio) *flagSet
	helpArg string
}

// withVariants adds the forms and flags of the command's variants to its
// help.
func withVariants(h commandHelp) commandHelp {
	h.forms = slices.Clone(h.forms)
	for _, v := range variants(h.name) {
		h.forms = append(h.forms, v.forms...)
		h.extra = append(h.extra, extraFlags{heading: v.heading, flags: v.flags})
	}
	return h
}

// runVariant runs the variant of command name that args choose, and
// reports whether there was one.
func runVariant(ctx context.Context, s stdio, name string, args []string) (bool, error) {
	for _, v := range variants(name) {
		if v.match(args) {
			return true, v.run(ctx, s, args)
		}
	}
	return false, nil
}

// commands are the subcommands in the order `pipbake help` lists them:
// the agent's (this file) and, in the full build, fullCommands (full.go).
func commands() []*command {
	cmds := []*command{
		{help: installHelp, run: cmdInstall},
		{help: withVariants(verifyHelp), run: cmdVerify},
		{help: withVariants(releasesHelp), run: cmdReleases},
		{help: stopHelp, run: cmdStop},
		{help: withVariants(rollbackHelp), run: cmdRollback},
		{help: versionHelp, run: cmdVersion},
		{help: helpHelp, run: cmdHelp},
		{help: completionHelp, run: cmdCompletion},
		{help: activateHelp, run: cmdActivate, hidden: true},
	}
	cmds = append(cmds, fullCommands()...)
	for _, c := range cmds {
		if len(c.helpArgs) == 0 {
			c.helpArgs = [][]string{{"-h"}}
			for _, v := range variants(c.help.name) {
				c.helpArgs = append(c.helpArgs, []string{v.helpArg, "-h"})
			}
		}
	}
	rank := func(c *command) int {
		if i := slices.Index(commandOrder, c.help.name); i >= 0 {
			return i
		}
		return len(commandOrder)
	}
	slices.SortStableFunc(cmds, func(a, b *command) int { return rank(a) - rank(b) })
	return cmds
}

// commandOrder is the order of `pipbake help`: a set's way from lock to
// machine, then the catalog, then the rest.
var commandOrder = []string{"lock", "fetch", "install", "verify", "releases", "stop", "rollback", "push",
	"images", "promote", "revoke", "unrevoke", "diff", "prune", "inspect", "cache", "demo", "version", "help", "completion"}

// lookup finds a command by name.
func lookup(name string) *command {
	for _, c := range commands() {
		if c.help.name == name {
			return c
		}
	}
	return nil
}

func run(ctx context.Context, args []string, s stdio) error {
	if len(args) == 0 {
		printUsage(s.stderr)
		return &exitError{code: 2}
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help":
		name = "help"
	case "--version", "-version":
		name = "version"
	}
	if c := lookup(name); c != nil {
		if done, err := runVariant(ctx, s, name, rest); done {
			return err
		}
		return c.run(ctx, s, rest)
	}
	msg := fmt.Sprintf("unknown command %q", name)
	if near := nearest(name, commandNames()); near != "" {
		msg += fmt.Sprintf("; did you mean %q?", near)
	}
	fmt.Fprintf(s.stderr, "pipbake: %s\nRun \"pipbake help\" for the commands.\n", msg)
	return &exitError{code: 2}
}

func commandNames() []string {
	var names []string
	for _, c := range commands() {
		if !c.hidden {
			names = append(names, c.help.name)
		}
	}
	return names
}

// printUsage lists the commands, one line each.
func printUsage(w io.Writer) {
	fmt.Fprint(w, "pipbake: bake pinned Python and Node.js package sets into machine images\n\nUsage: pipbake COMMAND [flags]\n\nCommands:\n")
	for _, c := range commands() {
		if !c.hidden {
			fmt.Fprintf(w, "  %-10s %s\n", c.help.name, c.help.does)
		}
	}
	fmt.Fprint(w, "\nRun \"pipbake COMMAND -h\" (or \"pipbake help COMMAND\") for a command's forms, flags and an example.\n")
}

var helpHelp = commandHelp{
	name:    "help",
	does:    "list the commands, or show one command's help",
	forms:   []string{"[COMMAND]"},
	example: "pipbake help install",
}

func cmdHelp(ctx context.Context, s stdio, args []string) error {
	fs := helpHelp.flags(s)
	operands, err := fs.parseOperands(args)
	if err != nil {
		return err
	}
	switch len(operands) {
	case 0:
		printUsage(s.stdout)
		return nil
	case 1:
		if c := lookup(operands[0]); c != nil {
			return c.run(ctx, s, []string{"-h"})
		}
	}
	return run(ctx, operands, s) // the unknown command's error
}

// printJSON writes v to w as indented JSON: every command's --json.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
