package push_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/npm/npmtest"
	"github.com/pipbake/packer-plugin-pipbake/internal/plan"
	"github.com/pipbake/packer-plugin-pipbake/internal/push"
	"github.com/pipbake/packer-plugin-pipbake/internal/receipt"
	"github.com/pipbake/packer-plugin-pipbake/internal/sshremote"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/sshtarget"
)

// TestPushNodeSet pushes a Node set (the Express fixture and its app)
// over SSH: the host's node is probed, the app answers from current, a
// health check runs, the report says node; the same release again is a
// verified no-op; a release whose tarball was tampered with fails naming
// it and current stays; releases over SSH lists it with its node.
func TestPushNodeSet(t *testing.T) {
	f := npmtest.Get(t, "express")
	proj := f.Project(t)
	t.Setenv("SSH_AUTH_SOCK", "")
	srv := sshtarget.StartT(t, sshtarget.Options{})
	work, home := t.TempDir(), t.TempDir()
	app := f.ExpressApp(t, work)
	root := filepath.Join(work, "srv", "web")
	known, err := os.ReadFile(srv.KnownHostsPath)
	if err != nil {
		t.Fatal(err)
	}
	knownPath := filepath.Join(home, "known_hosts")
	os.WriteFile(knownPath, known, 0o600)
	cfg, err := sshremote.ParseConfig("test-ssh-config", []byte(fmt.Sprintf(
		"Host web-1\n    HostName 127.0.0.1\n    Port %d\n    User %s\n    IdentityFile %s\n    UserKnownHostsFile %s\n    GlobalKnownHostsFile none\n    IdentityAgent none\n",
		srv.Port, srv.User, srv.PrivateKeyPath, knownPath)))
	if err != nil {
		t.Fatal(err)
	}
	options := func(release, tarballs string) push.Options {
		return push.Options{
			Sets: []plan.Set{{
				Name: "web", Lock: filepath.Join(proj, "package-lock.json"), Root: root, Node: f.Runtime.ExecPath, App: app,
				Health: &plan.Health{Command: fmt.Sprintf("%s -e \"require('%s/current/node_modules/express')\"", f.Runtime.ExecPath, root),
					Timeout: "5s", Interval: "200ms"},
			}},
			Tarballs: tarballs, Release: release, Hosts: []string{"web-1"}, AgentPath: agentBin,
			SSH: sshremote.Options{Config: cfg, Env: sshremote.Env{Home: home, LocalUser: "root"}, Timeout: 20 * time.Second},
			Log: &testLog{t: t},
		}
	}
	ctx := context.Background()
	rep, err := push.Push(ctx, options("r1", f.Folder(t)))
	if err != nil || status(rep) != "web-1:updated:web=r1" {
		t.Fatalf("push r1: %v %s", err, status(rep))
	}
	st := rep.Hosts[0].Sets[0]
	if st.Node != f.Runtime.Version || st.Python != "" || st.Distributions < 50 {
		t.Errorf("set report %+v (node %s)", st, f.Runtime.Version)
	}
	if act := rep.Hosts[0].Activation; act == nil || act.Sets[0].Health == nil || !act.Sets[0].Health.Passed {
		t.Errorf("activation %+v", act)
	}
	cur := filepath.Join(root, "current")
	if body := npmtest.ServeApp(t, f.Runtime.ExecPath, cur, "server.js"); !strings.HasPrefix(body, "hello from pipbake, express 4.") {
		t.Fatalf("the app answered %q", body)
	}
	if v, err := receipt.Verify(cur, receipt.Options{}); err != nil || !v.Clean() {
		t.Fatalf("verify: %v %+v", err, v)
	}

	rep, err = push.Push(ctx, options("r1", f.Folder(t)))
	if err != nil || status(rep) != "web-1:unchanged:web=r1" {
		t.Fatalf("r1 again: %v %s", err, status(rep))
	}

	bad := filepath.Join(work, "bad")
	os.MkdirAll(bad, 0o755)
	entries, _ := os.ReadDir(f.Folder(t))
	tampered := ""
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(f.Folder(t), e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(e.Name(), "body-parser@") {
			data[len(data)/2] ^= 0xff
			tampered = e.Name()
		}
		os.WriteFile(filepath.Join(bad, e.Name()), data, 0o644)
	}
	rep, err = push.Push(ctx, options("r2", bad))
	if err == nil || tampered == "" || !strings.Contains(err.Error()+rep.Hosts[0].Error, tampered) {
		t.Fatalf("a tampered tarball (%s): %v %+v", tampered, err, rep.Hosts)
	}
	if to, _ := os.Readlink(cur); to != "releases/r1" {
		t.Errorf("current -> %s after a failed push", to)
	}

	rep, err = push.Releases(ctx, options("", ""))
	if err != nil {
		t.Fatal(err)
	}
	if rs := rep.Hosts[0].Sets[0].Releases; len(rs) != 1 || rs[0].ID != "r1" || !rs[0].Current || rs[0].Node != f.Runtime.Version || rs[0].Python != "" {
		t.Errorf("releases %+v", rs)
	}
}
