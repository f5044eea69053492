package pyccache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

func interp(t testing.TB, magic string) Interp {
	t.Helper()
	in, err := NewInterp(magic, "cpython-311", "cpython")
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// py311 and py312 are CPython 3.11's and 3.12's magic numbers.
const py311, py312 = "a70d0d0a", "cb0d0d0a"

// fakePyc is an unchecked-hash .pyc header for in with body after it.
func fakePyc(in Interp, body string) []byte {
	b := append([]byte(nil), in.magic[:]...)
	b = binary.LittleEndian.AppendUint32(b, flagHashed)
	b = append(b, "srchash!"...)
	return append(b, body...)
}

func key(in Interp, src, path string) Key {
	return Key{Source: sha256.Sum256([]byte(src)), Interp: in, Path: path}
}

func TestPutGet(t *testing.T) {
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	in := interp(t, py311)
	k := key(in, "x = 1\n", "lib/python3.11/site-packages/m.py")
	if _, _, ok := c.Get(k); ok {
		t.Fatal("hit in an empty cache")
	}
	pyc := fakePyc(in, "code")
	if err := c.Put(k, pyc); err != nil {
		t.Fatal(err)
	}
	got, sum, ok := c.Get(k)
	if !ok || !bytes.Equal(got, pyc) || sum != sha256.Sum256(pyc) {
		t.Fatalf("Get = %q %x %v", got, sum, ok)
	}
	// Every field of the key is part of it.
	other := []Key{
		key(in, "x = 2\n", k.Path),
		key(in, "x = 1\n", "lib/python3.11/site-packages/n.py"),
		key(interp(t, py312), "x = 1\n", k.Path),
	}
	o := k
	o.Interp.CacheTag = "cpython-311d"
	other = append(other, o)
	o = k
	o.Interp.Implementation = "pypy"
	other = append(other, o)
	for _, o := range other {
		if o.ID() == k.ID() {
			t.Errorf("key %+v has the ID of %+v", o, k)
		}
		if _, _, ok := c.Get(o); ok {
			t.Errorf("hit for %+v", o)
		}
	}
	if c.Damaged() != 0 {
		t.Errorf("damaged %d", c.Damaged())
	}
}

// TestPutRefusesWrongPyc: a .pyc of another Python, a timestamp or
// checked-hash .pyc, or a truncated one is never stored.
func TestPutRefusesWrongPyc(t *testing.T) {
	c, _ := Open(t.TempDir())
	in := interp(t, py311)
	k := key(in, "x", "m.py")
	checked := fakePyc(in, "")
	binary.LittleEndian.PutUint32(checked[4:8], flagHashed|flagChecked)
	stamp := fakePyc(in, "")
	binary.LittleEndian.PutUint32(stamp[4:8], 0)
	for name, pyc := range map[string][]byte{
		"3.12": fakePyc(interp(t, py312), "code"), "checked": checked, "timestamp": stamp, "short": fakePyc(in, "")[:10],
	} {
		if err := c.Put(k, pyc); err == nil {
			t.Errorf("%s: stored", name)
		}
	}
	if _, _, ok := c.Get(k); ok {
		t.Fatal("something was stored")
	}
}

// TestDamagedEntryIgnored: an entry whose bytes changed, that was cut
// short, holds another key's entry, or is another Python's .pyc stored
// under this Python's key, is a miss; a Put then repairs it.
func TestDamagedEntryIgnored(t *testing.T) {
	dir := t.TempDir()
	c, _ := Open(dir)
	in := interp(t, py311)
	k := key(in, "x = 1\n", "m.py")
	pyc := fakePyc(in, "the code object")
	other := key(in, "y = 1\n", "m.py")
	damage := map[string]func([]byte) []byte{
		"flipped":   func(b []byte) []byte { b[len(b)-3] ^= 1; return b },
		"truncated": func(b []byte) []byte { return b[:len(b)-4] },
		"header":    func(b []byte) []byte { return b[:headerSize-1] },
		"empty":     func(b []byte) []byte { return nil },
		"misfiled":  func([]byte) []byte { return encodeEntry(other.ID(), pyc) },
		"3.12":      func([]byte) []byte { return encodeEntry(k.ID(), fakePyc(interp(t, py312), "the code object")) },
	}
	for name, f := range damage {
		if err := c.Put(k, pyc); err != nil {
			t.Fatal(err)
		}
		p := c.path(k.ID())
		data, _ := os.ReadFile(p)
		if err := os.WriteFile(p, f(data), 0o644); err != nil {
			t.Fatal(err)
		}
		before := c.Damaged()
		if got, _, ok := c.Get(k); ok {
			t.Errorf("%s: hit %q", name, got)
		}
		if c.Damaged() != before+1 {
			t.Errorf("%s: not counted as damaged", name)
		}
		if err := c.Put(k, pyc); err != nil {
			t.Fatal(err)
		}
		if got, _, ok := c.Get(k); !ok || !bytes.Equal(got, pyc) {
			t.Errorf("%s: not repaired by Put", name)
		}
	}
}

// TestSharedByParallelWriters: many goroutines (as parallel installs
// would) put and get the same keys while others prune the folder to
// nothing: every hit holds exactly the bytes of its key, and no temporary
// file is left.
func TestSharedByParallelWriters(t *testing.T) {
	dir := t.TempDir()
	in := interp(t, py311)
	const keys = 32
	var wg sync.WaitGroup
	var bad sync.Map
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := Open(dir)
			if err != nil {
				t.Error(err)
				return
			}
			for round := 0; round < 6; round++ {
				for i := 0; i < keys; i++ {
					k := key(in, fmt.Sprint(i), "m.py")
					want := fakePyc(in, fmt.Sprintf("code of %d %s", i, bytes.Repeat([]byte("x"), i*100)))
					if got, _, ok := c.Get(k); ok && !bytes.Equal(got, want) {
						bad.Store(i, got)
					}
					if err := c.Put(k, want); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	for p := 0; p < 2; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 10; round++ {
				if _, _, err := Prune(dir, 0); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	bad.Range(func(k, v any) bool { t.Errorf("key %v: got %q", k, v); return true })
	files, u, err := scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Temp {
			t.Errorf("temporary file left: %s", f.Path)
		}
	}
	if u.Entries > keys {
		t.Errorf("%d entries for %d keys", u.Entries, keys)
	}
}

func TestPack(t *testing.T) {
	src, _ := Open(t.TempDir())
	in := interp(t, py311)
	var keys []Key
	for i := 0; i < 600; i++ { // more than one chunk
		k := key(in, fmt.Sprint(i), fmt.Sprintf("m%d.py", i%7))
		keys = append(keys, k)
		if i%3 != 0 {
			if err := src.Put(k, fakePyc(in, fmt.Sprint("code ", i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	keys = append(keys, keys[1]) // twice: packed once
	var buf bytes.Buffer
	st, err := src.WritePack(&buf, keys)
	if err != nil {
		t.Fatal(err)
	}
	if st.Entries != 400 || st.Missing != 200 || st.Bytes != int64(buf.Len()) {
		t.Fatalf("stats %+v, %d bytes", st, buf.Len())
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, packDir), 0o755)
	packPath := filepath.Join(dir, packDir, "bundle"+PackSuffix)
	if err := os.WriteFile(packPath, buf.Bytes(), 0o444); err != nil {
		t.Fatal(err)
	}
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys[:600] {
		got, _, ok := c.Get(k)
		if ok != (i%3 != 0) || ok && string(got[16:]) != fmt.Sprint("code ", i) {
			t.Fatalf("key %d: %q %v", i, got, ok)
		}
	}
	u, _ := Measure(dir)
	if u.Packs != 1 || u.PackBytes != int64(buf.Len()) || u.Entries != 0 {
		t.Errorf("usage %+v", u)
	}
	c.Close()
	// A damaged byte in a packed entry is a miss for that entry alone.
	data := buf.Bytes()
	data[headerSize+20] ^= 0xff
	os.Chmod(packPath, 0o644)
	os.WriteFile(packPath, data, 0o644)
	c, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	misses := 0
	for _, k := range keys[:600] {
		if _, _, ok := c.Get(k); !ok {
			misses++
		}
	}
	if misses != 201 || c.Damaged() != 1 {
		t.Errorf("%d misses (want 201), %d damaged (want 1)", misses, c.Damaged())
	}
	// Not a pack: Open fails, naming it.
	os.WriteFile(packPath, []byte("nonsense"), 0o644)
	if _, err := Open(dir); err == nil || !bytes.Contains([]byte(err.Error()), []byte("bundle.pack")) {
		t.Errorf("Open of a bad pack: %v", err)
	}
}

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	c, _ := Open(dir)
	in := interp(t, py311)
	var keys []Key
	old := time.Now().Add(-48 * time.Hour)
	for i := 0; i < 10; i++ {
		k := key(in, fmt.Sprint(i), "m.py")
		keys = append(keys, k)
		if err := c.Put(k, fakePyc(in, string(bytes.Repeat([]byte{'a'}, 1000)))); err != nil {
			t.Fatal(err)
		}
		// entry i was last used i hours after old
		ts := old.Add(time.Duration(i) * time.Hour)
		os.Chtimes(c.path(k.ID()), ts, ts)
	}
	// A read marks an entry used: 0 is now the newest.
	if _, _, ok := c.Get(keys[0]); !ok {
		t.Fatal("miss")
	}
	tmp := filepath.Join(filepath.Dir(c.path(keys[0].ID())), tmpPrefix+"left")
	os.WriteFile(tmp, make([]byte, 500), 0o644)
	os.Chtimes(tmp, old, old)
	size := int64(headerSize + 16 + 1000)
	before, after, err := Prune(dir, 3*size+10)
	if err != nil {
		t.Fatal(err)
	}
	if before.Entries != 10 || before.Bytes != 10*size+500 || after.Entries != 3 || after.Bytes != 3*size {
		t.Fatalf("before %+v after %+v", before, after)
	}
	for i, k := range keys {
		_, err := os.Stat(c.path(k.ID()))
		if kept := i == 0 || i == 9 || i == 8; kept != (err == nil) {
			t.Errorf("entry %d: kept=%v, want %v", i, err == nil, kept)
		}
	}
	if _, err := os.Stat(tmp); err == nil {
		t.Error("stale temporary file kept")
	}
}

// TestFullDisk: on a full file system Put fails with ENOSPC, leaves no
// temporary file and no entry, and Get stays a miss.
func TestFullDisk(t *testing.T) {
	dir := smallTmpfs(t, "size=64k")
	c, err := Open(filepath.Join(dir, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	in := interp(t, py311)
	var full error
	for i := 0; i < 100 && full == nil; i++ {
		full = c.Put(key(in, fmt.Sprint(i), "m.py"), fakePyc(in, string(make([]byte, 8000))))
		if full != nil {
			if !errors.Is(full, syscall.ENOSPC) {
				t.Fatalf("want ENOSPC, got %v", full)
			}
			if _, _, ok := c.Get(key(in, fmt.Sprint(i), "m.py")); ok {
				t.Fatal("a failed Put left an entry")
			}
		}
	}
	if full == nil {
		t.Fatal("never full")
	}
	files, _, _ := scan(c.Dir())
	for _, f := range files {
		if f.Temp {
			t.Errorf("temporary file left: %s", f.Path)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"2GB": 2e9, "500MiB": 500 << 20, "1.5G": 3 << 29, "1048576": 1 << 20, "10kb": 10e3, " 3 MB ": 3e6, "0": 0} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GB", "-1GB", "x", "NaN", "Inf", "1e30TB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

func TestDir(t *testing.T) {
	t.Setenv(Env, "")
	t.Setenv("XDG_CACHE_HOME", "/c")
	if got := Dir(""); got != "/c/pipbake/bytecode" {
		t.Errorf("default %q", got)
	}
	t.Setenv(Env, "/env")
	if Dir("") != "/env" || Dir("/flag") != "/flag" || Dir(Off) != "" {
		t.Errorf("%q %q %q", Dir(""), Dir("/flag"), Dir(Off))
	}
	t.Setenv(Env, Off)
	if Dir("") != "" {
		t.Errorf("off: %q", Dir(""))
	}
}

func TestNewInterp(t *testing.T) {
	for _, m := range []string{"", "a70d", "a70d0d0b", "zz0d0d0a", "a70d0d0a00"} {
		if _, err := NewInterp(m, "cpython-311", "cpython"); err == nil {
			t.Errorf("magic %q accepted", m)
		}
	}
	if _, err := NewInterp(py311, "", "cpython"); err == nil {
		t.Error("no cache tag accepted")
	}
	if _, err := NewInterp(py311, "a/b", "cpython"); err == nil {
		t.Error("a slash in the tag accepted")
	}
}

// TestWheelPack: PutWheel packs a wheel's entries (those the cache has);
// OpenWheel finds them by the wheel's sha256 and the interpreter only,
// reads them with the loose entries gone, falls back to the loose
// entries for keys it lacks, and counts a damaged wheel pack as damaged
// and ignores it. Prune drops wheel packs by age like loose entries.
func TestWheelPack(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	in := interp(t, py311)
	wheelSum := sha256.Sum256([]byte("a wheel"))
	var keys []Key
	for i := range 5 {
		k := key(in, fmt.Sprint(i), fmt.Sprintf("lib/m%d.py", i))
		keys = append(keys, k)
		if err := c.Put(k, fakePyc(in, fmt.Sprint("body ", i))); err != nil {
			t.Fatal(err)
		}
	}
	missing := key(in, "never stored", "lib/x.py")
	st, err := c.PutWheel(wheelSum[:], in, append(keys[:4:4], missing))
	if err != nil || st.Entries != 4 || st.Missing != 1 {
		t.Fatalf("PutWheel: %+v %v", st, err)
	}
	if w := c.OpenWheel(wheelSum[:], interp(t, py312)); w.Packed() {
		t.Fatal("another interpreter's install found the wheel pack")
	}
	if err := os.RemoveAll(filepath.Join(dir, looseDir, keys[0].ID().String()[:2])); err != nil {
		t.Fatal(err)
	}
	w := c.OpenWheel(wheelSum[:], in)
	if !w.Packed() {
		t.Fatal("no wheel pack")
	}
	for i, k := range keys {
		pyc, sum, ok := w.Get(k)
		// keys[0] only in the pack now; keys[4] only loose.
		if want := fakePyc(in, fmt.Sprint("body ", i)); !ok || !bytes.Equal(pyc, want) || sum != sha256.Sum256(want) {
			t.Errorf("key %d: ok=%v pyc=%q", i, ok, pyc)
		}
	}
	if _, _, ok := w.Get(missing); ok {
		t.Error("a key never stored was found")
	}
	w.Close()
	if c.Damaged() != 0 {
		t.Fatalf("%d damaged", c.Damaged())
	}
	p := c.wheelPackPath(WheelPackID(wheelSum[:], in))
	b, _ := os.ReadFile(p)
	b[headerSize+20] ^= 1 // inside the first entry's .pyc bytes
	os.WriteFile(p, b, 0o644)
	if w := c.OpenWheel(wheelSum[:], in); w.Packed() || c.Damaged() != 1 {
		t.Fatalf("a damaged wheel pack was opened (damaged %d)", c.Damaged())
	}
	if _, _, ok := c.OpenWheel(wheelSum[:], in).Get(keys[0]); ok {
		t.Error("an entry only in a damaged wheel pack was found")
	}

	// Prune: the wheel pack, older than every loose entry, goes first.
	if _, err := c.PutWheel(wheelSum[:], in, keys[1:4]); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	os.Chtimes(p, old, old)
	before, after, err := Prune(dir, before0(t, dir)-1)
	if err != nil {
		t.Fatal(err)
	}
	if before.WheelPacks != 1 || after.WheelPacks != 0 || after.Entries != before.Entries {
		t.Fatalf("before %+v after %+v", before, after)
	}
	if _, err := os.Stat(p); err == nil {
		t.Error("the wheel pack was kept")
	}
}

// before0 is how many bytes a cache folder's prunable files take.
func before0(t *testing.T, dir string) int64 {
	t.Helper()
	u, err := Measure(dir)
	if err != nil {
		t.Fatal(err)
	}
	return u.Bytes
}
