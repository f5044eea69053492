package npmstore

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestLinkCopies: a package's table round-trips through PutIndex and
// Index (a flipped byte is a counted miss); a copy is intact only with the
// size, mode and time it was made with, links share its bytes, and
// MakeCopy replaces a changed one with a new file instead of writing into
// it.
func TestLinkCopies(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(filepath.Join(dir, "store"))
	want := map[string]string{"package.json": `{"name":"x"}`, "lib/index.js": "module.exports = 1\n", "bin/x.sh": "#!/bin/sh\n"}
	if err := s.Put(integrity, files(t, dir, want)); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Index(integrity); ok || s.Damaged() != 0 {
		t.Fatal("an index before PutIndex")
	}
	pk, ok := s.Get(integrity)
	if !ok {
		t.Fatal("not stored")
	}
	defer pk.Close()
	if err := s.PutIndex(integrity, pk.Files); err != nil {
		t.Fatal(err)
	}
	idx, ok := s.Index(integrity)
	if !ok || len(idx) != len(pk.Files) {
		t.Fatalf("Index: %d files, %v; want %d", len(idx), ok, len(pk.Files))
	}
	for i, f := range idx {
		g := pk.Files[i]
		if f.Path != g.Path || f.Mode != g.Mode || f.Size != g.Size || f.SHA256 != g.SHA256 || f.Data != nil {
			t.Errorf("index entry %d: %+v, want %+v without data", i, f, g)
		}
	}
	ip := s.idxPath(integrity)
	good, _ := os.ReadFile(ip)
	bad := bytes.Clone(good)
	bad[len(bad)/2] ^= 1
	os.WriteFile(ip, bad, 0o644)
	if _, ok := s.Index(integrity); ok || s.Damaged() != 1 {
		t.Fatalf("a flipped index byte: found %v, %d damaged", ok, s.Damaged())
	}
	os.WriteFile(ip, good, 0o644)

	var f File
	for _, g := range pk.Files {
		if g.Path == "lib/index.js" {
			f = g
		}
	}
	const perm = 0o644
	if s.Intact(f, perm) {
		t.Fatal("intact before any copy was made")
	}
	if err := s.MakeCopy(f, perm); err != nil {
		t.Fatal(err)
	}
	if !s.Intact(f, perm) || s.Intact(f, 0o600) {
		t.Fatal("the copy is not intact with its mode only")
	}
	dest := filepath.Join(dir, "release", "index.js")
	os.MkdirAll(filepath.Dir(dest), 0o755)
	if err := s.Link(f, perm, dest); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(dest); string(data) != want["lib/index.js"] {
		t.Fatalf("linked file holds %q", data)
	}
	cp := s.copyPath(f.SHA256, perm)
	for name, change := range map[string]func(){
		"mode": func() { os.Chmod(cp, 0o755) },
		"time": func() { now := time.Now(); os.Chtimes(cp, now, now) },
		"appended": func() {
			w, _ := os.OpenFile(cp, os.O_WRONLY|os.O_APPEND, 0)
			w.WriteString("x")
			w.Close()
			os.Chtimes(cp, Stamp, Stamp)
		},
	} {
		change()
		if s.Intact(f, perm) {
			t.Errorf("%s changed: still intact", name)
		}
		before, _ := os.ReadFile(dest)
		if err := s.MakeCopy(f, perm); err != nil {
			t.Fatal(err)
		}
		if !s.Intact(f, perm) {
			t.Errorf("%s changed, copied again: not intact", name)
		}
		if after, _ := os.ReadFile(dest); !bytes.Equal(before, after) {
			t.Errorf("%s changed: making the copy again wrote into the linked file", name)
		}
		os.Remove(dest)
		if err := s.Link(f, perm, dest); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEnsureCopyShared: packages laid out side by side that hold one
// content link one copy. Before EnsureCopy, each made its own copy and
// the later rename cut the earlier links loose from the store.
func TestEnsureCopyShared(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(filepath.Join(dir, "store"))
	defer s.Close()
	if err := s.Put(integrity, files(t, dir, map[string]string{"LICENSE": "MIT\n"})); err != nil {
		t.Fatal(err)
	}
	pk, _ := s.Get(integrity)
	defer pk.Close()
	f := pk.Files[0]
	const workers = 32
	os.MkdirAll(filepath.Join(dir, "release"), 0o755)
	dests := make([]string, workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for i := range dests {
		dests[i] = filepath.Join(dir, "release", strconv.Itoa(i))
		wg.Add(1)
		go func(dest string) {
			defer wg.Done()
			if err := s.EnsureCopy(f, 0o644); err != nil {
				errs <- err
				return
			}
			errs <- s.Link(f, 0o644, dest)
		}(dests[i])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(s.copyPath(f.SHA256, 0o644))
	if err != nil {
		t.Fatal(err)
	}
	if n := fi.Sys().(*syscall.Stat_t).Nlink; n != workers+1 {
		t.Errorf("the copy has %d links, want %d (itself and every release file)", n, workers+1)
	}
	for _, d := range dests {
		if di, _ := os.Stat(d); !os.SameFile(fi, di) {
			t.Errorf("%s is not the store's copy", d)
		}
	}

	// Another process made the copy between our check and our make: its
	// intact copy stays, so what linked it stays shared.
	if err := s.MakeCopy(f, 0o644); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Stat(s.copyPath(f.SHA256, 0o644)); !os.SameFile(fi, again) {
		t.Error("MakeCopy replaced an intact copy")
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(s.copyPath(f.SHA256, 0o644)), "*"))
	if len(left) != 1 {
		t.Errorf("the copy's folder holds %v, want the copy only", left)
	}
}

// TestLinkPrune: a prune removes package files, their tables and the
// copies no release links, never a copy a release links; the size counts
// only what the store alone holds.
func TestLinkPrune(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(filepath.Join(dir, "store"))
	if err := s.Put(integrity, files(t, dir, map[string]string{"a.js": "a\n", "b.js": "bb\n"})); err != nil {
		t.Fatal(err)
	}
	pk, _ := s.Get(integrity)
	defer pk.Close()
	for _, f := range pk.Files {
		if err := s.MakeCopy(f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.PutIndex(integrity, pk.Files)
	a, b := pk.Files[0], pk.Files[1]
	if a.Path != "a.js" {
		a, b = b, a
	}
	dest := filepath.Join(dir, "a.js")
	if err := s.Link(a, 0o644, dest); err != nil {
		t.Fatal(err)
	}
	u, err := Measure(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	pkgSize := func(p string) int64 { fi, _ := os.Stat(p); return fi.Size() }
	if want := pkgSize(s.path(integrity)) + pkgSize(s.idxPath(integrity)) + b.Size; u.Packages != 1 || u.Bytes != want {
		t.Fatalf("Measure: %+v, want 1 package and %d bytes (the linked copy not counted)", u, want)
	}
	if _, after, err := Prune(s.Dir(), 0); err != nil || after.Bytes != 0 {
		t.Fatalf("Prune to 0: %+v, %v", after, err)
	}
	if _, err := os.Stat(s.copyPath(b.SHA256, 0o644)); !os.IsNotExist(err) {
		t.Error("the copy no release links is still there")
	}
	if !s.Intact(a, 0o644) {
		t.Error("the copy a release links was removed")
	}
	for _, p := range []string{s.path(integrity), s.idxPath(integrity)} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there", p)
		}
	}
}

// TestLinkable: the store's files link into a folder of its file system,
// not into one of another.
func TestLinkable(t *testing.T) {
	s, _ := Open(filepath.Join(t.TempDir(), "store"))
	same := t.TempDir()
	if err := s.Linkable(same); err != nil {
		t.Fatalf("same file system: %v", err)
	}
	if ents, _ := os.ReadDir(same); len(ents) != 0 {
		t.Errorf("the probe left %v", ents)
	}
	other, err := os.MkdirTemp("/dev/shm", "pipbake-linkable-")
	if err != nil {
		t.Skipf("no /dev/shm: %v", err)
	}
	defer os.RemoveAll(other)
	var x, y syscall.Stat_t
	syscall.Stat(other, &x)
	syscall.Stat(same, &y)
	if x.Dev == y.Dev {
		t.Skip("/dev/shm is on the temporary folder's file system")
	}
	if err := s.Linkable(other); err == nil {
		t.Fatal("linked across file systems")
	}
}

// FuzzIndex: a package table, sealed whatever it holds (so the fuzzer
// gets past the seal), read as Index reads it: no panic, and what is
// accepted names only clean, distinct paths with permission bits.
func FuzzIndex(f *testing.F) {
	dir := f.TempDir()
	s, _ := Open(filepath.Join(dir, "store"))
	if err := s.Put(integrity, files(f, dir, map[string]string{"index.js": "x", "lib/a.js": "yy", "bin/c.sh": ""})); err != nil {
		f.Fatal(err)
	}
	pk, _ := s.Get(integrity)
	s.PutIndex(integrity, pk.Files)
	pk.Close()
	good, _ := os.ReadFile(s.idxPath(integrity))
	f.Add(good[:len(good)-sealSize])
	f.Add([]byte(magic + "\x01\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, body []byte) {
		sealed := append(bytes.Clone(body), make([]byte, sealSize)...)
		n := len(body)
		binary.LittleEndian.PutUint32(sealed[n:], crc32.Checksum(body, castagnoli))
		copy(sealed[n+8:], sealMagic)
		if err := os.WriteFile(s.idxPath(integrity), sealed, 0o644); err != nil {
			t.Fatal(err)
		}
		fs, ok := s.Index(integrity)
		if !ok {
			return
		}
		seen := map[string]bool{}
		for _, f := range fs {
			if !ValidPath(f.Path) || seen[f.Path] || f.Mode&^0o777 != 0 || f.Size < 0 || f.Data != nil {
				t.Fatalf("accepted %+v", f)
			}
			seen[f.Path] = true
		}
	})
}
