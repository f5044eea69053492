package bake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/attest"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus"
	"github.com/pipbake/packer-plugin-pipbake/internal/corpus/corpustest"
	"github.com/pipbake/packer-plugin-pipbake/internal/npm/npmtest"
	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/shell"
	"github.com/pipbake/packer-plugin-pipbake/internal/target"
)

// local is this machine as a Remote: commands through sh, files on disk.
// The SSH path through Packer is covered by the provisioner's tests.
type local struct {
	uploads, commands, downloads []string
	// pty runs commands on a terminal, as ssh_pty does: util-linux's
	// script gives them one, whose line discipline turns output's \n into
	// \r\n (and tar will not write an archive to it).
	pty bool
	// truncate cuts every upload short.
	truncate bool
	// env is added to every command's environment.
	env []string
	// noStdin runs commands without the stdin given (as a communicator
	// that does not forward it); unreachableAfterCancel fails every
	// command once a context was cancelled (the connection is gone).
	noStdin, unreachableAfterCancel bool
	cancelled                       bool
}

func (l *local) Run(ctx context.Context, command string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	l.commands = append(l.commands, command)
	if l.unreachableAfterCancel && l.cancelled {
		return 0, errors.New("connection lost")
	}
	if l.noStdin {
		stdin = nil
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	if l.pty {
		cmd = exec.CommandContext(ctx, "script", "-qec", command, "/dev/null")
	}
	cmd.Env = append(target.CleanEnv(os.Environ()), l.env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	// Cancelled, like a session that is gone: the shell is killed, what it
	// started is on its own (its output no longer read after a while).
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) && ctx.Err() == nil {
		err = nil
	}
	if ee, ok := err.(*exec.ExitError); ok && ctx.Err() == nil {
		return ee.ExitCode(), nil
	}
	if ctx.Err() != nil {
		l.cancelled = true
		return 0, ctx.Err()
	}
	return 0, err
}

func (l *local) Download(ctx context.Context, path string, w io.Writer) error {
	l.downloads = append(l.downloads, path)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

func (l *local) Upload(ctx context.Context, path string, r io.Reader, size int64) error {
	l.uploads = append(l.uploads, path)
	// 0600, the mode the provisioner gives the bundle (bundle.NewFileInfo)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if l.truncate {
		r = io.LimitReader(r, size/2)
		size /= 2
	}
	n, err := io.Copy(f, r)
	if err == nil && n != size {
		err = io.ErrShortWrite
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func TestBakeLocal(t *testing.T) {
	py := corpustest.Python(t)
	set := corpustest.Set(t)
	flask, err := set.Closure(context.Background(), "flask")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	wh := filepath.Join(dir, "wheelhouse")
	os.MkdirAll(wh, 0o755)
	for _, w := range set.Wheels { // the whole corpus: only what the lock needs is uploaded
		os.Symlink(w.Path, filepath.Join(wh, w.File))
	}
	lockPath := filepath.Join(dir, "api.txt")
	if err := corpus.WriteRequirements(lockPath, flask); err != nil {
		t.Fatal(err)
	}
	sysroot := filepath.Join(dir, "sysroot")
	root := filepath.Join(dir, "srv", "api")
	r := &local{}
	var log, output bytes.Buffer
	opts := Options{
		Sets:          []plan.Set{{Name: "api", Lock: lockPath, Root: root, Python: py, Service: &plan.Service{Command: "flask run"}}},
		Wheelhouse:    wh,
		Release:       "r1",
		Staging:       filepath.Join(dir, "staging"),
		ReceiptOutput: filepath.Join(dir, "receipts"),
		Templates:     []attest.File{{Name: "bake.pkr.hcl", SHA256: attest.SHA256Hex([]byte("build {}\n"))}},
		Log:           &log, Output: &output,
	}
	// a freshly built pipbake as the agent (this test binary is not one);
	// receipts and units go to scratch folders instead of the host's
	agentBin := filepath.Join(dir, "pipbake-agent")
	if out, err := exec.Command("go", "build", "-o", agentBin, "../../cmd/pipbake").CombinedOutput(); err != nil {
		t.Fatalf("build agent: %v\n%s", err, out)
	}
	opts.AgentPath = agentBin
	opts.Command = func(agent, args string) (string, error) {
		if strings.HasPrefix(args, "install ") {
			args = strings.Replace(args, "/var/lib/pipbake/receipts", filepath.Join(dir, "var-lib"), 1) + " --system-root " + shell.Quote(sysroot)
		}
		return "chmod +x " + shell.Quote(agent) + " && " + shell.Quote(agent) + " " + args, nil
	}
	res, err := Run(context.Background(), r, opts)
	if err != nil {
		t.Fatalf("%v\nlog:\n%s\noutput:\n%s", err, log.String(), output.String())
	}
	if res.Wheels != len(flask) {
		t.Errorf("uploaded %d wheels, the lock needs %d", res.Wheels, len(flask))
	}
	if rc := res.Receipts["api"]; rc == nil || rc.Release != "r1" || len(rc.Distributions) != len(flask) {
		t.Fatalf("receipt: %+v", res.Receipts)
	}
	for _, f := range []string{"receipts/api.json", "receipts/api.cdx.json", "var-lib/api.json", "sysroot/etc/systemd/system/api.service"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	if _, err := os.Stat(opts.Staging); !os.IsNotExist(err) {
		t.Errorf("staging folder not cleaned: %v", err)
	}
	if !strings.Contains(output.String(), "api: installed release r1") {
		t.Errorf("agent output not streamed: %s", output.String())
	}
	// one upload, the bundle, nothing per file; three commands in all:
	// detect and probe, unpack and install, receipts and clean
	if len(r.uploads) != 1 || !strings.HasSuffix(r.uploads[0], "bundle.tar") {
		t.Errorf("uploads: %v", r.uploads)
	}
	if len(r.commands) != 3 {
		t.Errorf("%d commands, want 3:\n%s", len(r.commands), strings.Join(r.commands, "\n"))
	}
	if !strings.Contains(log.String(), "pipbake: took ") {
		t.Errorf("no timing summary in the log:\n%s", log.String())
	}
	out, err := exec.Command(filepath.Join(root, "current/bin/flask"), "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Flask 3.1.3") {
		t.Fatalf("flask from current: %v %s", err, out)
	}

	// a retry of the same release is a no-op; kept, the staging folder
	// shows the wheels were read inside the bundle, never unpacked
	opts.SkipClean = true
	if _, err := Run(context.Background(), r, opts); err != nil {
		t.Fatalf("retry: %v", err)
	}
	for _, f := range []string{"bundle.tar", "pipbake", "plan.json", "locks"} {
		if _, err := os.Stat(filepath.Join(opts.Staging, f)); err != nil {
			t.Errorf("staging: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(opts.Staging, "wheels")); !os.IsNotExist(err) {
		t.Errorf("the wheels were unpacked on the machine: %v", err)
	}
	checkProvenancePlan(t, dir, opts)
	os.RemoveAll(opts.Staging)
	opts.SkipClean = false

	// a tampered wheel fails with the package named; current stays r1
	bad := filepath.Join(dir, "bad")
	os.MkdirAll(bad, 0o755)
	for _, w := range flask {
		data, _ := os.ReadFile(w.Path)
		if strings.HasPrefix(w.File, "werkzeug") {
			data = append(data[:len(data)-30], bytes.Repeat([]byte{0}, 30)...)
		}
		os.WriteFile(filepath.Join(bad, w.File), data, 0o644)
	}
	opts.Wheelhouse, opts.Release = bad, "r2"
	output.Reset()
	_, err = Run(context.Background(), r, opts)
	if err == nil || !strings.Contains(err.Error(), "werkzeug==3.1.8: hash mismatch") || !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("want a hash mismatch naming Werkzeug, got %v", err)
	}
	if cur, _ := os.Readlink(filepath.Join(root, "current")); cur != "releases/r1" {
		t.Fatalf("current moved to %s", cur)
	}
	if _, err := os.Stat(opts.Staging); !os.IsNotExist(err) {
		t.Errorf("staging folder not cleaned after a failure: %v", err)
	}

	// an interpreter that is not there: the set and the python are named,
	// with the shell's message
	opts.Wheelhouse, opts.Release = wh, "r3"
	opts.Sets[0].Python = filepath.Join(dir, "no-such-python3")
	_, err = Run(context.Background(), r, opts)
	if err == nil || !strings.Contains(err.Error(), `set "api": probe python "`+opts.Sets[0].Python+`"`) || !strings.Contains(err.Error(), "No such file") {
		t.Fatalf("want the missing interpreter named, got %v", err)
	}
	// behind a PTY (ssh_pty) the receipts' tar stream cannot come back
	// (tar will not write to a terminal; the terminal would mangle it):
	// they are downloaded one by one instead, and the bake succeeds
	opts.Sets[0].Python = py
	if _, err := exec.LookPath("script"); err != nil {
		t.Fatalf("util-linux script gives the PTY this test needs: %v", err)
	}
	r.pty, r.downloads = true, nil
	res, err = Run(context.Background(), r, opts)
	if err != nil || res.Receipts["api"] == nil || res.Receipts["api"].Release != "r3" {
		t.Fatalf("bake behind a PTY: %v", err)
	}
	if len(r.downloads) != 3 || r.downloads[2] != resultPath(opts.Staging) {
		t.Errorf("behind a PTY, downloads %v, want the receipt, the SBOM and the install result", r.downloads)
	}
	if _, ok := res.Bytecode["api"]; !ok {
		t.Errorf("behind a PTY, no bytecode counts: %v", res.Bytecode)
	}
	if _, err := os.Stat(opts.Staging); !os.IsNotExist(err) {
		t.Errorf("staging folder not cleaned behind a PTY: %v", err)
	}
	r.pty = false

	// a bundle that does not unpack stops before the agent, even when
	// execute_command would carry on after a failure (`;`), and says so
	opts.Release = "r4"
	r.truncate = true
	agentCommand := opts.Command
	opts.Command = func(agent, args string) (string, error) {
		c, err := agentCommand(agent, args)
		return "true; " + c, err
	}
	_, err = Run(context.Background(), r, opts)
	if err == nil || !strings.Contains(err.Error(), "unpack the bundle in "+opts.Staging) {
		t.Fatalf("want the unpack named, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "releases", "r4")); !os.IsNotExist(err) {
		t.Errorf("the agent ran after a failed unpack: %v", err)
	}
	if cur, _ := os.Readlink(filepath.Join(root, "current")); cur != "releases/r3" {
		t.Fatalf("current moved to %s", cur)
	}
	r.truncate, opts.Command = false, agentCommand

	// a staging folder that cannot be made
	opts.Staging = "/proc/pipbake-staging"
	_, err = Run(context.Background(), r, opts)
	if err == nil || !strings.Contains(err.Error(), "create staging folder /proc/pipbake-staging") {
		t.Fatalf("want the staging folder named, got %v", err)
	}
}

// checkProvenancePlan: the set's provenance names the plan the agent
// installed, by the sha256 of the plan.json left in the staging folder
// (computed here), and the template files; receipt_output holds the same
// statements the agent kept on the machine (the attestations folder
// beside its receipts folder).
func checkProvenancePlan(t *testing.T, dir string, opts Options) {
	t.Helper()
	installed, err := os.ReadFile(filepath.Join(opts.Staging, "plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := attest.File{Name: "plan.json", SHA256: attest.SHA256Hex(installed)}
	rc, err := os.ReadFile(filepath.Join(opts.ReceiptOutput, "api.json"))
	if err != nil {
		t.Fatal(err)
	}
	var kept [][]byte
	for _, d := range []string{filepath.Join(dir, "attestations"), filepath.Join(opts.ReceiptOutput, "attestations")} {
		data, err := os.ReadFile(filepath.Join(d, attest.ProvenanceFile("api")))
		if err != nil {
			t.Fatal(err)
		}
		plan, templates, err := attest.ReadReleaseProvenance(data, "api", rc)
		if err != nil || plan == nil || *plan != want || len(templates) != 1 || templates[0] != opts.Templates[0] {
			t.Errorf("%s: plan %v, templates %v (%v); want plan %v, templates %v", d, plan, templates, err, want, opts.Templates)
		}
		kept = append(kept, data)
		if _, err := os.Stat(filepath.Join(d, attest.SBOMFile("api"))); err != nil {
			t.Error(err)
		}
	}
	if !bytes.Equal(kept[0], kept[1]) {
		t.Errorf("receipt_output's provenance is not the one the agent kept:\n%s\n%s", kept[1], kept[0])
	}
}

// TestBakeAsAnotherUser: an execute_command may run the agent as another,
// unprivileged user (`sudo -u app ...`); it reads the wheels inside the
// bundle the communicator's user uploaded.
func TestBakeAsAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs the agent as nobody: needs root")
	}
	if _, err := exec.LookPath("runuser"); err != nil {
		t.Skip("no runuser")
	}
	const py = "/usr/bin/python3" // pyenv's lives under /root, out of nobody's reach
	if out, err := exec.Command(py, "-c", "import sys; print(sys.version_info[:2] == (3, 11))").Output(); err != nil || strings.TrimSpace(string(out)) != "True" {
		t.Skip("needs Debian's python3 3.11 for the corpus's wheels")
	}
	set := corpustest.Set(t)
	flask, err := set.Closure(context.Background(), "flask")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // traversable by nobody
		os.Chmod(d, 0o755)
	}
	wh := filepath.Join(dir, "wheelhouse")
	os.MkdirAll(wh, 0o755)
	for _, w := range flask {
		os.Symlink(w.Path, filepath.Join(wh, w.File))
	}
	lockPath := filepath.Join(dir, "api.txt")
	if err := corpus.WriteRequirements(lockPath, flask); err != nil {
		t.Fatal(err)
	}
	// what nobody may write: the root, the receipts copy, the system root
	for _, d := range []string{"srv", "var-lib", "sysroot"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
		os.Chown(filepath.Join(dir, d), 65534, 65534)
	}
	agentBin := filepath.Join(dir, "pipbake-agent")
	if out, err := exec.Command("go", "build", "-tags", "pipbake_agent", "-o", agentBin, "../../cmd/pipbake").CombinedOutput(); err != nil {
		t.Fatalf("build agent: %v\n%s", err, out)
	}
	root := filepath.Join(dir, "srv", "api")
	var log, output bytes.Buffer
	opts := Options{
		Sets:       []plan.Set{{Name: "api", Lock: lockPath, Root: root, Python: py}},
		Wheelhouse: wh,
		Release:    "r1",
		Staging:    filepath.Join(dir, "staging"),
		AgentPath:  agentBin,
		Log:        &log, Output: &output,
		Command: func(agent, args string) (string, error) {
			args = strings.Replace(args, ReceiptsDir, filepath.Join(dir, "var-lib", "receipts"), 1)
			return "chmod +x " + shell.Quote(agent) + " && runuser -u nobody -- " + shell.Quote(agent) + " " + args + " --system-root " + shell.Quote(filepath.Join(dir, "sysroot")), nil
		},
	}
	if _, err := Run(context.Background(), &local{}, opts); err != nil {
		t.Fatalf("%v\nlog:\n%s\noutput:\n%s", err, log.String(), output.String())
	}
	st, err := os.Stat(filepath.Join(root, "releases", "r1", "bin", "flask"))
	if err != nil {
		t.Fatal(err)
	}
	if owner := st.Sys().(*syscall.Stat_t).Uid; owner != 65534 {
		t.Errorf("the release was installed by uid %d, not nobody", owner)
	}
}

// TestBakeCancelled cancels bakes while the agent holds after staging, just
// before its switch (PIPBAKE_TEST_HOLD_BEFORE_SWITCH), and checks that the
// agent stops without switching, its new release and the staging folder are
// removed, and the error says so. Each of the two ways the agent is
// stopped must do it alone: its stdin ending (the session is gone, and the
// machine cannot be reached any more), and `pipbake stop` run through the
// communicator (a communicator that does not forward stdin).
func TestBakeCancelled(t *testing.T) {
	py := corpustest.Python(t)
	set := corpustest.Set(t)
	flask, err := set.Closure(context.Background(), "flask")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	wh := filepath.Join(dir, "wheelhouse")
	os.MkdirAll(wh, 0o755)
	for _, w := range flask {
		os.Symlink(w.Path, filepath.Join(wh, w.File))
	}
	lockPath := filepath.Join(dir, "api.txt")
	if err := corpus.WriteRequirements(lockPath, flask); err != nil {
		t.Fatal(err)
	}
	agentBin := filepath.Join(dir, "pipbake-agent")
	if out, err := exec.Command("go", "build", "-tags", "pipbake_agent", "-o", agentBin, "../../cmd/pipbake").CombinedOutput(); err != nil {
		t.Fatalf("build agent: %v\n%s", err, out)
	}
	root := filepath.Join(dir, "srv", "api")
	var log, output bytes.Buffer
	opts := Options{
		Sets:       []plan.Set{{Name: "api", Lock: lockPath, Root: root, Python: py}},
		Wheelhouse: wh,
		Release:    "r1",
		Staging:    filepath.Join(dir, "staging"),
		AgentPath:  agentBin,
		Log:        &log, Output: &output,
		Command: func(agent, args string) (string, error) {
			args = strings.Replace(args, ReceiptsDir, filepath.Join(dir, "var-lib"), 1)
			return "chmod +x " + shell.Quote(agent) + " && " + shell.Quote(agent) + " " + args, nil
		},
	}
	if _, err := Run(context.Background(), &local{}, opts); err != nil {
		t.Fatalf("%v\n%s", err, output.String())
	}

	before := "cancelled before the switch: pipbake on the machine stops without switching and removes release ID; every set's current release is as it was (api: current still points at releases/r1"
	confirmed := "on the machine now: cancelled before the switch: every set's current release is as it was, and release ID was removed"
	for i, c := range []struct {
		name string
		r    *local
		want []string
	}{
		// the agent removes the staging folder itself
		{"the session ends, the machine is unreachable after", &local{unreachableAfterCancel: true}, []string{before}},
		{"no stdin forwarded, pipbake stop", &local{noStdin: true}, []string{"whether it switched current to release ID is unknown", confirmed, "the staging folder STAGING was removed"}},
		{"both", &local{}, []string{before, "the staging folder STAGING was removed"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			hold := filepath.Join(dir, fmt.Sprintf("hold-%d", i))
			c.r.env = []string{"PIPBAKE_TEST_HOLD_BEFORE_SWITCH=" + hold}
			o := opts
			o.Release = fmt.Sprintf("c%d", i)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			held := make(chan int, 1)
			go func() {
				defer cancel()
				for start := time.Now(); time.Since(start) < 5*time.Minute; time.Sleep(20 * time.Millisecond) {
					if b, err := os.ReadFile(hold); err == nil && len(b) > 0 {
						pid, _ := strconv.Atoi(string(b))
						held <- pid
						return
					}
				}
			}()
			_, err := Run(ctx, c.r, o)
			var pid int
			select {
			case pid = <-held:
			default:
				t.Fatalf("the agent never reached the switch: %v\n%s", err, output.String())
			}
			// A stopped agent exits (it may still be removing its
			// release); one that was not holds until released, and then
			// switches.
			for i := 0; running(pid) && i < 3000; i++ {
				time.Sleep(20 * time.Millisecond)
			}
			stopped := !running(pid)
			os.Remove(hold)
			if !stopped {
				t.Errorf("the agent (pid %d) still runs a minute after the bake was cancelled", pid)
				for i := 0; running(pid) && i < 500; i++ {
					time.Sleep(20 * time.Millisecond)
				}
			}
			if cur, _ := os.Readlink(filepath.Join(root, "current")); cur != "releases/r1" {
				t.Fatalf("current moved to %s", cur)
			}
			if _, err := os.Stat(filepath.Join(root, "releases", o.Release)); !os.IsNotExist(err) {
				t.Errorf("the cancelled release was left: %v", err)
			}
			var ce *CancelError
			if !errors.As(err, &ce) || !errors.Is(err, context.Canceled) {
				t.Fatalf("want a CancelError wrapping context.Canceled, got %T %v", err, err)
			}
			if _, err := os.Stat(o.Staging); !os.IsNotExist(err) {
				t.Errorf("staging folder left: %v", err)
			}
			for _, want := range c.want {
				want = strings.NewReplacer("ID", o.Release, "STAGING", o.Staging).Replace(want)
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q: %v", want, err)
				}
			}
		})
	}
}

// running reports whether pid runs (not a zombie).
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}

// TestBakeNodeLocal bakes a plan that mixes a Python set and a Node set
// (the Express fixture with its app and a service): node is probed on the
// machine, the bundle carries the npm tarballs the lock pins for it (read
// inside the bundle by the agent), the app answers from current, the
// receipts come back; a tarball whose integrity does not match fails the
// bake with the package named, current untouched, staging cleaned.
func TestBakeNodeLocal(t *testing.T) {
	py := corpustest.Python(t)
	set := corpustest.Set(t)
	f := npmtest.Get(t, "express")
	proj := f.Project(t)
	dir := t.TempDir()
	app := f.ExpressApp(t, dir)
	wh := filepath.Join(dir, "wheelhouse")
	os.MkdirAll(wh, 0o755)
	six, ok := set.Get("six")
	if !ok {
		t.Fatal("six is not in the corpus")
	}
	os.Symlink(six.Path, filepath.Join(wh, six.File))
	pyLock := filepath.Join(dir, "api.txt")
	if err := corpus.WriteRequirements(pyLock, []corpus.Wheel{six}); err != nil {
		t.Fatal(err)
	}
	sysroot := filepath.Join(dir, "sysroot")
	webRoot, apiRoot := filepath.Join(dir, "srv", "web"), filepath.Join(dir, "srv", "api")
	agentBin := filepath.Join(dir, "pipbake-agent")
	if out, err := exec.Command("go", "build", "-o", agentBin, "../../cmd/pipbake").CombinedOutput(); err != nil {
		t.Fatalf("build agent: %v\n%s", err, out)
	}
	var log, output bytes.Buffer
	r := &local{}
	opts := Options{
		Sets: []plan.Set{
			{Name: "api", Lock: pyLock, Root: apiRoot, Python: py},
			{Name: "web", Lock: filepath.Join(proj, "package-lock.json"), Root: webRoot, App: app,
				Service: &plan.Service{Command: "node server.js"}},
		},
		Wheelhouse:    wh,
		Tarballs:      f.Folder(t),
		Release:       "r1",
		Staging:       filepath.Join(dir, "staging"),
		ReceiptOutput: filepath.Join(dir, "receipts"),
		AgentPath:     agentBin,
		Log:           &log, Output: &output,
		Command: func(agent, args string) (string, error) {
			if strings.HasPrefix(args, "install ") {
				args = strings.Replace(args, "/var/lib/pipbake/receipts", filepath.Join(dir, "var-lib"), 1) + " --system-root " + shell.Quote(sysroot)
			}
			return "chmod +x " + shell.Quote(agent) + " && " + shell.Quote(agent) + " " + args, nil
		},
	}
	res, err := Run(context.Background(), r, opts)
	if err != nil {
		t.Fatalf("%v\nlog:\n%s\noutput:\n%s", err, log.String(), output.String())
	}
	if !strings.Contains(log.String(), "web: node "+f.Runtime.Version) {
		t.Errorf("the log does not name the machine's node:\n%s", log.String())
	}
	rc := res.Receipts["web"]
	if rc == nil || rc.Release != "r1" || rc.Ecosystem != "node" || len(rc.Distributions) < 60 {
		t.Fatalf("web receipt: %+v", rc)
	}
	if res.Receipts["api"] == nil || len(res.Receipts["api"].Distributions) != 1 {
		t.Fatalf("api receipt: %+v", res.Receipts["api"])
	}
	// every package's tarball and the wheel were uploaded, nothing else
	if want := len(rc.Distributions) + 1; res.Wheels != want {
		t.Errorf("uploaded %d packages, want %d", res.Wheels, want)
	}
	if want := fmt.Sprintf("2 locks and 1 wheels and %d npm tarballs as one", len(rc.Distributions)); !strings.Contains(log.String(), want) {
		t.Errorf("the log does not say %q:\n%s", want, log.String())
	}
	for _, p := range []string{"receipts/web.json", "receipts/web.cdx.json", "receipts/api.json", "sysroot/etc/systemd/system/web.service"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
	unit, _ := os.ReadFile(filepath.Join(sysroot, "etc/systemd/system/web.service"))
	if !strings.Contains(string(unit), "ExecStart="+f.Runtime.ExecPath+" server.js\n") {
		t.Errorf("unit:\n%s", unit)
	}
	if _, err := os.Stat(opts.Staging); !os.IsNotExist(err) {
		t.Errorf("staging folder not cleaned: %v", err)
	}
	cur := filepath.Join(webRoot, "current")
	if body := npmtest.ServeApp(t, f.Runtime.ExecPath, cur, "server.js"); !strings.HasPrefix(body, "hello from pipbake, express 4.") {
		t.Fatalf("the app answered %q", body)
	}

	// a tarball that does not match the lock's integrity
	bad := filepath.Join(dir, "bad")
	if err := os.CopyFS(bad, os.DirFS(f.Folder(t))); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(bad, "express@"+expressVersion(t, rc)+".tgz")
	data, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	os.Remove(victim)
	os.WriteFile(victim, data, 0o644)
	opts.Tarballs, opts.Release = bad, "r2"
	_, err = Run(context.Background(), r, opts)
	if err == nil || !strings.Contains(err.Error(), "express@") || !strings.Contains(err.Error(), "integrity") {
		t.Fatalf("want an integrity mismatch naming express, got %v", err)
	}
	for _, root := range []string{webRoot, apiRoot} {
		if cur, _ := os.Readlink(filepath.Join(root, "current")); cur != "releases/r1" {
			t.Errorf("%s: current moved to %s", root, cur)
		}
		if _, err := os.Stat(filepath.Join(root, "releases", "r2")); !os.IsNotExist(err) {
			t.Errorf("%s: the failed release was left behind: %v", root, err)
		}
	}
	if _, err := os.Stat(opts.Staging); !os.IsNotExist(err) {
		t.Errorf("staging folder not cleaned after a failure: %v", err)
	}

	// from a registry on loopback instead of a folder: the tarballs the
	// lock pins for the machine's node are fetched on this host, into the
	// cache, and bundled
	reg := npmtest.Serve(t, f)
	opts.Sets = opts.Sets[1:]
	opts.Wheelhouse, opts.Tarballs, opts.Sources, opts.Cache, opts.Release = "", "", []string{reg.URL}, filepath.Join(dir, "fetch-cache"), "r3"
	log.Reset()
	res, err = Run(context.Background(), r, opts)
	if err != nil {
		t.Fatalf("bake from a registry: %v\n%s", err, log.String())
	}
	if rc := res.Receipts["web"]; rc == nil || rc.Release != "r3" || res.Wheels != len(rc.Distributions) {
		t.Fatalf("bake from a registry: %d packages uploaded, receipt %+v", res.Wheels, rc)
	}
	if body := npmtest.ServeApp(t, f.Runtime.ExecPath, cur, "server.js"); !strings.HasPrefix(body, "hello from pipbake, express 4.") {
		t.Fatalf("the app fetched from a registry answered %q", body)
	}
}

func expressVersion(t *testing.T, rc *receipt.Receipt) string {
	for _, d := range rc.Distributions {
		if d.Path == "node_modules/express" {
			return d.Version
		}
	}
	t.Fatal("no express in the receipt")
	return ""
}
