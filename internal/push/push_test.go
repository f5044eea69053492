package push_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/examples/hello"
	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
	"github.com/pipbake/packer-plugin-pipbake/internal/push"
	"github.com/pipbake/packer-plugin-pipbake/internal/sshremote"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/basetest"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/sshtarget"
)

var agentBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pipbake-push-agent-")
	if err != nil {
		panic(err)
	}
	// the lean agent release builds embed (this test binary is no agent)
	agentBin = filepath.Join(dir, "pipbake")
	if out, err := exec.Command("go", "build", "-tags", "pipbake_agent", "-o", agentBin, "../../cmd/pipbake").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the agent: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// machine is one "host": an sshd chrooted into a Debian root of its own.
type machine struct {
	name string
	root string
	srv  *sshtarget.Server
}

// fleet is n machines, an ssh config naming them, known_hosts for all.
type fleet struct {
	machines []*machine
	home     string
	config   string
	known    string
	work     string
	wheels   string
	lock     string
}

func newFleet(t *testing.T, n int) *fleet {
	t.Helper()
	t.Setenv("SSH_AUTH_SOCK", "")
	f := &fleet{home: t.TempDir(), work: t.TempDir()}
	var cfg, known strings.Builder
	var mu sync.Mutex
	var wg sync.WaitGroup
	f.machines = make([]*machine, n)
	for i := 0; i < n; i++ {
		root := basetest.MachineRoot(t) // sequential: each mounts and unpacks
		wg.Add(1)
		go func(i int, root string) {
			defer wg.Done()
			srv := sshtarget.StartT(t, sshtarget.Options{Chroot: root})
			mu.Lock()
			f.machines[i] = &machine{name: fmt.Sprintf("web-%d", i+1), root: root, srv: srv}
			mu.Unlock()
		}(i, root)
	}
	wg.Wait()
	for _, m := range f.machines {
		fmt.Fprintf(&cfg, "Host %s\n    HostName 127.0.0.1\n    Port %d\n    User %s\n    IdentityFile %s\n", m.name, m.srv.Port, m.srv.User, m.srv.PrivateKeyPath)
		data, err := os.ReadFile(m.srv.KnownHostsPath)
		if err != nil {
			t.Fatal(err)
		}
		known.Write(data)
	}
	f.known = filepath.Join(f.home, "known_hosts")
	os.WriteFile(f.known, []byte(known.String()), 0o600)
	fmt.Fprintf(&cfg, "Host *\n    UserKnownHostsFile %s\n    GlobalKnownHostsFile none\n    IdentityAgent none\n", f.known)
	f.config = cfg.String()

	f.wheels = filepath.Join(f.work, "wheels")
	os.MkdirAll(f.wheels, 0o755)
	if _, err := hello.Build(f.wheels); err != nil {
		t.Fatal(err)
	}
	f.lock = filepath.Join(f.work, "requirements.txt")
	os.WriteFile(f.lock, hello.Lock, 0o644)
	return f
}

// options pushes the hello set (a service, and a health check that fails
// where /etc/pipbake-unhealthy exists) to the named machines.
func (f *fleet) options(t *testing.T, release string, hosts ...string) push.Options {
	t.Helper()
	c, err := sshremote.ParseConfig("test-ssh-config", []byte(f.config))
	if err != nil {
		t.Fatal(err)
	}
	return push.Options{
		Sets: []plan.Set{{
			Name: "hello", Lock: f.lock, Root: "/opt/hello", Python: "/usr/bin/python3",
			Service: &plan.Service{Command: "hello"},
			Health: &plan.Health{Command: "test ! -e /etc/pipbake-unhealthy && /opt/hello/current/bin/hello | grep -q 'Hello from hello'",
				Timeout: "2s", Interval: "200ms"},
		}},
		Wheelhouse: f.wheels, Release: release, Hosts: hosts, AgentPath: agentBin,
		SSH: sshremote.Options{Config: c, Env: sshremote.Env{Home: f.home, LocalUser: "root"}, Timeout: 20 * time.Second},
		Log: &testLog{t: t},
	}
}

func (f *fleet) names(idx ...int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, f.machines[i].name)
	}
	return out
}

// current reads a machine's current release from its file system, not
// through pipbake.
func (m *machine) current(t *testing.T) string {
	t.Helper()
	to, err := os.Readlink(filepath.Join(m.root, "opt/hello/current"))
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(to, "releases/")
}

type testLog struct {
	t  *testing.T
	mu sync.Mutex
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func status(rep *push.Report) string {
	var parts []string
	for _, h := range rep.Hosts {
		var runs []string
		for _, s := range h.Sets {
			runs = append(runs, s.Set+"="+s.Current)
		}
		parts = append(parts, h.Host+":"+h.Status+":"+strings.Join(runs, ","))
	}
	return strings.Join(parts, " ")
}

// TestRollingPush: three machines get release 1 at once; a second push of
// it changes nothing; release 2 goes out one host at a time, and the
// second host fails its health check: it is switched back to 1 and the
// third is never touched. Then releases and rollback over SSH.
func TestRollingPush(t *testing.T) {
	f := newFleet(t, 3)
	ctx := context.Background()
	receipts := filepath.Join(f.work, "receipts")

	opts := f.options(t, "1", f.names(0, 1, 2)...)
	opts.Parallel, opts.ReceiptOutput, opts.Sudo = 3, receipts, true
	rep, err := push.Push(ctx, opts)
	if err != nil {
		t.Fatalf("%v\n%s", err, status(rep))
	}
	if got := status(rep); got != "web-1:updated:hello=1 web-2:updated:hello=1 web-3:updated:hello=1" {
		t.Fatalf("release 1: %s", got)
	}
	for _, m := range f.machines {
		if cur := m.current(t); cur != "1" {
			t.Errorf("%s: current %q", m.name, cur)
		}
		// the unit went to the machine's /etc, the receipt came back
		if _, err := os.Stat(filepath.Join(m.root, "etc/systemd/system/hello.service")); err != nil {
			t.Errorf("%s: %v", m.name, err)
		}
		if _, err := os.Stat(filepath.Join(receipts, m.name, "hello.json")); err != nil {
			t.Errorf("%s: receipt: %v", m.name, err)
		}
	}
	// systemd runs on none of them: said so, and the health check still ran
	act := rep.Hosts[0].Activation
	if act == nil || act.Systemd || strings.Join(act.NotRestarted, ",") != "hello.service" || act.Sets[0].Health == nil || !act.Sets[0].Health.Passed {
		t.Fatalf("activation %+v", act)
	}
	if rep.Hosts[0].Sets[0].Distributions != 1 || !strings.HasPrefix(rep.Hosts[0].Sets[0].Python, "3.") {
		t.Errorf("sets %+v", rep.Hosts[0].Sets)
	}

	// the same release again: a verified no-op everywhere
	opts.ReceiptOutput = ""
	rep, err = push.Push(ctx, opts)
	if err != nil || status(rep) != "web-1:unchanged:hello=1 web-2:unchanged:hello=1 web-3:unchanged:hello=1" {
		t.Fatalf("release 1 again: %v %s", err, status(rep))
	}

	// release 2, one at a time; web-2 is unhealthy
	os.WriteFile(filepath.Join(f.machines[1].root, "etc/pipbake-unhealthy"), nil, 0o644)
	opts = f.options(t, "2", f.names(0, 1, 2)...)
	opts.Rolling = 1
	rep, err = push.Push(ctx, opts)
	if err == nil || !strings.Contains(err.Error(), "web-2") || !strings.Contains(err.Error(), "stopped at web-2") {
		t.Fatalf("want an error naming web-2, got %v", err)
	}
	if got := status(rep); got != "web-1:updated:hello=2 web-2:rolled-back:hello=1 web-3:skipped:hello=1" {
		t.Fatalf("rolling release 2: %s", got)
	}
	if !strings.Contains(rep.Hosts[1].Error, "health check failed: hello") || rep.StoppedAt != "web-2" {
		t.Errorf("web-2: %q, stopped at %q", rep.Hosts[1].Error, rep.StoppedAt)
	}
	for i, want := range []string{"2", "1", "1"} {
		if cur := f.machines[i].current(t); cur != want {
			t.Errorf("%s: current %q, want %q", f.machines[i].name, cur, want)
		}
	}
	if _, err := os.Stat(filepath.Join(f.machines[2].root, "opt/hello/releases/2")); !os.IsNotExist(err) {
		t.Errorf("web-3 was touched: %v", err)
	}

	// releases over SSH
	rep, err = push.Releases(ctx, f.options(t, "", f.names(0, 1, 2)...))
	if err != nil {
		t.Fatal(err)
	}
	lists := map[string]string{}
	for _, h := range rep.Hosts {
		var ids []string
		for _, r := range h.Sets[0].Releases {
			id := r.ID
			if r.Current {
				id += "*"
			}
			ids = append(ids, id)
		}
		lists[h.Host] = strings.Join(ids, ",")
	}
	if lists["web-1"] != "1,2*" || lists["web-2"] != "1*,2" || lists["web-3"] != "1*" {
		t.Errorf("releases: %v", lists)
	}

	// rollback over SSH: web-1 to the release before, then to 2 by name
	rep, err = push.Rollback(ctx, f.options(t, "", "web-1"), "")
	if err != nil || status(rep) != "web-1:switched:hello=1" || f.machines[0].current(t) != "1" {
		t.Fatalf("rollback: %v %s", err, status(rep))
	}
	if h := rep.Hosts[0].Activation; h == nil || len(h.NotRestarted) != 1 || h.Sets[0].Health == nil || !h.Sets[0].Health.Passed {
		t.Errorf("rollback activation %+v", h)
	}
	rep, err = push.Rollback(ctx, f.options(t, "", "web-1"), "2")
	if err != nil || status(rep) != "web-1:switched:hello=2" || f.machines[0].current(t) != "2" {
		t.Fatalf("rollback --to 2: %v %s", err, status(rep))
	}
	rep, err = push.Rollback(ctx, f.options(t, "", "web-3"), "7")
	if err == nil || !strings.Contains(rep.Hosts[0].Error, `no complete release "7"`) || f.machines[2].current(t) != "1" {
		t.Errorf("rollback to a missing release: %v %+v", err, rep.Hosts)
	}
}

// TestUnknownHostKey: a host whose key known_hosts lacks is refused, named,
// and left alone; the others go on.
func TestUnknownHostKey(t *testing.T) {
	f := newFleet(t, 2)
	// forget web-2's key
	data, _ := os.ReadFile(f.known)
	var keep []string
	for _, l := range strings.Split(string(data), "\n") {
		if !strings.Contains(l, fmt.Sprintf("]:%d ", f.machines[1].srv.Port)) {
			keep = append(keep, l)
		}
	}
	os.WriteFile(f.known, []byte(strings.Join(keep, "\n")), 0o600)
	var log bytes.Buffer
	opts := f.options(t, "1", f.names(0, 1)...)
	opts.Log = &log
	rep, err := push.Push(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "failed on 1 of 2 hosts: web-2") {
		t.Fatalf("want web-2 refused, got %v", err)
	}
	h := rep.Hosts[1]
	if h.Status != push.Failed || !strings.Contains(h.Error, "is not known") || !strings.Contains(h.Error, "--accept-new-host-keys") {
		t.Fatalf("web-2: %+v", h)
	}
	if !strings.Contains(log.String(), "[web-2] pipbake: FAILED: ") {
		t.Errorf("the log does not name the host:\n%s", log.String())
	}
	if keyBlob := strings.Fields(f.machines[1].srv.HostPublicKey)[1]; strings.Contains(log.String()+h.Error, keyBlob) {
		t.Errorf("the host key appears in the output")
	}
	if f.machines[0].current(t) != "1" || f.machines[1].current(t) != "" {
		t.Errorf("current: web-1 %q, web-2 %q", f.machines[0].current(t), f.machines[1].current(t))
	}
	// opting in records the key and the push goes through
	opts.SSH.AcceptNewHostKeys = true
	if rep, err = push.Push(context.Background(), opts); err != nil || f.machines[1].current(t) != "1" {
		t.Fatalf("with --accept-new-host-keys: %v %s", err, status(rep))
	}
}

// cutProxy forwards TCP to addr and cuts every connection once limit bytes
// went from the client to the server.
type cutProxy struct {
	ln    net.Listener
	limit int64
	cut   atomic.Bool
}

func startCutProxy(t *testing.T, addr string, limit int64) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, limit: limit}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c, addr)
		}
	}()
	return p
}

func (p *cutProxy) serve(c net.Conn, addr string) {
	s, err := net.Dial("tcp", addr)
	if err != nil {
		c.Close()
		return
	}
	go func() {
		io.Copy(c, s)
		c.Close()
	}()
	n, _ := io.CopyN(s, c, p.limit)
	if n == p.limit {
		p.cut.Store(true)
	}
	s.Close()
	c.Close()
}

// TestCutConnection: a connection cut in the middle of the upload leaves
// the host's current release as it was, and the next push succeeds.
func TestCutConnection(t *testing.T) {
	f := newFleet(t, 1)
	m := f.machines[0]
	ctx := context.Background()
	if _, err := push.Push(ctx, f.options(t, "1", "web-1")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(agentBin)
	if err != nil {
		t.Fatal(err)
	}
	// half the agent's bytes into the upload
	proxy := startCutProxy(t, m.srv.Addr(), st.Size()/2)
	port := proxy.ln.Addr().(*net.TCPAddr).Port
	f.config = fmt.Sprintf("Host cut\n    HostName 127.0.0.1\n    Port %d\n    User %s\n    IdentityFile %s\n", port, m.srv.User, m.srv.PrivateKeyPath) + f.config
	known, _ := os.ReadFile(f.known)
	os.WriteFile(f.known, append(known, fmt.Sprintf("[127.0.0.1]:%d %s\n", port, m.srv.HostPublicKey)...), 0o600)

	rep, err := push.Push(ctx, f.options(t, "2", "cut"))
	if err == nil || !proxy.cut.Load() {
		t.Fatalf("want the cut push to fail (cut %v): %v %s", proxy.cut.Load(), err, status(rep))
	}
	if h := rep.Hosts[0]; h.Status != push.Failed || !strings.Contains(h.Error, "upload the bundle") {
		t.Fatalf("cut host: %+v", h)
	}
	if cur := m.current(t); cur != "1" {
		t.Fatalf("current after the cut: %q", cur)
	}
	if _, err := os.Stat(filepath.Join(m.root, "opt/hello/releases/2/pipbake-receipt.json")); !os.IsNotExist(err) {
		t.Errorf("a release 2 exists after the cut: %v", err)
	}
	// the partial bundle stays until a push a day later
	left, _ := filepath.Glob(filepath.Join(m.root, "tmp/pipbake-push-2-*"))
	if len(left) != 1 {
		t.Fatalf("staging folders after the cut: %v", left)
	}
	old := time.Now().Add(-25 * time.Hour)
	os.Chtimes(left[0], old, old)
	// the next push (same release id) goes through
	rep, err = push.Push(ctx, f.options(t, "2", "web-1"))
	if err != nil || status(rep) != "web-1:updated:hello=2" || m.current(t) != "2" {
		t.Fatalf("push after the cut: %v %s", err, status(rep))
	}
	if _, err := os.Stat(left[0]); !os.IsNotExist(err) {
		t.Errorf("the day-old staging folder %s is still there: %v", left[0], err)
	}
}
