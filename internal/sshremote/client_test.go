package sshremote

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/testenv/sshtarget"
)

// fixture is a loopback sshd with a home folder for the client side.
type fixture struct {
	srv  *sshtarget.Server
	env  Env
	opts Options
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	t.Setenv("SSH_AUTH_SOCK", "")
	srv := sshtarget.StartT(t, sshtarget.Options{NoShellRC: true})
	home := t.TempDir()
	env := Env{Home: home, LocalUser: srv.User}
	return &fixture{srv: srv, env: env, opts: Options{Env: env, Identity: srv.PrivateKeyPath, Timeout: 10 * time.Second}}
}

// withKnownHosts points the options at the server's known_hosts file.
func (f *fixture) withKnownHosts(t *testing.T) Options {
	t.Helper()
	cfg, err := ParseConfig("test", []byte("UserKnownHostsFile "+f.srv.KnownHostsPath+"\nGlobalKnownHostsFile none\n"))
	if err != nil {
		t.Fatal(err)
	}
	o := f.opts
	o.Config = cfg
	return o
}

func (f *fixture) dest() string { return fmt.Sprintf("%s@%s:%d", f.srv.User, f.srv.Host, f.srv.Port) }

func TestRunUploadDownload(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, err := Dial(ctx, f.dest(), f.withKnownHosts(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out, errOut bytes.Buffer
	code, err := c.Run(ctx, "echo out; echo err >&2; exit 3", nil, &out, &errOut)
	if err != nil || code != 3 || out.String() != "out\n" || errOut.String() != "err\n" {
		t.Fatalf("Run: %d %v %q %q", code, err, out.String(), errOut.String())
	}
	// stdin reaches the command
	out.Reset()
	if code, err := c.Run(ctx, "tr a-z A-Z", strings.NewReader("secret\n"), &out, nil); err != nil || code != 0 || out.String() != "SECRET\n" {
		t.Fatalf("Run with stdin: %d %v %q", code, err, out.String())
	}

	data := make([]byte, 5<<20+17)
	rand.Read(data)
	dst := filepath.Join(t.TempDir(), "it's a bundle.tar")
	if err := c.Upload(ctx, dst, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dst)
	if err != nil || st.Size() != int64(len(data)) || st.Mode().Perm() != 0o600 {
		t.Fatalf("uploaded file: %v %v", st, err)
	}
	var back bytes.Buffer
	if err := c.Download(ctx, dst, &back); err != nil || !bytes.Equal(back.Bytes(), data) {
		t.Fatalf("Download: %v (%d bytes)", err, back.Len())
	}
	// a source shorter than it said is an error
	if err := c.Upload(ctx, dst, bytes.NewReader(data[:100]), 200); err == nil || !strings.Contains(err.Error(), "gave 100 of 200 bytes") {
		t.Errorf("short upload: %v", err)
	}
	if err := c.Download(ctx, dst+".missing", &back); err == nil || !strings.Contains(err.Error(), "exit status") {
		t.Errorf("download of a missing file: %v", err)
	}
	// a cancelled command returns promptly
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := c.Run(cctx, "sleep 30", nil, nil, nil); err == nil || time.Since(start) > 10*time.Second {
		t.Errorf("cancelled Run: %v after %v", err, time.Since(start))
	}
}

func TestHostKeys(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	known := filepath.Join(f.env.Home, ".ssh", "known_hosts")

	// strict by default: an unknown host is refused, naming it and the
	// key's fingerprint, never the key itself
	_, err := Dial(ctx, f.dest(), f.opts)
	if err == nil || !strings.Contains(err.Error(), "is not known") || !strings.Contains(err.Error(), "SHA256:") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("unknown host: %v", err)
	}
	if keyBlob := strings.Fields(f.srv.HostPublicKey)[1]; strings.Contains(err.Error(), keyBlob) {
		t.Errorf("the error shows the host key: %v", err)
	}
	if _, err := os.Stat(known); !os.IsNotExist(err) {
		t.Errorf("a refused key was recorded: %v", err)
	}
	// accept-new records it, after which strict checking passes
	o := f.opts
	var log bytes.Buffer
	o.AcceptNewHostKeys, o.Log = true, &log
	c, err := Dial(ctx, f.dest(), o)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if !strings.Contains(log.String(), "recorded the new host key of [127.0.0.1]:"+strconv.Itoa(f.srv.Port)) {
		t.Errorf("log: %s", log.String())
	}
	if data, _ := os.ReadFile(known); !strings.Contains(string(data), strings.Fields(f.srv.HostPublicKey)[1]) {
		t.Fatalf("known_hosts: %s", data)
	}
	if c, err := Dial(ctx, f.dest(), f.opts); err != nil {
		t.Fatalf("strict after recording: %v", err)
	} else {
		c.Close()
	}

	// a changed key is refused even with accept-new, naming the line
	other := sshtarget.StartT(t, sshtarget.Options{})
	line := fmt.Sprintf("[127.0.0.1]:%d %s\n", other.Port, f.srv.HostPublicKey)
	os.WriteFile(known, []byte(line), 0o600)
	o.Identity = other.PrivateKeyPath
	_, err = Dial(ctx, fmt.Sprintf("127.0.0.1:%d", other.Port), o)
	if err == nil || !strings.Contains(err.Error(), "has CHANGED") || !strings.Contains(err.Error(), known+":1") {
		t.Fatalf("changed key: %v", err)
	}
}

func TestConfigAndProxyJump(t *testing.T) {
	f := newFixture(t)
	jump := sshtarget.StartT(t, sshtarget.Options{NoShellRC: true})
	known := filepath.Join(f.env.Home, "known")
	data, _ := os.ReadFile(f.srv.KnownHostsPath)
	jdata, _ := os.ReadFile(jump.KnownHostsPath)
	os.WriteFile(known, append(data, jdata...), 0o600)
	cfg := fmt.Sprintf(`
Host target
    HostName 127.0.0.1
    Port %d
    User %s
    IdentityFile %s
    ProxyJump bastion
Host bastion
    HostName 127.0.0.1
    Port %d
    IdentityFile %s
Host *
    UserKnownHostsFile %s
    GlobalKnownHostsFile none
    IdentityAgent none
`, f.srv.Port, f.srv.User, f.srv.PrivateKeyPath, jump.Port, jump.PrivateKeyPath, known)
	c, err := ParseConfig("config", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	// only the jump host is reachable directly
	var dialed []string
	o := Options{Config: c, Env: f.env, Timeout: 10 * time.Second, Dial: func(ctx context.Context, n, addr string) (net.Conn, error) {
		dialed = append(dialed, addr)
		if addr != jump.Addr() {
			return nil, fmt.Errorf("test: %s is not reachable directly", addr)
		}
		return (&net.Dialer{}).DialContext(ctx, n, addr)
	}}
	cl, err := Dial(context.Background(), "target", o)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out bytes.Buffer
	if code, err := cl.Run(context.Background(), "echo $SSH_CONNECTION", nil, &out, nil); err != nil || code != 0 {
		t.Fatal(code, err)
	}
	if !strings.HasSuffix(strings.TrimSpace(out.String()), " "+strconv.Itoa(f.srv.Port)) || len(dialed) != 1 || cl.Addr() != f.srv.Addr() {
		t.Errorf("SSH_CONNECTION %q, dialed %v, addr %s", out.String(), dialed, cl.Addr())
	}
	// without a key there is nothing to offer
	o.Config, _ = ParseConfig("config", []byte("IdentityAgent none\n"))
	o.Dial = nil
	if _, err := Dial(context.Background(), f.dest(), o); err == nil || !strings.Contains(err.Error(), "no SSH key") {
		t.Errorf("no key: %v", err)
	}
}
