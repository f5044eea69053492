// Package chroot runs commands and file operations inside a root file
// system being built, and adapts that to a Packer communicator.
//
// Every operation runs in a short-lived helper: the calling program
// re-executes itself (HelperArg as its first argument, dispatched by
// MaybeHelper) in new mount, PID and UTS namespaces. The helper makes every
// mount private, mounts the root (an overlayfs of cached layers and the
// build's upper directory, or a plain directory), mounts a fresh /proc
// (with /proc/sys read-only), a read-only /sys, a tmpfs /dev with the
// usual device nodes, /dev/pts and /dev/shm, the build's resolv.conf and
// any read-only binds, sets the host name, chroots and then runs the
// command as the namespace's first process, or does the file operation.
// When it exits the kernel ends every process left in the namespace and
// drops every mount with it: no mount outlives an operation, nothing is
// mounted on the host, and no host directory is reachable from the root
// except read-only binds. Paths are resolved after the chroot, so file
// operations cannot leave the root.
//
// chroot is not a security boundary against hostile root code; it keeps a
// build's accidents (an `rm -rf /`, a stray mount) inside the build.
package chroot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
)

// HelperArg is the hidden first argument that makes a program the helper.
const HelperArg = "__pipbake-chroot"

// specEnv carries the Spec to the helper.
const specEnv = "PIPBAKE_CHROOT_SPEC"

// Bind mounts a host directory into the root for the operation.
type Bind struct {
	Source string `json:"source"`
	// Target is the path inside the root; created when missing.
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only"`
}

// Spec describes the root and the environment of its commands.
type Spec struct {
	// Dir is the root: a plain directory, or with Lower set the (empty)
	// mount point of the overlay.
	Dir string `json:"dir"`
	// Lower (topmost first), Upper and Work make the root an overlayfs.
	Lower []string `json:"lower,omitempty"`
	Upper string   `json:"upper,omitempty"`
	Work  string   `json:"work,omitempty"`
	// Env is the commands' whole environment.
	Env []string `json:"env"`
	// Hostname is what commands see as the host name (default "pipbake").
	Hostname string `json:"hostname,omitempty"`
	// ResolvConf is a host file shown at /etc/resolv.conf during
	// operations (read-only); "" shows the root's own.
	ResolvConf string `json:"resolv_conf,omitempty"`
	Binds      []Bind `json:"binds,omitempty"`
	// NoDevices skips creating device nodes (unprivileged test roots).
	NoDevices bool `json:"no_devices,omitempty"`
}

// DefaultEnv is the commands' environment unless a Spec says otherwise.
var DefaultEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	"LANG=C.UTF-8",
	"USER=root",
	"DEBIAN_FRONTEND=noninteractive",
}

// Session runs operations in one root, one at a time.
type Session struct {
	Spec Spec
	// Self is the program re-executed as the helper (default: this
	// program).
	Self string

	mu sync.Mutex

	// live tracks operations in flight, so Close can end them.
	liveMu sync.Mutex
	live   map[*int]context.CancelFunc
	wg     sync.WaitGroup
	closed bool
}

// track registers an operation; the returned context ends when Close is
// called, and done must be called when the operation has ended.
func (s *Session) track(ctx context.Context) (context.Context, func(), error) {
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	if s.closed {
		return nil, nil, errors.New("chroot: session closed")
	}
	ctx, cancel := context.WithCancel(ctx)
	key := new(int)
	if s.live == nil {
		s.live = map[*int]context.CancelFunc{}
	}
	s.live[key] = cancel
	s.wg.Add(1)
	return ctx, func() {
		cancel()
		s.liveMu.Lock()
		delete(s.live, key)
		s.liveMu.Unlock()
		s.wg.Done()
	}, nil
}

// Close ends every operation still running (a command a provisioner left
// behind when it was interrupted, say: its whole namespace is killed) and
// waits for them; later operations fail.
func (s *Session) Close() {
	s.liveMu.Lock()
	s.closed = true
	for _, cancel := range s.live {
		cancel()
	}
	s.liveMu.Unlock()
	s.wg.Wait()
}

// Supported reports whether this machine can run helpers (Linux, root).
func Supported() error { return supported() }

func (s *Session) command(ctx context.Context, op string, args ...string) (*exec.Cmd, error) {
	self := s.Self
	if self == "" {
		var err error
		if self, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	spec, err := json.Marshal(s.Spec)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, append([]string{HelperArg, op}, args...)...)
	cmd.Env = []string{specEnv + "=" + string(spec)}
	// A race-built test binary (make check) hands its race detector's
	// options to the helpers it starts as itself: with the default
	// atexit_sleep_ms each helper sleeps 1 s before it exits. The helper
	// does not pass its environment on to the commands it runs.
	if v, ok := os.LookupEnv("GORACE"); ok {
		cmd.Env = append(cmd.Env, "GORACE="+v)
	}
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
	return cmd, nil
}

// Run runs a shell command line in the root and returns its exit status.
func (s *Session) Run(ctx context.Context, command string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	ctx, done, err := s.track(ctx)
	if err != nil {
		return -1, err
	}
	defer done()
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd, err := s.command(ctx, "run", command)
	if err != nil {
		return -1, err
	}
	var helperErr bytes.Buffer
	cmd.Stdin, cmd.Stdout = stdin, stdout
	if stderr == nil {
		stderr = io.Discard
	}
	cmd.Stderr = stderr
	cmd.ExtraFiles = nil
	pr, pw, err := os.Pipe()
	if err != nil {
		return -1, err
	}
	cmd.ExtraFiles = []*os.File{pw} // fd 3: the helper's own errors
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return -1, fmt.Errorf("chroot: start helper: %w", err)
	}
	pw.Close()
	copied := make(chan struct{})
	go func() { io.Copy(&helperErr, pr); pr.Close(); close(copied) }()
	werr := cmd.Wait()
	<-copied
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	if msg := strings.TrimSpace(helperErr.String()); msg != "" {
		return -1, fmt.Errorf("chroot: %s", msg)
	}
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			return 128 + int(st.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	if werr != nil {
		return -1, werr
	}
	return 0, nil
}

// file runs a file operation, with its errors on stderr.
func (s *Session) file(ctx context.Context, stdin io.Reader, stdout io.Writer, op string, args ...string) error {
	ctx, done, err := s.track(ctx)
	if err != nil {
		return err
	}
	defer done()
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd, err := s.command(ctx, op, args...)
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return fmt.Errorf("chroot: %s", msg)
		}
		return fmt.Errorf("chroot: %s %s: %w", op, strings.Join(args, " "), err)
	}
	return nil
}

// Put writes r to path in the root (parents created) with mode.
func (s *Session) Put(ctx context.Context, path string, r io.Reader, mode os.FileMode) error {
	return s.file(ctx, r, nil, "put", path, fmt.Sprintf("%o", mode.Perm()))
}

// Get copies the root's file path to w.
func (s *Session) Get(ctx context.Context, path string, w io.Writer) error {
	return s.file(ctx, nil, w, "get", path)
}

// PutTar extracts the tar stream r into the root's directory dir.
func (s *Session) PutTar(ctx context.Context, dir string, r io.Reader) error {
	return s.file(ctx, r, nil, "put-tar", dir)
}

// GetTar writes the root's path (a file or a directory's contents) as a
// tar stream to w.
func (s *Session) GetTar(ctx context.Context, path string, w io.Writer) error {
	return s.file(ctx, nil, w, "get-tar", path)
}

// MaybeHelper runs the helper and exits when args (os.Args) ask for it;
// otherwise it returns. Programs that create Sessions call it first thing
// in main (and tests in TestMain).
func MaybeHelper(args []string) {
	if len(args) > 1 && args[1] == HelperArg {
		os.Exit(helperMain(args[2:]))
	}
}
