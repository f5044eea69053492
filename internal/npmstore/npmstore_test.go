package npmstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// files writes the given contents under dir and returns them as
// PutFiles (mode 0o666, or 0o777 for names ending in .sh).
func files(t testing.TB, dir string, contents map[string]string) []PutFile {
	t.Helper()
	var out []PutFile
	for name, body := range contents {
		src := filepath.Join(dir, "src", strings.ReplaceAll(name, "/", "_"))
		os.MkdirAll(filepath.Dir(src), 0o755)
		if err := os.WriteFile(src, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		mode := fs.FileMode(0o666)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o777
		}
		out = append(out, PutFile{Path: name, Mode: mode, SHA256: sha256.Sum256([]byte(body)), Source: src})
	}
	return out
}

const integrity = "sha512-aGVsbG8="

// TestPutGet: a package stored is found by its integrity only, with every
// file's path, mode, size, hash and bytes; Has says so without reading.
func TestPutGet(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"package.json": `{"name":"x"}`, "lib/index.js": "module.exports = 1\n", "bin/x.sh": "#!/bin/sh\n", "empty": ""}
	if err := s.Put(integrity, files(t, dir, want)); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Has("sha512-b3RoZXI="); ok {
		t.Fatal("another integrity is stored")
	}
	if _, ok := s.Get("sha512-b3RoZXI="); ok || s.Damaged() != 0 {
		t.Fatal("another integrity was found")
	}
	if size, ok := s.Has(integrity); !ok || size == 0 {
		t.Fatal("Has: not stored")
	}
	p, ok := s.Get(integrity)
	if !ok {
		t.Fatal("Get: not found")
	}
	defer p.Close()
	if len(p.Files) != len(want) {
		t.Fatalf("%d files", len(p.Files))
	}
	for _, f := range p.Files {
		body, ok := want[f.Path]
		if !ok || string(f.Data) != body || f.Size != int64(len(body)) || f.SHA256 != sha256.Sum256([]byte(body)) {
			t.Errorf("file %q: %q", f.Path, f.Data)
		}
		if wantMode := fs.FileMode(0o666); strings.HasSuffix(f.Path, ".sh") && f.Mode != 0o777 || !strings.HasSuffix(f.Path, ".sh") && f.Mode != wantMode {
			t.Errorf("file %q: mode %v", f.Path, f.Mode)
		}
	}
}

// TestPutRefuses: a file changed since it was written, a path that would
// leave the package and a mode beyond the permission bits are refused,
// and nothing is stored.
func TestPutRefuses(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(filepath.Join(dir, "store"))
	cases := map[string]func(f *PutFile){
		"changed":  func(f *PutFile) { f.SHA256[0] ^= 1 },
		"dotdot":   func(f *PutFile) { f.Path = "../escape" },
		"absolute": func(f *PutFile) { f.Path = "/etc/passwd" },
		"unclean":  func(f *PutFile) { f.Path = "a//b" },
		"setuid":   func(f *PutFile) { f.Mode = 0o4755 },
		"control":  func(f *PutFile) { f.Path = "a\nb" },
	}
	for name, mutate := range cases {
		fs := files(t, dir, map[string]string{"index.js": "x"})
		mutate(&fs[0])
		if err := s.Put(integrity, fs); err == nil {
			t.Errorf("%s: stored", name)
		}
	}
	if u, err := Measure(s.Dir()); err != nil || u.Packages != 0 || u.Bytes != 0 {
		t.Fatalf("usage %+v %v", u, err)
	}
}

// TestDamaged: a store file flipped, cut short, emptied, or holding a
// hostile table under a valid seal is a miss, counted, never a package.
func TestDamaged(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(filepath.Join(dir, "store"))
	// two paths of one length, so either can be written over the other
	if err := s.Put(integrity, files(t, dir, map[string]string{"a.js": "module.exports = 1\n", "b.js": "{}"})); err != nil {
		t.Fatal(err)
	}
	p := s.path(integrity)
	good, _ := os.ReadFile(p)
	reseal := func(b []byte) []byte {
		n := len(b) - sealSize
		binary.LittleEndian.PutUint32(b[n:], crc32.Checksum(b[:n], castagnoli))
		return b
	}
	// the first file's path, in place, turned into "../....js"
	hostile := func(path string) []byte {
		b := bytes.Clone(good)
		at := headerSize + fileHead
		pl := int(binary.LittleEndian.Uint16(b[headerSize:]))
		if len(path) != pl {
			t.Fatalf("path %q is not %d bytes", path, pl)
		}
		copy(b[at:], path)
		return reseal(b)
	}
	first := string(good[headerSize+fileHead : headerSize+fileHead+int(binary.LittleEndian.Uint16(good[headerSize:]))])
	damage := map[string][]byte{
		"flipped":   func() []byte { b := bytes.Clone(good); b[len(b)/2] ^= 1; return b }(),
		"cut short": good[:len(good)-10],
		"emptied":   nil,
		"dotdot":    hostile("../" + first[3:]),
		"absolute":  hostile("/" + first[1:]),
		"control":   hostile("\n" + first[1:]),
		"twice": func() []byte {
			// both table entries name the same path
			b := bytes.Clone(good)
			at := headerSize + fileHead + len(first)
			copy(b[at+fileHead:], first)
			return reseal(b)
		}(),
		"size past the end": func() []byte {
			b := bytes.Clone(good)
			binary.LittleEndian.PutUint64(b[headerSize+6:], 1<<40)
			return reseal(b)
		}(),
	}
	for name, data := range damage {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		before := s.Damaged()
		if pk, ok := s.Get(integrity); ok {
			t.Errorf("%s: read as a package of %d files", name, len(pk.Files))
		} else if s.Damaged() != before+1 {
			t.Errorf("%s: not counted as damaged", name)
		}
	}
	os.WriteFile(p, good, 0o644)
	if _, ok := s.Get(integrity); !ok {
		t.Fatal("the good file again: not found")
	}
}

// TestPrune: the least recently used packages go first, down to the size
// asked; temporary files an hour old go too.
func TestPrune(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(filepath.Join(dir, "store"))
	old := time.Now().Add(-48 * time.Hour)
	for i := range 4 {
		in := fmt.Sprintf("sha512-%d", i)
		if err := s.Put(in, files(t, dir, map[string]string{"index.js": strings.Repeat("x", 1000)})); err != nil {
			t.Fatal(err)
		}
		ts := old.Add(time.Duration(i) * time.Hour)
		os.Chtimes(s.path(in), ts, ts)
	}
	if _, ok := s.Get("sha512-0"); !ok { // a read makes 0 the newest
		t.Fatal("miss")
	}
	tmp := filepath.Join(filepath.Dir(s.path("sha512-0")), tmpPrefix+"left")
	os.WriteFile(tmp, make([]byte, 10), 0o644)
	os.Chtimes(tmp, old, old)
	size, _ := s.Has("sha512-1")
	before, after, err := Prune(s.Dir(), 2*size+5)
	if err != nil {
		t.Fatal(err)
	}
	if before.Packages != 4 || after.Packages != 2 || after.Bytes != 2*size {
		t.Fatalf("before %+v after %+v", before, after)
	}
	for i, kept := range []bool{true, false, false, true} {
		if _, ok := s.Has(fmt.Sprintf("sha512-%d", i)); ok != kept {
			t.Errorf("package %d: kept %v, want %v", i, ok, kept)
		}
	}
	if _, err := os.Stat(tmp); err == nil {
		t.Error("stale temporary file kept")
	}
}

func TestDir(t *testing.T) {
	t.Setenv(Env, "")
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	if d := Dir(""); d != "/x/cache/pipbake/npm" {
		t.Errorf("default %q", d)
	}
	if d := Dir(Off); d != "" {
		t.Errorf("off: %q", d)
	}
	t.Setenv(Env, "/elsewhere")
	if d := Dir(""); d != "/elsewhere" {
		t.Errorf("env: %q", d)
	}
	if d := Dir("/flag"); d != "/flag" {
		t.Errorf("flag: %q", d)
	}
}

// FuzzParse: any bytes read as a store file either fail or give files
// whose paths are valid and distinct and whose data lie inside the input
// with their stated sizes.
func FuzzParse(f *testing.F) {
	dir := f.TempDir()
	s, _ := Open(filepath.Join(dir, "store"))
	if err := s.Put(integrity, files(f, dir, map[string]string{"index.js": "x", "lib/a.js": "yy", "bin/c.sh": ""})); err != nil {
		f.Fatal(err)
	}
	good, _ := os.ReadFile(s.path(integrity))
	f.Add(good)
	f.Add(good[:len(good)-sealSize])
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, err := parse(data)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		var total int64
		for _, f := range fs {
			if !ValidPath(f.Path) || seen[f.Path] || f.Mode&^0o777 != 0 || int64(len(f.Data)) != f.Size {
				t.Fatalf("accepted %+v", f)
			}
			seen[f.Path] = true
			total += f.Size
		}
		if total > int64(len(data)) {
			t.Fatal("more data than input")
		}
	})
}

// TestLargeMapped: a store file of mapMin bytes or more is read through a
// mapping: its bytes are right, a flipped byte fails its seal like a read
// one, and a file cut short under a reader faults where the reader runs
// with debug.SetPanicOnFault (as npm's unpacking does) instead of
// crashing.
func TestLargeMapped(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(filepath.Join(dir, "store"))
	var big strings.Builder
	for i := 0; big.Len() < 2*mapMin; i++ {
		fmt.Fprintf(&big, "exports.f%d = %d;\n", i, i*i)
	}
	want := map[string]string{"big.js": big.String(), "package.json": `{"name":"big"}`}
	if err := s.Put(integrity, files(t, dir, want)); err != nil {
		t.Fatal(err)
	}
	p := s.path(integrity)
	if st, err := os.Stat(p); err != nil || st.Size() < mapMin {
		t.Fatalf("store file %v, %v: not large enough to be mapped", st, err)
	}
	pk, ok := s.Get(integrity)
	if !ok {
		t.Fatal("not found")
	}
	for _, f := range pk.Files {
		if string(f.Data) != want[f.Path] {
			t.Errorf("%s: %d bytes read, want %d", f.Path, len(f.Data), len(want[f.Path]))
		}
	}
	pk.Close()

	good, _ := os.ReadFile(p)
	flipped := bytes.Clone(good)
	flipped[len(flipped)-100] ^= 1
	if err := os.WriteFile(p, flipped, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get(integrity); ok || s.Damaged() != 1 {
		t.Fatalf("a flipped byte in a mapped file: found %v, %d damaged", ok, s.Damaged())
	}
	if err := os.WriteFile(p, good, 0o644); err != nil {
		t.Fatal(err)
	}
	pk, ok = s.Get(integrity)
	if !ok {
		t.Fatal("the good file again: not found")
	}
	defer pk.Close()
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	fault := func() (r any) {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() { r = recover() }()
		var sum byte
		for _, f := range pk.Files {
			for _, b := range f.Data {
				sum += b
			}
		}
		return sum
	}()
	if _, ok := fault.(interface{ Addr() uintptr }); !ok {
		t.Fatalf("reading a mapped store file cut short: %v, want a fault", fault)
	}
}
