package rootfs_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pipbake/packer-plugin-pipbake/internal/rootfs"
)

// FuzzUnpack applies a hostile layer to a root inside a sandbox folder:
//
//	<sandbox>/outside/...   files, a folder, a symlink: what must not change
//	<sandbox>/root/         the target, with symlinks out of it already in it
//
// and checks that Unpack (Flat or Overlay) does not panic, changes nothing
// in the sandbox outside the root (names, types, modes, owners, times,
// contents, link targets), tries to write nowhere beyond the sandbox, and
// leaves no file in the root that is a hard link to a file outside it.
//
// It runs Unpack on a thread of its own in a private mount namespace where
// every mount but the sandbox is read-only: whatever the layer says, it
// cannot touch the machine (a write there fails with EROFS, which the
// target reports). That needs root (CAP_SYS_ADMIN); without it the target
// skips.
//
// The input is a layer script (one entry per line, see layerFromScript),
// or, when it carries a ustar header, a raw tar stream.
func FuzzUnpack(f *testing.F) {
	for _, s := range []string{
		"d etc\nf etc/passwd root:x:0:0\nl etc/alt /usr/bin\nh etc/pw2 etc/passwd\n",
		// through the symlinks already in the root
		"f out/planted x\nf absout/planted y\nf up/planted z\nd out/d\nf out/d/f w\n",
		"l evil @OUT@\nf evil/planted x\nl rel ../outside\nf rel/planted y\n",
		"l evil ../../../../../../../../..@OUT@\nd evil/sub\nf evil/sub/f x\n",
		// hard links out of the root, direct and through symlinks
		"h h1 ../outside/a\nh h2 out/a\nh h3 absout/a\nh h4 @OUT@/a\nh h5 ../../../../../..@OUT@/a\n",
		"l lnk ../outside\nh h lnk/a\n",
		// a directory replaced by a symlink out of the root after it was
		// written (its time is set last)
		"d a 0755\nf a/x x\nl a ../outside\n",
		"d a\nl a @OUT@\n",
		"d deep\nd deep/er\nl deep ../outside/d\n",
		// whiteouts and opaque markers, also through symlinks
		"f out/.wh.a\nf absout/.wh.a\nf .wh.out\nf up/.wh.outside\n",
		"d out\nf out/.wh..wh..opq\nd d2\nl d2/x ../outside\nf d2/x/.wh.a\n",
		"f .wh..wh..opq\nf .wh...\nf .wh..\nf ./.wh.\n",
		// odd modes, devices, fifos, xattrs, names
		"d locked 0\nf locked/f x\nd locked 0700\nf suid x 4755\n",
		"c dev/null 1 3\nb dev/sda 8 0\np fifo\nc out/cdev 1 3\n",
		"x xf user.k=v\nx out/xf user.k=v\nl ln @OUT@/a\nx ln user.k=v\n",
		"f a/b/../../../escaped x\nf /abs/f x\nf ../../x y\nd ./././\n",
		"f f1 x\nd f1\nf f1/x y\nl f1 f1\nf f1/y z\n",
		"l loop loop\nf loop/x y\nl a b\nl b a\nf a/x y\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "a/", Mode: 0o755})
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "a", Linkname: "../outside"})
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "a/x", Mode: 0o644, Size: 1})
	tw.Write([]byte("x"))
	tw.Close()
	f.Add(raw.Bytes(), false)

	f.Fuzz(func(t *testing.T, input []byte, overlay bool) {
		if len(input) > 1<<16 {
			return
		}
		sb := t.TempDir()
		outside, root := filepath.Join(sb, "outside"), filepath.Join(sb, "root")
		layer, ok := layerFromInput(input, outside, root)
		if !ok {
			return
		}
		seedSandbox(t, outside, root)
		before := snapshot(t, sb, root)
		outsideInodes := inodes(outside)

		opts := rootfs.Options{}
		if overlay {
			opts.Format = rootfs.Overlay
		}
		var err error
		sandboxed(t, sb, func() {
			_, err = rootfs.Unpack(root, bytes.NewReader(layer), opts)
		})
		if errors.Is(err, syscall.EROFS) {
			t.Fatalf("Unpack tried to write outside the sandbox: %v", err)
		}
		after := snapshot(t, sb, root)
		if d := diff(before, after); d != "" {
			t.Fatalf("Unpack changed the sandbox outside the root (err %v):\n%s", err, d)
		}
		filepath.WalkDir(root, func(p string, d fs.DirEntry, werr error) error {
			if werr != nil || !d.Type().IsRegular() {
				return nil
			}
			if fi, err := os.Lstat(p); err == nil {
				st := fi.Sys().(*syscall.Stat_t)
				if outsideInodes[inode{st.Dev, st.Ino}] {
					t.Errorf("%s is a hard link to a file outside the root", p)
				}
			}
			return nil
		})
	})
}

// layerFromInput turns the fuzz input into a layer tar: a raw tar stream
// as it is, else a script.
func layerFromInput(input []byte, outside, root string) ([]byte, bool) {
	if len(input) >= 512 && bytes.HasPrefix(input[257:], []byte("ustar")) {
		return input, true
	}
	return layerFromScript(string(input), outside, root)
}

// layerFromScript builds a layer from lines "TYPE NAME [ARG]":
//
//	d NAME [MODE]        folder (octal mode)
//	f NAME [BODY]        regular file (mode 0644)
//	l NAME TARGET        symbolic link
//	h NAME TARGET        hard link
//	c|b NAME MAJ MIN     character or block device
//	p NAME               fifo
//	x NAME KEY=VALUE     file with an extended attribute
//
// "f NAME BODY MODE" is not a thing: a file's body is the rest of the line,
// except that a last field of 4 octal digits after a body is its mode.
// @OUT@ and @ROOT@ stand for the absolute paths of the sandbox's outside
// folder and of the root.
func layerFromScript(s, outside, root string) ([]byte, bool) {
	s = strings.NewReplacer("@OUT@", outside, "@ROOT@", root).Replace(s)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(1700000000, 0)
	n := 0
	for _, line := range strings.Split(s, "\n") {
		if line == "" {
			continue
		}
		if n++; n > 64 {
			break
		}
		typ, rest, _ := strings.Cut(line, " ")
		name, arg, _ := strings.Cut(rest, " ")
		if name == "" || len(typ) != 1 {
			return nil, false
		}
		h := &tar.Header{Name: name, ModTime: mtime, Mode: 0o644}
		var body string
		switch typ[0] {
		case 'd':
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
			if arg != "" {
				m, err := strconv.ParseInt(arg, 8, 32)
				if err != nil {
					return nil, false
				}
				h.Mode = m & 0o7777
			}
		case 'f':
			h.Typeflag, body = tar.TypeReg, arg
			if i := strings.LastIndexByte(arg, ' '); i >= 0 && len(arg)-i == 5 {
				if m, err := strconv.ParseInt(arg[i+1:], 8, 32); err == nil {
					h.Mode, body = m, arg[:i]
				}
			}
		case 'l':
			h.Typeflag, h.Linkname = tar.TypeSymlink, arg
		case 'h':
			h.Typeflag, h.Linkname = tar.TypeLink, arg
		case 'c', 'b':
			h.Typeflag = tar.TypeChar
			if typ[0] == 'b' {
				h.Typeflag = tar.TypeBlock
			}
			maj, min, _ := strings.Cut(arg, " ")
			a, err1 := strconv.ParseInt(maj, 10, 32)
			b, err2 := strconv.ParseInt(min, 10, 32)
			if err1 != nil || err2 != nil || a < 0 || b < 0 {
				return nil, false
			}
			h.Devmajor, h.Devminor = a, b
		case 'p':
			h.Typeflag = tar.TypeFifo
		case 'x':
			k, v, ok := strings.Cut(arg, "=")
			if !ok || k == "" {
				return nil, false
			}
			h.Typeflag = tar.TypeReg
			h.PAXRecords = map[string]string{"SCHILY.xattr." + k: v}
		default:
			return nil, false
		}
		h.Size = int64(len(body))
		if err := tw.WriteHeader(h); err != nil {
			return nil, false
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			return nil, false
		}
	}
	if err := tw.Close(); err != nil {
		return nil, false
	}
	return buf.Bytes(), true
}

// seedSandbox fills the outside folder and gives the root symlinks that
// lead out of it, were they followed on the host.
func seedSandbox(t *testing.T, outside, root string) {
	t.Helper()
	old := time.Unix(1500000000, 0)
	for _, d := range []string{outside, filepath.Join(outside, "d"), root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range map[string]string{"a": "outside a", "d/f": "outside d/f"} {
		if err := os.WriteFile(filepath.Join(outside, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		filepath.Join(outside, "ln"):  "a",
		filepath.Join(root, "out"):    "../outside",
		filepath.Join(root, "absout"): outside,
		filepath.Join(root, "up"):     "..",
		filepath.Join(root, "self"):   ".",
	}
	for p, target := range links {
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{filepath.Join(outside, "a"), filepath.Join(outside, "d/f"), filepath.Join(outside, "d"), outside} {
		os.Chtimes(p, old, old)
	}
}

type inode struct{ dev, ino uint64 }

func inodes(dir string) map[inode]bool {
	out := map[inode]bool{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			if fi, err := os.Lstat(p); err == nil {
				st := fi.Sys().(*syscall.Stat_t)
				out[inode{st.Dev, st.Ino}] = true
			}
		}
		return nil
	})
	return out
}

// snapshot describes every path under dir (dir included) but skip and what
// is under it: type, mode, owner, modification time, size, and a regular
// file's sha256 or a link's target. Nothing but regular files is opened.
func snapshot(t *testing.T, dir, skip string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if p == skip {
			return filepath.SkipDir
		}
		if err != nil {
			out[p] = "error: " + err.Error()
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			out[p] = "error: " + err.Error()
			return nil
		}
		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%v %d:%d %d %d.%09d", fi.Mode(), st.Uid, st.Gid, fi.Size(), st.Mtim.Sec, st.Mtim.Nsec)
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				desc += " unreadable: " + err.Error()
			}
			desc += fmt.Sprintf(" sha256 %x", sha256.Sum256(b))
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		}
		buf := make([]byte, 256)
		if n, err := unix.Llistxattr(p, buf); err == nil && n > 0 {
			desc += " xattrs " + strconv.Quote(string(buf[:n]))
		}
		out[p] = desc
		return nil
	})
	return out
}

func diff(before, after map[string]string) string {
	var lines []string
	for p, b := range before {
		if a, ok := after[p]; !ok {
			lines = append(lines, "removed "+p+" ("+b+")")
		} else if a != b {
			lines = append(lines, "changed "+p+": "+b+" => "+a)
		}
	}
	for p, a := range after {
		if _, ok := before[p]; !ok {
			lines = append(lines, "added "+p+" ("+a+")")
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

var sandboxCheck struct {
	once sync.Once
	err  error
}

// sandboxed runs f on a new OS thread in a private mount namespace where
// every mount is read-only except rw. The thread is never unlocked, so it
// ends with its goroutine and its namespace with it: no other goroutine
// ever runs in there, and nothing done in there reaches the machine but
// rw. The first call checks that a write beyond rw fails.
func sandboxed(t *testing.T, rw string, f func()) {
	t.Helper()
	sandboxCheck.once.Do(func() {
		probe := filepath.Join(filepath.Dir(rw), fmt.Sprintf("pipbake-fuzz-probe-%d", os.Getpid()))
		var werr error
		sandboxCheck.err = inSandbox(rw, func() { werr = os.WriteFile(probe, nil, 0o644) })
		if sandboxCheck.err == nil && !errors.Is(werr, syscall.EROFS) {
			os.Remove(probe)
			sandboxCheck.err = fmt.Errorf("the sandbox let a write beyond %s through (%v)", rw, werr)
		}
	})
	if err := sandboxCheck.err; err != nil {
		if errors.Is(err, syscall.EPERM) {
			t.Skipf("no private mount namespace here (needs root): %v", err)
		}
		t.Fatal(err)
	}
	if err := inSandbox(rw, f); err != nil {
		t.Fatal(err)
	}
}

func inSandbox(rw string, f func()) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // and never unlocked: see sandboxed
		if err := enterSandbox(rw); err != nil {
			done <- err
			return
		}
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("panic: %v\n%s", r, debug.Stack())
			}
		}()
		f()
		done <- nil
	}()
	return <-done
}

func enterSandbox(rw string) error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := unix.Mount(rw, rw, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", rw, err)
	}
	if err := unix.MountSetattr(unix.AT_FDCWD, "/", unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
		return fmt.Errorf("make every mount read-only: %w", err)
	}
	if err := unix.MountSetattr(unix.AT_FDCWD, rw, unix.AT_RECURSIVE, &unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY}); err != nil {
		return fmt.Errorf("make %s writable: %w", rw, err)
	}
	return nil
}

// TestDirTimesAfterReplacedFolder: a folder that a later entry replaced
// with a symlink neither gets its time set through the link (on the host,
// for a link out of the root) nor has the link's missing target created
// when the times are set at the end.
func TestDirTimesAfterReplacedFolder(t *testing.T) {
	sb := t.TempDir()
	outside, root := filepath.Join(sb, "outside"), filepath.Join(sb, "root")
	seedSandbox(t, outside, root)
	before := snapshot(t, sb, root)
	l := layerTar(t, dir("a"), dir("a/b"), symlink("a", "x"), dir("c"), symlink("c", outside))
	if _, err := rootfs.Unpack(root, l, rootfs.Options{}); err != nil {
		t.Fatal(err)
	}
	if d := diff(before, snapshot(t, sb, root)); d != "" {
		t.Errorf("the outside changed:\n%s", d)
	}
	if exists(filepath.Join(root, "x")) {
		t.Error("setting folder times created the missing target of a symlink")
	}
}
