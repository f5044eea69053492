// Package push deploys package sets to running machines over SSH, the way
// the Packer provisioner bakes them into an image and through the same
// code (internal/bake, over internal/sshremote): per host, probe, choose
// or fetch the wheels here, upload the agent, plan, locks and wheels as
// one stream, install (an atomic switch of each set's `current`), bring
// the receipts back; then the agent's `activate` restarts the services,
// runs the health checks and, when one fails, switches that host back.
//
// Hosts go N at a time (Parallel), or K at a time stopping at the first
// host that fails (Rolling). Rollback and Releases run the agent's own
// rollback and listing on each host.
package push

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pipbake/packer-plugin-pipbake/internal/activate"
	"github.com/pipbake/packer-plugin-pipbake/internal/bake"
	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
	"github.com/pipbake/packer-plugin-pipbake/internal/shell"
	"github.com/pipbake/packer-plugin-pipbake/internal/sshremote"
)

// Options configure a push, a rollback or a listing.
type Options struct {
	// Sets are the plan's sets, lock paths on this host.
	Sets []plan.Set
	// Wheelhouse is a local folder of wheels, or Sources are fetched from
	// (into Cache), as for the provisioner.
	Wheelhouse string
	// Tarballs is a local folder of the Node sets' npm tarballs (default:
	// Wheelhouse).
	Tarballs string
	Sources  []string
	Cache    string
	// BytecodeCache is the local bytecode cache whose .pyc files travel
	// with the wheels and which gets what the hosts compiled (as in a
	// Packer bake: bake.Options.BytecodeCache); pyccache.Off: none.
	BytecodeCache string
	// Release is the release id every host gets.
	Release string
	// Hosts are the destinations, [user@]host[:port] or ssh config names.
	Hosts []string
	// SSH configures the connections.
	SSH sshremote.Options
	// Parallel is how many hosts are worked on at once (default 1); every
	// host is tried.
	Parallel int
	// Rolling, when set, works on that many hosts at a time and stops at
	// the first batch with a failed host: the rest stay as they are.
	Rolling int
	// Sudo runs the agent with sudo; SudoPassword, when set, is given to
	// `sudo -S` on its standard input (else `sudo -n`: no password).
	Sudo         bool
	SudoPassword string
	// DryRun connects, probes and chooses the wheels, and changes nothing.
	DryRun bool
	// AgentPath overrides the agent binary.
	AgentPath string
	// ReceiptOutput, when set, gets DIR/<host>/<set>.json and .cdx.json.
	ReceiptOutput string
	// Log gets progress lines, each prefixed with its host.
	Log io.Writer
}

// Host statuses.
const (
	Updated    = "updated"     // installed, restarted, healthy
	Unchanged  = "unchanged"   // the release was already current (verified)
	RolledBack = "rolled-back" // health check failed: back on the previous release
	Failed     = "failed"      // install, connection or rollback failed
	Skipped    = "skipped"     // not tried: a rolling push stopped earlier
	WouldPush  = "would-push"  // dry run
	Listed     = "listed"      // releases
)

// SetState is one set on one host.
type SetState struct {
	Set string `json:"set"`
	// Before is the release current before; Current the one now ("": none,
	// "?" unknown).
	Before  string `json:"before"`
	Current string `json:"current"`
	// From the receipt brought back, when the set was installed.
	Distributions int    `json:"distributions,omitempty"`
	Python        string `json:"python,omitempty"`
	// Node is a Node set's node version (Python is then empty).
	Node string `json:"node,omitempty"`
	// Releases are the set's releases on the host (Releases only).
	Releases []ReleaseInfo `json:"releases,omitempty"`
}

// ReleaseInfo is one release of a set on a host, as `pipbake releases
// --json` prints it there.
type ReleaseInfo struct {
	ID      string `json:"id"`
	Current bool   `json:"current"`
	Created string `json:"created,omitempty"`
	Python  string `json:"python,omitempty"`
	// Node is a Node set's node version (Python is then empty).
	Node          string `json:"node,omitempty"`
	Distributions int    `json:"distributions"`
	LockSHA256    string `json:"lock_sha256,omitempty"`
}

// HostResult is what happened on one host.
type HostResult struct {
	Host   string     `json:"host"`
	Status string     `json:"status"`
	Error  string     `json:"error,omitempty"`
	Sets   []SetState `json:"sets"`
	// Activation is the agent's report of restarts and health checks.
	Activation *activate.Report `json:"activation,omitempty"`
	// Preview is a dry run's plan for the host.
	Preview  *bake.Preview `json:"preview,omitempty"`
	Uploaded int64         `json:"uploaded_bytes,omitempty"`
	Seconds  float64       `json:"seconds"`
}

// Report is a whole run.
type Report struct {
	Release string       `json:"release,omitempty"`
	Hosts   []HostResult `json:"hosts"`
	// StoppedAt names the host a rolling push stopped at.
	StoppedAt string `json:"stopped_at,omitempty"`
}

// Failed lists the hosts that failed (rolled back included).
func (r *Report) Failed() []string {
	var out []string
	for _, h := range r.Hosts {
		if h.Status == Failed || h.Status == RolledBack {
			out = append(out, h.Host)
		}
	}
	return out
}

func (o *Options) check() error {
	if len(o.Hosts) == 0 {
		return errors.New("no hosts: give --host or --hosts-file")
	}
	if len(o.Sets) == 0 {
		return errors.New("no sets")
	}
	seen := map[string]bool{}
	for _, h := range o.Hosts {
		if _, err := sshremote.ParseDestination(h); err != nil {
			return err
		}
		if seen[h] {
			return fmt.Errorf("host %s is listed twice", h)
		}
		seen[h] = true
	}
	if o.Parallel < 0 || o.Rolling < 0 {
		return errors.New("--parallel and --rolling must not be negative")
	}
	if o.Parallel > 0 && o.Rolling > 0 {
		return errors.New("give --parallel or --rolling, not both (--rolling K works on K hosts at once)")
	}
	return nil
}

// Push deploys the sets to every host. The report holds every host's
// outcome; the error says which hosts failed.
func Push(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if opts.Release == "" {
		return nil, errors.New("push: no release id")
	}
	rep := &Report{Release: opts.Release}
	rep.Hosts = fleet(ctx, &opts, rep, func(ctx context.Context, host string) HostResult {
		return pushHost(ctx, &opts, host)
	})
	return rep, failure(rep, "push")
}

func failure(rep *Report, what string) error {
	if f := rep.Failed(); len(f) > 0 {
		msg := fmt.Sprintf("%s failed on %d of %d hosts: %s", what, len(f), len(rep.Hosts), strings.Join(f, ", "))
		if rep.StoppedAt != "" {
			msg += fmt.Sprintf("; the rolling push stopped at %s", rep.StoppedAt)
		}
		return errors.New(msg)
	}
	return nil
}

// fleet runs one per host, Parallel at a time, or Rolling at a time
// stopping after a batch with a failure (the rest are then only asked
// what they run).
func fleet(ctx context.Context, opts *Options, rep *Report, one func(context.Context, string) HostResult) []HostResult {
	results := make([]HostResult, len(opts.Hosts))
	if opts.Log != nil {
		ctx = context.WithValue(ctx, logKey{}, opts.Log)
	}
	batch := len(opts.Hosts)
	width := max(opts.Parallel, 1)
	if opts.Rolling > 0 {
		batch, width = opts.Rolling, opts.Rolling
	}
	for start := 0; start < len(opts.Hosts); start += batch {
		end := min(start+batch, len(opts.Hosts))
		runAll(ctx, width, opts.Hosts[start:end], results[start:end], one)
		if opts.Rolling == 0 || end == len(opts.Hosts) {
			continue
		}
		for i := start; i < end; i++ {
			if results[i].Status == Failed || results[i].Status == RolledBack {
				rep.StoppedAt = results[i].Host
				break
			}
		}
		if rep.StoppedAt == "" && ctx.Err() == nil {
			continue
		}
		// the rest stay as they are; say what they run
		runAll(ctx, width, opts.Hosts[end:], results[end:], func(ctx context.Context, host string) HostResult {
			return skippedHost(ctx, opts, host)
		})
		break
	}
	return results
}

type logKey struct{}

// logOf is the run's log writer, which fleet puts in the context.
func logOf(ctx context.Context) io.Writer {
	w, _ := ctx.Value(logKey{}).(io.Writer)
	return w
}

func runAll(ctx context.Context, width int, hosts []string, out []HostResult, one func(context.Context, string) HostResult) {
	var g errgroup.Group // a host's failure is in its result
	g.SetLimit(max(1, width))
	for i, h := range hosts {
		g.Go(func() error {
			start := time.Now()
			out[i] = one(ctx, h)
			out[i].Host = h
			out[i].Seconds = time.Since(start).Seconds()
			if out[i].Error != "" {
				word := "FAILED"
				switch out[i].Status {
				case RolledBack:
					word = "SWITCHED BACK"
				case Skipped:
					word = "NOT PUSHED"
				}
				lw := newPrefixWriter(logOf(ctx), "["+h+"] ")
				fmt.Fprintf(lw, "pipbake: %s: %s\n", word, out[i].Error)
			}
			return nil
		})
	}
	_ = g.Wait()
}

// host is one connection, with its log prefix.
type host struct {
	// lastErr is the end of the agent's error output, when it failed.
	lastErr string
	name    string
	client  *sshremote.Client
	log     *prefixWriter
	opts    *Options
}

func dialHost(ctx context.Context, opts *Options, name string) (*host, error) {
	h := &host{name: name, opts: opts, log: newPrefixWriter(opts.Log, "["+name+"] ")}
	so := opts.SSH
	so.Log = h.log
	c, err := sshremote.Dial(ctx, name, so)
	if err != nil {
		return nil, err
	}
	h.client = c
	return h, nil
}

func (h *host) close() {
	h.log.Flush()
	if h.client != nil {
		h.client.Close()
	}
}

func (h *host) logf(format string, args ...any) {
	fmt.Fprintf(h.log, format+"\n", args...)
}

// currents reads each set's current release ("" none) in one command,
// which also removes this user's staging folders of pushes cut off more
// than a day ago.
func (h *host) currents(ctx context.Context) (map[string]string, error) {
	var script strings.Builder
	script.WriteString("find /tmp -maxdepth 1 -name 'pipbake-push-*' -user \"$(id -u)\" -mmin +1440 -exec rm -rf {} + >/dev/null 2>&1; ")
	for _, s := range h.opts.Sets {
		// one line per set: the link's target, or nothing
		fmt.Fprintf(&script, "printf '%%s\\n' \"$(readlink %s 2>/dev/null)\"; ", shell.Quote(filepath.ToSlash(filepath.Join(s.Root, "current"))))
	}
	var out, stderr bytes.Buffer
	code, err := h.client.Run(ctx, "sh -c "+shell.Quote(script.String()), nil, &out, &stderr)
	if err != nil {
		return nil, fmt.Errorf("read the current releases: %w", err)
	}
	if code != 0 {
		return nil, fmt.Errorf("read the current releases: exit status %d: %s", code, strings.TrimSpace(stderr.String()))
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(h.opts.Sets) {
		return nil, fmt.Errorf("read the current releases: %d lines for %d sets", len(lines), len(h.opts.Sets))
	}
	cur := map[string]string{}
	for i, s := range h.opts.Sets {
		l := strings.TrimRight(lines[i], "\r")
		id, ok := strings.CutPrefix(l, "releases/")
		if l != "" && (!ok || strings.Contains(id, "/")) {
			return nil, fmt.Errorf("set %q: %s/current points at %q, outside its releases", s.Name, s.Root, l)
		}
		cur[s.Name] = id
	}
	return cur, nil
}

func (h *host) states(before, now map[string]string) []SetState {
	var out []SetState
	for _, s := range h.opts.Sets {
		st := SetState{Set: s.Name, Before: before[s.Name], Current: "?"}
		if now != nil {
			st.Current = now[s.Name]
		}
		out = append(out, st)
	}
	return out
}

// pushHost deploys to one host.
func pushHost(ctx context.Context, opts *Options, name string) (res HostResult) {
	fail := func(err error) HostResult {
		res.Status, res.Error = Failed, err.Error()
		return res
	}
	h, err := dialHost(ctx, opts, name)
	if err != nil {
		return fail(err)
	}
	defer h.close()
	before, err := h.currents(ctx)
	if err != nil {
		return fail(err)
	}
	res.Sets = h.states(before, before)
	staging := stagingDir(opts.Release)
	bo := bake.Options{
		Sets: opts.Sets, Wheelhouse: opts.Wheelhouse, Tarballs: opts.Tarballs, Sources: opts.Sources, Cache: opts.Cache,
		Release: opts.Release, Staging: staging, AgentPath: opts.AgentPath, BytecodeCache: opts.BytecodeCache,
		Command: opts.agentCommand, SkipClean: true, Log: h.log, Output: h.log,
	}
	if opts.DryRun {
		p, err := bake.PreviewRun(ctx, h.remote(), bo)
		if err != nil {
			return fail(err)
		}
		res.Preview, res.Status = p, WouldPush
		same := true
		for _, s := range opts.Sets {
			same = same && before[s.Name] == opts.Release
		}
		if same {
			res.Status = Unchanged
		}
		h.logf("pipbake: dry run: would upload %d wheels (%.1f MB) and install release %s", p.Wheels, float64(p.Size)/(1<<20), opts.Release)
		return res
	}
	if opts.ReceiptOutput != "" {
		bo.ReceiptOutput = filepath.Join(opts.ReceiptOutput, safeName(name))
	}
	cleaned := false
	clean := func() {
		if cleaned {
			return
		}
		cleaned = true
		var stderr bytes.Buffer
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if code, err := h.client.Run(cctx, "rm -rf "+shell.Quote(staging), nil, nil, &stderr); err != nil || code != 0 {
			h.logf("pipbake: warning: could not remove the staging folder %s: %v %s", staging, err, strings.TrimSpace(stderr.String()))
		}
	}
	defer clean()
	br, err := bake.Run(ctx, h.remote(), bo)
	if err != nil {
		// say what the host runs now, as read from it, not as assumed
		if now, rerr := h.currents(ctx); rerr == nil {
			res.Sets = h.states(before, now)
		} else {
			res.Sets = h.states(before, nil)
		}
		return fail(err)
	}
	res.Uploaded = br.Uploaded
	now := map[string]string{}
	changed := false
	for i, s := range opts.Sets {
		rc := br.Receipts[s.Name]
		if rc == nil {
			return fail(fmt.Errorf("set %q: no receipt came back", s.Name))
		}
		now[s.Name] = rc.Release
		res.Sets[i].Current = rc.Release
		res.Sets[i].Distributions = len(rc.Distributions)
		if rc.Runtime() == plan.KindNode {
			res.Sets[i].Node = rc.Interpreter.Version
		} else {
			res.Sets[i].Python = rc.Interpreter.Version
		}
		changed = changed || rc.Release != before[s.Name]
	}
	if !changed {
		res.Status = Unchanged
		h.logf("pipbake: release %s was already current (verified): nothing restarted", opts.Release)
		return res
	}
	act, code, err := h.activate(ctx, staging, before)
	res.Activation = act
	if act != nil {
		for i := range res.Sets {
			if i < len(act.Sets) && act.Sets[i].Set == res.Sets[i].Set {
				res.Sets[i].Current = act.Sets[i].Current
			}
		}
	}
	switch {
	case err != nil:
		for i := range res.Sets {
			res.Sets[i].Current = "?"
		}
		return fail(fmt.Errorf("installed, then: %w", err))
	case code == activate.ExitUnhealthy:
		res.Status, res.Error = RolledBack, act.Problem
	case code != 0:
		res.Status, res.Error = Failed, act.Problem
	default:
		res.Status = Updated
	}
	return res
}

// activate runs the agent's activate on the host and reads its report.
func (h *host) activate(ctx context.Context, staging string, before map[string]string) (*activate.Report, int, error) {
	args := []string{"activate", "-f", staging + "/plan.json", "--json"}
	for _, s := range h.opts.Sets {
		args = append(args, "--previous", s.Name+"="+before[s.Name])
	}
	agentPath := staging + "/pipbake"
	cmd, err := h.opts.agentCommand(agentPath, shell.Join(args...))
	if err != nil {
		return nil, 0, err
	}
	var out bytes.Buffer
	code, err := h.remote().Run(ctx, cmd, nil, &out, h.log)
	if errors.Is(err, sshremote.ErrNoExitStatus) {
		return nil, 0, fmt.Errorf("the connection was lost while the machine restarted and checked the services: it finishes on its own and switches back if a check fails; see pipbake releases --host %s", h.name)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("release %s is current but its services were neither restarted nor checked (%w): restart them, or switch back with pipbake rollback --host %s", h.opts.Release, err, h.name)
	}
	var rep activate.Report
	if jerr := json.Unmarshal(out.Bytes(), &rep); jerr != nil {
		return nil, code, fmt.Errorf("restart and check the services: exit status %d, no report (%v)", code, jerr)
	}
	return &rep, code, nil
}

// skippedHost says what a host left out of a stopped rolling push runs.
func skippedHost(ctx context.Context, opts *Options, name string) HostResult {
	res := HostResult{Status: Skipped}
	h, err := dialHost(ctx, opts, name)
	if err != nil {
		res.Error = "not pushed; and could not read its releases: " + err.Error()
		return res
	}
	defer h.close()
	cur, err := h.currents(ctx)
	if err != nil {
		res.Error = "not pushed; and could not read its releases: " + err.Error()
		return res
	}
	res.Sets = h.states(cur, cur)
	return res
}

// stagingDir is a folder of its own on the machine for this run.
func stagingDir(releaseID string) string {
	var b [6]byte
	rand.Read(b[:])
	return "/tmp/pipbake-push-" + releaseID + "-" + hex.EncodeToString(b[:])
}

// safeName turns a destination into a folder name.
func safeName(host string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' || r == '@' {
			return r
		}
		return '_'
	}, host)
}
