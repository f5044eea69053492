package layer_test

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pipbake/packer-plugin-pipbake/internal/layer"
	"github.com/pipbake/packer-plugin-pipbake/internal/rootfs"
)

type ent struct {
	typ        byte
	name, body string
	mode       int64
}

func mk(t *testing.T, es ...ent) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{Typeflag: e.typ, Name: e.name, Mode: e.mode, ModTime: time.Unix(1600000000, 0)}
		if h.Mode == 0 {
			h.Mode = 0o644
			if e.typ == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if e.typ == tar.TypeSymlink {
			h.Linkname = e.body
		} else if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return &buf
}

func d(n string) ent    { return ent{typ: tar.TypeDir, name: n} }
func f(n, b string) ent { return ent{typ: tar.TypeReg, name: n, body: b} }

var baseEntries = []ent{d("etc"), f("etc/os-release", "debian"), f("etc/passwd", "root"), d("opt"), d("tmp"),
	d("usr"), d("usr/lib"), f("usr/lib/old", "old"), d("var"), d("var/lib")}

// names lists a layer tar's entries.
func names(t *testing.T, data []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name)
		if h.Uname != "" || h.Gname != "" {
			t.Errorf("%s carries user names %q/%q", h.Name, h.Uname, h.Gname)
		}
		if h.ModTime.After(time.Unix(1650000000, 0)) {
			t.Errorf("%s: time %v not clamped", h.Name, h.ModTime)
		}
	}
}

// build makes a base tree, applies changes through fn on a writable root,
// and returns the changes found with each method.
func TestChangesAndReproducibleTar(t *testing.T) {
	epoch := time.Unix(1650000000, 0)
	mutate := func(root string) {
		os.MkdirAll(filepath.Join(root, "opt/hello/releases/r1/bin"), 0o755)
		os.WriteFile(filepath.Join(root, "opt/hello/releases/r1/bin/hello"), []byte("#!/bin/sh\n"), 0o755)
		os.Symlink("releases/r1", filepath.Join(root, "opt/hello/current"))
		os.WriteFile(filepath.Join(root, "opt/hello/releases/r1/a"), []byte("same"), 0o644)
		os.Link(filepath.Join(root, "opt/hello/releases/r1/a"), filepath.Join(root, "opt/hello/releases/r1/b"))
		os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root\nhello"), 0o644)
		os.WriteFile(filepath.Join(root, "etc/resolv.conf"), []byte("nameserver 10.0.0.1"), 0o644)
		os.WriteFile(filepath.Join(root, "tmp/leftover"), []byte("x"), 0o644)
		os.Remove(filepath.Join(root, "usr/lib/old"))
		os.Chmod(filepath.Join(root, "etc/os-release"), 0o644) // touched, unchanged
	}
	want := []string{
		"etc/", "etc/passwd",
		"opt/", "opt/hello/", "opt/hello/current", "opt/hello/releases/", "opt/hello/releases/r1/",
		"opt/hello/releases/r1/a", "opt/hello/releases/r1/b", "opt/hello/releases/r1/bin/", "opt/hello/releases/r1/bin/hello",
		"usr/", "usr/lib/", "usr/lib/.wh.old",
	}

	// Copy mode: a flat base, a copy, a snapshot.
	base := t.TempDir()
	if _, err := rootfs.Unpack(base, mk(t, baseEntries...), rootfs.Options{}); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := rootfs.CopyTree(root, base); err != nil {
		t.Fatal(err)
	}
	snap, err := layer.Take(root)
	if err != nil {
		t.Fatal(err)
	}
	mutate(root)
	changes, err := layer.FromSnapshot(root, snap, rootfs.View{Dirs: []string{base}}, layer.DefaultExcludes)
	if err != nil {
		t.Fatal(err)
	}
	var tar1, tar2 bytes.Buffer
	if err := layer.WriteTar(&tar1, rootfs.View{Dirs: []string{root}}, changes, epoch); err != nil {
		t.Fatal(err)
	}
	got := names(t, tar1.Bytes())
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("copy mode layer:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Same changes again: same bytes (entries are sorted, map order does not leak).
	sort.Slice(changes, func(i, j int) bool { return changes[i].Path > changes[j].Path })
	layer.WriteTar(&tar2, rootfs.View{Dirs: []string{root}}, changes, epoch)
	if !bytes.Equal(tar1.Bytes(), tar2.Bytes()) {
		t.Fatal("the same changes gave different tars")
	}
	// The hard link is kept within the layer.
	tr := tar.NewReader(bytes.NewReader(tar1.Bytes()))
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatal("no hard link entry")
		}
		if h.Name == "opt/hello/releases/r1/b" {
			if h.Typeflag != tar.TypeLink || h.Linkname != "opt/hello/releases/r1/a" {
				t.Fatalf("b: type %c link %q", h.Typeflag, h.Linkname)
			}
			break
		}
	}

	// Applying the layer onto the base gives the mutated root (less the
	// build-only files).
	applied := t.TempDir()
	rootfs.CopyTree(applied, base)
	if _, err := rootfs.Unpack(applied, bytes.NewReader(tar1.Bytes()), rootfs.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(applied, "usr/lib/old")); err == nil {
		t.Error("deleted file came back")
	}
	if b, _ := os.ReadFile(filepath.Join(applied, "etc/passwd")); string(b) != "root\nhello" {
		t.Errorf("passwd = %q", b)
	}

	// Split: the set's root in its own layer.
	parts := layer.Split(changes, []layer.Group{{Name: "hello", Paths: []string{"opt/hello"}}})
	if len(parts) != 2 || len(parts[0]) != 8 {
		t.Fatalf("split: %v", parts)
	}
	for _, c := range parts[1] {
		if strings.HasPrefix(c.Path, "opt/hello") {
			t.Errorf("%s in the rest", c.Path)
		}
	}

	// Overlay mode: the same mutation seen through an upper directory
	// gives the same layer.
	if os.Geteuid() != 0 {
		return
	}
	lower := t.TempDir()
	rootfs.Unpack(lower, mk(t, baseEntries...), rootfs.Options{Format: rootfs.Overlay})
	upper := t.TempDir()
	// Emulate what overlayfs leaves in the upper directory.
	for _, p := range []string{"etc", "opt", "usr", "usr/lib", "tmp"} {
		os.Mkdir(filepath.Join(upper, p), 0o755)
		fi, _ := os.Stat(filepath.Join(lower, p))
		os.Chtimes(filepath.Join(upper, p), fi.ModTime(), fi.ModTime())
	}
	os.WriteFile(filepath.Join(upper, "etc/os-release"), []byte("debian"), 0o644) // copied up, unchanged
	mutateUpper := func(root string) {
		os.MkdirAll(filepath.Join(root, "opt/hello/releases/r1/bin"), 0o755)
		os.WriteFile(filepath.Join(root, "opt/hello/releases/r1/bin/hello"), []byte("#!/bin/sh\n"), 0o755)
		os.Symlink("releases/r1", filepath.Join(root, "opt/hello/current"))
		os.WriteFile(filepath.Join(root, "opt/hello/releases/r1/a"), []byte("same"), 0o644)
		os.Link(filepath.Join(root, "opt/hello/releases/r1/a"), filepath.Join(root, "opt/hello/releases/r1/b"))
		os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root\nhello"), 0o644)
		os.WriteFile(filepath.Join(root, "etc/resolv.conf"), []byte("nameserver 10.0.0.1"), 0o644)
		os.WriteFile(filepath.Join(root, "tmp/leftover"), []byte("x"), 0o644)
	}
	mutateUpper(upper)
	var wbuf bytes.Buffer
	rootfs.Unpack(upper, mk(t, f("usr/lib/.wh.old", "")), rootfs.Options{Format: rootfs.Overlay})
	_ = wbuf
	// Give the new files the same times as in the copy so bytes compare.
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		rel, _ := filepath.Rel(root, p)
		if q := filepath.Join(upper, rel); rel != "." {
			if _, err := os.Lstat(q); err == nil && fi.Mode()&os.ModeSymlink == 0 {
				os.Chtimes(q, fi.ModTime(), fi.ModTime())
			}
		}
		return nil
	})
	oc, err := layer.FromUpper(upper, rootfs.View{Dirs: []string{lower}}, layer.DefaultExcludes)
	if err != nil {
		t.Fatal(err)
	}
	var otar bytes.Buffer
	if err := layer.WriteTar(&otar, rootfs.View{Dirs: []string{upper, lower}}, oc, epoch); err != nil {
		t.Fatal(err)
	}
	if got := names(t, otar.Bytes()); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("overlay mode layer:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestStoreCachesByDiffID(t *testing.T) {
	for _, c := range []layer.Compression{layer.Gzip, layer.Zstd} {
		s := &layer.Store{Dir: t.TempDir()}
		content := mk(t, d("a"), f("a/b", strings.Repeat("pipbake ", 1000)))
		write := func(w io.Writer) error { _, err := w.Write(content.Bytes()); return err }
		r1, err := s.Build(write, c)
		if err != nil {
			t.Fatal(err)
		}
		if r1.Cached {
			t.Error("first build was cached")
		}
		r2, err := s.Build(write, c)
		if err != nil || !r2.Cached || r2.Digest != r1.Digest {
			t.Fatalf("second build: %v cached=%v %v %v", err, r2.Cached, r2.Digest, r1.Digest)
		}
		// BuildNew finds it too, and makes the same blob in a fresh store.
		if r4, err := s.BuildNew(write, c); err != nil || !r4.Cached || r4.Digest != r1.Digest {
			t.Fatalf("BuildNew: %v %v", err, r4)
		}
		if r5, _ := (&layer.Store{Dir: t.TempDir()}).BuildNew(write, c); r5.Digest != r1.Digest || r5.DiffID != r1.DiffID {
			t.Errorf("BuildNew made another blob")
		}
		// A fresh store compresses to the same blob.
		r3, _ := (&layer.Store{Dir: t.TempDir()}).Build(write, c)
		if r3.Digest != r1.Digest {
			t.Errorf("%s: compression is not reproducible", c)
		}
		mt, _ := r1.Layer.MediaType()
		if mt != c.MediaType() {
			t.Errorf("media type %s", mt)
		}
		rc, _ := r1.Layer.Uncompressed()
		got, _ := io.ReadAll(rc)
		if !bytes.Equal(got, content.Bytes()) {
			t.Errorf("%s: round trip differs", c)
		}
	}
}
