// Package bake is the Packer host's side of baking package sets into a
// machine: probe the machine's interpreters, choose (or fetch) exactly the
// wheels each set needs, upload the agent, plan, locks and wheels as one tar
// stream, run the agent there, and bring the receipts back.
//
// It talks to the machine through Remote, which the Packer provisioner
// implements over any builder's communicator.
package bake

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/agent"
	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
	"github.com/pipbake/packer-plugin-pipbake/internal/bundle"
	"github.com/pipbake/packer-plugin-pipbake/internal/fetch"
	"github.com/pipbake/packer-plugin-pipbake/internal/lock"
	"github.com/pipbake/packer-plugin-pipbake/internal/npmstore"
	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
	"github.com/pipbake/packer-plugin-pipbake/internal/progress"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/session"
	"github.com/pipbake/packer-plugin-pipbake/internal/shell"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
)

// Remote is the machine being baked.
type Remote interface {
	// Run runs a shell command line, with stdin (nil: none), and returns
	// its exit status. Cancelling ctx stops waiting for it.
	Run(ctx context.Context, command string, stdin io.Reader, stdout, stderr io.Writer) (int, error)
	// Upload writes size bytes from r to the remote path.
	Upload(ctx context.Context, path string, r io.Reader, size int64) error
	// Download copies a remote file to w.
	Download(ctx context.Context, path string, w io.Writer) error
}

// bundleName is the bundle's file in the staging folder.
const bundleName = "bundle.tar"

// ReceiptsDir is where the agent keeps a copy of every set's receipt, so an
// image can be inspected without knowing the roots.
const ReceiptsDir = "/var/lib/pipbake/receipts"

// Options describe one bake.
type Options struct {
	// Sets to install, with lock paths on this host.
	Sets []plan.Set
	// Wheelhouse is a local folder of wheels; or Sources are fetched from
	// (what `pipbake fetch --source` takes), into Cache.
	Wheelhouse string
	// Tarballs is a local folder of the Node sets' npm tarballs (default:
	// Wheelhouse).
	Tarballs   string
	Sources    []string
	Cache      string
	S3Endpoint string
	// Release is the release id every set is installed under.
	Release string
	// Staging is the folder on the machine the bundle is uploaded to (the
	// agent, plan and locks are unpacked there; the wheels stay inside it).
	Staging string
	// AgentPath overrides the agent binary (agent.For).
	AgentPath string
	// Command renders the command that runs the agent, given the agent's
	// path and its arguments (already quoted); nil runs it directly.
	Command func(agentPath, args string) (string, error)
	// ReceiptOutput, when set, is a local folder that gets each set's
	// receipt (<set>.json), SBOM (<set>.cdx.json) and in-toto statements
	// (attestations/, attest.go).
	ReceiptOutput string
	// Templates are the Packer template files the sets' provenance names,
	// by sha256 (beside the plan's, which the agent hashes).
	Templates []attest.File
	// ProvenanceDir, when set (by the pipbake-oci builder, through
	// GeneratedProvenanceDir), is a folder on this host that gets a
	// PlanRecord of this bake; the sets' statements then name no plan and
	// no template file (attest.go).
	ProvenanceDir string
	// SkipClean leaves the staging folder on the machine.
	SkipClean bool
	// BytecodeCache is the folder of the host's bytecode cache (pyc.go);
	// pyccache.Off: none, and the agent keeps none either; "": none, and
	// the agent keeps its own default.
	BytecodeCache string
	// Log gets progress messages; Output gets the agent's output lines.
	Log, Output io.Writer
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// Result describes a finished bake.
type Result struct {
	Platform agent.Platform
	// Receipts are the receipts brought back, by set name.
	Receipts map[string]*receipt.Receipt
	// Uploaded is the size of the bundle.
	Uploaded int64
	Wheels   int
	// Bytecode counts each set's .pyc files by origin, by set name, as
	// the agent's install result reported them (the receipt does not:
	// it must not depend on the bytecode cache's state). A set without
	// counts (no bytecode, pip, Node, restored from the release cache),
	// or whose result did not come back, is absent.
	Bytecode map[string]Bytecode
}

// Bytecode counts a set's .pyc files: compiled on the machine, or copied
// from the bytecode cache (the pack the bundle carried).
type Bytecode struct {
	Compiled int `json:"compiled"`
	Cached   int `json:"cached"`
}

// String says the counts as the agent's log line does.
func (b Bytecode) String() string {
	return fmt.Sprintf("%d .pyc from the cache, %d compiled", b.Cached, b.Compiled)
}

// Run bakes opts.Sets into the machine behind r. Every command is a round
// trip (on Packer's SSH communicator a new session, a login shell and an
// RPC hop each way), so the steps are few: one command detects the
// machine, makes the staging folder and probes the first interpreter; one
// upload carries everything; one command unpacks and runs the agent; one
// brings every receipt back as a tar stream and cleans up.
func Run(ctx context.Context, r Remote, opts Options) (res *Result, err error) {
	if opts.Staging == "" {
		opts.Staging = "/tmp/pipbake"
	}
	if len(opts.Sets) == 0 {
		return nil, fmt.Errorf("bake: no sets")
	}
	bk := &baking{r: r, opts: opts, ph: newPhases(), cleaned: opts.SkipClean,
		res: &Result{Receipts: map[string]*receipt.Receipt{}, Bytecode: map[string]Bytecode{}}}
	defer func() { err = bk.clean(ctx, err) }()
	// Deferred after the clean-up, so it runs first: staging goes once
	// the agent is gone.
	defer func() { err = bk.cancelled(ctx, err) }()

	tmp, err := os.MkdirTemp("", "pipbake-bake-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bk.tmp = tmp
	defer func() { bk.pyc.close() }() // opened by upload; nil before
	for _, phase := range []func(context.Context) error{bk.probe, bk.upload, bk.install, bk.collect} {
		if err := phase(ctx); err != nil {
			return nil, err
		}
	}
	opts.logf("pipbake: took %s", bk.ph)
	return bk.res, nil
}

// baking is one Run: its options and what each phase leaves for the
// next, in the order the phases fill it.
type baking struct {
	r    Remote
	opts Options
	res  *Result
	ph   *phases
	tmp  string // a temporary folder on this side
	// cleaned: the staging folder is gone (or is to stay: SkipClean).
	cleaned bool

	targets  map[string]probed // each set's runtime (probe)
	currents map[string]string // each root's current release before the bake (probe)
	bin      *agent.Binary     // the agent for the machine's platform (probe)

	pyc        *hostBytecode  // the host's bytecode cache, or nil (upload)
	bundle     *bundle.Bundle // what was uploaded (upload)
	remotePlan *plan.Plan     // the plan as the agent reads it (upload)
	host       *session.Host  // the agent's session, once it runs (install)
}

// clean removes the staging folder on the machine unless a phase did
// (or SkipClean keeps it), even after a cancel (each command then for a
// bounded time); its failure is the error when there was none, and part
// of a cancel's state when there was one.
func (bk *baking) clean(ctx context.Context, err error) error {
	if bk.cleaned {
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	var ce *CancelError
	if _, cerr := runChecked(cctx, bk.r, "rm -rf "+shell.Quote(bk.opts.Staging), nil); cerr != nil {
		cerr = fmt.Errorf("clean staging folder %s: %w", bk.opts.Staging, cerr)
		switch {
		case err == nil:
			err = cerr
		case errors.As(err, &ce):
			ce.State += "; " + cerr.Error()
		}
	} else if errors.As(err, &ce) {
		ce.State += "; the staging folder " + bk.opts.Staging + " was removed"
	}
	return err
}

// cancelled, after a cancel (Ctrl-C in packer build), says at once what
// state the machine is in, then stops the agent through the communicator
// if that still works (cancel.go).
func (bk *baking) cancelled(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	opts := bk.opts
	ce := &CancelError{State: cancelState(opts, bk.host, bk.currents), Err: err}
	opts.logf("pipbake: %s", ce.State)
	if bk.host != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
		defer cancel()
		if confirmed := stopAgent(cctx, bk.r, opts); confirmed != "" {
			opts.logf("pipbake: on the machine now: %s", confirmed)
			ce.State += "; on the machine now: " + confirmed
		}
	}
	return ce
}

// probe learns the machine's platform, each set's runtime and each root's
// current release, and picks the agent.
func (bk *baking) probe(ctx context.Context) error {
	var err error
	bk.targets, bk.currents, err = detect(ctx, bk.r, bk.opts, bk.res)
	if err != nil {
		return err
	}
	if bk.bin, err = agent.For(bk.res.Platform, bk.opts.AgentPath); err != nil {
		return err
	}
	bk.opts.logf("pipbake: machine is %s; agent: %s", bk.res.Platform, bk.bin.From)
	bk.ph.done("connect and probe")
	return nil
}

// upload assembles the bundle (the agent, the plan, the locks, the
// wheels and tarballs each set needs on the machine's runtime) and
// uploads it as one stream.
func (bk *baking) upload(ctx context.Context) error {
	opts := bk.opts
	bk.pyc = openHostBytecode(opts)
	b, remotePlan, nwheels, err := assemble(ctx, opts, bk.bin, bk.targets, bk.tmp, bk.pyc)
	if err != nil {
		return err
	}
	bk.bundle, bk.remotePlan, bk.res.Wheels = b, remotePlan, nwheels
	if slices.ContainsFunc(opts.Sets, func(s plan.Set) bool { return s.KindOrDefault() == plan.KindNode }) {
		bk.ph.done("choose packages")
	} else {
		bk.ph.done("choose wheels")
	}
	rd, size, err := b.Reader()
	if err != nil {
		return err
	}
	opts.logf("pipbake: uploading agent, plan, %d locks and %s as one %.1f MB stream", len(opts.Sets), carried(b.Entries()), float64(size)/(1<<20))
	// Packer's UI takes lines: a line now and then for an upload over a
	// second (a bar on a terminal, when Log is one).
	meter := progress.Start(opts.Log, "pipbake: upload", progress.TotalBytes(size))
	uerr := bk.r.Upload(ctx, opts.Staging+"/"+bundleName, meter.Reader(&ctxReader{ctx: ctx, r: rd}), size)
	meter.Stop()
	rd.Close()
	if uerr != nil {
		return fmt.Errorf("upload the bundle to %s: %w", opts.Staging, uerr)
	}
	bk.res.Uploaded = size
	bk.ph.done(fmt.Sprintf("upload (%.0f MB/s)", float64(size)/(1<<20)/bk.ph.current().Seconds()))
	return nil
}

// carried says what a bundle carries besides the agent, the plan and the
// locks: "3 wheels", "71 npm tarballs", or both.
func carried(entries []string) string {
	nw, nt := 0, 0
	for _, e := range entries {
		switch {
		case strings.HasPrefix(e, "wheels/"):
			nw++
		case strings.HasPrefix(e, "npm/"):
			nt++
		}
	}
	switch {
	case nt > 0 && nw == 0:
		return fmt.Sprintf("%d npm tarballs", nt)
	case nt > 0:
		return fmt.Sprintf("%d wheels and %d npm tarballs", nw, nt)
	}
	return fmt.Sprintf("%d wheels", nw)
}

// install unpacks the bundle on the machine and runs the agent's install
// in a session with this side (internal/session).
func (bk *baking) install(ctx context.Context) error {
	opts := bk.opts
	command, err := installCommand(opts, bk.pyc, bk.bundle.Entries())
	if err != nil {
		return err
	}
	tail := &tailWriter{max: 40}
	stdout, stderr := io.Writer(io.Discard), io.Writer(tail)
	if opts.Output != nil {
		stdout, stderr = opts.Output, io.MultiWriter(opts.Output, tail)
	}
	bk.host = session.NewHost(ctx, announce(opts, bk.currents))
	agentOut := bk.host.Stdout(stdout)
	code, err := bk.r.Run(ctx, command, bk.host.Stdin(), agentOut, stderr)
	bk.host.End()
	agentOut.Flush()
	switch {
	case err != nil:
		return fmt.Errorf("run pipbake on the machine: %w", err)
	case code == exitUnpack:
		return fmt.Errorf("unpack the bundle in %s on the machine; every set's current release is as it was:\n%s", opts.Staging, tail.String())
	case code != 0:
		return fmt.Errorf("pipbake install failed on the machine (exit status %d); every set's current release is as it was:\n%s", code, tail.String())
	}
	bk.ph.done("install")
	return nil
}

// installCommand is the command that unpacks the bundle's agent, plan and
// locks in the staging folder and runs the agent's install.
//
// --session-stdin: the agent stops before its switch once the stdin
// given it ends, which it does when this provision is cancelled or its
// connection dies, and switches only when this side agrees
// (internal/session); --session-staging: it then also removes what it
// was given in the staging folder. --npm-cache off: a store of unpacked
// npm packages on the machine would stay in the image.
func installCommand(opts Options, pyc *hostBytecode, entries []string) (string, error) {
	args := []string{"install", "-f", planPath(opts), "--receipts-dir", ReceiptsDir, "--session-stdin", "--npm-cache", npmstore.Off}
	if !opts.SkipClean {
		args = append(args, "--session-staging", opts.Staging)
	}
	if p := resultPath(opts.Staging); p != "" {
		args = append(args, "--result-file", p)
	}
	args = append(args, pyc.agentArgs(opts)...)
	args = append(args, agentAttestArgs(opts)...)
	command, err := agentCommand(opts, args...)
	if err != nil {
		return "", err
	}
	// Only the agent, the plan and the locks are unpacked: the agent reads
	// the wheels where they lie in the bundle. Unpacked as the
	// communicator's user, like the upload; the agent runs however
	// execute_command says (sudo -E, say). Both under sh, whatever the
	// login shell, so the command's own `;` or `||` cannot skip past a
	// failed unpack.
	var unpack []string
	for _, name := range entries {
		if !slices.ContainsFunc(inBundle, func(dir string) bool { return strings.HasPrefix(name, dir) }) {
			unpack = append(unpack, shell.Quote(name))
		}
	}
	staging, bundlePath := shell.Quote(opts.Staging), shell.Quote(opts.Staging+"/"+bundleName)
	// Readable by all, like the files tar made before: an execute_command
	// may run the agent as another user (sudo -u).
	return "sh -c " + shell.Quote("(tar -xf "+bundlePath+" -C "+staging+" "+strings.Join(unpack, " ")+" && chmod a+r "+bundlePath+") || exit "+strconv.Itoa(exitUnpack)+"; "+command), nil
}

// collect brings the receipts, attestations, result and bytecode back
// from the machine (removing the staging folder with them) and keeps
// them where the options say.
func (bk *baking) collect(ctx context.Context) error {
	opts, sets := bk.opts, bk.remotePlan.Sets
	files, removed, err := bringBack(ctx, bk.r, sets, opts.Staging, !opts.SkipClean, resultPath(opts.Staging), bk.pyc.returnPath(opts.Staging))
	bk.cleaned = bk.cleaned || removed
	if err != nil {
		return err
	}
	if bk.pyc != nil {
		bk.pyc.take(files, opts.Staging)
	}
	for _, s := range sets {
		rc, err := keepReceipt(s, files, opts.ReceiptOutput)
		if err != nil {
			return err
		}
		bk.res.Receipts[s.Name] = rc
	}
	pj, err := bk.remotePlan.JSON() // the bytes assemble put in the bundle
	if err != nil {
		return err
	}
	if opts.ReceiptOutput != "" {
		if err := keepStatements(opts, sets, files, attest.SHA256Hex(pj)); err != nil {
			return err
		}
	}
	if opts.ProvenanceDir != "" {
		if err := writePlanRecord(opts.ProvenanceDir, sets, attest.SHA256Hex(pj)); err != nil {
			return err
		}
	}
	takeResult(files, opts, bk.res)
	bk.ph.done("receipts")
	return nil
}

// detect runs the first command: the machine's OS and architecture, the
// staging folder, and a probe of the first set's runtime (the others, if
// the sets use several, one command each). The probe script goes on the
// command line: no upload. The runtimes are keyed by runtimeKey.
func detect(ctx context.Context, r Remote, opts Options, res *Result) (map[string]probed, map[string]string, error) {
	const marker = "pipbake-staging-ready"
	first := opts.Sets[0]
	var stdout, stderr bytes.Buffer
	// Where each set's current points now, one line per set, so that a
	// cancelled bake can say what it still points at without asking.
	roots := []string{"sh", "-c", `for r; do printf '%s\n' "$(readlink "$r/current")"; done`, "sh"}
	for _, s := range opts.Sets {
		roots = append(roots, s.Root)
	}
	firstEco := ecosystemOf(first)
	code, err := r.Run(ctx, "uname -s -m && mkdir -p "+shell.Quote(opts.Staging)+" && echo "+marker+" && "+shell.Join(roots...)+" && "+firstEco.probe(firstEco.runtime(first)), nil, &stdout, &stderr)
	if err != nil {
		return nil, nil, fmt.Errorf("detect the machine's OS and architecture: %w", err)
	}
	// A PTY (ssh_pty) ends lines with \r\n.
	unameLine, rest, _ := strings.Cut(stdout.String(), "\n")
	ready, rest, _ := strings.Cut(rest, "\n")
	unameLine, ready = strings.TrimRight(unameLine, "\r"), strings.TrimRight(ready, "\r")
	currents := map[string]string{}
	for _, s := range opts.Sets {
		var cur string
		cur, rest, _ = strings.Cut(rest, "\n")
		currents[s.Name] = strings.TrimRight(cur, "\r")
	}
	probeOut := rest
	msg := strings.TrimSpace(stderr.String())
	switch {
	case code != 0 && unameLine == "":
		return nil, nil, fmt.Errorf("detect the machine's OS and architecture: `uname -s -m` exited with status %d: %s", code, msg)
	case code != 0 && ready != marker:
		return nil, nil, fmt.Errorf("create staging folder %s: exit status %d: %s", opts.Staging, code, msg)
	}
	if res.Platform, err = agent.ParseUname(unameLine); err != nil {
		return nil, nil, err
	}
	out := map[string]probed{}
	for _, s := range opts.Sets {
		key, eco := runtimeKey(s), ecosystemOf(s)
		if out[key] != nil {
			continue
		}
		prog := eco.runtime(s)
		if key != runtimeKey(first) {
			stdout.Reset()
			stderr.Reset()
			if code, err = r.Run(ctx, eco.probe(prog), nil, &stdout, &stderr); err != nil {
				return nil, nil, fmt.Errorf("set %q: probe %s %q on the machine: %w", s.Name, s.KindOrDefault(), prog, err)
			}
			probeOut, msg = stdout.String(), strings.TrimSpace(stderr.String())
		}
		if code != 0 {
			return nil, nil, fmt.Errorf("set %q: probe %s %q on the machine: exit status %d: %s", s.Name, s.KindOrDefault(), prog, code, msg)
		}
		rt, err := eco.decode([]byte(probeOut), prog)
		if err != nil {
			return nil, nil, fmt.Errorf("set %q: %w", s.Name, err)
		}
		opts.logf("pipbake: %s: %s", s.Name, rt.describe())
		out[key] = rt
	}
	return out, currents, nil
}

// probeCommand runs the interpreter probe with py, isolated from the
// environment's Python settings. The script travels base64-encoded on one
// line: csh and tcsh login shells refuse newlines inside quotes.
func probeCommand(py string) string {
	code := `import base64;exec(compile(base64.b64decode("` + base64.StdEncoding.EncodeToString(target.ProbeScript()) + `"),"pipbake-probe","exec"))`
	return "env -u PYTHONPATH -u PYTHONHOME " + shell.Quote(py) + " -I -S -c " + shell.Quote(code)
}

func pythonOf(s plan.Set) string {
	if s.Python == "" {
		return "python3"
	}
	return s.Python
}

// assemble chooses each set's packages for its runtime and builds the
// bundle and the plan as the machine will read it.
// Fetched packages go under tmp, which must outlive the upload.
func assemble(ctx context.Context, opts Options, bin *agent.Binary, targets map[string]probed, tmp string, pyc *hostBytecode) (*bundle.Bundle, *plan.Plan, int, error) {
	b := &bundle.Bundle{ModTime: time.Unix(0, 0)}
	if bin.Path != "" {
		if err := b.AddFile("pipbake", bin.Path, 0o755); err != nil {
			return nil, nil, 0, err
		}
	} else {
		b.AddBytes("pipbake", bin.Data, 0o755)
	}
	// The agent reads the packages inside the bundle, where they lie.
	remote := &plan.Plan{Release: opts.Release, Wheelhouse: bundleName}
	packages := map[string]string{} // bundle name -> local path
	var problems []string
	for i, s := range opts.Sets {
		got, err := ecosystemOf(s).bundle(ctx, opts, s, targets[runtimeKey(s)], filepath.Join(tmp, fmt.Sprint(i)))
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		for n, p := range got.packages {
			packages[n] = p
		}
		if py, ok := targets[runtimeKey(s)].(python); ok { // bytecode for its wheels (pyc.go)
			pyc.addWheels(py.t, s, slices.Sorted(maps.Values(got.packages)))
		}
		dir := fmt.Sprintf("locks/%d-%s/", i, s.Name)
		lockName := dir + filepath.Base(s.Lock)
		if err := b.AddFile(lockName, s.Lock, 0o644); err != nil {
			return nil, nil, 0, err
		}
		own := make([]string, 0, len(got.own))
		for base := range got.own {
			own = append(own, base)
		}
		sort.Strings(own)
		for _, base := range own {
			if err := b.AddFile(dir+base, got.own[base], 0o644); err != nil {
				return nil, nil, 0, err
			}
		}
		rs := got.set
		rs.Lock = lockName
		if rs.App != "" {
			rs.App = dir + rs.App
		}
		remote.Sets = append(remote.Sets, rs)
	}
	if len(problems) > 0 {
		return nil, nil, 0, fmt.Errorf("nothing was uploaded:\n%s", strings.Join(problems, "\n"))
	}
	names := make([]string, 0, len(packages))
	for n := range packages {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := b.AddFile(n, packages[n], 0o644); err != nil {
			return nil, nil, 0, err
		}
	}
	if err := pyc.addTo(b, tmp); err != nil {
		return nil, nil, 0, err
	}
	pj, err := remote.JSON()
	if err != nil {
		return nil, nil, 0, err
	}
	b.AddBytes(planName, pj, 0o644)
	return b, remote, len(names), nil
}

// fetchFor fetches a set's wheels for its interpreter into the wheelhouse
// out on this host.
func fetchFor(ctx context.Context, opts Options, s plan.Set, lk *lock.Lock, t *target.Target, out string) (string, error) {
	supported, err := t.Tags()
	if err != nil {
		return "", err
	}
	_, err = fetch.Fetch(ctx, fetch.Options{Locks: []*lock.Lock{lk}, Out: out, Sources: opts.Sources, Tags: supported, Env: t.Markers,
		Cache: opts.Cache, S3Endpoint: opts.S3Endpoint, Log: opts.Log})
	if err != nil {
		return "", fmt.Errorf("set %q: fetch wheels for Python %s: %w", s.Name, t.VersionFull, err)
	}
	return out, nil
}

// Exit statuses of the commands Run builds, for the steps that are not
// the agent's.
const (
	exitUnpack   = 97
	exitReceipts = 90
	exitClean    = 91
)

// receiptPaths are a set's receipt and SBOM on the machine.
func receiptPaths(s plan.Set) (rc, sbom string) {
	dir := path.Clean(s.Root + "/current")
	return dir + "/" + receipt.FileName, dir + "/" + receipt.SBOMName
}

// bringBack reads every set's receipt and SBOM from its current release
// in one command, as a tar stream, and removes the staging folder in the
// same command when clean is set; removed says whether it did. The files
// extras name (absolute paths; "" is skipped) come too when they are
// there, and their absence is no error: the caller says what it means.
// When the stream does not survive the trip (behind a PTY, with ssh_pty,
// tar will not write to the terminal, and the terminal would turn \n
// into \r\n), the files are downloaded one by one instead, the extras
// that fail to download left out.
func bringBack(ctx context.Context, r Remote, sets []plan.Set, staging string, clean bool, extras ...string) (files map[string][]byte, removed bool, err error) {
	var paths []string
	for _, s := range sets {
		rc, sbom := receiptPaths(s)
		paths = append(paths, rc, sbom)
	}
	args := make([]string, len(paths))
	for i, p := range paths {
		args[i] = shell.Quote(strings.TrimPrefix(p, "/"))
	}
	script := "set -- " + strings.Join(args, " ")
	extras = slices.DeleteFunc(slices.Clone(extras), func(p string) bool { return p == "" })
	for _, extra := range extras {
		x := shell.Quote(strings.TrimPrefix(extra, "/"))
		script += "; if [ -f /" + x + " ]; then set -- \"$@\" " + x + "; fi"
	}
	script += "; tar -cf - -C / \"$@\" || exit " + strconv.Itoa(exitReceipts)
	if clean {
		script += "; rm -rf " + shell.Quote(staging) + " || exit " + strconv.Itoa(exitClean)
	}
	var out, stderr bytes.Buffer
	code, err := r.Run(ctx, "sh -c "+shell.Quote(script), nil, &out, &stderr)
	if err != nil {
		return nil, false, fmt.Errorf("download the receipts: %w", err)
	}
	switch code {
	case 0:
		removed = clean
	case exitClean:
		// The receipts came; the deferred clean-up tries again and reports.
	case exitReceipts:
		// tar refuses to write an archive to a terminal (ssh_pty): fetch
		// them one by one below, which names any that is missing.
	default:
		return nil, false, fmt.Errorf("download the receipts: exit status %d: %s", code, strings.TrimSpace(stderr.String()))
	}
	if files, ok := untar(out.Bytes(), paths); ok && code != exitReceipts {
		return files, removed, nil
	}
	files = map[string][]byte{}
	for _, p := range paths {
		var buf bytes.Buffer
		if err := r.Download(ctx, p, &buf); err != nil {
			return nil, removed, fmt.Errorf("download %s: %w", p, err)
		}
		files[p] = buf.Bytes()
	}
	for _, p := range extras {
		var buf bytes.Buffer
		if err := r.Download(ctx, p, &buf); err == nil {
			files[p] = buf.Bytes()
		}
	}
	return files, removed, nil
}

// untar reads the files of a tar stream by absolute path; ok says whether
// the stream was whole and held every one of want.
func untar(data []byte, want []string) (map[string][]byte, bool) {
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false
		}
		name := "/" + strings.TrimPrefix(h.Name, "/")
		switch h.Typeflag {
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, false
			}
			files[name] = b
		case tar.TypeLink: // the same file asked for twice
			files[name] = files["/"+strings.TrimPrefix(h.Linkname, "/")]
		}
	}
	for _, p := range want {
		if _, ok := files[p]; !ok {
			return nil, false
		}
	}
	return files, true
}

// keepReceipt decodes a set's receipt from what bringBack read and, when
// outDir is set, writes it there with the SBOM.
func keepReceipt(s plan.Set, files map[string][]byte, outDir string) (*receipt.Receipt, error) {
	rcPath, sbomPath := receiptPaths(s)
	data := files[rcPath]
	var rc receipt.Receipt
	if err := json.Unmarshal(data, &rc); err != nil {
		return nil, fmt.Errorf("set %q: receipt %s: %w", s.Name, rcPath, err)
	}
	if outDir == "" {
		return &rc, nil
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("receipt_output: %w", err)
	}
	if err := os.WriteFile(filepath.Join(outDir, s.Name+".json"), data, 0o644); err != nil {
		return nil, fmt.Errorf("receipt_output: %w", err)
	}
	sbom := files[sbomPath]
	if err := os.WriteFile(filepath.Join(outDir, s.Name+".cdx.json"), sbom, 0o644); err != nil {
		return nil, fmt.Errorf("receipt_output: %w", err)
	}
	return &rc, nil
}

// phases times the steps of a bake, for the closing summary.
type phases struct {
	start, mark time.Time
	parts       []string
}

func newPhases() *phases {
	now := time.Now()
	return &phases{start: now, mark: now}
}

// done ends the step called name.
func (p *phases) done(name string) {
	now := time.Now()
	p.parts = append(p.parts, fmt.Sprintf("%s %.2fs", name, now.Sub(p.mark).Seconds()))
	p.mark = now
}

// current is how long the step under way has taken so far.
func (p *phases) current() time.Duration { return max(time.Since(p.mark), time.Millisecond) }

func (p *phases) String() string {
	return fmt.Sprintf("%.2fs (%s)", time.Since(p.start).Seconds(), strings.Join(p.parts, ", "))
}

// runChecked runs a command, failing with its stderr when it exits non-zero.
func runChecked(ctx context.Context, r Remote, command string, stdout io.Writer) (int, error) {
	var stderr bytes.Buffer
	if stdout == nil {
		stdout = io.Discard
	}
	code, err := r.Run(ctx, command, nil, stdout, &stderr)
	if err != nil {
		return code, err
	}
	if code != 0 {
		return code, fmt.Errorf("`%s` exited with status %d: %s", command, code, strings.TrimSpace(stderr.String()))
	}
	return 0, nil
}

// tailWriter keeps the last lines written to it.
type tailWriter struct {
	max   int
	lines []string
	part  string
}

func (t *tailWriter) Write(p []byte) (int, error) {
	s := t.part + string(p)
	parts := strings.Split(s, "\n")
	t.part = parts[len(parts)-1]
	for _, l := range parts[:len(parts)-1] {
		t.lines = append(t.lines, l)
		if len(t.lines) > t.max {
			t.lines = t.lines[1:]
		}
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	lines := t.lines
	if t.part != "" {
		lines = append(lines, t.part)
	}
	return strings.Join(lines, "\n")
}
