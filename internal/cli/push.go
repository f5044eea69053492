//go:build !pipbake_agent

package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
	"github.com/pipbake/packer-plugin-pipbake/internal/push"
	"github.com/pipbake/packer-plugin-pipbake/internal/pyccache"
	"github.com/pipbake/packer-plugin-pipbake/internal/release"
	"github.com/pipbake/packer-plugin-pipbake/internal/sshremote"
)

// IsHostCommand reports whether releases' or rollback's arguments name
// hosts (--host, --hosts-file): the fleet's commands over SSH.
func IsHostCommand(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		name := strings.TrimLeft(a, "-")
		if a == name {
			continue
		}
		name, _, _ = strings.Cut(name, "=")
		if name == "host" || name == "hosts-file" {
			return true
		}
	}
	return false
}

var pushHelp = commandHelp{
	name:    "push",
	does:    "install a plan's sets on running hosts over SSH, restart their services, check health, switch back on a failure",
	forms:   []string{"-f pipbake.hcl (--host [user@]HOST[:PORT] ... | --hosts-file FILE) [--parallel N | --rolling K] [--sudo] [--dry-run] [--json]"},
	example: "pipbake push -f pipbake.hcl --host deploy@web-1 --host deploy@web-2 --rolling 1 --sudo",
	more: `Each host gets the agent, the plan and the wheels its Python needs, installs
a new release of every set, then restarts the services and checks their
health; a failed check switches that host back. --rolling K stops at the
first batch that fails and leaves the rest as they are.`,
}

// hostReleasesHelp and hostRollbackHelp are releases' and rollback's forms
// over SSH.
var (
	hostReleasesHelp = commandHelp{
		name:    "releases",
		does:    "list the releases of a plan's sets (or of release roots) on hosts over SSH",
		forms:   []string{"(-f pipbake.hcl | --root DIR ...) (--host HOST ... | --hosts-file FILE) [--json]"},
		example: "pipbake releases -f pipbake.hcl --host web-1 --host web-2",
	}
	hostRollbackHelp = commandHelp{
		name:    "rollback",
		does:    "switch a plan's sets (or release roots) on hosts over SSH back to an earlier release and restart their services",
		forms:   []string{"(-f pipbake.hcl | --root DIR ...) (--host HOST ... | --hosts-file FILE) [--to ID] [--json]"},
		example: "pipbake rollback -f pipbake.hcl --hosts-file fleet.txt --sudo",
	}
)

// hostReleases and hostRollback are releases and rollback over SSH: the
// arguments name hosts.
var (
	hostReleases = variant{
		match:   IsHostCommand,
		run:     cmdHostReleases,
		forms:   hostReleasesHelp.forms,
		heading: "Flags with --host or --hosts-file",
		flags: func(s stdio) *flagSet {
			fs, _ := hostReleasesFlagSet(s)
			return fs
		},
		helpArg: "--host=x",
	}
	hostRollback = variant{
		match:   IsHostCommand,
		run:     cmdHostRollback,
		forms:   hostRollbackHelp.forms,
		heading: "Flags with --host or --hosts-file",
		flags: func(s stdio) *flagSet {
			fs, _, _ := hostRollbackFlagSet(s)
			return fs
		},
		helpArg: "--host=x",
	}
)

// fleetFlags are the flags push, rollback --host and releases --host share.
type fleetFlags struct {
	hasRoots     bool
	planFile     *string
	roots        listFlag
	hosts        listFlag
	hostsFile    *string
	identity     *string
	sshConfig    *string
	acceptNew    *bool
	parallel     *int
	sudo         *bool
	sudoStdin    *bool
	agentPath    *string
	asJSON       *bool
	quiet        *bool
	connectLimit *time.Duration
}

func addFleetFlags(fs *flag.FlagSet, roots bool) *fleetFlags {
	f := &fleetFlags{}
	f.planFile = fs.String("f", "", "the `pipbake.hcl` plan: its sets, roots, services and health checks")
	if f.hasRoots = roots; roots {
		fs.Var(&f.roots, "root", "a release root `folder` on the hosts (instead of -f; repeatable)")
	}
	fs.Var(&f.hosts, "host", "a host, `[user@]HOST[:PORT]` or a name from the ssh config (repeatable)")
	f.hostsFile = fs.String("hosts-file", "", "a `file` of hosts, one a line (# comments)")
	f.identity = fs.String("identity", "", "a private key `file` to try first (besides ssh-agent and the config's)")
	f.sshConfig = fs.String("ssh-config", "", "the ssh config `file` (default ~/.ssh/config)")
	f.acceptNew = fs.Bool("accept-new-host-keys", false, "record the keys of hosts known_hosts does not know (a changed key is still refused)")
	f.parallel = fs.Int("parallel", 0, "work on `N` hosts at once (default 1)")
	f.sudo = fs.Bool("sudo", false, "run the agent with sudo (sudo -n: no password, unless --sudo-password-stdin)")
	f.sudoStdin = fs.Bool("sudo-password-stdin", false, "read the sudo password from the first line of standard input")
	f.agentPath = fs.String("agent", "", "a pipbake `binary` to upload as the agent (for hosts of another OS or architecture)")
	f.asJSON = fs.Bool("json", false, "print the report as JSON")
	f.quiet = fs.Bool("quiet", false, "print no progress, only the report")
	f.connectLimit = fs.Duration("connect-timeout", 0, "bound connecting to each host (default: the config's ConnectTimeout, else 20s)")
	return f
}

// options turns the flags into push.Options: the plan, hosts and SSH.
func (f *fleetFlags) options(cmd string, s stdio) (*push.Options, *plan.Plan, error) {
	usage := func(format string, args ...any) error {
		return usageErr(cmd+": "+format, args...)
	}
	opts := &push.Options{Parallel: *f.parallel, Sudo: *f.sudo, AgentPath: *f.agentPath}
	var pl *plan.Plan
	switch {
	case *f.planFile != "" && len(f.roots) > 0:
		return nil, nil, usage("give -f or --root, not both")
	case *f.planFile != "":
		var err error
		if pl, err = plan.Load(*f.planFile); err != nil {
			return nil, nil, err
		}
		opts.Sets = pl.Sets
	case len(f.roots) > 0:
		for _, r := range f.roots {
			if !filepath.IsAbs(r) {
				return nil, nil, usage("--root %s must be an absolute path", r)
			}
			opts.Sets = append(opts.Sets, plan.Set{Name: filepath.Base(r), Root: r, Lock: "-"})
		}
		if problems := plan.CheckSets(opts.Sets); len(problems) > 0 {
			return nil, nil, usage("%s", problems[0].Msg)
		}
	default:
		if !f.hasRoots {
			return nil, nil, usage("-f pipbake.hcl is required")
		}
		return nil, nil, usage("-f pipbake.hcl or --root is required")
	}
	opts.Hosts = append(opts.Hosts, f.hosts...)
	if *f.hostsFile != "" {
		hs, err := readHostsFile(*f.hostsFile)
		if err != nil {
			return nil, nil, err
		}
		opts.Hosts = append(opts.Hosts, hs...)
	}
	if len(opts.Hosts) == 0 {
		return nil, nil, usage("no hosts: give --host or --hosts-file")
	}
	if *f.sudoStdin {
		if !*f.sudo {
			return nil, nil, usage("--sudo-password-stdin goes with --sudo")
		}
		line, err := bufio.NewReader(s.stdin).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return nil, nil, fmt.Errorf("%s: read the sudo password from standard input: %w", cmd, err)
		}
		opts.SudoPassword = strings.TrimRight(line, "\r\n")
		if opts.SudoPassword == "" {
			return nil, nil, usage("the sudo password on standard input is empty")
		}
	}
	env := sshremote.Env{}
	if home, err := os.UserHomeDir(); err == nil {
		env.Home = home
	}
	if u, err := user.Current(); err == nil {
		env.LocalUser = u.Username
	}
	cfgPath := *f.sshConfig
	if cfgPath == "" && env.Home != "" {
		cfgPath = filepath.Join(env.Home, ".ssh", "config")
	} else if cfgPath != "" {
		if _, err := os.Stat(cfgPath); err != nil {
			return nil, nil, fmt.Errorf("%s: --ssh-config: %w", cmd, err)
		}
	}
	opts.SSH = sshremote.Options{Env: env, Identity: *f.identity, AcceptNewHostKeys: *f.acceptNew, Timeout: *f.connectLimit}
	if cfgPath != "" {
		c, err := sshremote.LoadConfig(cfgPath, env)
		if err != nil {
			return nil, nil, err
		}
		opts.SSH.Config = c
	}
	if !*f.quiet {
		opts.Log = s.stderr
	}
	return opts, pl, nil
}

func readHostsFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read hosts file: %w", err)
	}
	var hosts []string
	for i, l := range strings.Split(string(data), "\n") {
		l, _, _ = strings.Cut(l, "#")
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if _, err := sshremote.ParseDestination(l); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		hosts = append(hosts, l)
	}
	return hosts, nil
}

func cmdPush(ctx context.Context, s stdio, args []string) error {
	fs := pushHelp.flags(s)
	f := addFleetFlags(fs.FlagSet, false)
	rolling := fs.Int("rolling", 0, "work on `K` hosts at a time and stop at the first that fails, leaving the rest as they are")
	rel := fs.String("release", "", "the release `id` (default: the plan's, else the UTC time)")
	dryRun := fs.Bool("dry-run", false, "connect, probe and choose the wheels per host; change nothing")
	receipts := fs.String("receipt-output", "", "a `folder` that gets <host>/<set>.json receipts and SBOMs")
	var sources listFlag
	fs.Var(&sources, "source", "fetch wheels from this index `URL`, folder or s3:// prefix instead of the plan's wheelhouse (repeatable)")
	cache := fs.String("cache", "", "the fetch cache `folder` (with --source)")
	bytecodeCache := fs.String("bytecode-cache", "", "send .pyc files from (and keep what the hosts compile in) this bytecode cache `folder`, or off (default $"+pyccache.Env+", else ~/.cache/pipbake/bytecode)")
	if err := fs.parse(args); err != nil {
		return err
	}
	opts, pl, err := f.options("push", s)
	if err != nil {
		return err
	}
	opts.Rolling, opts.DryRun, opts.ReceiptOutput = *rolling, *dryRun, *receipts
	opts.Wheelhouse, opts.Tarballs, opts.Sources, opts.Cache = pl.Wheelhouse, pl.Tarballs, sources, *cache
	if opts.BytecodeCache = pyccache.Dir(*bytecodeCache); opts.BytecodeCache == "" {
		opts.BytecodeCache = pyccache.Off // and the hosts keep none either
	}
	if len(sources) > 0 {
		opts.Wheelhouse, opts.Tarballs = "", ""
	} else if opts.Wheelhouse == "" && opts.Tarballs == "" {
		return usageErr("push: the plan has no wheelhouse; set one or give --source")
	}
	opts.Release = *rel
	if opts.Release == "" {
		opts.Release = pl.Release
	}
	if opts.Release == "" {
		opts.Release = time.Now().UTC().Format("20060102T150405Z")
	}
	if err := release.ValidID(opts.Release); err != nil {
		return usageErr("push: %w", err)
	}
	for _, set := range opts.Sets {
		if set.Health != nil && set.KeepOrDefault() == 1 && opts.Log != nil {
			fmt.Fprintf(opts.Log, "pipbake: warning: set %q keeps 1 release: a failed health check has nothing to switch back to\n", set.Name)
		}
	}
	rep, err := push.Push(ctx, *opts)
	if rep != nil {
		if perr := printFleet(s.stdout, rep, *f.asJSON); perr != nil && err == nil {
			err = perr
		}
	}
	return err
}

func hostRollbackFlagSet(s stdio) (*flagSet, *fleetFlags, *string) {
	fs := hostRollbackHelp.flags(s)
	f := addFleetFlags(fs.FlagSet, true)
	to := fs.String("to", "", "the release `id` to switch to (default: the one before current, per set)")
	return fs, f, to
}

func cmdHostRollback(ctx context.Context, s stdio, args []string) error {
	fs, f, to := hostRollbackFlagSet(s)
	if err := fs.parse(args); err != nil {
		return err
	}
	opts, _, err := f.options("rollback", s)
	if err != nil {
		return err
	}
	rep, err := push.Rollback(ctx, *opts, *to)
	if rep != nil {
		if perr := printFleet(s.stdout, rep, *f.asJSON); perr != nil && err == nil {
			err = perr
		}
	}
	return err
}

func hostReleasesFlagSet(s stdio) (*flagSet, *fleetFlags) {
	fs := hostReleasesHelp.flags(s)
	return fs, addFleetFlags(fs.FlagSet, true)
}

func cmdHostReleases(ctx context.Context, s stdio, args []string) error {
	fs, f := hostReleasesFlagSet(s)
	if err := fs.parse(args); err != nil {
		return err
	}
	opts, _, err := f.options("releases", s)
	if err != nil {
		return err
	}
	if opts.Parallel == 0 {
		opts.Parallel = 8
	}
	rep, err := push.Releases(ctx, *opts)
	if rep == nil {
		return err
	}
	if *f.asJSON {
		if perr := printJSON(s.stdout, rep); perr != nil {
			return perr
		}
		return err
	}
	tw := tabwriter.NewWriter(s.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tSET\t\tRELEASE\tCREATED\tRUNTIME\tPACKAGES")
	for _, h := range rep.Hosts {
		if h.Error != "" {
			fmt.Fprintf(tw, "%s\t\t\t%s\t\t\t\n", h.Host, "error: "+h.Error)
			continue
		}
		for _, set := range h.Sets {
			if len(set.Releases) == 0 {
				fmt.Fprintf(tw, "%s\t%s\t\t(none)\t\t\t\n", h.Host, set.Set)
			}
			for _, r := range set.Releases {
				mark := ""
				if r.Current {
					mark = "*"
				}
				rt := r.Python
				if r.Node != "" {
					rt = "node " + r.Node
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", h.Host, set.Set, mark, r.ID, r.Created, rt, r.Distributions)
			}
		}
	}
	if perr := tw.Flush(); perr != nil {
		return perr
	}
	return err
}

// printFleet prints which host runs what after a push or rollback.
func printFleet(w io.Writer, rep *push.Report, asJSON bool) error {
	if asJSON {
		return printJSON(w, rep)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tSTATUS\tRUNS\tNOTE")
	for _, h := range rep.Hosts {
		var runs []string
		for _, s := range h.Sets {
			runs = append(runs, s.Set+"="+orNone(s.Current))
		}
		if len(runs) == 0 {
			runs = []string{"?"}
		}
		note := h.Error
		switch {
		case h.Status == push.Skipped && note == "":
			note = "not pushed: the rolling push stopped at " + rep.StoppedAt
		case h.Activation != nil && len(h.Activation.NotRestarted) > 0 && note == "":
			note = "systemd not running: did not restart " + strings.Join(h.Activation.NotRestarted, ", ")
		}
		if len(note) > 200 {
			note = note[:200] + "..."
		}
		note = strings.ReplaceAll(note, "\n", " ")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", h.Host, h.Status, strings.Join(runs, " "), note)
	}
	return tw.Flush()
}
