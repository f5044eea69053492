// Package sshtarget runs a throwaway OpenSSH server on the loopback
// interface, for end-to-end tests that need a real SSH target: Packer's SSH
// communicator, the pipbake provisioner, plain ssh.
//
// The server is Debian's /usr/sbin/sshd (package openssh-server), started in
// the foreground as the current user, listening on 127.0.0.1 only, on a free
// port. Host and client keys (ed25519) are made by ssh-keygen (package
// openssh-client) in a temporary directory, with StrictModes off so the
// directory may live under /tmp. Password, keyboard-interactive and PAM
// authentication are off: the generated client key is the only way in.
//
//	srv, err := sshtarget.Start(sshtarget.Options{})
//	if err != nil { ... }
//	defer srv.Stop()
//	out, err := srv.Run("echo ok")
//
// Tests should use StartT, which skips (or fails under PIPBAKE_E2E_REQUIRED)
// when sshd is missing and stops the server at cleanup.
//
// Commands run through the server get sshd's fresh session environment, not
// the test's: PIP_*, PYTHON* and the like do not leak into them.
package sshtarget

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultSshd is where Debian's openssh-server installs the daemon.
const DefaultSshd = "/usr/sbin/sshd"

// Options configure Start. The zero value is ready to use.
type Options struct {
	// Sshd is the daemon to run; default $PIPBAKE_SSHD, else DefaultSshd.
	// It must be an absolute path (sshd re-executes itself).
	Sshd string
	// LogLevel is sshd's LogLevel (QUIET, FATAL, ERROR, INFO, VERBOSE,
	// DEBUG1..3); default VERBOSE.
	LogLevel string
	// Config holds extra sshd_config lines, appended after the generated
	// ones (for sshd the first value of a keyword wins, so these cannot
	// override the generated keywords; use them for others, e.g.
	// "AcceptEnv LANG").
	Config []string
	// StartTimeout bounds each start attempt; default 15s.
	StartTimeout time.Duration
	// NoShellRC hides the user's ~/.bashrc from the sessions, as on a
	// freshly launched machine: bash reads it for every command sshd runs,
	// and a developer's (pyenv init, say) costs every round trip a tenth
	// of a second. Linux and root only (sshd runs in a private mount
	// namespace with an empty file bound over it); elsewhere, where mount
	// namespaces are not allowed (a container without CAP_SYS_ADMIN) and
	// with Chroot (the sessions read the root's own file) it is ignored.
	NoShellRC bool
	// Chroot, when set, is a root file system every session runs in
	// (sshd's ChrootDirectory): a machine of its own, e.g. a Debian root
	// from basetest.MachineRoot. The folder and every folder above it must
	// be root's and writable by no one else; the root needs the user's
	// shell, /dev/null and whatever the sessions run (scp for Packer's
	// uploads).
	Chroot string
}

// Server is a running sshd. Its fields are read-only.
type Server struct {
	// Host is the address the server listens on: "127.0.0.1".
	Host string
	// Port is the TCP port it listens on.
	Port int
	// User is the login name to use (the current user).
	User string
	// PrivateKeyPath is the client's private key (OpenSSH format, ed25519,
	// no passphrase, mode 0600); PublicKey is its authorized_keys line.
	PrivateKeyPath string
	PublicKey      string
	// HostPublicKey is the server's host key line ("ssh-ed25519 AAAA...").
	HostPublicKey string
	// KnownHostsPath is a known_hosts file that pins HostPublicKey for
	// [Host]:Port.
	KnownHostsPath string
	// Dir is the server's private temporary directory (keys, config, log,
	// pid file); removed by Stop.
	Dir string
	// LogPath is sshd's log (its stderr, sshd -e).
	LogPath string

	cmd      *exec.Cmd
	exited   chan struct{}
	waitErr  error
	stopOnce sync.Once
	stopErr  error
}

// Available reports why no server could be started here, or nil: sshd,
// ssh and ssh-keygen must all be installed.
func Available() error {
	return available(sshdPath(""))
}

func available(sshd string) error {
	var missing []string
	if st, err := os.Stat(sshd); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		missing = append(missing, sshd+" (Debian package openssh-server)")
	}
	for _, tool := range []string{"ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool+" (Debian package openssh-client)")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("sshtarget: not installed: %s", strings.Join(missing, ", "))
	}
	return nil
}

func sshdPath(p string) string {
	if p != "" {
		return p
	}
	if p := os.Getenv("PIPBAKE_SSHD"); p != "" {
		return p
	}
	return DefaultSshd
}

// Start generates keys and starts sshd on 127.0.0.1 on a free port. It
// returns once the server has logged that it listens and answers with an
// SSH banner. The caller must call Stop.
func Start(opts Options) (*Server, error) {
	sshd := sshdPath(opts.Sshd)
	if !filepath.IsAbs(sshd) {
		return nil, fmt.Errorf("sshtarget: sshd path %q is not absolute", sshd)
	}
	if err := available(sshd); err != nil {
		return nil, err
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "VERBOSE"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 15 * time.Second
	}
	u, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("sshtarget: current user: %w", err)
	}
	if os.Geteuid() == 0 {
		// sshd running as root needs its privilege separation directory;
		// Debian's init script makes it, which never ran here.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			return nil, fmt.Errorf("sshtarget: %w", err)
		}
	}

	dir, err := os.MkdirTemp("", "pipbake-sshtarget-")
	if err != nil {
		return nil, fmt.Errorf("sshtarget: %w", err)
	}
	s := &Server{
		Host:           "127.0.0.1",
		User:           u.Username,
		Dir:            dir,
		PrivateKeyPath: filepath.Join(dir, "id_ed25519"),
		KnownHostsPath: filepath.Join(dir, "known_hosts"),
		LogPath:        filepath.Join(dir, "sshd.log"),
	}
	fail := func(err error) (*Server, error) {
		os.RemoveAll(dir)
		return nil, err
	}

	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	if s.HostPublicKey, err = keygen(hostKey, "pipbake-sshtarget-host"); err != nil {
		return fail(err)
	}
	if s.PublicKey, err = keygen(s.PrivateKeyPath, "pipbake-sshtarget-client"); err != nil {
		return fail(err)
	}
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, []byte(s.PublicKey+"\n"), 0o600); err != nil {
		return fail(fmt.Errorf("sshtarget: %w", err))
	}

	// A free port is only free until someone takes it: on a bind failure
	// try again with another.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return fail(err)
		}
		s.Port = port
		config := s.config(hostKey, authorized, opts)
		configPath := filepath.Join(dir, "sshd_config")
		if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
			return fail(fmt.Errorf("sshtarget: %w", err))
		}
		err = s.start(s.command(sshd, configPath, opts), opts.StartTimeout)
		if err == nil {
			known := fmt.Sprintf("[%s]:%d %s\n", s.Host, s.Port, s.HostPublicKey)
			if err := os.WriteFile(s.KnownHostsPath, []byte(known), 0o600); err != nil {
				s.Stop()
				return nil, fmt.Errorf("sshtarget: %w", err)
			}
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errBind) {
			break
		}
	}
	return fail(lastErr)
}

var errBind = errors.New("port taken")

func (s *Server) config(hostKey, authorized string, opts Options) string {
	rootLogin := "no"
	if os.Geteuid() == 0 {
		rootLogin = "prohibit-password"
	}
	lines := []string{
		"# generated by pipbake internal/sshtarget",
		fmt.Sprintf("Port %d", s.Port),
		"ListenAddress " + s.Host,
		"AddressFamily inet",
		"HostKey " + hostKey,
		"PidFile " + filepath.Join(s.Dir, "sshd.pid"),
		"AuthorizedKeysFile " + authorized,
		"AllowUsers " + s.User,
		"PermitRootLogin " + rootLogin,
		"StrictModes no",
		"UsePAM no",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"HostbasedAuthentication no",
		"PermitUserEnvironment no",
		"UseDNS no",
		"PrintMotd no",
		"PrintLastLog no",
		"X11Forwarding no",
		"MaxSessions 32",
		"MaxStartups 64:30:128",
		"LoginGraceTime 30",
		"LogLevel " + opts.LogLevel,
		// internal-sftp needs no helper binary; Packer's file uploads use
		// scp (the remote scp binary, from openssh-client) or sftp.
		"Subsystem sftp internal-sftp",
	}
	if opts.Chroot != "" {
		lines = append(lines, "ChrootDirectory "+opts.Chroot)
	}
	lines = append(lines, opts.Config...)
	return strings.Join(lines, "\n") + "\n"
}

// command is the sshd command line: -D stays in the foreground, -e logs to
// stderr (the log file).
func (s *Server) command(sshd, configPath string, opts Options) *exec.Cmd {
	args := []string{sshd, "-D", "-e", "-f", configPath}
	if rc := s.shellRC(opts); rc != "" {
		empty := filepath.Join(s.Dir, "empty-bashrc")
		if err := os.WriteFile(empty, nil, 0o644); err == nil {
			return exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "--",
				"/bin/sh", "-c", `mount --bind "$1" "$2" && shift 2 && exec "$@"`, "sh", empty, rc}, args...)...)
		}
	}
	return exec.Command(args[0], args[1:]...)
}

// shellRC is the ~/.bashrc NoShellRC hides, or "" when there is none or
// hiding is not possible here.
func (s *Server) shellRC(opts Options) string {
	if !opts.NoShellRC || opts.Chroot != "" || runtime.GOOS != "linux" || os.Geteuid() != 0 {
		return ""
	}
	// The home sshd uses is the password database's, not $HOME.
	u, err := user.Lookup(s.User)
	if err != nil || u.HomeDir == "" {
		return ""
	}
	if exec.Command("unshare", "--mount", "--propagation", "private", "--", "true").Run() != nil {
		return "" // no unshare, or no right to make a mount namespace
	}
	rc := filepath.Join(u.HomeDir, ".bashrc")
	if st, err := os.Stat(rc); err != nil || !st.Mode().IsRegular() {
		return ""
	}
	return rc
}

func (s *Server) start(cmd *exec.Cmd, timeout time.Duration) error {
	logf, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("sshtarget: %w", err)
	}
	defer logf.Close()
	sshd := cmd.Path
	cmd.Dir = s.Dir
	cmd.Env = cleanEnv(nil)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("sshtarget: start %s: %w", sshd, err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()

	listening := fmt.Sprintf("Server listening on %s port %d", s.Host, s.Port)
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-s.exited:
			log := s.Log()
			if strings.Contains(log, "Address already in use") || strings.Contains(log, "Cannot bind any address") {
				return fmt.Errorf("sshtarget: port %d: %w", s.Port, errBind)
			}
			return fmt.Errorf("sshtarget: sshd exited at start (%v); its log:\n%s", s.waitErr, log)
		default:
		}
		if strings.Contains(s.Log(), listening) && banner(s.Addr()) == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("sshtarget: sshd did not listen on %s within %v; its log:\n%s", s.Addr(), timeout, s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// banner connects and reads the server's identification string.
func banner(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if n >= 4 && string(buf[:4]) == "SSH-" {
		return nil
	}
	if err == nil {
		err = fmt.Errorf("no SSH banner: %q", buf[:n])
	}
	return err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("sshtarget: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// keygen makes an ed25519 key pair without passphrase at path and returns
// the public key line without its comment.
func keygen(path, comment string) (string, error) {
	cmd := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path)
	cmd.Env = cleanEnv(nil)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("sshtarget: ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(path + ".pub")
	if err != nil {
		return "", fmt.Errorf("sshtarget: %w", err)
	}
	f := strings.Fields(string(pub))
	if len(f) < 2 {
		return "", fmt.Errorf("sshtarget: malformed public key %s", path+".pub")
	}
	return f[0] + " " + f[1], nil
}

// Addr is "127.0.0.1:PORT".
func (s *Server) Addr() string {
	return net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
}

// Log returns sshd's log so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.LogPath)
	return string(b)
}

// SSHArgs are the ssh(1) options that reach this server with the client
// key and the pinned host key, ignoring the user's ssh config and agent;
// append "--" and a remote command. The destination is included.
func (s *Server) SSHArgs() []string {
	return []string{
		"-F", "/dev/null",
		"-p", strconv.Itoa(s.Port),
		"-i", s.PrivateKeyPath,
		"-o", "IdentitiesOnly=yes",
		"-o", "IdentityAgent=none",
		"-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile=" + s.KnownHostsPath,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "ConnectTimeout=10",
		"-o", "LogLevel=ERROR",
		"-T",
		s.User + "@" + s.Host,
	}
}

// Command returns an unstarted ssh(1) command that runs remote (a shell
// command line, as ssh passes it to the login shell) on the server. Its
// environment is cleaned of PIP_*, PYTHON*, SSH_AUTH_SOCK and the like;
// set Stdin, Stdout and Stderr as needed. ssh exits with the remote
// command's status, or 255 for its own errors.
func (s *Server) Command(ctx context.Context, remote string) *exec.Cmd {
	args := append(s.SSHArgs(), "--", remote)
	cmd := exec.CommandContext(ctx, "ssh", args...)
	cmd.Env = cleanEnv(nil)
	return cmd
}

// CommunicatorHCL is the HCL2 body that points a Packer source (the null
// builder, say) at this server with Packer's SSH communicator:
//
//	source "null" "t" {
//	  <CommunicatorHCL>
//	}
func (s *Server) CommunicatorHCL() string {
	return fmt.Sprintf(`communicator         = "ssh"
ssh_host             = %q
ssh_port             = %d
ssh_username         = %q
ssh_private_key_file = %q
ssh_timeout          = "30s"
`, s.Host, s.Port, s.User, s.PrivateKeyPath)
}

// RunError is returned by Run when the remote command fails.
type RunError struct {
	Cmd      string
	ExitCode int // the remote status; 255 when ssh itself failed
	Output   string
	Err      error
}

func (e *RunError) Error() string {
	return fmt.Sprintf("sshtarget: %q: %v\n%s", e.Cmd, e.Err, e.Output)
}

func (e *RunError) Unwrap() error { return e.Err }

// Run runs remote over ssh and returns its combined stdout and stderr; a
// non-zero exit is a *RunError. It gives up after 5 minutes; use
// RunContext for another limit.
func (s *Server) Run(remote string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return s.RunContext(ctx, remote)
}

// RunContext is Run with a context.
func (s *Server) RunContext(ctx context.Context, remote string) (string, error) {
	var out bytes.Buffer
	cmd := s.Command(ctx, remote)
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if err != nil {
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		return out.String(), &RunError{Cmd: remote, ExitCode: code, Output: out.String(), Err: err}
	}
	return out.String(), nil
}

// Stop kills sshd together with every process of its sessions (found by
// parentage and by the SSH_CONNECTION that sshd sets for them, so that
// commands left running in the background are caught too), and removes
// Dir. It is safe to call more than once; later calls return the first
// result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.kill()
		if err := os.RemoveAll(s.Dir); err != nil {
			s.stopErr = fmt.Errorf("sshtarget: %w", err)
		}
	})
	return s.stopErr
}

// kill ends sshd and its sessions and waits for sshd to be reaped.
func (s *Server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
	default:
		killTree(s.cmd.Process.Pid, s.Port)
	}
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.exited
	}
	// Sessions already gone from the tree (their sshd child exited) may
	// still hold the marker.
	killTree(-1, s.Port)
}

// cleanEnv is the environment for child processes: the caller's, less the
// variables that would change what ssh or Python do, plus extra.
func cleanEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if dropEnv(k) {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

func dropEnv(k string) bool {
	for _, p := range []string{"PIP_", "PYTHON", "SSH_", "VIRTUAL_ENV", "CONDA", "UV_"} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}
