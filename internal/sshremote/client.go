// Package sshremote runs commands on a machine over SSH (golang.org/x/crypto/ssh):
// it is bake.Remote for `pipbake push`, the same interface the Packer
// provisioner implements over a communicator. It reads the user's
// ~/.ssh/config (the subset in config.go), checks host keys against
// known_hosts (strict unless asked to record new ones; a changed key is
// always refused), authenticates with keys from ssh-agent and identity
// files, never forwards the agent, and uploads by streaming into `cat` on
// the machine (no SFTP).
package sshremote

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/pipbake/packer-plugin-pipbake/internal/bake"
	"github.com/pipbake/packer-plugin-pipbake/internal/shell"
)

// Options configure Dial.
type Options struct {
	// Config is the ssh_config in force (nil: none).
	Config *Config
	// Env gives the home folder and local user for tokens and defaults.
	Env Env
	// Identity is a private key file tried before any other (--identity).
	Identity string
	// AcceptNewHostKeys records the key of a host known_hosts does not
	// know, in the first user known_hosts file (a changed key is still
	// refused). StrictHostKeyChecking accept-new in the config does the
	// same per host.
	AcceptNewHostKeys bool
	// Timeout bounds connecting and the handshake, per hop (default: the
	// config's ConnectTimeout, else 20s).
	Timeout time.Duration
	// Log gets warnings: config settings not honoured, keys skipped, host
	// keys recorded.
	Log io.Writer
	// Dial replaces the TCP dial of the first hop (tests).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// Client is a connection to one machine.
type Client struct {
	name   string
	addr   string
	client *ssh.Client
	// hops are the jump hosts' connections, closed after client.
	hops []*ssh.Client
	stop chan struct{}
	once sync.Once
}

var _ bake.Remote = (*Client)(nil)

// Name is the destination as given.
func (c *Client) Name() string { return c.name }

// Addr is the address connected to (host:port).
func (c *Client) Addr() string { return c.addr }

// Dial connects to dest ([user@]host[:port], resolved through the config),
// through its ProxyJump hosts if any (a jump host's own ProxyJump is not
// followed).
func Dial(ctx context.Context, dest string, opts Options) (*Client, error) {
	d, err := ParseDestination(dest)
	if err != nil {
		return nil, err
	}
	c := &Client{name: dest, stop: make(chan struct{})}
	hc := resolveDest(d, opts)
	dial := opts.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	for _, hop := range hc.ProxyJump {
		hd, err := ParseDestination(hop)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("ProxyJump: %w", err)
		}
		jc, _, err := connect(ctx, dial, resolveDest(hd, opts), opts)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("ProxyJump %s: %w", hop, err)
		}
		c.hops = append(c.hops, jc)
		dial = jc.DialContext
	}
	if c.client, c.addr, err = connect(ctx, dial, hc, opts); err != nil {
		c.Close()
		return nil, err
	}
	go c.keepAlive(hc)
	return c, nil
}

// resolveDest applies the config to a destination; the destination's own
// user and port win.
func resolveDest(d Destination, opts Options) *HostConfig {
	hc := opts.Config.Resolve(d.Host, opts.Env)
	for _, w := range hc.Warnings {
		opts.logf("pipbake: ssh config: %s", w)
	}
	if d.User != "" {
		hc.User = d.User
	}
	if d.Port != 0 {
		hc.Port = d.Port
	}
	return hc
}

// connect dials hc's address with dial and runs the SSH handshake.
func connect(ctx context.Context, dial func(context.Context, string, string) (net.Conn, error), hc *HostConfig, opts Options) (*ssh.Client, string, error) {
	addr := net.JoinHostPort(hc.HostName, strconv.Itoa(hc.Port))
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = hc.ConnectTimeout
	}
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	conn, err := dial(dctx, "tcp", addr)
	cancel()
	if err != nil {
		return nil, addr, fmt.Errorf("connect to %s: %w", addr, err)
	}
	hostKeys, algos, err := hostKeyCallback(hc, opts, addr, conn.RemoteAddr())
	if err != nil {
		conn.Close()
		return nil, addr, err
	}
	auth, closeAgent, err := authMethods(hc, opts)
	if err != nil {
		conn.Close()
		return nil, addr, err
	}
	defer closeAgent()
	cfg := &ssh.ClientConfig{
		User:              hc.User,
		Auth:              auth,
		HostKeyCallback:   hostKeys,
		HostKeyAlgorithms: algos,
		Timeout:           timeout,
		ClientVersion:     "SSH-2.0-pipbake",
	}
	// the handshake obeys the timeout and the context
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	stop()
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, addr, fmt.Errorf("ssh handshake with %s: %w", addr, ctx.Err())
		}
		return nil, addr, fmt.Errorf("ssh handshake with %s as %s: %w", addr, hc.User, err)
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), addr, nil
}

// keepAlive sends keepalive requests (ServerAliveInterval, default 15s)
// and closes the connection when ServerAliveCountMax go unanswered, so a
// dead peer ends the commands waiting on it.
func (c *Client) keepAlive(hc *HostConfig) {
	interval := hc.ServerAliveInterval
	if interval == 0 {
		interval = 15 * time.Second
	}
	maxMissed := hc.ServerAliveCountMax
	if maxMissed <= 0 {
		maxMissed = 3
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	missed := 0
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		done := make(chan error, 1)
		go func() {
			_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
			done <- err
		}()
		select {
		case <-c.stop:
			return
		case err := <-done:
			if err != nil {
				c.Close()
				return
			}
			missed = 0
		case <-time.After(interval):
			if missed++; missed >= maxMissed {
				c.Close()
				return
			}
		}
	}
}

// Close ends the connection and the jump hosts'.
func (c *Client) Close() error {
	var err error
	c.once.Do(func() {
		close(c.stop)
		if c.client != nil {
			err = c.client.Close()
		}
		for i := len(c.hops) - 1; i >= 0; i-- {
			c.hops[i].Close()
		}
	})
	return err
}

// Run runs a command line (through the login shell, as ssh does) and
// returns its exit status.

// ErrNoExitStatus is returned when a command ends without an exit status:
// the connection was lost, or the command was killed by a signal.
var ErrNoExitStatus = errors.New("the command ended without an exit status (connection lost or command killed)")

func (c *Client) Run(ctx context.Context, command string, in io.Reader, stdout, stderr io.Writer) (int, error) {
	s, err := c.client.NewSession()
	if err != nil {
		return -1, fmt.Errorf("open an SSH session: %w", err)
	}
	defer s.Close()
	s.Stdin, s.Stdout, s.Stderr = in, stdout, stderr
	if err := s.Start(command); err != nil {
		return -1, fmt.Errorf("start a command: %w", err)
	}
	return c.wait(ctx, s)
}

func (c *Client) wait(ctx context.Context, s *ssh.Session) (int, error) {
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		// OpenSSH's sshd refuses signal requests ("session signalling
		// requires privilege separation"), so this is best effort: the
		// command goes on until it ends or writes to the closed channel
		// (the agent writes progress lines, and stops at the next).
		s.Signal(ssh.SIGTERM)
		s.Close()
		return -1, ctx.Err()
	}
	return exitStatus(err)
}

func exitStatus(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		if ee.Signal() != "" {
			return -1, fmt.Errorf("the command was killed by signal %s", ee.Signal())
		}
		return ee.ExitStatus(), nil
	}
	var missing *ssh.ExitMissingError
	if errors.As(err, &missing) || errors.Is(err, io.EOF) {
		return -1, ErrNoExitStatus
	}
	return -1, err
}

// Upload streams size bytes of r into path on the machine (mode 0600, as
// the provisioner's uploads), through `cat`: no SFTP server needed. A
// short read or a lost connection is an error; the file may then be left
// partial.
func (c *Client) Upload(ctx context.Context, path string, r io.Reader, size int64) error {
	s, err := c.client.NewSession()
	if err != nil {
		return fmt.Errorf("open an SSH session: %w", err)
	}
	defer s.Close()
	stdin, err := s.StdinPipe()
	if err != nil {
		return err
	}
	var stderr tail
	s.Stderr = &stderr
	if err := s.Start("sh -c " + shell.Quote("umask 077 && exec cat > "+shell.Quote(path))); err != nil {
		return fmt.Errorf("start the upload of %s: %w", path, err)
	}
	copied := make(chan error, 1)
	var n int64
	go func() {
		var err error
		n, err = io.Copy(stdin, io.LimitReader(r, size))
		if cerr := stdin.Close(); err == nil {
			err = cerr
		}
		copied <- err
	}()
	var cerr error
	select {
	case cerr = <-copied:
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
	code, werr := c.wait(ctx, s)
	switch {
	case cerr != nil:
		return fmt.Errorf("upload %s: sent %d of %d bytes: %w", path, n, size, cerr)
	case n != size:
		return fmt.Errorf("upload %s: the source gave %d of %d bytes", path, n, size)
	case werr != nil:
		return fmt.Errorf("upload %s: %w", path, werr)
	case code != 0:
		return fmt.Errorf("upload %s: cat exited with status %d: %s", path, code, stderr.String())
	}
	return nil
}

// Download copies a file on the machine to w.
func (c *Client) Download(ctx context.Context, path string, w io.Writer) error {
	var stderr tail
	code, err := c.Run(ctx, "cat < "+shell.Quote(path), nil, w, &stderr)
	if err != nil {
		return fmt.Errorf("download %s: %w", path, err)
	}
	if code != 0 {
		return fmt.Errorf("download %s: exit status %d: %s", path, code, stderr.String())
	}
	return nil
}

// tail keeps the last 4 KiB written, for messages.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = t.buf[len(t.buf)-4096:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// hostKeyCallback checks host keys against the known_hosts files hc names
// and returns the host key algorithms to ask for (those of the keys known
// for the host, so a server offering several is checked against the one
// on file).
func hostKeyCallback(hc *HostConfig, opts Options, addr string, remote net.Addr) (ssh.HostKeyCallback, []string, error) {
	var files []string
	for _, f := range append(append([]string{}, hc.UserKnownHostsFiles...), hc.GlobalKnownHostsFiles...) {
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
			files = append(files, f)
		}
	}
	check := func(string, net.Addr, ssh.PublicKey) error { return &knownhosts.KeyError{} }
	if len(files) > 0 {
		cb, err := knownhosts.New(files...)
		if err != nil {
			return nil, nil, fmt.Errorf("read known hosts: %w", err)
		}
		check = cb
	}
	accept := opts.AcceptNewHostKeys || hc.StrictHostKeyChecking == "accept-new"
	record := ""
	if len(hc.UserKnownHostsFiles) > 0 {
		record = hc.UserKnownHostsFiles[0]
	}
	cb := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := check(hostname, remote, key)
		if err == nil {
			return nil
		}
		fp := key.Type() + " " + ssh.FingerprintSHA256(key)
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case errors.As(err, &re):
			return fmt.Errorf("the host key of %s (%s) is revoked in known_hosts: refusing to connect", hostname, fp)
		case errors.As(err, &ke) && len(ke.Want) > 0:
			var where []string
			for _, w := range ke.Want {
				where = append(where, fmt.Sprintf("%s:%d", w.Filename, w.Line))
			}
			return fmt.Errorf("the host key of %s has CHANGED (it now offers %s; known_hosts has another at %s): refusing to connect; if the change is expected, remove the old entry", hostname, fp, strings.Join(where, ", "))
		case errors.As(err, &ke):
			if !accept {
				hint := "add it to known_hosts after checking it out of band"
				if record != "" {
					hint = "add it to " + record + " after checking it out of band"
				}
				return fmt.Errorf("the host key of %s (%s) is not known: %s, or pass --accept-new-host-keys", hostname, fp, hint)
			}
			if record == "" {
				return fmt.Errorf("the host key of %s (%s) is not known and no UserKnownHostsFile is set to record it in", hostname, fp)
			}
			if err := appendKnownHost(record, hostname, key); err != nil {
				return fmt.Errorf("record the host key of %s: %w", hostname, err)
			}
			opts.logf("pipbake: recorded the new host key of %s (%s) in %s", knownhosts.Normalize(hostname), fp, record)
			return nil
		}
		return err
	}
	return cb, knownAlgorithms(check, addr, remote), nil
}

// probeKey is a key no known_hosts file holds, to ask a check which keys
// it has for a host.
// Made on first use, not at start: ed25519's self-test costs every
// pipbake command about 5 ms otherwise.
var probeKey = sync.OnceValue(func() ssh.PublicKey {
	k, _ := ssh.NewPublicKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public())
	return k
})

// knownAlgorithms asks the known_hosts check which keys it holds for a
// host (a KeyError's Want) and returns their algorithms, nil when it holds
// none (any algorithm then).
func knownAlgorithms(check ssh.HostKeyCallback, addr string, remote net.Addr) []string {
	var ke *knownhosts.KeyError
	if err := check(addr, remote, probeKey()); !errors.As(err, &ke) || len(ke.Want) == 0 {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	add := func(a ...string) {
		for _, x := range a {
			if !seen[x] {
				seen[x] = true
				algos = append(algos, x)
			}
		}
	}
	for _, w := range ke.Want {
		switch t := w.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			add(t)
		}
	}
	return algos
}

func appendKnownHost(file, hostname string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// authMethods are the keys to offer: --identity first, then ssh-agent's
// (unless IdentityAgent none or IdentitiesOnly), then the config's
// IdentityFiles (or the default ~/.ssh/id_ed25519, id_ecdsa, id_rsa).
// Encrypted keys are skipped with a warning unless the agent holds them.
func authMethods(hc *HostConfig, opts Options) ([]ssh.AuthMethod, func(), error) {
	var signers []ssh.Signer
	closeAgent := func() {}
	load := func(path string, explicit bool) error {
		data, err := os.ReadFile(path)
		if err != nil {
			if !explicit && errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return fmt.Errorf("read identity %s: %w", path, err)
		}
		s, err := ssh.ParsePrivateKey(data)
		var pm *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &pm):
			opts.logf("pipbake: identity %s is protected by a passphrase: skipped (load it into ssh-agent)", path)
			return nil
		case err != nil:
			return fmt.Errorf("read identity %s: %w", path, err)
		}
		signers = append(signers, s)
		return nil
	}
	if opts.Identity != "" {
		if err := load(opts.Identity, true); err != nil {
			return nil, closeAgent, err
		}
	}
	sock := hc.IdentityAgent
	if sock == "" {
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	if sock != "" && sock != "none" && !hc.IdentitiesOnly {
		if conn, err := net.Dial("unix", sock); err == nil {
			closeAgent = func() { conn.Close() }
			if as, err := agent.NewClient(conn).Signers(); err == nil {
				signers = append(signers, as...)
			} else {
				opts.logf("pipbake: ssh-agent at %s: %v", sock, err)
			}
		} else if hc.IdentityAgent != "" {
			opts.logf("pipbake: ssh-agent at %s: %v", sock, err)
		}
	}
	files := hc.IdentityFiles
	if len(files) == 0 && opts.Env.Home != "" {
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			files = append(files, filepath.Join(opts.Env.Home, ".ssh", n))
		}
	}
	for _, f := range files {
		if err := load(f, false); err != nil {
			return nil, closeAgent, err
		}
	}
	if len(signers) == 0 {
		return nil, closeAgent, fmt.Errorf("no SSH key to authenticate with: give --identity, IdentityFile in the ssh config, or run ssh-agent")
	}
	return []ssh.AuthMethod{ssh.PublicKeys(signers...)}, closeAgent, nil
}
