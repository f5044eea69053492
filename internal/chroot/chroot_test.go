package chroot_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/pipbake/packer-plugin-pipbake/internal/chroot"
	"github.com/pipbake/packer-plugin-pipbake/internal/rootfs"
	"github.com/pipbake/packer-plugin-pipbake/internal/testenv"
)

func TestMain(m *testing.M) {
	chroot.MaybeHelper(os.Args)
	os.Exit(m.Run())
}

// hostRoot makes a tiny root from this machine's programs and the
// libraries they load.
func hostRoot(t *testing.T) string {
	t.Helper()
	if err := chroot.Supported(); err != nil {
		testenv.Missing(t, "%v", err)
	}
	root := t.TempDir()
	bins := []string{"/bin/sh", "/bin/cat", "/bin/ls", "/bin/rm", "/bin/mkdir", "/bin/hostname", "/bin/sleep", "/bin/touch"}
	files := map[string]bool{}
	for _, b := range bins {
		real, err := filepath.EvalSymlinks(b)
		if err != nil {
			t.Skipf("%s: %v", b, err)
		}
		files[real] = true
		out, _ := exec.Command("ldd", real).Output()
		for _, f := range strings.Fields(string(out)) {
			if strings.HasPrefix(f, "/") {
				files[f] = true
				if r, err := filepath.EvalSymlinks(f); err == nil {
					files[r] = true
				}
			}
		}
	}
	for f := range files {
		dst := filepath.Join(root, f)
		os.MkdirAll(filepath.Dir(dst), 0o755)
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range bins {
		real, _ := filepath.EvalSymlinks(b)
		if real != b {
			os.MkdirAll(filepath.Join(root, filepath.Dir(b)), 0o755)
			os.Symlink(real, filepath.Join(root, b))
		}
	}
	// Debian's merged /usr: /lib64 -> usr/lib64 etc. may be needed.
	for _, l := range []string{"lib", "lib64"} {
		if target, err := os.Readlink("/" + l); err == nil {
			if _, err := os.Lstat(filepath.Join(root, l)); err != nil {
				os.Symlink(target, filepath.Join(root, l))
			}
		}
	}
	for _, d := range []string{"etc", "tmp", "proc", "sys", "dev"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("base\n"), 0o644)
	return root
}

func run(t *testing.T, s *chroot.Session, command string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code, err := s.Run(context.Background(), command, nil, &out, &out)
	if err != nil {
		t.Fatalf("%s: %v", command, err)
	}
	return out.String(), code
}

func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, dir) {
			out = append(out, l)
		}
	}
	return out
}

func TestRunInPlainRoot(t *testing.T) {
	root := hostRoot(t)
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(resolv, []byte("nameserver 127.0.0.53\n"), 0o644)
	s := &chroot.Session{Spec: chroot.Spec{Dir: root, Env: []string{"PATH=/bin:/usr/bin", "X=1"}, ResolvConf: resolv}}
	out, code := run(t, s, `echo hi; hostname; echo "x=$X"; ls /dev; cat /etc/resolv.conf; echo $$; exit 3`)
	if code != 3 {
		t.Errorf("exit status %d", code)
	}
	for _, want := range []string{"hi\n", "pipbake\n", "x=1\n", "null", "urandom", "pts", "nameserver 127.0.0.53"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The command runs in a PID namespace of its own: a small pid.
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines[len(lines)-1]) > 2 {
		t.Errorf("pid in the namespace = %s", lines[len(lines)-1])
	}
	if m := mountsUnder(t, root); len(m) > 0 {
		t.Errorf("mounts outlived the command: %v", m)
	}
	// /dev is a tmpfs of the namespace: removing it inside harms nothing.
	if _, code := run(t, s, "rm -rf /dev/null /dev/pts 2>/dev/null; rm -f /proc/sys/kernel/hostname; true"); code != 0 {
		t.Error(code)
	}
	if _, err := os.Stat("/dev/null"); err != nil {
		t.Fatal("host /dev/null is gone")
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "dev")); len(entries) != 0 {
		t.Errorf("the root's own /dev got entries: %v", entries)
	}
	// The build's resolv.conf did not stay in the root.
	if b, _ := os.ReadFile(filepath.Join(root, "etc/resolv.conf")); len(b) != 0 {
		t.Errorf("root resolv.conf = %q", b)
	}
}

func TestFileOperationsStayInside(t *testing.T) {
	root := hostRoot(t)
	outside := t.TempDir()
	os.Symlink(outside, filepath.Join(root, "escape"))
	comm := &chroot.Communicator{Session: &chroot.Session{Spec: chroot.Spec{Dir: root, Env: []string{"PATH=/bin:/usr/bin"}}}}
	if err := comm.Upload("/escape/planted", strings.NewReader("x"), nil); err != nil {
		t.Fatal(err)
	}
	if err := comm.Upload("/../../../../etc/planted2", strings.NewReader("y"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Fatal("upload followed a symlink onto the host")
	}
	if b, _ := os.ReadFile(filepath.Join(root, outside, "planted")); string(b) != "x" {
		t.Errorf("upload through the symlink did not land in the root")
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/planted2")); string(b) != "y" {
		t.Errorf("upload with .. did not land in the root")
	}
	var got bytes.Buffer
	if err := comm.Download("/etc/planted2", &got); err != nil || got.String() != "y" {
		t.Errorf("download: %q %v", got.String(), err)
	}
	// Directories both ways.
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "d/e"), 0o755)
	os.WriteFile(filepath.Join(src, "d/e/f"), []byte("f"), 0o600)
	if err := comm.UploadDir("/srv", src+"/", nil); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(root, "srv/d/e/f")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("uploaded dir: %v %v", fi, err)
	}
	dst := t.TempDir()
	if err := comm.DownloadDir("/srv/d", dst, nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "d/e/f")); string(b) != "f" {
		t.Error("downloaded dir")
	}
	// Packer's RemoteCmd through Start.
	var out bytes.Buffer
	cmd := &packersdk.RemoteCmd{Command: "cat /etc/planted2; exit 7", Stdout: &out}
	if err := comm.Start(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
	if code := cmd.Wait(); code != 7 || out.String() != "y" {
		t.Errorf("start: %d %q", code, out.String())
	}
}

func TestOverlayRootAndReadOnlyBind(t *testing.T) {
	lower := hostRoot(t)
	if !chroot.OverlaySupported("", t.TempDir()) {
		t.Skip("overlayfs cannot be mounted here")
	}
	work := t.TempDir()
	for _, d := range []string{"upper", "work", "merged"} {
		os.Mkdir(filepath.Join(work, d), 0o755)
	}
	cache := t.TempDir()
	os.WriteFile(filepath.Join(cache, "keep"), []byte("k"), 0o644)
	s := &chroot.Session{Spec: chroot.Spec{
		Dir: filepath.Join(work, "merged"), Lower: []string{lower},
		Upper: filepath.Join(work, "upper"), Work: filepath.Join(work, "work"),
		Env:   []string{"PATH=/bin:/usr/bin"},
		Binds: []chroot.Bind{{Source: cache, Target: "/run/cache", ReadOnly: true}},
	}}
	out, code := run(t, s, "rm -f /etc/hostname && mkdir -p /opt/app && echo new > /opt/app/file && cat /run/cache/keep && rm -rf /run/cache/keep 2>&1; echo done")
	if code != 0 || !strings.Contains(out, "k") || !strings.Contains(out, "Read-only") {
		t.Errorf("%d %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(cache, "keep")); err != nil {
		t.Fatal("removed a host file through a read-only bind")
	}
	if _, err := os.Stat(filepath.Join(lower, "etc/hostname")); err != nil {
		t.Fatal("the lower layer was changed")
	}
	fi, err := os.Lstat(filepath.Join(work, "upper/etc/hostname"))
	if err != nil || !rootfs.IsWhiteout(fi) {
		t.Errorf("no whiteout in the upper dir: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(work, "upper/opt/app/file")); string(b) != "new\n" {
		t.Errorf("upper file = %q", b)
	}
	if ents, _ := os.ReadDir(filepath.Join(work, "merged")); len(ents) != 0 {
		t.Errorf("the overlay is visible on the host: %v", ents)
	}
	// State carries over between operations (the same upper).
	if out, _ := run(t, s, "cat /opt/app/file; ls /etc"); !strings.Contains(out, "new") || strings.Contains(out, "hostname") {
		t.Errorf("second operation sees %q", out)
	}
}

func TestCloseEndsLeftoverCommands(t *testing.T) {
	root := hostRoot(t)
	s := &chroot.Session{Spec: chroot.Spec{Dir: root, Env: []string{"PATH=/bin:/usr/bin"}}}
	done := make(chan struct{})
	go func() {
		s.Run(context.Background(), "sleep 300", nil, nil, nil)
		close(done)
	}()
	time.Sleep(300 * time.Millisecond)
	s.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the command")
	}
	if _, err := s.Run(context.Background(), "true", nil, nil, nil); err == nil {
		t.Error("a closed session still runs commands")
	}
}

func TestCancelEndsEverything(t *testing.T) {
	root := hostRoot(t)
	s := &chroot.Session{Spec: chroot.Spec{Dir: root, Env: []string{"PATH=/bin:/usr/bin"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Run(ctx, "sleep 300 & sleep 300; echo never", nil, nil, nil)
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
	// No process is left with its root in ours.
	inRoot := func() (left []string) {
		procs, _ := filepath.Glob("/proc/[0-9]*/root")
		for _, p := range procs {
			if target, err := os.Readlink(p); err == nil && target == root {
				left = append(left, p)
			}
		}
		return left
	}
	if !testenv.Eventually(5*time.Second, func() bool { return len(inRoot()) == 0 }) {
		t.Errorf("still running in the root: %v", inRoot())
	}
	if m := mountsUnder(t, root); len(m) > 0 {
		t.Errorf("mounts left: %v", m)
	}
}
