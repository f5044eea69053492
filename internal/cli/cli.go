// Package cli is pipbake's command line: flag parsing and output over the
// core packages. The pipbake binary runs it, and so does the Packer plugin
// when it is uploaded to a machine as the pipbake agent.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// exitError carries an exit status for main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

const usage = `pipbake: bake pinned Python package sets into machine images

Usage:
  pipbake lock    --wheelhouse DIR [--requirements FILE] [--format requirements|pylock] [-o FILE]
  pipbake fetch   --lock FILE --out DIR [--source URL|DIR|s3://...] [target flags]
  pipbake install --lock FILE --wheelhouse DIR --root DIR [flags]
  pipbake install -f pipbake.hcl [--release ID]
  pipbake verify   --root DIR [--json]        exit 0 clean, 1 drift, 2 error
  pipbake verify   --image REF --key PUB [--json]   | --ami ID --key PUB --attestations DIR
  pipbake releases --root DIR [--json]
  pipbake rollback --root DIR [--to ID]
  pipbake stop     --plan FILE [--wait 30s]     stop an install -f FILE on this machine, print the state
  pipbake push     -f pipbake.hcl --host [user@]HOST[:PORT] ... [--parallel N | --rolling K] [--sudo] [--dry-run] [--json]
  pipbake releases -f pipbake.hcl --host HOST ... [--json]
  pipbake rollback -f pipbake.hcl --host HOST ... [--to ID]
  pipbake images   --family F [--region R ...] [--json]   | --repo REF
  pipbake promote  --asg NAME ... (--release ID | --image AMI) [--dry-run] [--wait] [refresh flags]
  pipbake promote  --repo REF --release ID --tag TAG [--dry-run]
  pipbake rollback --asg NAME ... [--to ID] [--dry-run] [--wait] [refresh flags]
  pipbake rollback --repo REF --tag TAG [--to ID] [--dry-run]
  pipbake revoke   --family F --release ID --reason TEXT   | --repo REF ...   (unrevoke takes it back)
  pipbake diff     A B [--family F | --repo REF] [--json]
  pipbake prune    --family F --keep N [--dry-run | --yes]
  pipbake prune    --repo REF [--family F] --keep N [--dry-run | --yes]
  pipbake inspect  (IMAGE-REF | oci-layout:DIR | AMI-ID | RELEASE-DIR) [--json]
  pipbake cache    prune --max-size 2GB | size   the bytecode cache [--dir DIR]
  pipbake demo     [--out DIR] [--python PATH]
  pipbake version

Run "pipbake COMMAND -h" for a command's flags.
`

// Main runs the pipbake command line with args (without the program name)
// and exits with its status: 0 success, 1 failure (or drift, for verify),
// 2 usage or operational error where a command says so.
func Main(args []string) {
	ctx, stop := signalContext()
	err := run(ctx, args)
	stop()
	if err == nil {
		return
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			os.Exit(code)
		}
	}
	fmt.Fprintf(os.Stderr, "pipbake: %v\n", err)
	os.Exit(code)
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

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return &exitError{code: 2}
	}
	cmd, rest := args[0], args[1:]
	if f, ok := fullCommands[cmd]; ok { // full.go: not in the lean agent build
		return f(ctx, rest)
	}
	if done, err := hostCommand(ctx, cmd, rest); done { // push.go: releases and rollback over SSH
		return err
	}
	switch cmd {
	case "push":
		return cmdPush(ctx, rest)
	case "activate": // the agent's side of push and rollback --host
		return cmdActivate(ctx, rest)
	case "install":
		return cmdInstall(ctx, rest)
	case "verify":
		return cmdVerify(ctx, rest)
	case "releases":
		return cmdReleases(rest)
	case "stop":
		return cmdStop(rest)
	case "rollback":
		if done, err := catalogRollback(ctx, rest); done {
			return err
		}
		return cmdRollback(rest)
	case "version", "--version":
		fmt.Println(versionString())
		return nil
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return &exitError{code: 2, err: fmt.Errorf("unknown command %q", cmd)}
}
