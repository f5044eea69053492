package rootfs_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/rootfs"
)

// E is one tar entry for tests: "d name", "f name content", "l name target"
// (symlink), "h name target" (hard link).
type E struct {
	Type     byte
	Name     string
	Body     string
	Link     string
	Mode     int64
	Uid, Gid int
}

func layerTar(t *testing.T, es ...E) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{Typeflag: e.Type, Name: e.Name, Linkname: e.Link, Mode: e.Mode, Uid: e.Uid, Gid: e.Gid,
			ModTime: time.Unix(1700000000, 0)}
		if h.Mode == 0 {
			h.Mode = 0o644
			if e.Type == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if e.Type == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.Body != "" {
			tw.Write([]byte(e.Body))
		}
	}
	tw.Close()
	return &buf
}

func dir(n string) E              { return E{Type: tar.TypeDir, Name: n} }
func file(n, body string) E       { return E{Type: tar.TypeReg, Name: n, Body: body} }
func symlink(n, target string) E  { return E{Type: tar.TypeSymlink, Name: n, Link: target} }
func hardlink(n, target string) E { return E{Type: tar.TypeLink, Name: n, Link: target} }

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func TestFlatWhiteoutsAndOpaque(t *testing.T) {
	root := t.TempDir()
	l1 := layerTar(t, dir("etc"), file("etc/a", "a1"), file("etc/b", "b1"), dir("opt"), dir("opt/app"),
		file("opt/app/old", "x"), dir("var"), file("var/keep", "k"))
	if _, err := rootfs.Unpack(root, l1, rootfs.Options{}); err != nil {
		t.Fatal(err)
	}
	l2 := layerTar(t, file("etc/.wh.a", ""), file("opt/app/new", "n"), file("opt/app/.wh..wh..opq", ""),
		file("etc/b", "b2"), file("var/.wh.nothing", ""))
	st, err := rootfs.Unpack(root, l2, rootfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Whiteouts != 3 {
		t.Errorf("whiteouts = %d", st.Whiteouts)
	}
	if exists(filepath.Join(root, "etc/a")) {
		t.Error("etc/a survived its whiteout")
	}
	if exists(filepath.Join(root, "opt/app/old")) {
		t.Error("opt/app/old survived the opaque directory")
	}
	if got := read(t, filepath.Join(root, "opt/app/new")); got != "n" {
		t.Errorf("opt/app/new (same layer as the opaque marker) = %q", got)
	}
	if got := read(t, filepath.Join(root, "etc/b")); got != "b2" {
		t.Errorf("etc/b = %q", got)
	}
	if read(t, filepath.Join(root, "var/keep")) != "k" {
		t.Error("var/keep")
	}
}

func TestEscapesAreRefused(t *testing.T) {
	outside := t.TempDir()
	for name, es := range map[string][]E{
		"dotdot":        {file("../escaped", "x")},
		"dotdot-middle": {dir("a"), file("a/../../escaped", "x")},
		"hardlink":      {hardlink("h", "../../etc/passwd")},
	} {
		t.Run(name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "root")
			os.Mkdir(root, 0o755)
			_, err := rootfs.Unpack(root, layerTar(t, es...), rootfs.Options{})
			if !errors.Is(err, rootfs.ErrEscape) {
				t.Fatalf("err = %v, want ErrEscape", err)
			}
			if exists(filepath.Join(filepath.Dir(root), "escaped")) {
				t.Fatal("a file was written outside the root")
			}
		})
	}
	// A symlink to the host's folder is followed inside the root only.
	root := t.TempDir()
	_, err := rootfs.Unpack(root, layerTar(t, symlink("evil", outside), symlink("up", "../../.."),
		file("evil/planted", "x"), file("up/planted2", "y")), rootfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(outside, "planted")) {
		t.Fatal("wrote through an absolute symlink onto the host")
	}
	if read(t, filepath.Join(root, outside, "planted")) != "x" {
		t.Error("absolute symlink not resolved inside the root")
	}
	if read(t, filepath.Join(root, "planted2")) != "y" {
		t.Error("../.. symlink not clamped at the root")
	}
}

func TestHardLinksModesOwners(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("set-id and sticky bits and owners are Unix's")
	}
	root := t.TempDir()
	l := layerTar(t, dir("bin"), E{Type: tar.TypeReg, Name: "bin/su", Body: "su", Mode: 0o4755, Uid: 12, Gid: 34},
		hardlink("bin/su2", "bin/su"), symlink("bin/sh", "dash"), E{Type: tar.TypeDir, Name: "tmp", Mode: 0o1777})
	if _, err := rootfs.Unpack(root, l, rootfs.Options{}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.Lstat(filepath.Join(root, "bin/su"))
	b, _ := os.Lstat(filepath.Join(root, "bin/su2"))
	if !os.SameFile(a, b) {
		t.Error("hard link not kept")
	}
	if a.Mode()&os.ModeSetuid == 0 || a.Mode().Perm() != 0o755 {
		t.Errorf("mode = %v", a.Mode())
	}
	if os.Geteuid() == 0 {
		if u, g := rootfs.Owner(a); u != 12 || g != 34 {
			t.Errorf("owner = %d:%d", u, g)
		}
	}
	if l, _ := os.Readlink(filepath.Join(root, "bin/sh")); l != "dash" {
		t.Errorf("symlink = %q", l)
	}
	if fi, _ := os.Stat(filepath.Join(root, "tmp")); fi.Mode()&os.ModeSticky == 0 {
		t.Errorf("tmp mode = %v", fi.Mode())
	}
	if fi, _ := os.Stat(filepath.Join(root, "bin")); !fi.ModTime().Equal(time.Unix(1700000000, 0)) {
		t.Errorf("directory time = %v", fi.ModTime())
	}
}

func TestOverlayFormatAndView(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the overlay format needs Linux")
	}
	if os.Geteuid() != 0 {
		t.Skip("overlay format needs root (mknod, trusted.* attributes)")
	}
	cache := &rootfs.Cache{Dir: t.TempDir()}
	open := func(b *bytes.Buffer) rootfs.Opener {
		return func() (ioReadCloser, error) { return nopCloser{bytes.NewReader(b.Bytes())}, nil }
	}
	l1 := layerTar(t, dir("etc"), file("etc/a", "a1"), file("etc/b", "b1"), dir("opt"), dir("opt/app"), file("opt/app/old", "x"))
	l2 := layerTar(t, file("etc/.wh.a", ""), file("opt/app/.wh..wh..opq", ""), file("opt/app/new", "n"))
	d1, hit, err := cache.Layer("sha256:"+strings.Repeat("1", 64), open(l1))
	if err != nil || hit {
		t.Fatal(err, hit)
	}
	d2, _, err := cache.Layer("sha256:"+strings.Repeat("2", 64), open(l2))
	if err != nil {
		t.Fatal(err)
	}
	if _, hit, _ := cache.Layer("sha256:"+strings.Repeat("1", 64), nil); !hit {
		t.Error("second lookup missed the cache")
	}
	fi, err := os.Lstat(filepath.Join(d2, "etc/a"))
	if err != nil || !rootfs.IsWhiteout(fi) {
		t.Fatalf("etc/a in the upper layer is not a whiteout: %v", err)
	}
	if !rootfs.IsOpaque(filepath.Join(d2, "opt/app")) {
		t.Fatal("opt/app is not opaque")
	}
	v := rootfs.View{Dirs: []string{d2, d1}}
	if _, _, err := v.Lstat("etc/a"); err == nil {
		t.Error("view shows a whited-out file")
	}
	if b, err := v.ReadFile("etc/b"); err != nil || string(b) != "b1" {
		t.Errorf("etc/b = %q %v", b, err)
	}
	if names, _ := v.ReadDir("opt/app"); strings.Join(names, ",") != "new" {
		t.Errorf("opt/app lists %v", names)
	}
	if names, _ := v.ReadDir("etc"); strings.Join(names, ",") != "b" {
		t.Errorf("etc lists %v", names)
	}
	// The flat chain of the same layers agrees.
	bufs := []*bytes.Buffer{l1, l2}
	flat, _, err := cache.Chain([]string{"sha256:" + strings.Repeat("1", 64), "sha256:" + strings.Repeat("2", 64)},
		func(i int) (ioReadCloser, error) { return nopCloser{bytes.NewReader(bufs[i].Bytes())}, nil })
	if err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(flat, "etc/a")) || exists(filepath.Join(flat, "opt/app/old")) || !exists(filepath.Join(flat, "opt/app/new")) {
		t.Error("flat chain differs from the overlay view")
	}
}

func TestCopyTreeKeepsHardLinks(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("hard links are detected on Linux and macOS only (stat_other.go)")
	}
	src := t.TempDir()
	if _, err := rootfs.Unpack(src, layerTar(t, dir("a"), file("a/f", "x"), hardlink("a/g", "a/f"), symlink("a/l", "/etc")), rootfs.Options{}); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if err := rootfs.CopyTree(dst, src); err != nil {
		t.Fatal(err)
	}
	a, _ := os.Lstat(filepath.Join(dst, "a/f"))
	b, _ := os.Lstat(filepath.Join(dst, "a/g"))
	if !os.SameFile(a, b) {
		t.Error("hard link lost")
	}
	if l, _ := os.Readlink(filepath.Join(dst, "a/l")); l != "/etc" {
		t.Errorf("symlink = %q", l)
	}
}

type ioReadCloser = io.ReadCloser

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
