//go:build linux

package chroot

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/pipbake/packer-plugin-pipbake/internal/rootfs"
)

func supported() error {
	if os.Geteuid() != 0 {
		return errors.New("chroot: building a root needs root (mount and chroot)")
	}
	return nil
}

func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS,
		Pdeathsig:  syscall.SIGKILL,
	}
}

// OverlaySupported reports whether overlayfs can be mounted here, by
// mounting a tiny one in a helper-like private namespace of a child.
func OverlaySupported(self, scratch string) bool {
	dir, err := os.MkdirTemp(scratch, "overlay-probe-")
	if err != nil {
		return false
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"l", "u", "w", "m"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return false
		}
	}
	s := &Session{Self: self, Spec: Spec{Dir: filepath.Join(dir, "m"), Lower: []string{filepath.Join(dir, "l")},
		Upper: filepath.Join(dir, "u"), Work: filepath.Join(dir, "w")}}
	cmd, err := s.command(context.Background(), "probe")
	if err != nil {
		return false
	}
	return cmd.Run() == nil
}

// helperMain is the helper: set the namespace up, then do op.
func helperMain(args []string) int {
	var errOut io.Writer = os.Stderr
	if len(args) > 0 && args[0] == "run" {
		if f := os.NewFile(3, "helper-errors"); f != nil {
			syscall.CloseOnExec(3)
			errOut = f
		}
	}
	fail := func(err error) int {
		fmt.Fprintln(errOut, err)
		return 125
	}
	if len(args) == 0 {
		return fail(errors.New("no operation"))
	}
	var spec Spec
	if err := json.Unmarshal([]byte(os.Getenv(specEnv)), &spec); err != nil {
		return fail(fmt.Errorf("bad spec: %w", err))
	}
	if err := setup(&spec, args[0] == "probe"); err != nil {
		return fail(err)
	}
	op, rest := args[0], args[1:]
	switch op {
	case "probe":
		return 0
	case "run":
		if len(rest) != 1 {
			return fail(errors.New("run: one command line"))
		}
		return run(spec, rest[0], fail)
	case "put":
		if len(rest) != 2 {
			return fail(errors.New("put: PATH MODE"))
		}
		mode, err := strconv.ParseUint(rest[1], 8, 32)
		if err != nil {
			return fail(err)
		}
		if err := put(rest[0], os.FileMode(mode)); err != nil {
			return fail(err)
		}
	case "get":
		if len(rest) != 1 {
			return fail(errors.New("get: PATH"))
		}
		f, err := os.Open(rest[0])
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			return fail(fmt.Errorf("%s is a directory", rest[0]))
		}
		if _, err := io.Copy(os.Stdout, f); err != nil {
			return fail(err)
		}
	case "put-tar":
		if len(rest) != 1 {
			return fail(errors.New("put-tar: DIR"))
		}
		if err := untar(rest[0], os.Stdin); err != nil {
			return fail(err)
		}
	case "get-tar":
		if len(rest) != 1 {
			return fail(errors.New("get-tar: PATH"))
		}
		if err := writeTar(os.Stdout, rest[0]); err != nil {
			return fail(err)
		}
	default:
		return fail(fmt.Errorf("unknown operation %q", op))
	}
	return 0
}

// setup mounts the root and its special file systems and chroots into it.
func setup(spec *Spec, probeOnly bool) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	root := spec.Dir
	if len(spec.Lower) > 0 {
		if err := mountOverlay(spec); err != nil {
			return err
		}
	}
	if probeOnly {
		return nil
	}
	// /proc, with /proc/sys read-only.
	if p, err := mountPoint(root, "proc"); err != nil {
		return err
	} else {
		if err := unix.Mount("proc", p, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("mount /proc: %w", err)
		}
		if err := bindReadOnly(filepath.Join(p, "sys"), filepath.Join(p, "sys")); err != nil {
			return fmt.Errorf("/proc/sys read-only: %w", err)
		}
	}
	if p, err := mountPoint(root, "sys"); err != nil {
		return err
	} else if err := unix.Mount("sysfs", p, "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /sys: %w", err)
	}
	if err := mountDev(root, spec.NoDevices); err != nil {
		return err
	}
	if spec.ResolvConf != "" {
		if err := mountResolvConf(root, spec.ResolvConf); err != nil {
			return err
		}
	}
	for _, b := range spec.Binds {
		p, err := mountPoint(root, strings.Trim(b.Target, "/"))
		if err != nil {
			return err
		}
		if b.ReadOnly {
			err = bindReadOnly(b.Source, p)
		} else {
			err = unix.Mount(b.Source, p, "", unix.MS_BIND|unix.MS_REC, "")
		}
		if err != nil {
			return fmt.Errorf("bind %s at %s: %w", b.Source, b.Target, err)
		}
	}
	host := spec.Hostname
	if host == "" {
		host = "pipbake"
	}
	if err := unix.Sethostname([]byte(host)); err != nil {
		return fmt.Errorf("set host name: %w", err)
	}
	if err := unix.Chroot(root); err != nil {
		return fmt.Errorf("chroot %s: %w", root, err)
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	unix.Umask(0o022)
	return nil
}

func mountOverlay(spec *Spec) error {
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(spec.Lower, ":"), spec.Upper, spec.Work)
	// Renamed directories are copied (no redirects) and no index is kept,
	// so the upper directory is a plain layer.
	for _, extra := range []string{",redirect_dir=off,index=off,metacopy=off", ""} {
		if len(opts+extra) > 4000 {
			return fmt.Errorf("overlay options too long (%d layers)", len(spec.Lower))
		}
		err := unix.Mount("overlay", spec.Dir, "overlay", 0, opts+extra)
		if err == nil {
			return nil
		}
		if extra == "" {
			return fmt.Errorf("mount overlay at %s: %w", spec.Dir, err)
		}
	}
	return nil
}

// mountPoint resolves rel inside root (symlinks stay inside) and creates
// the directory when missing.
func mountPoint(root, rel string) (string, error) {
	p, err := rootfs.ResolveDir(root, rel, true)
	if err != nil {
		return "", fmt.Errorf("mount point /%s: %w", rel, err)
	}
	return p, nil
}

func bindReadOnly(src, dst string) error {
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	return unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "")
}

func mountDev(root string, noDevices bool) error {
	dev, err := mountPoint(root, "dev")
	if err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return fmt.Errorf("mount /dev: %w", err)
	}
	if !noDevices {
		for _, d := range []struct {
			name         string
			major, minor uint32
		}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}} {
			p := filepath.Join(dev, d.name)
			if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(d.major, d.minor))); err != nil {
				return fmt.Errorf("create /dev/%s: %w", d.name, err)
			}
			if err := os.Chmod(p, 0o666); err != nil {
				return err
			}
		}
	}
	for _, d := range []string{"pts", "shm"} {
		if err := os.Mkdir(filepath.Join(dev, d), 0o755); err != nil {
			return err
		}
	}
	if err := unix.Mount("devpts", filepath.Join(dev, "pts"), "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return fmt.Errorf("mount /dev/pts: %w", err)
	}
	if err := unix.Mount("shm", filepath.Join(dev, "shm"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777,size=65536k"); err != nil {
		return fmt.Errorf("mount /dev/shm: %w", err)
	}
	for name, target := range map[string]string{"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return err
		}
	}
	return nil
}

// mountResolvConf shows the host file at the root's /etc/resolv.conf. A
// missing file gets an empty mount point (a build-only path, left out of
// layers); a symbolic link there is left alone.
func mountResolvConf(root, src string) error {
	etc, err := rootfs.ResolveDir(root, "etc", false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	p := filepath.Join(etc, "resolv.conf")
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		f.Close()
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return nil
	}
	if err := bindReadOnly(src, p); err != nil {
		return fmt.Errorf("resolv.conf: %w", err)
	}
	return nil
}

// run runs command with /bin/sh as the namespace's first process's child,
// passing on interrupts, and returns its exit status.
func run(spec Spec, command string, fail func(error) int) int {
	env := spec.Env
	if env == nil {
		env = DefaultEnv
	}
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("run /bin/sh in the root: %w", err))
	}
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	err := cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			return 128 + int(st.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		return fail(err)
	}
	return 0
}

// put writes stdin to p.
func put(p string, mode os.FileMode) error {
	// Parents are created following symlinks as the chroot sees them.
	dir, err := rootfs.ResolveDir("/", path.Dir(path.Clean("/"+p)), true)
	if err != nil {
		return err
	}
	p = filepath.Join(dir, path.Base(p))
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, os.Stdin); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// untar extracts a tar stream into dir (already inside the root).
func untar(dir string, r io.Reader) error {
	dir, err := rootfs.ResolveDir("/", path.Clean("/"+dir), true)
	if err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		rel, err := rootfs.CleanName(h.Name)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, rel)
		mode := os.FileMode(h.Mode).Perm()
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			os.Chmod(p, mode)
		case tar.TypeReg: // tar.Reader reads the old TypeRegA as TypeReg (or TypeDir)
			os.MkdirAll(filepath.Dir(p), 0o755)
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			f.Close()
			os.Chmod(p, mode)
		case tar.TypeSymlink:
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.Remove(p)
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
		}
	}
}

// writeTar writes a file, or a directory's contents, as a tar stream.
func writeTar(w io.Writer, p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	if !fi.IsDir() {
		if err := addTar(tw, p, filepath.Base(p), fi, true); err != nil {
			return err
		}
		return tw.Close()
	}
	err = filepath.Walk(p, func(q string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(p, q)
		if rel == "." {
			return nil
		}
		return addTar(tw, q, filepath.ToSlash(rel), fi, true)
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
